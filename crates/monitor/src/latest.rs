//! The newest stored result per (subject, scope, testcase), kept in memory.
//!
//! The SCS monitor runs `DISTINCT ON` over the whole results table for every page (INTEROP
//! §6.5.2). Since "newest result wins" and a testcase's lifetime is fixed, the newest row per key
//! is all evaluation ever needs, so the writer updates this map after each commit and pages read
//! it without touching the database. It is rebuilt from the database at start-up and reload.
//! This assumes one monitor process per database (as the SCS monitor does).

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use jiff::civil::DateTime;
use scs_kaas_core::finding::Status;
use scs_kaas_core::scorecard::ResultRow;

use crate::db::ResultRecord;

/// Scope uuid → testcase → newest row, for one subject.
type PerSubject = HashMap<String, BTreeMap<String, ResultRow>>;

/// Subject → scope uuid → testcase → newest row.
#[derive(Debug, Default)]
pub struct Latest {
    map: RwLock<HashMap<String, PerSubject>>,
}

/// One result offered to the cache.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// Subject of the report.
    pub subject: &'a str,
    /// Scope uuid of the report.
    pub scope: &'a str,
    /// Testcase id.
    pub testcase: &'a str,
    /// The result.
    pub result: Status,
    /// When the check ran (clamped to receipt).
    pub checked_at: DateTime,
    /// Run uuid of the report.
    pub report: &'a str,
}

impl Latest {
    /// A map filled from stored records.
    pub fn from_records(records: Vec<ResultRecord>) -> Latest {
        let latest = Latest::default();
        for record in &records {
            latest.offer_record(record);
        }
        latest
    }

    /// Records one stored result if it is newer than the one held (results other than -1, 0
    /// and 1 are skipped).
    pub fn offer_record(&self, r: &ResultRecord) {
        if let Some(result) = Status::from_report_value(r.result) {
            self.offer(Offer {
                subject: &r.subject,
                scope: &r.scope,
                testcase: &r.testcase,
                result,
                checked_at: r.checked_at,
                report: &r.report,
            });
        }
    }

    /// Records one result if it is newer than the one held.
    pub fn offer(&self, offer: Offer<'_>) {
        self.offer_all(std::iter::once(offer));
    }

    /// Records every result that is newer than the one held, under one lock; a key already
    /// present is updated in place (no allocation).
    pub fn offer_all<'a>(&self, offers: impl IntoIterator<Item = Offer<'a>>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for o in offers {
            let per_subject = match map.get_mut(o.subject) {
                Some(s) => s,
                None => map.entry(o.subject.to_string()).or_default(),
            };
            let slot = match per_subject.get_mut(o.scope) {
                Some(s) => s,
                None => per_subject.entry(o.scope.to_string()).or_default(),
            };
            match slot.get_mut(o.testcase) {
                Some(old) if o.checked_at >= old.checked_at => {
                    old.result = o.result;
                    old.checked_at = o.checked_at;
                    if old.report != o.report {
                        old.report.clear();
                        old.report.push_str(o.report);
                    }
                }
                Some(_) => {}
                None => {
                    slot.insert(
                        o.testcase.to_string(),
                        ResultRow {
                            testcase: o.testcase.to_string(),
                            result: o.result,
                            checked_at: o.checked_at,
                            report: o.report.to_string(),
                        },
                    );
                }
            }
        }
    }

    /// The newest rows of a subject for a scope.
    pub fn rows(&self, subject: &str, scope: &str) -> Vec<ResultRow> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(subject)
            .and_then(|s| s.get(scope))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every subject with stored results.
    pub fn subjects(&self) -> Vec<String> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let mut s: Vec<String> = map.keys().cloned().collect();
        s.sort();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::datetime;

    fn offer<'a>(testcase: &'a str, result: Status, hour: i8, report: &'a str) -> Offer<'a> {
        Offer {
            subject: "acme",
            scope: "s",
            testcase,
            result,
            checked_at: datetime(2026, 11, 22, hour, 0, 0, 0),
            report,
        }
    }

    #[test]
    fn newest_result_wins_and_older_ones_are_ignored() {
        let latest = Latest::default();
        latest.offer_all([
            offer("a", Status::Pass, 10, "r1"),
            offer("b", Status::Fail, 10, "r1"),
            offer("a", Status::Fail, 12, "r2"),
            offer("b", Status::Pass, 9, "r0"),
        ]);
        let rows = latest.rows("acme", "s");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].result, rows[0].report.as_str()),
            (Status::Fail, "r2")
        );
        assert_eq!(
            (rows[1].result, rows[1].report.as_str()),
            (Status::Fail, "r1")
        );
        assert!(latest.rows("acme", "other").is_empty());
        assert_eq!(latest.subjects(), vec!["acme".to_string()]);
    }
}
