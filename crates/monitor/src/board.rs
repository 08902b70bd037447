//! Evaluation at request time: the score card of a subject (or group) for a scope, from the
//! result cache, the loaded scopes and the clock's "now". Shared by the pages, `/status`, the
//! badges and the metrics, so they all apply the same rules.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use scs_kaas_core::scorecard::{self, CardResult, ScopeEval, Summary};

use crate::latest::Latest;
use crate::scopes::ScopeInfo;
use crate::state::Snapshot;

/// One subject's evaluated score card for one scope.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Surviving (known, unexpired, newest) results by testcase.
    pub results: BTreeMap<String, CardResult>,
    /// The evaluation.
    pub eval: ScopeEval,
}

impl Cell {
    /// The earliest expiry among the results the verdict rests on (the winner's or, without a
    /// winner, all relevant testcases): when the badge can next change without a new upload.
    pub fn next_expiry(&self) -> Option<DateTime> {
        let ids: Vec<&String> = match self.eval.best_passed {
            Some(idx) => self
                .eval
                .versions
                .iter()
                .find(|v| v.idx == idx)
                .and_then(|v| v.targets.get("main"))
                .map(|t| t.testcases.iter().collect())
                .unwrap_or_default(),
            None => self.eval.testcases.iter().collect(),
        };
        ids.iter()
            .filter_map(|id| self.results.get(*id).map(|r| r.expires_at))
            .min()
    }
}

/// Evaluates one subject; `None` when no known unexpired result exists ("no data").
pub fn cell(
    scope: &ScopeInfo,
    latest: &Latest,
    subject: &str,
    now: DateTime,
    include_drafts: bool,
) -> Option<Cell> {
    let rows = latest.rows(subject, &scope.card.uuid);
    let results = scorecard::merge(&scope.card, rows, now);
    if results.is_empty() {
        return None;
    }
    let eval = scorecard::evaluate_scope(&scope.card, &results, now.date(), include_drafts);
    Some(Cell { results, eval })
}

/// The members of `group-<name>`, or the subject itself.
pub fn members(snapshot: &Snapshot, subject: &str) -> Option<Vec<String>> {
    match subject.strip_prefix("group-") {
        Some(group) => snapshot.directory.groups().get(group).cloned(),
        None => Some(vec![subject.to_string()]),
    }
}

/// The summary of a scope's cell from its members' evaluations (group: worst member); a scope
/// with only draft versions today is neutral "draft" in the default views (`include_drafts`
/// false), with or without results.
pub fn scope_summary<'a>(
    scope: &ScopeInfo,
    now: DateTime,
    include_drafts: bool,
    members: impl IntoIterator<Item = Option<&'a ScopeEval>>,
) -> Summary {
    if !include_drafts && scope.card.drafts_only(now.date()) {
        return scorecard::draft_summary();
    }
    scorecard::group_summary(members)
}

/// A subject's or group's summary for a scope (group: worst member).
pub fn summary(
    snapshot: &Snapshot,
    scope: &ScopeInfo,
    latest: &Latest,
    subject: &str,
    now: DateTime,
    include_drafts: bool,
) -> Summary {
    let members = members(snapshot, subject).unwrap_or_default();
    let cells: Vec<Option<Cell>> = members
        .iter()
        .map(|m| cell(scope, latest, m, now, include_drafts))
        .collect();
    scope_summary(
        scope,
        now,
        include_drafts,
        cells.iter().map(|c| c.as_ref().map(|c| &c.eval)),
    )
}

/// The rows of the overview table: groups first (as `group-<name>`), then every subject that is
/// a plain provider account (no roles) or has stored results, sorted.
pub fn table_subjects(snapshot: &Snapshot, latest: &Latest) -> Vec<String> {
    let mut rows: Vec<String> = snapshot
        .directory
        .groups()
        .keys()
        .map(|g| format!("group-{g}"))
        .collect();
    let mut subjects: Vec<String> = snapshot
        .directory
        .subjects()
        .into_iter()
        .filter(|s| {
            snapshot
                .directory
                .get(s)
                .is_some_and(|a| a.roles.bits() == 0)
        })
        .collect();
    subjects.extend(latest.subjects());
    subjects.sort();
    subjects.dedup();
    rows.extend(subjects);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_core::scorecard::Colour;

    fn scope(timeline: &str) -> ScopeInfo {
        let yaml = format!(
            "name: S\nuuid: 5e1f0000-0000-4000-8000-00000000000a\nurl: x\nscripts:\n\
             - testcases:\n  - id: t\nmodules:\n  - id: m\n    targets:\n      main: [t]\n\
             versions:\n  - version: v1\n    stabilized_at: 2024-01-01\n    include: [m]\n\
             timeline:\n{timeline}"
        );
        let parsed = scs_kaas_core::scope::Scope::parse("s.yaml", &yaml).unwrap();
        ScopeInfo::from_scope(&parsed).unwrap()
    }

    #[test]
    fn a_drafts_only_scope_is_neutral_in_the_default_views() {
        let now = jiff::civil::datetime(2026, 12, 3, 12, 0, 0, 0);
        let draft = scope("  - date: 2024-01-01\n    versions:\n      v1: draft\n");
        let summary = scope_summary(&draft, now, false, [None]);
        assert_eq!(
            (summary.colour, summary.text.as_str()),
            (Colour::Draft, "draft")
        );
        // With drafts included the cell is judged as before (no data: red).
        assert_eq!(scope_summary(&draft, now, true, [None]).colour, Colour::Red);
        // An effective version is judged: no data is red.
        let effective = scope("  - date: 2024-01-01\n    versions:\n      v1: effective\n");
        assert_eq!(
            scope_summary(&effective, now, false, [None]).colour,
            Colour::Red
        );
    }
}
