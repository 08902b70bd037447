//! ReplicaSet controller: keeps the number of live pods equal to `spec.replicas`.
//!
//! It counts pods from the server's index (owner, phase, readiness, deletion) and parses only
//! the ReplicaSets whose pods or status must change, so a settled cluster of 50,000 pods costs
//! a pass over the index and no parsing.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::object::{self, namespace, owner_ref};
use crate::world::{Action, Controller, Index, World};

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
        let sets = world.list_index("ReplicaSet", None);
        if sets.is_empty() {
            return Vec::new();
        }
        let pods = world.list_index("Pod", None);
        let owned = index_by_controller(&pods, "ReplicaSet");
        let mut handed_out = BTreeSet::new();
        let mut actions = Vec::new();
        for set in sets.iter().filter(|rs| !rs.deleting()) {
            let live: Vec<&Index> = owned
                .get(&(set.namespace(), set.name()))
                .map(|list| list.iter().copied().filter(|p| is_live(p)).collect())
                .unwrap_or_default();
            let desired = set.replicas().unwrap_or(1).max(0) as usize;
            let ready = live.iter().filter(|p| is_ready(p)).count();
            let fields = status_fields(set.generation().max(1), live.len(), ready);
            if live.len() == desired && set.status_is(&fields) {
                continue;
            }
            let Some(rs) = world.get("ReplicaSet", Some(set.namespace()), set.name()) else {
                continue;
            };
            if live.len() < desired {
                let template = rs.pointer("/spec/template").cloned().unwrap_or(Value::Null);
                for _ in live.len()..desired {
                    let pod_name = unused_pod_name(world, &mut handed_out, set);
                    actions.push(Action::Create(pod_from_template(
                        &rs,
                        &template,
                        &pod_name,
                        &[],
                    )));
                }
            } else if live.len() > desired {
                let mut victims = live.clone();
                victims.sort_by_key(|p| {
                    (
                        p.node_name().is_some(),
                        is_ready(p),
                        std::cmp::Reverse(p.name().to_string()),
                    )
                });
                for pod in victims.into_iter().take(live.len() - desired) {
                    actions.push(Action::Delete {
                        kind: "Pod".into(),
                        namespace: Some(pod.namespace().to_string()),
                        name: pod.name().to_string(),
                    });
                }
            }
            if !set.status_is(&fields) {
                let mut updated = rs;
                updated["status"] = status_of(&fields);
                actions.push(Action::Update(updated));
            }
        }
        actions
    }
}

/// Pods that count towards a controller's replicas: not finished and not being deleted.
pub fn is_live(pod: &Index) -> bool {
    !pod.deleting() && !is_finished(pod)
}

/// Whether the pod has finished (Succeeded or Failed).
pub fn is_finished(pod: &Index) -> bool {
    matches!(pod.phase(), "Succeeded" | "Failed")
}

/// Whether the pod counts as ready (Running with condition Ready=True), as
/// [`super::pod_status::is_ready`] says for a parsed pod.
pub fn is_ready(pod: &Index) -> bool {
    pod.phase() == "Running" && pod.ready()
}

/// Objects grouped by their controlling owner of kind `owner_kind`, as `(namespace, name)`.
pub fn index_by_controller<'i>(
    objects: &'i [std::sync::Arc<Index>],
    owner_kind: &str,
) -> HashMap<(&'i str, &'i str), Vec<&'i Index>> {
    let mut map: HashMap<(&str, &str), Vec<&Index>> = HashMap::new();
    for o in objects {
        if let Some(owner) = o.controller().filter(|c| &*c.kind == owner_kind) {
            map.entry((o.namespace(), &owner.name)).or_default().push(o);
        }
    }
    map
}

