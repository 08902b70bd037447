//! The runner: from a scope and a selection to results and report invocations.
//!
//! # Overview
//! - [`plan`] picks versions (timeline or `--version`), the union of their targets, applies
//!   `--sections`/`--tests`, and decides per testcase: native check, program, or missing (with why).
//! - [`execute`] runs native checks and programs concurrently (at most `jobs` at a time), each
//!   under its deadline, with the pre-flight permission review for native checks;
//!   [`execute_until`] also stops them all when a [`CancellationToken`] fires (Ctrl-C): checks'
//!   futures are dropped (their probe guards start cleaning up, see
//!   [`finish_cleanups`](crate::probe::guard::finish_cleanups)), programs' process groups are
//!   killed.
//! - [`exec`] runs one program, [`native`] one native check, [`output`] captures output.

pub mod choice;
pub mod descendants;
pub mod exec;
pub mod native;
pub mod output;
pub mod preflight;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::civil::Date;
use regex::Regex;
use scs_kaas_core::finding::{Finding, Outcome, Severity, Status};
use scs_kaas_core::report::Invocation;
use scs_kaas_core::scope::{Scope, VersionValidity};
use scs_kaas_core::verdict::TestcaseResult;

use crate::check::{Check, CheckContext};

pub use choice::ImplementationChoice;
pub use scs_kaas_core::verdict::Implementation;
pub use tokio_util::sync::CancellationToken;

/// Rule id of pre-flight permission findings (CHECKS.md HARN-04).
pub const PREFLIGHT_RULE: &str = "HARN-04";
/// Rule id of findings taken from a program's log lines.
pub const PROGRAM_RULE: &str = "PROGRAM";
/// At most this many log lines of a program become findings of its testcases.
const MAX_PROGRAM_FINDINGS: usize = 20;

/// Which part of a scope to run.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Reference date for version validity.
    pub date: Date,
    /// `--version`: exactly this version, whatever its validity.
    pub version: Option<String>,
    /// `--sections`: only testcases whose section is listed.
    pub sections: Option<Vec<String>>,
    /// `--tests`: only ids the regex matches completely.
    pub tests: Option<Regex>,
    /// `--implementation`: native checks or the scope's programs.
    pub implementation: ImplementationChoice,
}

/// How a selected testcase will be decided.
#[derive(Clone)]
pub enum Job {
    /// A native check.
    Native(Arc<dyn Check>),
    /// A scope program (index into `Scope::scripts`) with the sorted ids requested from it.
    Program {
        /// Script index.
        script: usize,
        /// Requested ids, sorted.
        ids: Vec<String>,
    },
}

impl Job {
    /// A short label for progress display.
    pub fn label(&self, scope: &Scope) -> String {
        match self {
            Job::Native(c) => c.id().to_owned(),
            Job::Program { script, .. } => scope.scripts[*script]
                .executable
                .clone()
                .unwrap_or_default(),
        }
    }
}

/// What a run will do.
#[derive(Clone)]
pub struct Plan {
    /// Selected versions with their validity on the reference date, in scope order.
    pub versions: Vec<VersionValidity>,
    /// Every selected testcase id (those that will run and those that are missing).
    pub selected: BTreeSet<String>,
    /// Work, in report order: programs in scope order, then native checks by id.
    pub jobs: Vec<Job>,
    /// Selected ids that nothing can decide, with the reason.
    pub missing: BTreeMap<String, String>,
}

/// Why no plan could be made (a usage or configuration error).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `--version` names no version.
    #[error("scope `{scope}` has no version `{version}`; it has: {known}")]
    UnknownVersion {
        /// Scope name.
        scope: String,
        /// The requested version.
        version: String,
        /// The versions it has.
        known: String,
    },
    /// No version is listed by the timeline on the date.
    #[error(
        "no version of scope `{scope}` is valid on {date}; its versions: {timeline}; pick one with --version V or a --date its timeline covers"
    )]
    NoValidVersion {
        /// Scope name.
        scope: String,
        /// Reference date.
        date: Date,
        /// Every version with the dates from which the timeline gives it a validity.
        timeline: String,
    },
    /// The filters left nothing.
    #[error(
        "no testcase of the selected versions matches {filters}; the versions contain: {known}"
    )]
    NothingSelected {
        /// The filters in words.
        filters: String,
        /// All ids before filtering.
        known: String,
    },
}

