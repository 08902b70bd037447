//! Garbage collector: deletes objects whose owners (by `ownerReferences`) are all gone, so
//! deleting a Deployment removes its ReplicaSets and their pods. Owners are matched by kind and
//! name (see [`super::object::controller_of`]). Works from the server's index alone: owner
//! references and existence checks need no parsing.

use std::collections::HashMap;
use std::sync::Arc;

use crate::world::{Action, Controller, Index, World};

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
        let mut dependents: Vec<(&str, Arc<Index>)> = Vec::new();
        for kind in DEPENDENTS {
            for object in world.list_index(kind, None) {
                if !object.owners().is_empty() {
                    dependents.push((kind, object));
                }
            }
        }
        if dependents.is_empty() {
            return Vec::new();
        }
        // Many dependents share an owner: look each owner up once.
        let mut alive: HashMap<(&str, &str, &str), bool> = HashMap::new();
        let mut actions = Vec::new();
        for (kind, object) in &dependents {
            let orphaned = object.owners().iter().all(|r| {
                // Cluster-scoped owners (nodes) have no namespace.
                let ns = if &*r.kind == "Node" {
                    ""
                } else {
                    object.namespace()
                };
                // Owners of kinds we do not know are assumed alive: never delete on a guess.
                OWNERS.contains(&&*r.kind)
                    && !*alive.entry((&r.kind, ns, &r.name)).or_insert_with(|| {
                        world
                            .get_index(&r.kind, Some(ns).filter(|n| !n.is_empty()), &r.name)
                            .is_some()
                    })
            });
            if orphaned {
                actions.push(Action::Delete {
                    kind: kind.to_string(),
                    namespace: Some(object.namespace().to_string()).filter(|ns| !ns.is_empty()),
                    name: object.name().to_string(),
                });
            }
        }
        actions
    }
}
