//! Job controller: runs pods until `completions` succeeded or `backoffLimit` failures, and sets
//! the `Complete`/`Failed` conditions `kubectl wait` reads.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::object::{condition_true, i64_at, is_terminating};
use super::replicaset::{self, index_by_controller, pod_from_template, unused_pod_name};
use crate::world::{Action, Controller, Index, World};

/// Runs Jobs to completion or failure.
pub struct JobController;

impl Controller for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Job", "Pod"]
    }

    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action> {
        let jobs = world.list_index("Job", None);
        if jobs.is_empty() {
            return Vec::new();
        }
        // Pods are counted from the index; only the Jobs are parsed.
        let pods = world.list_index("Pod", None);
        let owned = index_by_controller(&pods, "Job");
        let mut handed_out = BTreeSet::new();
        let now = now.to_string();
        let mut actions = Vec::new();
        for entry in jobs.iter().filter(|j| !j.deleting()) {
            let Some(job) = world.get("Job", Some(entry.namespace()), entry.name()) else {
                continue;
            };
            if is_terminating(&job) {
                continue;
            }
            let mine = owned
                .get(&(entry.namespace(), entry.name()))
                .cloned()
                .unwrap_or_default();
            let counts = Counts::of(&mine);
            let finished = is_finished(&job);
            if !finished && !job_suspended(&job) {
                let wanted = counts.wanted_active(&job);
                let template = job
                    .pointer("/spec/template")
                    .cloned()
                    .unwrap_or(Value::Null);
                for _ in counts.active..wanted {
                    let pod_name = unused_pod_name(world, &mut handed_out, entry);
                    let labels = [
                        ("batch.kubernetes.io/controller-uid", entry.uid()),
                        ("batch.kubernetes.io/job-name", entry.name()),
                        ("controller-uid", entry.uid()),
                        ("job-name", entry.name()),
                    ];
                    actions.push(Action::Create(pod_from_template(
                        &job, &template, &pod_name, &labels,
                    )));
                }
            }
            let status = status(&job, &counts, &now);
            if job.get("status") != Some(&status) {
                let mut updated = job.clone();
                updated["status"] = status;
                actions.push(Action::Update(updated));
            }
        }
        actions
    }
}

fn job_suspended(job: &Value) -> bool {
    job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
}

/// Whether the Job has reached a terminal condition.
pub fn is_finished(job: &Value) -> bool {
    condition_true(job, "Complete") || condition_true(job, "Failed")
}

/// How a Job's pods are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    active: i64,
    ready: i64,
    succeeded: i64,
    failed: i64,
}

impl Counts {
    /// Counts the pods (by their index entries).
    pub fn of(pods: &[&Index]) -> Counts {
        let count = |f: &dyn Fn(&Index) -> bool| pods.iter().filter(|p| f(p)).count() as i64;
        Counts {
            active: count(&replicaset::is_live),
            ready: count(&replicaset::is_ready),
            succeeded: count(&|p| p.phase() == "Succeeded"),
            failed: count(&|p| p.phase() == "Failed"),
        }
    }

    fn wanted_active(&self, job: &Value) -> i64 {
        let completions = i64_at(job, "spec.completions").unwrap_or(1);
        let parallelism = i64_at(job, "spec.parallelism").unwrap_or(1);
        let backoff = i64_at(job, "spec.backoffLimit").unwrap_or(6);
        if self.succeeded >= completions || self.failed > backoff {
            return 0;
        }
        parallelism.min(completions - self.succeeded).max(0)
    }
}

fn cond(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind, "status": "True", "reason": reason, "message": message,
        "lastProbeTime": now, "lastTransitionTime": now,
    })
}

/// The status a Job reports for its pods; terminal conditions and times are kept once set.
pub fn status(job: &Value, counts: &Counts, now: &str) -> Value {
    let old = job.get("status").cloned().unwrap_or_else(|| json!({}));
    let completions = i64_at(job, "spec.completions").unwrap_or(1);
    let backoff = i64_at(job, "spec.backoffLimit").unwrap_or(6);
    let mut conditions = old.get("conditions").cloned().unwrap_or_else(|| json!([]));
    let mut completion_time = old.get("completionTime").cloned();
    if !is_finished(job) {
        if counts.succeeded >= completions {
            let message = "Reached expected number of succeeded pods";
            conditions = json!([
                cond("SuccessCriteriaMet", "CompletionsReached", message, now),
                cond("Complete", "CompletionsReached", message, now),
            ]);
            completion_time = Some(json!(now));
        } else if counts.failed > backoff {
            let message = "Job has reached the specified backoff limit";
            conditions = json!([
                cond("FailureTarget", "BackoffLimitExceeded", message, now),
                cond("Failed", "BackoffLimitExceeded", message, now),
            ]);
        }
    }
    let mut status = json!({
        "active": counts.active,
        "ready": counts.ready,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "startTime": old.get("startTime").cloned().unwrap_or_else(|| json!(now)),
    });
    if conditions.as_array().is_some_and(|c| !c.is_empty()) {
        status["conditions"] = conditions;
    }
    if let Some(time) = completion_time {
        status["completionTime"] = time;
    }
    status
}
