//! `cncf-k8s-conformance` (scs-0201) and `kaas-networking-check` (scs-0219): the upstream
//! Kubernetes e2e suite, run and judged by scs-kaas itself.
//!
//! Three ways to get results, one judge ([`judge`]):
//! - **native** (default, [`pod`]): a hydrophone-style pod in a probe namespace runs
//!   `registry.k8s.io/conformance:v<server version>`; its files are fetched with `exec cat`.
//! - **Sonobuoy** (`-a conformance_runner=sonobuoy`, [`sonobuoy`]): drives the `sonobuoy`
//!   executable as the SCS reference does and reads the retrieved tarball.
//! - **existing results** (`-a conformance_results=PATH`): judges a tarball, a directory or a
//!   `junit_01.xml` made elsewhere, running nothing.
//!
//! Reading ([`results`], [`junit`], [`e2e_log`]) streams each file once and copies it to the
//! artifacts directory on the way (`--artifacts DIR`, `DIR/<testcase id>/`).

pub mod e2e_log;
pub mod judge;
pub mod junit;
pub mod ok_to_fail;
pub mod pod;
pub mod results;
pub mod sonobuoy;
pub mod suite;

use std::path::PathBuf;

use futures::future::BoxFuture;
use scs_kaas_core::finding::{Finding, Outcome};
use scs_kaas_core::k8s_version::K8sVersion;

use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use ok_to_fail::OkToFail;
use results::{Artifacts, Evidence};
pub use suite::Suite;

/// The assignment naming where evidence is kept (`--artifacts DIR` sets it).
pub const ARTIFACTS_ARG: &str = "artifacts";

/// One of the two e2e checks.
pub struct E2eCheck(pub Suite);

/// `cncf-k8s-conformance`.
pub const CNCF_CONFORMANCE: E2eCheck = E2eCheck(Suite::Conformance);
/// `kaas-networking-check`.
pub const KAAS_NETWORKING: E2eCheck = E2eCheck(Suite::Networking);

/// Where the results come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Results made elsewhere.
    Results(PathBuf),
    /// The `sonobuoy` executable at this path (or name on `PATH`).
    Sonobuoy(PathBuf),
    /// The native pod runner.
    Native,
}

/// The parsed assignments.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the results come from.
    pub source: Source,
    /// Tolerated failures.
    pub ok_to_fail: OkToFail,
    /// `--artifacts DIR` / `-a artifacts=DIR`.
    pub artifacts: Option<PathBuf>,
    /// How the suite runs (native and Sonobuoy).
    pub run: pod::RunSettings,
}

fn non_empty<'a>(key: &str, v: Option<&'a str>, example: &str) -> Result<Option<&'a str>, String> {
    match v {
        Some(s) if s.trim().is_empty() => Err(format!(
            "{key}= is empty; give e.g. -a {key}={example}, or drop the assignment"
        )),
        other => Ok(other),
    }
}

