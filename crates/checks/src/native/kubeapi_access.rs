#![doc = include_str!("kubeapi_access.md")]
//!
//! The judges are pure functions in [`judge`]; this file reads the kubeconfig, connects once,
//! lists the management cluster's `OpenStackCluster`s and runs the in-cluster probe ([`inside`]).

pub mod cidr;
pub mod inside;
pub mod judge;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;
use kube::api::{DynamicObject, ListParams};
use kube::config::KubeConfigOptions;
use kube::{Api, Client, Config};
use scs_kaas_core::finding::{Finding, Outcome, Status};

use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use crate::probe::guard::DEFAULT_CLEANUP_TIMEOUT;
use crate::probe::image::{AGNHOST, ImageSource, MIRROR_ARG};
use crate::probe::{ProbeGuard, ProbeRun};
use judge::{Declaration, Endpoint};

/// The check id.
pub const ID: &str = "kubeapi-access-check";

/// The Cluster API infrastructure group of `OpenStackCluster`.
pub const CAPO_GROUP: &str = "infrastructure.cluster.x-k8s.io";

/// How long a TCP connection attempt to the endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the API-03 probe pod may take by default (scheduling, image pull, connect).
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// The API access restriction check.
pub struct KubeapiAccess;

/// The check's parsed assignments.
#[derive(Debug, Default)]
struct Options {
    declaration: Option<Declaration>,
    vantage: Option<IpAddr>,
    mgmt_kubeconfig: Option<String>,
    mgmt_ip: Option<IpAddr>,
    /// Whether API-03 runs its probe pod (`kubeapi_probe=on|off`).
    probe: bool,
    probe_timeout: Duration,
    image: String,
}

fn parse_ip(key: &str, value: &str) -> Result<IpAddr, String> {
    value.trim().parse().map_err(|_| {
        format!("{key}={value:?} is not an IP address; pass e.g. -a {key}=198.51.100.7")
    })
}

impl Options {
    fn from_ctx(ctx: &CheckContext) -> Result<Options, String> {
        Ok(Options {
            declaration: ctx
                .arg("kubeapi_allowed_cidrs")
                .map(Declaration::parse)
                .transpose()
                .map_err(|e| {
                    format!("kubeapi_allowed_cidrs: {e}; give a comma-separated list, or `none`")
                })?,
            vantage: ctx
                .arg("vantage_ip")
                .map(|v| parse_ip("vantage_ip", v))
                .transpose()?,
            mgmt_kubeconfig: ctx
                .arg("mgmt_kubeconfig")
                .map(|v| match v.trim() {
                    "" => Err(
                        "mgmt_kubeconfig= is empty: give the path of the management \
                               cluster's kubeconfig, or drop the assignment"
                            .to_string(),
                    ),
                    path => Ok(path.to_string()),
                })
                .transpose()?,
            mgmt_ip: ctx
                .arg("mgmt_ip")
                .map(|v| parse_ip("mgmt_ip", v))
                .transpose()?,
            probe: super::assign::on_off("kubeapi_probe", ctx.arg("kubeapi_probe"))?,
            probe_timeout: super::assign::duration(
                "kubeapi_probe_timeout",
                ctx.arg("kubeapi_probe_timeout"),
                PROBE_TIMEOUT,
                "120s",
            )?,
            image: ImageSource::from_arg(ctx.arg(MIRROR_ARG))
                .map_err(|e| e.to_string())?
                .reference(&AGNHOST),
        })
    }
}

/// What the API-03 probe needs: a namespace of its own, one pod, its log, and the cleanup.
fn active_access() -> Vec<Access> {
    let mut v = vec![Access::active("create", "", "namespaces")];
    for verb in ["create", "list", "watch"] {
        v.push(Access::active(verb, "", "pods"));
    }
    v.push(Access::active("get", "", "pods/log"));
    for a in crate::probe::guard::access() {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "API-01",
        severity: "FAIL|WARN",
        summary: "management cluster (-a mgmt_kubeconfig=): each OpenStackCluster's API load \
                  balancer admits exactly the declared CIDRs plus the management host (ERROR if \
                  it differs or admits 0.0.0.0/0 against a declared list; WARNING for 0.0.0.0/0 \
                  without a declaration, for the OVN provider and for a change not applied yet)",
    },
    RuleDoc {
        id: "API-02",
        severity: "FAIL|INFO",
        summary: "FAIL when this host, outside the declared allow-list, connects to the public \
                  API endpoint; otherwise INFO saying what one vantage point cannot prove",
    },
    RuleDoc {
        id: "API-03",
        severity: "FAIL|ABORT",
        summary: "FAIL when a probe pod inside the cluster cannot connect to the API endpoint \
                  of the kubeconfig (an allow-list that locks the cluster out); \
                  -a kubeapi_probe=off skips it",
    },
    RuleDoc {
        id: "API-04",
        severity: "INFO",
        summary: "INFO: whether the kubeconfig's API endpoint has public addresses, and \
                  \"API publicly reachable\" when no restriction is declared",
    },
];

