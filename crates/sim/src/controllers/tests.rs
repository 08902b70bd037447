//! Controller behaviour, driven through an in-memory world until settled. Every scheduler rule
//! and provisioner behaviour has a case that passes and one that fails.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::memory::MemoryWorld;
use super::object::{annotation, condition, condition_true, label, name, str_at};
use super::probe::{DATA_ANNOTATION, PROBE_ANNOTATION};
use crate::scenario::Behaviour;
use crate::world::{Controller, World};

fn now() -> jiff::Timestamp {
    "2026-11-22T08:00:00Z".parse().unwrap()
}

fn controllers() -> Vec<Box<dyn Controller>> {
    let behaviours = BTreeMap::from([
        ("network".to_string(), Behaviour::Network),
        ("local".to_string(), Behaviour::Local),
        ("ephemeral".to_string(), Behaviour::Ephemeral),
        ("never".to_string(), Behaviour::Never),
        ("network-now".to_string(), Behaviour::Network),
    ]);
    super::all(
        behaviours,
        super::connect::Rules {
            enforce_network_policies: true,
            ..Default::default()
        },
    )
}

fn settle(world: &mut MemoryWorld) {
    assert!(
        world.settle(&controllers(), now(), 50).is_some(),
        "controllers do not settle"
    );
}

fn node(name: &str, zone: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": format!("10.0.0.{}", name.len())}]},
    })
}

fn not_ready(mut n: Value) -> Value {
    n["status"]["conditions"][0]["status"] = json!("False");
    n
}

fn tainted(mut n: Value, key: &str, effect: &str) -> Value {
    n["spec"]["taints"] = json!([{"key": key, "effect": effect}]);
    n
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]},
        "status": {"phase": "Pending"},
    })
}

fn class(name: &str, mode: &str, default: bool) -> Value {
    let mut c = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {}},
        "provisioner": "csi.example.org", "reclaimPolicy": "Delete", "volumeBindingMode": mode,
    });
    if default {
        c["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] = json!("true");
    }
    c
}

fn claim(name: &str, class: Option<&str>) -> Value {
    let mut c = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Pending"},
    });
    if let Some(class) = class {
        c["spec"]["storageClassName"] = json!(class);
    }
    c
}

fn with_claim(mut p: Value, claim: &str) -> Value {
    p["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]);
    p["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    p
}

fn probe(name: &str, kind: &str, claim: &str, marker: &str) -> Value {
    let mut p = with_claim(pod(name), claim);
    p["metadata"]["annotations"] = json!({PROBE_ANNOTATION: kind});
    p["spec"]["restartPolicy"] = json!("Never");
    p["spec"]["containers"][0]["env"] = json!([{"name": "MARKER", "value": marker}, {"name": "MARKER_FILE", "value": "/data/probe/marker"}]);
    p
}

fn on_hosts(mut p: Value, op: &str, hosts: &[&str]) -> Value {
    p["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": op, "values": hosts}]}]}}});
    p
}

fn world(objects: Vec<Value>) -> MemoryWorld {
    MemoryWorld::new(objects)
}

fn get(w: &MemoryWorld, kind: &str, ns: Option<&str>, n: &str) -> Value {
    w.get(kind, ns, n)
        .unwrap_or_else(|| panic!("{kind} {n} missing"))
}

fn pod_of(w: &MemoryWorld, n: &str) -> Value {
    get(w, "Pod", Some("default"), n)
}

fn node_of(w: &MemoryWorld, n: &str) -> Option<String> {
    str_at(&pod_of(w, n), "spec.nodeName").map(str::to_string)
}

fn phase_of(w: &MemoryWorld, n: &str) -> String {
    str_at(&pod_of(w, n), "status.phase")
        .unwrap_or("")
        .to_string()
}

fn events(w: &MemoryWorld, reason: &str) -> usize {
    w.events.iter().filter(|e| e.reason == reason).count()
}

// ---- scheduler ----

#[test]
fn scheduler_binds_to_ready_node_and_pod_runs() {
    let mut w = world(vec![node("a", "z1"), not_ready(node("bb", "z1")), pod("p")]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("a"));
    let p = pod_of(&w, "p");
    assert_eq!(str_at(&p, "status.phase"), Some("Running"));
    assert!(str_at(&p, "status.podIP").is_some());
    assert_eq!(str_at(&p, "status.hostIP"), Some("10.0.0.1"));
    assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
    assert!(condition_true(&p, "Ready"));
}

