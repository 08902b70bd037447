//! The probe guard against the simulated cluster (CHECKS.md §0.4, HARN-02): a leftover that
//! nobody releases becomes a WARN finding naming the object and the fix; a cleanup goes on when
//! the check awaiting it is dropped (the runner's deadline, Ctrl-C) and its report reaches
//! `finish_cleanups`; a guard dropped while armed cleans up in the background and is listed as
//! pending until done.
//!
//! The guard's bookkeeping is process-wide, so the tests that drain it take [`SERIAL`].

use std::collections::BTreeMap;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolume};
use kube::api::{Api, ObjectMeta, PostParams};
use scs_kaas_checks::probe::guard::{self, LEAK_RULE, ProbeGuard};
use scs_kaas_checks::probe::run::ProbeRun;
use scs_kaas_core::finding::Severity;
use scs_kaas_sim::server::{self, RunningSim};

mod common;
use common::{client_for, differences, inventory, managed_objects};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A finalizer no controller of the simulated cluster knows, so nobody ever removes it.
const HOLD: &str = "example.com/hold";

async fn start() -> RunningSim {
    let config = scs_kaas_sim::scenario::load(&common::repo("scenarios/compliant.yaml")).unwrap();
    server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn run(id: &str) -> ProbeRun {
    ProbeRun::new(id, "hygiene-check", "2026-11-22T06:00:00Z".parse().unwrap()).unwrap()
}

/// A ConfigMap in the run's namespace, labelled like every probe object.
async fn fill(client: &kube::Client, run: &ProbeRun) {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("probe-data".into()),
            labels: Some(run.labels()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("k".into(), "v".into())])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), &run.namespace_name())
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
}

/// A volume provisioned for a claim in the run's namespace whose storage backend never lets go
/// of it: it carries a finalizer nobody removes.
async fn stuck_volume(client: &kube::Client, run: &ProbeRun, name: &str) {
    let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "finalizers": [HOLD]},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "network",
            "claimRef": {"namespace": run.namespace_name(), "name": "sc-probe", "uid": format!("uid-{name}")},
            "csi": {"driver": "cinder.csi.openstack.org", "volumeHandle": name}
        }
    }))
    .unwrap();
    Api::<PersistentVolume>::all(client.clone())
        .create(&PostParams::default(), &pv)
        .await
        .unwrap();
}

async fn namespace_exists(client: &kube::Client, name: &str) -> bool {
    Api::<Namespace>::all(client.clone())
        .get_opt(name)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_volume_nobody_releases_is_a_harn02_warning_naming_it_and_the_fix() {
    let sim = start().await;
    let admin = client_for(&sim, "admin").await;
    let run = run("aa000001");
    let guard = ProbeGuard::new(admin.clone(), run.clone(), Duration::from_secs(60));
    guard.create_namespace().await.unwrap();
    fill(&admin, &run).await;
    stuck_volume(&admin, &run, "pv-held-1").await;

    // The timeout is the deadline: the volume cannot go, so the wait ends there.
    let report = guard.cleanup_within(Duration::from_secs(3)).await;

    let leak: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == LEAK_RULE && f.severity == Severity::Warn)
        .collect();
    assert_eq!(leak.len(), 1, "{report:#?}");
    let leak = leak[0];
    assert_eq!(
        leak.object.as_deref(),
        Some("persistentvolume/pv-held-1"),
        "{leak:#?}"
    );
    assert!(
        leak.message
            .contains("probe volume pv-held-1 is still present after cleanup")
            && leak
                .message
                .contains("held by finalizers [example.com/hold]"),
        "{leak:#?}"
    );
    let fix = leak.fix.as_deref().unwrap_or_default();
    assert!(
        fix.contains("kubectl describe pv pv-held-1") && fix.contains("kubectl delete pv"),
        "{leak:#?}"
    );
    // The namespace (and the ConfigMap in it) did go, and says so.
    assert!(
        report
            .removed
            .contains(&format!("namespace/{}", run.namespace_name())),
        "{report:#?}"
    );
    assert!(!namespace_exists(&admin, &run.namespace_name()).await);
    assert!(
        Api::<PersistentVolume>::all(admin.clone())
            .get_opt("pv-held-1")
            .await
            .unwrap()
            .is_some(),
        "the held volume is really still there"
    );
}

