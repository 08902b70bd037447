//! The cleanup guard: whatever a probe run created is removed on success, failure, timeout and
//! Ctrl-C, and whatever could not be removed becomes a finding naming the object.
//!
//! Objects are selected by the run-id label only (plus the volumes provisioned for claims in the
//! run's own namespaces), so cleanup can never touch an object the run did not create.
//! On the normal path the check calls [`ProbeGuard::cleanup`] and reports its findings. When the
//! check's future is dropped instead (the runner's timeout, Ctrl-C), `Drop` starts the same
//! cleanup as a detached task. [`ProbeGuard::cleanup`] itself runs as a tracked task too, so a
//! check dropped *while* it cleans up does not stop the cleanup half-way. Whoever ends the process
//! (the `check` and `demo` commands) awaits all of them with [`finish_cleanups`], which also hands
//! over the reports nobody was left to receive. A live guard counts as pending cleanup too,
//! because an aborted task drops its future (and so the guard) only some time after the abort
//! was requested.
//!
//! The bookkeeping is process-wide: one `scs-kaas` process is one run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, PersistentVolume};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use scs_kaas_core::finding::{Finding, Severity};
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::hold::{NamespaceHold, read_namespace};
use super::run::ProbeRun;
use super::wait::{WaitError, wait_gone};
use crate::check::Access;

/// Rule id of findings about objects a run left behind (CHECKS.md HARN-02).
pub const LEAK_RULE: &str = "HARN-02";

/// How long cleanup waits for deletions (namespace finalizers, volume release) by default.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(300);

static DETACHED: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);

/// Probe runs whose cleanup has not finished (live guards and cleanups in flight), by entry id.
static PENDING: LazyLock<Mutex<BTreeMap<u64, String>>> = LazyLock::new(Default::default);
static NEXT_ENTRY: AtomicU64 = AtomicU64::new(0);
/// Reports of cleanups that finished after whoever started them was gone.
static UNCLAIMED: LazyLock<Mutex<Vec<DetachedReport>>> = LazyLock::new(Default::default);

/// The rights a guard's cleanup uses: list, watch and delete the run's namespaces, and follow
/// the volumes provisioned for claims in them. Every active check declares these.
pub fn access() -> Vec<Access> {
    let mut v = Vec::new();
    for verb in ["list", "watch", "delete"] {
        v.push(Access::active(verb, "", "namespaces"));
        v.push(Access::active(verb, "", "persistentvolumes"));
    }
    v
}

/// One probe run whose cleanup is not done yet; removed from [`PENDING`] when dropped.
struct PendingEntry(u64);

impl PendingEntry {
    fn new(run: &ProbeRun) -> Self {
        let id = NEXT_ENTRY.fetch_add(1, Ordering::Relaxed);
        lock(&PENDING).insert(id, describe_run(run));
        PendingEntry(id)
    }
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        lock(&PENDING).remove(&self.0);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `probe run 0a1b2c3d of default-storage-class-check (namespace scs-kaas-…-0a1b2c3d)`.
fn describe_run(run: &ProbeRun) -> String {
    format!(
        "probe run {} of {} (namespace {})",
        run.run_id(),
        run.check(),
        run.namespace_name()
    )
}

fn record_unclaimed(run: &ProbeRun, report: CleanupReport) {
    for f in &report.findings {
        tracing::warn!("{}", f.log_line());
    }
    lock(&UNCLAIMED).push(DetachedReport {
        run: describe_run(run),
        report,
    });
}

/// The probe runs whose cleanup has not finished yet, e.g. `probe run 0a1b2c3d of
/// default-storage-class-check (namespace scs-kaas-default-storage-class-check-0a1b2c3d)`.
pub fn pending_cleanups() -> Vec<String> {
    lock(&PENDING).values().cloned().collect()
}

/// Whether cleanup tasks are running right now (a stopped check's, or one still removing).
pub fn cleanups_running() -> bool {
    !DETACHED.is_empty()
}

/// A cleanup that finished without anyone waiting for its report (the check was stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachedReport {
    /// The probe run, as [`pending_cleanups`] names it.
    pub run: String,
    /// What the cleanup removed and what it left.
    pub report: CleanupReport,
}

