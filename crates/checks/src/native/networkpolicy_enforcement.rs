//! `networkpolicy-enforcement-check` (scs-0219-v1, CHECKS.md §10): the network plugin must
//! fully implement `networking.k8s.io/v1` NetworkPolicy (NW-01), shown by a connectivity
//! matrix; read-only it reports the plugin (NW-05), AdminNetworkPolicy support (NW-02), the
//! default IngressClass (NW-03) and existing policies (NW-04).
//!
//! The probe ([`probe`]) works in three namespaces of its own, `scs-kaas-<check>-<id>-{a,b,c}`:
//! server pods running agnhost `netexec` (TCP 8080 `http`, UDP 8081 `udp`, TCP 8082 `alt`) and,
//! per expected connection, a client Job running `agnhost connect` (no `exec` into pods is
//! needed). The steps ([`plan`]) go from a policy-free baseline through default-deny ingress,
//! namespace and pod selectors, ports (number, name, `endPort` range, UDP), default-deny egress
//! with an allow rule, an `ipBlock` with `except`, to deleting a policy again. Every expectation
//! must hold within `netpol_convergence` (default 30 s); a broken baseline is ABORT, a missed
//! expectation FAIL (a missed `ipBlock` expectation WARN, since upstream leaves ipBlocks over pod
//! addresses to the plugin; `-a netpol_ipblock=fail` makes it FAIL). When a default-deny step
//! shows no blocking at all, the remaining steps are skipped: policies are not enforced.
//!
//! Assignments: `netpol_convergence=DURATION` (30s), `netpol_attempt_timeout=DURATION` (2m, one
//! client Job incl. scheduling and image pull), `netpol_ready_timeout=DURATION` (3m, server
//! pods), `netpol_ipblock=warn|fail`, `netpol_probe=on|off`, `image_mirror=PREFIX`.

pub mod inventory;
pub mod judge;
pub mod plan;
pub mod probe;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::{IngressClass, NetworkPolicy};
use kube::api::ListParams;
use kube::{Api, Client};
use scs_kaas_core::finding::{Finding, Outcome, Severity, Status};

use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use crate::probe::guard::DEFAULT_CLEANUP_TIMEOUT;
use crate::probe::image::{AGNHOST, ImageSource, MIRROR_ARG};
use crate::probe::run::{CHECK_KEY, MANAGED_BY_KEY};
use crate::probe::{ProbeGuard, ProbeRun};
use inventory::{ApiGroupInfo, DaemonSetInfo, IngressClassInfo, Inventory};

/// The check id.
pub const ID: &str = "networkpolicy-enforcement-check";
/// The default-class annotation of IngressClasses.
pub const DEFAULT_INGRESS_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";

/// The NetworkPolicy enforcement check.
pub struct NetworkPolicyEnforcementCheck;

/// Parsed assignments.
#[derive(Debug, Clone)]
struct Options {
    probe: bool,
    settings: probe::Settings,
    rules: judge::Rules,
}

fn duration(
    args: &BTreeMap<String, String>,
    key: &str,
    default: Duration,
) -> Result<Duration, String> {
    let example = format!("{}s", default.as_secs());
    super::assign::duration(key, args.get(key).map(String::as_str), default, &example)
}

impl Options {
    fn from_args(args: &BTreeMap<String, String>) -> Result<Options, String> {
        let probe =
            super::assign::on_off("netpol_probe", args.get("netpol_probe").map(String::as_str))?;
        let ip_block = match args.get("netpol_ipblock").map(String::as_str) {
            None | Some("warn") => Severity::Warn,
            Some("fail" | "error") => Severity::Error,
            Some(other) => {
                return Err(format!(
                    "netpol_ipblock={other:?} is not warn or fail; pass -a netpol_ipblock=warn or =fail"
                ));
            }
        };
        let convergence = duration(args, "netpol_convergence", Duration::from_secs(30))?;
        let mirror = ImageSource::from_arg(args.get(MIRROR_ARG).map(String::as_str))
            .map_err(|e| e.to_string())?;
        Ok(Options {
            probe,
            settings: probe::Settings {
                image: mirror.reference(&AGNHOST),
                convergence,
                attempt_timeout: duration(
                    args,
                    "netpol_attempt_timeout",
                    Duration::from_secs(120),
                )?,
                ready_timeout: duration(args, "netpol_ready_timeout", Duration::from_secs(180))?,
            },
            rules: judge::Rules {
                ip_block,
                convergence,
            },
        })
    }
}

