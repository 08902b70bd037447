//! The cleanup guard: whatever a probe run created is removed on success, failure, timeout and
//! Ctrl-C, and whatever could not be removed becomes a finding naming the object.
//!
//! Objects are selected by the run-id label only (plus the volumes provisioned for claims in the
//! run's own namespaces), so cleanup can never touch an object the run did not create.
//! On the normal path the check calls [`ProbeGuard::cleanup`] and reports its findings. When the
//! check's future is dropped instead (the runner's timeout, Ctrl-C), `Drop` starts the same
//! cleanup as a detached task; the runner awaits those with [`finish_detached_cleanups`] before
//! the process exits. A live guard counts as pending cleanup too, because an aborted task drops
//! its future (and so the guard) only some time after the abort was requested.

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, PersistentVolume};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use scs_kaas_core::finding::Finding;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::run::ProbeRun;
use super::wait::wait_gone;

/// Rule id of findings about objects a run left behind (CHECKS.md HARN-02).
pub const LEAK_RULE: &str = "HARN-02";

/// How long cleanup waits for deletions (namespace finalizers, volume release) by default.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(300);

static DETACHED: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);

/// Wait until every live guard is gone and every cleanup started from a dropped guard has
/// finished, at most `timeout`.
///
/// Returns `true` when none is left. Call it before the process exits (after a timeout
/// or Ctrl-C), otherwise the runtime shuts down with cleanups half done.
pub async fn finish_detached_cleanups(timeout: Duration) -> bool {
    DETACHED.close();
    let done = tokio::time::timeout(timeout, DETACHED.wait()).await.is_ok();
    DETACHED.reopen();
    done
}

/// What a cleanup did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanupReport {
    /// Objects deleted and confirmed gone, as `kind/name`.
    pub removed: Vec<String>,
    /// Findings: a WARN per object still present, INFO for retained volumes deleted explicitly.
    pub findings: Vec<Finding>,
}

/// Owns the cleanup of one probe run. Create it before creating anything.
pub struct ProbeGuard {
    client: Client,
    run: ProbeRun,
    timeout: Duration,
    armed: bool,
    /// Keeps [`finish_detached_cleanups`] waiting while this guard lives (released after `Drop`
    /// has spawned its cleanup, which the tracker then follows).
    _pending: TaskTrackerToken,
}

impl ProbeGuard {
    /// A guard for `run`; cleanup waits at most `timeout` for deletions to complete.
    pub fn new(client: Client, run: ProbeRun, timeout: Duration) -> Self {
        ProbeGuard {
            client,
            run,
            timeout,
            armed: true,
            _pending: DETACHED.token(),
        }
    }

    /// The run this guard cleans up after.
    pub fn run(&self) -> &ProbeRun {
        &self.run
    }

    /// The run's namespace name.
    pub fn namespace(&self) -> String {
        self.run.namespace_name()
    }

    /// Create the run's namespace, labelled and annotated so cleanup (and `scs-kaas cleanup`) find it.
    pub async fn create_namespace(&self) -> Result<Namespace, kube::Error> {
        let ns = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(self.run.namespace_name()),
                labels: Some(self.run.labels()),
                annotations: Some(self.run.annotations()),
                ..Default::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
    }

    /// Delete everything the run created, wait until it is gone, and report leftovers.
    pub async fn cleanup(self) -> CleanupReport {
        let timeout = self.timeout;
        self.cleanup_within(timeout).await
    }

    /// Like [`cleanup`](Self::cleanup), but wait at most `timeout` (what is left of a deadline).
    pub async fn cleanup_within(mut self, timeout: Duration) -> CleanupReport {
        self.armed = false;
        cleanup_run(&self.client, &self.run, timeout).await
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (client, run, timeout) = (self.client.clone(), self.run.clone(), self.timeout);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                tracing::info!(
                    run = run.run_id(),
                    "probe interrupted; cleaning up in the background"
                );
                DETACHED.spawn_on(
                    async move {
                        let report = cleanup_run(&client, &run, timeout).await;
                        for f in &report.findings {
                            tracing::warn!("{}", f.log_line());
                        }
                    },
                    &handle,
                );
            }
            Err(_) => tracing::warn!(
                "probe run {} dropped outside a runtime; remove its leftovers with `scs-kaas cleanup`",
                run.run_id()
            ),
        }
    }
}

