//! Columns of the built-in kinds beyond the core few, as upstream's printers define them
//! (workloads, storage, networking, RBAC, events, ...).

use serde_json::{Value, json};

use super::{Layout, access_modes, age, column, or_none, plain_name, text};
use crate::selector::format_label_selector;

/// The layout of `kind`, if upstream prints more than Name and Age for it.
pub(super) fn layout(kind: &str) -> Option<Layout> {
    let s = |name: &str| column(name, "string", 0);
    let int = |name: &str| column(name, "integer", 0);
    let wide = |name: &str| column(name, "string", 1);
    let workload_wide = || vec![wide("Containers"), wide("Images"), wide("Selector")];
    let plain = |columns: Vec<Value>, row: super::RowFn| Layout {
        name: Some(plain_name),
        columns,
        row: Some(row),
    };
    Some(match kind {
        "StorageClass" => Layout {
            name: Some(storage_class_name),
            columns: vec![
                s("Provisioner"),
                s("ReclaimPolicy"),
                s("VolumeBindingMode"),
                s("AllowVolumeExpansion"),
                s("Age"),
            ],
            row: Some(|o, _| {
                vec![
                    json!(text(o, "/provisioner")),
                    json!(or_default(o, "/reclaimPolicy", "Delete")),
                    json!(or_default(o, "/volumeBindingMode", "Immediate")),
                    json!(or_default(o, "/allowVolumeExpansion", "false")),
                ]
            }),
        },
        "StatefulSet" => plain(
            [
                vec![s("Ready"), s("Age")],
                vec![wide("Containers"), wide("Images")],
            ]
            .concat(),
            |o, _| {
                let mut cells = vec![json!(format!(
                    "{}/{}",
                    int_at(o, "/status/readyReplicas"),
                    int_at(o, "/spec/replicas")
                ))];
                cells.extend(containers_and_images(o, "/spec/template"));
                cells
            },
        ),
        "DaemonSet" => plain(
            [
                vec![
                    int("Desired"),
                    int("Current"),
                    int("Ready"),
                    int("Up-to-date"),
                    int("Available"),
                    s("Node Selector"),
                    s("Age"),
                ],
                workload_wide(),
            ]
            .concat(),
            |o, _| {
                let mut cells: Vec<Value> = [
                    "desiredNumberScheduled",
                    "currentNumberScheduled",
                    "numberReady",
                    "updatedNumberScheduled",
                    "numberAvailable",
                ]
                .iter()
                .map(|f| json!(int_at(o, &format!("/status/{f}"))))
                .collect();
                cells.push(json!(labels(o.pointer("/spec/template/spec/nodeSelector"))));
                cells.extend(containers_and_images(o, "/spec/template"));
                cells.push(json!(selector(o)));
                cells
            },
        ),
        "ReplicaSet" => plain(
            [
                vec![int("Desired"), int("Current"), int("Ready"), s("Age")],
                workload_wide(),
            ]
            .concat(),
            |o, _| {
                let mut cells = vec![
                    json!(int_at(o, "/spec/replicas")),
                    json!(int_at(o, "/status/replicas")),
                    json!(int_at(o, "/status/readyReplicas")),
                ];
                cells.extend(containers_and_images(o, "/spec/template"));
                cells.push(json!(selector(o)));
                cells
            },
        ),
        "Job" => plain(
            [
                vec![s("Status"), s("Completions"), s("Duration"), s("Age")],
                workload_wide(),
            ]
            .concat(),
            |o, now| {
                let mut cells = vec![
                    json!(job_status(o)),
                    json!(job_completions(o)),
                    json!(job_duration(o, now)),
                ];
                cells.extend(containers_and_images(o, "/spec/template"));
                cells.push(json!(selector(o)));
                cells
            },
        ),
        "CronJob" => plain(
            [
                vec![
                    s("Schedule"),
                    s("Timezone"),
                    s("Suspend"),
                    int("Active"),
                    s("Last Schedule"),
                    s("Age"),
                ],
                workload_wide(),
            ]
            .concat(),
            |o, now| {
                let suspended = o.pointer("/spec/suspend") == Some(&json!(true));
                let active = o
                    .pointer("/status/active")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let last = text(o, "/status/lastScheduleTime");
                let mut cells = vec![
                    json!(text(o, "/spec/schedule")),
                    json!(or_none(text(o, "/spec/timeZone"))),
                    json!(if suspended { "True" } else { "False" }),
                    json!(active),
                    json!(if last.is_empty() {
                        "<none>".to_string()
                    } else {
                        age(&last, now)
                    }),
                ];
                cells.extend(containers_and_images(o, "/spec/jobTemplate/spec/template"));
                cells.push(json!(format_or_none(
                    o.pointer("/spec/jobTemplate/spec/selector")
                )));
                cells
            },
        ),
        "PersistentVolume" => plain(
            vec![
                s("Capacity"),
                s("Access Modes"),
                s("Reclaim Policy"),
                s("Status"),
                s("Claim"),
                s("StorageClass"),
                s("VolumeAttributesClass"),
                s("Reason"),
                s("Age"),
                wide("VolumeMode"),
            ],
            |o, _| {
                let claim = match (
                    text(o, "/spec/claimRef/namespace"),
                    text(o, "/spec/claimRef/name"),
                ) {
                    (_, name) if name.is_empty() => String::new(),
                    (ns, name) => format!("{ns}/{name}"),
                };
                vec![
                    json!(text(o, "/spec/capacity/storage")),
                    json!(access_modes(o)),
                    json!(or_default(
                        o,
                        "/spec/persistentVolumeReclaimPolicy",
                        "Retain"
                    )),
                    json!(text(o, "/status/phase")),
                    json!(claim),
                    json!(text(o, "/spec/storageClassName")),
                    json!(or_default(o, "/spec/volumeAttributesClassName", "<unset>")),
                    json!(text(o, "/status/reason")),
                    json!(or_default(o, "/spec/volumeMode", "Filesystem")),
                ]
            },
        ),
        "IngressClass" => plain(vec![s("Controller"), s("Parameters"), s("Age")], |o, _| {
            let kind = text(o, "/spec/parameters/kind");
            let params = if kind.is_empty() {
                "<none>".to_string()
            } else {
                match text(o, "/spec/parameters/apiGroup") {
                    g if g.is_empty() => format!("{kind}/{}", text(o, "/spec/parameters/name")),
                    g => format!("{kind}.{g}/{}", text(o, "/spec/parameters/name")),
                }
            };
            vec![json!(text(o, "/spec/controller")), json!(params)]
        }),
        "NetworkPolicy" => plain(vec![s("Pod-Selector"), s("Age")], |o, _| {
            vec![json!(format_or_none(o.pointer("/spec/podSelector")))]
        }),
        "ServiceAccount" => plain(vec![int("Secrets"), s("Age")], |o, _| {
            vec![json!(len_at(o, "/secrets"))]
        }),
        "Role" | "ClusterRole" => plain(vec![s("Created At")], |o, _| {
            vec![json!(text(o, "/metadata/creationTimestamp"))]
        }),
        "RoleBinding" | "ClusterRoleBinding" => plain(
            vec![
                s("Role"),
                s("Age"),
                wide("Users"),
                wide("Groups"),
                wide("ServiceAccounts"),
            ],
            |o, _| {
                let subjects = |kind: &str| -> String {
                    let names: Vec<String> = o
                        .get("subjects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|s| s.get("kind").and_then(Value::as_str) == Some(kind))
                        .map(|s| match kind {
                            "ServiceAccount" => {
                                format!("{}/{}", text(s, "/namespace"), text(s, "/name"))
                            }
                            _ => text(s, "/name"),
                        })
                        .collect();
                    names.join(", ")
                };
                vec![
                    json!(format!(
                        "{}/{}",
                        text(o, "/roleRef/kind"),
                        text(o, "/roleRef/name")
                    )),
                    json!(subjects("User")),
                    json!(subjects("Group")),
                    json!(subjects("ServiceAccount")),
                ]
            },
        ),
        "Endpoints" => plain(vec![s("Endpoints"), s("Age")], |o, _| {
            vec![json!(endpoints(o))]
        }),
        "EndpointSlice" => plain(
            vec![s("AddressType"), s("Ports"), s("Endpoints"), s("Age")],
            |o, _| {
                vec![
                    json!(text(o, "/addressType")),
                    json!(slice_ports(o)),
                    json!(slice_endpoints(o)),
                ]
            },
        ),
        "Service" => plain(
            vec![
                s("Type"),
                s("Cluster-IP"),
                s("External-IP"),
                s("Port(s)"),
                s("Age"),
                wide("Selector"),
            ],
            |o, _| {
                vec![
                    json!(or_default(o, "/spec/type", "ClusterIP")),
                    json!(or_none(text(o, "/spec/clusterIP"))),
                    json!(external_ip(o)),
                    json!(service_ports(o)),
                    json!(labels(o.pointer("/spec/selector"))),
                ]
            },
        ),
        "ConfigMap" => plain(vec![int("Data"), s("Age")], |o, _| {
            vec![json!(len_at(o, "/data") + len_at(o, "/binaryData"))]
        }),
        "Secret" => plain(vec![s("Type"), int("Data"), s("Age")], |o, _| {
            vec![json!(text(o, "/type")), json!(len_at(o, "/data"))]
        }),
        "Lease" => plain(vec![s("Holder"), s("Age")], |o, _| {
            vec![json!(text(o, "/spec/holderIdentity"))]
        }),
        "CSINode" => plain(vec![int("Drivers"), s("Age")], |o, _| {
            vec![json!(len_at(o, "/spec/drivers"))]
        }),
        "Event" => Layout {
            name: None,
            columns: vec![
                s("Last Seen"),
                s("Type"),
                s("Reason"),
                s("Object"),
                wide("Subobject"),
                wide("Source"),
                s("Message"),
                wide("First Seen"),
                wide("Count"),
                wide("Name"),
            ],
            row: Some(event_row),
        },
        _ => return None,
    })
}

/// `(default)` after the name of the default StorageClass, as kubectl shows it.
fn storage_class_name(o: &Value) -> String {
    let annotations = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ];
    let default = annotations.iter().any(|a| {
        o.pointer("/metadata/annotations")
            .and_then(|m| m.get(a))
            .and_then(Value::as_str)
            == Some("true")
    });
    let name = plain_name(o);
    if default {
        format!("{name} (default)")
    } else {
        name
    }
}