#[test]
fn no_ready_node_leaves_pod_pending_with_one_event() {
    let mut w = world(vec![not_ready(node("a", "z1")), pod("p")]);
    settle(&mut w);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    let p = pod_of(&w, "p");
    assert_eq!(str_at(&p, "status.phase"), Some("Pending"));
    let c = condition(&p, "PodScheduled").unwrap();
    assert_eq!(c["status"], "False");
    assert_eq!(c["reason"], "Unschedulable");
    assert_eq!(
        c["message"],
        "0/1 nodes are available: 1 node(s) were not ready."
    );
    assert_eq!(
        events(&w, "FailedScheduling"),
        1,
        "the event is recorded once, not every round"
    );
}

#[test]
fn cordoned_node_is_skipped() {
    let mut cordoned = node("a", "z1");
    cordoned["spec"]["unschedulable"] = json!(true);
    let mut w = world(vec![cordoned.clone(), node("b", "z1"), pod("p")]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("b"));
    let mut w = world(vec![cordoned, pod("p")]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
}

#[test]
fn node_selector_is_honoured() {
    let mut p = pod("p");
    p["spec"]["nodeSelector"] = json!({"topology.kubernetes.io/zone": "z2"});
    let mut w = world(vec![node("a", "z1"), node("b", "z2"), p.clone()]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("b"));
    let mut w = world(vec![node("a", "z1"), p]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    assert!(w.events.iter().any(|e| {
        e.message
            .contains("didn't match Pod's node affinity/selector")
    }));
}

#[test]
fn hostname_affinity_in_and_not_in() {
    let mut w = world(vec![
        node("a", "z1"),
        node("b", "z1"),
        on_hosts(pod("p"), "In", &["b"]),
    ]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("b"));
    let mut w = world(vec![
        node("a", "z1"),
        node("b", "z1"),
        on_hosts(pod("p"), "NotIn", &["a", "b"]),
    ]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    let refusals: Vec<_> = w
        .events
        .iter()
        .filter(|e| e.reason == "FailedScheduling")
        .collect();
    assert_eq!(refusals.len(), 1, "{:?}", w.events);
    assert_eq!(
        (refusals[0].kind.as_str(), refusals[0].name.as_str()),
        ("Pod", "p")
    );
    assert_eq!(refusals[0].event_type, "Warning");
    assert_eq!(
        refusals[0].message,
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
    );
    let scheduled = condition(&pod_of(&w, "p"), "PodScheduled").cloned();
    assert_eq!(
        scheduled.as_ref().map(|c| (&c["status"], &c["reason"])),
        Some((&json!("False"), &json!("Unschedulable")))
    );
}

#[test]
fn zone_affinity_in_and_exists() {
    let zone = |op: &str, values: &[&str]| {
        let mut p = pod("p");
        p["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": op, "values": values}]}]}}});
        p
    };
    let mut w = world(vec![node("a", "z1"), node("b", "z2"), zone("In", &["z2"])]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("b"));
    let mut w = world(vec![node("a", "z1"), zone("In", &["z3"])]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    let mut bare = node("c", "z1");
    bare["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("topology.kubernetes.io/zone");
    let mut w = world(vec![bare.clone(), zone("Exists", &[])]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None, "no node has a zone");
    let mut w = world(vec![bare, node("a", "z1"), zone("Exists", &[])]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("a"));
}

#[test]
fn control_plane_taint_needs_a_toleration() {
    let cp = tainted(
        node("cp", "z1"),
        "node-role.kubernetes.io/control-plane",
        "NoSchedule",
    );
    let mut w = world(vec![cp.clone(), pod("p")]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    assert!(w.events.iter().any(|e| {
        e.message
            .contains("untolerated taint {node-role.kubernetes.io/control-plane: }")
    }));
    let mut tolerant = pod("p");
    tolerant["spec"]["tolerations"] = json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]);
    let mut w = world(vec![cp, tolerant]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("cp"));
}

