//! `scs-kaas demo`: start the simulated cluster with the compliant scenario, check it, show the
//! verdict and write the report.
//!
//! The demo is the newcomer's first contact: one command, no cluster, no network. It starts the
//! simulated API server in-process, shows what it serves through the real `kube` client, and then
//! runs `check` against it — the same code path, a real HTTPS connection through a kubeconfig —
//! for the official scope and the `scs-kaas-extended` scope. Testcases this build cannot decide
//! (the sonobuoy conformance runs, checks not implemented yet) show as MISSING with the reason.
//!
//! For a reproducible demo the checks judge by the built-in release data only (no cache, no
//! network) and, unless `--date` is given, on that data's date: the shipped scenario was recorded
//! as compliant then. The exit code says whether the demo ran (0) or could not (2); the verdicts
//! judge a simulated cluster, so they do not decide it (the output says what `check` would exit).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use scs_kaas_core::verdict::Verdict;
use scs_kaas_sim::server::RunningSim;

use super::check::{self, CheckArgs};
use super::check_render;
use super::interrupt::Interrupt;
use crate::exit;

/// The shipped compliant scenario, embedded so the demo works from any directory.
const COMPLIANT: &str = include_str!("../../../../scenarios/compliant.yaml");

/// The scopes the demo checks when no `--scope` is given: the official one and ours.
const DEFAULT_SCOPES: [&str; 2] = ["scs-compatible-kaas", "scs-kaas-extended"];

/// Arguments of `scs-kaas demo`.
#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes:
  0  the demo ran and showed its verdicts (they judge a simulated cluster; the output says what
     `scs-kaas check` would exit for each scope); with --serve: stopped by Ctrl-C or SIGTERM
  2  usage or configuration error (bad arguments, unreadable scenario, scope or key)
  130  stopped by Ctrl-C (SIGINT) while checking, after removing the probe objects
  143  stopped by SIGTERM while checking, likewise")]
pub struct DemoArgs {
    /// Scenario file to simulate instead of the shipped compliant one (see docs/scenario-format.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Scope to check, FILE or built-in NAME (repeatable; default: scs-compatible-kaas and
    /// scs-kaas-extended).
    #[arg(long = "scope", value_name = "FILE|NAME")]
    pub scopes: Vec<String>,

    /// Reference date for the checks (YYYY-MM-DD; default: the date of the built-in release data,
    /// on which the shipped scenario is compliant).
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,

    /// Check exactly this scope version (any validity) instead of those the timeline lists on
    /// the date, in every scope checked; needed for a --date outside a scope's timeline.
    #[arg(long = "version", value_name = "V")]
    pub scope_version: Option<String>,

    /// Judge versions by this release data instead of the built-in data (GitHub releases JSON
    /// or the file `versions refresh` writes); the default date becomes that data's date.
    #[arg(long, value_name = "FILE")]
    pub release_data: Option<PathBuf>,

    /// Subject name in the report (default: sim-<scenario name>).
    #[arg(long, value_name = "NAME")]
    pub subject: Option<String>,

    /// Write the SCS report here: one YAML document per scope, as `scs-kaas check` writes them.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Sign the report with this OpenSSH private key (writes FILE.sig, as
    /// `ssh-keygen -Y sign -n report`); needs --report.
    #[arg(long, value_name = "KEY", requires = "report")]
    pub sign_key: Option<PathBuf>,

    /// Assign a scope variable or check parameter, passed on to `check` (repeatable; e.g.
    /// `-a lb_timeout=10s` for a scenario whose load balancers stay pending). The demo sets
    /// `netpol_convergence=2s` unless given.
    #[arg(short = 'a', long = "assign", value_name = "KEY=VALUE")]
    pub assign: Vec<String>,

    /// Deadline of each check (e.g. 30s, 2m).
    #[arg(long, value_name = "DUR", default_value = "60s")]
    pub timeout: String,

    /// Also write a kubeconfig for the simulated cluster here (for kubectl).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,

