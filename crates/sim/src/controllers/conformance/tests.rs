//! The conformance image driven through an in-memory world at chosen times: each outcome's
//! container states, log and result files.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Behaviour, ConformanceImage, conformance_tag};
use crate::controllers::memory::MemoryWorld;
use crate::controllers::pod_lifecycle::PodLifecycle;
use crate::scenario::E2eOutcome;
use crate::world::{Controller, World};

const FAILING: &str =
    "[sig-network] Services should serve a basic endpoint from pods [Conformance]";

fn t(seconds: u64) -> jiff::Timestamp {
    let t0: jiff::Timestamp = "2026-12-03T06:00:00Z".parse().unwrap();
    t0 + jiff::SignedDuration::from_secs(seconds as i64)
}

fn e2e_pod() -> Value {
    let mount = json!([{"name": "results", "mountPath": "/tmp/results"}]);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "e2e", "namespace": "default", "uid": "pod-uid-1"},
        "spec": {
            "nodeName": "n1", "restartPolicy": "Never",
            "volumes": [{"name": "results", "emptyDir": {}}],
            "containers": [
                {"name": "conformance", "image": "mirror.example/k8s/conformance:v1.35.8",
                 "env": [{"name": "E2E_FOCUS", "value": "\\[Conformance\\]"},
                         {"name": "E2E_SKIP", "value": ""},
                         {"name": "E2E_EXTRA_ARGS", "value": "--ginkgo.flake-attempts=2"},
                         {"name": "RESULTS_DIR", "value": "/tmp/results"}],
                 "volumeMounts": mount.clone()},
                {"name": "output", "image": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
                 "command": ["sleep", "infinity"], "volumeMounts": mount},
            ]},
        "status": {"phase": "Pending"},
    })
}

fn world() -> MemoryWorld {
    MemoryWorld::new(vec![
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        e2e_pod(),
    ])
}

fn controllers(outcome: E2eOutcome, failures: &[&str]) -> Vec<Box<dyn Controller>> {
    vec![
        Box::new(ConformanceImage::new(
            Behaviour {
                outcome,
                failures: failures.iter().map(|f| f.to_string()).collect(),
                duration: Duration::from_secs(2),
            },
            "v1.35.8",
        )),
        Box::new(PodLifecycle::default()),
    ]
}

fn settle_at(world: &mut MemoryWorld, controllers: &[Box<dyn Controller>], at: jiff::Timestamp) {
    assert!(
        world.settle(controllers, at, 20).is_some(),
        "controllers settle"
    );
}

fn pod(world: &MemoryWorld) -> Value {
    world.get("Pod", Some("default"), "e2e").unwrap()
}

