//! `default-storage-class-check` (scs-0211 v1/v2, CHECKS.md §4, SC-01..SC-09).
//!
//! Read-only part: StorageClasses, CSIDrivers and PersistentVolumes, judged by [`judge`].
//! Active part, in a namespace of its own: a claim **without** `storageClassName` (so defaulting
//! is what is tested), ReadWriteOnce, must be bound by the deadline; its volume must not be
//! local, hostPath or pinned to a host; a pod writes a marker, and when two schedulable nodes
//! exist a second pod on another node reads it back.
//!
//! Assignments: `storage_class_semantics=v1|v2` (default v1, the stable version),
//! `multiple_default_severity=error|warn` (default error), `storage_probe=on|off` (default on),
//! `storage_timeout=DURATION` (per wait, default 5m), `image_mirror=PREFIX`.

pub mod judge;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod,
    VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use scs_kaas_core::finding::{Finding, Outcome, Severity, Status};

use super::assign;
use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use crate::probe::guard::DEFAULT_CLEANUP_TIMEOUT;
use crate::probe::image::{AGNHOST, ImageSource, MIRROR_ARG};
use crate::probe::pod::{HOSTNAME_LABEL, ProbePod};
use crate::probe::wait::{WaitError, wait_for, wait_gone};
use crate::probe::{ProbeGuard, ProbeRun};
use judge::{Inventory, Observation, PodEnd, Rules, Semantics};

/// The check id (SCS testcase id).
pub const ID: &str = "default-storage-class-check";

/// Annotation of the simulated cluster's probe protocol (real clusters ignore it).
const PROBE_ANNOTATION: &str = "scs-kaas.io/probe";
/// Where probe pods mount the claim.
const MOUNT: &str = "/data";
/// The probe claim's name.
const CLAIM: &str = "sc-probe";

/// The default storage class check.
pub struct DefaultStorageClass;

/// Parsed assignments of this check.
#[derive(Debug, Clone)]
struct Options {
    rules: Rules,
    probe: bool,
    timeout: Duration,
    images: ImageSource,
}

impl Options {
    fn from_args(args: &BTreeMap<String, String>) -> Result<Options, String> {
        let get = |k: &str| args.get(k).map(String::as_str);
        let semantics = match get("storage_class_semantics") {
            None | Some("v1" | "scs-0211-v1") => Semantics::V1,
            Some("v2" | "scs-0211-v2") => Semantics::V2,
            Some(other) => {
                return Err(format!(
                    "storage_class_semantics={other:?} is not v1 or v2; pass -a storage_class_semantics=v1 or =v2"
                ));
            }
        };
        let multiple_defaults = match get("multiple_default_severity") {
            None | Some("error" | "fail") => Severity::Error,
            Some("warn") => Severity::Warn,
            Some(other) => {
                return Err(format!(
                    "multiple_default_severity={other:?} is not warn or error; pass -a multiple_default_severity=warn or =error"
                ));
            }
        };
        let probe = assign::on_off("storage_probe", get("storage_probe"))?;
        let timeout = assign::duration(
            "storage_timeout",
            get("storage_timeout"),
            Duration::from_secs(300),
            "5m",
        )?;
        let images = ImageSource::from_arg(get(MIRROR_ARG)).map_err(|e| e.to_string())?;
        Ok(Options {
            rules: Rules {
                semantics,
                multiple_defaults,
            },
            probe,
            timeout,
            images,
        })
    }
}

/// Rights of the read-only part.
fn read_access() -> Vec<Access> {
    vec![
        Access::read("list", "storage.k8s.io", "storageclasses"),
        Access::read("list", "storage.k8s.io", "csidrivers"),
        Access::read("list", "", "persistentvolumes"),
    ]
}

