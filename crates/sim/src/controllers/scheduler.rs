//! Scheduler: binds pending pods to ready, schedulable nodes that pass the pod's node selector,
//! required node affinity, tolerations and volume constraints, choosing the node with the fewest
//! pods (ties by name). Pods that fit nowhere stay Pending with `PodScheduled=False` and one
//! `FailedScheduling` event per distinct reason.
//!
//! Claims of `WaitForFirstConsumer` classes follow upstream's protocol: the scheduler picks a
//! node, writes it to the claim's `volume.kubernetes.io/selected-node` annotation and binds the
//! pod only once the provisioner has bound the claim.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::node_match::{
    affinity_matches, node_ready, node_unschedulable, selector_matches, untolerated_taint,
    volume_allows,
};
use super::object::{self, annotation, condition, is_terminating, name, namespace, str_at};
use super::pod_status::{self, phase};
use super::volume::{SELECTED_NODE, binding_mode, resolve_class};
use crate::world::{Action, Controller, World};

/// Binds pending pods to nodes.
pub struct Scheduler;

impl Controller for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn watches(&self) -> &'static [&'static str] {
        &[
            "Pod",
            "Node",
            "PersistentVolumeClaim",
            "PersistentVolume",
            "StorageClass",
        ]
    }

    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action> {
        let mut pending: Vec<Value> = world
            .list("Pod", None, Some(("spec.nodeName", "")))
            .into_iter()
            .filter(|p| phase(p) == "Pending" && !is_terminating(p) && ours(p))
            .collect();
        if pending.is_empty() {
            return Vec::new();
        }
        pending.sort_by(|a, b| (namespace(a), name(a)).cmp(&(namespace(b), name(b))));
        let mut nodes = world.list("Node", None, None);
        nodes.sort_by(|a, b| name(a).cmp(name(b)));
        // Pods per node from the index: the bound pods are not parsed.
        let mut load: HashMap<String, usize> = HashMap::new();
        for pod in world.list_index("Pod", None) {
            if let Some(node) = pod.node_name()
                && !super::replicaset::is_finished(&pod)
            {
                *load.entry(node.to_string()).or_default() += 1;
            }
        }
        let now = now.to_string();
        let mut actions = Vec::new();
        for pod in &pending {
            match place(world, pod, &nodes, &load) {
                Placement::Bind(node) => {
                    *load.entry(node.clone()).or_default() += 1;
                    actions.extend(bind(pod, &node, &now));
                }
                Placement::SelectForClaims(node, claims) => {
                    for mut claim in claims {
                        object::set_annotation(&mut claim, SELECTED_NODE, &node);
                        actions.push(Action::Update(claim));
                    }
                }
                Placement::Wait => {}
                Placement::Unschedulable(message) => actions.extend(refuse(pod, &message, &now)),
            }
        }
        actions
    }
}

/// Pods for another scheduler are left alone.
fn ours(pod: &Value) -> bool {
    str_at(pod, "spec.schedulerName").is_none_or(|s| s == "default-scheduler")
}

enum Placement {
    Bind(String),
    SelectForClaims(String, Vec<Value>),
    Wait,
    Unschedulable(String),
}

/// What the pod's claims require before and after a node is chosen.
struct Claims {
    bound_volumes: Vec<Value>,
    delayed: Vec<Value>,
    waiting: bool,
}

fn claims(world: &dyn World, pod: &Value) -> Result<Claims, String> {
    let mut out = Claims {
        bound_volumes: Vec::new(),
        delayed: Vec::new(),
        waiting: false,
    };
    let volumes = object::at(pod, "spec.volumes").and_then(Value::as_array);
    for volume in volumes.into_iter().flatten() {
        let Some(claim_name) = volume
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(claim) = world.get("PersistentVolumeClaim", Some(namespace(pod)), claim_name)
        else {
            return Err(format!("persistentvolumeclaim \"{claim_name}\" not found"));
        };
        if is_terminating(&claim) {
            return Err(format!(
                "persistentvolumeclaim \"{claim_name}\" is being deleted"
            ));
        }
        if let Some(volume_name) = str_at(&claim, "spec.volumeName").filter(|v| !v.is_empty()) {
            match world.get("PersistentVolume", None, volume_name) {
                Some(pv) => out.bound_volumes.push(pv),
                None => return Err(format!("persistentvolume \"{volume_name}\" not found")),
            }
            continue;
        }
        let delayed = resolve_class(world, &claim)
            .is_some_and(|class| binding_mode(&class) == "WaitForFirstConsumer");
        if !delayed {
            return Err("pod has unbound immediate PersistentVolumeClaims".into());
        }
        if annotation(&claim, SELECTED_NODE).is_some() {
            out.waiting = true;
        } else {
            out.delayed.push(claim);
        }
    }
    Ok(out)
}

