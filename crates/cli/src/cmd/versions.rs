//! `scs-kaas versions`: upstream Kubernetes state, a provider's offering, `.x` resolution with
//! technical-preview gating, and refreshing the release data cache.
//!
//! Every subcommand names the release data it used (cache or built-in snapshot) and its age on
//! stderr, so a verdict can always be traced to its facts.

use scs_kaas_core::input::{InputKind, read_bounded_text};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use scs_kaas_checks::release_data::{self, Loaded};
use scs_kaas_checks::release_refresh::{self, Sources};
use scs_kaas_core::finding::{Outcome, Status};
use scs_kaas_core::offering::{self, Offered};
use scs_kaas_core::preview::{self, Catalog, ResolveError};
use scs_kaas_core::release::{BranchInfo, ReleaseDb, utc_date};
use scs_kaas_core::version_policy::PolicyVersion;
use serde_json::json;

use crate::exit;

/// Subcommands of `scs-kaas versions`.
#[derive(Debug, Subcommand)]
pub enum VersionsCommand {
    /// Upstream branches (release, latest patch, end of life, status) and the next deadline; with
    /// --offered, judge a provider's offering (VER-03, VER-05..07, TP-03).
    ///
    /// Exit 0: upstream table, or the offering complies; 1: the offering violates a MUST;
    /// 2: bad input.
    Status(StatusArgs),
    /// Resolve VERSION (`v1.35.x` = newest GA patch, or a concrete `v1.35.2`) against upstream
    /// and an optional provider catalogue, refusing previews without --allow-preview-versions.
    ///
    /// Exit 0: resolved; 1: refused (preview without the flag, not offered, EOL, unknown);
    /// 2: bad input.
    Resolve(ResolveArgs),
    /// Fetch releases, end-of-life dates and CVEs from upstream into the cache.
    ///
    /// Uses GITHUB_TOKEN when set. Exit 0: cache written; 2: refresh failed (offline, rate limit,
    /// malformed upstream answer): the old cache is kept.
    Refresh(RefreshArgs),
}

/// Options shared by the subcommands that judge.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Judge as of this day (YYYY-MM-DD, UTC) instead of today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// Cache directory of `versions refresh` (default: $XDG_CACHE_HOME/scs-kaas or ~/.cache/scs-kaas).
    #[arg(long, value_name = "DIR", env = "SCS_KAAS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Judge by this release data instead of cache and snapshot (offline, air-gapped): GitHub
    /// releases JSON (as SCS's test data; end-of-life dates and CVEs then come from the built-in
    /// data) or the file `versions refresh` writes.
    #[arg(long, value_name = "FILE")]
    release_data: Option<PathBuf>,
}

/// Output formats of `versions status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusOutput {
    /// Aligned text table.
    Table,
    /// One JSON document.
    Json,
    /// Markdown, suitable to publish as a maintenance statement.
    Markdown,
}

/// Arguments of `scs-kaas versions status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Offered versions, comma-separated (e.g. v1.34.2,v1.35.9,v1.36.1:preview; `:preview` marks
    /// a technical preview).
    #[arg(long, value_name = "LIST", conflicts_with = "offered_file")]
    offered: Option<String>,
    /// File with offered versions (one per line or comma-separated; `#` comments; `:preview`).
    #[arg(long, value_name = "FILE")]
    offered_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusOutput::Table)]
    output: StatusOutput,
    /// Edition of scs-0210 to judge by (v1: 7-day patch window; v2: 31 days).
    #[arg(long, default_value = "v2", value_parser = parse_policy)]
    policy: PolicyVersion,
    #[command(flatten)]
    data: DataArgs,
}

/// Output formats of `versions resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolveOutput {
    /// The version alone.
    Text,
    /// `KUBERNETES_VERSION=v1.35.9`, for provisioning scripts.
    Env,
    /// One JSON document.
    Json,
}

/// Arguments of `scs-kaas versions resolve`.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The requested version: `v1.35.x`, `1.35.x`, `v1.35.2` or `1.35.2`.
    #[arg(value_name = "VERSION")]
    version: String,
    /// Provider catalogue YAML: `branches: [{branch: "1.35"}, {branch: "1.36", preview: true}]`,
    /// optionally with `patches: [v1.35.7]` per branch.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Allow versions the catalogue marks as technical preview (and major versions above 1).
    #[arg(long)]
    allow_preview_versions: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResolveOutput::Text)]
    output: ResolveOutput,
    #[command(flatten)]
    data: DataArgs,
}