/// Rights of the active part.
fn active_access() -> Vec<Access> {
    let mut v = Vec::new();
    for verb in ["create", "list", "watch", "delete"] {
        v.push(Access::active(verb, "", "namespaces"));
        v.push(Access::active(verb, "", "pods"));
    }
    for verb in ["create", "list", "watch"] {
        v.push(Access::active(verb, "", "persistentvolumeclaims"));
    }
    for verb in ["get", "watch", "delete"] {
        v.push(Access::active(verb, "", "persistentvolumes"));
    }
    v.push(Access::active("list", "", "nodes"));
    for a in crate::probe::guard::access() {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

/// Every rule this check judges (`scs-kaas checks ID`).
const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "SC-00",
        severity: "ABORT",
        summary: "the StorageClasses cannot be read, or a bad assignment",
    },
    RuleDoc {
        id: "SC-01",
        severity: "FAIL|WARN|INFO",
        summary: "a class is annotated storageclass.kubernetes.io/is-default-class=true (FAIL when none; FAIL when only the legacy beta annotation marks it)",
    },
    RuleDoc {
        id: "SC-02",
        severity: "FAIL|WARN",
        summary: "exactly one default class (FAIL for several; -a multiple_default_severity=warn lowers it)",
    },
    RuleDoc {
        id: "SC-03",
        severity: "FAIL|WARN",
        summary: "the default class provisions dynamically (FAIL for kubernetes.io/no-provisioner, WARN for in-tree provisioners)",
    },
    RuleDoc {
        id: "SC-04",
        severity: "FAIL|INFO",
        summary: "probe: a claim without storageClassName gets the default class, binds (ReadWriteOnce) within storage_timeout and a pod can write to it",
    },
    RuleDoc {
        id: "SC-05",
        severity: "FAIL|WARN|INFO",
        summary: "volumes of the default class are not local, hostPath or pinned to a host, and data written on one node is readable from another (probe); FAIL under v1, WARN under v2",
    },
    RuleDoc {
        id: "SC-06",
        severity: "FAIL|WARN",
        summary: "the default provisioner is not known to provision node-local storage (FAIL under v1, WARN under v2)",
    },
    RuleDoc {
        id: "SC-07",
        severity: "WARN|INFO",
        summary: "protection against disk or host loss: WARN for a single-replica Longhorn class, otherwise INFO (the provider attests it)",
    },
    RuleDoc {
        id: "SC-08",
        severity: "INFO",
        summary: "whether the default class allows volume expansion (a MAY in scs-0211-v2)",
    },
    RuleDoc {
        id: "SC-09",
        severity: "INFO",
        summary: "binding mode and reclaim policy of the default class",
    },
    RuleDoc {
        id: "HARN-02",
        severity: "WARN",
        summary: "a probe object could not be removed (named, with the fix)",
    },
];

/// Every `-a` key this check reads.
const ASSIGNMENTS: &[AssignmentDoc] = &[
    AssignmentDoc {
        key: "storage_class_semantics",
        default: "v1",
        accepted: "v1|v2",
        help: "scs-0211 edition: v1 makes durability a MUST (FAIL), v2 a SHOULD (WARN)",
    },
    AssignmentDoc {
        key: "multiple_default_severity",
        default: "error",
        accepted: "error|warn",
        help: "severity of several default classes (SC-02)",
    },
    AssignmentDoc {
        key: "storage_probe",
        default: "on",
        accepted: "on|off",
        help: "whether the active probe (claim, pods) runs",
    },
    AssignmentDoc {
        key: "storage_timeout",
        default: "5m",
        accepted: "DURATION (90s, 5m)",
        help: "how long each wait of the probe may take",
    },
    AssignmentDoc {
        key: MIRROR_ARG,
        default: "",
        accepted: "registry PREFIX",
        help: "registry prefix the probe images are pulled from (air-gapped clusters)",
    },
];

impl Check for DefaultStorageClass {
    fn id(&self) -> &'static str {
        ID
    }

    fn standard(&self) -> &'static str {
        "scs-0211-v1"
    }

    fn description(&self) -> &'static str {
        "A default StorageClass exists (exactly one), provisions dynamically, and its volumes are \
         ReadWriteOnce and not tied to a node: judged from StorageClasses, CSIDrivers and volumes, \
         and proven by a claim without a class that must bind and whose data must be readable \
         from another node"
    }

    fn mode(&self) -> Mode {
        Mode::Active
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn access(&self) -> Vec<Access> {
        let mut v = read_access();
        v.extend(active_access());
        v
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(run(ctx))
    }
}