const ASSIGNMENTS: &[AssignmentDoc] = &[
    AssignmentDoc {
        key: "kubeapi_allowed_cidrs",
        default: "",
        accepted: "CIDR|ADDRESS[,…] | empty (public) | none (closed)",
        help: "the declared allow-list; not given: nothing declared",
    },
    AssignmentDoc {
        key: "vantage_ip",
        default: "",
        accepted: "IP address",
        help: "this host's public egress address, when it is behind NAT",
    },
    AssignmentDoc {
        key: "mgmt_kubeconfig",
        default: "",
        accepted: "FILE",
        help: "kubeconfig of the Cluster API management cluster: enables API-01",
    },
    AssignmentDoc {
        key: "mgmt_ip",
        default: "",
        accepted: "IP address",
        help: "the management host's address, admitted in addition to the declared list",
    },
    AssignmentDoc {
        key: "kubeapi_probe",
        default: "on",
        accepted: "on|off",
        help: "whether API-03 runs its probe pod",
    },
    AssignmentDoc {
        key: "kubeapi_probe_timeout",
        default: "120s",
        accepted: "DURATION (30s, 2m)",
        help: "how long the probe pod may take to finish",
    },
    AssignmentDoc {
        key: "image_mirror",
        default: "",
        accepted: "registry PREFIX",
        help: "registry prefix the probe image is pulled from (air-gapped clusters)",
    },
];

impl Check for KubeapiAccess {
    fn id(&self) -> &'static str {
        ID
    }

    fn standard(&self) -> &'static str {
        "scs-kaas-api-access"
    }

    fn description(&self) -> &'static str {
        "The Kubernetes API is restricted to the declared CIDRs (-a kubeapi_allowed_cidrs=...): reports \
         whether the kubeconfig's endpoint is public; FAILs when this host, outside the declared list \
         (its public address, or -a vantage_ip=), can connect — one vantage point can prove a \
         restriction broken, never that it holds; FAILs when a probe pod cannot reach the endpoint \
         (the cluster locks itself out); with -a mgmt_kubeconfig=PATH compares each Cluster \
         API OpenStackCluster's API load-balancer allowedCIDRs with the declaration"
    }

    fn mode(&self) -> Mode {
        Mode::Active
    }

    fn access(&self) -> Vec<Access> {
        // Only the API-03 probe touches the workload cluster; the management cluster needs
        // `list openstackclusters.infrastructure.cluster.x-k8s.io` (documented in the README).
        active_access()
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn details(&self) -> &'static str {
        include_str!("kubeapi_access.md")
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(run(ctx))
    }
}

async fn run(ctx: &CheckContext) -> Outcome {
    let opts = match Options::from_ctx(ctx) {
        Ok(o) => o,
        Err(msg) => return Outcome::abort("API-00", msg),
    };
    let server = match cluster_url(ctx.kubeconfig.as_deref()).await {
        Ok(u) => u,
        Err(msg) => return Outcome::abort("API-00", msg),
    };
    let endpoint = probe_endpoint(&server).await;
    let mut findings = judge::judge_endpoint(&endpoint, opts.declaration.as_ref(), opts.vantage);
    // Why a part could not be judged: ABORT, unless another part failed.
    let mut undecided = Vec::new();
    if opts.probe {
        let inside = from_inside(ctx, &opts, &server, &endpoint).await;
        findings.extend(inside.findings);
        undecided.extend(inside.undecided);
    } else {
        findings.push(Finding::info(
            "API-03",
            "probe switched off (kubeapi_probe=off): reachability from inside the cluster not tested",
        ));
    }
    if let Some(path) = &opts.mgmt_kubeconfig {
        match read_openstack_clusters(Path::new(path)).await {
            Ok(clusters) if clusters.is_empty() => findings.push(Finding::info(
                "API-01",
                format!("the management cluster ({path}) holds no OpenStackCluster objects"),
            )),
            Ok(clusters) => {
                for c in &clusters {
                    let value = serde_json::to_value(c).unwrap_or_default();
                    findings.extend(judge::judge_openstack_cluster(
                        &value,
                        opts.declaration.as_ref(),
                        opts.mgmt_ip,
                    ));
                }
            }
            Err(msg) => undecided.push(Finding::error("API-01", msg)),
        }
    }
    let mut outcome = Outcome::from_findings(findings);
    if !undecided.is_empty() {
        outcome.findings.extend(undecided);
        if outcome.status != Status::Fail {
            outcome.status = Status::Abort;
        }
    }
    outcome
}