/// Arguments of `scs-kaas versions refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Cache directory (default: $XDG_CACHE_HOME/scs-kaas or ~/.cache/scs-kaas).
    #[arg(long, value_name = "DIR", env = "SCS_KAAS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// GitHub API base URL.
    #[arg(long, value_name = "URL", env = "SCS_KAAS_GITHUB_API")]
    github_api: Option<String>,
    /// URL of kubernetes/website `data/releases/schedule.yaml`.
    #[arg(long, value_name = "URL", env = "SCS_KAAS_SCHEDULE_URL")]
    schedule_url: Option<String>,
    /// URL of the official Kubernetes CVE feed (JSON Feed).
    #[arg(long, value_name = "URL", env = "SCS_KAAS_CVE_FEED_URL")]
    cve_feed_url: Option<String>,
    /// Prefix of OSV record URLs (the CVE id is appended).
    #[arg(long, value_name = "URL", env = "SCS_KAAS_OSV_URL")]
    osv_url: Option<String>,
    /// Timeout of each request in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    timeout: u64,
}

fn parse_policy(s: &str) -> Result<PolicyVersion, String> {
    s.parse()
}

/// Run a `versions` subcommand.
pub async fn run(command: VersionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        VersionsCommand::Status(args) => {
            super::check::apply_release_data(args.data.release_data.as_deref())?;
            status(args)
        }
        VersionsCommand::Resolve(args) => {
            super::check::apply_release_data(args.data.release_data.as_deref())?;
            resolve(args)
        }
        VersionsCommand::Refresh(args) => refresh(args).await,
    }
}

/// "Now" for a judgement: `--date` at noon UTC, else the current time.
fn judgement_time(date: Option<&str>) -> anyhow::Result<jiff::Timestamp> {
    match date {
        None => Ok(jiff::Timestamp::now()),
        Some(d) => {
            let day: jiff::civil::Date = d.trim().parse().with_context(|| {
                format!("--date `{d}` is not a day: use YYYY-MM-DD, e.g. 2026-11-22")
            })?;
            Ok(day
                .at(12, 0, 0, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .context("--date is out of range")?
                .timestamp())
        }
    }
}

/// Load the data and say on stderr which data it is and how old.
fn load_and_announce(data: &DataArgs, now: jiff::Timestamp) -> std::sync::Arc<Loaded> {
    let loaded = release_data::load(data.cache_dir.as_deref());
    for note in &loaded.notes {
        eprintln!("warning: {note}");
    }
    eprintln!("release data: {}", loaded.db.describe(now));
    if let Some(stale) = loaded.db.staleness(now, "VER-00") {
        eprintln!("WARNING: {}", stale.message);
    }
    loaded
}

fn usage(message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(exit::USAGE))
}

fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let now = match judgement_time(args.data.date.as_deref()) {
        Ok(n) => n,
        Err(e) => return usage(format!("{e:#}")),
    };
    let offered_text = match (&args.offered, &args.offered_file) {
        (Some(list), _) => Some(list.clone()),
        (None, Some(path)) => match read_bounded_text(path, InputKind::Catalog) {
            Ok(t) => Some(t),
            Err(e) => return usage(option_file_error("--offered-file", path, e)),
        },
        (None, None) => None,
    };
    let offered = match offered_text.as_deref().map(offering::parse_offered_list) {
        Some(Ok(list)) if list.is_empty() => {
            return usage("the offered list is empty: give versions like v1.34.2,v1.35.9");
        }
        Some(Ok(list)) => Some(list),
        Some(Err(e)) => return usage(format!("offered versions: {e}")),
        None => None,
    };
    let loaded = load_and_announce(&args.data, now);
    let db = &loaded.db;
    let infos: Vec<BranchInfo> = db
        .branch_infos(now)
        .into_iter()
        .filter(|i| i.end_of_life.is_some())
        .collect();
    let deadlines = offering::upcoming_deadlines(db, args.policy, now);
    let outcome = offered
        .as_ref()
        .map(|o| offering::judge_offering(o, db, args.policy, now));
    let text = match args.output {
        StatusOutput::Json => {
            let doc = json!({
                "date": utc_date(now).to_string(),
                "policy": args.policy.standard(),
                "data": data_json(db, now),
                "branches": infos,
                "next_deadlines": deadlines,
                "offered": offered.as_ref().map(|o| o.iter().map(|v| json!({"version": v.version.to_string(), "preview": v.preview})).collect::<Vec<_>>()),
                "status": outcome.as_ref().map(|o| o.status),
                "findings": outcome.as_ref().map(|o| &o.findings),
            });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
        StatusOutput::Table => render_table(
            db,
            now,
            &infos,
            &deadlines,
            offered.as_deref(),
            outcome.as_ref(),
        ),
        StatusOutput::Markdown => render_markdown(
            db,
            now,
            args.policy,
            &infos,
            &deadlines,
            offered.as_deref(),
            outcome.as_ref(),
        ),
    };
    out!("{text}");
    Ok(match outcome.map(|o| o.status) {
        Some(Status::Fail) => ExitCode::from(exit::FAILED),
        Some(Status::Abort) => ExitCode::from(exit::INCOMPLETE),
        _ => ExitCode::from(exit::OK),
    })
}

fn data_json(db: &ReleaseDb, now: jiff::Timestamp) -> serde_json::Value {
    json!({
        "origin": db.origin.to_string(),
        "as_of": db.data.as_of.to_string(),
        "age_days": db.age_days(now),
        "stale": db.staleness(now, "VER-00").is_some(),
    })
}

fn opt_date(d: Option<jiff::civil::Date>) -> String {
    d.map_or_else(|| "-".to_string(), |d| d.to_string())
}

fn render_table(
    db: &ReleaseDb,
    now: jiff::Timestamp,
    infos: &[BranchInfo],
    deadlines: &[offering::Deadline],
    offered: Option<&[Offered]>,
    outcome: Option<&Outcome>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Kubernetes branches on {} (release data: {})",
        utc_date(now),
        db.describe(now)
    );
    let _ = writeln!(
        out,
        "{:<7} {:<11} {:<10} {:<11} {:<12} STATUS",
        "BRANCH", "RELEASED", "LATEST", "PUBLISHED", "END OF LIFE"
    );
    for i in infos {
        let _ = writeln!(
            out,
            "{:<7} {:<11} {:<10} {:<11} {:<12} {}",
            i.branch.to_string(),
            i.released.to_string(),
            i.latest.to_string(),
            i.latest_published.to_string(),
            opt_date(i.end_of_life),
            i.status.as_str()
        );
    }
    match deadlines.first() {
        Some(d) => {
            let _ = writeln!(out, "next deadline: {}: {}", d.date, d.what);
        }
        None => {
            let _ = writeln!(out, "next deadline: none known");
        }
    }
    if let (Some(offered), Some(outcome)) = (offered, outcome) {
        let list: Vec<_> = offered.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "\noffering: {}", list.join(", "));
        let _ = writeln!(out, "verdict: {}", outcome.status);
        for f in &outcome.findings {
            let _ = writeln!(out, "  {}", f.log_line());
        }
    }
    out
}

fn render_markdown(
    db: &ReleaseDb,
    now: jiff::Timestamp,
    policy: PolicyVersion,
    infos: &[BranchInfo],
    deadlines: &[offering::Deadline],
    offered: Option<&[Offered]>,
    outcome: Option<&Outcome>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Kubernetes version maintenance ({})\n",
        utc_date(now)
    );
    let _ = writeln!(
        out,
        "Judged by {} against release data: {}.\n",
        policy.standard(),
        db.describe(now)
    );
    let _ = writeln!(
        out,
        "| Branch | Released | Latest patch | Published | End of life | Status |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for i in infos {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            i.branch,
            i.released,
            i.latest,
            i.latest_published,
            opt_date(i.end_of_life),
            i.status.as_str()
        );
    }
    if !deadlines.is_empty() {
        let _ = writeln!(out, "\n## Upcoming deadlines\n");
        for d in deadlines.iter().take(5) {
            let _ = writeln!(out, "- **{}**: {}", d.date, d.what);
        }
    }
    if let (Some(offered), Some(outcome)) = (offered, outcome) {
        let list: Vec<_> = offered.iter().map(|o| format!("`{o}`")).collect();
        let _ = writeln!(
            out,
            "\n## Offering\n\nOffered versions: {}\n",
            list.join(", ")
        );
        let _ = writeln!(out, "Verdict: **{}**\n", outcome.status);
        for f in &outcome.findings {
            let _ = writeln!(out, "- {} [{}] {}", f.severity.prefix(), f.rule, f.message);
        }
    }
    out
}

