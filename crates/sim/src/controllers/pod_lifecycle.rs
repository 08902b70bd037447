//! The simulated kubelet: scheduled pods start (once their node is Ready and their claims are
//! bound), run-to-completion pods finish, and probe pods do what the probe protocol says.

use std::collections::HashMap;

use serde_json::Value;

use super::connect;
use super::object::{self, annotation, is_terminating, name, namespace, node_ip, str_at, uid};
use super::pod_status;
use super::probe::{self, PROBE_ANNOTATION};
use crate::world::{Action, Controller, World};

/// Starts and finishes pods.
#[derive(Debug, Clone, Copy, Default)]
pub struct PodLifecycle {
    /// What decides the outcome of `agnhost connect` probes.
    pub connect: connect::Rules,
}

impl Controller for PodLifecycle {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Pod", "Node", "PersistentVolumeClaim", "PersistentVolume"]
    }

    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action> {
        // Only the nodes of pods to start are parsed, each once.
        let mut nodes: HashMap<String, Option<Value>> = HashMap::new();
        let mut volumes = probe::Volumes::default();
        let now = now.to_string();
        let mut actions = Vec::new();
        // Only Pending pods are looked at (an indexed, cheap list even with many pods): a
        // run-to-completion pod starts and finishes in the same round, so nothing ever has to
        // look for Running pods.
        for pod in world.list("Pod", None, Some(("status.phase", "Pending"))) {
            let Some(node_name) = str_at(&pod, "spec.nodeName").map(str::to_string) else {
                continue;
            };
            // A container whose image cannot be pulled keeps the pod Pending.
            if is_terminating(&pod) || super::conformance::image_pull_failed(&pod) {
                continue;
            }
            let node = nodes
                .entry(node_name.clone())
                .or_insert_with(|| world.get("Node", None, &node_name));
            let Some(running) = node
                .as_ref()
                .and_then(|node| start(world, &pod, node, &now, &mut actions))
            else {
                continue;
            };
            // The conformance image runs for a while (its own controller ends it).
            if !runs_to_completion(&running)
                || super::conformance::conformance_container(&running).is_some()
            {
                continue;
            }
            let outcome = if annotation(&running, PROBE_ANNOTATION).is_some() {
                Some(probe::run(world, &running, &node_name, &mut volumes))
            } else {
                connect::parse(&running).map(|parsed| match parsed {
                    Ok(probe) => connect::run(world, &running, &probe, self.connect),
                    Err(why) => probe::Outcome {
                        succeeded: false,
                        log: format!("UNKNOWN: {why}\n"),
                    },
                })
            };
            let succeeded = match outcome {
                Some(outcome) => {
                    actions.push(Action::AppendLog {
                        namespace: namespace(&running).to_string(),
                        pod: name(&running).to_string(),
                        container: first_container(&running),
                        text: outcome.log,
                    });
                    outcome.succeeded
                }
                None => true,
            };
            finish(&running, succeeded, &now, &mut actions);
        }
        actions.extend(volumes.into_updates());
        actions
    }
}

fn first_container(pod: &Value) -> String {
    pod.pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn claims_bound(world: &dyn World, pod: &Value) -> bool {
    let volumes = object::at(pod, "spec.volumes").and_then(Value::as_array);
    volumes.into_iter().flatten().all(|v| {
        let Some(claim) = v
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        else {
            return true;
        };
        world
            .get("PersistentVolumeClaim", Some(namespace(pod)), claim)
            .is_some_and(|c| str_at(&c, "status.phase") == Some("Bound"))
    })
}

/// Pods whose containers exit instead of being restarted.
fn runs_to_completion(pod: &Value) -> bool {
    matches!(
        str_at(pod, "spec.restartPolicy"),
        Some("Never" | "OnFailure")
    )
}

/// Starts the pod if its node is Ready and its claims are bound; returns the running pod.
fn start(
    world: &dyn World,
    pod: &Value,
    node: &Value,
    now: &str,
    actions: &mut Vec<Action>,
) -> Option<Value> {
    if !super::node_match::node_ready(node) || !claims_bound(world, pod) {
        return None;
    }
    let host_ip = node_ip(node).unwrap_or("10.0.0.1");
    let mut started = pod.clone();
    started["status"] = pod_status::running(pod, host_ip, &object::pod_ip(uid(pod)), now);
    actions.push(Action::Update(started.clone()));
    actions.push(Action::Event {
        namespace: namespace(pod).to_string(),
        involved: object::involved(pod),
        event_type: "Normal".into(),
        reason: "Started".into(),
        message: format!("Started container {}", first_container(pod)),
    });
    Some(started)
}

/// Finishes a pod started in the same round: the update carries no resourceVersion because the
/// start before it will have changed the stored one.
fn finish(pod: &Value, succeeded: bool, now: &str, actions: &mut Vec<Action>) {
    let mut done = pod.clone();
    done["status"] = pod_status::finished(pod, &pod["status"], succeeded, now);
    if let Some(meta) = done.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    actions.push(Action::Update(done));
}