async fn run(ctx: &CheckContext) -> Outcome {
    let end = tokio::time::Instant::now() + ctx.deadline;
    let opts = match Options::from_args(&ctx.args) {
        Ok(o) => o,
        Err(msg) => return Outcome::abort("SC-00", msg),
    };
    let inventory = match gather(&ctx.client).await {
        Ok(inv) => inv,
        Err(err) => {
            return Outcome::abort(
                "SC-00",
                format!("cannot read StorageClasses, CSIDrivers or PersistentVolumes: {err}"),
            );
        }
    };
    let mut findings = judge::judge_inventory(&inventory, &opts.rules);
    let defaults = judge::default_classes(&inventory.classes);
    if !opts.probe {
        findings.push(Finding::info(
            "SC-04",
            "active probe switched off (storage_probe=off): defaulting, binding and cross-node reads not tested",
        ));
        return Outcome::from_findings(findings);
    }
    if defaults.is_empty() {
        findings.push(Finding::info(
            "SC-04",
            "active probe not run: there is no default class to test",
        ));
        return Outcome::from_findings(findings);
    }
    let (observed, cleanup) = active(ctx, &opts, end).await;
    match observed {
        Ok(obs) => {
            findings.extend(judge::judge_observation(&obs, &defaults, &opts.rules));
            findings.extend(cleanup);
            Outcome::from_findings(findings)
        }
        Err(reason) => {
            // The cluster already fails on what could be read: that verdict stands.
            let failed = findings.iter().any(|f| f.severity == Severity::Error);
            findings.push(Finding::error("SC-04", reason));
            findings.extend(cleanup);
            let status = if failed { Status::Fail } else { Status::Abort };
            Outcome { status, findings }
        }
    }
}

/// Read the objects the read-only part judges. Volumes are paged so memory stays flat.
async fn gather(client: &Client) -> Result<Inventory, kube::Error> {
    let classes = Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let drivers = Api::<CSIDriver>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let defaults: Vec<String> = judge::default_classes(&classes)
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    // Only volumes of a default class matter; keep just those while paging.
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let mut volumes = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = pvs.list(&params).await?;
        volumes.extend(page.items.into_iter().filter(|pv| {
            pv.spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_ref())
                .is_some_and(|c| defaults.contains(c))
        }));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok(Inventory {
        classes,
        drivers,
        volumes,
    })
}

/// When the probe must stop so cleanup still fits in the check's deadline `total`: a quarter of
/// it, at most [`CLEANUP_RESERVE`], is kept for deleting what the probe created.
fn probe_budget(total: Duration) -> Duration {
    total - (total / 4).min(CLEANUP_RESERVE)
}

/// Most time kept back from the probe for cleanup.
const CLEANUP_RESERVE: Duration = Duration::from_secs(120);

/// Run the active probe and clean up after it: the observation, or the reason it could not be
/// judged (ABORT of the active part), and the cleanup's findings (leftovers).
///
/// The probe stops early enough that its own cleanup finishes before `end` (the check's
/// deadline), so a run that hits `--timeout` still removes what it created.
async fn active(
    ctx: &CheckContext,
    opts: &Options,
    end: tokio::time::Instant,
) -> (Result<Observation, String>, Vec<Finding>) {
    let client = &ctx.client;
    // The runner's pre-flight (SelfSubjectAccessReview) lists active rights the user lacks.
    let missing = ctx.lacking(&active_access());
    if !missing.is_empty() {
        let reason = format!(
            "active probe not run (nothing was created): the user lacks {}; grant deploy/rbac.yaml or pass -a storage_probe=off",
            missing.join(", ")
        );
        return (Err(reason), Vec::new());
    }
    let run = match ProbeRun::new(&ctx.run_id, ID, ctx.now) {
        Ok(run) => run,
        Err(err) => return (Err(err.to_string()), Vec::new()),
    };
    let start = end - ctx.deadline;
    let stop = start + probe_budget(ctx.deadline);
    let guard = ProbeGuard::new(client.clone(), run, DEFAULT_CLEANUP_TIMEOUT);
    let result = match tokio::time::timeout_at(stop, probe(client, &guard, opts)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "active probe cut off after {}s by the check's deadline of {}s (--timeout) before it could judge the storage; raise --timeout or lower -a storage_timeout",
            stop.saturating_duration_since(start).as_secs(),
            ctx.deadline.as_secs()
        )),
    };
    // Leave a twentieth of the deadline for reporting after cleanup.
    let cleanup_end = end - ctx.deadline / 20;
    let within = cleanup_end
        .saturating_duration_since(tokio::time::Instant::now())
        .min(DEFAULT_CLEANUP_TIMEOUT);
    let report = guard.cleanup_within(within).await;
    (result, report.findings)
}