/// What [`finish_cleanups`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Reports of the cleanups nobody else received, in the order they finished.
    pub reports: Vec<DetachedReport>,
    /// Probe runs whose cleanup was still going when the wait ended (as [`pending_cleanups`]).
    pub unfinished: Vec<String>,
}

impl Finished {
    /// Warnings about objects left behind (HARN-02), over all reports.
    pub fn leaks(&self) -> impl Iterator<Item = &Finding> {
        self.reports
            .iter()
            .flat_map(|r| r.report.findings.iter())
            .filter(|f| f.severity >= Severity::Warn)
    }

    /// Whether everything was removed: no cleanup unfinished, no leftover reported.
    pub fn is_clean(&self) -> bool {
        self.unfinished.is_empty() && self.leaks().next().is_none()
    }
}

/// Wait until every live guard is gone and every cleanup it started has finished, at most
/// `timeout`; return the reports nobody received and what is still going.
///
/// Call it before the process exits (after a timeout or Ctrl-C), otherwise the runtime shuts
/// down with cleanups half done.
pub async fn finish_cleanups(timeout: Duration) -> Finished {
    DETACHED.close();
    let done = tokio::time::timeout(timeout, DETACHED.wait()).await.is_ok();
    DETACHED.reopen();
    Finished {
        reports: std::mem::take(&mut *lock(&UNCLAIMED)),
        unfinished: if done { Vec::new() } else { pending_cleanups() },
    }
}

/// [`finish_cleanups`], saying only whether none is left unfinished.
pub async fn finish_detached_cleanups(timeout: Duration) -> bool {
    finish_cleanups(timeout).await.unfinished.is_empty()
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
    /// A ClusterRole and ClusterRoleBinding of this name the run creates (cluster-scoped, so
    /// not removed with the namespace).
    cluster_rbac: Option<String>,
    armed: bool,
    /// Names the run in [`pending_cleanups`] until its cleanup is done (moved into the task
    /// that cleans up).
    entry: Option<PendingEntry>,
    /// Keeps [`finish_cleanups`] waiting while this guard lives (released after the cleanup
    /// task is spawned, which the tracker then follows).
    _pending: TaskTrackerToken,
}

impl ProbeGuard {
    /// A guard for `run`; cleanup waits at most `timeout` for deletions to complete.
    pub fn new(client: Client, run: ProbeRun, timeout: Duration) -> Self {
        ProbeGuard {
            client,
            entry: Some(PendingEntry::new(&run)),
            run,
            timeout,
            cluster_rbac: None,
            armed: true,
            _pending: DETACHED.token(),
        }
    }

    /// Also remove the ClusterRoleBinding and ClusterRole named `name` (call it before creating
    /// them, so an interruption in between still removes them).
    #[must_use]
    pub fn with_cluster_rbac(mut self, name: impl Into<String>) -> Self {
        self.cluster_rbac = Some(name.into());
        self
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
        let created = Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        tracing::info!(
            run = self.run.run_id(),
            check = self.run.check(),
            "created probe namespace {}",
            self.run.namespace_name()
        );
        Ok(created)
    }

    /// Delete everything the run created, wait until it is gone, and report leftovers.
    pub async fn cleanup(self) -> CleanupReport {
        let timeout = self.timeout;
        self.cleanup_within(timeout).await
    }

    /// Like [`cleanup`](Self::cleanup), but wait at most `timeout` (what is left of a deadline).
    ///
    /// The cleanup runs as a tracked task: if this future is dropped (the runner's deadline,
    /// Ctrl-C), the cleanup goes on and its report is handed to [`finish_cleanups`].
    pub async fn cleanup_within(mut self, timeout: Duration) -> CleanupReport {
        self.armed = false;
        let (tx, rx) = oneshot::channel();
        let (client, run, entry) = (self.client.clone(), self.run.clone(), self.entry.take());
        let rbac = self.cluster_rbac.clone();
        DETACHED.spawn(async move {
            let report = cleanup_run(&client, &run, rbac.as_deref(), timeout).await;
            if let Err(report) = tx.send(report) {
                record_unclaimed(&run, report);
            }
            drop(entry);
        });
        let mut claim = Claim {
            rx: Some(rx),
            run: self.run.clone(),
        };
        claim.wait().await
    }
}

/// The receiving end of a cleanup report; a report that arrives after its receiver was dropped
/// (or in the moment of dropping) goes to [`finish_cleanups`] instead of being lost.
struct Claim {
    rx: Option<oneshot::Receiver<CleanupReport>>,
    run: ProbeRun,
}

