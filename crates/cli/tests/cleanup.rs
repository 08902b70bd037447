//! `scs-kaas cleanup` end to end against an in-process simulated cluster: it removes only
//! namespaces labelled `app.kubernetes.io/managed-by=scs-kaas` and lists them; `--older-than`
//! keeps younger ones (age from the `scs-kaas.io/started-at` annotation); `--dry-run` removes
//! nothing; a namespace merely named like a probe namespace, or managed by another tool, is never
//! touched; it needs no more than `deploy/rbac.yaml` grants; bad arguments exit 2; the e2e runner's ClusterRoles/Bindings go by the same rules; a namespace stuck
//! on a finalizer is reported `NOT removed` naming the holder and the fix.

use std::collections::BTreeMap;
use std::process::Output;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use scs_kaas_sim::server::RunningSim;
use tokio::process::Command;

#[path = "../../checks/tests/common/mod.rs"]
mod common;
use common::{differences, inventory, managed_objects};

const BIN: &str = env!("CARGO_BIN_EXE_scs-kaas");

async fn cleanup(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("cleanup")
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "rc={:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The line of the output naming namespace `ns` (`<action> namespace/<ns> (check …)`).
fn line_for(o: &Output, ns: &str) -> Option<String> {
    stdout(o)
        .lines()
        .find(|l| {
            l.contains(&format!("namespace/{ns} ")) || l.ends_with(&format!("namespace/{ns}"))
        })
        .map(str::to_owned)
}

/// A namespace with `labels` and `annotations`, holding one ConfigMap.
async fn namespace(
    client: &kube::Client,
    name: &str,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(map(labels)),
            annotations: Some(map(annotations)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("content".into()),
            ..ObjectMeta::default()
        },
        data: Some(map(&[("k", "v")])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), name)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
}

/// Labels and annotation of a probe namespace of `check`, run `id`, started `ago` before now.
async fn probe_namespace(
    client: &kube::Client,
    check: &str,
    id: &str,
    ago: jiff::SignedDuration,
) -> String {
    let name = format!("scs-kaas-{check}-{id}");
    let started = (jiff::Timestamp::now() - ago).to_string();
    namespace(
        client,
        &name,
        &[
            ("app.kubernetes.io/managed-by", "scs-kaas"),
            ("scs-kaas.io/run-id", id),
            ("scs-kaas.io/check", check),
        ],
        &[("scs-kaas.io/started-at", &started)],
    )
    .await;
    name
}

async fn sim(dir: &std::path::Path) -> (RunningSim, std::path::PathBuf) {
    sim_of(dir, "compliant").await
}

/// The shipped scenario `name`, with a user `scs-kaas` holding exactly deploy/rbac.yaml's
/// ClusterRole, to run cleanup with least privilege.
async fn sim_of(dir: &std::path::Path, name: &str) -> (RunningSim, std::path::PathBuf) {
    let config = common::scenario_with_users(
        name,
        vec![common::rules_user("scs-kaas", common::rbac_yaml_rules())],
    );
    let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let kc = dir.join("kubeconfig");
    sim.write_kubeconfig(&kc).unwrap();
    (sim, kc)
}