/// Each version with its validity periods, e.g. `v1 (draft from 2024-02-28, effective from
/// 2024-11-26)`; `(not in the timeline)` for one only `--version` selects.
pub fn version_timeline(scope: &Scope) -> String {
    let mut entries: Vec<&scs_kaas_core::scope::TimelineEntry> = scope.timeline.iter().collect();
    entries.sort_by_key(|e| e.date);
    scope
        .versions
        .iter()
        .map(|v| {
            let mut periods: Vec<String> = Vec::new();
            let mut last: Option<String> = None;
            for e in &entries {
                let code = e
                    .versions
                    .iter()
                    .find(|(name, _)| *name == v.name)
                    .map(|(_, c)| c.to_string());
                let text = match &code {
                    Some(c) => format!("{c} from {}", e.date),
                    None if last.is_some() => format!("unlisted from {}", e.date),
                    None => continue,
                };
                if code != last {
                    periods.push(text);
                }
                last = code;
            }
            if periods.is_empty() {
                format!("{} (not in the timeline)", v.name)
            } else {
                format!("{} ({})", v.name, periods.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decide what to run. `program_dir` is the scope file's directory (`None` for a built-in scope,
/// whose programs are not shipped); `natives` are the native checks of this build.
pub fn plan(
    scope: &Scope,
    program_dir: Option<&std::path::Path>,
    sel: &Selection,
    natives: &[Arc<dyn Check>],
) -> Result<Plan, PlanError> {
    let validity = scope.validity_on(sel.date);
    let versions: Vec<VersionValidity> = match &sel.version {
        Some(name) => {
            let v = validity
                .into_iter()
                .find(|v| v.version == *name)
                .ok_or_else(|| PlanError::UnknownVersion {
                    scope: scope.name.clone(),
                    version: name.clone(),
                    known: scope
                        .versions
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            vec![v]
        }
        None => validity.into_iter().filter(|v| v.explicit).collect(),
    };
    if versions.is_empty() {
        return Err(PlanError::NoValidVersion {
            scope: scope.name.clone(),
            date: sel.date,
            timeline: version_timeline(scope),
        });
    }
    let mut all: BTreeSet<String> = BTreeSet::new();
    for v in &versions {
        if let Some(version) = scope.version(&v.version) {
            all.extend(version.all_testcases());
        }
    }
    // Whole-id match (the reference's prefix match selects too much, INTEROP.md §6.1.9).
    let tests = sel
        .tests
        .as_ref()
        .and_then(|re| Regex::new(&format!("^(?:{})$", re.as_str())).ok());
    let selected: BTreeSet<String> = all
        .iter()
        .filter(|id| {
            let tc = scope.testcase(id);
            let section_ok = sel.sections.as_ref().is_none_or(|list| {
                tc.and_then(|t| t.section.as_ref())
                    .is_some_and(|s| list.contains(s))
            });
            let test_ok = tests.as_ref().is_none_or(|re| re.is_match(id));
            section_ok && test_ok
        })
        .cloned()
        .collect();
    if selected.is_empty() {
        let mut filters = Vec::new();
        if let Some(s) = &sel.sections {
            filters.push(format!("--sections {}", s.join(",")));
        }
        if let Some(t) = &sel.tests {
            filters.push(format!("--tests '{}'", t.as_str()));
        }
        return Err(PlanError::NothingSelected {
            filters: if filters.is_empty() {
                "the selection".into()
            } else {
                filters.join(" and ")
            },
            known: all.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let mut by_script: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut native_jobs = Vec::new();
    let mut missing = BTreeMap::new();
    let choice = sel.implementation;
    for id in &selected {
        let native = natives.iter().find(|c| c.id() == id);
        let tc = scope.testcase(id);
        let executable = tc.and_then(|tc| scope.scripts[tc.script].executable.as_ref());
        let use_native = match choice {
            ImplementationChoice::PreferNative | ImplementationChoice::Native => native.is_some(),
            ImplementationChoice::Programs => native.is_some() && executable.is_none(),
        };
        if let (true, Some(check)) = (use_native, native) {
            native_jobs.push(Job::Native(check.clone()));
            continue;
        }
        let Some(tc) = tc else {
            missing.insert(id.clone(), "the scope does not define this testcase".into());
            continue;
        };
        match (executable, program_dir) {
            (Some(exe), _) if choice == ImplementationChoice::Native => {
                missing.insert(
                    id.clone(),
                    format!(
                        "--implementation native: this build has no native check for it, and the scope's program `{exe}` is not started; use --implementation prefer-native to run it"
                    ),
                );
            }
            (Some(_), Some(_)) => by_script.entry(tc.script).or_default().push(id.clone()),
            (Some(exe), None) => {
                let reason = if choice == ImplementationChoice::Programs {
                    format!(
                        "--implementation programs: the built-in scope's program `{exe}` is not shipped; pass --scope with the scope file of an SCS standards checkout to run it"
                    )
                } else {
                    format!(
                        "this build has no native check for it, and the built-in scope's program `{exe}` is not shipped; pass --scope with the scope file of an SCS standards checkout to run it"
                    )
                };
                missing.insert(id.clone(), reason);
            }
            (None, _) => {
                missing.insert(
                    id.clone(),
                    "manual check: the scope names no program and this build has no native check for it".into(),
                );
            }
        }
    }
    let mut jobs: Vec<Job> = by_script
        .into_iter()
        .map(|(script, ids)| Job::Program { script, ids })
        .collect();
    jobs.extend(native_jobs);
    Ok(Plan {
        versions,
        selected,
        jobs,
        missing,
    })
}

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Maximum concurrent jobs (at least 1).
    pub jobs: usize,
    /// Deadline of each native check and each program.
    pub deadline: Duration,
    /// Whether the user set `deadline` (`--timeout`); otherwise a native check's own
    /// [`Check::default_deadline`] applies.
    pub timeout_given: bool,
    /// Interpreter for `.py` programs.
    pub python: String,
    /// Directory of the scope file (cwd and base of program paths).
    pub scope_dir: Option<PathBuf>,
}

/// Progress notifications (for a progress bar); called from the runner's tasks.
#[derive(Debug, Clone)]
pub enum Event {
    /// A job started.
    Started(String),
    /// A job finished.
    Finished(String),
    /// A running job's progress line (label, line), e.g. e2e specs done / total with an ETA.
    Progress(String, String),
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Report invocations in plan order.
    pub invocations: Vec<Invocation>,
    /// One result per selected testcase (missing ones included, with their reason).
    pub results: BTreeMap<String, TestcaseResult>,
    /// Whether the run was stopped ([`execute_until`]) before every job finished; the jobs cut
    /// short are ABORT with the reason.
    pub interrupted: bool,
    /// Labels (check id, program) of the jobs stopped while they were running.
    pub stopped: Vec<String>,
}

impl RunOutcome {
    /// Status per decided testcase.
    pub fn statuses(&self) -> BTreeMap<String, Status> {
        self.results
            .iter()
            .filter_map(|(id, r)| r.status.map(|s| (id.clone(), s)))
            .collect()
    }
}

/// Run the plan. `ctx` is the cluster context for native checks (`None`: they ABORT, naming why);
/// `values` are the template values for programs (assignment + `testcases` is added per program).
pub async fn execute(
    scope: &Scope,
    plan: &Plan,
    ctx: Result<&CheckContext, &str>,
    values: &BTreeMap<String, String>,
    opts: &Options,
    progress: &(dyn Fn(Event) + Send + Sync),
) -> RunOutcome {
    let never = CancellationToken::new();
    execute_until(scope, plan, ctx, values, opts, progress, &never).await
}

/// [`execute`], stopped when `stop` is cancelled: running jobs are cut short (a native check's
/// future is dropped, so its probe guard starts the cleanup; a program's process group is
/// killed), jobs not started yet are not started, and all of them are ABORT with the reason.
/// The caller then awaits [`finish_cleanups`](crate::probe::guard::finish_cleanups).
pub async fn execute_until(
    scope: &Scope,
    plan: &Plan,
    ctx: Result<&CheckContext, &str>,
    values: &BTreeMap<String, String>,
    opts: &Options,
    progress: &(dyn Fn(Event) + Send + Sync),
    stop: &CancellationToken,
) -> RunOutcome {
    let preflight = preflight::Preflight::default();
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
    let futures = plan.jobs.iter().enumerate().map(|(index, job)| {
        let preflight = &preflight;
        let progress_tx = progress_tx.clone();
        async move {
            if stop.is_cancelled() {
                return (index, interrupted(scope, job, opts, false), Some(false));
            }
            let label = job.label(scope);
            progress(Event::Started(label.clone()));
            let work = async {
                match job {
                    Job::Native(check) => {
                        let run = run_native(check.clone(), ctx, opts, preflight);
                        crate::progress::scoped(label.clone(), progress_tx.clone(), run).await
                    }
                    Job::Program { script, ids } => {
                        run_program(scope, *script, ids, values, opts).await
                    }
                }
            };
            let (done, cut) = tokio::select! {
                biased;
                () = stop.cancelled() => (interrupted(scope, job, opts, true), Some(true)),
                done = work => (done, None),
            };
            // Behind the job's progress lines, in the same channel.
            let _ = progress_tx.send(Event::Finished(label));
            (index, done, cut)
        }
    });
    // Per job: its index, what it did, and whether it was cut (`Some(true)`: while running).
    let jobs = futures::stream::iter(futures)
        .buffer_unordered(opts.jobs.max(1))
        .collect::<Vec<(usize, Done, Option<bool>)>>();
    tokio::pin!(jobs);
    // Pass progress lines and ends of jobs on while the jobs run, then what is still queued.
    let mut done = loop {
        tokio::select! {
            done = &mut jobs => break done,
            Some(event) = progress_rx.recv() => progress(event),
        }
    };
    while let Ok(event) = progress_rx.try_recv() {
        progress(event);
    }
    done.sort_by_key(|(i, _, _)| *i);
    let mut out = RunOutcome {
        invocations: Vec::new(),
        results: BTreeMap::new(),
        interrupted: done.iter().any(|(_, _, cut)| cut.is_some()),
        stopped: done
            .iter()
            .filter(|(_, _, cut)| *cut == Some(true))
            .map(|(i, _, _)| plan.jobs[*i].label(scope))
            .collect(),
    };
    for (_, d, _) in done {
        out.invocations.push(d.invocation);
        for r in d.results {
            out.results.insert(r.id.clone(), r);
        }
    }
    for (id, reason) in &plan.missing {
        out.results.insert(
            id.clone(),
            TestcaseResult {
                id: id.clone(),
                status: None,
                findings: Vec::new(),
                reason: Some(reason.clone()),
                implementation: None,
            },
        );
    }
    out
}

struct Done {
    invocation: Invocation,
    results: Vec<TestcaseResult>,
}

/// The ABORT result of a job stopped by [`execute_until`] (`started`: it was running).
fn interrupted(scope: &Scope, job: &Job, opts: &Options, started: bool) -> Done {
    let when = if started {
        "stopped while running"
    } else {
        "not started"
    };
    match job {
        Job::Native(check) => {
            let id = check.id();
            let reason = if started {
                format!(
                    "interrupted: check `{id}` was {when}; whatever it created is removed (or named on stderr, with `scs-kaas cleanup` as the fix)"
                )
            } else {
                format!("interrupted: check `{id}` was {when}")
            };
            let outcome = Outcome::abort(native::HARNESS_RULE, reason);
            Done {
                invocation: native::invocation(id, &outcome),
                results: vec![TestcaseResult {
                    id: id.to_owned(),
                    status: Some(outcome.status),
                    findings: outcome.findings,
                    reason: None,
                    implementation: Some(Implementation::Native),
                }],
            }
        }
        Job::Program { script, ids } => {
            let script = &scope.scripts[*script];
            let spec = exec::ProgramSpec {
                executable: script.executable.clone().unwrap_or_default(),
                scope_dir: opts.scope_dir.clone().unwrap_or_default(),
                args: script.args.clone().unwrap_or_default(),
                env: Vec::new(),
                ids: ids.clone(),
                python: opts.python.clone(),
                deadline: opts.deadline,
            };
            let reason = format!(
                "interrupted: the program was {when}{}",
                if started {
                    " (its process group was killed)"
                } else {
                    ""
                }
            );
            let run = exec::not_started(&spec, reason);
            let results = ids
                .iter()
                .map(|id| TestcaseResult {
                    id: id.clone(),
                    status: run.status(id),
                    findings: Vec::new(),
                    reason: run.forced_aborts.get(id).cloned(),
                    implementation: Some(Implementation::Program {
                        executable: spec.executable.clone(),
                    }),
                })
                .collect();
            Done {
                invocation: run.invocation,
                results,
            }
        }
    }
}

async fn run_native(
    check: Arc<dyn Check>,
    ctx: Result<&CheckContext, &str>,
    opts: &Options,
    preflight: &preflight::Preflight,
) -> Done {
    let id = check.id();
    let outcome = match ctx {
        Err(why) => Outcome::abort(
            PREFLIGHT_RULE,
            format!("no connection to the cluster: {why}"),
        ),
        Ok(ctx) => {
            let (client, tripwire) = crate::transport::watched(&ctx.client);
            let review = preflight.review(&client, &check.access()).await;
            match review.reason() {
                // The review got no answer: the check could not get one either.
                _ if tripwire.cause().is_some() => crate::transport::judge(
                    Outcome {
                        status: Status::Abort,
                        findings: Vec::new(),
                    },
                    &tripwire,
                ),
                Some(reason) => Outcome::abort(PREFLIGHT_RULE, reason),
                None => {
                    let deadline = match check.default_deadline() {
                        Some(own) if !opts.timeout_given => own,
                        _ => opts.deadline,
                    };
                    let mut ctx = ctx.clone();
                    ctx.deadline = deadline;
                    ctx.denied = review.denied_active;
                    native::run(check.clone(), ctx, deadline).await
                }
            }
        }
    };
    Done {
        invocation: native::invocation(id, &outcome),
        results: vec![TestcaseResult {
            id: id.to_owned(),
            status: Some(outcome.status),
            findings: outcome.findings,
            reason: None,
            implementation: Some(Implementation::Native),
        }],
    }
}

async fn run_program(
    scope: &Scope,
    script_index: usize,
    ids: &[String],
    values: &BTreeMap<String, String>,
    opts: &Options,
) -> Done {
    let script = &scope.scripts[script_index];
    let executable = script.executable.clone().unwrap_or_default();
    let mut values = values.clone();
    values.insert("testcases".into(), ids.join(" "));
    let prepared = exec::render(script.args.as_deref(), &script.env, &values);
    let run = match prepared {
        Ok((args, env)) => {
            let spec = exec::ProgramSpec {
                executable,
                scope_dir: opts.scope_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
                args,
                env,
                ids: ids.to_vec(),
                python: opts.python.clone(),
                deadline: opts.deadline,
            };
            exec::run(&spec).await
        }
        Err(reason) => {
            // Templates were checked at load; this covers values the user did not assign.
            let spec = exec::ProgramSpec {
                executable,
                scope_dir: PathBuf::new(),
                args: script.args.clone().unwrap_or_default(),
                env: Vec::new(),
                ids: ids.to_vec(),
                python: opts.python.clone(),
                deadline: opts.deadline,
            };
            exec::not_started(&spec, reason)
        }
    };
    let findings: Vec<Finding> = run
        .invocation
        .stderr
        .iter()
        .chain(run.invocation.stdout.iter())
        .filter_map(|line| log_finding(line))
        .take(MAX_PROGRAM_FINDINGS)
        .collect();
    let results = ids
        .iter()
        .map(|id| TestcaseResult {
            id: id.clone(),
            status: run.status(id),
            findings: findings.clone(),
            reason: run.forced_aborts.get(id).cloned(),
            implementation: Some(Implementation::Program {
                executable: script.executable.clone().unwrap_or_default(),
            }),
        })
        .collect();
    Done {
        invocation: run.invocation,
        results,
    }
}

/// A program log line as a finding, if it has a level worth showing.
fn log_finding(line: &str) -> Option<Finding> {
    let (level, rest) = line.split_once(':')?;
    let severity = match level.trim().to_ascii_uppercase().as_str() {
        "WARNING" => Severity::Warn,
        "ERROR" | "CRITICAL" => Severity::Error,
        _ => return None,
    };
    Some(Finding::new(PROGRAM_RULE, severity, rest.trim()))
}
