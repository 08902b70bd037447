//! Running one scope program the way the SCS runner does (INTEROP.md §1.9, §3.1, §3.2), minus its
//! weaknesses: a deadline (the whole process group is killed), bounded output, lossy decoding, and
//! ABORT — never a silent pass — for every requested id the program did not decide.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use scs_kaas_core::finding::Status;
use scs_kaas_core::report::{Invocation, OrderedMap, ResultValue};
use scs_kaas_core::scope::template;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::output::Stream;

/// Everything needed to start one program.
#[derive(Debug, Clone)]
pub struct ProgramSpec {
    /// `executable` as written in the scope (recorded in `cmd`).
    pub executable: String,
    /// Directory of the scope file: executable and cwd are relative to it.
    pub scope_dir: PathBuf,
    /// Rendered argument string (recorded in `cmd`, split with shell rules).
    pub args: String,
    /// Rendered environment additions, in scope order.
    pub env: Vec<(String, String)>,
    /// Testcase ids requested from this program, sorted.
    pub ids: Vec<String>,
    /// Interpreter for `.py` programs.
    pub python: String,
    /// How long the program may run.
    pub deadline: Duration,
}

/// What a program run produced: the report invocation and why ids were aborted.
#[derive(Debug, Clone)]
pub struct ProgramRun {
    /// The invocation as it goes into the report: its `results` hold only what the program
    /// printed, so an id it left undecided is missing there, as in the reference's report.
    pub invocation: Invocation,
    /// Per requested id, the reason it was turned into ABORT by us (not by the program).
    pub forced_aborts: BTreeMap<String, String>,
}

impl ProgramRun {
    /// scs-kaas's own result for a requested id: ABORT where the program decided nothing
    /// (never a silent pass or a silent gap), else what it printed.
    pub fn status(&self, id: &str) -> Option<Status> {
        if self.forced_aborts.contains_key(id) {
            Some(Status::Abort)
        } else {
            self.invocation.results.get(id).map(|r| r.0)
        }
    }
}

/// Render `args` and `env` templates for a script.
pub fn render(
    args: Option<&str>,
    env: &[(String, String)],
    values: &BTreeMap<String, String>,
) -> Result<(String, Vec<(String, String)>), String> {
    let args = match args {
        Some(a) => template::render(a, values).map_err(|e| e.to_string())?,
        None => String::new(),
    };
    let env = env
        .iter()
        .map(|(k, v)| {
            template::render(v, values)
                .map(|v| (k.clone(), v))
                .map_err(|e| format!("environment variable `{k}`: {e}"))
        })
        .collect::<Result<_, _>>()?;
    Ok((args, env))
}

/// The `cmd` string of the report: `K=V … executable args`, trimmed.
pub fn command_line(spec: &ProgramSpec) -> String {
    let mut parts: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.push(spec.executable.clone());
    parts.push(spec.args.clone());
    parts.join(" ").trim().to_owned()
}

/// Run the program and turn what it did into an invocation.
pub async fn run(spec: &ProgramSpec) -> ProgramRun {
    let cmd = command_line(spec);
    match start_and_wait(spec).await {
        Err(reason) => not_started(spec, reason),
        Ok(done) => judge(spec, cmd, done),
    }
}

struct Finished {
    rc: i32,
    timed_out: bool,
    stdout: Stream,
    stderr: Stream,
}

fn resolve(spec: &ProgramSpec) -> Result<PathBuf, String> {
    let exe = spec.executable.as_str();
    if exe.starts_with("http://") || exe.starts_with("https://") {
        return Err(format!(
            "remote executable `{exe}` refused: download it, check it, and reference the local file"
        ));
    }
    let exe = exe.strip_prefix("file://").unwrap_or(exe);
    let path = Path::new(exe);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        spec.scope_dir.join(path)
    })
}

async fn start_and_wait(spec: &ProgramSpec) -> Result<Finished, String> {
    let path = resolve(spec)?;
    let args = template::split_args(&spec.args)?;
    let mut command = if path.extension().is_some_and(|e| e == "py") {
        let mut c = Command::new(&spec.python);
        c.arg(&path);
        c
    } else {
        Command::new(&path)
    };
    let marker = super::descendants::new_marker();
    command
        .args(&args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env(super::descendants::MARKER_VAR, &marker)
        .current_dir(&spec.scope_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Own process group, so a deadline kills the program's children too.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", path.display()))?;
    let pid = child.id();
    // Dropped before the program is reaped (Ctrl-C stops the runner): kill its whole group.
    let mut group = KillGroupOnDrop(pid, marker);
    let mut out = child.stdout.take().ok_or("stdout was not captured")?;
    let mut err = child.stderr.take().ok_or("stderr was not captured")?;
    let mut stdout = Stream::new(true);
    let mut stderr = Stream::new(false);
    let work = async {
        let mut ob = vec![0u8; 64 * 1024];
        let mut eb = vec![0u8; 64 * 1024];
        let (mut o_open, mut e_open) = (true, true);
        while o_open || e_open {
            tokio::select! {
                r = out.read(&mut ob), if o_open => match r {
                    Ok(0) | Err(_) => o_open = false,
                    Ok(n) => stdout.push(&ob[..n]),
                },
                r = err.read(&mut eb), if e_open => match r {
                    Ok(0) | Err(_) => e_open = false,
                    Ok(n) => stderr.push(&eb[..n]),
                },
            }
        }
        child.wait().await
    };
    let (rc, timed_out) = match tokio::time::timeout(spec.deadline, work).await {
        Ok(Ok(status)) => (exit_code(status), false),
        Ok(Err(e)) => return Err(format!("waiting for the program failed: {e}")),
        Err(_) => {
            kill_group(pid);
            (-9, true)
        }
    };
    group.0 = None;
    // Whatever the program left running — in its group or in a session of its own — goes now.
    super::descendants::kill_marked(&group.1);
    stdout.finish();
    stderr.finish();
    Ok(Finished {
        rc,
        timed_out,
        stdout,
        stderr,
    })
}

/// Python's convention: the exit code, or minus the signal number.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| -s))
        .unwrap_or(-1)
}

/// Kills the program's process group when dropped, unless disarmed (`.0 = None`) once the
/// program was reaped.
/// The program's pid (until it is reaped) and its environment marker.
struct KillGroupOnDrop(Option<u32>, String);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        kill_group(self.0.take());
        super::descendants::kill_marked(&self.1);
    }
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for the
        // child (`process_group(0)` makes its pid the group id); no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The invocation of a program that could not be started: rc 127, a `CRITICAL:` line, no
