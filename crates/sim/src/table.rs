//! Server-side printing: `meta.k8s.io/v1` `Table` responses, which `kubectl get` asks for
//! (`Accept: application/json;as=Table;...`) to show the same columns as a real cluster.
//!
//! Columns follow upstream's printers: nodes, pods, namespaces, deployments and persistent
//! volume claims here, the other built-in kinds in [`rows`]; custom kinds get Name and Age.
//! Priority-1 columns are what `-o wide` adds.

use serde_json::{Value, json};

mod rows;

/// Whether the `Accept` header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io"))
}

/// kubectl's short human duration (`45s`, `3m12s`, `5h`, `12d`).
pub fn age(created: &str, now: jiff::Timestamp) -> String {
    let Ok(created) = created.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = now.as_second() - created.as_second();
    if secs < 0 {
        return "0s".into();
    }
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match () {
        _ if secs < 120 => format!("{secs}s"),
        _ if m < 10 && secs % 60 == 0 => format!("{m}m"),
        _ if m < 10 => format!("{m}m{}s", secs % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 == 0 => format!("{h}h"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 && h % 24 == 0 => format!("{d}d"),
        _ if h < 192 => format!("{d}d{}h", h % 24),
        _ if d < 730 => format!("{d}d"),
        _ => format!("{}y{}d", d / 365, d % 365),
    }
}

pub(crate) fn text(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn or_none(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

pub(crate) fn column(name: &str, kind: &str, priority: u8) -> Value {
    json!({"name": name, "type": kind, "format": if name == "Name" { "name" } else { "" }, "description": name, "priority": priority})
}

fn node_row(obj: &Value) -> Vec<Value> {
    let ready = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| {
            if c["status"] == "True" {
                "Ready"
            } else {
                "NotReady"
            }
        })
        .unwrap_or("Unknown");
    let status = if obj.pointer("/spec/unschedulable") == Some(&json!(true)) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.to_string()
    };
    let mut roles: Vec<&str> = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    let address = |kind: &str| {
        obj.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|a| a["type"] == kind))
            .map(|a| text(a, "/address"))
            .unwrap_or_default()
    };
    vec![
        json!(status),
        json!(or_none(roles.join(","))),
        json!(text(obj, "/status/nodeInfo/kubeletVersion")),
        json!(or_none(address("InternalIP"))),
        json!(or_none(address("ExternalIP"))),
        json!(or_none(text(obj, "/status/nodeInfo/osImage"))),
        json!(or_none(text(obj, "/status/nodeInfo/kernelVersion"))),
        json!(or_none(text(
            obj,
            "/status/nodeInfo/containerRuntimeVersion"
        ))),
    ]
}

fn pod_row(obj: &Value) -> Vec<Value> {
    let total = obj
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let statuses = obj
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
    let restarts: i64 = statuses.map_or(0, |s| {
        s.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
    });
    let waiting = statuses.and_then(|s| {
        s.iter().find_map(|c| {
            c.pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .map(String::from)
        })
    });
    let status = if obj.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else {
        waiting.unwrap_or_else(|| text(obj, "/status/phase"))
    };
    vec![
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts),
        json!(or_none(text(obj, "/status/podIP"))),
        json!(or_none(text(obj, "/spec/nodeName"))),
    ]
}

fn deployment_row(obj: &Value) -> Vec<Value> {
    let n = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let containers: Vec<&Value> = obj
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, "/image")).collect();
    vec![
        json!(format!(
            "{}/{}",
            n("/status/readyReplicas"),
            n("/spec/replicas")
        )),
        json!(n("/status/updatedReplicas")),
        json!(n("/status/availableReplicas")),
        json!(names.join(",")),
        json!(images.join(",")),
        json!(or_none(crate::selector::format_label_selector(
            obj.pointer("/spec/selector")
        ))),
    ]
}

/// `spec.accessModes` abbreviated as kubectl prints them (`RWO,ROX`).
pub(crate) fn access_modes(obj: &Value) -> String {
    let modes: Vec<String> = obj
        .pointer("/spec/accessModes")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO".to_string(),
                    "ReadOnlyMany" => "ROX".to_string(),
                    "ReadWriteMany" => "RWX".to_string(),
                    "ReadWriteOncePod" => "RWOP".to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    modes.join(",")
}

fn pvc_row(obj: &Value) -> Vec<Value> {
    let modes = access_modes(obj);
    vec![
        json!(text(obj, "/status/phase")),
        json!(text(obj, "/spec/volumeName")),
        json!(text(obj, "/status/capacity/storage")),
        json!(modes),
        json!(or_none(text(obj, "/spec/storageClassName"))),
        json!(match text(obj, "/spec/volumeAttributesClassName") {
            c if c.is_empty() => "<unset>".to_string(),
            c => c,
        }),
        json!(match text(obj, "/spec/volumeMode") {
            m if m.is_empty() => "Filesystem".to_string(),
            m => m,
        }),
    ]
}

