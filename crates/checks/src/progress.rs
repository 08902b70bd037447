//! Progress of a long-running check (e2e specs done / total with an ETA), for the progress display.
//!
//! The runner runs each native check inside [`scoped`]; a check that has something to say takes
//! [`current`] (also before spawning a task of its own) and calls [`ProgressSink::report`]. The
//! runner turns each report into [`Event::Progress`](crate::runner::Event::Progress). Outside a
//! run (tests, snapshots) there is no sink and reports go nowhere.

use std::future::Future;

use tokio::sync::mpsc::UnboundedSender;

use crate::runner::Event;

/// Where one check's progress lines go: the runner's event channel, tagged with the job's
/// label. The runner sends the job's `Finished` through the same channel, so no line is shown
/// after it and none is lost when the run ends.
#[derive(Clone, Debug)]
pub struct ProgressSink {
    label: String,
    tx: UnboundedSender<Event>,
}

tokio::task_local! {
    static SINK: ProgressSink;
}

impl ProgressSink {
    /// Hand one progress line (e.g. `120/441 specs, ETA 1h02m`) to the display.
    pub fn report(&self, line: String) {
        // The receiver is gone only once the run is over; nothing is left to show then.
        let _ = self.tx.send(Event::Progress(self.label.clone(), line));
    }
}

/// The sink of the check running in this task, if the runner gave it one.
pub fn current() -> Option<ProgressSink> {
    SINK.try_with(Clone::clone).ok()
}

/// Run `fut` with a sink that sends `Event::Progress(label, line)` to `tx`.
pub async fn scoped<F: Future>(label: String, tx: UnboundedSender<Event>, fut: F) -> F::Output {
    SINK.scope(ProgressSink { label, tx }, fut).await
}

/// Run `fut` with `sink`, e.g. on a task spawned for the check.
pub async fn rescoped<F: Future>(sink: ProgressSink, fut: F) -> F::Output {
    SINK.scope(sink, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_reach_the_runner_only_inside_a_scope() {
        assert!(current().is_none(), "no sink outside a run");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        scoped("cncf-k8s-conformance".into(), tx, async {
            let sink = current().expect("a sink inside the scope");
            // A task of the check's own gets the sink by value.
            tokio::spawn(async move { sink.report("3/441 specs".into()) })
                .await
                .unwrap();
        })
        .await;
        assert!(matches!(
            rx.recv().await,
            Some(Event::Progress(label, line)) if label == "cncf-k8s-conformance" && line == "3/441 specs"
        ));
    }
}
