//! The monitor's score card: how stored testcase results turn into a verdict per subject and
//! scope (INTEROP §3.5), reproduced rule for rule so our pages agree with the SCS monitor.
//!
//! The inputs are plain data ([`CardScope`], [`ResultRow`]) so this module stays pure and does not
//! depend on how scopes are parsed; "now" and "today" are always arguments, so validity and
//! expiry are computed at request time, never frozen at load time (INTEROP §6.4.1).

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use serde::Serialize;

use crate::finding::Status;
use crate::lifetime::{Lifetime, add_period};

pub use crate::scope::Validity;

/// The suffix `passed_str` appends to a version name (INTEROP §3.5 step 5).
pub fn validity_suffix(validity: Validity) -> &'static str {
    match validity {
        Validity::Effective => "",
        Validity::Draft => "*",
        Validity::Warn => "†",
        Validity::Deprecated => "††",
    }
}

/// One testcase as the score card needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardTestcase {
    /// Testcase id, unique within the scope.
    pub id: String,
    /// How long a result stays valid.
    pub lifetime: Lifetime,
    /// Number of stable versions whose `main` target contains this testcase.
    pub attn: u32,
    /// Short human description (shown on detail pages, escaped).
    pub description: String,
    /// Link to the normative text.
    pub url: Option<String>,
}

/// One version of a scope with its derived targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardVersion {
    /// Version name (`v1`, `next`, ...).
    pub name: String,
    /// Date of stabilisation, if stable.
    pub stabilized_at: Option<Date>,
    /// Target name → sorted testcase ids (`main` decides certification).
    pub targets: BTreeMap<String, Vec<String>>,
}

/// One timeline entry: from `date` on, these versions have these validities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// First day of the period.
    pub date: Date,
    /// Version name → validity code.
    pub versions: Vec<(String, Validity)>,
}

/// A scope reduced to what evaluation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardScope {
    /// Scope uuid (the key reports refer to).
    pub uuid: String,
    /// Display name.
    pub name: String,
    /// Documentation link.
    pub url: Option<String>,
    /// Testcases by id.
    pub testcases: BTreeMap<String, CardTestcase>,
    /// Versions in file order (most recent first by convention).
    pub versions: Vec<CardVersion>,
    /// Timeline entries in file order.
    pub timeline: Vec<TimelineEntry>,
}

impl CardScope {
    /// The score-card view of a parsed scope; `None` for a scope without uuid (a monitor keys
    /// everything by uuid).
    pub fn from_scope(scope: &crate::scope::Scope) -> Option<CardScope> {
        Some(CardScope {
            uuid: scope.uuid.clone()?,
            name: scope.name.clone(),
            url: Some(scope.url.clone()).filter(|u| !u.is_empty()),
            testcases: scope
                .testcases
                .iter()
                .map(|t| {
                    (
                        t.id.clone(),
                        CardTestcase {
                            id: t.id.clone(),
                            lifetime: t.lifetime,
                            attn: t.attn,
                            description: t.description.clone().unwrap_or_default(),
                            url: t.url.clone(),
                        },
                    )
                })
                .collect(),
            versions: scope
                .versions
                .iter()
                .map(|v| CardVersion {
                    name: v.name.clone(),
                    stabilized_at: v.stabilized_at,
                    targets: v.targets.clone(),
                })
                .collect(),
            timeline: scope
                .timeline
                .iter()
                .map(|e| TimelineEntry {
                    date: e.date,
                    versions: e.versions.clone(),
                })
                .collect(),
        })
    }

    /// Whether every version listed on `date` is a draft (and at least one is): the default
    /// views show such a scope as neutral "draft" instead of judging anyone against it.
    pub fn drafts_only(&self, date: Date) -> bool {
        let listed: Vec<Validity> = self
            .versions
            .iter()
            .filter_map(|v| self.explicit_validity(&v.name, date))
            .collect();
        !listed.is_empty() && listed.iter().all(|v| *v == Validity::Draft)
    }

