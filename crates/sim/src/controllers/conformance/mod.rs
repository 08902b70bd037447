//! The simulated conformance image: a container whose image is `*/conformance:TAG` (or
//! `*/conformance-<arch>:TAG`) runs the upstream e2e suite as the scenario's `e2e` block says —
//! it passes, fails the named specs, crashes, hangs, or its image cannot be pulled — writing
//! its progress to the container log and `e2e.log` plus `junit_01.xml` into the `emptyDir`
//! mounted at `RESULTS_DIR` (`/tmp/results`), where a sibling container reads them with
//! `exec cat`. Runs take the scenario's (short) duration and advance with time: the controller
//! asks to be woken ([`Controller::wake_at`]) until the run ends.
//!
//! Only pods created while the simulator runs are simulated (they pass through Pending);
//! the controller remembers which pods run the image, so it never scans running pods.

pub mod run;
pub mod specs;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::object::{self, is_terminating, name, namespace, str_at, uid};
use crate::scenario::E2eOutcome;
use crate::world::{Action, Controller, World};
use run::{Ending, Request, Run};

/// How long an image pull fails (`ErrImagePull`) before the kubelet backs off
/// (`ImagePullBackOff`).
const PULL_BACKOFF: Duration = Duration::from_secs(1);
/// Least time between two progress updates of one run.
const TICK: Duration = Duration::from_millis(100);

/// What the scenario says runs of the conformance image do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// How runs end.
    pub outcome: E2eOutcome,
    /// Spec names that fail (outcome `fail`).
    pub failures: Vec<String>,
    /// How long a run takes.
    pub duration: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            outcome: E2eOutcome::Pass,
            failures: Vec::new(),
            duration: DEFAULT_DURATION,
        }
    }
}

/// How long a simulated run takes unless the scenario says otherwise.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(2);

/// The tag of `image` if it is the conformance image (`…/conformance:TAG`,
/// `…/conformance-amd64:TAG`, optionally `@sha256:…`).
pub fn conformance_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    let (repo, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/'))?;
    let last = repo.rsplit('/').next().unwrap_or(repo);
    (repo.contains('/') && (last == "conformance" || last.starts_with("conformance-")))
        .then_some(tag)
}

/// The first container of `pod` running the conformance image: (name, image).
pub fn conformance_container(pod: &Value) -> Option<(String, String)> {
    object::at(pod, "spec.containers")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|c| {
            let image = c.get("image").and_then(Value::as_str)?;
            conformance_tag(image)?;
            Some((c.get("name")?.as_str()?.to_string(), image.to_string()))
        })
}

/// What one tracked pod has done so far.
#[derive(Debug)]
struct Tracked {
    uid: String,
    container: String,
    image: String,
    run: Option<Run>,
    /// Specs reported in the log so far.
    reported: usize,
    /// The log so far (also `e2e.log`).
    text: String,
    ended: bool,
    pull_failed_at: Option<jiff::Timestamp>,
    backed_off: bool,
    wake: Option<jiff::Timestamp>,
}

/// The controller simulating the conformance image.
#[derive(Debug)]
pub struct ConformanceImage {
    behaviour: Behaviour,
    apiserver_version: String,
    tracked: Mutex<BTreeMap<(String, String), Tracked>>,
}

impl ConformanceImage {
    /// Runs behave as `behaviour` says, against an API server reporting `apiserver_version`.
    pub fn new(behaviour: Behaviour, apiserver_version: &str) -> Self {
        ConformanceImage {
            behaviour,
            apiserver_version: apiserver_version.to_string(),
            tracked: Mutex::new(BTreeMap::new()),
        }
    }
}

fn env<'c>(container: &'c Value, key: &str) -> Option<&'c str> {
    container
        .get("env")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(key))?
        .get("value")
        .and_then(Value::as_str)
}

fn container_spec<'p>(pod: &'p Value, name: &str) -> Option<&'p Value> {
    object::at(pod, "spec.containers")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

