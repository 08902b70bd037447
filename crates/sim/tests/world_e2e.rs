//! The simulated world end to end: the shipped `compliant` scenario served over HTTPS, driven
//! through a real `kube` client. A Deployment becomes Available, a claim without a class gets the
//! default class and binds once a pod uses it, probe pods carry a marker across nodes, scenario
//! objects' owner references carry their owners' uids (so deletion cascades), and the
//! scheduler's and provisioner's warning events can be read back through the API.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, LogParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::wait::{Condition, await_condition};
use serde_json::json;

use scs_kaas_sim::server::Options;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn start_compliant() -> (scs_kaas_sim::server::RunningSim, kube::Client) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/compliant.yaml");
    let config = scs_kaas_sim::scenario::load(&path).expect("compliant scenario loads");
    let sim = common::start_config(config, Options::default()).await;
    let client = common::client(&sim, "admin").await;
    (sim, client)
}

async fn wait<K, C>(api: &Api<K>, name: &str, cond: C) -> K
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    C: Condition<K>,
{
    tokio::time::timeout(TIMEOUT, await_condition(api.clone(), name, cond))
        .await
        .unwrap_or_else(|_| panic!("{name} did not reach the condition in time"))
        .expect("watch works")
        .expect("object exists")
}

fn available() -> impl Condition<Deployment> {
    |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
            })
    }
}

fn pod_phase(phase: &'static str) -> impl Condition<Pod> {
    move |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some(phase)
    }
}

fn finished() -> impl Condition<Pod> {
    |p: Option<&Pod>| {
        matches!(
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    }
}

#[tokio::test]
async fn deployment_becomes_available() {
    let (sim, client) = start_compliant().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}]}}},
    }))
    .unwrap();
    api.create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let done = wait(&api, "web", available()).await;
    let status = done.status.unwrap();
    assert_eq!(status.ready_replicas, Some(3));
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 3);
    for pod in &list.items {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap();
        assert!(
            node.starts_with("worker-"),
            "control-plane nodes are tainted: {node}"
        );
    }
    // The scenario's own workloads were not disturbed at start.
    let system: Api<Deployment> = Api::namespaced(sim_client(&sim).await, "kube-system");
    let coredns = system.get("coredns").await.unwrap();
    assert_eq!(coredns.status.and_then(|s| s.available_replicas), Some(2));
    let sets: Api<ReplicaSet> = Api::namespaced(sim_client(&sim).await, "kube-system");
    let dns = sets
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert_eq!(dns.items.len(), 1, "no second rollout at start");
    let system_pods: Api<Pod> = Api::namespaced(sim_client(&sim).await, "kube-system");
    let dns_pods = system_pods
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert_eq!(
        dns_pods.items.len(),
        2,
        "the scenario's pods were kept, not replaced"
    );
    sim.shutdown().await;
}

async fn sim_client(sim: &scs_kaas_sim::server::RunningSim) -> kube::Client {
    common::client(sim, "admin").await
}

fn claim(name: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap()
}

fn probe(name: &str, kind: &str, not_on: Option<&str>) -> Pod {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": {"scs-kaas.io/probe": kind}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "probe", "image": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
                            "env": [{"name": "MARKER", "value": "marker-42"},
                                    {"name": "MARKER_FILE", "value": "/data/marker"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    });
    if let Some(node) = not_on {
        pod["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": [node]}]}]}}});
    }
    serde_json::from_value(pod).unwrap()
}

#[tokio::test]
async fn claim_binds_to_the_default_class_and_carries_data_across_nodes() {
    let (sim, client) = start_compliant().await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    claims
        .create(&PostParams::default(), &claim("data"))
        .await
        .unwrap();
    pods.create(
        &PostParams::default(),
        &probe("writer", "write-marker", None),
    )
    .await
    .unwrap();
    let bound = wait(&claims, "data", |c: Option<&PersistentVolumeClaim>| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some("Bound")
    })
    .await;
    assert_eq!(
        bound
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref()),
        Some("network")
    );
    let writer = wait(&pods, "writer", pod_phase("Succeeded")).await;
    let writer_node = writer.spec.unwrap().node_name.unwrap();
    pods.create(
        &PostParams::default(),
        &probe("reader", "read-marker", Some(&writer_node)),
    )
    .await
    .unwrap();
    let reader = wait(&pods, "reader", finished()).await;
    let log = pods.logs("reader", &LogParams::default()).await.unwrap();
    assert_eq!(
        reader.status.unwrap().phase.as_deref(),
        Some("Succeeded"),
        "{log}"
    );
    assert_ne!(
        reader.spec.unwrap().node_name.as_deref(),
        Some(writer_node.as_str())
    );
    assert!(log.contains("marker-42"), "{log}");
    sim.shutdown().await;
}

