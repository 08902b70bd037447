//! `scs-kaas check`: run a certification scope against a cluster and report.
//!
//! Flow: parse arguments → load the scope → plan (versions, filters, native/program/missing) →
//! connect (only if native checks run) → execute concurrently under deadlines → build the SCS
//! report → print the chosen output → write (and sign) the report file → exit by verdict.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use scs_kaas_checks::runner::{self, Event, Job, Options, Selection};
use scs_kaas_checks::{Check, CheckContext, registry};
use scs_kaas_core::report::{OrderedMap, Report, ReportSpec, Run, junit};
use scs_kaas_core::verdict::{self, TestcaseResult, Verdict, VersionVerdict};
use serde::Serialize;

use super::check_render;
use super::scope as scope_cmd;
use crate::exit;

/// Output formats on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Verdicts for people, then every failing, aborted or missing testcase.
    Table,
    /// The report plus verdicts and structured findings.
    Json,
    /// The SCS report document (what `--report` writes).
    Yaml,
    /// JUnit XML: one testsuite per scope version.
    Junit,
}

/// Arguments of `scs-kaas check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Scope file, or a built-in scope: scs-compatible-kaas (default), scs-kaas-extended.
    #[arg(long, value_name = "FILE|NAME", default_value = "scs-compatible-kaas")]
    scope: String,
    /// Run exactly this scope version, whatever its validity (default: every version the
    /// timeline lists on the date).
    #[arg(long = "version", value_name = "V")]
    scope_version: Option<String>,
    /// Only testcases in these sections (comma-separated, e.g. light,medium).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    sections: Option<Vec<String>>,
    /// Only testcases whose whole id matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    tests: Option<String>,
    /// Subject name in the report (default: the kubeconfig context name).
    #[arg(long, value_name = "NAME")]
    subject: Option<String>,
    /// Assign a scope variable (repeatable; each key once).
    #[arg(short = 'a', long = "assign", value_name = "KEY=VALUE")]
    assign: Vec<String>,
    /// Reference date for version validity and for time-dependent checks (YYYY-MM-DD,
    /// midnight UTC; default: now).
    #[arg(long, value_name = "DATE")]
    date: Option<String>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "table")]
    output: OutputFormat,
    /// Write the SCS report (YAML) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Sign the report file with this OpenSSH private key (writes FILE.sig, as
    /// `ssh-keygen -Y sign -n report`); needs --report.
    #[arg(long, value_name = "KEY", requires = "report")]
    sign_key: Option<PathBuf>,
    /// Deadline of each native check and each program (e.g. 90s, 15m, 2h).
    #[arg(long, value_name = "DUR", default_value = "1h")]
    timeout: String,
    /// How many checks and programs run at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    jobs: usize,
    /// Directory of cached upstream release data (`versions refresh` writes it).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Interpreter for `.py` scope programs.
    #[arg(long, value_name = "PROGRAM", default_value = "python3")]
    python: String,
}

/// The JSON output: the report plus what people and tools need beyond it.
#[derive(Serialize)]
struct JsonOutput<'a> {
    #[serde(flatten)]
    report: &'a Report,
    verdict: Verdict,
    verdicts: &'a [VersionVerdict],
    results: &'a BTreeMap<String, TestcaseResult>,
}

