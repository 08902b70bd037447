//! `version-policy-check` (scs-0210): is the cluster's Kubernetes version supported and patched?
//!
//! Gathers `/version` and every node's kubelet version and creation time, then hands them to
//! the pure judge [`scs_kaas_core::version_policy::judge`] (VER-01..04, VER-09, TP-04) with the
//! release data (newer of cache and snapshot, loaded once per process). Assignments:
//! - `version_policy=v1|v2` (default v2): which edition of scs-0210 to judge by;
//! - `eol=fail|warn` (default fail): whether an end-of-life branch fails or only warns.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use scs_kaas_core::finding::{Finding, Outcome};
use scs_kaas_core::version_policy::{self, ClusterVersions, PolicyOptions, PolicyVersion};

use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use crate::release_data;

/// The scs-0210 version policy check.
pub struct VersionPolicyCheck;

/// Nodes are listed in pages of this size so large clusters stay cheap.
const PAGE: u32 = 500;

/// Every rule this check judges (`scs-kaas checks ID`).
const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "VER-00",
        severity: "ABORT",
        summary: "the cluster's versions or the release data cannot be read; a bad assignment",
    },
    RuleDoc {
        id: "VER-01",
        severity: "FAIL|INFO",
        summary: "the API server's branch is supported (not end of life) on the judged date; -a eol=warn makes end of life a warning",
    },
    RuleDoc {
        id: "VER-02",
        severity: "FAIL|WARN|INFO",
        summary: "the newest minor is offered within the window of scs-0210 after its release (a single cluster shows its own version only)",
    },
    RuleDoc {
        id: "VER-03",
        severity: "FAIL|WARN",
        summary: "patches fixing critical CVEs (CVSS >= 8) are applied within the standard's deadline (WARN for kubelets)",
    },
    RuleDoc {
        id: "VER-04",
        severity: "WARN",
        summary: "the patch level is recent: no newer patch of the branch older than the standard's grace period",
    },
    RuleDoc {
        id: "VER-09",
        severity: "WARN",
        summary: "every node reports a parseable kubeletVersion; kubelets do not lag the API server beyond the skew policy",
    },
    RuleDoc {
        id: "TP-04",
        severity: "INFO",
        summary: "a node created with a patch older than the newest one published at its creation",
    },
];

/// Every `-a` key this check reads.
const ASSIGNMENTS: &[AssignmentDoc] = &[
    AssignmentDoc {
        key: "version_policy",
        default: "v2",
        accepted: "v1|v2",
        help: "which edition of scs-0210 to judge by",
    },
    AssignmentDoc {
        key: "eol",
        default: "fail",
        accepted: "fail|warn",
        help: "whether an end-of-life branch fails (VER-01) or only warns",
    },
];

impl Check for VersionPolicyCheck {
    fn id(&self) -> &'static str {
        "version-policy-check"
    }

    fn standard(&self) -> &'static str {
        "scs-0210-v2"
    }

    fn description(&self) -> &'static str {
        "the cluster runs a supported Kubernetes branch with recent patches and no overdue critical-CVE fix"
    }

    fn mode(&self) -> Mode {
        Mode::ReadOnly
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn access(&self) -> Vec<Access> {
        vec![Access::read("list", "", "nodes")]
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(run(ctx))
    }
}

/// Read the assignments into policy options; a bad value is named.
pub fn options(ctx: &CheckContext) -> Result<PolicyOptions, String> {
    let mut options = PolicyOptions::default();
    if let Some(v) = ctx.arg("version_policy") {
        options.policy = v.parse::<PolicyVersion>()?;
    }
    if let Some(v) = ctx.arg("eol") {
        options.eol_fails = match v.trim() {
            "fail" => true,
            "warn" => false,
            other => {
                return Err(format!(
                    "eol=`{other}` is not valid: use eol=fail or eol=warn"
                ));
            }
        };
    }
    Ok(options)
}

/// Gather what the judge needs from the cluster.
pub async fn gather(client: &kube::Client) -> Result<ClusterVersions, String> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| format!("cannot read /version: {e}"))?;
    let nodes: Api<Node> = Api::all(client.clone());
    let mut kubelets = Vec::new();
    let mut created = BTreeMap::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = nodes
            .list(&params)
            .await
            .map_err(|e| format!("cannot list nodes: {e}"))?;
        for n in page.items {
            let name = n.metadata.name.unwrap_or_default();
            if let Some(t) = n.metadata.creation_timestamp {
                created.insert(name.clone(), t.0);
            }
            let kubelet = n
                .status
                .and_then(|s| s.node_info)
                .map(|i| i.kubelet_version)
                .unwrap_or_default();
            kubelets.push((name, kubelet));
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    Ok(ClusterVersions {
        server: info.git_version,
        kubelets,
        created,
    })
}

async fn run(ctx: &CheckContext) -> Outcome {
    let options = match options(ctx) {
        Ok(o) => o,
        Err(e) => return Outcome::abort("VER-00", e),
    };
    let cluster = match gather(&ctx.client).await {
        Ok(c) => c,
        Err(e) => return Outcome::abort("VER-01", e),
    };
    let loaded = release_data::load(ctx.cache_dir.as_deref());
    let mut outcome = version_policy::judge(&cluster, &loaded.db, &options, ctx.now);
    outcome.findings.extend(
        loaded
            .notes
            .iter()
            .map(|n| Finding::warn("VER-00", n.clone())),
    );
    outcome
}