#[tokio::test]
async fn scenario_owner_references_carry_the_owners_uids_and_deletion_cascades() {
    let (sim, client) = start_compliant().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "kube-system");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let coredns = deployments.get("coredns").await.unwrap();
    let deployment_uid = coredns.metadata.uid.clone().unwrap();
    let dns_sets = sets
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert_eq!(dns_sets.items.len(), 1);
    let rs = &dns_sets.items[0];
    let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("Deployment", "coredns", deployment_uid.as_str()),
        "the ReplicaSet's owner reference names the Deployment's uid"
    );
    let rs_uid = rs.metadata.uid.clone().unwrap();
    let dns_pods = pods
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert_eq!(dns_pods.items.len(), 2);
    for pod in &dns_pods.items {
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.uid, rs_uid, "{:?}", pod.metadata.name);
    }

    // Deleting the Deployment removes its ReplicaSet and pods as part of the delete (by uid),
    // so they are gone when the call returns.
    deployments
        .delete("coredns", &Default::default())
        .await
        .unwrap();
    let left_sets = sets
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert!(left_sets.items.is_empty(), "{:?}", left_sets.items);
    let left_pods = pods
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert!(left_pods.items.is_empty(), "{:?}", left_pods.items);
    // Other workloads of the namespace are untouched.
    assert!(deployments.get("metrics-server").await.is_ok());
    let metrics = pods
        .list(&ListParams::default().labels("k8s-app=metrics-server"))
        .await
        .unwrap();
    assert_eq!(metrics.items.len(), 1);
    sim.shutdown().await;
}

/// Waits for an event about `name` with `reason`, watching with a field selector, then checks
/// that a plain list with the same selector returns it too.
async fn event_about(client: &kube::Client, name: &str, reason: &str) -> Event {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let selector = format!("involvedObject.name={name}");
    let wanted = |e: &Event| e.reason.as_deref() == Some(reason);
    let found = tokio::time::timeout(TIMEOUT, async {
        let mut stream = events
            .watch(&WatchParams::default().fields(&selector), "0")
            .await
            .expect("the watch starts")
            .boxed();
        while let Some(event) = stream.try_next().await.expect("the watch works") {
            if let WatchEvent::Added(e) | WatchEvent::Modified(e) = event
                && wanted(&e)
            {
                return e;
            }
        }
        panic!("the watch ended without a {reason} event about {name}");
    })
    .await
    .unwrap_or_else(|_| panic!("no {reason} event about {name} in time"));
    let listed = events
        .list(&ListParams::default().fields(&selector))
        .await
        .unwrap();
    assert!(
        listed.items.iter().any(wanted),
        "the list with {selector} lacks the {reason} event"
    );
    assert!(
        listed
            .items
            .iter()
            .all(|e| e.involved_object.name.as_deref() == Some(name)),
        "the field selector keeps only events about {name}"
    );
    found
}

#[tokio::test]
async fn scheduler_and_provisioner_events_are_served() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/storage-never-binds.yaml");
    let config = scs_kaas_sim::scenario::load(&path).expect("the scenario loads");
    let sim = common::start_config(config, Options::default()).await;
    let client = common::client(&sim, "admin").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");

    // A pod no node can take: FailedScheduling, on the pod.
    let nowhere: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nowhere"},
        "spec": {"nodeSelector": {"topology.kubernetes.io/zone": "zone-x"},
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &nowhere).await.unwrap();
    let event = event_about(&client, "nowhere", "FailedScheduling").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.involved_object.kind.as_deref(), Some("Pod"));
    assert!(
        event
            .message
            .as_deref()
            .is_some_and(|m| m.contains("didn't match Pod's node affinity/selector")),
        "{:?}",
        event.message
    );

    // A claim of the never-provisioning class, consumed by a pod: ProvisioningFailed, on the claim.
    claims
        .create(&PostParams::default(), &claim("data"))
        .await
        .unwrap();
    pods.create(
        &PostParams::default(),
        &probe("writer", "write-marker", None),
    )
    .await
    .unwrap();
    let event = event_about(&client, "data", "ProvisioningFailed").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.involved_object.kind.as_deref(),
        Some("PersistentVolumeClaim")
    );
    assert!(
        event
            .message
            .as_deref()
            .is_some_and(|m| m.contains("never provisions")),
        "{:?}",
        event.message
    );
    assert_eq!(
        claims
            .get("data")
            .await
            .unwrap()
            .status
            .and_then(|s| s.phase),
        Some("Pending".into())
    );
    sim.shutdown().await;
}