async fn probe(client: &Client, guard: &ProbeGuard, opts: &Options) -> Result<Observation, String> {
    let run = guard.run().clone();
    let ns = guard.namespace();
    guard
        .create_namespace()
        .await
        .map_err(|e| format!("cannot create probe namespace {ns}: {e}"))?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(CLAIM.to_string()),
            labels: Some(run.labels()),
            annotations: Some(run.annotations()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity("1Gi".to_string()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            // storage_class_name deliberately unset: the default class must be applied.
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    };
    let created = claims
        .create(&PostParams::default(), &claim)
        .await
        .map_err(|e| format!("cannot create probe claim {ns}/{CLAIM}: {e}"))?;
    let mut assigned_class = created.spec.and_then(|s| s.storage_class_name);
    let marker = format!("{:016x}", rand::random::<u64>());
    let image = opts.images.reference(&AGNHOST);
    let writer = marker_pod(
        "sc-writer",
        &image,
        &marker,
        "write-marker",
        r#"printf '%s' "$MARKER" > "$MARKER_FILE" && sync"#,
        Vec::new(),
    );
    pods.create(&PostParams::default(), &writer.build(&run))
        .await
        .map_err(|e| format!("cannot create probe pod {ns}/sc-writer: {e}"))?;
    // WaitForFirstConsumer classes bind only once the writer is scheduled: wait for both.
    // The last state the watch saw is the claim as it is now: no extra GET (which the
    // ClusterRole does not grant) is needed to see a class set by retroactive defaulting.
    let (bound, claim_now) = match wait_for(
        claims.clone(),
        CLAIM,
        "claim sc-probe bound",
        opts.timeout,
        |c| {
            c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                == Some("Bound")
        },
    )
    .await
    {
        Ok(claim) => (Ok(()), claim),
        Err(WaitError::Timeout { last, after, .. }) => (
            Err(format!(
                "still {} after {}s",
                last.as_ref()
                    .and_then(|c| c.status.as_ref())
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "absent".into()),
                after.as_secs()
            )),
            last.map(|c| *c),
        ),
        Err(other) => return Err(format!("cannot watch the probe claim: {other}")),
    };
    if let Some(class) = claim_now
        .as_ref()
        .and_then(|c| c.spec.as_ref())
        .and_then(|s| s.storage_class_name.clone())
    {
        // Retroactive defaulting (Kubernetes >= 1.28) may set the class after creation.
        assigned_class.get_or_insert(class);
    }
    if let Err(why) = bound {
        return Ok(Observation {
            assigned_class,
            bound: Err(why),
            volume: None,
            writer: PodEnd::NotFinished {
                reason: "not run: the claim never bound".into(),
            },
            reader: Err("the claim never bound".into()),
        });
    };
    let volume_name = claim_now
        .and_then(|c| c.spec)
        .and_then(|s| s.volume_name)
        .ok_or("the bound probe claim names no volume")?;
    let volume = Api::<PersistentVolume>::all(client.clone())
        .get(&volume_name)
        .await
        .map_err(|e| format!("cannot read volume {volume_name}: {e}"))?;
    let writer_end = pod_end(&pods, "sc-writer", opts.timeout).await?;
    let reader = match (&writer_end, judge::node_bound_reason(&volume)) {
        // A volume pinned to one node cannot be used elsewhere; SC-05 already fails on it.
        (_, Some(why)) => Err(format!("the volume cannot move to another node: {why}")),
        (PodEnd::Succeeded { node }, None) => {
            read_elsewhere(client, &pods, &run, node, &image, &marker, opts.timeout).await?
        }
        _ => Err("the writer did not succeed".into()),
    };
    Ok(Observation {
        assigned_class,
        bound: Ok(()),
        volume: Some(volume),
        writer: writer_end,
        reader,
    })
}

