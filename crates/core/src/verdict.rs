//! Verdicts for people: per scope version and target, PASS / FAIL / TENTATIVE with counts.
//!
//! Unlike the reference CLI (which calls ABORT a FAIL) and the monitor (which ranks ABORT above
//! missing), the rule here is simple and strict: FAIL if any testcase failed; otherwise TENTATIVE if
//! any aborted or is missing; otherwise PASS. An ABORT or a missing result is never a pass.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::finding::{Finding, Status};
use crate::scope::{MAIN_TARGET, Validity, Version};

/// What a run established for one testcase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestcaseResult {
    /// Testcase id.
    pub id: String,
    /// The result; `None` when nothing decided it (manual check, program not available).
    pub status: Option<Status>,
    /// What the check observed (native checks) or the log lines that explain it (programs).
    pub findings: Vec<Finding>,
    /// Why the result is missing or aborted, in one sentence.
    pub reason: Option<String>,
    /// What decided it, or was to when a stop cut the run short (`None`: nothing could), so a
    /// verdict can be compared with SCS's runner, which only runs the scope's programs.
    pub implementation: Option<Implementation>,
}

/// Which implementation decided a testcase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Implementation {
    /// A native check of scs-kaas (report invocation `cmd`: `scs-kaas native:<id>`).
    Native,
    /// The scope's program, as its `executable` is written in the scope.
    Program {
        /// The scope's `executable`.
        executable: String,
    },
}

impl std::fmt::Display for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Implementation::Native => f.write_str("native check"),
            Implementation::Program { executable } => write!(f, "program {executable}"),
        }
    }
}

/// The judgement on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every selected testcase passed.
    Pass,
    /// Nothing failed, but something aborted or is missing.
    Tentative,
    /// At least one testcase failed.
    Fail,
}

impl Verdict {
    /// The word shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Tentative => "TENTATIVE",
            Verdict::Fail => "FAIL",
        }
    }

    /// The worse of two verdicts.
    pub fn worst(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
            (Verdict::Tentative, _) | (_, Verdict::Tentative) => Verdict::Tentative,
            _ => Verdict::Pass,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target's testcases bucketed by result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetVerdict {
    /// Target name (`main`, `preview`, …).
    pub target: String,
    /// The judgement.
    pub verdict: Verdict,
    /// Ids that passed.
    pub passed: Vec<String>,
    /// Ids that failed.
    pub failed: Vec<String>,
    /// Ids that aborted.
    pub aborted: Vec<String>,
    /// Ids selected but without a result.
    pub missing: Vec<String>,
    /// Ids not selected by `--sections`/`--tests` (not judged).
    pub skipped: Vec<String>,
}

impl TargetVerdict {
    /// "n passed, n failed, n aborted, n missing" (plus skipped when any).
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} passed, {} failed, {} aborted, {} missing",
            self.passed.len(),
            self.failed.len(),
            self.aborted.len(),
            self.missing.len()
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!(", {} not selected", self.skipped.len()));
        }
        s
    }
}

/// One scope version's verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionVerdict {
    /// Version name.
    pub version: String,
    /// Its validity on the reference date.
    pub validity: Validity,
    /// Whether the timeline lists it (otherwise it was forced with `--version`).
    pub explicit: bool,
    /// One entry per target, in target-name order.
    pub targets: Vec<TargetVerdict>,
}

impl VersionVerdict {
    /// The `main` target's verdict, if the version has one.
    pub fn main(&self) -> Option<&TargetVerdict> {
        self.targets.iter().find(|t| t.target == MAIN_TARGET)
    }
}

/// Bucket every target of `version`; ids outside `selected` are skipped, not judged.
pub fn evaluate(
    version: &Version,
    validity: Validity,
    explicit: bool,
    selected: &BTreeSet<String>,
    statuses: &BTreeMap<String, Status>,
) -> VersionVerdict {
    let targets = version
        .targets
        .iter()
        .map(|(target, ids)| {
            let mut t = TargetVerdict {
                target: target.clone(),
                verdict: Verdict::Pass,
                passed: Vec::new(),
                failed: Vec::new(),
                aborted: Vec::new(),
                missing: Vec::new(),
                skipped: Vec::new(),
            };
            for id in ids {
                let bucket = if !selected.contains(id) {
                    &mut t.skipped
                } else {
                    match statuses.get(id) {
                        Some(Status::Pass) => &mut t.passed,
                        Some(Status::Fail) => &mut t.failed,
                        Some(Status::Abort) => &mut t.aborted,
                        None => &mut t.missing,
                    }
                };
                bucket.push(id.clone());
            }
            t.verdict = if !t.failed.is_empty() {
                Verdict::Fail
            } else if !t.aborted.is_empty() || !t.missing.is_empty() {
                Verdict::Tentative
            } else {
                Verdict::Pass
            };
            t
        })
        .collect();
    VersionVerdict {
        version: version.name.clone(),
        validity,
        explicit,
        targets,
    }
}

/// The overall judgement (drives the exit code): see [`judge_overall`].
pub fn overall(verdicts: &[VersionVerdict]) -> Verdict {
    judge_overall(verdicts).verdict
}

/// The overall judgement and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overall {
    /// The worst verdict over the judged targets.
    pub verdict: Verdict,
    /// `None`: the `main` targets were judged (the normal case). `Some(targets)`: the selection
    /// left no `main`-target testcase, so the selected testcases of these targets were judged
    /// instead — a CI job asking only for a preview testcase must not get 0 for its FAIL.
    pub instead_of_main: Option<Vec<String>>,
}

impl Overall {
    /// What was judged, in words (`main targets`, or the targets judged instead).
    pub fn basis(&self) -> String {
        match &self.instead_of_main {
            None => "main targets".to_owned(),
            Some(targets) => format!(
                "no main-target testcase selected; judged the selected testcases of {}",
                targets.join(", ")
            ),
        }
    }
}

