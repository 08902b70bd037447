//! Upstream Kubernetes release data: releases with dates, branch end-of-life, CVEs.
//!
//! Version rules are only as good as the facts behind them, so the data always carries its date
//! (`as_of`) and where it came from ([`Origin`]): every verdict names both, and data older than
//! [`STALE_AFTER_DAYS`] gives a loud warning. One file format serves the snapshot compiled into
//! the binary ([`snapshot`], built by `scripts/convert-release-data.py`) and the cache that
//! `scs-kaas versions refresh` writes; [`ReleaseDb::newer`] picks the fresher of the two.
//!
//! Dates are UTC days: a release published on day D is "D days + N" old on day D+N, and a
//! deadline day is valid through 23:59:59 UTC.

mod branches;

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::k8s_version::{Branch, K8sVersion};
use crate::osv::{Advisory, OsvRecord};

pub use branches::{BranchInfo, BranchStatus, MINOR_CADENCE_DAYS};

/// The data format version this build reads and writes.
pub const FORMAT: u32 = 1;

/// Data older than this many days may miss a patch release: judgements get a loud warning.
pub const STALE_AFTER_DAYS: i64 = 14;

/// The snapshot compiled into the binary (see `scripts/convert-release-data.py`).
pub const SNAPSHOT_JSON: &str = include_str!("../../data/k8s-release-data.json");

/// Release data as stored in the snapshot and the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseData {
    /// Format version, [`FORMAT`].
    pub format: u32,
    /// The day the data was fetched from upstream: its vintage.
    pub as_of: Date,
    /// Where each part came from (free text, for reports).
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// Every known release, GA or not.
    pub releases: Vec<Release>,
    /// End-of-life per branch.
    pub branches: Vec<BranchEol>,
    /// Kubernetes CVEs as OSV records.
    #[serde(default)]
    pub cves: Vec<OsvRecord>,
}

/// One upstream release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The version, e.g. `1.35.8`.
    pub version: K8sVersion,
    /// UTC day of publication.
    pub published: Date,
    /// Marked pre-release upstream: never counts for the policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prerelease: bool,
    /// A draft release: never counts for the policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draft: bool,
}

impl Release {
    /// Whether the release is a real GA release (not draft, not pre-release, no pre-release tag).
    pub fn is_ga(&self) -> bool {
        !self.draft && !self.prerelease && !self.version.is_prerelease()
    }
}

/// End-of-life (and, when known, maintenance-mode start) of one branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchEol {
    /// The branch, e.g. `1.35`.
    pub branch: Branch,
    /// Last day of upstream support (valid through 23:59:59 UTC).
    pub end_of_life: Date,
    /// First day of maintenance mode, if upstream published it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_mode: Option<Date>,
}

/// Where loaded data came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The snapshot compiled into this binary.
    Snapshot,
    /// A cache file written by `versions refresh`.
    Cache(String),
    /// Built in code (tests).
    Inline,
    /// A file given with `--release-data`.
    File(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Snapshot => f.write_str("built-in snapshot"),
            Origin::Cache(path) => write!(f, "cache {path}"),
            Origin::Inline => f.write_str("inline data"),
            Origin::File(path) => write!(f, "file {path}"),
        }
    }
}

/// Why release data could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Not valid JSON of the expected shape.
    #[error("release data from {origin} is not valid: {source}")]
    Invalid {
        /// Where it came from.
        origin: Origin,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Written by a different version of scs-kaas.
    #[error(
        "release data from {origin} has format {found}, this build reads format {FORMAT}: run `scs-kaas versions refresh`"
    )]
    Format {
        /// Where it came from.
        origin: Origin,
        /// The format found.
        found: u32,
    },
}

/// Release data indexed for judging: GA releases per branch, parsed advisories.
#[derive(Debug, Clone)]
pub struct ReleaseDb {
    /// The raw data.
    pub data: ReleaseData,
    /// Where it came from.
    pub origin: Origin,
    /// GA releases per branch, ascending.
    ga: BTreeMap<Branch, Vec<(K8sVersion, Date)>>,
    /// Advisories that concern Kubernetes itself.
    advisories: Vec<Advisory>,
    /// Records that could not be read (named, never silently dropped).
    pub warnings: Vec<String>,
}