/// Move the volume to another schedulable node and read the marker there.
async fn read_elsewhere(
    client: &Client,
    pods: &Api<Pod>,
    run: &ProbeRun,
    writer_node: &str,
    image: &str,
    marker: &str,
    timeout: Duration,
) -> Result<Result<PodEnd, String>, String> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list nodes: {e}"))?
        .items;
    let schedulable: Vec<&Node> = nodes.iter().filter(|n| is_schedulable(n)).collect();
    let writer_host = nodes
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(writer_node))
        .map(hostname)
        .unwrap_or_else(|| writer_node.to_string());
    let others = schedulable
        .iter()
        .filter(|n| hostname(n) != writer_host)
        .count();
    if others == 0 {
        return Ok(Err(format!(
            "{} schedulable node(s), none other than {writer_node}",
            schedulable.len()
        )));
    }
    // Release the ReadWriteOnce volume before the reader needs it elsewhere.
    pods.delete("sc-writer", &DeleteParams::default())
        .await
        .map_err(|e| format!("cannot delete probe pod sc-writer: {e}"))?;
    wait_gone(pods.clone(), "sc-writer", "pod sc-writer deleted", timeout)
        .await
        .map_err(|e| e.to_string())?;
    let reader = marker_pod(
        "sc-reader",
        image,
        marker,
        "read-marker",
        r#"test "$(cat "$MARKER_FILE")" = "$MARKER""#,
        vec![writer_host],
    );
    pods.create(&PostParams::default(), &reader.build(run))
        .await
        .map_err(|e| format!("cannot create probe pod sc-reader: {e}"))?;
    Ok(Ok(pod_end(pods, "sc-reader", timeout).await?))
}

fn marker_pod(
    name: &str,
    image: &str,
    marker: &str,
    protocol: &str,
    script: &str,
    avoid: Vec<String>,
) -> ProbePod {
    ProbePod {
        name: name.to_string(),
        image: image.to_string(),
        command: vec!["/bin/sh".into(), "-c".into(), script.to_string()],
        env: vec![
            ("MARKER".into(), marker.to_string()),
            ("MARKER_FILE".into(), format!("{MOUNT}/marker")),
        ],
        annotations: BTreeMap::from([(PROBE_ANNOTATION.to_string(), protocol.to_string())]),
        claims: vec![(CLAIM.to_string(), MOUNT.to_string())],
        avoid_hostnames: avoid,
    }
}