#[test]
fn no_execute_taint_blocks_and_prefer_no_schedule_does_not() {
    let mut w = world(vec![tainted(node("a", "z1"), "gpu", "NoExecute"), pod("p")]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    let mut w = world(vec![
        tainted(node("a", "z1"), "gpu", "PreferNoSchedule"),
        pod("p"),
    ]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p").as_deref(), Some("a"));
}

#[test]
fn pods_spread_over_nodes_with_fewest_pods() {
    let mut objects = vec![node("a", "z1"), node("b", "z2"), node("c", "z3")];
    objects.extend((0..6).map(|i| pod(&format!("p{i}"))));
    let mut w = world(objects);
    settle(&mut w);
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        *per_node
            .entry(node_of(&w, &format!("p{i}")).unwrap())
            .or_default() += 1;
    }
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2],
        "{per_node:?}"
    );
}

#[test]
fn pod_with_missing_claim_is_unschedulable() {
    let mut w = world(vec![node("a", "z1"), with_claim(pod("p"), "nope")]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    assert!(w.events.iter().any(|e| {
        e.message
            .contains("persistentvolumeclaim \"nope\" not found")
    }));
}

// ---- volume provisioner ----

#[test]
fn network_binds_without_node_affinity() {
    let mut w = world(vec![
        node("a", "z1"),
        class("network-now", "Immediate", false),
        claim("c", Some("network-now")),
    ]);
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(str_at(&c, "status.phase"), Some("Bound"));
    let pv = get(
        &w,
        "PersistentVolume",
        None,
        str_at(&c, "spec.volumeName").unwrap(),
    );
    assert_eq!(str_at(&pv, "spec.csi.driver"), Some("csi.example.org"));
    assert!(pv["spec"].get("nodeAffinity").is_none());
    assert_eq!(pv["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(str_at(&pv, "spec.claimRef.name"), Some("c"));
    assert_eq!(events(&w, "ProvisioningSucceeded"), 1);
}

#[test]
fn never_stays_pending_with_one_warning() {
    let mut w = world(vec![
        node("a", "z1"),
        class("never", "Immediate", false),
        claim("c", Some("never")),
    ]);
    settle(&mut w);
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(str_at(&c, "status.phase"), Some("Pending"));
    assert!(w.list("PersistentVolume", None, None).is_empty());
    assert_eq!(events(&w, "ProvisioningFailed"), 1);
    assert_eq!(
        w.events
            .iter()
            .find(|e| e.reason == "ProvisioningFailed")
            .unwrap()
            .event_type,
        "Warning"
    );
}

#[test]
fn wait_for_first_consumer_binds_only_with_a_pod() {
    let mut w = world(vec![
        node("a", "z1"),
        class("network", "WaitForFirstConsumer", false),
        claim("c", Some("network")),
    ]);
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(
        str_at(&c, "status.phase"),
        Some("Pending"),
        "no consumer yet"
    );
    w.create_at(with_claim(pod("p"), "c"), now());
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(str_at(&c, "status.phase"), Some("Bound"));
    assert_eq!(
        annotation(&c, "volume.kubernetes.io/selected-node"),
        Some("a")
    );
    assert_eq!(phase_of(&w, "p"), "Running");
}

#[test]
fn immediate_claim_that_cannot_bind_blocks_its_pod() {
    let mut w = world(vec![
        node("a", "z1"),
        class("never", "Immediate", false),
        claim("c", Some("never")),
        with_claim(pod("p"), "c"),
    ]);
    settle(&mut w);
    assert_eq!(node_of(&w, "p"), None);
    assert!(w.events.iter().any(|e| {
        e.message
            .contains("unbound immediate PersistentVolumeClaims")
    }));
}

#[test]
fn local_volume_pins_its_pods_to_one_node() {
    let mut w = world(vec![
        node("a", "z1"),
        node("b", "z1"),
        class("local", "WaitForFirstConsumer", false),
        claim("c", Some("local")),
        on_hosts(with_claim(pod("first"), "c"), "In", &["b"]),
    ]);
    settle(&mut w);
    assert_eq!(node_of(&w, "first").as_deref(), Some("b"));
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    let pv = get(
        &w,
        "PersistentVolume",
        None,
        str_at(&c, "spec.volumeName").unwrap(),
    );
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"],
        json!(["b"])
    );
    assert!(str_at(&pv, "spec.local.path").is_some());
    // Pass: a second consumer goes to the pinned node even though it has more pods.
    w.create_at(with_claim(pod("second"), "c"), now());
    settle(&mut w);
    assert_eq!(node_of(&w, "second").as_deref(), Some("b"));
    // Fail: a consumer that must avoid that node cannot be placed.
    w.create_at(
        on_hosts(with_claim(pod("elsewhere"), "c"), "NotIn", &["b"]),
        now(),
    );
    settle(&mut w);
    assert_eq!(node_of(&w, "elsewhere"), None);
    assert!(
        w.events
            .iter()
            .any(|e| e.message.contains("volume node affinity conflict"))
    );
}

#[test]
fn ephemeral_binds_like_network() {
    let mut w = world(vec![
        node("a", "z1"),
        class("ephemeral", "Immediate", false),
        claim("c", Some("ephemeral")),
    ]);
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    let pv = get(
        &w,
        "PersistentVolume",
        None,
        str_at(&c, "spec.volumeName").unwrap(),
    );
    assert!(pv["spec"].get("nodeAffinity").is_none());
    assert_eq!(
        annotation(&pv, "sim.scs-kaas.io/behaviour"),
        Some("ephemeral")
    );
}

#[test]
fn claim_without_class_gets_the_default() {
    let mut w = world(vec![
        class("network-now", "Immediate", true),
        class("never", "Immediate", false),
        claim("c", None),
    ]);
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(str_at(&c, "spec.storageClassName"), Some("network-now"));
    assert_eq!(str_at(&c, "status.phase"), Some("Bound"));
}

#[test]
fn claim_without_class_and_no_default_stays_pending() {
    let mut w = world(vec![
        class("network-now", "Immediate", false),
        claim("c", None),
    ]);
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(str_at(&c, "spec.storageClassName"), None);
    assert_eq!(str_at(&c, "status.phase"), Some("Pending"));
}

#[test]
fn newest_default_class_wins() {
    let mut older = class("network-now", "Immediate", true);
    older["metadata"]["annotations"] =
        json!({"storageclass.beta.kubernetes.io/is-default-class": "true"});
    let mut w = world(vec![older]);
    w.create_at(
        class("ephemeral", "Immediate", true),
        "2026-11-22T09:00:00Z".parse().unwrap(),
    );
    w.create_at(claim("c", None), now());
    settle(&mut w);
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    assert_eq!(str_at(&c, "spec.storageClassName"), Some("ephemeral"));
}

#[test]
fn unknown_class_warns() {
    let mut w = world(vec![claim("c", Some("gold"))]);
    settle(&mut w);
    assert!(
        w.events
            .iter()
            .any(|e| e.reason == "ProvisioningFailed" && e.message.contains("\"gold\" not found"))
    );
}

#[test]
fn reclaim_delete_removes_volume_and_retain_releases_it() {
    let mut retain = class("network", "Immediate", false);
    retain["reclaimPolicy"] = json!("Retain");
    let mut w = world(vec![
        class("network-now", "Immediate", false),
        retain,
        claim("gone", Some("network-now")),
        claim("kept", Some("network")),
    ]);
    settle(&mut w);
    assert_eq!(w.list("PersistentVolume", None, None).len(), 2);
    let gone = str_at(
        &get(&w, "PersistentVolumeClaim", Some("default"), "gone"),
        "spec.volumeName",
    )
    .unwrap()
    .to_string();
    let kept = str_at(
        &get(&w, "PersistentVolumeClaim", Some("default"), "kept"),
        "spec.volumeName",
    )
    .unwrap()
    .to_string();
    w.remove("PersistentVolumeClaim", Some("default"), "gone");
    w.remove("PersistentVolumeClaim", Some("default"), "kept");
    settle(&mut w);
    assert!(w.get("PersistentVolume", None, &gone).is_none());
    assert_eq!(
        str_at(&get(&w, "PersistentVolume", None, &kept), "status.phase"),
        Some("Released")
    );
}

#[test]
fn expansion_follows_the_class() {
    let mut expandable = class("network-now", "Immediate", false);
    expandable["allowVolumeExpansion"] = json!(true);
    let mut w = world(vec![
        expandable,
        class("network", "Immediate", false),
        claim("big", Some("network-now")),
        claim("fixed", Some("network")),
    ]);
    settle(&mut w);
    for n in ["big", "fixed"] {
        let mut c = get(&w, "PersistentVolumeClaim", Some("default"), n);
        c["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        w.replace(c);
    }
    settle(&mut w);
    let big = get(&w, "PersistentVolumeClaim", Some("default"), "big");
    assert_eq!(str_at(&big, "status.capacity.storage"), Some("2Gi"));
    let fixed = get(&w, "PersistentVolumeClaim", Some("default"), "fixed");
    assert_eq!(str_at(&fixed, "status.capacity.storage"), Some("1Gi"));
}

// ---- probes ----

fn probe_world(class_name: &str) -> MemoryWorld {
    world(vec![
        node("a", "z1"),
        node("b", "z2"),
        class(class_name, "WaitForFirstConsumer", true),
        claim("c", Some(class_name)),
    ])
}

fn run_probe(w: &mut MemoryWorld, p: Value) -> (String, String) {
    let n = name(&p).to_string();
    w.create_at(p, now());
    settle(w);
    (phase_of(w, &n), w.log("default", &n, "main").to_string())
}

#[test]
fn network_volume_keeps_data_across_nodes() {
    let mut w = probe_world("network");
    let (phase, log) = run_probe(
        &mut w,
        on_hosts(probe("writer", "write-marker", "c", "m-123"), "In", &["a"]),
    );
    assert_eq!(phase, "Succeeded", "{log}");
    assert!(log.contains("wrote marker to /data/probe/marker"));
    let (phase, log) = run_probe(
        &mut w,
        on_hosts(probe("reader", "read-marker", "c", "m-123"), "In", &["b"]),
    );
    assert_eq!(phase, "Succeeded", "{log}");
    assert!(log.contains("m-123"));
}

#[test]
fn ephemeral_volume_loses_data_on_another_node() {
    let mut w = probe_world("ephemeral");
    run_probe(
        &mut w,
        on_hosts(probe("writer", "write-marker", "c", "m-1"), "In", &["a"]),
    );
    let (phase, log) = run_probe(
        &mut w,
        on_hosts(probe("elsewhere", "read-marker", "c", "m-1"), "In", &["b"]),
    );
    assert_eq!(phase, "Failed");
    assert!(log.contains("marker missing"), "{log}");
    let (phase, log) = run_probe(
        &mut w,
        on_hosts(probe("same-node", "read-marker", "c", "m-1"), "In", &["a"]),
    );
    assert_eq!(phase, "Succeeded", "{log}");
}

#[test]
fn local_volume_readers_land_on_the_writers_node() {
    let mut w = probe_world("local");
    run_probe(
        &mut w,
        on_hosts(probe("writer", "write-marker", "c", "m-2"), "In", &["b"]),
    );
    let (phase, log) = run_probe(&mut w, probe("reader", "read-marker", "c", "m-2"));
    assert_eq!(node_of(&w, "reader").as_deref(), Some("b"));
    assert_eq!(phase, "Succeeded", "{log}");
}

#[test]
fn reading_without_a_write_fails() {
    let mut w = probe_world("network");
    let (phase, log) = run_probe(&mut w, probe("reader", "read-marker", "c", "m-3"));
    assert_eq!(phase, "Failed");
    assert!(log.contains("marker missing: /data/probe/marker"), "{log}");
}

#[test]
fn reading_a_different_marker_fails() {
    let mut w = probe_world("network");
    run_probe(&mut w, probe("writer", "write-marker", "c", "old"));
    let (phase, log) = run_probe(&mut w, probe("reader", "read-marker", "c", "new"));
    assert_eq!(phase, "Failed");
    assert!(log.contains("mismatch"), "{log}");
}

#[test]
fn volume_data_survives_a_controller_restart() {
    let mut w = probe_world("network");
    run_probe(&mut w, probe("writer", "write-marker", "c", "m-4"));
    let c = get(&w, "PersistentVolumeClaim", Some("default"), "c");
    let pv = get(
        &w,
        "PersistentVolume",
        None,
        str_at(&c, "spec.volumeName").unwrap(),
    );
    assert!(annotation(&pv, DATA_ANNOTATION).unwrap().contains("m-4"));
    // A fresh world holding only what the server stores (objects) still knows the data.
    let objects: Vec<Value> = w.objects().cloned().collect();
    let mut restarted = MemoryWorld::new(objects);
    let (phase, _) = run_probe(&mut restarted, probe("reader", "read-marker", "c", "m-4"));
    assert_eq!(phase, "Succeeded");
}

#[test]
fn probe_without_marker_file_fails_with_a_reason() {
    let mut p = probe("bad", "write-marker", "c", "x");
    p["spec"]["containers"][0]["env"] = json!([{"name": "MARKER", "value": "x"}]);
    let mut w = probe_world("network");
    let (phase, log) = run_probe(&mut w, p);
    assert_eq!(phase, "Failed");
    assert!(log.contains("MARKER_FILE is not set"), "{log}");
}

// ---- pod lifecycle and workloads ----

#[test]
fn run_to_completion_pods_succeed_and_others_keep_running() {
    let mut job_like = pod("once");
    job_like["spec"]["restartPolicy"] = json!("Never");
    let mut w = world(vec![node("a", "z1"), job_like, pod("server")]);
    settle(&mut w);
    assert_eq!(phase_of(&w, "once"), "Succeeded");
    assert_eq!(
        pod_of(&w, "once")["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        0
    );
    assert_eq!(phase_of(&w, "server"), "Running");
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "main", "image": image}]}}},
    })
}

