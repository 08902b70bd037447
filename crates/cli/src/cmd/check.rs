//! `scs-kaas check`: run a certification scope against a cluster and report.
//!
//! Flow: parse arguments → load the scope → plan (versions, filters, native/program/missing) →
//! connect (only if native checks run) → execute concurrently under deadlines → build the SCS
//! report → print the chosen output → write (and sign) the report file → exit by verdict.
//!
//! Ctrl-C or SIGTERM ([`super::interrupt`]) stops the running checks; the command waits for their
//! probe cleanups (as it does for checks cut off by `--timeout`), says what it removed and what
//! is left, writes no report and exits 130 / 143.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use scs_kaas_checks::native::conformance::ARTIFACTS_ARG;
use scs_kaas_checks::runner::{self, Event, ImplementationChoice, Job, Options, Selection};
use scs_kaas_checks::{Check, CheckContext, registry, release_data};
use scs_kaas_core::report::{OrderedMap, Report, ReportSpec, Run, junit};
use scs_kaas_core::scope::Scope;
use scs_kaas_core::verdict::{self, TestcaseResult, Verdict, VersionVerdict};
use serde::Serialize;

use super::check_render;
use super::interrupt::{Interrupt, Interrupted};
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
    /// Judge versions by this release data instead of cache and snapshot (offline, air-gapped):
    /// GitHub releases JSON (as SCS's test data; end-of-life dates and CVEs then come from the
    /// built-in data) or the file `versions refresh` writes.
    #[arg(long, value_name = "FILE")]
    pub release_data: Option<PathBuf>,
    /// Accept the `-a` keys of every native check, not only of the selected ones (`demo` passes
    /// the same assignments to several scopes).
    #[arg(skip)]
    pub keys_of_every_check: bool,
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
    /// Deadline of each native check and each program (e.g. 90s, 15m, 2h). Default 1h; without
    /// it, checks with a default of their own keep it (cncf-k8s-conformance 3h).
    #[arg(long, value_name = "DUR")]
    timeout: Option<String>,
    /// Keep the e2e evidence (junit_01.xml, e2e.log) of cncf-k8s-conformance and
    /// kaas-networking-check in DIR/<testcase id>/ (default: beside --report as
    /// REPORT-artifacts/, else a temporary directory named in the output).
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// How many checks and programs run at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    jobs: usize,
    /// Directory of cached upstream release data (`versions refresh` writes it).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Interpreter for `.py` scope programs.
    #[arg(long, value_name = "PROGRAM", default_value = "python3")]
    python: String,
    /// Which implementation decides a testcase that has a native check and a scope program
    /// (only a --scope FILE's programs can run; the output names per testcase what ran).
    #[arg(
        long,
        value_enum,
        value_name = "WHICH",
        default_value = "prefer-native"
    )]
    implementation: ImplementationArg,
}

/// `--implementation` values (see [`ImplementationChoice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImplementationArg {
    /// The native check where this build has one, else the scope's program.
    PreferNative,
    /// Native checks only: no program is started; testcases without a native check are missing.
    Native,
    /// The scope's programs, as SCS's runner runs them; native checks only for testcases whose
    /// scope names no program.
    Programs,
}

impl From<ImplementationArg> for ImplementationChoice {
    fn from(arg: ImplementationArg) -> Self {
        match arg {
            ImplementationArg::PreferNative => ImplementationChoice::PreferNative,
            ImplementationArg::Native => ImplementationChoice::Native,
            ImplementationArg::Programs => ImplementationChoice::Programs,
        }
    }
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

/// Everything one check run produced, before anything is printed or written; `demo` runs several
/// scopes through [`evaluate`] and prints them itself.
pub struct Checked {
    /// Subject name in the report.
    pub subject: String,
    /// The scope that was run.
    pub scope: Scope,
    /// Verdict per selected version, with its targets.
    pub verdicts: Vec<VersionVerdict>,
    /// Worst main-target verdict over the versions: decides the exit code.
    pub overall: Verdict,
    /// One result per selected testcase (missing ones with their reason).
    pub results: BTreeMap<String, TestcaseResult>,
    /// The SCS report document.
    pub report: Report,
    /// The report serialised as the SCS tooling writes it (one `---` document).
    pub yaml: String,
}

/// Run `scs-kaas check`.
pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    validate(&args)?;
    // Load the key before the run, so a bad key or passphrase does not waste a long run.
    let sign_key = match &args.sign_key {
        Some(path) => Some(super::report::load_signing_key(path)?),
        None => None,
    };
    let interrupt = Interrupt::listen()?;
    // The command line as recorded in the report; paths need not be UTF-8 (shown lossily there).
    let argv = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let checked = evaluate(&args, argv, &interrupt).await?;
    // The report first: a reader that closes standard output early must not cost it.
    if let Some(path) = &args.report {
        write_report(path, &checked.yaml, sign_key.as_ref())?;
    }