impl Options {
    /// Parse the assignments of `ctx` for `suite`; errors name the key and a value that works.
    pub fn from_ctx(ctx: &CheckContext, suite: Suite) -> Result<Options, String> {
        let results = non_empty(
            "conformance_results",
            ctx.arg("conformance_results"),
            "sonobuoy-results.tar.gz",
        )?;
        let runner = ctx.arg("conformance_runner");
        let sonobuoy_path = non_empty("sonobuoy", ctx.arg("sonobuoy"), "/usr/local/bin/sonobuoy")?;
        let source = match (results, runner) {
            (Some(_), Some(r)) => {
                return Err(format!(
                    "conformance_results= judges existing results and runs nothing, but conformance_runner={r} asks for a run; give one of them"
                ));
            }
            (Some(p), None) => Source::Results(PathBuf::from(p)),
            (None, None | Some("native")) => Source::Native,
            (None, Some("sonobuoy")) => {
                Source::Sonobuoy(PathBuf::from(sonobuoy_path.unwrap_or("sonobuoy")))
            }
            (None, Some(other)) => {
                return Err(format!(
                    "conformance_runner={other:?} is not native or sonobuoy; pass -a conformance_runner=native (the default) or =sonobuoy"
                ));
            }
        };
        if sonobuoy_path.is_some() && !matches!(source, Source::Sonobuoy(_)) {
            return Err(
                "sonobuoy= names the Sonobuoy executable, which only -a conformance_runner=sonobuoy uses; add it or drop sonobuoy="
                    .to_string(),
            );
        }
        let artifacts =
            non_empty(ARTIFACTS_ARG, ctx.arg(ARTIFACTS_ARG), "./evidence")?.map(PathBuf::from);
        let ok_to_fail = OkToFail::from_arg(non_empty(
            "ok_to_fail",
            ctx.arg("ok_to_fail"),
            "scs-sonobuoy-config-v1.yaml",
        )?)?;
        let run = pod::RunSettings::from_ctx(ctx, suite)?;
        Ok(Options {
            source,
            ok_to_fail,
            artifacts,
            run,
        })
    }
}

const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "CONF-01 / NW-01",
        severity: "FAIL|WARN",
        summary: "every test of the selection passes (FAIL names each failing test with the first lines of its failure); a failure matching okToFail is a WARNING naming why",
    },
    RuleDoc {
        id: "E2E-01",
        severity: "ABORT",
        summary: "the run did what the selection demands, else ABORT (never a vacuous PASS): some test ran; conformance: no [Conformance] spec skipped and their number equals the version's published count; networking: a NetworkPolicy spec ran; as many specs ran as the e2e.log announced",
    },
    RuleDoc {
        id: "E2E-02",
        severity: "ABORT|WARN",
        summary: "the results were made against the cluster's Kubernetes version (e2e.log kube-apiserver line or the tarball's serverversion.json; e2e suite of the same minor), else ABORT; no version in the results is a WARNING",
    },
    RuleDoc {
        id: "E2E-03",
        severity: "ABORT|WARN",
        summary: "the results are younger than the testcase's lifetime (conformance: year, networking: month, as in the official scope), else ABORT; no date in the results is a WARNING",
    },
    RuleDoc {
        id: "E2E-04",
        severity: "ABORT",
        summary: "results exist and are readable, the image could be pulled, the run ended before the deadline; else ABORT with the cause",
    },
    RuleDoc {
        id: "E2E-05",
        severity: "INFO",
        summary: "INFO: what ran (passed, failed, tolerated, skipped; [Conformance] and NetworkPolicy specs) and where the evidence is kept",
    },
];

const ASSIGNMENTS: &[AssignmentDoc] = &[
    AssignmentDoc {
        key: "conformance_results",
        default: "",
        accepted: "PATH",
        help: "PATH of results made elsewhere (Sonobuoy tarball, directory, or junit_01.xml with e2e.log beside it): judge them, run nothing",
    },
    AssignmentDoc {
        key: "conformance_runner",
        default: "native",
        accepted: "native|sonobuoy",
        help: "native (default: a pod running registry.k8s.io/conformance) | sonobuoy (drive the sonobuoy executable)",
    },
    AssignmentDoc {
        key: "sonobuoy",
        default: "sonobuoy",
        accepted: "PATH",
        help: "PATH of the sonobuoy executable (default: sonobuoy on PATH); with conformance_runner=sonobuoy",
    },
    AssignmentDoc {
        key: "conformance_image",
        default: "",
        accepted: "IMAGE",
        help: "the conformance image (default registry.k8s.io/conformance:v<server major.minor.patch>, below image_mirror when set)",
    },
    AssignmentDoc {
        key: "image_mirror",
        default: "",
        accepted: "PREFIX",
        help: "registry prefix replacing registry.k8s.io for the conformance and busybox images",
    },
    AssignmentDoc {
        key: "e2e_focus",
        default: "",
        accepted: "REGEX",
        help: "E2E_FOCUS regex (default: \\[Conformance\\] / NetworkPolicy)",
    },
    AssignmentDoc {
        key: "e2e_skip",
        default: "",
        accepted: "REGEX",
        help: "E2E_SKIP regex (default: empty / \\[Disruptive\\]|NoExecuteTaintManager)",
    },
    AssignmentDoc {
        key: "e2e_parallel",
        default: "1",
        accepted: "N (1-64)",
        help: "number of parallel ginkgo processes (--procs=N, E2E_PARALLEL); default 1 (serial)",
    },
    AssignmentDoc {
        key: "ok_to_fail",
        default: "",
        accepted: "FILE",
        help: "FILE in the okToFail format of the SCS reference (scs-sonobuoy-config-v1.yaml) replacing the shipped list",
    },
    AssignmentDoc {
        key: "artifacts",
        default: "",
        accepted: "DIR",
        help: "DIR receiving <testcase id>/junit_01.xml and e2e.log (set by --artifacts; default beside --report, else a temporary directory named in the output)",
    },
];