    /// Keep the simulated cluster running after the checks until Ctrl-C (or SIGTERM), so you can
    /// use kubectl.
    #[arg(long)]
    pub serve: bool,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Run the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // Everything the user gave is checked before the cluster starts.
    let date = match &args.date {
        Some(d) => super::scope::parse_date(Some(d))?,
        None => match &args.release_data {
            Some(path) => {
                scs_kaas_checks::release_data::load_file(path)
                    .map_err(|e| anyhow::anyhow!(e))?
                    .db
                    .data
                    .as_of
            }
            None => {
                scs_kaas_core::release::snapshot()
                    .context("the built-in release data is unusable")?
                    .data
                    .as_of
            }
        },
    };
    let scopes: Vec<String> = if args.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
    } else {
        args.scopes.clone()
    };
    let config = match &args.scenario {
        Some(path) => scs_kaas_sim::scenario::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => scs_kaas_sim::scenario::parse(COMPLIANT, "scenarios/compliant.yaml")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let scenario_name = config.name.clone();
    let subject: String = args
        .subject
        .clone()
        .unwrap_or_else(|| format!("sim-{scenario_name}"));

    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let kubeconfig = match &args.kubeconfig_out {
        Some(path) => path.clone(),
        None => work.path().join("kubeconfig"),
    };
    // An empty cache directory: the checks judge by the built-in release data only.
    let cache = work.path().join("release-cache");
    let runs = scopes
        .iter()
        .map(|scope| CheckRun::new(scope, &kubeconfig, &cache, subject.as_str(), date, &args))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let sign_key = match &args.sign_key {
        Some(path) => Some(super::report::load_signing_key(path)?),
        None => None,
    };

    let interrupt = Interrupt::listen()?;
    let sim = scs_kaas_sim::server::start(config, args.listen)
        .await
        .context("cannot start the simulated cluster")?;
    outln!(
        "Simulated cluster {scenario_name:?} serving at {}",
        sim.url()
    );
    let result = demo(
        &args,
        &sim,
        &kubeconfig,
        &cache,
        &runs,
        date,
        sign_key,
        &interrupt,
    )
    .await;
    sim.shutdown().await;
    result
}

/// One `check` run of the demo: its words (as on a command line) and the parsed arguments.
struct CheckRun {
    scope: String,
    words: Vec<String>,
    args: CheckArgs,
}

impl CheckRun {
    /// Build and validate the `check` arguments for one scope (before the sim starts).
    fn new(
        scope: &str,
        kubeconfig: &Path,
        cache: &Path,
        subject: &str,
        date: jiff::civil::Date,
        demo: &DemoArgs,
    ) -> anyhow::Result<CheckRun> {
        let words: Vec<String> = [
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "--scope",
            scope,
            "--subject",
            subject,
            "--date",
            &date.to_string(),
            "--timeout",
            &demo.timeout,
            "--cache-dir",
            &cache.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(
            demo.scope_version
                .iter()
                .flat_map(|v| ["--version".to_owned(), v.clone()]),
        )
        .chain(
            demo.release_data
                .iter()
                .flat_map(|p| ["--release-data".to_owned(), p.display().to_string()]),
        )
        .chain(
            demo.assign
                .iter()
                .flat_map(|a| ["-a".to_owned(), a.clone()]),
        )
        // With --report, the e2e evidence goes beside it, as `check --report` keeps it.
        .chain(demo.report.iter().flat_map(|r| {
            let stem = r
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "report".to_owned());
            let dir = r.with_file_name(format!("{stem}-artifacts"));
            ["--artifacts".to_owned(), dir.display().to_string()]
        }))
        .chain(sim_defaults(&demo.assign))
        .collect();
        let mut args = CheckArgs::from_words(&words)?;
        args.keys_of_every_check = true;
        check::validate(&args)?;
        super::scope::load(scope)?;
        Ok(CheckRun {
            scope: scope.to_owned(),
            words,
            args,
        })
    }
}