/// What the API-03 probe found.
struct Inside {
    /// The judgement and the cleanup's findings.
    findings: Vec<Finding>,
    /// Why API-03 could not be judged, if it could not.
    undecided: Option<Finding>,
}

/// API-03: runs the probe pod (unless rights are missing) and cleans up after it.
async fn from_inside(
    ctx: &CheckContext,
    opts: &Options,
    server: &http::Uri,
    endpoint: &Endpoint,
) -> Inside {
    let undecided = |f: Finding| Inside {
        findings: Vec::new(),
        undecided: Some(f),
    };
    let missing = ctx.lacking(&active_access());
    if !missing.is_empty() {
        return undecided(Finding::error(
            "API-03",
            format!(
                "probe not run (nothing was created): the user lacks {}; grant deploy/rbac.yaml or \
                 pass -a kubeapi_probe=off",
                missing.join(", ")
            ),
        ));
    }
    let (host, port) = host_and_port(server);
    let run = match ProbeRun::new(&ctx.run_id, ID, ctx.now) {
        Ok(run) => run,
        Err(e) => return undecided(Finding::error("API-03", e.to_string())),
    };
    let guard = ProbeGuard::new(ctx.client.clone(), run, DEFAULT_CLEANUP_TIMEOUT);
    // Leave a quarter of the check's deadline for the cleanup.
    let budget = opts.probe_timeout.min(ctx.deadline - ctx.deadline / 4);
    let seen = inside::probe(&ctx.client, &guard, &opts.image, &host, port, budget).await;
    let report = guard.cleanup().await;
    let (mut findings, undecided) = match seen {
        Ok(seen) => (vec![inside::judge(&endpoint.server, &seen)], None),
        Err(reason) => (Vec::new(), Some(Finding::error("API-03", reason))),
    };
    findings.extend(report.findings);
    Inside {
        findings,
        undecided,
    }
}

/// The API server's host (IPv6 without brackets) and port (the scheme's default when absent).
fn host_and_port(server: &http::Uri) -> (String, u16) {
    let host = server
        .host()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_string();
    let port = server
        .port_u16()
        .unwrap_or(if server.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    (host, port)
}

/// The API server URL of the kubeconfig's current context (or of the inferred configuration).
async fn cluster_url(kubeconfig: Option<&Path>) -> Result<http::Uri, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = crate::kubeconfig::read(path).map_err(|e| e.to_string())?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| format!("cannot find the cluster's API endpoint: {e}"))?,
    };
    Ok(config.cluster_url)
}

/// Resolve the endpoint's host and try one TCP connection from here.
async fn probe_endpoint(server: &http::Uri) -> Endpoint {
    let (host, port) = host_and_port(server);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(|it| it.map(|a| a.ip()).collect())
            .unwrap_or_default(),
    };
    let mut reachable = false;
    let mut local = None;
    if let Some(ip) = addresses.first() {
        let attempt =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((*ip, port)))
                .await;
        if let Ok(Ok(stream)) = attempt {
            reachable = true;
            local = stream.local_addr().ok().map(|a| a.ip());
        }
    }
    Endpoint {
        server: format!("{}://{host}:{port}", server.scheme_str().unwrap_or("https")),
        addresses,
        reachable,
        local,
    }
}

/// Every `OpenStackCluster` of the management cluster, in the group's preferred version.
async fn read_openstack_clusters(path: &Path) -> Result<Vec<DynamicObject>, String> {
    let kc = crate::kubeconfig::read(path).map_err(|e| format!("mgmt_kubeconfig: {e}"))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("mgmt_kubeconfig {}: {e}", path.display()))?;
    let client = Client::try_from(config).map_err(|e| {
        format!(
            "mgmt_kubeconfig {}: cannot build a client: {e}",
            path.display()
        )
    })?;
    let group = kube::discovery::group(&client, CAPO_GROUP).await.map_err(|e| {
        format!(
            "the management cluster ({}) does not serve {CAPO_GROUP}: {e}; is it a Cluster API management cluster with the OpenStack provider?",
            path.display()
        )
    })?;
    let (resource, _) = group.recommended_kind("OpenStackCluster").ok_or_else(|| {
        format!("the management cluster serves {CAPO_GROUP} but no OpenStackCluster kind")
    })?;
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.map_err(|e| match e {
            kube::Error::Api(status) if status.code == 403 => format!(
                "no permission to list OpenStackClusters on the management cluster ({}): grant \
                 `list` on `openstackclusters` (API group {CAPO_GROUP}) to its user",
                path.display()
            ),
            other => format!("cannot list OpenStackClusters on the management cluster: {other}"),
        })?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok(out)
}
