//! ReplicaSet controller: keeps the number of live pods equal to `spec.replicas`.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::object::{
    self, OwnerKey, controller_of, i64_at, is_terminating, name, namespace, owner_key, owner_ref,
    uid,
};
use super::pod_status;
use crate::world::{Action, Controller, World};

/// Creates and deletes pods owned by ReplicaSets and reports their counts.
pub struct ReplicaSetController;

impl Controller for ReplicaSetController {
    fn name(&self) -> &'static str {
        "replicaset"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["ReplicaSet", "Pod"]
    }

    fn reconcile(&self, world: &dyn World, _now: jiff::Timestamp) -> Vec<Action> {
        let sets = world.list("ReplicaSet", None, None);
        if sets.is_empty() {
            return Vec::new();
        }
        let pods = world.list("Pod", None, None);
        let owned = index_by_controller(&pods);
        let mut taken: BTreeSet<(String, String)> = pods
            .iter()
            .map(|p| (namespace(p).to_string(), name(p).to_string()))
            .collect();
        let mut actions = Vec::new();
        for rs in sets.iter().filter(|rs| !is_terminating(rs)) {
            let live: Vec<&Value> = owned
                .get(&owner_key(rs))
                .map(|list| list.iter().copied().filter(|p| is_live(p)).collect())
                .unwrap_or_default();
            let desired = i64_at(rs, "spec.replicas").unwrap_or(1).max(0) as usize;
            if live.len() < desired {
                let template = rs.pointer("/spec/template").cloned().unwrap_or(Value::Null);
                for _ in live.len()..desired {
                    let pod_name = free_name(&mut taken, namespace(rs), name(rs), uid(rs));
                    actions.push(Action::Create(pod_from_template(
                        rs,
                        &template,
                        &pod_name,
                        &[],
                    )));
                }
            } else if live.len() > desired {
                let mut victims = live.clone();
                victims.sort_by_key(|p| {
                    (
                        object::str_at(p, "spec.nodeName").is_some(),
                        pod_status::is_ready(p),
                        std::cmp::Reverse(name(p).to_string()),
                    )
                });
                for pod in victims.into_iter().take(live.len() - desired) {
                    actions.push(Action::Delete {
                        kind: "Pod".into(),
                        namespace: Some(namespace(pod).to_string()),
                        name: name(pod).to_string(),
                    });
                }
            }
            let status = status(rs, &live);
            if rs.get("status") != Some(&status) {
                let mut updated = rs.clone();
                updated["status"] = status;
                actions.push(Action::Update(updated));
            }
        }
        actions
    }
}

/// Pods that count towards a controller's replicas: not finished and not being deleted.
pub fn is_live(pod: &Value) -> bool {
    !is_terminating(pod) && !pod_status::is_finished(pod)
}

/// Objects grouped by their controlling owner.
pub fn index_by_controller(objects: &[Value]) -> HashMap<OwnerKey, Vec<&Value>> {
    let mut map: HashMap<OwnerKey, Vec<&Value>> = HashMap::new();
    for o in objects {
        if let Some(owner) = controller_of(o) {
            map.entry(owner).or_default().push(o);
        }
    }
    map
}

/// A pod name `<base>-<suffix>` not used yet in the namespace; deterministic per owner.
pub fn free_name(
    taken: &mut BTreeSet<(String, String)>,
    ns: &str,
    base: &str,
    seed: &str,
) -> String {
    for i in 0.. {
        let candidate = format!("{base}-{}", object::suffix(&format!("{seed}/{i}"), 5));
        if taken.insert((ns.to_string(), candidate.clone())) {
            return candidate;
        }
    }
    unreachable!("an unbounded range always yields a free name")
}

/// A pod built from `owner`'s pod template, owned by it, with extra labels.
pub fn pod_from_template(
    owner: &Value,
    template: &Value,
    pod_name: &str,
    labels: &[(&str, &str)],
) -> Value {
    let mut metadata = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata
        .as_object_mut()
        .map(|m| m.remove("creationTimestamp"));
    metadata["name"] = json!(pod_name);
    metadata["namespace"] = json!(namespace(owner));
    metadata["ownerReferences"] = json!([owner_ref(owner)]);
    for (k, v) in labels {
        object::ensure_object(&mut metadata, "labels")[*k] = json!(v);
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if spec.get("restartPolicy").is_none() {
        spec["restartPolicy"] = json!("Always");
    }
    if spec.get("schedulerName").is_none() {
        spec["schedulerName"] = json!("default-scheduler");
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    })
}

/// The status a ReplicaSet reports for its live pods.
pub fn status(rs: &Value, live: &[&Value]) -> Value {
    let ready = live.iter().filter(|p| pod_status::is_ready(p)).count();
    json!({
        "replicas": live.len(),
        "fullyLabeledReplicas": live.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": i64_at(rs, "metadata.generation").unwrap_or(1),
    })
}