fn request(pod: &Value, container: &str, image: &str) -> Request {
    let spec = container_spec(pod, container);
    let get = |key: &str| spec.and_then(|c| env(c, key)).unwrap_or("").to_string();
    let flake_attempts = get("E2E_EXTRA_ARGS")
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--ginkgo.flake-attempts="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let parallel = get("E2E_EXTRA_GINKGO_ARGS")
        .split_whitespace()
        .find_map(|a| {
            a.strip_prefix("--procs=")
                .or_else(|| a.strip_prefix("--nodes="))
        })
        .and_then(|n| n.parse().ok())
        .or_else(|| get("E2E_PARALLEL").parse().ok())
        .unwrap_or(1);
    Request {
        parallel,
        focus: get("E2E_FOCUS"),
        skip: get("E2E_SKIP"),
        flake_attempts,
        image_version: conformance_tag(image).unwrap_or("").to_string(),
    }
}

/// The emptyDir volume mounted at the container's `RESULTS_DIR` (default `/tmp/results`).
fn results_volume(pod: &Value, container: &str) -> Option<String> {
    let spec = container_spec(pod, container)?;
    let dir = env(spec, "RESULTS_DIR").unwrap_or("/tmp/results");
    let dir = dir.trim_end_matches('/');
    let mount = spec.get("volumeMounts")?.as_array()?.iter().find(|m| {
        m.get("mountPath")
            .and_then(Value::as_str)
            .map(|p| p.trim_end_matches('/'))
            == Some(dir)
    })?;
    let volume = mount.get("name")?.as_str()?;
    object::at(pod, "spec.volumes")
        .and_then(Value::as_array)?
        .iter()
        .any(|v| {
            v.get("name").and_then(Value::as_str) == Some(volume) && v.get("emptyDir").is_some()
        })
        .then(|| volume.to_string())
}

fn container_status<'p>(pod: &'p Value, container: &str) -> Option<&'p Value> {
    object::at(pod, "status.containerStatuses")
        .and_then(Value::as_array)?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
}

fn add(at: jiff::Timestamp, d: Duration) -> jiff::Timestamp {
    at + jiff::SignedDuration::try_from(d).unwrap_or_default()
}

fn event(pod: &Value, kind: &str, reason: &str, message: String) -> Action {
    Action::Event {
        namespace: namespace(pod).to_string(),
        involved: object::involved(pod),
        event_type: kind.into(),
        reason: reason.into(),
        message,
    }
}

/// The pod's status with `container` waiting for an image that cannot be pulled and every
/// other container running (phase Pending, as the kubelet reports it).
fn pull_failed_status(
    world: &dyn World,
    pod: &Value,
    container: &str,
    image: &str,
    reason: &str,
    now: &str,
) -> Value {
    let node = str_at(pod, "spec.nodeName").and_then(|n| world.get("Node", None, n));
    let host_ip = node
        .as_ref()
        .and_then(object::node_ip)
        .unwrap_or("10.0.0.1");
    let mut status = super::pod_status::running(pod, host_ip, &object::pod_ip(uid(pod)), now);
    status["phase"] = json!("Pending");
    let message = if reason == "ErrImagePull" {
        format!(
            "failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found (simulated: the scenario's e2e outcome is image-pull-error)"
        )
    } else {
        format!("Back-off pulling image \"{image}\"")
    };
    if let Some(list) = status["containerStatuses"].as_array_mut() {
        for s in list {
            if s.get("name").and_then(Value::as_str) == Some(container) {
                s["ready"] = json!(false);
                s["started"] = json!(false);
                s["state"] = json!({"waiting": {"reason": reason, "message": message}});
                if let Some(map) = s.as_object_mut() {
                    map.remove("containerID");
                    map.remove("imageID");
                }
            }
        }
    }
    set_not_ready(&mut status, container, now);
    status
}