/// results (as the reference records it), and ABORT for every requested id in our own verdict.
pub fn not_started(spec: &ProgramSpec, reason: String) -> ProgramRun {
    let cmd = command_line(spec);
    let results = OrderedMap::new();
    let mut forced = BTreeMap::new();
    for id in &spec.ids {
        forced.insert(id.clone(), reason.clone());
    }
    ProgramRun {
        invocation: Invocation {
            id: uuid::Uuid::new_v4().to_string(),
            cmd,
            result: None,
            results,
            rc: 127,
            stdout: Vec::new(),
            stderr: vec![format!("CRITICAL: {reason}")],
            info: 0,
            warning: 0,
            error: 0,
            critical: 1,
        },
        forced_aborts: forced,
    }
}

fn judge(spec: &ProgramSpec, cmd: String, mut done: Finished) -> ProgramRun {
    let mut reported: BTreeMap<String, Status> = BTreeMap::new();
    for (id, status) in &done.stdout.results {
        if spec.ids.contains(id) {
            reported.insert(id.clone(), *status);
        } else {
            tracing::warn!(id = %id, cmd = %cmd, "ignoring a result for an id that was not requested");
        }
    }
    let mut notes: Vec<String> = Vec::new();
    let mut forced = BTreeMap::new();
    if done.timed_out {
        let reason = format!(
            "the program did not finish within the deadline of {} and was killed",
            humanize(spec.deadline)
        );
        notes.push(format!("CRITICAL: scs-kaas: {reason}"));
        for id in &spec.ids {
            forced.insert(id.clone(), reason.clone());
        }
    } else {
        let silent: Vec<&String> = spec
            .ids
            .iter()
            .filter(|id| !reported.contains_key(*id))
            .collect();
        if !silent.is_empty() {
            let list = silent
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let reason = if done.rc != 0 {
                format!(
                    "the program exited with status {} without a result for {list}",
                    done.rc
                )
            } else {
                format!("the program printed no result for {list}")
            };
            notes.push(format!("CRITICAL: scs-kaas: {reason}"));
            for id in silent {
                forced.insert(id.clone(), reason.clone());
            }
        }
    }
    if done.stdout.results_dropped > 0 {
        notes.push(format!(
            "WARNING: scs-kaas: {} result lines for ids beyond the first {} were not kept",
            done.stdout.results_dropped,
            super::output::MAX_RESULT_IDS
        ));
    }
    if done.stdout.lossy || done.stderr.lossy {
        notes.push(
            "WARNING: scs-kaas: output was not valid UTF-8; invalid bytes were replaced".into(),
        );
    }
    for note in &notes {
        done.stderr.counts.add_line(note);
    }
    // Like the reference, the report holds only what the program printed; a forced ABORT stays
    // in scs-kaas's own verdict (`forced_aborts`).
    let mut results = OrderedMap::new();
    for id in &spec.ids {
        if let (false, Some(status)) = (forced.contains_key(id), reported.get(id)) {
            results.insert(id.clone(), ResultValue(*status));
        }
    }
    let mut stderr = done.stderr.lines();
    stderr.extend(notes);
    let c = |f: fn(&super::output::Counts) -> u32| f(&done.stdout.counts) + f(&done.stderr.counts);
    ProgramRun {
        invocation: Invocation {
            id: uuid::Uuid::new_v4().to_string(),
            cmd,
            result: None,
            results,
            rc: done.rc,
            stdout: done.stdout.lines(),
            stderr,
            info: c(|c| c.info),
            warning: c(|c| c.warning),
            error: c(|c| c.error),
            critical: c(|c| c.critical),
        },
        forced_aborts: forced,
    }
}

/// A duration as people write it (`90s`, `5m`, `1h30m`).
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    if d.subsec_millis() > 0 {
        out.push_str(&format!("{}ms", d.subsec_millis()));
    }
    out
}