/// Tour, checks, report, serve: everything between starting and stopping the sim.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the list
async fn demo(
    args: &DemoArgs,
    sim: &RunningSim,
    kubeconfig: &Path,
    cache: &Path,
    runs: &[CheckRun],
    date: jiff::civil::Date,
    sign_key: Option<scs_kaas_core::signature::PrivateKey>,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitCode> {
    let client = client_for(sim).await?;
    tour(&client).await?;

    sim.write_kubeconfig(kubeconfig)
        .with_context(|| format!("cannot write the kubeconfig to {}", kubeconfig.display()))?;
    if args.kubeconfig_out.is_some() {
        outln!("\nKubeconfig written to {}", kubeconfig.display());
    }
    std::fs::create_dir_all(cache).with_context(|| format!("cannot create {}", cache.display()))?;

    outln!(
        "\nChecking it as `scs-kaas check` would a real cluster, on {date}{}, with the built-in \
         release data (no network).",
        if args.date.is_none() {
            " (the date of that data)"
        } else {
            ""
        }
    );
    let mut yaml = String::new();
    for run in runs {
        let scope = &run.scope;
        let check_args = &run.args;
        let argv = std::iter::once("check".to_string())
            .chain(run.words.iter().cloned())
            .collect();
        let checked = check::evaluate(check_args, argv, interrupt).await?;
        outln!("\n── scope {scope} ──");
        out!(
            "{}",
            check_render::table(
                &checked.subject,
                &checked.scope,
                check_args,
                &checked.verdicts,
                &checked.results,
                check::use_colour(
                    std::io::IsTerminal::is_terminal(&std::io::stdout()),
                    std::env::var_os("NO_COLOR")
                ),
            )
        );
        if let Some(note) = simulated_e2e_note(&checked.results) {
            outln!("{note}");
        }
        outln!(
            "(`scs-kaas check --scope {scope}` would exit {} here: {})",
            check::exit_code(checked.overall),
            match checked.overall {
                Verdict::Pass => "every main-target testcase passed",
                Verdict::Fail => "a main-target testcase failed",
                Verdict::Tentative =>
                    "nothing failed, but main-target testcases are missing or aborted",
            }
        );
        yaml.push_str(&checked.yaml);
    }

    outln!();
    match &args.report {
        Some(path) => {
            check::write_report(path, &yaml, sign_key.as_ref())?;
            outln!(
                "Report ({} document{}) written to {}{}",
                runs.len(),
                if runs.len() == 1 { "" } else { "s" },
                path.display(),
                if sign_key.is_some() {
                    " and signed"
                } else {
                    ""
                }
            );
        }
        None => outln!("Add --report FILE (and --sign-key KEY) to keep the SCS report."),
    }
    outln!(
        "Against your own cluster: scs-kaas check --kubeconfig FILE --report report.yaml --sign-key KEY"
    );

    if args.serve {
        outln!(
            "\nServing until Ctrl-C. Try: kubectl --kubeconfig {} get nodes -o wide",
            kubeconfig.display()
        );
        interrupt.token().cancelled().await;
    }
    Ok(ExitCode::from(exit::OK))
}

/// A `kube` client for the sim's first admin user, built from the kubeconfig it writes.
async fn client_for(sim: &RunningSim) -> anyhow::Result<kube::Client> {
    let user = sim.first_admin().unwrap_or("admin").to_string();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(&user))
        .context("the simulator wrote a kubeconfig kube cannot read")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .context("the simulator's kubeconfig is not usable")?;
    kube::Client::try_from(config).context("cannot build a client for the simulated cluster")
}