fn resolve(args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let now = match judgement_time(args.data.date.as_deref()) {
        Ok(n) => n,
        Err(e) => return usage(format!("{e:#}")),
    };
    let catalog = match &args.catalog {
        None => None,
        Some(path) => {
            let text = match read_bounded_text(path, InputKind::Catalog) {
                Ok(t) => t,
                Err(e) => return usage(option_file_error("--catalog", path, e)),
            };
            match Catalog::from_yaml(&text) {
                Ok(c) => Some(c),
                Err(e) => return usage(format!("catalogue {}: {e}", path.display())),
            }
        }
    };
    let loaded = load_and_announce(&args.data, now);
    let result = preview::resolve(
        &args.version,
        catalog.as_ref(),
        &loaded.db,
        args.allow_preview_versions,
        now,
    );
    let resolved = match result {
        Ok(r) => r,
        Err(e @ ResolveError::Invalid(_)) => return usage(e),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(exit::FAILED));
        }
    };
    for note in &resolved.notes {
        eprintln!("note: {note}");
    }
    match args.output {
        ResolveOutput::Text => outln!("{}", resolved.version),
        ResolveOutput::Env => outln!("KUBERNETES_VERSION={}", resolved.version),
        ResolveOutput::Json => {
            let doc = json!({
                "requested": resolved.requested,
                "version": resolved.version.to_string(),
                "branch": resolved.version.branch().to_string(),
                "preview": resolved.preview,
                "notes": resolved.notes,
                "data": data_json(&loaded.db, now),
            });
            outln!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(ExitCode::from(exit::OK))
}

async fn refresh(args: RefreshArgs) -> anyhow::Result<ExitCode> {
    let Some(dir) = release_data::cache_dir(args.cache_dir.as_deref()) else {
        return usage("no cache directory: pass --cache-dir or set XDG_CACHE_HOME or HOME");
    };
    let mut sources = Sources::from_env();
    if let Some(v) = args.github_api {
        sources.github_api = v;
    }
    if let Some(v) = args.schedule_url {
        sources.schedule_url = v;
    }
    if let Some(v) = args.cve_feed_url {
        sources.cve_feed_url = v;
    }
    if let Some(v) = args.osv_url {
        sources.osv_url = v;
    }
    sources.timeout = Duration::from_secs(args.timeout.max(1));
    let now = jiff::Timestamp::now();
    eprintln!(
        "refreshing release data into {} ({})",
        dir.display(),
        if sources.token.is_some() {
            "with GITHUB_TOKEN"
        } else {
            "anonymous GitHub access: 60 requests per hour"
        }
    );
    match release_refresh::refresh(&sources, &dir, now).await {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            for source in &report.not_modified {
                eprintln!("{source}: not modified since the last refresh");
            }
            outln!(
                "wrote {} as of {}: {} releases ({} new), {} branches with end-of-life dates, {} CVE records",
                report.path.display(),
                report.as_of,
                report.releases,
                report.new_releases,
                report.branches,
                report.cves
            );
            Ok(ExitCode::from(exit::OK))
        }
        Err(e) => {
            eprintln!("error: {e}");
            let kept = release_data::load_uncached(Some(&dir));
            eprintln!("release data in use: {}", kept.db.describe(now));
            Ok(ExitCode::from(exit::USAGE))
        }
    }
}

/// `cannot read --OPTION PATH: why` for a file an option names (bounded read, see core::input).
fn option_file_error(
    option: &str,
    path: &std::path::Path,
    err: scs_kaas_core::input::InputError,
) -> String {
    match err {
        scs_kaas_core::input::InputError::Read { source, .. } => {
            format!("cannot read {option} {}: {source}", path.display())
        }
        other => format!("{option}: {other}"),
    }
}
