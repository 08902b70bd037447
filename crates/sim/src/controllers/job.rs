//! Job controller: runs pods until `completions` succeeded or `backoffLimit` failures, and sets
//! the `Complete`/`Failed` conditions `kubectl wait` reads.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::object::{condition_true, i64_at, is_terminating, name, namespace, uid};
use super::pod_status::{self, phase};
use super::replicaset::{free_name, index_by_controller, pod_from_template};
use crate::world::{Action, Controller, World};

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
        let jobs = world.list("Job", None, None);
        if jobs.is_empty() {
            return Vec::new();
        }
        let pods = world.list("Pod", None, None);
        let owned = index_by_controller(&pods);
        let mut taken: BTreeSet<(String, String)> = pods
            .iter()
            .map(|p| (namespace(p).to_string(), name(p).to_string()))
            .collect();
        let now = now.to_string();
        let mut actions = Vec::new();
        for job in jobs.iter().filter(|j| !is_terminating(j)) {
            let mine = owned
                .get(&super::object::owner_key(job))
                .cloned()
                .unwrap_or_default();
            let counts = Counts::of(&mine);
            let finished = is_finished(job);
            if !finished && !job_suspended(job) {
                let wanted = counts.wanted_active(job);
                let template = job
                    .pointer("/spec/template")
                    .cloned()
                    .unwrap_or(Value::Null);
                for _ in counts.active..wanted {
                    let pod_name = free_name(&mut taken, namespace(job), name(job), uid(job));
                    let labels = [
                        ("batch.kubernetes.io/controller-uid", uid(job)),
                        ("batch.kubernetes.io/job-name", name(job)),
                        ("controller-uid", uid(job)),
                        ("job-name", name(job)),
                    ];
                    actions.push(Action::Create(pod_from_template(
                        job, &template, &pod_name, &labels,
                    )));
                }
            }
            let status = status(job, &mine, &now);
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

struct Counts {
    active: i64,
    ready: i64,
    succeeded: i64,
    failed: i64,
}

impl Counts {
    fn of(pods: &[&Value]) -> Counts {
        let count = |f: &dyn Fn(&Value) -> bool| pods.iter().filter(|p| f(p)).count() as i64;
        Counts {
            active: count(&|p| !is_terminating(p) && !pod_status::is_finished(p)),
            ready: count(&pod_status::is_ready),
            succeeded: count(&|p| phase(p) == "Succeeded"),
            failed: count(&|p| phase(p) == "Failed"),
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
pub fn status(job: &Value, pods: &[&Value], now: &str) -> Value {
    let counts = Counts::of(pods);
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