/// Run `scs-kaas check`.
pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let given = parse_assignments(&args.assign)?;
    let date = scope_cmd::parse_date(args.date.as_deref())?;
    let now = match &args.date {
        Some(_) => date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .context("--date is out of range")?
            .timestamp(),
        None => jiff::Timestamp::now(),
    };
    let deadline = parse_duration(&args.timeout)?;
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let tests = args
        .tests
        .as_deref()
        .map(|t| {
            regex::Regex::new(t)
                .with_context(|| format!("--tests `{t}` is not a valid regular expression"))
        })
        .transpose()?;
    // Load the key before the run, so a bad key or passphrase does not waste a long run.
    let sign_key = match &args.sign_key {
        Some(path) => Some(super::report::load_signing_key(path)?),
        None => None,
    };

    let loaded = scope_cmd::load(&args.scope)?;
    let scope = &loaded.scope;
    for note in &scope.notes {
        eprintln!("note: {note}");
    }
    let natives: Vec<Arc<dyn Check>> = registry::all().into_iter().map(Arc::from).collect();
    let selection = Selection {
        date,
        version: args.scope_version.clone(),
        sections: args.sections.clone(),
        tests,
    };
    let plan = runner::plan(scope, loaded.dir.as_deref(), &selection, &natives)?;

    let cluster = connect(&args).await;
    let subject = match (&args.subject, &cluster) {
        (Some(s), _) => s.clone(),
        (None, Ok(c)) => c.context.clone(),
        (None, Err(e)) => {
            bail!("cannot name the subject from the kubeconfig ({e:#}); pass --subject NAME")
        }
    };
    let needs_cluster = plan.jobs.iter().any(|j| matches!(j, Job::Native(_)));
    if needs_cluster && let Err(e) = &cluster {
        bail!("cannot connect to the cluster: {e:#}");
    }
    let mut values = given.clone();
    // Conventions of the SCS test runner, so the official scope runs without -a boilerplate.
    if let Ok(c) = &cluster
        && let Some(path) = &c.path
    {
        values
            .entry("kubeconfig".into())
            .or_insert_with(|| path.display().to_string());
    }
    values
        .entry("subject_root".into())
        .or_insert_with(|| subject.clone());
    let needs_values = plan.jobs.iter().any(|j| matches!(j, Job::Program { .. }));
    let values = match scope.assignment(&values) {
        Ok(v) => v,
        Err(e) if needs_values => bail!(e),
        Err(_) => values,
    };

    let ctx: Result<CheckContext, String> = match &cluster {
        Ok(c) => Ok(CheckContext {
            client: c.client.clone(),
            kubeconfig: c.path.clone(),
            args: values.clone(),
            now,
            deadline,
            run_id: format!("{:08x}", rand_u32()),
            cache_dir: args.cache_dir.clone(),
            denied: Vec::new(),
        }),
        Err(e) => Err(format!("{e:#}")),
    };
    let opts = Options {
        jobs: args.jobs,
        deadline,
        python: args.python.clone(),
        scope_dir: loaded.dir.clone(),
    };
    let progress = progress_bar(plan.jobs.len());
    let on_event = |e: Event| {
        if let Some(pb) = &progress {
            match e {
                Event::Started(label) => pb.set_message(label),
                Event::Finished(label) => {
                    pb.inc(1);
                    pb.println(format!("done: {label}"));
                }
            }
        }
    };
    let outcome = runner::execute(
        scope,
        &plan,
        ctx.as_ref().map_err(String::as_str),
        &values,
        &opts,
        &on_event,
    )
    .await;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }

    let statuses = outcome.statuses();
    let verdicts: Vec<VersionVerdict> = plan
        .versions
        .iter()
        .filter_map(|vv| {
            scope
                .version(&vv.version)
                .map(|v| verdict::evaluate(v, vv.validity, vv.explicit, &plan.selected, &statuses))
        })
        .collect();
    let overall = verdict::overall(&verdicts);

    let mut assignment = OrderedMap::new();
    for var in &scope.variables {
        if let Some(v) = values.get(&var.name) {
            assignment.insert(var.name.clone(), v.clone());
        }
    }
    for (k, v) in &given {
        assignment.insert(k.clone(), v.clone());
    }
    let report = Report {
        spec: ReportSpec {
            uuid: scope.uuid.clone().unwrap_or_default(),
            name: scope.name.clone(),
            url: scope.url.clone(),
        },
        checked_at: jiff::tz::Offset::UTC.to_datetime(jiff::Timestamp::now()),
        reference_date: date,
        subject: subject.clone(),
        run: Run {
            uuid: uuid_v4(),
            argv: std::env::args().skip(1).collect(),
            assignment,
            sections: args.sections.clone(),
            forced_version: args.scope_version.clone(),
            forced_tests: args.tests.clone(),
            invocations: outcome
                .invocations
                .iter()
                .map(|i| (i.id.clone(), i.clone()))
                .collect(),
        },
        versions: None,
    };
    if scope.uuid.is_none() {
        eprintln!("warning: the scope has no uuid; monitors will not accept this report");
    }
    let yaml = report.to_yaml()?;

    match args.output {
        OutputFormat::Table => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!(
                "{}",
                check_render::table(&subject, scope, &args, &verdicts, &outcome.results, colour)
            );
        }
        OutputFormat::Yaml => print!("{yaml}"),
        OutputFormat::Json => {
            let json = JsonOutput {
                report: &report,
                verdict: overall,
                verdicts: &verdicts,
                results: &outcome.results,
            };
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Junit => print!(
            "{}",
            junit::render(&scope.name, &verdicts, &outcome.results)
        ),
    }

    if let Some(path) = &args.report {
        std::fs::write(path, &yaml)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
        eprintln!("report written to {}", path.display());
        if let Some(key) = &sign_key {
            let sig = super::report::write_signature(key, path)?;
            eprintln!("signature written to {}", sig.display());
        }
    }
    Ok(ExitCode::from(match overall {
        Verdict::Pass => exit::OK,
        Verdict::Fail => exit::FAILED,
        Verdict::Tentative => exit::INCOMPLETE,
    }))
}

