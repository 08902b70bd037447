//! `default-storage-class-check` end to end against the simulated cluster: the shipped scenarios,
//! the read-only user, a run cut off by its deadline, and a before/after inventory proving the
//! probe touched nothing it did not create and left nothing behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ListParams};
use scs_kaas_checks::native::default_storage_class::{DefaultStorageClass, ID};
use scs_kaas_checks::probe::finish_detached_cleanups;
use scs_kaas_checks::probe::run::managed_selector;
use scs_kaas_checks::runner::preflight::Preflight;
use scs_kaas_checks::{Check, CheckContext};
use scs_kaas_core::finding::{Outcome, Severity, Status};
use scs_kaas_sim::server::{self, RunningSim};

mod common;
use common::{differences, inventory};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../scenarios/{name}.yaml"))
}

async fn start(name: &str) -> RunningSim {
    let config = scs_kaas_sim::scenario::load(&scenario(name)).expect("scenario loads");
    server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts")
}

async fn client(sim: &RunningSim, user: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(user)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Run the check as the runner does: pre-flight first (missing read rights ABORT, denied active
/// rights are handed over), then the check.
async fn run(client: kube::Client, run_id: &str, args: &[(&str, &str)]) -> Outcome {
    let check = DefaultStorageClass;
    let review = Preflight::default().review(&client, &check.access()).await;
    if let Some(reason) = review.reason() {
        return Outcome::abort("HARN-04", reason);
    }
    let ctx = context(client, run_id, args, review.denied_active);
    check.run(&ctx).await
}

fn context(
    client: kube::Client,
    run_id: &str,
    args: &[(&str, &str)],
    denied: Vec<scs_kaas_checks::Access>,
) -> CheckContext {
    context_with_deadline(client, run_id, args, denied, Duration::from_secs(120))
}

fn context_with_deadline(
    client: kube::Client,
    run_id: &str,
    args: &[(&str, &str)],
    denied: Vec<scs_kaas_checks::Access>,
    deadline: Duration,
) -> CheckContext {
    CheckContext {
        client,
        kubeconfig: None,
        args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        now: "2026-11-22T07:00:00Z".parse().unwrap(),
        deadline,
        run_id: run_id.into(),
        cache_dir: None,
        denied,
    }
}

fn worst(o: &Outcome, rule: &str) -> Option<Severity> {
    o.findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.severity)
        .max()
}

fn has(o: &Outcome, rule: &str, text: &str) -> bool {
    o.findings
        .iter()
        .any(|f| f.rule == rule && f.message.contains(text))
}

async fn probe_namespaces(client: &kube::Client) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    api.list(&ListParams::default().labels(&managed_selector()))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect()
}

#[tokio::test]
async fn compliant_passes_reads_back_across_nodes_and_leaves_the_cluster_as_it_was() {
    let sim = start("compliant").await;
    let admin = client(&sim, "admin").await;
    let before = inventory(&admin).await;
    let outcome = run(admin.clone(), "c0a1b2c3", &[]).await;
    assert_eq!(outcome.status, Status::Pass, "{outcome:#?}");
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.severity == Severity::Info),
        "{outcome:#?}"
    );
    assert!(
        has(&outcome, "SC-04", "given the default class network"),
        "{outcome:#?}"
    );
    assert!(has(&outcome, "SC-05", "read back on node"), "{outcome:#?}");
    let after = inventory(&admin).await;
    assert_eq!(differences(&before, &after), Vec::<String>::new());
}

