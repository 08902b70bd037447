//! The native runner (hydrophone-style): in a probe namespace `scs-kaas-<check>-<run id>`, a
//! ServiceAccount `scs-kaas-e2e` bound by a ClusterRoleBinding to a ClusterRole
//! named like the namespace (every verb on every resource, `get` on `/metrics`, `/logs`,
//! `/logs/*`; labelled like the namespace), and one pod `e2e`: container `conformance` runs
//! `registry.k8s.io/conformance:v<server version>`, container `output` (busybox) sleeps; both
//! share an `emptyDir` at `/tmp/results`.
//!
//! The runner waits (watch, deadline) until `conformance` terminated, following its log for
//! progress, then fetches `junit_01.xml` and `e2e.log` with `exec cat` in `output` and removes
//! everything through the probe guard (also on timeout and Ctrl-C).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::AsyncBufReadExt;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, EmptyDirVolumeSource, EnvVar, Pod, PodSpec, ServiceAccount, Volume,
    VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::api::{AttachParams, LogParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use scs_kaas_core::finding::{Finding, Outcome};
use scs_kaas_core::k8s_version::K8sVersion;
use tokio::io::AsyncWriteExt;

use super::e2e_log::LogScanner;
use super::judge::RESULTS_RULE;
use super::results::{self, Artifacts, Evidence};
use super::suite::Suite;
use crate::check::{Access, CheckContext};
use crate::probe::guard::DEFAULT_CLEANUP_TIMEOUT;
use crate::probe::image::{ImageSource, MIRROR_ARG};
use crate::probe::wait::{WaitError, wait_for};
use crate::probe::{ProbeGuard, ProbeRun};

/// The ServiceAccount the suite runs as.
pub const SERVICE_ACCOUNT: &str = "scs-kaas-e2e";
/// The pod's name.
pub const POD: &str = "e2e";
/// The container running the suite.
pub const CONFORMANCE_CONTAINER: &str = "conformance";
/// The container the results are read from.
pub const OUTPUT_CONTAINER: &str = "output";
/// Where both containers mount the shared results volume.
pub const RESULTS_DIR: &str = "/tmp/results";
/// The output container's image (below the registry or `image_mirror`).
pub const BUSYBOX: &str = "e2e-test-images/busybox:1.36.1-1";
/// Waiting reasons that mean the image will not come.
const PULL_FAILURES: [&str; 3] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/// How the suite runs: image, selection, parallelism.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `-a conformance_image=`, if given.
    pub image: Option<String>,
    /// Where images come from (`-a image_mirror=`).
    pub mirror: ImageSource,
    /// `E2E_FOCUS`.
    pub focus: String,
    /// `E2E_SKIP`.
    pub skip: String,
    /// Parallel ginkgo processes (1 = serial).
    pub parallel: u32,
}

