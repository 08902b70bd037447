//! The trait every native check implements, and what a check gets to work with.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use scs_kaas_core::finding::Outcome;

/// Whether a check only reads the cluster or creates probe objects in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Judges existing objects; works on snapshots; creates nothing.
    ReadOnly,
    /// Creates probe objects in a namespace of its own and removes them afterwards.
    Active,
}

/// One API permission a check needs, verified up front by the pre-flight (HARN-04).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    /// API verb: `get`, `list`, `watch`, `create`, `delete`, ...
    pub verb: &'static str,
    /// API group, `""` for core.
    pub group: &'static str,
    /// Resource plural, e.g. `pods`.
    pub resource: &'static str,
    /// Whether the access is only needed by the active part of the check.
    pub active_only: bool,
}

impl Access {
    /// A read permission (`get`/`list`/`watch` are listed separately by the caller).
    pub const fn read(verb: &'static str, group: &'static str, resource: &'static str) -> Self {
        Access {
            verb,
            group,
            resource,
            active_only: false,
        }
    }

    /// A permission only the active part needs.
    pub const fn active(verb: &'static str, group: &'static str, resource: &'static str) -> Self {
        Access {
            verb,
            group,
            resource,
            active_only: true,
        }
    }
}

/// Everything a check may use: the cluster, the user's assignments, the clock and its deadline.
///
/// Built once per run by the runner; cheap to share by reference across concurrent checks.
#[derive(Clone)]
pub struct CheckContext {
    /// Client for the cluster under test.
    pub client: kube::Client,
    /// The kubeconfig the client came from, for checks that read the endpoint (API access).
    pub kubeconfig: Option<PathBuf>,
    /// `-a key=value` assignments merged over the scope's variable defaults.
    pub args: BTreeMap<String, String>,
    /// "Now" for every time-dependent judgement of this run (pinned in tests, `--date` on the CLI).
    pub now: jiff::Timestamp,
    /// How long this check may take before the runner cancels it and records ABORT.
    pub deadline: Duration,
    /// Eight hex characters identifying this run; active checks put it in their names and labels.
    pub run_id: String,
    /// Where cached upstream data lives (`versions refresh` writes it); `None` means the default.
    pub cache_dir: Option<PathBuf>,
    /// Active-only permissions the pre-flight found denied: the check skips or reports that part.
    pub denied: Vec<Access>,
}

impl CheckContext {
    /// An assignment, if the user gave one or the scope defaults it.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args.get(key).map(String::as_str)
    }

    /// Which of `needed` the pre-flight found denied, described for a message (e.g.
    /// `create namespaces`): an active part names them and creates nothing.
    pub fn lacking(&self, needed: &[Access]) -> Vec<String> {
        self.denied
            .iter()
            .filter(|d| needed.contains(d))
            .map(crate::probe::access::describe)
            .collect()
    }
}

/// One rule a check judges, for `scs-kaas checks ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RuleDoc {
    /// Rule id from CHECKS.md, e.g. `ND-01`.
    pub id: &'static str,
    /// The severities its findings can have, e.g. `FAIL`, `WARN`, `FAIL|WARN`, `INFO`.
    pub severity: &'static str,
    /// What the rule demands, in one line.
    pub summary: &'static str,
}

/// One `-a key=value` assignment a check reads, for `scs-kaas checks ID` and for refusing
/// unknown keys: a check must list every key it reads (a test in `registry` enforces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AssignmentDoc {
    /// The key, e.g. `host_id_labels`.
    pub key: &'static str,
    /// The value used when the key is not given (`""`: nothing, the feature is off).
    pub default: &'static str,
    /// The accepted values, e.g. `on|off`, `DURATION (30s, 5m)`.
    pub accepted: &'static str,
    /// What it changes, in one line.
    pub help: &'static str,
}

/// A native check: one SCS testcase id implemented in Rust.
///
/// Implementations live one per file under [`crate::native`] and are listed in [`crate::registry`].
/// `rules` and `assignments` are required, so every check documents its rules and every `-a` key
/// it reads; `access` and `details` have empty defaults.
pub trait Check: Send + Sync {
    /// Stable id: the SCS testcase id where one exists (e.g. `version-policy-check`).
    fn id(&self) -> &'static str;

    /// The standard this check implements, e.g. `scs-0210-v2`.
    fn standard(&self) -> &'static str;

    /// One line saying what the check establishes.
    fn description(&self) -> &'static str;

    /// Read-only or active.
    fn mode(&self) -> Mode;

    /// The permissions this check needs; the pre-flight turns missing ones into ABORT.
    fn access(&self) -> Vec<Access> {
        Vec::new()
    }

    /// Every rule the check judges, with its severities.
    fn rules(&self) -> &'static [RuleDoc];

    /// Every `-a` assignment the check reads, with default and accepted values.
    fn assignments(&self) -> &'static [AssignmentDoc];

    /// The long description a user reads with `scs-kaas checks ID`: what the check proves, what
    /// it cannot prove, and how. Plain text (Markdown-like); empty by default, in which case the
    /// one-line [`Check::description`] is all there is.
    fn details(&self) -> &'static str {
        ""
    }

    /// The deadline this check needs when the user gives no `--timeout` (`None`: the runner's
    /// default). The e2e suites run for hours, far beyond the default of the other checks.
    fn default_deadline(&self) -> Option<Duration> {
        None
    }

    /// Run the check. Must not panic; anything it cannot judge is an ABORT outcome with the reason.
    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome>;
}
