//! The simulated world end to end: the shipped `compliant` scenario served over HTTPS, driven
//! through a real `kube` client. A Deployment becomes Available, a claim without a class gets the
//! default class and binds once a pod uses it, and probe pods carry a marker across nodes.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams, LogParams, PostParams};
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
