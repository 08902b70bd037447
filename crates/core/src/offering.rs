//! The scs-0210 judge for a provider's offering: VER-05..07, patch recency per offered version,
//! and TP-03 (CHECKS.md §3, §3.1).
//!
//! One kubeconfig cannot show that every supported branch is offered (scs-0210-w1 says so);
//! a list of offered versions can. This judge answers "does our catalogue comply today, and
//! what is the next deadline?".

use jiff::civil::Date;
use serde::Serialize;

use crate::finding::{Finding, Outcome};
use crate::k8s_version::{Branch, K8sVersion, VersionError};
use crate::release::{BranchStatus, MINOR_CADENCE_DAYS, ReleaseDb, add_days, utc_date};
use crate::version_policy::{PatchState, PolicyVersion, patch_state};

/// One version a provider offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The version.
    pub version: K8sVersion,
    /// Whether it is offered only as a technical preview.
    pub preview: bool,
}

/// Parse a list of offered versions separated by commas, spaces or newlines (`#` starts a comment).
///
/// `v1.36.4:preview` marks a version offered only as a technical preview (TP-03).
pub fn parse_offered_list(text: &str) -> Result<Vec<Offered>, String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split([',', ' ', '\t']))
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let (version, preview) = match item.split_once(':') {
                Some((v, mark)) if mark.eq_ignore_ascii_case("preview") => (v, true),
                Some((_, mark)) => {
                    return Err(format!(
                        "`{item}`: unknown marker `{mark}` (the only marker is `:preview`, e.g. v1.36.4:preview)"
                    ));
                }
                None => (item, false),
            };
            K8sVersion::parse(version)
                .map(|version| Offered { version, preview })
                .map_err(|e: VersionError| e.to_string())
        })
        .collect()
}

impl std::fmt::Display for Offered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.preview {
            write!(f, "{} (preview)", self.version)
        } else {
            write!(f, "{}", self.version)
        }
    }
}

/// A date a provider must act by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// The last day (valid through 23:59:59 UTC).
    pub date: Date,
    /// What must happen.
    pub what: String,
}

/// Upcoming deadlines from upstream's state alone, soonest first.
pub fn upcoming_deadlines(
    db: &ReleaseDb,
    policy: PolicyVersion,
    now: jiff::Timestamp,
) -> Vec<Deadline> {
    let today = utc_date(now);
    let window = policy.patch_window_days();
    let mut out = Vec::new();
    let infos = db.branch_infos(now);
    if let Some(newest) = infos.first() {
        let by = add_days(newest.released, MINOR_CADENCE_DAYS);
        if by >= today {
            out.push(Deadline {
                date: by,
                what: format!(
                    "offer branch {} (its .0 was released {})",
                    newest.branch, newest.released
                ),
            });
        }
    }
    for info in infos.iter().filter(|i| i.status.is_supported()) {
        let by = add_days(info.latest_published, window);
        if by >= today {
            out.push(Deadline {
                date: by,
                what: format!(
                    "roll out {} (released {})",
                    info.latest, info.latest_published
                ),
            });
        }
        if let Some(eol) = info.end_of_life {
            out.push(Deadline {
                date: eol,
                what: format!(
                    "branch {} reaches end of life: stop offering it",
                    info.branch
                ),
            });
        }
    }
    out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.what.cmp(&b.what)));
    out
}