    /// The explicit validity of `version` on `date`: the entry with the greatest date ≤ `date`
    /// (ties: first in file order); `None` if that entry does not list the version.
    pub fn explicit_validity(&self, version: &str, date: Date) -> Option<Validity> {
        let mut best: Option<&TimelineEntry> = None;
        for entry in &self.timeline {
            if entry.date <= date && best.is_none_or(|b| entry.date > b.date) {
                best = Some(entry);
            }
        }
        best?
            .versions
            .iter()
            .find(|(name, _)| name == version)
            .map(|(_, validity)| *validity)
    }
}

/// One stored result row for a subject and scope (the newest per version column, or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// Testcase id as reported.
    pub testcase: String,
    /// The reported result.
    pub result: Status,
    /// When the check ran (UTC, naive).
    pub checked_at: DateTime,
    /// Run uuid of the report that carried it.
    pub report: String,
}

/// The surviving result of one testcase after merging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardResult {
    /// The result.
    pub result: Status,
    /// When the check ran.
    pub checked_at: DateTime,
    /// When it stops counting (`add_period`).
    pub expires_at: DateTime,
    /// Run uuid of the report.
    pub report: String,
}

/// Steps 1–3 of INTEROP §3.5: drop unknown testcases and expired rows, keep the newest per
/// testcase ("newest result wins").
pub fn merge(
    scope: &CardScope,
    rows: impl IntoIterator<Item = ResultRow>,
    now: DateTime,
) -> BTreeMap<String, CardResult> {
    let mut merged: BTreeMap<String, CardResult> = BTreeMap::new();
    for row in rows {
        let Some(testcase) = scope.testcases.get(&row.testcase) else {
            continue;
        };
        let expires_at = add_period(row.checked_at, testcase.lifetime);
        if now >= expires_at {
            continue;
        }
        let newer = merged
            .get(&row.testcase)
            .is_none_or(|old| row.checked_at > old.checked_at);
        if newer {
            merged.insert(
                row.testcase,
                CardResult {
                    result: row.result,
                    checked_at: row.checked_at,
                    expires_at,
                    report: row.report,
                },
            );
        }
    }
    merged
}

/// A target's verdict: FAIL if any failed, else MISSING (`None`) if any is missing, else ABORT if
/// any aborted, else PASS (also for an empty target).
pub fn evaluate<'a>(
    ids: impl IntoIterator<Item = &'a String>,
    results: &BTreeMap<String, CardResult>,
) -> Option<Status> {
    let (mut missing, mut aborted) = (false, false);
    for id in ids {
        match results.get(id).map(|r| r.result) {
            Some(Status::Fail) => return Some(Status::Fail),
            None => missing = true,
            Some(Status::Abort) => aborted = true,
            Some(Status::Pass) => {}
        }
    }
    if missing {
        None
    } else if aborted {
        Some(Status::Abort)
    } else {
        Some(Status::Pass)
    }
}

/// The evaluation of one target of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetEval {
    /// Testcase ids of the target.
    pub testcases: Vec<String>,
    /// Verdict (`None` = missing).
    pub result: Option<Status>,
}

/// The evaluation of one version with explicit validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionEval {
    /// Version name.
    pub name: String,
    /// Position in the scope's version list.
    pub idx: usize,
    /// Explicit validity today.
    pub validity: Validity,
    /// Verdict of target `main` (`None` = missing; a version without `main` counts as missing,
    /// where the SCS monitor crashes).
    pub result: Option<Status>,
    /// Every target's verdict.
    pub targets: BTreeMap<String, TargetEval>,
}

/// The score card of one subject for one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeEval {
    /// Per version with explicit validity (drafts included; see `relevant`).
    pub versions: Vec<VersionEval>,
    /// Names of the versions visited by the walk.
    pub relevant: Vec<String>,
    /// Scope verdict: the last visited version's verdict; FAIL if none was visited.
    pub result: Option<Status>,
    /// Visited versions whose verdict is not FAIL.
    pub passed: Vec<String>,
    /// `passed` with validity suffixes, comma-separated.
    pub passed_str: String,
    /// Index of the winning version.
    pub best_passed: Option<usize>,
    /// Validity of the winner, `deprecated` without one.
    pub validity: Validity,
    /// Testcase ids of the relevant versions, `attn > 0` first then by id, with their verdicts.
    pub testcases: Vec<String>,
}