fn set_not_ready(status: &mut Value, container: &str, now: &str) {
    if let Some(conditions) = status["conditions"].as_array_mut() {
        for c in conditions {
            if matches!(c["type"].as_str(), Some("Ready" | "ContainersReady")) {
                c["status"] = json!("False");
                c["reason"] = json!("ContainersNotReady");
                c["message"] = json!(format!("containers with unready status: [{container}]"));
                c["lastTransitionTime"] = json!(now);
            }
        }
    }
}

/// The pod's status after `container` exited with `exit`.
fn terminated_status(pod: &Value, container: &str, exit: i32, now: &str) -> Value {
    let mut status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut others_running = false;
    if let Some(list) = status["containerStatuses"].as_array_mut() {
        for s in list.iter_mut() {
            if s.get("name").and_then(Value::as_str) == Some(container) {
                let started = s
                    .pointer("/state/running/startedAt")
                    .cloned()
                    .unwrap_or_else(|| json!(now));
                let id = s.get("containerID").cloned().unwrap_or(Value::Null);
                s["ready"] = json!(false);
                s["started"] = json!(false);
                s["state"] = json!({"terminated": {
                    "exitCode": exit,
                    "reason": if exit == 0 { "Completed" } else { "Error" },
                    "startedAt": started,
                    "finishedAt": now,
                    "containerID": id,
                }});
            } else if s.pointer("/state/running").is_some() {
                others_running = true;
            }
        }
    }
    if !others_running {
        status["phase"] = json!(if exit == 0 { "Succeeded" } else { "Failed" });
    }
    set_not_ready(&mut status, container, now);
    status
}

impl ConformanceImage {
    fn ending(&self) -> Ending {
        match self.behaviour.outcome {
            E2eOutcome::Crash => Ending::Crash,
            E2eOutcome::Hang => Ending::Hang,
            _ => Ending::Complete,
        }
    }