impl RunSettings {
    /// Parse the run assignments for `suite`.
    pub fn from_ctx(ctx: &CheckContext, suite: Suite) -> Result<Self, String> {
        let mirror = ImageSource::from_arg(ctx.arg(MIRROR_ARG)).map_err(|e| e.to_string())?;
        let image = match ctx.arg("conformance_image") {
            Some(s) if s.trim().is_empty() || s.chars().any(char::is_whitespace) => {
                return Err(format!(
                    "conformance_image={s:?} is not an image reference; give e.g. -a conformance_image=registry.example.com/conformance:v1.33.5"
                ));
            }
            other => other.map(str::to_string),
        };
        let regex = |key: &str, default: &str| -> Result<String, String> {
            match ctx.arg(key) {
                None => Ok(default.to_string()),
                Some(v) => regex::Regex::new(v).map(|_| v.to_string()).map_err(|e| {
                    format!("{key}={v:?} is not a regular expression ({e}); give e.g. -a {key}=NetworkPolicy")
                }),
            }
        };
        let parallel = match ctx.arg("e2e_parallel") {
            None => 1,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    format!("e2e_parallel={v:?} is not a number of processes from 1 to 64; give e.g. -a e2e_parallel=4")
                })?,
        };
        Ok(RunSettings {
            image,
            mirror,
            focus: regex("e2e_focus", suite.focus())?,
            skip: regex("e2e_skip", suite.skip())?,
            parallel,
        })
    }

    /// The conformance image for a cluster at `cluster`.
    pub fn image(&self, cluster: &K8sVersion) -> String {
        self.image.clone().unwrap_or_else(|| {
            format!(
                "{}/conformance:{}",
                self.mirror.registry(),
                cluster.upstream()
            )
        })
    }

    /// The suite's environment (hydrophone's variables).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("E2E_FOCUS".to_string(), self.focus.clone()),
            ("E2E_SKIP".to_string(), self.skip.clone()),
            ("E2E_PROVIDER".to_string(), "skeleton".to_string()),
            ("E2E_USE_GO_RUNNER".to_string(), "true".to_string()),
            (
                "E2E_EXTRA_ARGS".to_string(),
                "--ginkgo.flake-attempts=2".to_string(),
            ),
            ("RESULTS_DIR".to_string(), RESULTS_DIR.to_string()),
        ];
        // `-v`: without it ginkgo writes compact `SS•S` progress and no version lines, so neither
        // the progress display nor the version check (E2E-02) could read e2e.log.
        if self.parallel > 1 {
            env.push((
                "E2E_EXTRA_GINKGO_ARGS".to_string(),
                format!("-v --procs={}", self.parallel),
            ));
            env.push(("E2E_PARALLEL".to_string(), "true".to_string()));
        } else {
            env.push(("E2E_EXTRA_GINKGO_ARGS".to_string(), "-v".to_string()));
            env.push(("E2E_PARALLEL".to_string(), "false".to_string()));
        }
        env
    }
}

/// The rights the native runner needs (all only for its active part).
pub fn access() -> Vec<Access> {
    let mut v = vec![
        Access::active("create", "", "namespaces"),
        Access::active("create", "", "serviceaccounts"),
        Access::active("create", "", "pods"),
        Access::active("get", "", "pods"),
        Access::active("watch", "", "pods"),
        Access::active("get", "", "pods/log"),
        Access::active("create", "", "pods/exec"),
        Access::active("get", "", "pods/exec"),
    ];
    for kind in ["clusterroles", "clusterrolebindings"] {
        for verb in ["create", "get", "delete"] {
            v.push(Access::active(verb, "rbac.authorization.k8s.io", kind));
        }
    }
    for a in crate::probe::guard::access() {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

/// The name of the run's ClusterRole and ClusterRoleBinding: the probe namespace's name, so the two
/// e2e checks of one run (same run id, running concurrently) never collide.
pub fn rbac_name(run: &ProbeRun) -> String {
    run.namespace_name()
}

fn meta(run: &ProbeRun, name: &str, namespace: Option<String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace,
        labels: Some(run.labels()),
        annotations: Some(run.annotations()),
        ..ObjectMeta::default()
    }
}

/// The ClusterRole: every verb on every resource, `get` on the log and metrics URLs.
pub fn cluster_role(run: &ProbeRun) -> ClusterRole {
    ClusterRole {
        metadata: meta(run, &rbac_name(run), None),
        rules: Some(vec![
            PolicyRule {
                api_groups: Some(vec!["*".into()]),
                resources: Some(vec!["*".into()]),
                verbs: vec!["*".into()],
                ..PolicyRule::default()
            },
            PolicyRule {
                non_resource_urls: Some(vec!["/metrics".into(), "/logs".into(), "/logs/*".into()]),
                verbs: vec!["get".into()],
                ..PolicyRule::default()
            },
        ]),
        ..ClusterRole::default()
    }
}

/// The binding of the ClusterRole to the run's ServiceAccount.
pub fn cluster_role_binding(run: &ProbeRun) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(run, &rbac_name(run), None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: rbac_name(run),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: SERVICE_ACCOUNT.into(),
            namespace: Some(run.namespace_name()),
            ..Subject::default()
        }]),
    }
}

