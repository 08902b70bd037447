//! The shapes of pod status the simulated kubelet reports, shared by the pod lifecycle controller
//! and the scenario loader.

use serde_json::{Value, json};

use super::object::{at, stable_hash};

/// Phase of a pod (`Pending` when it has none yet).
pub fn phase(pod: &Value) -> &str {
    at(pod, "status.phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

/// Whether the pod has finished (Succeeded or Failed).
pub fn is_finished(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether the pod counts as ready (Running with condition Ready=True).
pub fn is_ready(pod: &Value) -> bool {
    phase(pod) == "Running" && super::object::condition_true(pod, "Ready")
}

fn condition(kind: &str, status: bool, at: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": at,
    })
}

fn container_id(seed: &str) -> String {
    format!(
        "containerd://{:016x}{:016x}",
        stable_hash(seed),
        stable_hash(&format!("{seed}#"))
    )
}

fn image_id(image: &str) -> String {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    format!(
        "{repo}@sha256:{:016x}{:016x}{:016x}{:016x}",
        stable_hash(image),
        stable_hash(&format!("{image}1")),
        stable_hash(&format!("{image}2")),
        stable_hash(&format!("{image}3"))
    )
}

fn containers(pod: &Value, key: &str) -> Vec<(String, String)> {
    at(pod, &format!("spec.{key}"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| {
                    let field =
                        |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("").to_string();
                    (field("name"), field("image"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn init_statuses(pod: &Value, uid: &str, started: &str) -> Vec<Value> {
    containers(pod, "initContainers")
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name,
                "image": image,
                "imageID": image_id(&image),
                "containerID": container_id(&format!("{uid}/{name}")),
                "ready": true,
                "started": false,
                "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started,
                    "containerID": container_id(&format!("{uid}/{name}")),
                }},
            })
        })
        .collect()
}

/// Status of a pod whose containers all run and are ready.
pub fn running(pod: &Value, host_ip: &str, pod_ip: &str, started: &str) -> Value {
    let uid = super::object::uid(pod).to_string();
    let statuses: Vec<Value> = containers(pod, "containers")
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name,
                "image": image,
                "imageID": image_id(&image),
                "containerID": container_id(&format!("{uid}/{name}")),
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": started}},
            })
        })
        .collect();
    let mut status = json!({
        "phase": "Running",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "qosClass": "BestEffort",
        "conditions": [
            condition("PodReadyToStartContainers", true, started),
            condition("Initialized", true, started),
            condition("Ready", true, started),
            condition("ContainersReady", true, started),
            condition("PodScheduled", true, started),
        ],
        "containerStatuses": statuses,
    });
    let inits = init_statuses(pod, &uid, started);
    if !inits.is_empty() {
        status["initContainerStatuses"] = Value::Array(inits);
    }
    status
}

/// Status of a pod whose containers have all exited (`Succeeded` with exit code 0, else `Failed`).
pub fn finished(pod: &Value, running_status: &Value, succeeded: bool, finished_at: &str) -> Value {
    let mut status = running_status.clone();
    let uid = super::object::uid(pod).to_string();
    let started = running_status
        .get("startTime")
        .and_then(Value::as_str)
        .unwrap_or(finished_at)
        .to_string();
    let code = if succeeded { 0 } else { 1 };
    let reason = if succeeded { "Completed" } else { "Error" };
    status["phase"] = json!(if succeeded { "Succeeded" } else { "Failed" });
    status["containerStatuses"] = Value::Array(
        containers(pod, "containers")
            .into_iter()
            .map(|(name, image)| {
                json!({
                    "name": name,
                    "image": image,
                    "imageID": image_id(&image),
                    "containerID": container_id(&format!("{uid}/{name}")),
                    "ready": false,
                    "started": false,
                    "restartCount": 0,
                    "state": {"terminated": {
                        "exitCode": code, "reason": reason,
                        "startedAt": started, "finishedAt": finished_at,
                        "containerID": container_id(&format!("{uid}/{name}")),
                    }},
                })
            })
            .collect(),
    );
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", false, finished_at),
        condition("Initialized", true, &started),
        condition("Ready", false, finished_at),
        condition("ContainersReady", false, finished_at),
        condition("PodScheduled", true, &started),
    ]);
    status
}

/// Status of a pod that cannot be scheduled, with the scheduler's reason.
pub fn unschedulable(message: &str, at: &str) -> Value {
    json!({
        "phase": "Pending",
        "qosClass": "BestEffort",
        "conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": at,
        }],
    })
}