fn read_access() -> Vec<Access> {
    vec![
        Access::read("list", "apps", "daemonsets"),
        Access::read("list", "networking.k8s.io", "ingressclasses"),
        Access::read("list", "networking.k8s.io", "networkpolicies"),
        Access::read("list", "", "pods"),
    ]
}

fn active_access() -> Vec<Access> {
    let mut v = Vec::new();
    for verb in ["create", "list", "watch", "delete"] {
        v.push(Access::active(verb, "", "namespaces"));
    }
    for verb in ["create", "watch"] {
        v.push(Access::active(verb, "", "pods"));
    }
    v.push(Access::active("get", "", "pods/log"));
    for verb in ["create", "list", "watch"] {
        v.push(Access::active(verb, "batch", "jobs"));
    }
    for verb in ["create", "delete"] {
        v.push(Access::active(verb, "networking.k8s.io", "networkpolicies"));
    }
    // What the cleanup guard uses (namespaces, and volumes of claims in them).
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
        id: "NW-01",
        severity: "FAIL|WARN|ABORT",
        summary: "the connectivity matrix of every policy step holds within netpol_convergence (a broken baseline ABORTs; missed ipBlock expectations WARN unless netpol_ipblock=fail)",
    },
    RuleDoc {
        id: "NW-02",
        severity: "WARN|INFO",
        summary: "AdminNetworkPolicy APIs are served or the plugin works on them",
    },
    RuleDoc {
        id: "NW-03",
        severity: "WARN|INFO",
        summary: "a default IngressClass exists whose controller runs",
    },
    RuleDoc {
        id: "NW-04",
        severity: "INFO",
        summary: "the NetworkPolicies and cluster-wide policy APIs in place",
    },
    RuleDoc {
        id: "NW-05",
        severity: "WARN|INFO",
        summary: "the network plugin, from its DaemonSet (Flannel alone warns that NW-01 will fail)",
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
        key: "netpol_convergence",
        default: "30s",
        accepted: "DURATION",
        help: "how long each expectation may take to hold",
    },
    AssignmentDoc {
        key: "netpol_attempt_timeout",
        default: "120s",
        accepted: "DURATION",
        help: "one client Job, including scheduling and image pull",
    },
    AssignmentDoc {
        key: "netpol_ready_timeout",
        default: "180s",
        accepted: "DURATION",
        help: "how long the server pods may take to become ready",
    },
    AssignmentDoc {
        key: "netpol_ipblock",
        default: "warn",
        accepted: "warn|fail",
        help: "severity of a missed ipBlock expectation",
    },
    AssignmentDoc {
        key: "netpol_probe",
        default: "on",
        accepted: "on|off",
        help: "whether the active connectivity matrix runs",
    },
    AssignmentDoc {
        key: MIRROR_ARG,
        default: "",
        accepted: "registry PREFIX",
        help: "registry prefix the probe images are pulled from (air-gapped clusters)",
    },
];

