//! Endpoints controller: every Service with a selector gets an Endpoints object of the same
//! name listing the IPs of the pods it selects (ready ones under `addresses`, the others under
//! `notReadyAddresses`) with the Service's ports resolved to container ports, as upstream's
//! endpoints controller keeps it. Pods are matched from the index; only selected pods are
//! parsed (for their IP). The Endpoints carry the Service as owner, so they go with it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::object::{is_terminating, name, namespace, owner_ref};
use crate::world::{Action, Controller, Index, World};

/// Keeps Endpoints in step with Services and their pods.
pub struct EndpointsController;

impl Controller for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Service", "Pod", "Endpoints"]
    }

    fn reconcile(&self, world: &dyn World, _now: jiff::Timestamp) -> Vec<Action> {
        let services = world.list_index("Service", None);
        let managed: Vec<_> = world
            .list_index("Endpoints", None)
            .into_iter()
            .filter(|e| e.controller().is_some_and(|o| &*o.kind == "Service"))
            .collect();
        if services.is_empty() && managed.is_empty() {
            return Vec::new();
        }
        let mut wanted: BTreeMap<(String, String), Value> = BTreeMap::new();
        for entry in services.iter().filter(|s| !s.deleting()) {
            let Some(svc) = world.get("Service", Some(entry.namespace()), entry.name()) else {
                continue;
            };
            let Some(selector) = selector_of(&svc) else {
                continue;
            };
            let pods: Vec<Value> = world
                .list_index("Pod", Some(entry.namespace()))
                .iter()
                .filter(|p| !p.deleting() && selects(&selector, p))
                .filter_map(|p| world.get("Pod", Some(p.namespace()), p.name()))
                .collect();
            wanted.insert(
                (entry.namespace().to_string(), entry.name().to_string()),
                endpoints_of(&svc, &pods),
            );
        }
        let mut actions = Vec::new();
        for ep in &managed {
            let key = (ep.namespace().to_string(), ep.name().to_string());
            if !wanted.contains_key(&key) {
                actions.push(Action::Delete {
                    kind: "Endpoints".into(),
                    namespace: Some(key.0),
                    name: key.1,
                });
            }
        }
        for ((ns, ep_name), want) in wanted {
            match world.get("Endpoints", Some(&ns), &ep_name) {
                None => actions.push(Action::Create(want)),
                // Endpoints someone else wrote for this name are theirs.
                Some(have)
                    if have.pointer("/metadata/ownerReferences")
                        != want.pointer("/metadata/ownerReferences") => {}
                Some(have) => {
                    if have.get("subsets") != want.get("subsets") && !is_terminating(&have) {
                        let mut updated = have.clone();
                        match want.get("subsets") {
                            Some(s) => updated["subsets"] = s.clone(),
                            None => {
                                if let Some(map) = updated.as_object_mut() {
                                    map.remove("subsets");
                                }
                            }
                        }
                        actions.push(Action::Update(updated));
                    }
                }
            }
        }
        actions
    }
}

/// A Service's selector, if it selects pods (a non-empty selector, not `ExternalName`).
fn selector_of(svc: &Value) -> Option<BTreeMap<String, String>> {
    if svc.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return None;
    }
    let selector: BTreeMap<String, String> = svc
        .pointer("/spec/selector")
        .and_then(Value::as_object)?
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    (!selector.is_empty()).then_some(selector)
}

fn selects(selector: &BTreeMap<String, String>, pod: &Index) -> bool {
    selector
        .iter()
        .all(|(k, v)| pod.label(k) == Some(v.as_str()))
}