/// The worst verdict over the `main` targets of all evaluated versions, counting only targets
/// with a selected testcase; when no `main` target has one, over every target that has.
pub fn judge_overall(verdicts: &[VersionVerdict]) -> Overall {
    let selected = |t: &&TargetVerdict| {
        !(t.passed.is_empty()
            && t.failed.is_empty()
            && t.aborted.is_empty()
            && t.missing.is_empty())
    };
    let mains: Vec<&TargetVerdict> = verdicts
        .iter()
        .filter_map(VersionVerdict::main)
        .filter(selected)
        .collect();
    let worst =
        |ts: &[&TargetVerdict]| ts.iter().fold(Verdict::Pass, |acc, t| acc.worst(t.verdict));
    if !mains.is_empty() {
        return Overall {
            verdict: worst(&mains),
            instead_of_main: None,
        };
    }
    let others: Vec<&TargetVerdict> = verdicts
        .iter()
        .flat_map(|v| v.targets.iter())
        .filter(selected)
        .collect();
    if others.is_empty() {
        return Overall {
            verdict: Verdict::Pass,
            instead_of_main: None,
        };
    }
    let names: BTreeSet<String> = others.iter().map(|t| t.target.clone()).collect();
    Overall {
        verdict: worst(&others),
        instead_of_main: Some(names.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version() -> Version {
        let mut targets = BTreeMap::new();
        targets.insert("main".to_owned(), vec!["a".into(), "b".into(), "c".into()]);
        targets.insert("preview".to_owned(), vec!["p".into()]);
        Version {
            name: "v1".into(),
            include: vec![],
            stabilized_at: None,
            targets,
        }
    }

    fn run(results: &[(&str, Status)], selected: &[&str]) -> VersionVerdict {
        let statuses = results.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let selected = selected.iter().map(|s| s.to_string()).collect();
        evaluate(&version(), Validity::Effective, true, &selected, &statuses)
    }

    const ALL: &[&str] = &["a", "b", "c", "p"];

    #[test]
    fn all_passed_is_pass() {
        use Status::*;
        let v = run(&[("a", Pass), ("b", Pass), ("c", Pass), ("p", Pass)], ALL);
        assert_eq!(v.main().unwrap().verdict, Verdict::Pass);
        assert_eq!(overall(&[v]), Verdict::Pass);
    }

    #[test]
    fn any_fail_is_fail_even_with_aborts_and_missing() {
        use Status::*;
        let v = run(&[("a", Fail), ("b", Abort)], ALL);
        let main = v.main().unwrap();
        assert_eq!(main.verdict, Verdict::Fail);
        assert_eq!(main.counts(), "0 passed, 1 failed, 1 aborted, 1 missing");
        assert_eq!(overall(&[v]), Verdict::Fail);
    }

    #[test]
    fn abort_or_missing_is_never_a_pass() {
        use Status::*;
        let aborted = run(&[("a", Pass), ("b", Pass), ("c", Abort)], ALL);
        assert_eq!(aborted.main().unwrap().verdict, Verdict::Tentative);
        let missing = run(&[("a", Pass), ("b", Pass)], ALL);
        assert_eq!(missing.main().unwrap().verdict, Verdict::Tentative);
        assert_eq!(missing.main().unwrap().missing, vec!["c"]);
    }

    #[test]
    fn unselected_testcases_are_skipped_not_missing() {
        use Status::*;
        let v = run(&[("a", Pass)], &["a"]);
        let main = v.main().unwrap();
        assert_eq!(main.verdict, Verdict::Pass);
        assert_eq!(main.skipped, vec!["b", "c"]);
        assert_eq!(
            main.counts(),
            "1 passed, 0 failed, 0 aborted, 0 missing, 2 not selected"
        );
    }

    #[test]
    fn preview_failures_do_not_decide_overall() {
        use Status::*;
        let v = run(&[("a", Pass), ("b", Pass), ("c", Pass), ("p", Fail)], ALL);
        assert_eq!(v.targets[1].verdict, Verdict::Fail);
        assert_eq!(overall(&[v]), Verdict::Pass);
    }

    #[test]
    fn worst_orders_fail_over_tentative_over_pass() {
        use Verdict::*;
        assert_eq!(Pass.worst(Tentative), Tentative);
        assert_eq!(Tentative.worst(Fail), Fail);
        assert_eq!(Pass.worst(Pass), Pass);
    }

    #[test]
    fn without_a_selected_main_testcase_the_selected_ones_are_judged() {
        // `p` is the only preview testcase; `--tests p` leaves no main testcase.
        let failed = judge_overall(&[run(&[("p", Status::Fail)], &["p"])]);
        assert_eq!(failed.verdict, Verdict::Fail);
        assert_eq!(failed.instead_of_main, Some(vec!["preview".to_owned()]));
        assert!(failed.basis().contains("no main-target testcase selected"));
        assert_eq!(
            overall(&[run(&[("p", Status::Fail)], &["p"])]),
            Verdict::Fail
        );
        assert_eq!(
            overall(&[run(&[("p", Status::Abort)], &["p"])]),
            Verdict::Tentative
        );
        assert_eq!(
            overall(&[run(&[("p", Status::Pass)], &["p"])]),
            Verdict::Pass
        );
        // With a main testcase selected, the main target alone decides, as before.
        let main = judge_overall(&[run(
            &[("a", Status::Pass), ("p", Status::Fail)],
            &["a", "p"],
        )]);
        assert_eq!(
            (main.verdict, &main.instead_of_main),
            (Verdict::Pass, &None)
        );
        assert_eq!(main.basis(), "main targets");
    }
}