/// The pod: the suite and the output container sharing the results volume.
pub fn pod(run: &ProbeRun, settings: &RunSettings, cluster: &K8sVersion) -> Pod {
    let mount = VolumeMount {
        name: "results".into(),
        mount_path: RESULTS_DIR.into(),
        ..VolumeMount::default()
    };
    let env = settings
        .env()
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..EnvVar::default()
        })
        .collect();
    Pod {
        metadata: meta(run, POD, Some(run.namespace_name())),
        spec: Some(PodSpec {
            service_account_name: Some(SERVICE_ACCOUNT.into()),
            restart_policy: Some("Never".into()),
            containers: vec![
                Container {
                    name: CONFORMANCE_CONTAINER.into(),
                    image: Some(settings.image(cluster)),
                    image_pull_policy: Some("IfNotPresent".into()),
                    env: Some(env),
                    volume_mounts: Some(vec![mount.clone()]),
                    ..Container::default()
                },
                Container {
                    name: OUTPUT_CONTAINER.into(),
                    image: Some(format!("{}/{BUSYBOX}", settings.mirror.registry())),
                    image_pull_policy: Some("IfNotPresent".into()),
                    command: Some(vec!["sh".into(), "-c".into(), "sleep 2147483647".into()]),
                    volume_mounts: Some(vec![mount]),
                    ..Container::default()
                },
            ],
            volumes: Some(vec![Volume {
                name: "results".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// The state of the conformance container, if reported.
fn conformance_state(pod: &Pod) -> Option<&ContainerState> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONFORMANCE_CONTAINER)?
        .state
        .as_ref()
}

/// What the conformance container is doing, for the runner's decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet (scheduling, pulling).
    Pending,
    /// The image cannot be pulled: the waiting reason and message.
    PullFailed(String),
    /// Running.
    Running,
    /// Ended with this exit code.
    Terminated(i32),
}

/// The phase of the conformance container in `pod`.
pub fn phase(pod: &Pod) -> Phase {
    match conformance_state(pod) {
        Some(s) if s.terminated.is_some() => {
            Phase::Terminated(s.terminated.as_ref().map_or(0, |t| t.exit_code))
        }
        Some(s) if s.running.is_some() => Phase::Running,
        Some(s) => match s.waiting.as_ref() {
            Some(w) if PULL_FAILURES.contains(&w.reason.as_deref().unwrap_or("")) => {
                Phase::PullFailed(format!(
                    "{}{}",
                    w.reason.as_deref().unwrap_or(""),
                    w.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ))
            }
            _ => Phase::Pending,
        },
        None => Phase::Pending,
    }
}

/// `done / total, ETA` from the log so far and the time since the first spec.
pub fn progress_line(done: usize, total: Option<usize>, elapsed: Duration) -> String {
    match total {
        Some(total) if total > 0 && done > 0 => {
            let left = total.saturating_sub(done) as u64;
            let per = elapsed.as_secs_f64() / done as f64;
            let eta = Duration::from_secs((per * left as f64) as u64);
            format!(
                "{done}/{total} specs, ETA {}",
                crate::runner::exec::humanize(eta)
            )
        }
        Some(total) => format!("{done}/{total} specs"),
        None => format!("{done} specs"),
    }
}

/// Run the suite in a pod; the evidence, or ABORT with the cause.
pub async fn run(
    ctx: &CheckContext,
    suite: Suite,
    settings: &RunSettings,
    cluster: &K8sVersion,
    dir: &Path,
    notes: &mut Vec<Finding>,
) -> Result<Evidence, Outcome> {
    let abort = |why: String| Outcome::abort(RESULTS_RULE, why);
    let lacking = ctx.lacking(&access());
    if !lacking.is_empty() {
        return Err(abort(format!(
            "the e2e suite was not run (nothing was created): the user lacks {}; run it as a cluster admin, or judge existing results with -a conformance_results=PATH",
            lacking.join(", ")
        )));
    }
    let run = ProbeRun::new(&ctx.run_id, suite.id(), ctx.now)
        .map_err(|e| abort(format!("cannot name the probe run: {e}")))?;
    let guard = ProbeGuard::new(ctx.client.clone(), run.clone(), DEFAULT_CLEANUP_TIMEOUT)
        .with_cluster_rbac(rbac_name(&run));
    // Leave time for fetching and cleanup within the deadline (a fifth of it, at most 2 min).
    let margin = (ctx.deadline / 5).min(Duration::from_secs(120));
    let end = tokio::time::Instant::now() + ctx.deadline.saturating_sub(margin);
    let result = drive(&ctx.client, &run, &guard, settings, cluster, dir, end).await;
    let report = guard.cleanup().await;
    notes.extend(report.findings);
    result.map_err(abort)
}

async fn drive(
    client: &Client,
    run: &ProbeRun,
    guard: &ProbeGuard,
    settings: &RunSettings,
    cluster: &K8sVersion,
    dir: &Path,
    end: tokio::time::Instant,
) -> Result<Evidence, String> {
    let ns = run.namespace_name();
    let pp = PostParams::default();
    guard
        .create_namespace()
        .await
        .map_err(|e| format!("cannot create namespace {ns}: {e}"))?;
    let sa = ServiceAccount {
        metadata: meta(run, SERVICE_ACCOUNT, Some(ns.clone())),
        ..ServiceAccount::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .create(&pp, &sa)
        .await
        .map_err(|e| format!("cannot create ServiceAccount {ns}/{SERVICE_ACCOUNT}: {e}"))?;
    let rbac_fix = "the e2e suite needs every right; run scs-kaas as a cluster admin";
    Api::<ClusterRole>::all(client.clone())
        .create(&pp, &cluster_role(run))
        .await
        .map_err(|e| {
            format!(
                "cannot create ClusterRole {}: {e} ({rbac_fix})",
                rbac_name(run)
            )
        })?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&pp, &cluster_role_binding(run))
        .await
        .map_err(|e| {
            format!(
                "cannot create ClusterRoleBinding {}: {e} ({rbac_fix})",
                rbac_name(run)
            )
        })?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let image = settings.image(cluster);
    pods.create(&pp, &pod(run, settings, cluster))
        .await
        .map_err(|e| format!("cannot create pod {ns}/{POD}: {e}"))?;
    let left = || end.saturating_duration_since(tokio::time::Instant::now());
    let what = format!("the e2e suite in pod {ns}/{POD} to start");
    let started = wait_for(pods.clone(), POD, &what, left(), |p| {
        p.is_some_and(|p| phase(p) != Phase::Pending)
    })
    .await
    .map_err(|e| describe_wait(e, &image))?
    .ok_or_else(|| format!("pod {ns}/{POD} disappeared"))?;
    if let Phase::PullFailed(why) = phase(&started) {
        return Err(pull_failed(&image, &why));
    }
    // Follow the log for progress while waiting for the end.
    let follower = tokio::spawn(follow(
        pods.clone(),
        run.check().to_string(),
        crate::progress::current(),
    ));
    let what = format!("the e2e suite in pod {ns}/{POD} to finish");
    let finished = wait_for(pods.clone(), POD, &what, left(), |p| {
        p.is_some_and(|p| matches!(phase(p), Phase::Terminated(_) | Phase::PullFailed(_)))
    })
    .await;
    follower.abort();
    let finished = finished
        .map_err(|e| describe_wait(e, &image))?
        .ok_or_else(|| format!("pod {ns}/{POD} disappeared"))?;
    let exit = match phase(&finished) {
        Phase::PullFailed(why) => return Err(pull_failed(&image, &why)),
        Phase::Terminated(code) => code,
        _ => 0,
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let fetched = fetch(&pods, results::JUNIT, dir).await;
    if let Err(e) = &fetched {
        return Err(format!(
            "the conformance container ended (exit code {exit}) without readable results: {e}"
        ));
    }
    // The log is optional evidence; a missing one is judged as such.
    let _ = fetch(&pods, results::E2E_LOG, dir).await;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut artifacts = Artifacts::new(None);
        results::read_path(&dir, &mut artifacts)
    })
    .await
    .map_err(|e| format!("reading the results stopped: {e}"))?
    .map_err(|e| e.to_string())
}

fn pull_failed(image: &str, why: &str) -> String {
    format!(
        "the image {image} could not be pulled ({why}); make it reachable, or give a registry mirror with -a image_mirror=PREFIX (or the full image with -a conformance_image=)"
    )
}

fn describe_wait(e: WaitError<Pod>, image: &str) -> String {
    match e {
        WaitError::Timeout { what, after, last } => {
            let state = last
                .as_deref()
                .map(|p| format!(" (last state of the conformance container: {:?})", phase(p)))
                .unwrap_or_default();
            format!(
                "deadline: {what} took longer than {}{state}; image {image}; raise it with --timeout",
                crate::runner::exec::humanize(after)
            )
        }
        other => other.to_string(),
    }
}

/// Follow the conformance container's log and report progress (specs done / total, ETA).
async fn follow(pods: Api<Pod>, check: String, sink: Option<crate::progress::ProgressSink>) {
    let lp = LogParams {
        container: Some(CONFORMANCE_CONTAINER.into()),
        follow: true,
        ..LogParams::default()
    };
    let Ok(stream) = pods.log_stream(POD, &lp).await else {
        return;
    };
    let mut lines = stream.lines();
    let mut scanner = LogScanner::default();
    let started = Instant::now();
    let mut shown = usize::MAX;
    while let Some(Ok(line)) = futures::StreamExt::next(&mut lines).await {
        scanner.feed(&line);
        let h = scanner.header();
        if h.done != shown {
            shown = h.done;
            let line = progress_line(h.done, h.will_run.map(|(n, _)| n), started.elapsed());
            tracing::info!("{check}: {line}");
            if let Some(sink) = &sink {
                sink.report(line);
            }
        }
    }
}

/// Copy `RESULTS_DIR/name` out of the output container into `dir/name` with `exec cat`.
async fn fetch(pods: &Api<Pod>, name: &str, dir: &Path) -> Result<(), String> {
    let path = format!("{RESULTS_DIR}/{name}");
    let ap = AttachParams::default()
        .container(OUTPUT_CONTAINER)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut proc = pods
        .exec(POD, ["cat", path.as_str()], &ap)
        .await
        .map_err(|e| format!("exec `cat {path}` in {OUTPUT_CONTAINER}: {e}"))?;
    let mut stdout = proc
        .stdout()
        .ok_or_else(|| "exec gave no stdout".to_string())?;
    let status = proc.take_status();
    let target = dir.join(name);
    let mut file = tokio::fs::File::create(&target)
        .await
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    let copied = tokio::io::copy(&mut stdout, &mut file)
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    file.flush().await.map_err(|e| e.to_string())?;
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = proc.join().await;
    if let Some(s) = status
        && s.status.as_deref() == Some("Failure")
    {
        let _ = std::fs::remove_file(&target);
        return Err(format!(
            "`cat {path}` failed: {}",
            s.message.unwrap_or_default()
        ));
    }
    if copied == 0 {
        let _ = std::fs::remove_file(&target);
        return Err(format!("{path} is empty or missing"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodStatus,
    };
    use std::collections::BTreeMap;

    fn run() -> ProbeRun {
        ProbeRun::new(
            "0a1b2c3d",
            "cncf-k8s-conformance",
            "2026-12-01T08:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    fn settings() -> RunSettings {
        RunSettings {
            image: None,
            mirror: ImageSource::default(),
            focus: Suite::Conformance.focus().into(),
            skip: String::new(),
            parallel: 1,
        }
    }

    #[test]
    fn the_pod_follows_the_contract() {
        let v = K8sVersion::parse("v1.33.5+k3s1").unwrap();
        let p = pod(&run(), &settings(), &v);
        assert_eq!(p.metadata.name.as_deref(), Some("e2e"));
        assert_eq!(
            p.metadata.namespace.as_deref(),
            Some("scs-kaas-cncf-k8s-conformance-0a1b2c3d")
        );
        let spec = p.spec.unwrap();
        assert_eq!(spec.service_account_name.as_deref(), Some("scs-kaas-e2e"));
        let c = &spec.containers[0];
        assert_eq!(c.name, "conformance");
        assert_eq!(
            c.image.as_deref(),
            Some("registry.k8s.io/conformance:v1.33.5")
        );
        let env: BTreeMap<_, _> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(env["E2E_FOCUS"], r"\[Conformance\]");
        assert_eq!(env["E2E_SKIP"], "");
        assert_eq!(env["E2E_PROVIDER"], "skeleton");
        assert_eq!(env["E2E_USE_GO_RUNNER"], "true");
        assert_eq!(env["E2E_EXTRA_ARGS"], "--ginkgo.flake-attempts=2");
        assert_eq!(env["RESULTS_DIR"], "/tmp/results");
        assert_eq!(spec.containers[1].name, "output");
        assert_eq!(
            spec.containers[1].volume_mounts.as_ref().unwrap()[0].mount_path,
            "/tmp/results"
        );
        assert!(spec.volumes.unwrap()[0].empty_dir.is_some());
    }

    #[test]
    fn mirror_parallelism_and_image_override() {
        let v = K8sVersion::parse("v1.34.2").unwrap();
        let mut s = settings();
        s.mirror = ImageSource::from_arg(Some("registry.example.com/mirror")).unwrap();
        s.parallel = 4;
        assert_eq!(
            s.image(&v),
            "registry.example.com/mirror/conformance:v1.34.2"
        );
        let env: BTreeMap<_, _> = s.env().into_iter().collect();
        assert_eq!(env["E2E_EXTRA_GINKGO_ARGS"], "-v --procs=4");
        assert_eq!(env["E2E_PARALLEL"], "true");
        s.image = Some("x.example/conf:v1".into());
        assert_eq!(s.image(&v), "x.example/conf:v1");
    }

    #[test]
    fn cluster_rbac_is_labelled_and_binds_the_service_account() {
        let r = run();
        let role = cluster_role(&r);
        assert_eq!(
            role.metadata.name.as_deref(),
            Some("scs-kaas-cncf-k8s-conformance-0a1b2c3d")
        );
        assert_eq!(role.metadata.labels.as_ref(), Some(&r.labels()));
        let rules = role.rules.unwrap();
        assert_eq!(rules[0].verbs, ["*"]);
        assert_eq!(
            rules[1].non_resource_urls.as_deref().unwrap(),
            ["/metrics", "/logs", "/logs/*"]
        );
        let b = cluster_role_binding(&r);
        assert_eq!(b.role_ref.name, "scs-kaas-cncf-k8s-conformance-0a1b2c3d");
        let s = &b.subjects.unwrap()[0];
        assert_eq!(
            (s.name.as_str(), s.namespace.as_deref()),
            (
                "scs-kaas-e2e",
                Some("scs-kaas-cncf-k8s-conformance-0a1b2c3d")
            )
        );
    }

    fn with_state(state: ContainerState) -> Pod {
        Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: "conformance".into(),
                    state: Some(state),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn phases_of_the_conformance_container() {
        assert_eq!(phase(&Pod::default()), Phase::Pending);
        let pull = with_state(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("ImagePullBackOff".into()),
                message: Some("Back-off pulling image".into()),
            }),
            ..ContainerState::default()
        });
        assert_eq!(
            phase(&pull),
            Phase::PullFailed("ImagePullBackOff: Back-off pulling image".into())
        );
        let creating = with_state(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("ContainerCreating".into()),
                message: None,
            }),
            ..ContainerState::default()
        });
        assert_eq!(phase(&creating), Phase::Pending);
        let done = with_state(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 1,
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        });
        assert_eq!(phase(&done), Phase::Terminated(1));
        let msg = pull_failed("registry.k8s.io/conformance:v1.33.5", "ErrImagePull");
        assert!(msg.contains("registry.k8s.io/conformance:v1.33.5"));
        assert!(msg.contains("image_mirror"));
    }

    #[test]
    fn progress_shows_done_total_and_eta() {
        assert_eq!(
            progress_line(100, Some(400), Duration::from_secs(600)),
            format!(
                "100/400 specs, ETA {}",
                crate::runner::exec::humanize(Duration::from_secs(1800))
            )
        );
        assert_eq!(progress_line(0, Some(400), Duration::ZERO), "0/400 specs");
    }
}