fn or_default(o: &Value, pointer: &str, default: &str) -> String {
    match text(o, pointer) {
        t if t.is_empty() => default.to_string(),
        t => t,
    }
}

fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn len_at(o: &Value, pointer: &str) -> usize {
    match o.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// A label map as `k=v,k2=v2` (sorted), `<none>` when empty.
fn labels(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    or_none(pairs.join(","))
}

fn format_or_none(selector: Option<&Value>) -> String {
    or_none(format_label_selector(selector))
}

fn selector(o: &Value) -> String {
    format_or_none(o.pointer("/spec/selector"))
}

/// The wide Containers and Images cells of a pod template at `template`.
fn containers_and_images(o: &Value, template: &str) -> Vec<Value> {
    let containers: Vec<&Value> = o
        .pointer(&format!("{template}/spec/containers"))
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, "/image")).collect();
    vec![json!(names.join(",")), json!(images.join(","))]
}

fn condition_true(o: &Value, kind: &str) -> bool {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(kind)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn job_status(o: &Value) -> &'static str {
    if condition_true(o, "Complete") {
        "Complete"
    } else if condition_true(o, "Failed") {
        "Failed"
    } else if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if condition_true(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if condition_true(o, "FailureTarget") {
        "FailureTarget"
    } else if condition_true(o, "Suspended") || o.pointer("/spec/suspend") == Some(&json!(true)) {
        "Suspended"
    } else {
        "Running"
    }
}

fn job_completions(o: &Value) -> String {
    let succeeded = int_at(o, "/status/succeeded");
    match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match o.pointer("/spec/parallelism").and_then(Value::as_i64) {
            Some(p) if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    }
}

fn job_duration(o: &Value, now: jiff::Timestamp) -> String {
    let start = text(o, "/status/startTime");
    if start.is_empty() {
        return String::new();
    }
    let end = text(o, "/status/completionTime")
        .parse::<jiff::Timestamp>()
        .unwrap_or(now);
    age(&start, end)
}

/// `ip:port` of every address and port, at most three and then `+ N more...`.
fn endpoints(o: &Value) -> String {
    let mut all = Vec::new();
    for subset in o
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ips: Vec<String> = subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|a| text(a, "/ip"))
            .collect();
        let ports: Vec<String> = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| text(p, "/port"))
            .collect();
        if ports.is_empty() {
            all.extend(ips);
        } else {
            for port in &ports {
                all.extend(ips.iter().map(|ip| format!("{ip}:{port}")));
            }
        }
    }
    if all.is_empty() {
        return "<none>".into();
    }
    first_three(&all)
}