fn web_pods(w: &MemoryWorld) -> Vec<Value> {
    w.list("Pod", Some("default"), None)
        .into_iter()
        .filter(|p| label(p, "app") == Some("web"))
        .collect()
}

#[test]
fn deployment_becomes_available_and_scales() {
    let mut w = world(vec![
        node("a", "z1"),
        node("b", "z2"),
        deployment(3, "registry.k8s.io/pause:3.10"),
    ]);
    settle(&mut w);
    let d = get(&w, "Deployment", Some("default"), "web");
    assert!(condition_true(&d, "Available"), "{d}");
    assert_eq!(
        condition(&d, "Progressing").unwrap()["reason"],
        "NewReplicaSetAvailable"
    );
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(d["status"]["updatedReplicas"], 3);
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    let pods = web_pods(&w);
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| str_at(p, "status.phase") == Some("Running"))
    );
    assert!(pods.iter().all(|p| label(p, "pod-template-hash").is_some()));
    // Scale down: pods are deleted.
    let mut d = get(&w, "Deployment", Some("default"), "web");
    d["spec"]["replicas"] = json!(1);
    w.replace(d);
    settle(&mut w);
    assert_eq!(web_pods(&w).len(), 1);
    assert_eq!(
        get(&w, "Deployment", Some("default"), "web")["status"]["replicas"],
        1
    );
}

