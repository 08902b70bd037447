//! EndpointSlice mirroring: every Endpoints object gets `discovery.k8s.io/v1` EndpointSlices
//! with the same addresses and ports (one per subset), labelled with the service name, as
//! upstream's mirroring controller does for Endpoints it does not derive itself. Slices this
//! controller made whose Endpoints are gone are deleted. Endpoints are few, so they are parsed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::object::{self, is_terminating, label, name, namespace, owner_ref};
use crate::world::{Action, Controller, World};

/// The label naming the Service (and Endpoints) a slice belongs to.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The label saying who manages a slice.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

/// This controller's value of [`MANAGED_BY`] (upstream's mirroring controller's).
pub const MANAGER: &str = "endpointslicemirroring-controller.k8s.io";

/// Mirrors Endpoints into EndpointSlices.
pub struct EndpointSliceMirroring;

impl Controller for EndpointSliceMirroring {
    fn name(&self) -> &'static str {
        "endpointslice-mirroring"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Endpoints", "EndpointSlice"]
    }

    fn reconcile(&self, world: &dyn World, _now: jiff::Timestamp) -> Vec<Action> {
        let mine: Vec<_> = world
            .list_index("EndpointSlice", None)
            .into_iter()
            .filter(|s| s.label(MANAGED_BY) == Some(MANAGER))
            .collect();
        let endpoints = world.list_index("Endpoints", None);
        if endpoints.is_empty() && mine.is_empty() {
            return Vec::new();
        }
        let mut desired: BTreeMap<(String, String), Value> = BTreeMap::new();
        for ep in endpoints.iter().filter(|e| !e.deleting()) {
            if let Some(ep) = world.get("Endpoints", Some(ep.namespace()), ep.name())
                && !is_terminating(&ep)
            {
                for slice in slices_of(&ep) {
                    desired.insert(
                        (namespace(&slice).to_string(), name(&slice).to_string()),
                        slice,
                    );
                }
            }
        }
        let mut actions = Vec::new();
        for slice in &mine {
            let key = (slice.namespace().to_string(), slice.name().to_string());
            if !desired.contains_key(&key) {
                actions.push(Action::Delete {
                    kind: "EndpointSlice".into(),
                    namespace: Some(key.0),
                    name: key.1,
                });
            }
        }
        for ((ns, slice_name), want) in desired {
            match world.get("EndpointSlice", Some(&ns), &slice_name) {
                None => actions.push(Action::Create(want)),
                Some(have) if label(&have, MANAGED_BY) != Some(MANAGER) => {}
                Some(have) => {
                    let fields = ["addressType", "endpoints", "ports"];
                    let same = fields.iter().all(|f| have.get(*f) == want.get(*f))
                        && have.pointer("/metadata/labels") == want.pointer("/metadata/labels");
                    if !same {
                        let mut updated = have.clone();
                        for f in fields {
                            updated[f] = want[f].clone();
                        }
                        updated["metadata"]["labels"] = want["metadata"]["labels"].clone();
                        actions.push(Action::Update(updated));
                    }
                }
            }
        }
        actions
    }
}

/// The slices mirroring one Endpoints object: one per subset.
pub fn slices_of(ep: &Value) -> Vec<Value> {
    let subsets = ep
        .get("subsets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut labels = ep
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(SERVICE_NAME.into(), json!(name(ep)));
    labels.insert(MANAGED_BY.into(), json!(MANAGER));
    subsets
        .iter()
        .enumerate()
        .map(|(i, subset)| {
            let seed = format!("{}/{}/{i}", object::uid(ep), name(ep));
            let mut endpoints = Vec::new();
            for (field, ready) in [("addresses", true), ("notReadyAddresses", false)] {
                for address in subset
                    .get(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut endpoint = json!({
                        "addresses": [address.get("ip").cloned().unwrap_or(Value::Null)],
                        "conditions": {"ready": ready, "serving": ready, "terminating": false},
                    });
                    for (from, to) in [
                        ("nodeName", "nodeName"),
                        ("targetRef", "targetRef"),
                        ("hostname", "hostname"),
                    ] {
                        if let Some(v) = address.get(from) {
                            endpoint[to] = v.clone();
                        }
                    }
                    endpoints.push(endpoint);
                }
            }
            let ipv6 = endpoints.iter().any(|e| {
                e.pointer("/addresses/0")
                    .and_then(Value::as_str)
                    .is_some_and(|ip| ip.contains(':'))
            });
            let ports: Vec<Value> = subset
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let mut port = json!({
                        "port": p.get("port").cloned().unwrap_or(Value::Null),
                        "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
                    });
                    if let Some(n) = p.get("name") {
                        port["name"] = n.clone();
                    }
                    port
                })
                .collect();
            json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": format!("{}-{}", name(ep), object::suffix(&seed, 5)),
                    "namespace": namespace(ep),
                    "labels": labels,
                    "ownerReferences": [owner_ref(ep)],
                },
                "addressType": if ipv6 { "IPv6" } else { "IPv4" },
                "endpoints": endpoints,
                "ports": ports,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::memory::MemoryWorld;

    fn endpoints(ips: &[&str]) -> Value {
        let addresses: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "subsets": [{"addresses": addresses, "notReadyAddresses": [{"ip": "10.0.0.9"}],
                         "ports": [{"name": "http", "port": 80}]}]})
    }

    #[test]
    fn endpoints_are_mirrored_updated_and_their_slices_removed_with_them() {
        let controllers: Vec<Box<dyn Controller>> = vec![Box::new(EndpointSliceMirroring)];
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut w = MemoryWorld::new(vec![endpoints(&["10.0.0.1", "10.0.0.2"])]);
        assert!(w.settle(&controllers, now, 10).is_some());
        let slices = w.list("EndpointSlice", Some("default"), None);
        assert_eq!(slices.len(), 1);
        let s = &slices[0];
        assert_eq!(label(s, SERVICE_NAME), Some("web"));
        assert_eq!(s["addressType"], "IPv4");
        assert_eq!(
            s["ports"],
            json!([{"name": "http", "port": 80, "protocol": "TCP"}])
        );
        let ready: Vec<bool> = s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["conditions"]["ready"].as_bool().unwrap())
            .collect();
        assert_eq!(ready, [true, true, false]);
        w.replace(endpoints(&["10.0.0.3"]));
        assert!(w.settle(&controllers, now, 10).is_some());
        let slices = w.list("EndpointSlice", Some("default"), None);
        assert_eq!(slices[0]["endpoints"][0]["addresses"], json!(["10.0.0.3"]));
        w.remove("Endpoints", Some("default"), "web");
        assert!(w.settle(&controllers, now, 10).is_some());
        assert!(w.list("EndpointSlice", None, None).is_empty());
    }
}