impl ReleaseDb {
    /// Parse and index JSON release data.
    pub fn from_json(json: &str, origin: Origin) -> Result<ReleaseDb, DataError> {
        let data: ReleaseData =
            serde_json::from_str(json).map_err(|source| DataError::Invalid {
                origin: origin.clone(),
                source,
            })?;
        if data.format != FORMAT {
            return Err(DataError::Format {
                origin,
                found: data.format,
            });
        }
        Ok(ReleaseDb::new(data, origin))
    }

    /// Releases from GitHub's releases JSON (`[{tag_name, published_at, prerelease, draft}]`,
    /// the format of SCS's test data and of `GET /repos/kubernetes/kubernetes/releases`), with
    /// the end-of-life table and CVEs of `base` (which this format does not carry). Release dates
    /// are `published_at` as a UTC day, as the SCS reference takes them; `as_of` is the newest one.
    pub fn from_github_releases(
        json: &str,
        base: &ReleaseData,
        origin: Origin,
    ) -> Result<ReleaseDb, DataError> {
        #[derive(Deserialize)]
        struct GhRelease {
            tag_name: String,
            published_at: Option<String>,
            #[serde(default)]
            prerelease: bool,
            #[serde(default)]
            draft: bool,
        }
        let invalid = |source| DataError::Invalid {
            origin: origin.clone(),
            source,
        };
        let list: Vec<GhRelease> = serde_json::from_str(json).map_err(invalid)?;
        let mut releases = Vec::new();
        let mut warnings = Vec::new();
        for r in list {
            let Some(at) = r.published_at else {
                warnings.push(format!("{} has no published_at: skipped", r.tag_name));
                continue;
            };
            let published = at
                .parse::<jiff::Timestamp>()
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date());
            let version = r.tag_name.parse::<K8sVersion>();
            match (version, published) {
                (Ok(version), Ok(published)) => releases.push(Release {
                    version,
                    published,
                    prerelease: r.prerelease,
                    draft: r.draft,
                }),
                _ => warnings.push(format!(
                    "{} ({at}) is not a Kubernetes release tag with a timestamp: skipped",
                    r.tag_name
                )),
            }
        }
        let Some(as_of) = releases.iter().map(|r| r.published).max() else {
            return Err(invalid(serde::de::Error::custom(
                "no release with tag_name vX.Y.Z and published_at in the list",
            )));
        };
        let mut sources = BTreeMap::new();
        sources.insert(
            "releases".to_owned(),
            format!("GitHub releases JSON ({origin})"),
        );
        sources.insert(
            "end_of_life, cves".to_owned(),
            format!("built-in data as of {}", base.as_of),
        );
        let data = ReleaseData {
            format: FORMAT,
            as_of,
            sources,
            releases,
            branches: base.branches.clone(),
            cves: base.cves.clone(),
        };
        let mut db = ReleaseDb::new(data, origin);
        db.warnings.extend(warnings);
        Ok(db)
    }

    /// Index release data.
    pub fn new(data: ReleaseData, origin: Origin) -> ReleaseDb {
        let mut ga: BTreeMap<Branch, Vec<(K8sVersion, Date)>> = BTreeMap::new();
        for r in data.releases.iter().filter(|r| r.is_ga()) {
            ga.entry(r.version.branch())
                .or_default()
                .push((r.version.upstream(), r.published));
        }
        for list in ga.values_mut() {
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list.dedup_by(|a, b| a.0 == b.0);
        }
        let mut advisories = Vec::new();
        let mut warnings = Vec::new();
        for record in &data.cves {
            match Advisory::from_record(record) {
                Ok(a) if a.is_kubernetes() => advisories.push(a),
                Ok(_) => {}
                Err(e) => warnings.push(format!("{e}: the CVE is not evaluated")),
            }
        }
        ReleaseDb {
            data,
            origin,
            ga,
            advisories,
            warnings,
        }
    }

    /// The fresher of two data sets (by `as_of`); on a tie the first one.
    pub fn newer(first: ReleaseDb, second: ReleaseDb) -> ReleaseDb {
        if second.data.as_of > first.data.as_of {
            second
        } else {
            first
        }
    }

    /// Days between the data's vintage and `now` (negative if `now` lies before it).
    pub fn age_days(&self, now: jiff::Timestamp) -> i64 {
        days_between(self.data.as_of, utc_date(now))
    }

    /// One line naming the data: "built-in snapshot as of 2026-08-22 (92 days old)".
    pub fn describe(&self, now: jiff::Timestamp) -> String {
        let age = self.age_days(now);
        if age < 0 {
            format!(
                "{} as of {} (newer than the judgement day {}: later releases are ignored)",
                self.origin,
                self.data.as_of,
                utc_date(now)
            )
        } else {
            format!("{} as of {} ({age} days old)", self.origin, self.data.as_of)
        }
    }

    /// A loud warning when the data is too old to trust for today's judgement.
    pub fn staleness(&self, now: jiff::Timestamp, rule: &str) -> Option<Finding> {
        let age = self.age_days(now);
        (age > STALE_AFTER_DAYS).then(|| {
            Finding::warn(
                rule,
                format!(
                    "RELEASE DATA IS STALE: {} is {age} days old (limit {STALE_AFTER_DAYS}); releases and CVEs published after {} are unknown, so a newer patch this judgement would have to count may be missing",
                    self.origin, self.data.as_of
                ),
            )
            .with_fix("run `scs-kaas versions refresh` (needs network access)")
        })
    }

    /// GA releases of a branch published on or before `today`, ascending.
    pub fn ga_releases(&self, branch: Branch, today: Date) -> Vec<(K8sVersion, Date)> {
        self.ga
            .get(&branch)
            .map(|list| list.iter().filter(|(_, d)| *d <= today).cloned().collect())
            .unwrap_or_default()
    }

    /// Branches that have at least one GA release on or before `today`, ascending.
    pub fn released_branches(&self, today: Date) -> Vec<Branch> {
        self.ga
            .iter()
            .filter(|(_, list)| list.iter().any(|(_, d)| *d <= today))
            .map(|(b, _)| *b)
            .collect()
    }

    /// The end-of-life entry of a branch, if known.
    pub fn eol(&self, branch: Branch) -> Option<&BranchEol> {
        self.data.branches.iter().find(|b| b.branch == branch)
    }

    /// The oldest branch in the end-of-life table.
    pub fn oldest_tabled_branch(&self) -> Option<&BranchEol> {
        self.data.branches.iter().min_by_key(|b| b.branch)
    }

    /// Advisories about Kubernetes itself.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }
}