#[test]
fn deployment_without_nodes_is_not_available() {
    let mut w = world(vec![deployment(2, "registry.k8s.io/pause:3.10")]);
    settle(&mut w);
    let d = get(&w, "Deployment", Some("default"), "web");
    assert!(!condition_true(&d, "Available"));
    assert_eq!(
        condition(&d, "Available").unwrap()["reason"],
        "MinimumReplicasUnavailable"
    );
}

#[test]
fn new_template_rolls_out_a_new_replica_set() {
    let mut w = world(vec![
        node("a", "z1"),
        deployment(2, "registry.k8s.io/pause:3.10"),
    ]);
    settle(&mut w);
    let mut d = get(&w, "Deployment", Some("default"), "web");
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("registry.k8s.io/pause:3.11");
    w.replace(d);
    settle(&mut w);
    let sets = w.list("ReplicaSet", Some("default"), None);
    assert_eq!(sets.len(), 2);
    let pods = web_pods(&w);
    assert_eq!(pods.len(), 2);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.11")
    );
    assert!(condition_true(
        &get(&w, "Deployment", Some("default"), "web"),
        "Available"
    ));
}

#[test]
fn deleting_a_deployment_collects_its_replica_sets_and_pods() {
    let mut w = world(vec![
        node("a", "z1"),
        deployment(2, "registry.k8s.io/pause:3.10"),
        pod("bystander"),
    ]);
    settle(&mut w);
    w.remove("Deployment", Some("default"), "web");
    settle(&mut w);
    assert!(w.list("ReplicaSet", None, None).is_empty());
    assert!(web_pods(&w).is_empty());
    assert_eq!(phase_of(&w, "bystander"), "Running", "unowned pods stay");
}