#[tokio::test]
async fn nothing_held_means_no_leak_finding() {
    let sim = start().await;
    let admin = client_for(&sim, "admin").await;
    let before = inventory(&admin).await;
    let run = run("aa000002");
    let guard = ProbeGuard::new(admin.clone(), run.clone(), Duration::from_secs(60));
    guard.create_namespace().await.unwrap();
    fill(&admin, &run).await;
    let report = guard.cleanup_within(Duration::from_secs(60)).await;
    assert!(
        report.findings.iter().all(|f| f.rule != LEAK_RULE),
        "{report:#?}"
    );
    assert_eq!(
        report.removed,
        vec![format!("namespace/{}", run.namespace_name())]
    );
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_check_dropped_while_it_cleans_up_does_not_stop_the_cleanup() {
    let _serial = SERIAL.lock().await;
    let sim = start().await;
    let admin = client_for(&sim, "admin").await;
    let run = run("aa000003");
    let guard = ProbeGuard::new(admin.clone(), run.clone(), Duration::from_secs(60));
    guard.create_namespace().await.unwrap();
    fill(&admin, &run).await;
    stuck_volume(&admin, &run, "pv-held-3").await;

    // The check is cut off (deadline, Ctrl-C) right after it began to clean up: its future is
    // polled once, then dropped. The guard is disarmed by then, so only the tracked cleanup task
    // can finish the job.
    let cleanup = guard.cleanup_within(Duration::from_secs(3));
    assert!(
        cleanup.now_or_never().is_none(),
        "the cleanup cannot be done after one poll"
    );
    assert!(
        guard::pending_cleanups()
            .iter()
            .any(|p| p.contains("aa000003")),
        "the cleanup is still listed as pending: {:?}",
        guard::pending_cleanups()
    );

    let finished = guard::finish_cleanups(Duration::from_secs(60)).await;
    assert!(finished.unfinished.is_empty(), "{finished:#?}");
    let mine: Vec<_> = finished
        .reports
        .iter()
        .filter(|r| r.run.contains("aa000003"))
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "its report reaches finish_cleanups: {finished:#?}"
    );
    assert!(
        mine[0]
            .report
            .removed
            .contains(&format!("namespace/{}", run.namespace_name())),
        "{finished:#?}"
    );
    assert!(
        finished
            .leaks()
            .any(|f| f.object.as_deref() == Some("persistentvolume/pv-held-3")),
        "the leftover is reported, not lost: {finished:#?}"
    );
    assert!(!finished.is_clean());
    assert!(!namespace_exists(&admin, &run.namespace_name()).await);
    assert!(
        !guard::pending_cleanups()
            .iter()
            .any(|p| p.contains("aa000003"))
    );
}

#[tokio::test]
async fn a_guard_dropped_while_armed_cleans_up_in_the_background_and_is_pending_until_done() {
    let _serial = SERIAL.lock().await;
    let sim = start().await;
    let admin = client_for(&sim, "admin").await;
    let before = inventory(&admin).await;
    let run = run("aa000004");
    let guard = ProbeGuard::new(admin.clone(), run.clone(), Duration::from_secs(60));
    guard.create_namespace().await.unwrap();
    fill(&admin, &run).await;
    let pending = guard::pending_cleanups();
    assert!(
        pending.iter().any(|p| p
            == &format!(
                "probe run aa000004 of hygiene-check (namespace {})",
                run.namespace_name()
            )),
        "a live guard is pending cleanup: {pending:?}"
    );
    drop(guard);
    let finished = guard::finish_cleanups(Duration::from_secs(60)).await;
    let mine: Vec<_> = finished
        .reports
        .iter()
        .filter(|r| r.run.contains("aa000004"))
        .collect();
    assert_eq!(mine.len(), 1, "{finished:#?}");
    assert_eq!(
        mine[0].report.removed,
        vec![format!("namespace/{}", run.namespace_name())]
    );
    assert!(mine[0].report.findings.is_empty(), "{finished:#?}");
    assert!(managed_objects(&admin).await.is_empty());
    assert_eq!(
        differences(&before, &inventory(&admin).await),
        Vec::<String>::new()
    );
}
