//! Garbage collector: deletes objects whose owners (by `ownerReferences`) are all gone, so
//! deleting a Deployment removes its ReplicaSets and their pods. Owners are matched by kind and
//! name (see [`super::object::controller_of`] for why not by uid).

use std::collections::HashSet;

use serde_json::Value;

use super::object::{OwnerKey, at, name, namespace, owner_key};
use crate::world::{Action, Controller, World};

/// Kinds that own other objects in the simulated cluster.
const OWNERS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "Node",
    "Pod",
    "PersistentVolumeClaim",
];

/// Kinds whose objects may have owners.
const DEPENDENTS: &[&str] = &[
    "ReplicaSet",
    "Pod",
    "Job",
    "PersistentVolumeClaim",
    "ConfigMap",
    "Service",
];

/// Deletes orphans whose owners have all been deleted.
pub struct GarbageCollector;

impl Controller for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbage-collector"
    }

    fn watches(&self) -> &'static [&'static str] {
        &[
            "Deployment",
            "ReplicaSet",
            "DaemonSet",
            "StatefulSet",
            "Job",
            "CronJob",
            "Node",
        ]
    }

    fn reconcile(&self, world: &dyn World, _now: jiff::Timestamp) -> Vec<Action> {
        let mut dependents: Vec<(&str, Value)> = Vec::new();
        for kind in DEPENDENTS {
            for object in world.list(kind, None, None) {
                if at(&object, "metadata.ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| !refs.is_empty())
                {
                    dependents.push((kind, object));
                }
            }
        }
        if dependents.is_empty() {
            return Vec::new();
        }
        let mut alive: HashSet<OwnerKey> = HashSet::new();
        for kind in OWNERS {
            for object in world.list(kind, None, None) {
                alive.insert(owner_key(&object));
            }
        }
        dependents
            .into_iter()
            .filter(|(_, object)| {
                let refs = at(object, "metadata.ownerReferences").and_then(Value::as_array);
                refs.is_some_and(|refs| {
                    refs.iter().all(|r| {
                        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                        let owner = r.get("name").and_then(Value::as_str).unwrap_or("");
                        // Cluster-scoped owners (nodes) have no namespace.
                        let ns = if kind == "Node" {
                            ""
                        } else {
                            namespace(object)
                        };
                        // Owners of kinds we do not know are assumed alive: never delete on a guess.
                        OWNERS.contains(&kind)
                            && !alive.contains(&(
                                kind.to_string(),
                                ns.to_string(),
                                owner.to_string(),
                            ))
                    })
                })
            })
            .map(|(kind, object)| Action::Delete {
                kind: kind.to_string(),
                namespace: Some(namespace(&object).to_string()).filter(|ns| !ns.is_empty()),
                name: name(&object).to_string(),
            })
            .collect()
    }
}