fn job(name: &str, template_pod: Value, backoff: i64) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"backoffLimit": backoff, "template": {"metadata": template_pod["metadata"].clone(),
                                                        "spec": template_pod["spec"].clone()}},
    })
}

#[test]
fn job_completes() {
    let mut template = pod("ignored");
    template["spec"]["restartPolicy"] = json!("Never");
    template["metadata"] = json!({"labels": {"app": "batch"}});
    let mut w = world(vec![node("a", "z1"), job("once", template, 6)]);
    settle(&mut w);
    let j = get(&w, "Job", Some("default"), "once");
    assert!(condition_true(&j, "Complete"), "{j}");
    assert_eq!(j["status"]["succeeded"], 1);
    assert!(j["status"]["completionTime"].is_string());
    let pods = w.list("Pod", Some("default"), None);
    assert_eq!(pods.len(), 1);
    assert_eq!(label(&pods[0], "job-name"), Some("once"));
}

#[test]
fn job_fails_after_backoff_limit() {
    // A read probe on a fresh volume fails every time.
    let template = probe("ignored", "read-marker", "c", "never-written");
    let mut w = probe_world("network");
    w.create_at(job("reader", template, 1), now());
    settle(&mut w);
    let j = get(&w, "Job", Some("default"), "reader");
    assert!(condition_true(&j, "Failed"), "{j}");
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(j["status"]["failed"], 2);
    assert!(!condition_true(&j, "Complete"));
}