/// At most three items joined by commas, then `+ N more...`, as kubectl prints endpoint lists.
fn first_three(all: &[String]) -> String {
    let more = all.len().saturating_sub(3);
    let shown = all[..all.len().min(3)].join(",");
    if more > 0 {
        format!("{shown} + {more} more...")
    } else {
        shown
    }
}

/// A slice's ports (`80,443`), `<unset>` when it has none.
fn slice_ports(o: &Value) -> String {
    let ports: Vec<String> = o
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| text(p, "/port"))
        .collect();
    if ports.is_empty() {
        "<unset>".into()
    } else {
        ports.join(",")
    }
}

/// A slice's addresses, at most three and then `+ N more...`; `<unset>` when it has none.
fn slice_endpoints(o: &Value) -> String {
    let all: Vec<String> = o
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("addresses").and_then(Value::as_array))
        .flatten()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    if all.is_empty() {
        return "<unset>".into();
    }
    first_three(&all)
}

fn external_ip(o: &Value) -> String {
    let mut ips: Vec<String> = o
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    match text(o, "/spec/type").as_str() {
        "ExternalName" => return text(o, "/spec/externalName"),
        "LoadBalancer" => {
            let ingress: Vec<String> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|i| match text(i, "/ip") {
                    ip if ip.is_empty() => text(i, "/hostname"),
                    ip => ip,
                })
                .collect();
            let mut all = ingress;
            all.append(&mut ips);
            if all.is_empty() {
                return "<pending>".into();
            }
            return all.join(",");
        }
        _ => {}
    }
    ips.sort();
    or_none(ips.join(","))
}