/// Steps 4–6 of INTEROP §3.5 for one subject and scope.
pub fn evaluate_scope(
    scope: &CardScope,
    results: &BTreeMap<String, CardResult>,
    today: Date,
    include_drafts: bool,
) -> ScopeEval {
    let mut versions = Vec::new();
    for (idx, version) in scope.versions.iter().enumerate() {
        let Some(validity) = scope.explicit_validity(&version.name, today) else {
            continue;
        };
        let targets: BTreeMap<String, TargetEval> = version
            .targets
            .iter()
            .map(|(name, ids)| {
                let result = evaluate(ids, results);
                (
                    name.clone(),
                    TargetEval {
                        testcases: ids.clone(),
                        result,
                    },
                )
            })
            .collect();
        let result = targets.get("main").and_then(|t| t.result);
        versions.push(VersionEval {
            name: version.name.clone(),
            idx,
            validity,
            result,
            targets,
        });
    }

    let mut relevant = Vec::new();
    let mut passed: Vec<&VersionEval> = Vec::new();
    let mut result = Some(Status::Fail);
    let mut winner: Option<&VersionEval> = None;
    for version in &versions {
        if version.validity == Validity::Draft && !include_drafts {
            continue;
        }
        relevant.push(version.name.clone());
        result = version.result;
        if version.result != Some(Status::Fail) {
            passed.push(version);
            if version.validity != Validity::Draft {
                winner = Some(version);
                break;
            }
        }
    }
    let passed_str = passed
        .iter()
        .map(|v| format!("{}{}", v.name, validity_suffix(v.validity)))
        .collect::<Vec<_>>()
        .join(", ");

    let mut testcases: Vec<String> = versions
        .iter()
        .filter(|v| relevant.contains(&v.name))
        .flat_map(|v| v.targets.values().flat_map(|t| t.testcases.iter().cloned()))
        .collect();
    testcases.sort_by(|a, b| {
        let attn = |id: &String| scope.testcases.get(id).map_or(0, |t| t.attn);
        (attn(b) > 0).cmp(&(attn(a) > 0)).then_with(|| a.cmp(b))
    });
    testcases.dedup();

    ScopeEval {
        relevant,
        result,
        passed: passed.iter().map(|v| v.name.clone()).collect(),
        passed_str,
        best_passed: winner.map(|w| w.idx),
        validity: winner.map_or(Validity::Deprecated, |w| w.validity),
        testcases,
        versions,
    }
}

/// The colour of a summary badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Colour {
    /// 🛑 fail, deprecated winner, or no data.
    Red,
    /// 🟧 missing results, or a pass of a `warn` version.
    Orange,
    /// ✅* passed with aborted testcases.
    GreenStar,
    /// ✅ passed.
    Green,
    /// 📝 the scope has only draft versions today: nothing to comply with yet (neutral).
    Draft,
}

impl Colour {
    /// The symbol the SCS monitor shows.
    pub fn symbol(self) -> &'static str {
        match self {
            Colour::Red => "🛑",
            Colour::Orange => "🟧",
            Colour::GreenStar => "✅*",
            Colour::Green => "✅",
            Colour::Draft => "📝",
        }
    }
}

/// What a table cell shows for a subject (or group) and scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Badge colour.
    pub colour: Colour,
    /// Passed versions with suffixes, or `–`.
    pub text: String,
    /// Rank for the group worst-member rule (lower is worse).
    pub rank: u8,
}

impl Summary {
    /// `<symbol> <text>`, exactly the SCS summary filter's output.
    pub fn label(&self) -> String {
        format!("{} {}", self.colour.symbol(), self.text)
    }
}