fn netexec_server(name: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "server"}},
        "spec": {"containers": [{"name": "netexec", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                                  "command": ["/agnhost", "netexec", "--http-port=8080"]}]},
        "status": {"phase": "Pending"},
    })
}

fn connect_client(name: &str, ns: &str, target: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "client"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main",
                  "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                  "command": ["/agnhost", "connect", target, "--timeout=3s"]}]},
        "status": {"phase": "Pending"},
    })
}

fn namespace_object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})
}

/// A world with a running netexec server in `a` and clients possible in `b`; returns the
/// server's address.
fn network_world() -> (MemoryWorld, String) {
    let mut w = world(vec![
        node("n1", "z1"),
        namespace_object("a"),
        namespace_object("b"),
        netexec_server("server", "a"),
    ]);
    settle(&mut w);
    let server = get(&w, "Pod", Some("a"), "server");
    assert_eq!(str_at(&server, "status.phase"), Some("Running"));
    let ip = str_at(&server, "status.podIP").unwrap().to_string();
    (w, ip)
}

fn connect(
    w: &mut MemoryWorld,
    controllers: &[Box<dyn Controller>],
    client: &str,
    target: &str,
) -> (String, String) {
    w.create_at(connect_client(client, "b", target), now());
    assert!(w.settle(controllers, now(), 50).is_some());
    let p = get(w, "Pod", Some("b"), client);
    (
        str_at(&p, "status.phase").unwrap_or("").to_string(),
        w.log("b", client, "main").to_string(),
    )
}

#[test]
fn connect_probes_reach_listeners_and_obey_enforced_policies() {
    let (mut w, ip) = network_world();
    let enforcing = controllers();
    assert_eq!(
        connect(&mut w, &enforcing, "ok", &format!("{ip}:8080")),
        ("Succeeded".into(), String::new())
    );
    assert_eq!(
        connect(&mut w, &enforcing, "closed", &format!("{ip}:9999")),
        ("Failed".into(), "REFUSED\n".into())
    );
    assert_eq!(
        connect(&mut w, &enforcing, "nobody", "10.255.255.254:8080"),
        ("Failed".into(), "TIMEOUT\n".into())
    );
    w.create_at(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "deny", "namespace": "a"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        now(),
    );
    assert_eq!(
        connect(&mut w, &enforcing, "denied", &format!("{ip}:8080")),
        ("Failed".into(), "TIMEOUT\n".into())
    );
    w.create_at(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "allow-b", "namespace": "a"},
               "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}],
                                     "ports": [{"port": 8080}]}]}}),
        now(),
    );
    assert_eq!(
        connect(&mut w, &enforcing, "allowed", &format!("{ip}:8080")).0,
        "Succeeded"
    );
    // A plugin that ignores policies lets the same connection through.
    let ignoring = super::all(BTreeMap::new(), super::connect::Rules::default());
    let (mut w, ip) = network_world();
    w.create_at(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "deny", "namespace": "a"},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        now(),
    );
    assert_eq!(
        connect(&mut w, &ignoring, "ignored", &format!("{ip}:8080")).0,
        "Succeeded"
    );
    // Bad arguments fail like agnhost does.
    let (phase, log) = connect(&mut w, &ignoring, "bad", "no-port");
    assert_eq!(phase, "Failed");
    assert!(log.starts_with("UNKNOWN: address no-port"), "{log}");
}