    match args.output {
        OutputFormat::Table => out!(
            "{}",
            check_render::table(
                &checked.subject,
                &checked.scope,
                &args,
                &checked.verdicts,
                &checked.results,
                use_colour(
                    std::io::stdout().is_terminal(),
                    std::env::var_os("NO_COLOR")
                ),
            )
        ),
        OutputFormat::Yaml => out!("{}", checked.yaml),
        OutputFormat::Json => {
            let json = JsonOutput {
                report: &checked.report,
                verdict: checked.overall,
                verdicts: &checked.verdicts,
                results: &checked.results,
            };
            outln!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Junit => out!(
            "{}",
            junit::render(&checked.scope.name, &checked.verdicts, &checked.results)
        ),
    }
    Ok(ExitCode::from(exit_code(checked.overall)))
}

/// The exit code of a verdict (0 pass, 1 fail, 3 tentative: aborted or missing).
pub fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => exit::OK,
        Verdict::Fail => exit::FAILED,
        Verdict::Tentative => exit::INCOMPLETE,
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (to anything, per no-color.org).
pub fn use_colour(stdout_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stdout_is_terminal && no_color.is_none()
}

/// Whether log lines on stderr may carry colour codes: only on a terminal, never with `NO_COLOR`
/// (a log written to a file or pipe stays plain text).
pub fn log_colour() -> bool {
    use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    )
}