fn service_ports(o: &Value) -> String {
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let node = text(p, "/nodePort");
            let proto = match text(p, "/protocol") {
                t if t.is_empty() => "TCP".to_string(),
                t => t,
            };
            if node.is_empty() || node == "0" {
                format!("{}/{proto}", text(p, "/port"))
            } else {
                format!("{}:{node}/{proto}", text(p, "/port"))
            }
        })
        .collect();
    or_none(ports.join(","))
}

fn event_row(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let seen = |fields: &[&str]| {
        fields
            .iter()
            .map(|f| text(o, f))
            .find(|t| !t.is_empty())
            .map_or_else(|| "<unknown>".to_string(), |t| age(&t, now))
    };
    let last = seen(&[
        "/lastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]);
    let first = seen(&[
        "/firstTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]);
    let source = match (text(o, "/source/component"), text(o, "/source/host")) {
        (c, h) if c.is_empty() && h.is_empty() => or_none(text(o, "/reportingComponent")),
        (c, h) if h.is_empty() => c,
        (c, h) => format!("{c}, {h}"),
    };
    vec![
        json!(last),
        json!(text(o, "/type")),
        json!(text(o, "/reason")),
        json!(format!(
            "{}/{}",
            text(o, "/involvedObject/kind").to_lowercase(),
            text(o, "/involvedObject/name")
        )),
        json!(text(o, "/involvedObject/fieldPath")),
        json!(source),
        json!(text(o, "/message").trim().to_string()),
        json!(first),
        json!(o.get("count").and_then(Value::as_i64).unwrap_or(1)),
        json!(plain_name(o)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_show_three_then_how_many_more() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}, {"ip": "c"}, {"ip": "d"}],
            "ports": [{"port": 80}]}]});
        assert_eq!(endpoints(&ep), "a:80,b:80,c:80 + 1 more...");
        assert_eq!(endpoints(&json!({})), "<none>");
    }

    #[test]
    fn service_external_ip_and_ports_follow_the_type() {
        let lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        assert_eq!(external_ip(&lb), "<pending>");
        assert_eq!(service_ports(&lb), "80:30080/TCP");
        let mut ready = lb.clone();
        ready["status"] = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}});
        assert_eq!(external_ip(&ready), "203.0.113.7");
        assert_eq!(
            external_ip(&json!({"spec": {"type": "ClusterIP"}})),
            "<none>"
        );
    }

    #[test]
    fn job_columns_follow_conditions_and_times() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let running = json!({"spec": {"completions": 3}, "status": {"succeeded": 1, "startTime": "2026-01-01T00:09:00Z"}});
        assert_eq!(job_status(&running), "Running");
        assert_eq!(job_completions(&running), "1/3");
        assert_eq!(job_duration(&running, now), "60s");
        let done = json!({"spec": {}, "status": {"succeeded": 1, "startTime": "2026-01-01T00:00:00Z",
            "completionTime": "2026-01-01T00:00:05Z", "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(job_status(&done), "Complete");
        assert_eq!(job_completions(&done), "1/1");
        assert_eq!(job_duration(&done, now), "5s");
    }
}
