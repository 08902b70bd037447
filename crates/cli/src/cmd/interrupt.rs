//! Ctrl-C (SIGINT) and SIGTERM for the commands that run checks (`check`, `demo`).
//!
//! The first signal stops the running checks (the runner drops their futures, so their probe
//! guards start removing what they created) and the command then waits for those cleanups,
//! saying on stderr what it cleans and what is left; it exits 130 (SIGINT) or 143 (SIGTERM), as
//! shells do for a process killed by the signal. A second signal exits at once, naming
//! `scs-kaas cleanup` for the leftovers.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use scs_kaas_checks::probe::guard::{self, DEFAULT_CLEANUP_TIMEOUT};
use scs_kaas_checks::runner::CancellationToken;
use tokio::signal::unix::{SignalKind, signal};

use crate::exit;

/// How long the command waits for the probe cleanups before it gives up and names the
/// leftovers: a little longer than a cleanup's own deadline, so its report arrives.
pub const CLEANUP_WAIT: Duration = DEFAULT_CLEANUP_TIMEOUT.saturating_add(Duration::from_secs(15));

/// The signal that stopped the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C.
    Int,
    /// `kill PID`, a service manager or CI stopping the job.
    Term,
}

impl Signal {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// The exit code: 128 + the signal number, as shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => exit::INTERRUPTED,
            Signal::Term => exit::TERMINATED,
        }
    }
}

/// The error a command returns when a signal stopped it; `main` exits with its code.
#[derive(Debug)]
pub struct Interrupted(pub Signal);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped by {}: no verdict, no report", self.0.name())
    }
}

impl std::error::Error for Interrupted {}

/// Listens for SIGINT and SIGTERM for as long as the command runs.
#[derive(Clone)]
pub struct Interrupt {
    token: CancellationToken,
    signal: Arc<OnceLock<Signal>>,
}

impl Interrupt {
    /// Install the handlers. From now on the signals no longer kill the process; they cancel
    /// [`Interrupt::token`], and a second one exits at once.
    pub fn listen() -> anyhow::Result<Interrupt> {
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| anyhow::anyhow!("cannot handle SIGINT: {e}"))?;
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| anyhow::anyhow!("cannot handle SIGTERM: {e}"))?;
        let interrupt = Interrupt {
            token: CancellationToken::new(),
            signal: Arc::new(OnceLock::new()),
        };
        let me = interrupt.clone();
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    Some(()) = int.recv() => Signal::Int,
                    Some(()) = term.recv() => Signal::Term,
                    else => return,
                };
                if me.signal.set(got).is_ok() {
                    eprintln!(
                        "\n{} received: stopping; running checks are stopped and their probe objects removed first (send it again to exit at once)",
                        got.name()
                    );
                    me.token.cancel();
                } else {
                    eprintln!(
                        "{} received again: exiting without waiting for the cleanup; remove leftovers with `scs-kaas cleanup`",
                        got.name()
                    );
                    let pending = guard::pending_cleanups();
                    for p in &pending {
                        eprintln!("  not finished: {p}");
                    }
                    std::process::exit(i32::from(got.exit_code()));
                }
            }
        });
        Ok(interrupt)
    }

    /// Cancelled by the first signal.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The first signal received, if any.
    pub fn fired(&self) -> Option<Signal> {
        self.signal.get().copied()
    }

    /// Wait for the probe cleanups still going (checks stopped by a signal or cut off by their
    /// deadline) before the process exits, and say on stderr what is being removed and what is
    /// left; `cleanup_hint` completes the `scs-kaas cleanup` command line (e.g. `--kubeconfig F`).
    /// Returns whether everything was removed.
    pub async fn finish_probe_cleanups(&self, cleanup_hint: &str) -> bool {
        let pending = guard::pending_cleanups();
        // Announce the wait only when cleanups really run (a signal, a check cut off by its
        // deadline); after a normal run the checks removed their probes themselves.
        let announced =
            !pending.is_empty() && (self.fired().is_some() || guard::cleanups_running());
        if announced {
            eprintln!(
                "waiting up to {}s for the probe cleanup{} to finish:",
                CLEANUP_WAIT.as_secs(),
                if pending.len() == 1 { "" } else { "s" }
            );
            for p in &pending {
                eprintln!("  cleaning up {p}");
            }
        }
        let finished = guard::finish_cleanups(CLEANUP_WAIT).await;
        for line in outcome_lines(announced, &finished) {
            eprintln!("{line}");
        }
        let clean = finished.is_clean();
        if !clean {
            let hint = if cleanup_hint.is_empty() {
                String::new()
            } else {
                format!(" {cleanup_hint}")
            };
            eprintln!(
                "probe objects may be left in the cluster: remove them with `scs-kaas cleanup{hint}`"
            );
        }
        clean
    }
}

/// What the wait for the probe cleanups ended with: what each run removed, what it left and
/// what did not finish. After an announced wait there is always a closing line (`nothing left
/// to remove` when the checks had removed everything themselves); without an announcement only
/// runs that removed or left something are named.
fn outcome_lines(announced: bool, finished: &guard::Finished) -> Vec<String> {
    let mut lines = Vec::new();
    for report in &finished.reports {
        let leaks: Vec<_> = report
            .report
            .findings
            .iter()
            .filter(|f| f.severity >= scs_kaas_core::finding::Severity::Warn)
            .collect();
        if !announced && (!report.report.removed.is_empty() || !leaks.is_empty()) {
            lines.push(format!("cleaning up {}", report.run));
        }
        for removed in &report.report.removed {
            lines.push(format!("  removed {removed}"));
        }
        for leak in leaks {
            lines.push(format!("  left behind: {}", leak.message));
            if let Some(fix) = &leak.fix {
                lines.push(format!("    fix: {fix}"));
            }
        }
    }
    for p in &finished.unfinished {
        lines.push(format!("  not finished: {p}"));
    }
    if announced && lines.is_empty() {
        lines.push("  nothing left to remove: the checks had removed their probe objects".into());
    }
    lines
}

#[cfg(test)]
mod outcome_tests {
    use super::*;
    use scs_kaas_checks::probe::guard::{CleanupReport, DetachedReport, Finished};

    #[test]
    fn an_announced_wait_always_ends_with_what_happened() {
        let empty = Finished::default();
        let lines = outcome_lines(true, &empty);
        assert_eq!(
            lines,
            ["  nothing left to remove: the checks had removed their probe objects"]
        );
        assert!(outcome_lines(false, &empty).is_empty());
        let removed = Finished {
            reports: vec![DetachedReport {
                run: "probe run 0a1b2c3d of x".into(),
                report: CleanupReport {
                    removed: vec!["namespace/ns".into()],
                    findings: Vec::new(),
                },
            }],
            unfinished: Vec::new(),
        };
        assert_eq!(
            outcome_lines(false, &removed),
            [
                "cleaning up probe run 0a1b2c3d of x",
                "  removed namespace/ns"
            ]
        );
        assert_eq!(outcome_lines(true, &removed), ["  removed namespace/ns"]);
    }
}
