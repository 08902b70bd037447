//! Discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) built from the
//! resource table. Only the legacy (unaggregated) form is served; clients fall back to it.

use serde_json::{Value, json};

use crate::resources::{RESOURCES, group_versions};

fn verbs(review: bool) -> Value {
    if review {
        json!(["create"])
    } else {
        json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    }
}

/// `/api`: the core group's versions.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    })
}

fn group_entry(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis`: every named group.
pub fn groups() -> Value {
    let mut names: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": names.into_iter().map(group_entry).collect::<Vec<_>>(),
    })
}

/// `/apis/<group>`: one group, if served.
pub fn group(name: &str) -> Option<Value> {
    if name.is_empty() || !group_versions().iter().any(|(g, _)| *g == name) {
        return None;
    }
    let mut entry = group_entry(name);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

/// `/api/v1` or `/apis/<group>/<version>`: the resources served there, if any.
pub fn resources(group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs(r.review),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        list.push(entry);
        for sub in r.subresources {
            let (verbs, kind) = match *sub {
                "log" => (json!(["get"]), "Pod"),
                // Upstream lists the connect verbs of pods/exec this way (kind PodExecOptions).
                "exec" => (json!(["create", "get"]), "PodExecOptions"),
                _ => (json!(["get", "patch", "update"]), r.kind),
            };
            let mut entry = json!({
                "name": format!("{}/{sub}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if *sub == "scale" {
                // Scale lives in another group than its parent; discovery says which.
                entry["kind"] = json!("Scale");
                entry["group"] = json!("autoscaling");
                entry["version"] = json!("v1");
            }
            list.push(entry);
        }
    }
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_served_kinds_only() {
        let core = resources("", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"pods") && names.contains(&"pods/log") && names.contains(&"namespaces")
        );
        assert!(!names.contains(&"deployments"));
        assert!(resources("apps", "v2").is_none());
        assert!(group("apps").is_some() && group("nope.example").is_none());
        let groups = groups();
        assert!(
            groups["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == "storage.k8s.io")
        );
    }
}
