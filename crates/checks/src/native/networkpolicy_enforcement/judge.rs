//! Judges what the NW-01 probe observed: every expectation of every step must have held within
//! its convergence deadline. Pure: the probe produces an [`Observation`], this turns it into
//! findings and a status.

use std::time::Duration;

use scs_kaas_core::finding::{Finding, Outcome, Severity, Status};

use super::plan::{Expectation, Weight};

/// The rule this part judges.
pub const RULE: &str = "NW-01";

/// What one connection attempt (a client Job) showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The client connected (Job succeeded).
    Connected,
    /// The client could not connect; agnhost's reason (`TIMEOUT`, `REFUSED`, ...).
    Blocked(String),
    /// The attempt gave no answer (the Job did not finish, could not be created, ...).
    Undetermined(String),
}

impl Observed {
    fn describe(&self) -> String {
        match self {
            Observed::Connected => "connected".to_string(),
            Observed::Blocked(why) if why.is_empty() => "could not connect".to_string(),
            Observed::Blocked(why) => format!("could not connect ({why})"),
            Observed::Undetermined(why) => format!("gave no answer ({why})"),
        }
    }
}

/// How one expectation fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The expectation.
    pub expectation: Expectation,
    /// The last attempt's observation.
    pub last: Observed,
    /// Attempts made.
    pub attempts: u32,
    /// Whether the last observation matched the expectation.
    pub held: bool,
    /// Time from the start of the step until it held (or until the last attempt ended).
    pub after: Duration,
}

/// One step's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// Step id.
    pub id: &'static str,
    /// What the step establishes.
    pub what: &'static str,
    /// Its expectations.
    pub results: Vec<Held>,
}

/// Everything the probe observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// The steps run, in order.
    pub steps: Vec<StepResult>,
    /// Steps not run and why (the probe stops after a broken baseline, or once it is clear
    /// that policies are not enforced at all).
    pub not_run: Option<(Vec<&'static str>, String)>,
}

/// How to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Severity of a missed `ipBlock` expectation (default warn).
    pub ip_block: Severity,
    /// The convergence deadline per expectation (named in findings).
    pub convergence: Duration,
}

/// Whether the observation of a step says that no blocking expectation held at all: the
/// plugin ignores NetworkPolicies.
pub fn nothing_enforced(step: &StepResult) -> bool {
    let blocked: Vec<&Held> = step
        .results
        .iter()
        .filter(|h| !h.expectation.allowed)
        .collect();
    !blocked.is_empty()
        && blocked
            .iter()
            .all(|h| !h.held && h.last == Observed::Connected)
}

