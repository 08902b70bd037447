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

impl Latest {
    /// A map filled from stored records.
    pub fn from_records(records: Vec<ResultRecord>) -> Latest {
        let latest = Latest::default();
        for r in records {
            if let Some(result) = Status::from_report_value(r.result) {
                latest.offer(
                    &r.subject,
                    &r.scope,
                    &r.testcase,
                    result,
                    r.checked_at,
                    &r.report,
                );
            }
        }
        latest
    }

    /// Records a result if it is newer than the one held.
    pub fn offer(
        &self,
        subject: &str,
        scope: &str,
        testcase: &str,
        result: Status,
        checked_at: DateTime,
        report: &str,
    ) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let slot = map
            .entry(subject.to_string())
            .or_default()
            .entry(scope.to_string())
            .or_default();
        let newer = slot
            .get(testcase)
            .is_none_or(|old| checked_at >= old.checked_at);
        if newer {
            slot.insert(
                testcase.to_string(),
                ResultRow {
                    testcase: testcase.to_string(),
                    result,
                    checked_at,
                    report: report.to_string(),
                },
            );
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