/// The summary of one evaluation, or of "no data" (`None`).
pub fn summary(eval: Option<&ScopeEval>) -> Summary {
    let Some(eval) = eval else {
        return Summary {
            colour: Colour::Red,
            text: "–".into(),
            rank: 2,
        };
    };
    let (mut colour, rank) = match eval.result {
        Some(Status::Fail) => (Colour::Red, 0),
        None => (Colour::Orange, 1),
        Some(Status::Abort) => (Colour::GreenStar, 3),
        Some(Status::Pass) => (Colour::Green, 4),
    };
    if eval.result != Some(Status::Fail) {
        match eval.validity {
            Validity::Warn => colour = Colour::Orange,
            Validity::Deprecated => colour = Colour::Red,
            Validity::Effective | Validity::Draft => {}
        }
    }
    let text = if eval.passed_str.is_empty() {
        "–".to_string()
    } else {
        eval.passed_str.clone()
    };
    Summary { colour, text, rank }
}

/// What a cell shows for a scope that has only draft versions ([`CardScope::drafts_only`]):
/// neutral, whatever the results; never the worst member of a group.
pub fn draft_summary() -> Summary {
    Summary {
        colour: Colour::Draft,
        text: "draft".into(),
        rank: 5,
    }
}

/// A group's summary: its worst member's (fail < missing < no data < abort < pass); the first
/// member wins ties. An empty group has no data.
pub fn group_summary<'a>(members: impl IntoIterator<Item = Option<&'a ScopeEval>>) -> Summary {
    members
        .into_iter()
        .map(summary)
        .reduce(|worst, next| if next.rank < worst.rank { next } else { worst })
        .unwrap_or_else(|| summary(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, datetime};

    fn tc(id: &str, lifetime: Lifetime, attn: u32) -> (String, CardTestcase) {
        (
            id.into(),
            CardTestcase {
                id: id.into(),
                lifetime,
                attn,
                description: String::new(),
                url: None,
            },
        )
    }

    fn version(name: &str, main: &[&str]) -> CardVersion {
        CardVersion {
            name: name.into(),
            stabilized_at: None,
            targets: [(
                "main".to_string(),
                main.iter().map(|s| s.to_string()).collect(),
            )]
            .into(),
        }
    }

    /// next (draft), v2 (effective), v1 (warn, later deprecated), v0 (unlisted).
    fn scope() -> CardScope {
        CardScope {
            uuid: "u".into(),
            name: "S".into(),
            url: None,
            testcases: [
                tc("a", Lifetime::Day, 1),
                tc("b", Lifetime::Week, 0),
                tc("c", Lifetime::Month, 2),
                tc("z", Lifetime::Year, 0),
            ]
            .into(),
            versions: vec![
                version("next", &["a", "b", "c", "z"]),
                version("v2", &["a", "b", "c"]),
                version("v1", &["a", "b"]),
                version("v0", &["a"]),
            ],
            timeline: vec![
                TimelineEntry {
                    date: date(2026, 12, 1),
                    versions: vec![
                        ("next".into(), Validity::Draft),
                        ("v2".into(), Validity::Effective),
                        ("v1".into(), Validity::Deprecated),
                    ],
                },
                TimelineEntry {
                    date: date(2026, 6, 1),
                    versions: vec![
                        ("next".into(), Validity::Draft),
                        ("v2".into(), Validity::Effective),
                        ("v1".into(), Validity::Warn),
                    ],
                },
                // A tie on the date: the first entry in file order wins.
                TimelineEntry {
                    date: date(2026, 6, 1),
                    versions: vec![("v1".into(), Validity::Effective)],
                },
            ],
        }
    }

    fn row(id: &str, result: Status, at: DateTime) -> ResultRow {
        ResultRow {
            testcase: id.into(),
            result,
            checked_at: at,
            report: format!("r-{id}-{at}"),
        }
    }

    fn results(entries: &[(&str, Status)]) -> BTreeMap<String, CardResult> {
        let at = datetime(2026, 11, 20, 0, 0, 0, 0);
        entries
            .iter()
            .map(|(id, status)| {
                (
                    id.to_string(),
                    CardResult {
                        result: *status,
                        checked_at: at,
                        expires_at: at,
                        report: "r".into(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_scope_with_only_drafts_today_is_drafts_only() {
        let mut s = scope();
        s.timeline = vec![TimelineEntry {
            date: date(2024, 1, 1),
            versions: vec![
                ("next".into(), Validity::Draft),
                ("v2".into(), Validity::Draft),
            ],
        }];
        assert!(!s.drafts_only(date(2023, 12, 31)), "nothing listed yet");
        assert!(s.drafts_only(date(2024, 1, 1)));
        assert!(
            !scope().drafts_only(date(2024, 1, 1)),
            "an effective version is listed"
        );
        let d = draft_summary();
        assert_eq!(
            (d.colour, d.label()),
            (Colour::Draft, "📝 draft".to_string())
        );
        assert!(
            d.rank > summary(None).rank,
            "a draft is never a group's worst member"
        );
    }

    #[test]
    fn validity_takes_greatest_date_not_after_today_and_first_on_ties() {
        let s = scope();
        assert_eq!(
            s.explicit_validity("v1", date(2026, 11, 30)),
            Some(Validity::Warn)
        );
        assert_eq!(
            s.explicit_validity("v1", date(2026, 12, 1)),
            Some(Validity::Deprecated)
        );
        assert_eq!(s.explicit_validity("v0", date(2026, 12, 1)), None);
        assert_eq!(s.explicit_validity("v2", date(2026, 5, 31)), None);
    }

    #[test]
    fn merge_drops_unknown_and_expired_and_keeps_newest() {
        let s = scope();
        let now = datetime(2026, 11, 24, 0, 0, 0, 0);
        let merged = merge(
            &s,
            vec![
                row("a", Status::Pass, datetime(2026, 11, 22, 10, 0, 0, 0)), // day: expires 11-24 00:00
                row("b", Status::Fail, datetime(2026, 11, 22, 10, 0, 0, 0)),
                row("b", Status::Pass, datetime(2026, 11, 23, 10, 0, 0, 0)), // newer wins
                row("b", Status::Abort, datetime(2026, 11, 21, 10, 0, 0, 0)),
                row("unknown", Status::Pass, datetime(2026, 11, 23, 0, 0, 0, 0)),
            ],
            now,
        );
        assert_eq!(merged.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(merged["b"].result, Status::Pass);
        assert_eq!(merged["b"].expires_at, datetime(2026, 12, 7, 0, 0, 0, 0)); // Monday 11-23 + 14
        // One microsecond earlier the day-lifetime result still counts.
        let before = merge(
            &s,
            vec![row("a", Status::Pass, datetime(2026, 11, 22, 10, 0, 0, 0))],
            datetime(2026, 11, 23, 23, 59, 59, 999_999_000),
        );
        assert_eq!(before["a"].result, Status::Pass);
    }

    #[test]
    fn evaluate_ranks_fail_over_missing_over_abort_over_pass() {
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        use Status::*;
        assert_eq!(
            evaluate(&ids, &results(&[("a", Pass), ("b", Pass), ("c", Pass)])),
            Some(Pass)
        );
        assert_eq!(
            evaluate(&ids, &results(&[("a", Pass), ("b", Abort), ("c", Pass)])),
            Some(Abort)
        );
        assert_eq!(evaluate(&ids, &results(&[("a", Abort), ("b", Pass)])), None);
        assert_eq!(
            evaluate(&ids, &results(&[("a", Fail), ("b", Abort)])),
            Some(Fail)
        );
        assert_eq!(evaluate(&[], &results(&[])), Some(Pass));
    }

    #[test]
    fn walk_skips_drafts_and_stops_at_first_non_failing_version() {
        use Status::*;
        let s = scope();
        let today = date(2026, 11, 22);
        let all_pass = results(&[("a", Pass), ("b", Pass), ("c", Pass)]);
        let e = evaluate_scope(&s, &all_pass, today, false);
        assert_eq!(e.relevant, ["v2"]);
        assert_eq!(e.result, Some(Pass));
        assert_eq!(e.passed_str, "v2");
        assert_eq!(e.best_passed, Some(1));
        assert_eq!(e.validity, Validity::Effective);
        assert_eq!(summary(Some(&e)).label(), "✅ v2");

        // With drafts: `next` is missing `z`, so it is "passed" (not FAIL) but not the winner.
        let full = evaluate_scope(&s, &all_pass, today, true);
        assert_eq!(full.relevant, ["next", "v2"]);
        assert_eq!(full.passed_str, "next*, v2");

        // v2 fails on c: walk continues to v1 (warn), which passes → orange.
        let c_fails = results(&[("a", Pass), ("b", Pass), ("c", Fail)]);
        let e = evaluate_scope(&s, &c_fails, today, false);
        assert_eq!(e.relevant, ["v2", "v1"]);
        assert_eq!(e.passed_str, "v1†");
        assert_eq!(e.validity, Validity::Warn);
        let sum = summary(Some(&e));
        assert_eq!(sum.colour, Colour::Orange);
        // Attention testcases first, then by id.
        assert_eq!(e.testcases, ["a", "c", "b"]);

        // After v1 became deprecated, a v1 pass is red.
        let e = evaluate_scope(&s, &c_fails, date(2026, 12, 2), false);
        assert_eq!(e.passed_str, "v1††");
        assert_eq!(summary(Some(&e)).colour, Colour::Red);

        // Everything fails: result FAIL, no winner, validity deprecated, text "–".
        let all_fail = results(&[("a", Fail)]);
        let e = evaluate_scope(&s, &all_fail, today, false);
        assert_eq!(e.result, Some(Fail));
        assert_eq!(e.best_passed, None);
        assert_eq!(e.validity, Validity::Deprecated);
        assert_eq!(summary(Some(&e)).label(), "🛑 –");

        // Missing counts as "passed" for the walk but shows orange.
        let missing = results(&[("a", Pass), ("b", Pass)]);
        let e = evaluate_scope(&s, &missing, today, false);
        assert_eq!(e.result, None);
        assert_eq!(e.passed_str, "v2");
        assert_eq!(summary(Some(&e)).label(), "🟧 v2");

        // Aborted: green with asterisk.
        let aborted = results(&[("a", Pass), ("b", Abort), ("c", Pass)]);
        let e = evaluate_scope(&s, &aborted, today, false);
        assert_eq!(summary(Some(&e)).label(), "✅* v2");
    }

    #[test]
    fn no_relevant_versions_fail_and_version_without_main_is_missing() {
        let mut s = scope();
        let e = evaluate_scope(&s, &results(&[]), date(2026, 1, 1), false);
        assert!(e.relevant.is_empty());
        assert_eq!(e.result, Some(Status::Fail));
        s.versions[1].targets.clear();
        let e = evaluate_scope(&s, &results(&[]), date(2026, 11, 22), false);
        assert_eq!(
            e.versions.iter().find(|v| v.name == "v2").unwrap().result,
            None
        );
    }

    #[test]
    fn group_shows_worst_member() {
        use Status::*;
        let s = scope();
        let today = date(2026, 11, 22);
        let pass = evaluate_scope(
            &s,
            &results(&[("a", Pass), ("b", Pass), ("c", Pass)]),
            today,
            false,
        );
        let abort = evaluate_scope(
            &s,
            &results(&[("a", Pass), ("b", Abort), ("c", Pass)]),
            today,
            false,
        );
        let missing = evaluate_scope(&s, &results(&[("a", Pass)]), today, false);
        let fail = evaluate_scope(&s, &results(&[("a", Fail)]), today, false);
        assert_eq!(
            group_summary([Some(&pass), Some(&abort)]).colour,
            Colour::GreenStar
        );
        assert_eq!(
            group_summary([Some(&pass), None, Some(&abort)]).label(),
            "🛑 –"
        );
        assert_eq!(group_summary([None, Some(&missing)]).colour, Colour::Orange);
        assert_eq!(
            group_summary([Some(&missing), Some(&fail)]).colour,
            Colour::Red
        );
        assert_eq!(
            group_summary(Vec::<Option<&ScopeEval>>::new()).label(),
            "🛑 –"
        );
    }
}