/// Wait until the pod `name` has finished and say how.
async fn pod_end(pods: &Api<Pod>, name: &str, timeout: Duration) -> Result<PodEnd, String> {
    let finished = |p: Option<&Pod>| {
        matches!(
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    };
    match wait_for(
        pods.clone(),
        name,
        &format!("pod {name} finished"),
        timeout,
        finished,
    )
    .await
    {
        Ok(Some(pod)) => {
            let node = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            let status = pod.status.unwrap_or_default();
            if status.phase.as_deref() == Some("Succeeded") {
                Ok(PodEnd::Succeeded { node })
            } else {
                Ok(PodEnd::Failed {
                    node,
                    reason: failure_reason(&status),
                })
            }
        }
        Ok(None) => Err(format!("probe pod {name} disappeared")),
        Err(WaitError::Timeout { last, after, .. }) => Ok(PodEnd::NotFinished {
            reason: format!(
                "{} after {}s",
                last.and_then(|p| p.status)
                    .map_or("not created".into(), |s| pending_reason(&s)),
                after.as_secs()
            ),
        }),
        Err(other) => Err(format!("cannot watch probe pod {name}: {other}")),
    }
}

fn failure_reason(status: &k8s_openapi::api::core::v1::PodStatus) -> String {
    let terminated = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref().and_then(|s| s.terminated.as_ref()))
        .next();
    match terminated {
        Some(t) => format!(
            "exit code {}{}",
            t.exit_code,
            t.message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        None => status
            .message
            .clone()
            .or_else(|| status.reason.clone())
            .unwrap_or_else(|| "failed".into()),
    }
}

fn pending_reason(status: &k8s_openapi::api::core::v1::PodStatus) -> String {
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    let cond = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.status != "True" && (c.reason.is_some() || c.message.is_some()));
    match cond {
        Some(c) => format!(
            "{phase} ({}: {})",
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default()
        ),
        None => phase,
    }
}

/// Whether ordinary pods can be scheduled on `node`: not cordoned, no NoSchedule/NoExecute taint.
fn is_schedulable(node: &Node) -> bool {
    let spec = node.spec.clone().unwrap_or_default();
    spec.unschedulable != Some(true)
        && !spec
            .taints
            .iter()
            .flatten()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
}

fn hostname(node: &Node) -> String {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HOSTNAME_LABEL))
        .or(node.metadata.name.as_ref())
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_default_to_v1_error_probe_on() {
        let o = Options::from_args(&args(&[])).unwrap();
        assert_eq!(o.rules, Rules::default());
        assert!(o.probe);
        assert_eq!(o.timeout, Duration::from_secs(300));
    }

    #[test]
    fn options_parse_every_assignment() {
        let o = Options::from_args(&args(&[
            ("storage_class_semantics", "v2"),
            ("multiple_default_severity", "warn"),
            ("storage_probe", "off"),
            ("storage_timeout", "90s"),
            ("image_mirror", "mirror.example.com/k8s"),
        ]))
        .unwrap();
        assert_eq!(o.rules.semantics, Semantics::V2);
        assert_eq!(o.rules.multiple_defaults, Severity::Warn);
        assert!(!o.probe);
        assert_eq!(o.timeout, Duration::from_secs(90));
        assert!(
            o.images
                .reference(&AGNHOST)
                .starts_with("mirror.example.com/k8s/")
        );
    }

    #[test]
    fn bad_assignments_are_named_with_the_fix() {
        for (k, v) in [
            ("storage_class_semantics", "v3"),
            ("multiple_default_severity", "loud"),
            ("storage_probe", "maybe"),
            ("storage_timeout", "soon"),
            ("storage_timeout", "0s"),
            ("image_mirror", "https://x"),
        ] {
            let err = Options::from_args(&args(&[(k, v)])).unwrap_err();
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn access_lists_split_read_and_active() {
        let all = DefaultStorageClass.access();
        assert!(
            all.iter()
                .filter(|a| !a.active_only)
                .all(|a| a.verb == "list")
        );
        assert!(
            all.iter()
                .any(|a| a.active_only && a.verb == "create" && a.resource == "namespaces")
        );
    }

    #[test]
    fn schedulable_ignores_cordoned_and_tainted_nodes() {
        let node = |v: serde_json::Value| -> Node { serde_json::from_value(v).unwrap() };
        assert!(is_schedulable(&node(
            serde_json::json!({"metadata": {"name": "a"}})
        )));
        assert!(!is_schedulable(&node(
            serde_json::json!({"metadata": {"name": "a"}, "spec": {"unschedulable": true}})
        )));
        assert!(!is_schedulable(&node(
            serde_json::json!({"metadata": {"name": "a"}, "spec": {"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}})
        )));
        assert!(is_schedulable(&node(
            serde_json::json!({"metadata": {"name": "a"}, "spec": {"taints": [
            {"key": "x", "effect": "PreferNoSchedule"}]}})
        )));
    }
}