/// Judge an offering as of `now`.
pub fn judge_offering(
    offered: &[Offered],
    db: &ReleaseDb,
    policy: PolicyVersion,
    now: jiff::Timestamp,
) -> Outcome {
    let today = utc_date(now);
    let mut findings = vec![Finding::info(
        "VER-00",
        format!(
            "offering judged by {} on {today} against release data: {}",
            policy.standard(),
            db.describe(now)
        ),
    )];
    findings.extend(db.staleness(now, "VER-00"));
    if offered.is_empty() {
        findings.push(Finding::error("VER-06", "the offering lists no versions"));
        return Outcome::from_findings(findings);
    }
    let infos = db.branch_infos(now);
    let offers = |b: Branch| offered.iter().filter(move |o| o.version.branch() == b);
    let ga_offered = |b: Branch| offers(b).any(|o| !o.preview);
    let any_offered = |b: Branch| offers(b).next().is_some();

    // VER-05 (+ TP-03): the newest minor after its 120-day grace period.
    if let Some(newest) = infos.first() {
        let b = newest.branch;
        let must_from = newest.must_offer_from();
        if today >= must_from {
            if ga_offered(b) {
                findings.push(Finding::info(
                    "VER-05",
                    format!(
                        "the newest minor {b} (released {}) is offered",
                        newest.released
                    ),
                ));
            } else if any_offered(b) {
                findings.push(Finding::warn(
                    "TP-03",
                    format!(
                        "newest minor {b} only available as preview; it had to be offered from {must_from} (120 days after {}): whether a preview counts is a policy decision",
                        newest.released
                    ),
                ));
            } else {
                findings.push(
                    Finding::error(
                        "VER-05",
                        format!(
                            "the newest minor {b} is not offered: its .0 was released {} and had to be offered from {must_from} ({MINOR_CADENCE_DAYS}-day grace)",
                            newest.released
                        ),
                    )
                    .with_fix(format!("offer {}", newest.latest)),
                );
            }
        } else if !any_offered(b) {
            findings.push(Finding::warn(
                "VER-05",
                format!(
                    "the newest minor {b} (released {}) must be offered from {must_from}",
                    newest.released
                ),
            ));
        }
    }

    // VER-06: every supported branch past its grace period.
    for info in infos.iter().skip(1) {
        if !matches!(
            info.status,
            BranchStatus::Supported | BranchStatus::Maintenance
        ) {
            continue;
        }
        if !any_offered(info.branch) {
            findings.push(
                Finding::error(
                    "VER-06",
                    format!(
                        "branch {} is supported upstream until {} but not offered",
                        info.branch,
                        info.end_of_life.map_or("?".into(), |d| d.to_string())
                    ),
                )
                .with_fix(format!("offer {}", info.latest)),
            );
        }
    }

    // VER-07 and patch recency per offered version.
    let window = policy.patch_window_days();
    for o in offered {
        let v = &o.version;
        let status = infos
            .iter()
            .find(|i| i.branch == v.branch())
            .map(|i| i.status);
        match status {
            Some(BranchStatus::EndOfLife) => findings.push(
                Finding::warn(
                    "VER-07",
                    format!(
                        "{v} is offered but branch {} is past its end of life",
                        v.branch()
                    ),
                )
                .with_fix(format!("stop offering {}", v.branch())),
            ),
            None | Some(BranchStatus::Unknown) => findings.push(Finding::warn(
                "VER-07",
                format!(
                    "{v}: the release data knows no supported branch {}",
                    v.branch()
                ),
            )),
            _ => {}
        }
        let label = if o.preview { " (preview)" } else { "" };
        match patch_state(v, db, today, window) {
            PatchState::Latest => findings.push(Finding::info(
                "VER-03",
                format!("{v}{label} is the newest known GA patch of {}", v.branch()),
            )),
            PatchState::Pending { release, published, deadline, .. } => findings.push(Finding::warn(
                "VER-03",
                format!("{release} was released {published}: roll out by {deadline} (offered {v}{label})"),
            )),
            PatchState::Overdue { release, published, deadline, latest } => findings.push(
                Finding::error(
                    "VER-03",
                    format!(
                        "offered {v}{label} is outdated: {release} was released {published} and had to be rolled out by {deadline} ({window}-day window)"
                    ),
                )
                .with_fix(format!("offer {latest} instead")),
            ),
        }
    }
    Outcome::from_findings(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Severity, Status};
    use crate::release::snapshot;

    fn judge(list: &str, day: &str) -> Outcome {
        let now: jiff::Timestamp = day.parse().unwrap();
        judge_offering(
            &parse_offered_list(list).unwrap(),
            &snapshot().unwrap(),
            PolicyVersion::V2,
            now,
        )
    }

    fn has(o: &Outcome, rule: &str, sev: Severity, text: &str) -> bool {
        o.findings
            .iter()
            .any(|f| f.rule == rule && f.severity == sev && f.message.contains(text))
    }

    // 1.36.0 was released 2026-04-22: offering it is required from 2026-08-21.
    #[test]
    fn newest_minor_120_day_boundary() {
        let before = judge("v1.35.8, v1.34.11", "2026-08-19T12:00:00Z");
        assert_eq!(before.status, Status::Pass, "{before:?}");
        assert!(has(
            &before,
            "VER-05",
            Severity::Warn,
            "must be offered from 2026-08-21"
        ));
        let on = judge("v1.35.8, v1.34.11", "2026-08-20T23:59:59Z");
        assert_eq!(on.status, Status::Pass, "{on:?}");
        let after = judge("v1.35.8, v1.34.11", "2026-08-21T00:00:00Z");
        assert_eq!(after.status, Status::Fail);
        assert!(has(
            &after,
            "VER-05",
            Severity::Error,
            "the newest minor 1.36 is not offered"
        ));
    }

    #[test]
    fn complete_offering_passes_and_preview_only_warns() {
        let ok = judge("v1.36.4 v1.35.8 v1.34.11", "2026-08-22T00:00:00Z");
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        let mut offered = parse_offered_list("v1.36.4,v1.35.8,v1.34.11").unwrap();
        offered[0].preview = true;
        let now: jiff::Timestamp = "2026-08-22T00:00:00Z".parse().unwrap();
        let o = judge_offering(&offered, &snapshot().unwrap(), PolicyVersion::V2, now);
        assert!(has(
            &o,
            "TP-03",
            Severity::Warn,
            "newest minor 1.36 only available as preview"
        ));
    }

    #[test]
    fn missing_supported_branch_fails_and_eol_branch_warns() {
        let o = judge("v1.36.4, v1.35.8, v1.33.13", "2026-08-22T00:00:00Z");
        assert_eq!(o.status, Status::Fail);
        assert!(has(
            &o,
            "VER-06",
            Severity::Error,
            "branch 1.34 is supported upstream until 2026-10-27 but not offered"
        ));
        assert!(has(
            &o,
            "VER-07",
            Severity::Warn,
            "v1.33.13 is offered but branch 1.33 is past its end of life"
        ));
    }

    #[test]
    fn outdated_offered_patch_fails() {
        let o = judge("v1.36.4, v1.35.2, v1.34.11", "2026-08-22T00:00:00Z");
        assert!(has(
            &o,
            "VER-03",
            Severity::Error,
            "offered v1.35.2 is outdated"
        ));
    }

    #[test]
    fn deadlines_are_sorted_and_in_the_future() {
        let now: jiff::Timestamp = "2026-08-22T00:00:00Z".parse().unwrap();
        let d = upcoming_deadlines(&snapshot().unwrap(), PolicyVersion::V2, now);
        assert_eq!(d[0].date, jiff::civil::date(2026, 9, 20));
        assert!(d[0].what.contains("roll out v1.3"));
        assert!(d.windows(2).all(|w| w[0].date <= w[1].date));
    }

    #[test]
    fn offered_lists_reject_bad_entries() {
        assert_eq!(
            parse_offered_list("v1.35.8,\n1.34.2 # old\n")
                .unwrap()
                .len(),
            2
        );
        let err = parse_offered_list("v1.35.8, v1.34").unwrap_err();
        assert!(err.contains("`v1.34`"), "{err}");
        let err = parse_offered_list("v1.36.4:beta").unwrap_err();
        assert!(err.contains("unknown marker `beta`"), "{err}");
    }

    #[test]
    fn preview_marker_reaches_tp03() {
        let offered = parse_offered_list("v1.36.4:preview, v1.35.8 v1.34.11").unwrap();
        assert!(offered[0].preview && !offered[1].preview);
        assert_eq!(offered[0].to_string(), "v1.36.4 (preview)");
        let o = judge("v1.36.4:preview, v1.35.8 v1.34.11", "2026-08-22T00:00:00Z");
        assert!(has(
            &o,
            "TP-03",
            Severity::Warn,
            "newest minor 1.36 only available as preview"
        ));
        assert!(!has(&o, "VER-05", Severity::Info, "is offered"));
        let ga = judge("v1.36.4, v1.35.8 v1.34.11", "2026-08-22T00:00:00Z");
        assert!(!ga.findings.iter().any(|f| f.rule == "TP-03"));
    }
}