impl CheckArgs {
    /// Whether `--sections` or `--tests` narrowed the run (the table says so in its header).
    pub fn filters(&self) -> Vec<String> {
        let mut f = Vec::new();
        if let Some(s) = &self.sections {
            f.push(format!("sections: {}", s.join(",")));
        }
        if let Some(t) = &self.tests {
            f.push(format!("tests: '{t}'"));
        }
        f
    }
}

/// `-a key=value` list to a map; a repeated key or a missing `=` is a usage error.
fn parse_assignments(list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in list {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("-a `{item}` is not KEY=VALUE"))?;
        let k = k.trim();
        if k.is_empty() {
            bail!("-a `{item}` has an empty key");
        }
        if k == "testcases" {
            bail!(
                "-a testcases=… is not allowed: `testcases` is computed from the selected testcases"
            );
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            bail!("-a {k}=… is given twice; assign each variable once");
        }
    }
    Ok(out)
}

/// `90s`, `15m`, `1h30m`, `PT2H`.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let d: jiff::SignedDuration = text.parse().with_context(|| {
        format!("--timeout `{text}` is not a duration; write e.g. 90s, 15m or 2h")
    })?;
    let d = Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow!("--timeout `{text}` must be positive"))?;
    Ok(d)
}

struct Cluster {
    client: kube::Client,
    context: String,
    path: Option<PathBuf>,
}

async fn connect(args: &CheckArgs) -> anyhow::Result<Cluster> {
    let (kubeconfig, path) = match &args.kubeconfig {
        Some(p) => (
            kube::config::Kubeconfig::read_from(p)
                .with_context(|| format!("cannot read the kubeconfig {}", p.display()))?,
            Some(p.canonicalize().unwrap_or_else(|_| p.clone())),
        ),
        None => (
            kube::config::Kubeconfig::read().context(
                "cannot read a kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig",
            )?,
            std::env::var_os("KUBECONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        ),
    };
    let context = args
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .ok_or_else(|| anyhow!("the kubeconfig has no current context; pass --context"))?;
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        bail!(
            "the kubeconfig has no context `{context}`; it has: {}",
            kubeconfig
                .contexts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let options = kube::config::KubeConfigOptions {
        context: Some(context.clone()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("the kubeconfig context `{context}` is not usable"))?;
    let client = kube::Client::try_from(config).context("cannot build a client for the cluster")?;
    Ok(Cluster {
        client,
        context,
        path,
    })
}

fn progress_bar(len: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || len == 0 {
        return None;
    }
    let pb = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
    {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(120));
    Some(pb)
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn rand_u32() -> u32 {
    rand::random()
}