/// Pod names handed out while a scenario is built. Each owner (`seed`) continues with the
/// suffix after the last one it got, so N pods of one owner cost N tries, not N²/2.
#[derive(Debug, Default)]
pub struct PodNames {
    taken: BTreeSet<(String, String)>,
    next: HashMap<String, u64>,
    /// Candidates tried so far (for tests of the cost).
    pub tries: u64,
}

impl PodNames {
    /// Reserve `name` in `ns` (a pod named by the scenario); false if it was taken.
    pub fn reserve(&mut self, ns: &str, name: &str) -> bool {
        self.taken.insert((ns.to_string(), name.to_string()))
    }

    /// A pod name `<base>-<suffix>` not used yet in the namespace; deterministic per owner.
    pub fn free_name(&mut self, ns: &str, base: &str, seed: &str) -> String {
        let start = self.next.get(seed).copied().unwrap_or(0);
        let (taken, tries) = (&mut self.taken, &mut self.tries);
        let (name, used) = unused_name_from(base, seed, start, |candidate| {
            *tries += 1;
            taken.insert((ns.to_string(), candidate.to_string()))
        });
        self.next.insert(seed.to_string(), used + 1);
        name
    }
}

/// The name [`free_name`] gives the next pod of `owner`, given the pods in the world and the
/// names already handed out in this pass.
pub fn unused_pod_name(
    world: &dyn World,
    handed_out: &mut BTreeSet<(String, String)>,
    owner: &Index,
) -> String {
    let ns = owner.namespace();
    unused_name(owner.name(), owner.uid(), |candidate| {
        world.get_index("Pod", Some(ns), candidate).is_none()
            && handed_out.insert((ns.to_string(), candidate.to_string()))
    })
}

/// `<base>-<suffix>` for the first of the suffixes derived from `seed` that `claim` accepts.
fn unused_name(base: &str, seed: &str, claim: impl FnMut(&str) -> bool) -> String {
    unused_name_from(base, seed, 0, claim).0
}

/// [`unused_name`] trying suffixes `start, start + 1, ...`; also returns the one used.
fn unused_name_from(
    base: &str,
    seed: &str,
    start: u64,
    mut claim: impl FnMut(&str) -> bool,
) -> (String, u64) {
    for i in start.. {
        let candidate = format!("{base}-{}", object::suffix(&format!("{seed}/{i}"), 5));
        if claim(&candidate) {
            return (candidate, i);
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

/// The status fields a ReplicaSet of `generation` reports for `live` pods, `ready` of them ready.
pub fn status_fields(generation: i64, live: usize, ready: usize) -> [(&'static str, i64); 5] {
    let (live, ready) = (live as i64, ready as i64);
    [
        ("replicas", live),
        ("fullyLabeledReplicas", live),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
        ("observedGeneration", generation),
    ]
}

/// Integer status fields as a JSON object.
pub fn status_of(fields: &[(&str, i64)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_string(), json!(v)))
            .collect(),
    )
}

/// The status a ReplicaSet reports for `live` pods, `ready` of them ready.
pub fn status(rs: &Value, live: usize, ready: usize) -> Value {
    let generation = object::i64_at(rs, "metadata.generation").unwrap_or(1);
    status_of(&status_fields(generation, live, ready))
}

#[cfg(test)]
mod pod_name_tests {
    use super::*;

    #[test]
    fn pod_names_cost_one_try_per_pod() {
        let mut names = PodNames::default();
        assert!(names.reserve("ns", "web-pinned"));
        let made: BTreeSet<String> = (0..5000)
            .map(|_| names.free_name("ns", "web", "uid-1"))
            .collect();
        assert_eq!(made.len(), 5000);
        // Linear: one try per pod (a suffix collision may add one now and then).
        assert!(names.tries < 5100, "{} tries for 5000 pods", names.tries);
        // Same names as the controller gives, in the same order.
        let mut again = PodNames::default();
        assert_eq!(
            again.free_name("ns", "web", "uid-1"),
            unused_name("web", "uid-1", |_| true)
        );
    }
}