const DETAILS: &str = "\
Runs (or judges) the upstream Kubernetes e2e suite. cncf-k8s-conformance: the certified-conformance \
selection (focus \\[Conformance\\], empty skip), default deadline 3h; kaas-networking-check: focus \
NetworkPolicy, skip \\[Disruptive\\]|NoExecuteTaintManager as Sonobuoy's default, deadline 1h. Both \
with --ginkgo.flake-attempts=2 as the SCS reference. --timeout overrides the deadline.

Native runner (default): namespace scs-kaas-<check>-<run id> (probe labels; `scs-kaas cleanup` finds \
it), ServiceAccount scs-kaas-e2e, ClusterRole and ClusterRoleBinding named like the namespace (every verb \
on every resource, get on /metrics, /logs, /logs/*; labelled like the namespace and removed with it), \
one pod `e2e` with the conformance container and a busybox `output` container sharing /tmp/results. \
Progress (specs done / total, ETA) comes from the container log; junit_01.xml and e2e.log are fetched \
with exec cat. An image that cannot be pulled is ABORT naming the image and image_mirror. Creating a \
ClusterRole with every right needs those rights: run it as a cluster admin (the suite needs them anyway).

Sonobuoy runner: sonobuoy delete --wait, run --wait with --mode=certified-conformance or --e2e-focus \
NetworkPolicy and --plugin-env e2e.E2E_EXTRA_ARGS=--ginkgo.flake-attempts=2, retrieve, delete; the \
tarball is judged.

Existing results: -a conformance_results=PATH judges results made elsewhere, e.g. a CNCF submission's \
junit_01.xml and e2e.log, without touching the cluster except to read its version.

What it cannot prove: flake attempts hide a test that failed once and passed on retry; okToFail entries \
are the reference's and carry no version range. Results without a version or a date are judged with a \
warning saying so.";

impl Check for E2eCheck {
    fn id(&self) -> &'static str {
        self.0.id()
    }

    fn standard(&self) -> &'static str {
        match self.0 {
            Suite::Conformance => "scs-0201-v1",
            Suite::Networking => "scs-0219-v1",
        }
    }

    fn description(&self) -> &'static str {
        match self.0 {
            Suite::Conformance => {
                "Every upstream [Conformance] e2e test of the cluster's Kubernetes version passes \
                 (run natively in a pod, through Sonobuoy, or judged from existing results)"
            }
            Suite::Networking => {
                "The upstream NetworkPolicy e2e tests pass (run natively in a pod, through \
                 Sonobuoy, or judged from existing results)"
            }
        }
    }

    fn mode(&self) -> Mode {
        Mode::Active
    }

    fn access(&self) -> Vec<Access> {
        pod::access()
    }

    fn default_deadline(&self) -> Option<std::time::Duration> {
        Some(self.0.default_deadline())
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn details(&self) -> &'static str {
        DETAILS
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(run(self.0, ctx))
    }
}

/// Where this testcase's evidence goes: `DIR/<id>` or a fresh temporary directory.
fn artifacts_dir(opts: &Options, suite: Suite) -> Result<PathBuf, String> {
    match &opts.artifacts {
        Some(dir) => Ok(dir.join(suite.id())),
        None => tempfile::Builder::new()
            .prefix(&format!("scs-kaas-{}-", suite.id()))
            .tempdir()
            .map(|d| d.keep())
            .map_err(|e| format!("cannot create a temporary directory for the evidence: {e}; give --artifacts DIR")),
    }
}

async fn run(suite: Suite, ctx: &CheckContext) -> Outcome {
    let opts = match Options::from_ctx(ctx, suite) {
        Ok(o) => o,
        Err(e) => return Outcome::abort(judge::RESULTS_RULE, e),
    };
    let cluster = match ctx.client.apiserver_version().await {
        Ok(info) => match K8sVersion::parse(&info.git_version) {
            Ok(v) => v,
            Err(e) => {
                return Outcome::abort(
                    judge::RESULTS_RULE,
                    format!("the cluster's /version names {:?}: {e}", info.git_version),
                );
            }
        },
        Err(e) => {
            return Outcome::abort(
                judge::RESULTS_RULE,
                format!("cannot read the cluster's version (GET /version): {e}"),
            );
        }
    };
    let dir = match artifacts_dir(&opts, suite) {
        Ok(d) => d,
        Err(e) => return Outcome::abort(judge::RESULTS_RULE, e),
    };
    let mut notes = Vec::new();
    let evidence: Result<Evidence, Outcome> = match &opts.source {
        Source::Results(path) => read_blocking(path.clone(), dir.clone()).await,
        Source::Sonobuoy(bin) => {
            let kubeconfig = ctx.kubeconfig.as_deref();
            match sonobuoy::run(bin, kubeconfig, suite, &opts.run, &dir, ctx.deadline).await {
                Ok(tarball) => read_blocking(tarball, dir.clone()).await,
                Err(outcome) => Err(outcome),
            }
        }
        Source::Native => pod::run(ctx, suite, &opts.run, &cluster, &dir, &mut notes).await,
    };
    let mut outcome = match evidence {
        Ok(ev) => judge::judge(
            &ev,
            &judge::Expect {
                suite,
                cluster: &cluster,
                counts: &suite::Counts::shipped(),
                ok_to_fail: &opts.ok_to_fail,
                lifetime: suite.lifetime(),
                now: ctx.now,
            },
        ),
        Err(outcome) => outcome,
    };
    let kept = dir.join(results::JUNIT).exists();
    match (kept, opts.artifacts.is_some()) {
        (true, true) => outcome.findings.push(Finding::info(
            judge::SUMMARY_RULE,
            format!("evidence kept in {}", dir.display()),
        )),
        (true, false) => outcome.findings.push(
            Finding::warn(
                judge::SUMMARY_RULE,
                format!("evidence kept in the temporary directory {}", dir.display()),
            )
            .with_fix("give --artifacts DIR (or --report FILE) to keep it where you want"),
        ),
        // A temporary directory that received nothing is removed again.
        (false, false) => {
            let _ = std::fs::remove_dir(&dir);
        }
        (false, true) => {}
    }
    outcome.findings.extend(notes);
    outcome
}

async fn read_blocking(path: PathBuf, dir: PathBuf) -> Result<Evidence, Outcome> {
    let read = tokio::task::spawn_blocking(move || {
        let mut artifacts = Artifacts::new(Some(dir));
        results::read_path(&path, &mut artifacts)
    })
    .await;
    match read {
        Ok(Ok(ev)) => Ok(ev),
        Ok(Err(e)) => Err(Outcome::abort(
            judge::RESULTS_RULE,
            format!("cannot read the e2e results: {e}"),
        )),
        Err(e) => Err(Outcome::abort(
            judge::RESULTS_RULE,
            format!("reading the e2e results stopped: {e}"),
        )),
    }
}