impl Check for NetworkPolicyEnforcementCheck {
    fn id(&self) -> &'static str {
        ID
    }

    fn standard(&self) -> &'static str {
        "scs-0219-v1"
    }

    fn description(&self) -> &'static str {
        "The network plugin enforces NetworkPolicies (ingress and egress, pod and namespace \
         selectors, ports by number, name and range, UDP, ipBlock, policy removal), shown by a \
         connectivity matrix of probe pods; plus the plugin, AdminNetworkPolicy support and the \
         default IngressClass"
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
        Err(msg) => return Outcome::abort("NW-01", msg),
    };
    let inventory = match gather(&ctx.client).await {
        Ok(inv) => inv,
        Err(err) => {
            return Outcome::abort(
                "NW-05",
                format!("cannot read DaemonSets, IngressClasses, NetworkPolicies or pods: {err}"),
            );
        }
    };
    let mut findings = inventory::judge(&inventory);
    if !opts.probe {
        findings.push(Finding::info(
            "NW-01",
            "probe switched off (netpol_probe=off): enforcement not tested",
        ));
        return Outcome::from_findings(findings);
    }
    let missing = ctx.lacking(&active_access());
    if !missing.is_empty() {
        findings.push(Finding::error(
            "NW-01",
            format!(
                "probe not run (nothing was created): the user lacks {}; grant deploy/rbac.yaml or pass -a netpol_probe=off",
                missing.join(", ")
            ),
        ));
        return Outcome {
            status: Status::Abort,
            findings,
        };
    }
    let run = match ProbeRun::new(&ctx.run_id, ID, ctx.now) {
        Ok(run) => run,
        Err(err) => return Outcome::abort("NW-01", err.to_string()),
    };
    let guard = ProbeGuard::new(ctx.client.clone(), run.clone(), DEFAULT_CLEANUP_TIMEOUT);
    // Keep a quarter of the deadline (at most two minutes) for cleanup.
    let start = end - ctx.deadline;
    let stop = start + ctx.deadline - (ctx.deadline / 4).min(Duration::from_secs(120));
    let work = async {
        let layout = probe::prepare(&ctx.client, &run, &opts.settings).await?;
        probe::run_steps(&ctx.client, &run, &layout, &plan::steps(), &opts.settings).await
    };
    let observed = match tokio::time::timeout_at(stop, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "probe cut off after {}s by the check's deadline of {}s (--timeout) before every step was judged; raise --timeout",
            stop.saturating_duration_since(start).as_secs(),
            ctx.deadline.as_secs()
        )),
    };
    let cleanup_end = end - ctx.deadline / 20;
    let within = cleanup_end
        .saturating_duration_since(tokio::time::Instant::now())
        .min(DEFAULT_CLEANUP_TIMEOUT);
    let report = guard.cleanup_within(within).await;
    let mut outcome = match observed {
        Ok(obs) => judge::judge(&obs, &opts.rules),
        Err(reason) => Outcome::abort("NW-01", reason),
    };
    findings.append(&mut outcome.findings);
    findings.extend(report.findings);
    // Warnings of the read-only part never change NW-01's status; a leak (HARN-02) is a warning.
    let status = match outcome.status {
        Status::Pass if findings.iter().any(|f| f.severity == Severity::Error) => Status::Fail,
        other => other,
    };
    Outcome { status, findings }
}

/// Reads what the read-only part judges; pods are paged and only searched when a default
/// IngressClass names a known controller.
async fn gather(client: &Client) -> Result<Inventory, kube::Error> {
    let mut daemonsets = Vec::new();
    let ds_api: Api<DaemonSet> = Api::all(client.clone());
    let mut params = ListParams::default().limit(500);
    loop {
        let page = ds_api.list(&params).await?;
        daemonsets.extend(page.items.into_iter().map(|d| {
            DaemonSetInfo {
                reference: format!(
                    "{}/{}",
                    d.metadata.namespace.unwrap_or_default(),
                    d.metadata.name.unwrap_or_default()
                ),
                images: d
                    .spec
                    .and_then(|s| s.template.spec)
                    .map(|s| s.containers.into_iter().filter_map(|c| c.image).collect())
                    .unwrap_or_default(),
            }
        }));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    let policies: Vec<String> = Api::<NetworkPolicy>::all(client.clone())
        .list_metadata(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| {
            // The probe's own policies (of this or an interrupted earlier run) are not the provider's.
            let labels = p.metadata.labels.as_ref();
            labels.and_then(|l| l.get(CHECK_KEY)).map(String::as_str) != Some(ID)
                || labels.and_then(|l| l.get(MANAGED_BY_KEY)).is_none()
        })
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.unwrap_or_default(),
                p.metadata.name.unwrap_or_default()
            )
        })
        .collect();
    let mut ingress_classes: Vec<IngressClassInfo> = Api::<IngressClass>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|c| IngressClassInfo {
            default: c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_INGRESS_CLASS))
                .is_some_and(|v| v == "true"),
            name: c.metadata.name.unwrap_or_default(),
            controller: c.spec.and_then(|s| s.controller).unwrap_or_default(),
            running: None,
        })
        .collect();
    for class in ingress_classes.iter_mut().filter(|c| c.default) {
        if let Some(fragment) = inventory::controller_image(&class.controller) {
            class.running = Some(running_image(client, fragment).await?);
        }
    }
    Ok(Inventory {
        daemonsets,
        groups: api_groups(client).await,
        ingress_classes,
        policies,
    })
}