#[tokio::test]
async fn no_default_class_fails_sc01_and_creates_nothing() {
    let sim = start("no-default-storage-class").await;
    let admin = client(&sim, "admin").await;
    let before = inventory(&admin).await;
    let outcome = run(admin.clone(), "c1a1b2c3", &[]).await;
    assert_eq!(outcome.status, Status::Fail);
    assert_eq!(worst(&outcome, "SC-01"), Some(Severity::Error));
    assert!(has(&outcome, "SC-04", "no default class"), "{outcome:#?}");
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn local_default_class_fails_v1_and_only_warns_under_v2() {
    let sim = start("local-default-storage-class").await;
    let admin = client(&sim, "admin").await;
    let v1 = run(admin.clone(), "c2a1b2c3", &[]).await;
    assert_eq!(v1.status, Status::Fail, "{v1:#?}");
    assert_eq!(worst(&v1, "SC-06"), Some(Severity::Error));
    // The probe's own volume is pinned to a host: the active evidence agrees.
    assert!(has(&v1, "SC-05", "the probe volume"), "{v1:#?}");
    assert_eq!(worst(&v1, "SC-05"), Some(Severity::Error));
    let v2 = run(
        admin.clone(),
        "c2a1b2c4",
        &[("storage_class_semantics", "v2")],
    )
    .await;
    assert_eq!(v2.status, Status::Pass, "{v2:#?}");
    assert_eq!(worst(&v2, "SC-06"), Some(Severity::Warn));
    assert!(probe_namespaces(&admin).await.is_empty());
}

#[tokio::test]
async fn two_defaults_fail_by_default_and_warn_when_configured() {
    let sim = start("two-default-storage-classes").await;
    let admin = client(&sim, "admin").await;
    let fail = run(admin.clone(), "c3a1b2c3", &[]).await;
    assert_eq!(fail.status, Status::Fail, "{fail:#?}");
    assert_eq!(worst(&fail, "SC-02"), Some(Severity::Error));
    let sc02 = fail.findings.iter().find(|f| f.rule == "SC-02").unwrap();
    assert!(sc02.message.contains("exactly one"), "{sc02:?}");
    let warn = run(
        admin.clone(),
        "c3a1b2c4",
        &[
            ("storage_probe", "off"),
            ("multiple_default_severity", "warn"),
        ],
    )
    .await;
    assert_eq!(worst(&warn, "SC-02"), Some(Severity::Warn));
    assert!(probe_namespaces(&admin).await.is_empty());
}

#[tokio::test]
async fn claim_that_never_binds_fails_sc04_and_is_cleaned_up() {
    let sim = start("storage-never-binds").await;
    let admin = client(&sim, "admin").await;
    let before = inventory(&admin).await;
    let outcome = run(admin.clone(), "c4a1b2c3", &[("storage_timeout", "2s")]).await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:#?}");
    assert!(has(&outcome, "SC-04", "was not bound"), "{outcome:#?}");
    assert!(
        outcome.findings.iter().all(|f| f.rule != "HARN-02"),
        "{outcome:#?}"
    );
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn ephemeral_volume_fails_the_cross_node_read() {
    let sim = start("ephemeral-default-storage-class").await;
    let admin = client(&sim, "admin").await;
    let outcome = run(admin.clone(), "c5a1b2c3", &[]).await;
    assert_eq!(outcome.status, Status::Fail, "{outcome:#?}");
    assert_eq!(worst(&outcome, "SC-05"), Some(Severity::Error));
    assert!(
        has(&outcome, "SC-05", "could not be read on node"),
        "{outcome:#?}"
    );
    assert!(probe_namespaces(&admin).await.is_empty());
}

#[tokio::test]
async fn read_only_user_gets_read_only_results_and_an_abort_naming_the_missing_rights() {
    let sim = start("compliant").await;
    let viewer = client(&sim, "viewer").await;
    let admin = client(&sim, "admin").await;
    let before = inventory(&admin).await;
    let outcome = run(viewer, "c6a1b2c3", &[]).await;
    assert_eq!(outcome.status, Status::Abort, "{outcome:#?}");
    assert!(
        has(&outcome, "SC-01", "default StorageClass network"),
        "{outcome:#?}"
    );
    assert!(has(&outcome, "SC-04", "create namespaces"), "{outcome:#?}");
    assert!(
        has(&outcome, "SC-04", "nothing was created"),
        "{outcome:#?}"
    );
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
    // On a cluster that already fails read-only, the verdict stays FAIL.
    let sim = start("no-default-storage-class").await;
    let outcome = run(client(&sim, "viewer").await, "c6a1b2c4", &[]).await;
    assert_eq!(outcome.status, Status::Fail);
}

#[tokio::test]
async fn run_cut_off_by_its_deadline_is_cleaned_up_in_the_background() {
    let sim = start("storage-never-binds").await;
    let admin = client(&sim, "admin").await;
    let before = inventory(&admin).await;
    let ctx = context(
        admin.clone(),
        "c7a1b2c3",
        &[("storage_timeout", "10m")],
        Vec::new(),
    );
    let check: Arc<dyn Check> = Arc::new(DefaultStorageClass);
    // Cut off while the probe waits for its claim: the runner drops the check's future.
    let outcome = scs_kaas_checks::runner::native::run(check, ctx, Duration::from_secs(2)).await;
    assert_eq!(outcome.status, Status::Abort, "{outcome:#?}");
    assert!(finish_detached_cleanups(Duration::from_secs(60)).await);
    assert!(probe_namespaces(&admin).await.is_empty());
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
    assert_eq!(ID, "default-storage-class-check");
}

#[tokio::test]
async fn probe_that_reaches_the_check_deadline_stops_itself_and_cleans_up_first() {
    let sim = start("storage-never-binds").await;
    let admin = client(&sim, "admin").await;
    let before = inventory(&admin).await;
    // The claim never binds and each wait may take 10 minutes, but the check's deadline is 8s:
    // the check must stop its probe, remove what it created and return before the runner would
    // cut it off (the runner's deadline here is far longer, so only the check can end it).
    let ctx = context_with_deadline(
        admin.clone(),
        "c8a1b2c3",
        &[("storage_timeout", "10m")],
        Vec::new(),
        Duration::from_secs(8),
    );
    let check: Arc<dyn Check> = Arc::new(DefaultStorageClass);
    let outcome = scs_kaas_checks::runner::native::run(check, ctx, Duration::from_secs(600)).await;
    assert_eq!(outcome.status, Status::Abort, "{outcome:#?}");
    assert!(
        has(
            &outcome,
            "SC-04",
            "cut off after 6s by the check's deadline of 8s"
        ),
        "{outcome:#?}"
    );
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.rule != "HARN-02" && f.rule != "HARN-01"),
        "{outcome:#?}"
    );
    assert!(probe_namespaces(&admin).await.is_empty());
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
}