/// Cells of one row except name and age, given "now" (for durations).
pub(crate) type RowFn = fn(&Value, jiff::Timestamp) -> Vec<Value>;

/// The Name cell of a row.
pub(crate) type NameFn = fn(&Value) -> String;

/// `metadata.name`.
pub(crate) fn plain_name(obj: &Value) -> String {
    text(obj, "/metadata/name")
}

/// How a kind is printed: columns after Name (Age where upstream prints it), and the row cells
/// except name and age.
pub(crate) struct Layout {
    /// The Name column's cell, if the kind has one (events have none).
    pub name: Option<NameFn>,
    /// The columns after Name, in order, including Age where it goes.
    pub columns: Vec<Value>,
    /// The cells of a row except Name and Age.
    pub row: Option<RowFn>,
}

fn layout(kind: &str) -> Layout {
    let with = |columns: Vec<Value>, row: RowFn| Layout {
        name: Some(plain_name),
        columns,
        row: Some(row),
    };
    match kind {
        "Node" => with(
            vec![
                column("Status", "string", 0),
                column("Roles", "string", 0),
                column("Age", "string", 0),
                column("Version", "string", 0),
                column("Internal-IP", "string", 1),
                column("External-IP", "string", 1),
                column("OS-Image", "string", 1),
                column("Kernel-Version", "string", 1),
                column("Container-Runtime", "string", 1),
            ],
            |o, _| node_row(o),
        ),
        "Pod" => with(
            vec![
                column("Ready", "string", 0),
                column("Status", "string", 0),
                column("Restarts", "integer", 0),
                column("Age", "string", 0),
                column("IP", "string", 1),
                column("Node", "string", 1),
            ],
            |o, _| pod_row(o),
        ),
        "Deployment" => with(
            vec![
                column("Ready", "string", 0),
                column("Up-to-date", "integer", 0),
                column("Available", "integer", 0),
                column("Age", "string", 0),
                column("Containers", "string", 1),
                column("Images", "string", 1),
                column("Selector", "string", 1),
            ],
            |o, _| deployment_row(o),
        ),
        "PersistentVolumeClaim" => with(
            vec![
                column("Status", "string", 0),
                column("Volume", "string", 0),
                column("Capacity", "string", 0),
                column("Access Modes", "string", 0),
                column("StorageClass", "string", 0),
                column("VolumeAttributesClass", "string", 0),
                column("Age", "string", 0),
                column("VolumeMode", "string", 1),
            ],
            |o, _| pvc_row(o),
        ),
        "Namespace" => with(
            vec![column("Status", "string", 0), column("Age", "string", 0)],
            |o, _| vec![json!(text(o, "/status/phase"))],
        ),
        other => rows::layout(other).unwrap_or(Layout {
            name: Some(plain_name),
            columns: vec![column("Age", "string", 0)],
            row: None,
        }),
    }
}

/// A Table of `items` (serialized objects of `kind`) with the list metadata `meta`.
pub fn render(kind: &str, items: &[&[u8]], meta: Value, now: jiff::Timestamp) -> Value {
    let layout = layout(kind);
    let mut columns = Vec::new();
    if layout.name.is_some() {
        columns.push(column("Name", "string", 0));
    }
    columns.extend(layout.columns);
    let age_at = columns.iter().position(|c| c["name"] == "Age");
    let rows: Vec<Value> = items
        .iter()
        .filter_map(|bytes| serde_json::from_slice::<Value>(bytes).ok())
        .map(|obj| {
            let mut cells = Vec::new();
            if let Some(name) = layout.name {
                cells.push(json!(name(&obj)));
            }
            if let Some(f) = layout.row {
                cells.extend(f(&obj, now));
            }
            if let Some(at) = age_at {
                let age = json!(age(&text(&obj, "/metadata/creationTimestamp"), now));
                cells.insert(at.min(cells.len()), age);
            }
            json!({"cells": cells, "object": obj})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now: jiff::Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        assert_eq!(age("2026-01-01T23:59:15Z", now), "45s");
        assert_eq!(age("2026-01-01T23:55:30Z", now), "4m30s");
        assert_eq!(age("2026-01-01T21:00:00Z", now), "3h");
        assert_eq!(age("2025-12-30T00:00:00Z", now), "3d");
        assert_eq!(age("garbage", now), "<unknown>");
    }

    #[test]
    fn node_table_has_status_roles_version_and_wide_columns() {
        let node = json!({"metadata": {"name": "n1", "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.35.1"}}});
        let bytes = serde_json::to_vec(&node).unwrap();
        let now: jiff::Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let table = render("Node", &[&bytes], json!({}), now);
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names[..5], ["Name", "Status", "Roles", "Age", "Version"]);
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[1], "Ready");
        assert_eq!(cells[2], "control-plane");
        assert_eq!(cells[3], "60s");
        assert_eq!(cells[4], "v1.35.1");
        assert_eq!(cells.as_array().unwrap().len(), names.len());
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!wanted("application/json"));
    }
}
