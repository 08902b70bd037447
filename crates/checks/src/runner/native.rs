//! Running one native check under its deadline, and rendering it as a report invocation
//! (`scs-kaas native:<id>`) so monitors that only know programs still show its findings.

use std::sync::Arc;
use std::time::Duration;

use scs_kaas_core::finding::Outcome;
use scs_kaas_core::report::{Invocation, OrderedMap, ResultValue};

use super::exec::humanize;
use super::output::Counts;
use crate::check::{Check, CheckContext};

/// Rule id for the tool's own guarantees (CHECKS.md HARN-01: exactly one status per check).
pub const HARNESS_RULE: &str = "HARN-01";

/// Aborts the check's task when the future awaiting it is dropped (Ctrl-C stops the runner), so
/// the check's own future is dropped too and its probe guards start their cleanup.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run `check` with `ctx`; a deadline overrun or a panic becomes ABORT with the reason, and so
/// does any request to the cluster that got no answer or a 401 (see [`crate::transport`]).
///
/// Dropping the returned future stops the check as the deadline does.
pub async fn run(check: Arc<dyn Check>, mut ctx: CheckContext, deadline: Duration) -> Outcome {
    let (client, tripwire) = crate::transport::watched(&ctx.client);
    ctx.client = client;
    let outcome = run_unwatched(check, ctx, deadline).await;
    crate::transport::judge(outcome, &tripwire)
}

async fn run_unwatched(check: Arc<dyn Check>, ctx: CheckContext, deadline: Duration) -> Outcome {
    let id = check.id();
    // The check runs on a task of its own; its progress sink goes with it.
    let sink = crate::progress::current();
    let task = tokio::spawn(async move {
        match sink {
            Some(sink) => crate::progress::rescoped(sink, check.run(&ctx)).await,
            None => check.run(&ctx).await,
        }
    });
    let abort = task.abort_handle();
    let _stop_on_drop = AbortOnDrop(abort.clone());
    match tokio::time::timeout(deadline, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(join)) if join.is_panic() => {
            let payload = join.into_panic();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Outcome::abort(
                HARNESS_RULE,
                format!(
                    "check `{id}` crashed (panic: {msg}); this is a bug in scs-kaas, please report it"
                ),
            )
        }
        Ok(Err(join)) => {
            Outcome::abort(HARNESS_RULE, format!("check `{id}` was cancelled: {join}"))
        }
        Err(_) => {
            abort.abort();
            Outcome::abort(
                HARNESS_RULE,
                format!(
                    "check `{id}` did not finish within the deadline of {}; raise it with --timeout",
                    humanize(deadline)
                ),
            )
        }
    }
}

/// The invocation a native check appears as in the report.
pub fn invocation(id: &str, outcome: &Outcome) -> Invocation {
    let stderr: Vec<String> = outcome.findings.iter().map(|f| f.log_line()).collect();
    let stdout = vec![format!("{id}: {}", outcome.status)];
    let mut counts = Counts::default();
    for line in stderr.iter().chain(stdout.iter()) {
        counts.add_line(line);
    }
    let mut results = OrderedMap::new();
    results.insert(id, ResultValue(outcome.status));
    Invocation {
        id: uuid::Uuid::new_v4().to_string(),
        cmd: format!("scs-kaas native:{id}"),
        result: None,
        results,
        rc: 0,
        stdout,
        stderr,
        info: counts.info,
        warning: counts.warning,
        error: counts.error,
        critical: counts.critical,
    }
}