/// Print what the cluster serves, as a provider's engineer would look at it.
async fn tour(client: &kube::Client) -> anyhow::Result<()> {
    let version = client
        .apiserver_version()
        .await
        .context("GET /version failed")?;
    outln!("Kubernetes version: {}", version.git_version);

    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    outln!("\nNodes ({}):", nodes.items.len());
    outln!(
        "  {:<24} {:<14} {:<12} {:<12} KUBELET",
        "NAME",
        "ROLE",
        "ZONE",
        "REGION"
    );
    for node in &nodes.items {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let role = if labels.contains_key("node-role.kubernetes.io/control-plane") {
            "control-plane"
        } else {
            "worker"
        };
        let label = |k: &str| labels.get(k).cloned().unwrap_or_else(|| "-".into());
        let kubelet = node
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone())
            .unwrap_or_else(|| "-".into());
        outln!(
            "  {:<24} {:<14} {:<12} {:<12} {}",
            node.metadata.name.as_deref().unwrap_or("?"),
            role,
            label("topology.kubernetes.io/zone"),
            label("topology.kubernetes.io/region"),
            kubelet
        );
    }

    let classes = Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    outln!("\nStorage classes ({}):", classes.items.len());
    for sc in &classes.items {
        let default = sc
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
            .is_some_and(|v| v == "true");
        outln!(
            "  {:<24} {:<32} {}",
            sc.metadata.name.as_deref().unwrap_or("?"),
            sc.provisioner,
            if default { "(default)" } else { "" }
        );
    }

    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let names: Vec<_> = namespaces
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    outln!("\nNamespaces ({}): {}", names.len(), names.join(", "));

    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    for pod in &pods.items {
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        *phases.entry(phase).or_default() += 1;
    }
    let phases: Vec<_> = phases.iter().map(|(p, n)| format!("{n} {p}")).collect();
    outln!("Pods ({}): {}", pods.items.len(), phases.join(", "));

    let pvcs = Api::<PersistentVolumeClaim>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    outln!("Persistent volume claims: {}", pvcs.items.len());
    Ok(())
}

/// Assignments the demo adds unless the user gave them: the simulated network plugin applies
/// NetworkPolicies at once, so a scenario without enforcement need not wait the 30 s a real
/// plugin gets to converge.
fn sim_defaults(given: &[String]) -> Vec<String> {
    const DEFAULTS: &[(&str, &str)] = &[("netpol_convergence", "2s")];
    DEFAULTS
        .iter()
        .filter(|(key, _)| !given.iter().any(|a| a.split('=').next() == Some(key)))
        .flat_map(|(key, value)| ["-a".to_owned(), format!("{key}={value}")])
        .collect()
}

/// Testcases whose evidence is the upstream e2e suite, which the simulator only pretends to run.
const E2E_TESTCASES: &[&str] = &["cncf-k8s-conformance", "kaas-networking-check"];

/// The line saying plainly that e2e verdicts of the demo judge simulated results, when a scope
/// ran any of [`E2E_TESTCASES`] (they are missing when no native check runs them).
fn simulated_e2e_note(
    results: &BTreeMap<String, scs_kaas_core::verdict::TestcaseResult>,
) -> Option<String> {
    let ran: Vec<&str> = E2E_TESTCASES
        .iter()
        .copied()
        .filter(|id| results.get(*id).is_some_and(|r| r.status.is_some()))
        .collect();
    (!ran.is_empty()).then(|| {
        format!(
            "e2e results simulated: {} judged the e2e.log and junit_01.xml the simulated conformance \
             image wrote in seconds; on a real cluster the upstream e2e suite runs for hours.",
            ran.join(" and ")
        )
    })
}

#[cfg(test)]
mod e2e_note_tests {
    use scs_kaas_core::finding::Status;
    use scs_kaas_core::verdict::TestcaseResult;

    use super::*;

    fn result(id: &str, status: Option<Status>) -> (String, TestcaseResult) {
        (
            id.to_string(),
            TestcaseResult {
                id: id.to_string(),
                status,
                findings: Vec::new(),
                reason: None,
                implementation: None,
            },
        )
    }

    #[test]
    fn e2e_verdicts_are_labelled_simulated_only_when_they_ran() {
        let ran = BTreeMap::from([
            result("cncf-k8s-conformance", Some(Status::Pass)),
            result("kaas-networking-check", Some(Status::Pass)),
            result("version-policy-check", Some(Status::Pass)),
        ]);
        let note = simulated_e2e_note(&ran).expect("labelled");
        assert!(
            note.starts_with(
                "e2e results simulated: cncf-k8s-conformance and kaas-networking-check"
            ),
            "{note}"
        );
        let missing = BTreeMap::from([
            result("cncf-k8s-conformance", None),
            result("version-policy-check", Some(Status::Pass)),
        ]);
        assert_eq!(simulated_e2e_note(&missing), None);
    }
}