impl Claim {
    async fn wait(&mut self) -> CleanupReport {
        let Some(rx) = self.rx.as_mut() else {
            return CleanupReport::default();
        };
        let received = rx.await;
        self.rx = None;
        received.unwrap_or_else(|_| CleanupReport {
            removed: Vec::new(),
            findings: vec![
                Finding::warn(
                    LEAK_RULE,
                    format!(
                        "the cleanup of {} ended without a report (this is a bug in scs-kaas); objects may be left behind",
                        describe_run(&self.run)
                    ),
                )
                .with_object(format!("namespace/{}", self.run.namespace_name()))
                .with_fix("run `scs-kaas cleanup`"),
            ],
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take()
            && let Ok(report) = rx.try_recv()
        {
            record_unclaimed(&self.run, report);
        }
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (client, run, timeout) = (self.client.clone(), self.run.clone(), self.timeout);
        let rbac = self.cluster_rbac.clone();
        let entry = self.entry.take();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                tracing::info!(
                    run = run.run_id(),
                    "probe interrupted; cleaning up in the background"
                );
                DETACHED.spawn_on(
                    async move {
                        let report = cleanup_run(&client, &run, rbac.as_deref(), timeout).await;
                        record_unclaimed(&run, report);
                        drop(entry);
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

/// Why a deletion is held, from the last state seen: pending finalizers, the namespace's
/// conditions (`NamespaceFinalizersRemaining`, ...), e.g. `; held by finalizers [example.com/x]`.
fn held_by(meta: &ObjectMeta, conditions: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(f) = meta.finalizers.as_ref().filter(|f| !f.is_empty()) {
        parts.push(format!("held by finalizers [{}]", f.join(", ")));
    }
    parts.extend(conditions.iter().cloned());
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    }
}

/// Delete the ClusterRoleBinding and ClusterRole `name` if they carry the run's labels (a run
/// never touches what it did not create); report what could not be removed.
async fn cleanup_cluster_rbac(
    client: &Client,
    run: &ProbeRun,
    name: &str,
    report: &mut CleanupReport,
) {
    async fn remove<K>(
        api: Api<K>,
        run: &ProbeRun,
        name: &str,
        kind: &str,
        report: &mut CleanupReport,
    ) where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let ours = match api.get_opt(name).await {
            Ok(None) => return,
            Ok(Some(obj)) => obj
                .meta()
                .labels
                .as_ref()
                .is_some_and(|l| run.labels().iter().all(|(k, v)| l.get(k) == Some(v))),
            Err(err) => {
                report.findings.push(
                    Finding::warn(LEAK_RULE, format!("cannot read {kind} {name} of probe run {}: {err}; it may be left behind", run.run_id()))
                        .with_object(format!("{kind}/{name}"))
                        .with_fix(format!("kubectl delete {kind} {name}")),
                );
                return;
            }
        };
        if !ours {
            return;
        }
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => report.removed.push(format!("{kind}/{name}")),
            Err(err) if is_not_found(&err) => {}
            Err(err) => report.findings.push(
                Finding::warn(
                    LEAK_RULE,
                    format!("probe {kind} {name} could not be removed: {err}"),
                )
                .with_object(format!("{kind}/{name}"))
                .with_fix(format!("kubectl delete {kind} {name}")),
            ),
        }
    }
    remove(
        Api::<ClusterRoleBinding>::all(client.clone()),
        run,
        name,
        "clusterrolebinding",
        report,
    )
    .await;
    remove(
        Api::<ClusterRole>::all(client.clone()),
        run,
        name,
        "clusterrole",
        report,
    )
    .await;
}

/// Delete the namespaces labelled with the run id and the volumes provisioned for their claims
/// (and the run's ClusterRole and ClusterRoleBinding `cluster_rbac`, if it has them); wait for
/// them to disappear; report what could not be removed.
pub async fn cleanup_run(
    client: &Client,
    run: &ProbeRun,
    cluster_rbac: Option<&str>,
    timeout: Duration,
) -> CleanupReport {
    let mut report = CleanupReport::default();
    if let Some(name) = cluster_rbac {
        cleanup_cluster_rbac(client, run, name, &mut report).await;
    }
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
    if ns_names.is_empty() {
        // Nothing was created (or it is gone already): no volumes can belong to the run.
        return report;
    }
    let ns_set: BTreeSet<&str> = ns_names.iter().map(String::as_str).collect();
    // Volumes provisioned for the run's claims: the claims vanish with the namespace, the volumes
    // only through their reclaim policy, so they are followed explicitly.
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let run_pvs: Vec<(String, String, bool)> = match pvs.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|pv| {
                let spec = pv.spec?;
                let claim_ns = spec
                    .claim_ref?
                    .namespace
                    .filter(|ns| ns_set.contains(ns.as_str()))?;
                let retain = spec.persistent_volume_reclaim_policy.as_deref() == Some("Retain");
                Some((pv.metadata.name?, claim_ns, retain))
            })
            .collect(),
        Err(err) => {
            report.findings.push(
                Finding::warn(
                    LEAK_RULE,
                    format!(
                        "cannot list persistent volumes to follow those of probe run {}: {err}; volumes provisioned for its claims may be left behind",
                        run.run_id()
                    ),
                )
                .with_fix("grant `list persistentvolumes` (deploy/rbac.yaml) and check for volumes whose claim was in a scs-kaas namespace"),
            );
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
    let mut held_namespaces = BTreeSet::new();
    for ns in &ns_names {
        match wait_gone(
            namespaces.clone(),
            ns,
            &format!("namespace {ns} deleted"),
            left(),
        )
        .await
        {
            Ok(()) => report.removed.push(format!("namespace/{ns}")),
            Err(err) => {
                // Look again: what holds it now, not when the wait began.
                let seen = match read_namespace(client, ns).await {
                    Ok(Some(now)) => Some(now),
                    Ok(None) => {
                        report.removed.push(format!("namespace/{ns}"));
                        continue;
                    }
                    Err(_) => match &err {
                        WaitError::Timeout { last, .. } => last.as_deref().cloned(),
                        _ => None,
                    },
                };
                held_namespaces.insert(ns.as_str());
                let (held, fix) = match seen.filter(|n| n.metadata.deletion_timestamp.is_some()) {
                    Some(terminating) => {
                        let hold = NamespaceHold::inspect(client, &terminating).await;
                        (format!("; {}", hold.reason()), hold.fix())
                    }
                    None => (
                        String::new(),
                        format!(
                            "check its finalizers and remaining content (`kubectl get all -n {ns}`), then run `scs-kaas cleanup`"
                        ),
                    ),
                };
                report.findings.push(
                    Finding::warn(
                        LEAK_RULE,
                        format!("probe namespace {ns} is still present after cleanup: {err}{held}"),
                    )
                    .with_object(format!("namespace/{ns}"))
                    .with_fix(fix),
                );
            }
        }
    }
    for (pv, claim_ns, retain) in &run_pvs {
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
            Err(err) if held_namespaces.contains(claim_ns.as_str()) => {
                // Its claim is in a namespace that did not go: the volume waits for the claim,
                // and the namespace's warning says what holds it.
                report.findings.push(
                    Finding::warn(
                        LEAK_RULE,
                        format!(
                            "probe volume {pv} is still present after cleanup: {err}; its claim in {claim_ns} is not gone yet (the warning about namespace {claim_ns} says what holds it), and the volume goes only after its claim"
                        ),
                    )
                    .with_object(format!("persistentvolume/{pv}"))
                    .with_fix(format!(
                        "release what holds namespace {claim_ns} (see its warning); then check with `kubectl get pv {pv}` that the volume is gone too"
                    )),
                )
            }
            Err(err) => {
                let held = match &err {
                    WaitError::Timeout {
                        last: Some(last), ..
                    } => held_by(&last.metadata, &[]),
                    _ => String::new(),
                };
                report.findings.push(
                    Finding::warn(
                        LEAK_RULE,
                        format!("probe volume {pv} is still present after cleanup: {err}{held}"),
                    )
                    .with_object(format!("persistentvolume/{pv}"))
                    .with_fix(format!(
                        "find out why it is not released (`kubectl describe pv {pv}`: the storage driver or controller owning its finalizers), then delete it with `kubectl delete pv {pv}`; `scs-kaas cleanup` does not delete volumes"
                    )),
                )
            }
        }
    }
    report
}

/// Whether a kube error is a 404 (already gone).
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}
