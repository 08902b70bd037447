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

/// The objects the native conformance runner creates (the contract with the checks side): a
/// namespace, a ServiceAccount bound to a ClusterRole, and pod `e2e` with the conformance
/// container and a busybox `output` container sharing an emptyDir at /tmp/results.
async fn start_conformance_run(client: &kube::Client, run: &str, focus: &str) {
    let ns = format!("scs-kaas-cncf-k8s-conformance-{run}");
    let labels = json!({"app.kubernetes.io/managed-by": "scs-kaas", "scs-kaas.io/run-id": run});
    let create = |api: &str, body: serde_json::Value| {
        let client = client.clone();
        let api = api.to_string();
        async move {
            let (code, answer) =
                common::raw(&client, "POST", &api, "application/json", &body.to_string()).await;
            assert_eq!(code, 201, "POST {api}: {answer}");
        }
    };
    create("/api/v1/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})).await;
    create(&format!("/api/v1/namespaces/{ns}/serviceaccounts"), json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "scs-kaas-e2e", "labels": labels}})).await;
    create(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": format!("scs-kaas-e2e-{run}"), "labels": labels},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                  {"nonResourceURLs": ["/metrics", "/logs", "/logs/*"], "verbs": ["get"]}]}),
    )
    .await;
    create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("scs-kaas-e2e-{run}"), "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("scs-kaas-e2e-{run}")},
        "subjects": [{"kind": "ServiceAccount", "name": "scs-kaas-e2e", "namespace": ns}]})).await;
    let env = |k: &str, v: &str| json!({"name": k, "value": v});
    let mount = json!([{"name": "results", "mountPath": "/tmp/results"}]);
    create(&format!("/api/v1/namespaces/{ns}/pods"), json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "e2e", "labels": labels},
        "spec": {
            "serviceAccountName": "scs-kaas-e2e", "restartPolicy": "Never",
            "volumes": [{"name": "results", "emptyDir": {}}],
            "containers": [
                {"name": "conformance", "image": "registry.k8s.io/conformance:v1.35.8",
                 "env": [env("E2E_FOCUS", focus), env("E2E_SKIP", ""), env("E2E_PROVIDER", "skeleton"),
                         env("E2E_USE_GO_RUNNER", "true"), env("E2E_EXTRA_ARGS", "--ginkgo.flake-attempts=2"),
                         env("E2E_EXTRA_GINKGO_ARGS", "-v"), env("E2E_PARALLEL", "1"), env("RESULTS_DIR", "/tmp/results")],
                 "volumeMounts": mount.clone()},
                {"name": "output", "image": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
                 "command": ["sh", "-c", "sleep infinity"], "volumeMounts": mount},
            ]}})).await;
}

/// `cat FILE` in the `output` container through kube's exec: (stdout, exit status).
async fn cat(client: &kube::Client, ns: &str, file: &str) -> (String, String) {
    use tokio::io::AsyncReadExt;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = kube::api::AttachParams::default()
        .container("output")
        .stderr(false);
    let mut attached = pods
        .exec("e2e", vec!["cat", file], &params)
        .await
        .expect("exec starts");
    let mut out = String::new();
    attached
        .stdout()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let status = attached.take_status().unwrap().await.unwrap();
    (out, status.status.unwrap_or_default())
}

fn conformance_state(p: Option<&Pod>) -> Option<k8s_openapi::api::core::v1::ContainerState> {
    p?.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == "conformance")?
        .state
        .clone()
}

async fn start_scenario(name: &str) -> (scs_kaas_sim::server::RunningSim, kube::Client) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    let config = scs_kaas_sim::scenario::load(&path).expect("scenario loads");
    let sim = common::start_config(config, Options::default()).await;
    let client = common::client(&sim, "admin").await;
    (sim, client)
}

/// Counts the JUnit's testcases by status, failing on malformed XML.
fn junit_counts(xml: &str) -> (usize, usize, usize) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    loop {
        match reader
            .read_event()
            .expect("junit_01.xml is well-formed XML")
        {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) if e.name().as_ref() == "testcase" => {
                let status = e
                    .try_get_attribute("status")
                    .unwrap()
                    .map(|a| a.value.to_string());
                match status.as_deref() {
                    Some("passed") => passed += 1,
                    Some("failed") => failed += 1,
                    Some("skipped") => skipped += 1,
                    other => panic!("testcase status {other:?}"),
                }
            }
            _ => {}
        }
    }
    (passed, failed, skipped)
}

#[tokio::test]
async fn conformance_image_passes_and_its_results_are_read_with_exec() {
    let (_sim, client) = start_scenario("compliant.yaml").await;
    start_conformance_run(&client, "0000aaaa", r"\[Conformance\]").await;
    let ns = "scs-kaas-cncf-k8s-conformance-0000aaaa";
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    wait(&pods, "e2e", |p: Option<&Pod>| {
        conformance_state(p).is_some_and(|s| s.running.is_some() || s.terminated.is_some())
    })
    .await;
    // Following the log streams the progress until the container ends.
    let params = LogParams {
        container: Some("conformance".into()),
        follow: true,
        ..LogParams::default()
    };
    let stream = pods.log_stream("e2e", &params).await.expect("log follows");
    let mut lines = futures::AsyncBufReadExt::lines(stream);
    let mut specs = 0;
    let mut last = String::new();
    let follow = async {
        while let Some(line) = lines.next().await {
            let line = line.unwrap();
            if line.starts_with('•') {
                specs += 1;
            }
            last = line;
        }
    };
    tokio::time::timeout(TIMEOUT, follow)
        .await
        .expect("the followed log ends with the container");
    assert_eq!(specs, 441);
    assert_eq!(last, "Test Suite Passed");
    let pod = pods.get("e2e").await.unwrap();
    let terminated = conformance_state(Some(&pod))
        .unwrap()
        .terminated
        .expect("terminated");
    assert_eq!(terminated.exit_code, 0);
    assert_eq!(
        pod.status.unwrap().phase.as_deref(),
        Some("Running"),
        "output still runs"
    );
    let (junit, status) = cat(&client, ns, "/tmp/results/junit_01.xml").await;
    assert_eq!(status, "Success");
    assert_eq!(junit_counts(&junit), (441 + 4, 0, 7348 - 441));
    let (log, _) = cat(&client, ns, "/tmp/results/e2e.log").await;
    assert!(
        log.contains("Will run 441 of 7348 specs")
            && log.contains("kube-apiserver version: v1.35.8")
    );
    assert!(log.contains("SUCCESS! -- 441 Passed | 0 Failed | 0 Pending | 6907 Skipped"));
    let (_, status) = cat(&client, ns, "/tmp/results/nothing.xml").await;
    assert_eq!(status, "Failure");
}

#[tokio::test]
async fn conformance_image_fails_crashes_hangs_or_cannot_be_pulled_as_the_scenario_says() {
    // fail: the named NetworkPolicy spec fails in the NetworkPolicy run (the conformance one
    // is not selected there).
    let (_sim, client) = start_scenario("conformance-fail.yaml").await;
    start_conformance_run(&client, "0000bbbb", "NetworkPolicy").await;
    let ns = "scs-kaas-cncf-k8s-conformance-0000bbbb";
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = wait(&pods, "e2e", |p: Option<&Pod>| {
        conformance_state(p).is_some_and(|s| s.terminated.is_some())
    })
    .await;
    assert_eq!(
        conformance_state(Some(&pod))
            .unwrap()
            .terminated
            .unwrap()
            .exit_code,
        1
    );
    let (junit, _) = cat(&client, ns, "/tmp/results/junit_01.xml").await;
    assert_eq!(junit_counts(&junit), (39 - 1 + 4, 1, 7348 - 39));
    assert!(junit.contains("should support a &#39;default-deny-ingress&#39; policy\" classname=\"Kubernetes e2e suite\" status=\"failed\""));

    // crash: exit code 2, a cut-short log, no JUnit.
    let (_sim, client) = start_scenario("conformance-crash.yaml").await;
    start_conformance_run(&client, "0000cccc", r"\[Conformance\]").await;
    let ns = "scs-kaas-cncf-k8s-conformance-0000cccc";
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = wait(&pods, "e2e", |p: Option<&Pod>| {
        conformance_state(p).is_some_and(|s| s.terminated.is_some())
    })
    .await;
    assert_eq!(
        conformance_state(Some(&pod))
            .unwrap()
            .terminated
            .unwrap()
            .exit_code,
        2
    );
    let (log, _) = cat(&client, ns, "/tmp/results/e2e.log").await;
    assert!(log.contains("panic:") && !log.contains("Ran "));
    assert_eq!(
        cat(&client, ns, "/tmp/results/junit_01.xml").await.1,
        "Failure"
    );

    // image-pull-error: ErrImagePull then ImagePullBackOff; the pod stays Pending.
    let (_sim, client) = start_scenario("conformance-image-pull.yaml").await;
    start_conformance_run(&client, "0000dddd", r"\[Conformance\]").await;
    let ns = "scs-kaas-cncf-k8s-conformance-0000dddd";
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let waiting = |reason: &'static str| {
        move |p: Option<&Pod>| {
            conformance_state(p)
                .and_then(|s| s.waiting)
                .and_then(|w| w.reason)
                .as_deref()
                == Some(reason)
        }
    };
    wait(&pods, "e2e", waiting("ErrImagePull")).await;
    let pod = wait(&pods, "e2e", waiting("ImagePullBackOff")).await;
    assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Pending"));
    let logs = pods
        .logs(
            "e2e",
            &LogParams {
                container: Some("conformance".into()),
                ..LogParams::default()
            },
        )
        .await;
    assert!(
        matches!(&logs, Err(kube::Error::Api(s)) if s.code == 400 && s.message.contains("is waiting to start: trying and failing to pull image")),
        "{logs:?}"
    );

    // hang: a few specs, then nothing; the container keeps running.
    let (_sim, client) = start_scenario("conformance-hang.yaml").await;
    start_conformance_run(&client, "0000eeee", r"\[Conformance\]").await;
    let ns = "scs-kaas-cncf-k8s-conformance-0000eeee";
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    wait(&pods, "e2e", |p: Option<&Pod>| {
        conformance_state(p).is_some_and(|s| s.running.is_some())
    })
    .await;
    let params = LogParams {
        container: Some("conformance".into()),
        follow: true,
        ..LogParams::default()
    };
    let mut lines = futures::AsyncBufReadExt::lines(pods.log_stream("e2e", &params).await.unwrap());
    let mut specs = 0;
    tokio::time::timeout(TIMEOUT, async {
        while specs < 3 {
            let line = lines
                .next()
                .await
                .expect("the log of a hanging run stays open")
                .unwrap();
            specs += usize::from(line.starts_with('•'));
        }
    })
    .await
    .expect("three specs are reported");
    assert!(
        conformance_state(Some(&pods.get("e2e").await.unwrap()))
            .unwrap()
            .running
            .is_some()
    );
    assert_eq!(
        cat(&client, ns, "/tmp/results/junit_01.xml").await.1,
        "Failure"
    );
}