fn state(world: &MemoryWorld, container: &str) -> Value {
    pod(world)["status"]["containerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == container)
        .unwrap()["state"]
        .clone()
}

fn file(world: &MemoryWorld, path: &str) -> Option<String> {
    world
        .files
        .of_pod("pod-uid-1")
        .get(&("results".to_string(), path.to_string()))
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

#[test]
fn image_names_match_upstream_and_mirrors() {
    assert_eq!(
        conformance_tag("registry.k8s.io/conformance:v1.35.8"),
        Some("v1.35.8")
    );
    assert_eq!(
        conformance_tag("mirror:5000/k8s/conformance-amd64:v1.33.5@sha256:ab"),
        Some("v1.33.5")
    );
    assert_eq!(conformance_tag("registry.k8s.io/conformance"), None);
    assert_eq!(
        conformance_tag("registry.k8s.io/e2e-test-images/agnhost:2.52"),
        None
    );
    assert_eq!(conformance_tag("conformance:v1"), None);
}

#[test]
fn a_passing_run_progresses_with_time_then_leaves_its_results() {
    let mut w = world();
    let c = controllers(E2eOutcome::Pass, &[]);
    // The kubelet starts both containers "now" (the world's clock is the settle time).
    settle_at(&mut w, &c, t(0));
    assert!(state(&w, "conformance")["running"].is_object());
    assert!(c[0].wake_at().is_some(), "the run asks to be woken");
    settle_at(&mut w, &c, t(1));
    let log = w.log("default", "e2e", "conformance").to_string();
    assert!(log.contains("Will run 441 of 7348 specs"), "{log}");
    let done = log.lines().filter(|l| l.starts_with('•')).count();
    assert!(done > 100 && done < 441, "{done} specs half way");
    assert_eq!(file(&w, "e2e.log").as_deref(), Some(log.as_str()));
    assert_eq!(file(&w, "junit_01.xml"), None);
    settle_at(&mut w, &c, t(3));
    let terminated = &state(&w, "conformance")["terminated"];
    assert_eq!(
        (
            terminated["exitCode"].as_i64(),
            terminated["reason"].as_str()
        ),
        (Some(0), Some("Completed"))
    );
    assert!(state(&w, "output")["running"].is_object());
    assert_eq!(pod(&w)["status"]["phase"], "Running");
    let log = w.log("default", "e2e", "conformance");
    assert!(log.contains("SUCCESS! -- 441 Passed | 0 Failed | 0 Pending | 6907 Skipped"));
    assert_eq!(file(&w, "e2e.log").as_deref(), Some(log));
    let junit = file(&w, "junit_01.xml").unwrap();
    assert!(junit.contains("failures=\"0\"") && junit.contains("FlakeAttempts\" value=\"2\""));
    assert_eq!(c[0].wake_at(), None);
}

#[test]
fn a_failing_run_exits_1_naming_the_failure() {
    let mut w = world();
    let c = controllers(E2eOutcome::Fail, &[FAILING]);
    settle_at(&mut w, &c, t(0));
    settle_at(&mut w, &c, t(5));
    assert_eq!(state(&w, "conformance")["terminated"]["exitCode"], 1);
    let junit = file(&w, "junit_01.xml").unwrap();
    assert!(junit.contains(&format!(
        "name=\"[It] {FAILING}\" classname=\"Kubernetes e2e suite\" status=\"failed\""
    )));
    assert!(
        file(&w, "e2e.log")
            .unwrap()
            .contains("FAIL! -- 440 Passed | 1 Failed")
    );
}

#[test]
fn a_crashing_run_exits_2_without_junit() {
    let mut w = world();
    let c = controllers(E2eOutcome::Crash, &[]);
    settle_at(&mut w, &c, t(0));
    settle_at(&mut w, &c, t(5));
    assert_eq!(state(&w, "conformance")["terminated"]["exitCode"], 2);
    assert_eq!(file(&w, "junit_01.xml"), None);
    let log = file(&w, "e2e.log").unwrap();
    assert!(log.contains("panic:") && !log.contains("Ran "), "{log}");
}

#[test]
fn a_hanging_run_never_ends() {
    let mut w = world();
    let c = controllers(E2eOutcome::Hang, &[]);
    settle_at(&mut w, &c, t(0));
    settle_at(&mut w, &c, t(5));
    settle_at(&mut w, &c, t(3600));
    assert!(state(&w, "conformance")["running"].is_object());
    assert_eq!(file(&w, "junit_01.xml"), None);
    assert_eq!(c[0].wake_at(), None, "nothing more will happen");
    assert_eq!(
        file(&w, "e2e.log")
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('•'))
            .count(),
        3
    );
}

#[test]
fn an_image_that_cannot_be_pulled_backs_off_and_never_starts() {
    let mut w = world();
    let c = controllers(E2eOutcome::ImagePullError, &[]);
    settle_at(&mut w, &c, t(0));
    assert_eq!(pod(&w)["status"]["phase"], "Pending");
    assert_eq!(
        state(&w, "conformance")["waiting"]["reason"],
        "ErrImagePull"
    );
    assert!(state(&w, "output")["running"].is_object());
    assert!(
        w.events
            .iter()
            .any(|e| e.reason == "Failed" && e.message.contains("conformance:v1.35.8"))
    );
    settle_at(&mut w, &c, t(2));
    assert_eq!(
        state(&w, "conformance")["waiting"]["reason"],
        "ImagePullBackOff"
    );
    settle_at(&mut w, &c, t(60));
    assert_eq!(pod(&w)["status"]["phase"], "Pending");
    assert_eq!(w.log("default", "e2e", "conformance"), "");
}

#[test]
fn other_pods_are_left_to_the_kubelet() {
    let mut w = MemoryWorld::new(vec![
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job", "namespace": "default"},
               "spec": {"nodeName": "n1", "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
               "status": {"phase": "Pending"}}),
    ]);
    let c = controllers(E2eOutcome::ImagePullError, &[]);
    settle_at(&mut w, &c, t(0));
    assert_eq!(
        w.get("Pod", Some("default"), "job").unwrap()["status"]["phase"],
        "Succeeded"
    );
    assert_eq!(c[0].wake_at(), None);
}