fn place(
    world: &dyn World,
    pod: &Value,
    nodes: &[Value],
    load: &HashMap<String, usize>,
) -> Placement {
    let claims = match claims(world, pod) {
        Ok(c) => c,
        Err(reason) => {
            return Placement::Unschedulable(format!(
                "0/{} nodes are available: {reason}.",
                nodes.len()
            ));
        }
    };
    if claims.waiting {
        return Placement::Wait;
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(&str, usize)> = None;
    for node in nodes {
        match reject(pod, node, &claims.bound_volumes) {
            Some(reason) => *reasons.entry(reason).or_default() += 1,
            None => {
                let count = load.get(name(node)).copied().unwrap_or(0);
                if best.is_none_or(|(_, c)| count < c) {
                    best = Some((name(node), count));
                }
            }
        }
    }
    match best {
        Some((node, _)) if claims.delayed.is_empty() => Placement::Bind(node.to_string()),
        Some((node, _)) => Placement::SelectForClaims(node.to_string(), claims.delayed),
        None => {
            let detail: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            let detail = if detail.is_empty() {
                "no nodes in the cluster".to_string()
            } else {
                detail.join(", ")
            };
            Placement::Unschedulable(format!("0/{} nodes are available: {detail}.", nodes.len()))
        }
    }
}

/// Why the node cannot take the pod, in upstream's words; `None` if it can.
fn reject(pod: &Value, node: &Value, volumes: &[Value]) -> Option<String> {
    if !node_ready(node) {
        return Some("node(s) were not ready".into());
    }
    if node_unschedulable(node) {
        return Some("node(s) were unschedulable".into());
    }
    if !selector_matches(pod, node) || !affinity_matches(pod, node) {
        return Some("node(s) didn't match Pod's node affinity/selector".into());
    }
    if let Some(taint) = untolerated_taint(pod, node) {
        let field = |k: &str| taint.get(k).and_then(Value::as_str).unwrap_or("");
        return Some(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            field("key"),
            field("value")
        ));
    }
    if volumes.iter().any(|pv| !volume_allows(pv, node)) {
        return Some("node(s) had volume node affinity conflict".into());
    }
    None
}

fn bind(pod: &Value, node: &str, now: &str) -> Vec<Action> {
    let mut bound = pod.clone();
    bound["spec"]["nodeName"] = json!(node);
    let status = object::ensure_object(&mut bound, "status");
    status["phase"] = json!("Pending");
    status["conditions"] = json!([{
        "type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now,
    }]);
    vec![
        Action::Update(bound),
        Action::Event {
            namespace: namespace(pod).to_string(),
            involved: object::involved(pod),
            event_type: "Normal".into(),
            reason: "Scheduled".into(),
            message: format!(
                "Successfully assigned {}/{} to {node}",
                namespace(pod),
                name(pod)
            ),
        },
    ]
}

fn refuse(pod: &Value, message: &str, now: &str) -> Vec<Action> {
    let already = condition(pod, "PodScheduled").is_some_and(|c| {
        c.get("status").and_then(Value::as_str) == Some("False")
            && c.get("message").and_then(Value::as_str) == Some(message)
    });
    if already {
        return Vec::new();
    }
    let mut refused = pod.clone();
    refused["status"] = pod_status::unschedulable(message, now);
    vec![
        Action::Update(refused),
        Action::Event {
            namespace: namespace(pod).to_string(),
            involved: object::involved(pod),
            event_type: "Warning".into(),
            reason: "FailedScheduling".into(),
            message: message.to_string(),
        },
    ]
}