/// The embedded snapshot, indexed. Parsing it cannot fail in a released build (a test checks it).
pub fn snapshot() -> Result<ReleaseDb, DataError> {
    ReleaseDb::from_json(SNAPSHOT_JSON, Origin::Snapshot)
}

/// The UTC calendar day of an instant.
pub fn utc_date(now: jiff::Timestamp) -> Date {
    now.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Whole days from `from` to `to` (negative if `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    to.duration_since(from).as_secs() / 86_400
}

/// `date` plus `days` days (saturating at the calendar's ends).
pub fn add_days(date: Date, days: i64) -> Date {
    date.saturating_add(jiff::Span::new().days(days))
}

#[cfg(test)]
mod tests {
    #[test]
    fn github_releases_json_of_the_scs_testdata_is_read_with_published_at_days() {
        let json = include_str!("../../tests/data/release/github-releases.scs-testdata.json");
        let base = super::snapshot().unwrap().data;
        let db = super::ReleaseDb::from_github_releases(
            json,
            &base,
            super::Origin::File("releases.json".into()),
        )
        .unwrap();
        assert_eq!(db.data.as_of, jiff::civil::date(2024, 3, 15));
        let b129 = crate::k8s_version::Branch::new(1, 29);
        let ga = db.ga_releases(b129, jiff::civil::date(2024, 3, 15));
        let last = ga.last().unwrap();
        assert_eq!(last.0.to_string(), "v1.29.3");
        assert_eq!(last.1, jiff::civil::date(2024, 3, 15));
        // Pre-releases are not GA; EOL comes from the base data.
        let b130 = crate::k8s_version::Branch::new(1, 30);
        assert!(db.ga_releases(b130, jiff::civil::Date::MAX).is_empty());
        assert_eq!(db.data.branches, base.branches);
        // Not a list of releases: a clear error.
        let err = super::ReleaseDb::from_github_releases(
            "[]",
            &base,
            super::Origin::File("x.json".into()),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no release with tag_name"),
            "{err}"
        );
    }

    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn snapshot_loads_completely() {
        let db = snapshot().unwrap();
        assert_eq!(db.data.as_of, jiff::civil::date(2026, 8, 22));
        assert!(db.warnings.is_empty(), "{:?}", db.warnings);
        let today = jiff::civil::date(2026, 8, 22);
        let b135 = db.ga_releases(Branch::new(1, 35), today);
        assert_eq!(b135.first().unwrap().0.to_string(), "v1.35.0");
        assert_eq!(b135.last().unwrap().0.to_string(), "v1.35.8");
        assert_eq!(
            db.eol(Branch::new(1, 33)).unwrap().end_of_life,
            jiff::civil::date(2026, 6, 28)
        );
        // ingress-nginx, CSI drivers and csi-proxy are in the feed but are not Kubernetes.
        assert!(db.advisories().iter().all(|a| a.id != "CVE-2024-7646"));
        assert!(db.advisories().iter().any(|a| a.id == "CVE-2023-3676"));
    }

    #[test]
    fn releases_after_today_do_not_exist_yet() {
        let db = snapshot().unwrap();
        let list = db.ga_releases(Branch::new(1, 35), jiff::civil::date(2026, 5, 11));
        assert_eq!(list.last().unwrap().0.to_string(), "v1.35.4");
    }

    #[test]
    fn staleness_warns_loudly_after_the_limit() {
        let db = snapshot().unwrap();
        assert!(db.staleness(ts("2026-09-05T23:59:59Z"), "VER-00").is_none());
        let w = db.staleness(ts("2026-09-06T00:00:00Z"), "VER-00").unwrap();
        assert!(w.message.contains("STALE") && w.message.contains("15 days"));
        assert_eq!(db.age_days(ts("2026-11-22T12:00:00Z")), 92);
        assert_eq!(
            db.describe(ts("2026-11-22T12:00:00Z")),
            "built-in snapshot as of 2026-08-22 (92 days old)"
        );
        assert!(
            db.describe(ts("2026-01-01T00:00:00Z"))
                .contains("newer than the judgement day 2026-01-01")
        );
    }

    #[test]
    fn newer_data_wins_and_format_is_checked() {
        let snap = snapshot().unwrap();
        let mut data = snap.data.clone();
        data.as_of = jiff::civil::date(2026, 11, 20);
        let cache = ReleaseDb::new(data, Origin::Cache("/c".into()));
        let picked = ReleaseDb::newer(snap.clone(), cache.clone());
        assert_eq!(picked.origin, Origin::Cache("/c".into()));
        let picked = ReleaseDb::newer(cache, snap.clone());
        assert_eq!(picked.origin, Origin::Cache("/c".into()));
        let mut old = serde_json::to_value(&snap.data).unwrap();
        old["format"] = 99.into();
        let err = ReleaseDb::from_json(&old.to_string(), Origin::Inline).unwrap_err();
        assert!(err.to_string().contains("format 99"), "{err}");
        let err = ReleaseDb::from_json("{", Origin::Inline).unwrap_err();
        assert!(err.to_string().contains("not valid"), "{err}");
    }

    #[test]
    fn drafts_and_prereleases_are_not_ga() {
        let data = ReleaseData {
            format: FORMAT,
            as_of: jiff::civil::date(2026, 1, 1),
            sources: BTreeMap::new(),
            releases: vec![
                Release {
                    version: K8sVersion::new(1, 35, 1),
                    published: jiff::civil::date(2025, 12, 1),
                    prerelease: false,
                    draft: true,
                },
                Release {
                    version: K8sVersion::new(1, 35, 2),
                    published: jiff::civil::date(2025, 12, 1),
                    prerelease: true,
                    draft: false,
                },
                Release {
                    version: K8sVersion::parse("1.35.3-rc.0").unwrap(),
                    published: jiff::civil::date(2025, 12, 1),
                    prerelease: false,
                    draft: false,
                },
            ],
            branches: vec![],
            cves: vec![],
        };
        let db = ReleaseDb::new(data, Origin::Inline);
        assert!(
            db.ga_releases(Branch::new(1, 35), jiff::civil::date(2026, 1, 1))
                .is_empty()
        );
    }
}