/// Delete the namespaces labelled with the run id and the volumes provisioned for their claims;
/// wait for both to disappear; report what could not be removed.
pub async fn cleanup_run(client: &Client, run: &ProbeRun, timeout: Duration) -> CleanupReport {
    let mut report = CleanupReport::default();
    let deadline = tokio::time::Instant::now() + timeout;
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_names: Vec<String> = match namespaces
        .list_metadata(&ListParams::default().labels(&run.selector()))
        .await
    {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect(),
        Err(err) => {
            report.findings.push(
                Finding::warn(
                    LEAK_RULE,
                    format!(
                        "cannot list the namespaces of probe run {}: {err}; they may be left behind",
                        run.run_id()
                    ),
                )
                .with_fix("run `scs-kaas cleanup` with sufficient rights"),
            );
            return report;
        }
    };
    let ns_set: BTreeSet<&str> = ns_names.iter().map(String::as_str).collect();
    // Volumes provisioned for the run's claims: the claims vanish with the namespace, the volumes
    // only through their reclaim policy, so they are followed explicitly.
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let run_pvs: Vec<(String, bool)> = match pvs.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .into_iter()
            .filter(|pv| {
                let claim_ns = pv
                    .spec
                    .as_ref()
                    .and_then(|s| s.claim_ref.as_ref())
                    .and_then(|c| c.namespace.as_deref());
                claim_ns.is_some_and(|ns| ns_set.contains(ns))
            })
            .filter_map(|pv| {
                let retain = pv
                    .spec
                    .as_ref()
                    .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
                    == Some("Retain");
                pv.metadata.name.map(|n| (n, retain))
            })
            .collect(),
        Err(err) => {
            tracing::debug!("cannot list persistent volumes during cleanup: {err}");
            Vec::new()
        }
    };
    let foreground = DeleteParams::foreground();
    for ns in &ns_names {
        if let Err(err) = namespaces.delete(ns, &foreground).await
            && !is_not_found(&err)
        {
            tracing::warn!("deleting namespace {ns}: {err}");
        }
    }
    for ns in &ns_names {
        match wait_gone(namespaces.clone(), ns, &format!("namespace {ns} deleted"), left()).await {
            Ok(()) => report.removed.push(format!("namespace/{ns}")),
            Err(err) => report.findings.push(
                Finding::warn(LEAK_RULE, format!("probe namespace {ns} is still present after cleanup: {err}"))
                    .with_object(format!("namespace/{ns}"))
                    .with_fix(format!(
                        "check its finalizers and remaining content (`kubectl get all -n {ns}`), then run `scs-kaas cleanup`"
                    )),
            ),
        }
    }
    for (pv, retain) in &run_pvs {
        if *retain {
            if let Err(err) = pvs.delete(pv, &DeleteParams::default()).await
                && !is_not_found(&err)
            {
                tracing::warn!("deleting retained volume {pv}: {err}");
            }
            report.findings.push(
                Finding::info(
                    LEAK_RULE,
                    format!(
                        "volume {pv} has reclaimPolicy Retain; its PersistentVolume object was deleted, the backend volume may remain"
                    ),
                )
                .with_object(format!("persistentvolume/{pv}")),
            );
        }
        match wait_gone(pvs.clone(), pv, &format!("volume {pv} deleted"), left()).await {
            Ok(()) => report.removed.push(format!("persistentvolume/{pv}")),
            Err(err) => report.findings.push(
                Finding::warn(
                    LEAK_RULE,
                    format!("probe volume {pv} is still present after cleanup: {err}"),
                )
                .with_object(format!("persistentvolume/{pv}"))
                .with_fix(format!(
                    "inspect it with `kubectl describe pv {pv}` and delete it"
                )),
            ),
        }
    }
    report
}

/// Whether a kube error is a 404 (already gone).
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}