/// The Endpoints of `svc` given the pods it selects.
pub fn endpoints_of(svc: &Value, pods: &[Value]) -> Value {
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    let mut live: Vec<&Value> = pods
        .iter()
        .filter(|p| {
            !is_terminating(p)
                && !matches!(
                    p.pointer("/status/phase").and_then(Value::as_str),
                    Some("Succeeded" | "Failed")
                )
                && p.pointer("/status/podIP")
                    .and_then(Value::as_str)
                    .is_some_and(|ip| !ip.is_empty())
        })
        .collect();
    live.sort_by_key(|p| name(p).to_string());
    for pod in &live {
        let mut address = json!({
            "ip": pod["status"]["podIP"],
            "targetRef": {"kind": "Pod", "name": name(pod), "namespace": namespace(pod),
                          "uid": pod.pointer("/metadata/uid").cloned().unwrap_or(Value::Null)},
        });
        if let Some(node) = pod.pointer("/spec/nodeName") {
            address["nodeName"] = node.clone();
        }
        if is_ready(pod) {
            ready.push(address);
        } else {
            not_ready.push(address);
        }
    }
    let ports: Vec<Value> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let port = target_port(p, &live)?;
            let mut out = json!({
                "port": port,
                "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
            });
            if let Some(n) = p
                .get("name")
                .filter(|n| n.as_str().is_some_and(|n| !n.is_empty()))
            {
                out["name"] = n.clone();
            }
            Some(out)
        })
        .collect();
    let mut labels = svc
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !labels.is_object() {
        labels = json!({});
    }
    let mut ep = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": name(svc),
            "namespace": namespace(svc),
            "labels": labels,
            "ownerReferences": [owner_ref(svc)],
        },
    });
    if !ready.is_empty() || !not_ready.is_empty() {
        let mut subset = json!({"ports": ports});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        ep["subsets"] = json!([subset]);
    }
    ep
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The container port a Service port forwards to: its number, or the port of that name in the
/// first selected pod that has one (defaulting to the Service port).
fn target_port(port: &Value, pods: &[&Value]) -> Option<i64> {
    match port.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(named)) => pods.iter().find_map(|pod| {
            pod.pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("ports").and_then(Value::as_array))
                .flatten()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(named))
                .and_then(|p| p.get("containerPort").and_then(Value::as_i64))
        }),
        _ => port.get("port").and_then(Value::as_i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::memory::MemoryWorld;

    fn pod(name: &str, app: &str, ip: &str, ready: bool) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": app}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn service(target: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-1"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": target}]}})
    }

    #[test]
    fn selected_pods_become_addresses_and_follow_changes() {
        let controllers: Vec<Box<dyn Controller>> = vec![Box::new(EndpointsController)];
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut w = MemoryWorld::new(vec![
            service(json!("http")),
            pod("a", "web", "10.0.0.1", true),
            pod("b", "web", "10.0.0.2", false),
            pod("c", "other", "10.0.0.3", true),
        ]);
        assert!(w.settle(&controllers, now, 10).is_some());
        let ep = w.get("Endpoints", Some("default"), "web").unwrap();
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.0.0.1");
        assert_eq!(ep["subsets"][0]["notReadyAddresses"][0]["ip"], "10.0.0.2");
        assert_eq!(
            ep["subsets"][0]["ports"],
            json!([{"port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(ep["metadata"]["ownerReferences"][0]["kind"], "Service");
        w.remove("Pod", Some("default"), "a");
        w.remove("Pod", Some("default"), "b");
        assert!(w.settle(&controllers, now, 10).is_some());
        let ep = w.get("Endpoints", Some("default"), "web").unwrap();
        assert!(ep.get("subsets").is_none(), "{ep}");
        w.remove("Service", Some("default"), "web");
        assert!(w.settle(&controllers, now, 10).is_some());
        assert!(w.get("Endpoints", Some("default"), "web").is_none());
    }

    #[test]
    fn services_without_selector_and_foreign_endpoints_are_left_alone() {
        let controllers: Vec<Box<dyn Controller>> = vec![Box::new(EndpointsController)];
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut manual = service(json!(80));
        manual["spec"].as_object_mut().unwrap().remove("selector");
        let own = json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]});
        let mut w = MemoryWorld::new(vec![manual, own.clone(), pod("a", "web", "10.0.0.1", true)]);
        assert!(w.settle(&controllers, now, 10).is_some());
        assert_eq!(
            w.get("Endpoints", Some("default"), "web").unwrap()["subsets"],
            own["subsets"]
        );
    }
}