/// Whether a Running pod has a container whose image contains `fragment`.
async fn running_image(client: &Client, fragment: &str) -> Result<bool, kube::Error> {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut params = ListParams::default()
        .fields("status.phase=Running")
        .limit(500);
    loop {
        let page = pods.list(&params).await?;
        let hit = page.items.iter().any(|p| {
            p.spec.as_ref().is_some_and(|s| {
                s.containers
                    .iter()
                    .any(|c| c.image.as_deref().is_some_and(|i| i.contains(fragment)))
            })
        });
        if hit {
            return Ok(true);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(false),
        }
    }
}

/// The served API groups of interest with their resources (discovery needs no RBAC; a failure
/// leaves the list empty, which the judge reports as "not served").
async fn api_groups(client: &Client) -> Vec<ApiGroupInfo> {
    let wanted: Vec<&str> = std::iter::once(inventory::ANP_GROUP)
        .chain(inventory::CLUSTER_POLICY_GROUPS.iter().map(|(g, _)| *g))
        .collect();
    let Ok(groups) = client.list_api_groups().await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for group in groups
        .groups
        .iter()
        .filter(|g| wanted.contains(&g.name.as_str()))
    {
        let Some(version) = group
            .preferred_version
            .as_ref()
            .or_else(|| group.versions.first())
        else {
            continue;
        };
        let resources = client
            .list_api_group_resources(&version.group_version)
            .await
            .map(|list| {
                list.resources
                    .into_iter()
                    .map(|r| r.name)
                    .filter(|n| !n.contains('/'))
                    .collect()
            })
            .unwrap_or_default();
        out.push(ApiGroupInfo {
            group: group.name.clone(),
            version: version.group_version.clone(),
            resources,
        });
    }
    out
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
    fn options_default_and_reject_bad_values_naming_the_key() {
        let o = Options::from_args(&args(&[])).unwrap();
        assert!(o.probe);
        assert_eq!(o.settings.convergence, Duration::from_secs(30));
        assert_eq!(o.settings.attempt_timeout, Duration::from_secs(120));
        assert_eq!(o.rules.ip_block, Severity::Warn);
        assert!(o.settings.image.contains("agnhost") && o.settings.image.contains("@sha256:"));
        let o = Options::from_args(&args(&[
            ("netpol_convergence", "5s"),
            ("netpol_ipblock", "fail"),
            ("netpol_probe", "off"),
            ("image_mirror", "mirror.example.org/k8s"),
        ]))
        .unwrap();
        assert!(!o.probe);
        assert_eq!(o.rules.convergence, Duration::from_secs(5));
        assert_eq!(o.rules.ip_block, Severity::Error);
        assert!(o.settings.image.starts_with("mirror.example.org/k8s/"));
        for (k, v) in [
            ("netpol_convergence", "soon"),
            ("netpol_attempt_timeout", "0s"),
            ("netpol_ready_timeout", "-1s"),
            ("netpol_ipblock", "maybe"),
            ("netpol_probe", "yes"),
            ("image_mirror", "https://x"),
        ] {
            let err = Options::from_args(&args(&[(k, v)])).unwrap_err();
            assert!(err.contains(k), "{err}");
        }
    }
}