    /// Move one tracked pod along; returns whether to keep tracking it.
    fn advance(
        &self,
        world: &dyn World,
        key: &(String, String),
        tracked: &mut Tracked,
        now: jiff::Timestamp,
        actions: &mut Vec<Action>,
    ) -> bool {
        let Some(pod) = world.get("Pod", Some(&key.0), &key.1) else {
            return false;
        };
        if uid(&pod) != tracked.uid || is_terminating(&pod) {
            return false;
        }
        let stamp = now.to_string();
        if let Some(failed_at) = tracked.pull_failed_at {
            if !tracked.backed_off && now >= add(failed_at, PULL_BACKOFF) {
                let mut updated = pod.clone();
                updated["status"] = pull_failed_status(
                    world,
                    &pod,
                    &tracked.container,
                    &tracked.image,
                    "ImagePullBackOff",
                    &stamp,
                );
                actions.push(Action::Update(updated));
                actions.push(event(
                    &pod,
                    "Normal",
                    "BackOff",
                    format!("Back-off pulling image \"{}\"", tracked.image),
                ));
                tracked.backed_off = true;
                tracked.wake = None;
            }
            return true;
        }
        let status = container_status(&pod, &tracked.container);
        if status
            .and_then(|s| s.pointer("/state/terminated"))
            .is_some()
        {
            tracked.ended = true;
            tracked.wake = None;
            return true;
        }
        let Some(started) = status
            .and_then(|s| s.pointer("/state/running/startedAt"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        else {
            return true;
        };
        let apiserver = &self.apiserver_version;
        let behaviour = &self.behaviour;
        let ending = self.ending();
        let run = tracked.run.get_or_insert_with(|| {
            Run::new(
                request(&pod, &tracked.container, &tracked.image),
                apiserver,
                ending,
                &behaviour.failures,
                behaviour.duration,
                started,
            )
        });
        let elapsed = Duration::try_from(now.duration_since(started)).unwrap_or(Duration::ZERO);
        let progress = run.progress(elapsed);
        let mut text = String::new();
        if tracked.text.is_empty() {
            text.push_str(&run.header());
        }
        for k in tracked.reported..progress.done {
            text.push_str(&run.spec_lines(k));
        }
        tracked.reported = tracked.reported.max(progress.done);
        if let Some(exit) = progress.exit
            && !tracked.ended
        {
            text.push_str(&run.footer(exit, elapsed));
            tracked.ended = true;
        }
        let volume = results_volume(&pod, &tracked.container);
        if !text.is_empty() {
            tracked.text.push_str(&text);
            actions.push(Action::AppendLog {
                namespace: key.0.clone(),
                pod: key.1.clone(),
                container: tracked.container.clone(),
                text,
            });
            if let Some(volume) = &volume {
                actions.push(Action::WriteFile {
                    pod_uid: tracked.uid.clone(),
                    volume: volume.clone(),
                    path: "e2e.log".into(),
                    content: tracked.text.clone().into(),
                });
            }
        }
        match progress.exit {
            Some(exit) => {
                if let Some(volume) = &volume
                    && run.writes_junit(exit)
                {
                    actions.push(Action::WriteFile {
                        pod_uid: tracked.uid.clone(),
                        volume: volume.clone(),
                        path: "junit_01.xml".into(),
                        content: run.junit(elapsed).into(),
                    });
                }
                // The pod update wakes this controller again; it sees the container
                // terminated (or retries after a conflict).
                let mut updated = pod.clone();
                updated["status"] = terminated_status(&pod, &tracked.container, exit, &stamp);
                actions.push(Action::Update(updated));
                tracked.wake = None;
            }
            None => {
                tracked.wake = run
                    .next_change(elapsed)
                    .map(|d| add(started, d).max(add(now, TICK)));
            }
        }
        true
    }
}

impl Controller for ConformanceImage {
    fn name(&self) -> &'static str {
        "conformance-image"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Pod"]
    }

    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action> {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        let mut actions = Vec::new();
        let stamp = now.to_string();
        for pod in world.list("Pod", None, Some(("status.phase", "Pending"))) {
            if is_terminating(&pod) {
                continue;
            }
            let Some((container, image)) = conformance_container(&pod) else {
                continue;
            };
            let key = (namespace(&pod).to_string(), name(&pod).to_string());
            let entry = tracked.entry(key).or_insert_with(|| Tracked {
                uid: uid(&pod).to_string(),
                container: container.clone(),
                image: image.clone(),
                run: None,
                reported: 0,
                text: String::new(),
                ended: false,
                pull_failed_at: None,
                backed_off: false,
                wake: None,
            });
            if entry.uid != uid(&pod) {
                continue;
            }
            let scheduled = str_at(&pod, "spec.nodeName").is_some_and(|n| !n.is_empty());
            if self.behaviour.outcome == E2eOutcome::ImagePullError
                && scheduled
                && entry.pull_failed_at.is_none()
            {
                let mut updated = pod.clone();
                updated["status"] =
                    pull_failed_status(world, &pod, &container, &image, "ErrImagePull", &stamp);
                actions.push(Action::Update(updated));
                actions.push(event(
                    &pod,
                    "Warning",
                    "Failed",
                    format!("Failed to pull image \"{image}\": not found (simulated: the scenario's e2e outcome is image-pull-error)"),
                ));
                entry.pull_failed_at = Some(now);
                entry.wake = Some(add(now, PULL_BACKOFF));
            }
        }
        tracked.retain(|key, t| self.advance(world, key, t, now, &mut actions));
        actions
    }

    fn wake_at(&self) -> Option<jiff::Timestamp> {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        tracked.values().filter_map(|t| t.wake).min()
    }
}

/// Whether the kubelet must leave this pod's start to the image-pull simulation: a container
/// waits for an image that could not be pulled.
pub fn image_pull_failed(pod: &Value) -> bool {
    object::at(pod, "status.containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            matches!(
                s.pointer("/state/waiting/reason").and_then(Value::as_str),
                Some("ErrImagePull" | "ImagePullBackOff")
            )
        })
}

#[cfg(test)]
mod tests;