/// Write the report file and, with a key, its `.sig` next to it (as `ssh-keygen -Y sign` would).
pub fn write_report(
    path: &std::path::Path,
    yaml: &str,
    key: Option<&scs_kaas_core::signature::PrivateKey>,
) -> anyhow::Result<()> {
    std::fs::write(path, yaml)
        .with_context(|| format!("cannot write the report to {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    if let Some(key) = key {
        let sig = super::report::write_signature(key, path)?;
        eprintln!("signature written to {}", sig.display());
    }
    Ok(())
}

/// Use `--release-data FILE` for the rest of the process (a usage error when it cannot be read);
/// the first file given wins.
pub fn apply_release_data(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(path) = path {
        let loaded = release_data::load_file(path).map_err(|e| anyhow!(e))?;
        for note in &loaded.notes {
            eprintln!("note: {note}");
        }
        release_data::use_file(loaded);
    }
    Ok(())
}

/// Reject bad flag values before anything slow happens (key prompt, cluster connection).
pub fn validate(args: &CheckArgs) -> anyhow::Result<()> {
    parse_assignments(&args.assign)?;
    if let Some(path) = &args.release_data {
        release_data::load_file(path).map_err(|e| anyhow!(e))?;
    }
    scope_cmd::parse_date(args.date.as_deref())?;
    parse_duration(timeout_value(args))?;
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    tests_regex(args.tests.as_deref())?;
    Ok(())
}

fn tests_regex(tests: Option<&str>) -> anyhow::Result<Option<regex::Regex>> {
    tests
        .map(|t| {
            regex::Regex::new(t)
                .with_context(|| format!("--tests `{t}` is not a valid regular expression"))
        })
        .transpose()
}

/// Plan, connect, execute and build the report: the whole of `check` except output. `argv` is
/// recorded in the report (what reproduces the run). When `interrupt` fires, the running checks
/// are stopped, their probe cleanups awaited, and the result is the error [`Interrupted`].
pub async fn evaluate(
    args: &CheckArgs,
    argv: Vec<String>,
    interrupt: &Interrupt,
) -> anyhow::Result<Checked> {
    validate(args)?;
    apply_release_data(args.release_data.as_deref())?;
    let given = parse_assignments(&args.assign)?;
    let date = scope_cmd::parse_date(args.date.as_deref())?;
    let now = match &args.date {
        Some(_) => date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .context("--date is out of range")?
            .timestamp(),
        None => jiff::Timestamp::now(),
    };
    let deadline = parse_duration(timeout_value(args))?;
    let tests = tests_regex(args.tests.as_deref())?;

    let loaded = scope_cmd::load(&args.scope)?;
    let scope = loaded.scope;
    for note in &scope.notes {
        eprintln!("note: {note}");
    }
    let natives: Vec<Arc<dyn Check>> = registry::all().into_iter().map(Arc::from).collect();
    let selection = Selection {
        date,
        version: args.scope_version.clone(),
        sections: args.sections.clone(),
        tests,
        implementation: args.implementation.into(),
    };
    let plan = runner::plan(&scope, loaded.dir.as_deref(), &selection, &natives)?;
    let every: Vec<&dyn Check> = natives.iter().map(|c| c.as_ref()).collect();
    let selected: Vec<&dyn Check> = if args.keys_of_every_check {
        every.clone()
    } else {
        plan.jobs
            .iter()
            .filter_map(|j| match j {
                Job::Native(c) => Some(c.as_ref()),
                Job::Program { .. } => None,
            })
            .collect()
    };
    super::check_assign::check_known(&given, &scope, &selected, &every).map_err(|e| anyhow!(e))?;

    let cluster = connect(args).await;
    let subject = match (&args.subject, &cluster) {
        (Some(s), _) => s.clone(),
        (None, Ok(c)) => c.context.clone(),
        // What is wrong with the kubeconfig comes first; the subject is a consequence.
        (None, Err(e)) => bail!(
            "{e:#}\n(the subject name comes from the kubeconfig's context: fix the kubeconfig, or pass --subject NAME when no native check needs the cluster)"
        ),
    };
    let needs_cluster = plan.jobs.iter().any(|j| matches!(j, Job::Native(_)));
    if needs_cluster && let Err(e) = &cluster {
        bail!("{e:#}");
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

    let mut check_args = values.clone();
    if let Some(dir) = artifacts_dir(args, &given)? {
        check_args.insert(ARTIFACTS_ARG.to_string(), dir.display().to_string());
    }
    let ctx: Result<CheckContext, String> = match &cluster {
        Ok(c) => Ok(CheckContext {
            client: c.client.clone(),
            kubeconfig: c.path.clone(),
            args: check_args,
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
        timeout_given: args.timeout.is_some(),
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
                Event::Progress(label, line) => pb.set_message(format!("{label}: {line}")),
            }
        }
    };
    let outcome = runner::execute_until(
        &scope,
        &plan,
        ctx.as_ref().map_err(String::as_str),
        &values,
        &opts,
        &on_event,
        interrupt.token(),
    )
    .await;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if outcome.interrupted {
        eprintln!(
            "stopped: {}",
            if outcome.stopped.is_empty() {
                "nothing was running".to_string()
            } else {
                outcome.stopped.join(", ")
            }
        );
    }
    // Checks stopped by the signal or cut off by their deadline clean up in the background:
    // the process must not exit before that is done.
    interrupt.finish_probe_cleanups(&cleanup_hint(args)).await;
    if let Some(signal) = interrupt.fired() {
        return Err(Interrupted(signal).into());
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
            argv,
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
    Ok(Checked {
        subject,
        scope,
        verdicts,
        overall,
        results: outcome.results,
        report,
        yaml,
    })
}

/// The options `scs-kaas cleanup` needs to reach the same cluster, e.g. `--kubeconfig F`.
/// `--timeout`, or its default.
fn timeout_value(args: &CheckArgs) -> &str {
    args.timeout.as_deref().unwrap_or("1h")
}

/// Where the e2e checks keep their evidence: `--artifacts`, else beside `--report`
/// (`REPORT-artifacts/`), else `None` (each check makes a temporary directory and names it).
fn artifacts_dir(
    args: &CheckArgs,
    given: &BTreeMap<String, String>,
) -> anyhow::Result<Option<PathBuf>> {
    if args.artifacts.is_some() && given.contains_key(ARTIFACTS_ARG) {
        bail!(
            "--artifacts and -a {ARTIFACTS_ARG}= both name the evidence directory; give only one"
        );
    }
    if let Some(dir) = &args.artifacts {
        return Ok(Some(dir.clone()));
    }
    Ok(args.report.as_ref().map(|report| {
        let stem = report
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".to_string());
        report.with_file_name(format!("{stem}-artifacts"))
    }))
}

fn cleanup_hint(args: &CheckArgs) -> String {
    let mut words = Vec::new();
    if let Some(k) = &args.kubeconfig {
        words.push(format!("--kubeconfig {}", k.display()));
    }
    if let Some(c) = &args.context {
        words.push(format!("--context {c}"));
    }
    words.join(" ")
}

impl CheckArgs {
    /// Parse `check` arguments from words, exactly as the command line would be parsed (so
    /// `demo` runs `check` with the same defaults and checks).
    pub fn from_words<I, S>(words: I) -> anyhow::Result<CheckArgs>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        #[derive(Parser)]
        #[command(name = "check", no_binary_name = true)]
        struct Words {
            #[command(flatten)]
            args: CheckArgs,
        }
        Words::try_parse_from(words)
            .map(|w| w.args)
            .map_err(|e| anyhow!("{e}"))
    }

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
            scs_kaas_checks::kubeconfig::read(p).context("--kubeconfig cannot be used")?,
            Some(p.canonicalize().unwrap_or_else(|_| p.clone())),
        ),
        None => (
            scs_kaas_checks::kubeconfig::read_default().context(
                "cannot read a kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig",
            )?,
            default_kubeconfig_path(
                std::env::var_os("KUBECONFIG").as_deref(),
                std::env::var_os("HOME").as_deref(),
            ),
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
    let client = kube::Client::try_from(config)
        .context("cannot connect to the cluster: cannot build a client from the kubeconfig")?;
    Ok(Cluster {
        client,
        context,
        path,
    })
}

/// The one file kube read without `--kubeconfig`, as scope programs need it (`{kubeconfig}`):
/// `$KUBECONFIG` if it names exactly one file, else `~/.kube/config` when `$KUBECONFIG` is unset.
/// A list of several files has no single path: programs then need `-a kubeconfig=FILE`.
fn default_kubeconfig_path(
    kubeconfig_env: Option<&std::ffi::OsStr>,
    home: Option<&std::ffi::OsStr>,
) -> Option<PathBuf> {
    match kubeconfig_env.filter(|v| !v.is_empty()) {
        Some(list) => {
            let paths: Vec<PathBuf> = std::env::split_paths(list)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            match paths.as_slice() {
                [one] => Some(one.canonicalize().unwrap_or_else(|_| one.clone())),
                _ => None,
            }
        }
        None => home
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".kube").join("config"))
            .filter(|p| p.is_file()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn default_kubeconfig_path_is_the_one_file_kube_reads() {
        let home = tempfile::tempdir().unwrap();
        let h = Some(home.path().as_os_str());
        assert_eq!(default_kubeconfig_path(None, h), None, "no ~/.kube/config");
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        let config = home.path().join(".kube/config");
        std::fs::write(&config, "apiVersion: v1\n").unwrap();
        assert_eq!(default_kubeconfig_path(None, h), Some(config.clone()));
        assert_eq!(
            default_kubeconfig_path(Some(OsStr::new("")), h),
            Some(config.clone()),
            "an empty $KUBECONFIG counts as unset"
        );
        let one = home.path().join("one.yaml");
        assert_eq!(
            default_kubeconfig_path(Some(one.as_os_str()), h),
            Some(one.clone())
        );
        let two = format!("{}:{}", one.display(), config.display());
        assert_eq!(
            default_kubeconfig_path(Some(OsStr::new(&two)), h),
            None,
            "several files have no single path"
        );
    }
}