#[tokio::test]
async fn removes_only_labelled_namespaces_lists_them_and_honours_older_than_and_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kc) = sim(dir.path()).await;
    let kc = kc.to_str().unwrap();
    let admin = common::client_for(&sim, "admin").await;
    let hours = jiff::SignedDuration::from_hours;
    let old = probe_namespace(&admin, "default-storage-class-check", "0a0a0a0a", hours(3)).await;
    let young = probe_namespace(
        &admin,
        "loadbalancer-check",
        "0b0b0b0b",
        jiff::SignedDuration::from_mins(10),
    )
    .await;
    // Named like a probe namespace, but not labelled: not ours.
    let impostor = "scs-kaas-default-storage-class-check-0c0c0c0c";
    namespace(
        &admin,
        impostor,
        &[],
        &[("scs-kaas.io/started-at", "2020-01-01T00:00:00Z")],
    )
    .await;
    // Managed by another tool.
    namespace(
        &admin,
        "helm-things",
        &[("app.kubernetes.io/managed-by", "Helm")],
        &[],
    )
    .await;
    let before = inventory(&admin).await;

    // --dry-run: both probe namespaces listed, nothing removed.
    let out = cleanup(&["--kubeconfig", kc, "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for ns in [&old, &young] {
        let line = line_for(&out, ns).unwrap_or_else(|| panic!("{ns}: {}", text(&out)));
        assert!(line.starts_with("would remove"), "{line}");
    }
    assert_eq!(line_for(&out, impostor), None, "{}", text(&out));
    assert_eq!(line_for(&out, "helm-things"), None, "{}", text(&out));
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );

    // --older-than 1h: the three-hour-old one goes, the ten-minute-old one stays.
    let out = cleanup(&["--kubeconfig", kc, "--older-than", "1h"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = line_for(&out, &old).unwrap_or_else(|| text(&out));
    assert!(
        line.starts_with("removed")
            && line.contains("check default-storage-class-check, run 0a0a0a0a, age 3h"),
        "{line}"
    );
    let line = line_for(&out, &young).unwrap_or_else(|| text(&out));
    assert!(
        line.starts_with("kept") && line.contains("younger than --older-than"),
        "{line}"
    );
    // Days count as 24 hours: nothing is a day old.
    let out = cleanup(&["--kubeconfig", kc, "--older-than", "1d"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        line_for(&out, &young).is_some_and(|l| l.starts_with("kept")),
        "{}",
        text(&out)
    );

    // Without a filter, as the least-privileged user of deploy/rbac.yaml: the young one goes too.
    let out = cleanup(&["--kubeconfig", kc, "--context", "scs-kaas"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        line_for(&out, &young).is_some_and(|l| l.starts_with("removed")),
        "{}",
        text(&out)
    );
    assert_eq!(managed_objects(&admin).await, Vec::<String>::new());

    // Exactly the two probe namespaces and their content are gone; the rest is as it was.
    let changes = differences(&before, &inventory(&admin).await);
    assert!(!changes.is_empty());
    for change in &changes {
        let ours = [&old, &young]
            .iter()
            .any(|ns| change.ends_with(&format!("//{ns}")) || change.contains(&format!("/{ns}/")));
        assert!(
            change.starts_with("removed ") && ours,
            "touched: {change} (all: {changes:#?})"
        );
    }
    for kept in [impostor, "helm-things"] {
        assert!(
            Api::<Namespace>::all(admin.clone())
                .get_opt(kept)
                .await
                .unwrap()
                .is_some(),
            "{kept} is untouched"
        );
    }

    // Nothing left: it says so.
    let out = cleanup(&["--kubeconfig", kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("nothing to clean up"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn bad_ages_exit_2_with_a_clear_message() {
    for (age, want) in [
        ("soon", "is not a duration like 2h, 30m or 1d"),
        ("-2h", "is negative"),
        ("1mo", "months or years"),
    ] {
        let flag = format!("--older-than={age}");
        let out = cleanup(&["--kubeconfig", "/nonexistent/kubeconfig", &flag]).await;
        assert_eq!(out.status.code(), Some(2), "{age}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--older-than") && stderr.contains(want),
            "{age}: {}",
            text(&out)
        );
        assert!(out.stdout.is_empty(), "{age}: {}", text(&out));
    }
}

#[tokio::test]
async fn an_unreadable_kubeconfig_exits_2_naming_it() {
    let out = cleanup(&["--kubeconfig", "/nonexistent/kubeconfig"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read kubeconfig /nonexistent/kubeconfig"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn labelled_system_and_foreign_namespaces_survive_and_are_listed_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kc) = sim(dir.path()).await;
    let kc = kc.to_str().unwrap();
    let admin = common::client_for(&sim, "admin").await;
    let probe = probe_namespace(
        &admin,
        "loadbalancer-check",
        "0d0d0d0d",
        jiff::SignedDuration::from_hours(1),
    )
    .await;
    // Someone labels kube-public as ours (it exists in every cluster).
    let mut public = Api::<Namespace>::all(admin.clone())
        .get("kube-public")
        .await
        .unwrap();
    public.metadata.labels.get_or_insert_default().extend([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "scs-kaas".to_string(),
        ),
        ("scs-kaas.io/run-id".to_string(), "0d0d0d0d".to_string()),
        (
            "scs-kaas.io/check".to_string(),
            "loadbalancer-check".to_string(),
        ),
    ]);
    Api::<Namespace>::all(admin.clone())
        .replace("kube-public", &PostParams::default(), &public)
        .await
        .unwrap();
    // prod-db with every label and the annotation, but not a probe name.
    namespace(
        &admin,
        "prod-db",
        &[
            ("app.kubernetes.io/managed-by", "scs-kaas"),
            ("scs-kaas.io/run-id", "0d0d0d0d"),
            ("scs-kaas.io/check", "loadbalancer-check"),
        ],
        &[("scs-kaas.io/started-at", "2020-01-01T00:00:00Z")],
    )
    .await;
    // A probe name whose start annotation is missing: not provably ours either.
    let unannotated = "scs-kaas-loadbalancer-check-0e0e0e0e";
    namespace(
        &admin,
        unannotated,
        &[
            ("app.kubernetes.io/managed-by", "scs-kaas"),
            ("scs-kaas.io/run-id", "0e0e0e0e"),
            ("scs-kaas.io/check", "loadbalancer-check"),
        ],
        &[],
    )
    .await;

    let out = cleanup(&["--kubeconfig", kc, "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = line_for(&out, &probe).unwrap_or_else(|| text(&out));
    assert!(
        line.starts_with("would remove") && line.contains("started-at annotation of a probe run"),
        "{line}"
    );
    let out = cleanup(&["--kubeconfig", kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (ns, why) in [
        ("kube-public", "system namespace"),
        (
            "prod-db",
            "its name is not scs-kaas-loadbalancer-check-0d0d0d0d",
        ),
        (unannotated, "lacks the scs-kaas.io/started-at annotation"),
    ] {
        let line = stdout(&out)
            .lines()
            .find(|l| l.contains(&format!("namespace/{ns}:")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{ns} not listed: {}", text(&out)));
        assert!(line.starts_with("skipped") && line.contains(why), "{line}");
        assert!(
            Api::<Namespace>::all(admin.clone())
                .get_opt(ns)
                .await
                .unwrap()
                .is_some_and(|n| n.metadata.deletion_timestamp.is_none()),
            "{ns} survives"
        );
    }
    assert!(
        line_for(&out, &probe).is_some_and(|l| l.starts_with("removed")),
        "{}",
        text(&out)
    );
}

/// Metadata of a cluster-scoped object `name` with `labels` and `annotations`.
fn cluster_meta(name: &str, labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    ObjectMeta {
        name: Some(name.into()),
        labels: Some(map(labels)),
        annotations: Some(map(annotations)),
        ..ObjectMeta::default()
    }
}

/// A ClusterRole `name` and a ClusterRoleBinding of the same name binding it, as the e2e runner
/// creates them (crates/checks/src/native/conformance/pod.rs), with `labels` and `annotations`.
async fn cluster_rbac(
    client: &kube::Client,
    name: &str,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) {
    let role = ClusterRole {
        metadata: cluster_meta(name, labels, annotations),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: vec!["get".into()],
            ..PolicyRule::default()
        }]),
        ..ClusterRole::default()
    };
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding = ClusterRoleBinding {
        metadata: cluster_meta(name, labels, annotations),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: name.into(),
        },
        subjects: None,
    };
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

/// The e2e runner's ClusterRole and Binding of `check`, run `id`, started `ago` before now.
async fn probe_cluster_rbac(
    client: &kube::Client,
    check: &str,
    id: &str,
    ago: jiff::SignedDuration,
) -> String {
    let name = format!("scs-kaas-{check}-{id}");
    let started = (jiff::Timestamp::now() - ago).to_string();
    cluster_rbac(
        client,
        &name,
        &[
            ("app.kubernetes.io/managed-by", "scs-kaas"),
            ("scs-kaas.io/run-id", id),
            ("scs-kaas.io/check", check),
        ],
        &[("scs-kaas.io/started-at", &started)],
    )
    .await;
    name
}

/// Whether the ClusterRole and ClusterRoleBinding `name` both exist (`Some(true)`), both are gone
/// (`Some(false)`), or only one of them exists (`None`).
async fn rbac_present(client: &kube::Client, name: &str) -> Option<bool> {
    let role = Api::<ClusterRole>::all(client.clone())
        .get_opt(name)
        .await
        .unwrap()
        .is_some();
    let binding = Api::<ClusterRoleBinding>::all(client.clone())
        .get_opt(name)
        .await
        .unwrap()
        .is_some();
    (role == binding).then_some(role)
}

/// The output line naming `kind/name`.
fn kind_line(o: &Output, kind: &str, name: &str) -> Option<String> {
    let object = format!("{kind}/{name}");
    stdout(o)
        .lines()
        .find(|l| {
            l.contains(&format!("{object} "))
                || l.contains(&format!("{object}:"))
                || l.ends_with(&object)
        })
        .map(str::to_owned)
}

#[tokio::test]
async fn removes_e2e_cluster_roles_and_bindings_left_by_a_killed_run_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kc) = sim(dir.path()).await;
    let kc = kc.to_str().unwrap();
    let admin = common::client_for(&sim, "admin").await;
    let hours = jiff::SignedDuration::from_hours;
    // What a SIGKILLed e2e run leaves: its namespace and its cluster-scoped RBAC objects.
    let old_ns = probe_namespace(&admin, "cncf-k8s-conformance", "0f0f0f0f", hours(3)).await;
    let old = probe_cluster_rbac(&admin, "cncf-k8s-conformance", "0f0f0f0f", hours(3)).await;
    let young = probe_cluster_rbac(
        &admin,
        "kaas-networking-check",
        "0f0f0f0f",
        jiff::SignedDuration::from_mins(10),
    )
    .await;
    // Labelled ours, but the labels name another run than the name does.
    let wrong_labels = "scs-kaas-cncf-k8s-conformance-1a1a1a1a";
    cluster_rbac(
        &admin,
        wrong_labels,
        &[
            ("app.kubernetes.io/managed-by", "scs-kaas"),
            ("scs-kaas.io/run-id", "0f0f0f0f"),
            ("scs-kaas.io/check", "cncf-k8s-conformance"),
        ],
        &[("scs-kaas.io/started-at", "2020-01-01T00:00:00Z")],
    )
    .await;
    // A probe-like name with a suffix the runner never uses, labels and annotation matching.
    let suffixed = "scs-kaas-cncf-k8s-conformance-2b2b2b2b-a";
    cluster_rbac(
        &admin,
        suffixed,
        &[
            ("app.kubernetes.io/managed-by", "scs-kaas"),
            ("scs-kaas.io/run-id", "2b2b2b2b"),
            ("scs-kaas.io/check", "cncf-k8s-conformance"),
        ],
        &[("scs-kaas.io/started-at", "2020-01-01T00:00:00Z")],
    )
    .await;
    // Exactly a probe name, managed by another tool: not even listed.
    let foreign = "scs-kaas-cncf-k8s-conformance-3c3c3c3c";
    cluster_rbac(
        &admin,
        foreign,
        &[
            ("app.kubernetes.io/managed-by", "helm"),
            ("scs-kaas.io/run-id", "3c3c3c3c"),
            ("scs-kaas.io/check", "cncf-k8s-conformance"),
        ],
        &[("scs-kaas.io/started-at", "2020-01-01T00:00:00Z")],
    )
    .await;
    let survivors = [wrong_labels, suffixed, foreign];

    // --dry-run lists both kinds and removes nothing.
    let out = cleanup(&["--kubeconfig", kc, "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for name in [&old, &young] {
        for kind in ["clusterrole", "clusterrolebinding"] {
            let line = kind_line(&out, kind, name).unwrap_or_else(|| text(&out));
            assert!(line.starts_with("would remove"), "{line}");
        }
        assert_eq!(rbac_present(&admin, name).await, Some(true), "{name}");
    }

    // --older-than keeps the young run's objects, removes the old run's.
    let out = cleanup(&["--kubeconfig", kc, "--older-than", "1h"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for kind in ["clusterrole", "clusterrolebinding"] {
        let line = kind_line(&out, kind, &old).unwrap_or_else(|| text(&out));
        assert!(
            line.starts_with("removed")
                && line.contains("check cncf-k8s-conformance, run 0f0f0f0f"),
            "{line}"
        );
        let line = kind_line(&out, kind, &young).unwrap_or_else(|| text(&out));
        assert!(
            line.starts_with("kept") && line.contains("younger than --older-than"),
            "{line}"
        );
    }
    assert!(
        line_for(&out, &old_ns).is_some_and(|l| l.starts_with("removed")),
        "{}",
        text(&out)
    );
    assert_eq!(rbac_present(&admin, &old).await, Some(false));
    assert_eq!(rbac_present(&admin, &young).await, Some(true));

    // Without a filter the young run goes too; nothing that is not provably ours is touched.
    let out = cleanup(&["--kubeconfig", kc]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        rbac_present(&admin, &young).await,
        Some(false),
        "{}",
        text(&out)
    );
    for (name, why) in [
        (
            wrong_labels,
            "its name is not scs-kaas-cncf-k8s-conformance-0f0f0f0f",
        ),
        (
            suffixed,
            "its name is not scs-kaas-cncf-k8s-conformance-2b2b2b2b",
        ),
    ] {
        for kind in ["clusterrole", "clusterrolebinding"] {
            let line = kind_line(&out, kind, name).unwrap_or_else(|| text(&out));
            assert!(line.starts_with("skipped") && line.contains(why), "{line}");
        }
    }
    assert!(
        kind_line(&out, "clusterrole", foreign).is_none(),
        "{}",
        text(&out)
    );
    for name in survivors {
        assert_eq!(
            rbac_present(&admin, name).await,
            Some(true),
            "{name} survives"
        );
    }
}

#[tokio::test]
async fn a_probe_namespace_stuck_on_a_finalizer_is_not_removed_and_the_holder_is_named_with_the_fix()
 {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kc) = sim(dir.path()).await;
    let kc = kc.to_str().unwrap();
    let admin = common::client_for(&sim, "admin").await;
    let ns = probe_namespace(
        &admin,
        "loadbalancer-check",
        "4d4d4d4d",
        jiff::SignedDuration::from_hours(2),
    )
    .await;
    // A load balancer Service whose controller died: its finalizer is never released.
    let finalizer = "example.com/never-released";
    let svc = Service {
        metadata: ObjectMeta {
            name: Some("echo".into()),
            finalizers: Some(vec![finalizer.into()]),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    Api::<Service>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();

    let out = cleanup(&["--kubeconfig", kc, "--timeout", "2s"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let line = line_for(&out, &ns).unwrap_or_else(|| text(&out));
    assert!(line.starts_with("NOT removed"), "{line}");
    for part in [
        format!("held by service/echo in {ns} (finalizer {finalizer})"),
        format!("kubectl -n {ns} patch service echo --type=merge"),
        "scs-kaas cleanup` again".to_string(),
    ] {
        assert!(line.contains(&part), "{part:?} missing in {line}");
    }
    let left = Api::<Namespace>::all(admin.clone()).get(&ns).await.unwrap();
    assert!(
        left.metadata.deletion_timestamp.is_some(),
        "still Terminating"
    );

    // Once the finalizer is released, cleanup finishes the job.
    Api::<Service>::namespaced(admin.clone(), &ns)
        .patch(
            "echo",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    let out = cleanup(&["--kubeconfig", kc, "--timeout", "30s"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        Api::<Namespace>::all(admin.clone())
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none(),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn a_check_probe_held_by_the_scenarios_unreleased_finalizer_is_explained_and_goes_once_released()
 {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kc) = sim_of(dir.path(), "probe-stuck-finalizer").await;
    let kc = kc.to_str().unwrap();
    let admin = common::client_for(&sim, "admin").await;
    // A check run whose probe claim gets the finalizer nobody releases leaves its namespace.
    let check = Command::new(BIN)
        .args(["check", "--kubeconfig", kc, "--scope", "scs-kaas-extended"])
        .args(["--tests", "default-storage-class-check", "--timeout", "6s"])
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let left = Api::<Namespace>::all(admin.clone())
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=scs-kaas"))
        .await
        .unwrap();
    let names: Vec<String> = left
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let [ns] = names.as_slice() else {
        panic!("one probe namespace expected: {names:?}\n{}", text(&check));
    };

    // As the least-privileged user of deploy/rbac.yaml.
    let out = cleanup(&[
        "--kubeconfig",
        kc,
        "--context",
        "scs-kaas",
        "--timeout",
        "2s",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let line = line_for(&out, ns).unwrap_or_else(|| text(&out));
    assert!(line.starts_with("NOT removed"), "{line}");
    for part in [
        format!(
            "held by persistentvolumeclaim/sc-probe in {ns} (finalizer backup.example.com/protect)"
        ),
        format!(
            "`kubectl -n {ns} patch persistentvolumeclaim sc-probe --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'`"
        ),
    ] {
        assert!(line.contains(&part), "{part:?} missing in {line}");
    }

    // The fix it names works: with the finalizer released, the namespace goes.
    Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::namespaced(admin.clone(), ns)
        .patch(
            "sc-probe",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    let out = cleanup(&[
        "--kubeconfig",
        kc,
        "--context",
        "scs-kaas",
        "--timeout",
        "30s",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        Api::<Namespace>::all(admin.clone())
            .get_opt(ns)
            .await
            .unwrap()
            .is_none(),
        "{}",
        text(&out)
    );
}