/// Findings and status of NW-01.
pub fn judge(obs: &Observation, rules: &Rules) -> Outcome {
    let mut findings = Vec::new();
    let mut violated = false;
    let mut undetermined = false;
    let deadline = rules.convergence.as_secs_f64();
    for (index, step) in obs.steps.iter().enumerate() {
        let baseline = index == 0;
        let missed: Vec<&Held> = step.results.iter().filter(|h| !h.held).collect();
        if missed.is_empty() {
            let slowest = step
                .results
                .iter()
                .map(|h| h.after)
                .max()
                .unwrap_or_default();
            findings.push(Finding::info(
                RULE,
                format!(
                    "step {}: {} of {} expectations held within {:.1}s ({})",
                    step.id,
                    step.results.len(),
                    step.results.len(),
                    slowest.as_secs_f64(),
                    step.what
                ),
            ));
            continue;
        }
        for h in missed {
            let x = &h.expectation;
            let tries = format!(
                "{} attempt{} within {deadline:.0}s",
                h.attempts,
                if h.attempts == 1 { "" } else { "s" }
            );
            if let Observed::Undetermined(_) = h.last {
                undetermined = true;
                findings.push(
                    Finding::error(
                        RULE,
                        format!(
                            "step {}: {x}: not judged, the client {} after {tries}",
                            step.id,
                            h.last.describe()
                        ),
                    )
                    .with_fix("check that probe pods can be scheduled and pull the agnhost image (or pass -a image_mirror=…)"),
                );
                continue;
            }
            if baseline {
                undetermined = true;
                findings.push(
                    Finding::error(
                        RULE,
                        format!(
                            "step baseline: {x} while no NetworkPolicy exists, but the client {} after {tries}: pod networking is broken, so policies cannot be judged",
                            h.last.describe()
                        ),
                    )
                    .with_fix("make pods reach each other across namespaces (CNI health, firewall between nodes) before judging NetworkPolicies"),
                );
                continue;
            }
            let severity = match x.weight {
                Weight::Must => Severity::Error,
                Weight::IpBlock => rules.ip_block,
            };
            if severity == Severity::Error {
                violated = true;
            }
            let mut finding = Finding::new(
                RULE,
                severity,
                format!(
                    "step {} ({}): {x}, but the client {} after {tries}",
                    step.id,
                    step.what,
                    h.last.describe()
                ),
            );
            finding = match x.weight {
                Weight::Must => finding.with_fix(
                    "the network plugin does not implement this part of NetworkPolicy (networking.k8s.io/v1); use a plugin that enforces it fully (scs-0219 NW-01)",
                ),
                Weight::IpBlock => finding.with_fix(
                    "ipBlock rules matching pod addresses are left to the plugin upstream; pass -a netpol_ipblock=fail to count this as a failure",
                ),
            };
            findings.push(finding);
        }
    }
    if let Some((steps, why)) = &obs.not_run {
        findings.push(Finding::info(
            RULE,
            format!("steps not run: {} ({why})", steps.join(", ")),
        ));
    }
    let status = if violated {
        Status::Fail
    } else if undetermined {
        Status::Abort
    } else {
        Status::Pass
    };
    Outcome { status, findings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::networkpolicy_enforcement::plan::{Client, Ns, Proto, Server, steps};

    fn rules() -> Rules {
        Rules {
            ip_block: Severity::Warn,
            convergence: Duration::from_secs(30),
        }
    }

    fn held(x: Expectation) -> Held {
        Held {
            expectation: x,
            last: if x.allowed {
                Observed::Connected
            } else {
                Observed::Blocked("TIMEOUT".into())
            },
            attempts: 1,
            held: true,
            after: Duration::from_millis(40),
        }
    }

    fn missed(x: Expectation) -> Held {
        Held {
            expectation: x,
            last: if x.allowed {
                Observed::Blocked("TIMEOUT".into())
            } else {
                Observed::Connected
            },
            attempts: 3,
            held: false,
            after: Duration::from_secs(30),
        }
    }

    /// Every step run; `miss` says which (step, expectation index) missed.
    fn observation(miss: &[(&str, usize)]) -> Observation {
        Observation {
            steps: steps()
                .into_iter()
                .map(|s| StepResult {
                    id: s.id,
                    what: s.what,
                    results: s
                        .expectations
                        .iter()
                        .enumerate()
                        .map(|(i, x)| {
                            if miss.contains(&(s.id, i)) {
                                missed(*x)
                            } else {
                                held(*x)
                            }
                        })
                        .collect(),
                })
                .collect(),
            not_run: None,
        }
    }

    #[test]
    fn all_held_passes_with_a_line_per_step() {
        let out = judge(&observation(&[]), &rules());
        assert_eq!(out.status, Status::Pass, "{:?}", out.findings);
        assert_eq!(out.findings.len(), steps().len());
        assert!(
            out.findings[2]
                .message
                .starts_with("step allow-namespace: 6 of 6 expectations held")
        );
    }

    #[test]
    fn a_connection_that_should_be_blocked_fails_naming_step_and_connection() {
        let out = judge(&observation(&[("allow-namespace", 2)]), &rules());
        assert_eq!(out.status, Status::Fail);
        let f = out
            .findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .unwrap();
        assert!(f.message.contains("step allow-namespace"), "{}", f.message);
        assert!(f.message.contains("b -> s1:8082/TCP must be blocked, but the client connected after 3 attempts within 30s"), "{}", f.message);
        assert!(f.fix.as_deref().unwrap().contains("NW-01"));
    }

    #[test]
    fn ip_block_misses_warn_by_default_and_fail_when_asked() {
        let obs = observation(&[("ip-block", 1)]);
        let out = judge(&obs, &rules());
        assert_eq!(out.status, Status::Pass);
        assert!(
            out.findings
                .iter()
                .any(|f| f.severity == Severity::Warn && f.message.contains("c -> s3:8080/TCP"))
        );
        let strict = Rules {
            ip_block: Severity::Error,
            ..rules()
        };
        assert_eq!(judge(&obs, &strict).status, Status::Fail);
    }

    #[test]
    fn broken_baseline_or_silent_clients_abort_instead_of_judging() {
        let out = judge(&observation(&[("baseline", 3)]), &rules());
        assert_eq!(out.status, Status::Abort);
        assert!(
            out.findings
                .iter()
                .any(|f| f.message.contains("pod networking is broken"))
        );
        let mut obs = observation(&[]);
        obs.steps[1].results[0].held = false;
        obs.steps[1].results[0].last =
            Observed::Undetermined("Job did not finish within 120s".into());
        let out = judge(&obs, &rules());
        assert_eq!(out.status, Status::Abort);
        assert!(
            out.findings
                .iter()
                .any(|f| f.message.contains("not judged") && f.message.contains("120s"))
        );
        // A real violation outranks an undetermined one.
        obs.steps[2].results[2] = missed(obs.steps[2].results[2].expectation);
        assert_eq!(judge(&obs, &rules()).status, Status::Fail);
    }

    #[test]
    fn nothing_enforced_is_recognised_only_when_every_block_failed() {
        let all = steps();
        let deny = &all[1];
        let every_block_missed: Vec<(&str, usize)> = deny
            .expectations
            .iter()
            .enumerate()
            .filter(|(_, x)| !x.allowed)
            .map(|(i, _)| (deny.id, i))
            .collect();
        let obs = observation(&every_block_missed);
        assert!(nothing_enforced(&obs.steps[1]));
        let obs = observation(&every_block_missed[1..]);
        assert!(!nothing_enforced(&obs.steps[1]));
        let x = Expectation {
            client: Client {
                ns: Ns::B,
                trusted: false,
            },
            server: Server::S1,
            port: 8080,
            proto: Proto::Tcp,
            allowed: true,
            weight: Weight::Must,
        };
        assert_eq!(x.to_string(), "b -> s1:8080/TCP must connect");
    }
}
