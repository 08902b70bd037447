//! The upstream state of each branch on a given day: released when, latest patch, end of life.

use jiff::civil::Date;
use serde::Serialize;

use super::{ReleaseDb, add_days, days_between, utc_date};
use crate::k8s_version::{Branch, K8sVersion};

/// Days after a minor's `.0` within which it may be offered as a preview only, and after which
/// it must be offered (scs-0210-v2 "4 months"; the reference constant is 120 days).
pub const MINOR_CADENCE_DAYS: i64 = 120;

/// Where a branch stands upstream on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BranchStatus {
    /// Released less than [`MINOR_CADENCE_DAYS`] ago: providers may still offer it as preview only.
    PreviewEligible,
    /// Supported upstream; providers must offer it.
    Supported,
    /// In upstream maintenance mode (only critical fixes) until its end of life.
    Maintenance,
    /// Past its end-of-life day.
    EndOfLife,
    /// Released, but the data has no end-of-life date for it.
    Unknown,
}

impl BranchStatus {
    /// The word used in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            BranchStatus::PreviewEligible => "preview-eligible",
            BranchStatus::Supported => "supported",
            BranchStatus::Maintenance => "maintenance",
            BranchStatus::EndOfLife => "EOL",
            BranchStatus::Unknown => "unknown",
        }
    }

    /// Whether upstream still supports the branch.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            BranchStatus::PreviewEligible | BranchStatus::Supported | BranchStatus::Maintenance
        )
    }
}

/// One branch's upstream facts as of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchInfo {
    /// The branch.
    pub branch: Branch,
    /// Publication day of its `.0`.
    pub released: Date,
    /// Newest GA patch and its day.
    pub latest: K8sVersion,
    /// Publication day of the newest patch.
    pub latest_published: Date,
    /// End-of-life day, if known.
    pub end_of_life: Option<Date>,
    /// First day of maintenance mode: upstream's date, else two months before end of life.
    pub maintenance_from: Option<Date>,
    /// The branch's status.
    pub status: BranchStatus,
}

impl BranchInfo {
    /// The day from which a provider must offer this branch (`.0` + 120 days).
    pub fn must_offer_from(&self) -> Date {
        add_days(self.released, MINOR_CADENCE_DAYS + 1)
    }
}

impl ReleaseDb {
    /// Every branch with a GA release by `now`, newest first, with its status on that day.
    pub fn branch_infos(&self, now: jiff::Timestamp) -> Vec<BranchInfo> {
        let today = utc_date(now);
        let mut infos = Vec::new();
        for branch in self.released_branches(today).into_iter().rev() {
            let ga = self.ga_releases(branch, today);
            let (Some(first), Some(last)) = (ga.first(), ga.last()) else {
                continue;
            };
            let eol = self.eol(branch);
            let end_of_life = eol.map(|e| e.end_of_life);
            let maintenance_from = eol.map(|e| {
                e.maintenance_mode
                    .unwrap_or_else(|| e.end_of_life.saturating_sub(jiff::Span::new().months(2)))
            });
            let status = match (end_of_life, maintenance_from) {
                (Some(end), _) if today >= end => BranchStatus::EndOfLife,
                (Some(_), Some(m)) if today >= m => BranchStatus::Maintenance,
                (Some(_), _) if days_between(first.1, today) <= MINOR_CADENCE_DAYS => {
                    BranchStatus::PreviewEligible
                }
                (Some(_), _) => BranchStatus::Supported,
                (None, _) => match self.oldest_tabled_branch() {
                    // Older than every branch in the table, whose oldest entry has ended: EOL.
                    Some(oldest) if branch < oldest.branch && today >= oldest.end_of_life => {
                        BranchStatus::EndOfLife
                    }
                    _ => BranchStatus::Unknown,
                },
            };
            infos.push(BranchInfo {
                branch,
                released: first.1,
                latest: last.0.clone(),
                latest_published: last.1,
                end_of_life,
                maintenance_from,
                status,
            });
        }
        infos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::snapshot;

    fn status_on(day: &str, branch: Branch) -> BranchStatus {
        let now: jiff::Timestamp = format!("{day}T12:00:00Z").parse().unwrap();
        snapshot()
            .unwrap()
            .branch_infos(now)
            .into_iter()
            .find(|i| i.branch == branch)
            .unwrap()
            .status
    }

    #[test]
    fn statuses_follow_release_and_eol_days() {
        let b136 = Branch::new(1, 36);
        // 1.36.0 was published 2026-04-22: 120 days later is 2026-08-20.
        assert_eq!(status_on("2026-08-20", b136), BranchStatus::PreviewEligible);
        assert_eq!(status_on("2026-08-21", b136), BranchStatus::Supported);
        let b134 = Branch::new(1, 34);
        // EOL 2026-10-27, maintenance from 2026-08-27.
        assert_eq!(status_on("2026-08-26", b134), BranchStatus::Supported);
        assert_eq!(status_on("2026-08-27", b134), BranchStatus::Maintenance);
        assert_eq!(status_on("2026-10-26", b134), BranchStatus::Maintenance);
        // The end-of-life day itself is unsupported, as in the SCS reference.
        assert_eq!(status_on("2026-10-27", b134), BranchStatus::EndOfLife);
        // Older than the table and the table's oldest entry has ended.
        assert_eq!(
            status_on("2026-08-22", Branch::new(1, 20)),
            BranchStatus::EndOfLife
        );
    }

    #[test]
    fn infos_name_latest_patch_and_deadline() {
        let now: jiff::Timestamp = "2026-08-22T00:00:00Z".parse().unwrap();
        let infos = snapshot().unwrap().branch_infos(now);
        assert_eq!(infos[0].branch, Branch::new(1, 36));
        assert_eq!(infos[0].latest.to_string(), "v1.36.4");
        assert_eq!(infos[0].released, jiff::civil::date(2026, 4, 22));
        assert_eq!(infos[0].must_offer_from(), jiff::civil::date(2026, 8, 21));
    }
}
