//! Kubernetes CVEs in the OSV format: which versions each advisory affects, and how severe it is.
//!
//! The version policy needs, per CVE, the affected intervals of Kubernetes itself (not of
//! ingress-nginx or a CSI driver that share the feed) and the CVSS vector the record provides.
//! The reference script lost `1.28.x` ranges (an empty interval) and records filed under
//! component names; here `X.Y.x` means the whole branch, `a - b` is inclusive, and every
//! component released with Kubernetes (`k8s.io/kubelet`, `k8s.io/apiserver`, ...) counts.

use serde::{Deserialize, Serialize};

use crate::cvss::{self, CvssError, Score};
use crate::k8s_version::{Branch, K8sVersion};

/// One OSV record as published (only the fields the policy uses; others are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvRecord {
    /// The advisory id, e.g. `CVE-2023-3676`.
    pub id: String,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// When the advisory was published (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// When the advisory last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Record-level severities (CVSS vectors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
    /// The affected packages and their version ranges.
    #[serde(default)]
    pub affected: Vec<OsvAffected>,
}

/// A severity entry: `type` (`CVSS_V3`, `CVSS_V4`, `CVSS_V2`) and the vector in `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvSeverity {
    /// The scoring system.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector string.
    pub score: String,
}

/// One affected package with its ranges and explicit versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvAffected {
    /// The package (ecosystem and name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<OsvPackage>,
    /// Package-level severities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
    /// Version ranges given as event lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<OsvRange>,
    /// Explicitly listed versions (`1.28.3`, `1.28.x`, `1.28.0 - 1.28.3`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// An OSV package reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvPackage {
    /// Ecosystem, e.g. `kubernetes` or `Go`.
    #[serde(default)]
    pub ecosystem: String,
    /// Package name, e.g. `k8s.io/kubelet`.
    pub name: String,
}

/// An OSV range: a type and its ordered events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsvRange {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Events: each one key of `introduced`, `fixed`, `last_affected`, `limit`.
    pub events: Vec<std::collections::BTreeMap<String, String>>,
}

/// Where an affected interval ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Versions below this one (an OSV `fixed` event).
    Before(K8sVersion),
    /// Versions up to and including this one (`last_affected`, `a - b`).
    Through(K8sVersion),
    /// Every version of this branch and below (`last_affected: 1.28.x`, `1.28.x`).
    ThroughBranch(Branch),
    /// No fix known.
    Open,
}

/// A contiguous set of affected Kubernetes versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// First affected version; `None` means from the very first release (`introduced: 0`).
    pub from: Option<K8sVersion>,
    /// Where the interval ends.
    pub end: End,
}

impl Interval {
    /// Whether `v` lies in the interval (vendor suffixes are ignored by version equality).
    pub fn contains(&self, v: &K8sVersion) -> bool {
        let after_start = self.from.as_ref().is_none_or(|from| v >= from);
        let before_end = match &self.end {
            End::Before(fixed) => v < fixed,
            End::Through(last) => v <= last,
            End::ThroughBranch(branch) => v.branch() <= *branch,
            End::Open => true,
        };
        after_start && before_end
    }
}

/// Why an OSV record could not be turned into an [`Advisory`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OSV record {id}: {reason}")]
pub struct OsvError {
    /// The record's id.
    pub id: String,
    /// What was wrong.
    pub reason: String,
}

/// How severe an advisory is, as far as it can be known from its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    /// Base score computed from the record's vector.
    Scored {
        /// The computed base score.
        score: Score,
        /// The vector it was computed from.
        vector: String,
    },
    /// The record has a vector this tool does not compute, or none at all.
    Unknown {
        /// Why the score is unknown.
        reason: String,
    },
}

/// A CVE reduced to what the version policy needs: Kubernetes' affected intervals and severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// CVE id.
    pub id: String,
    /// One-line summary.
    pub summary: String,
    /// Affected Kubernetes components (package names), for the report.
    pub components: Vec<String>,
    /// Affected intervals of Kubernetes releases; empty if the CVE is not about Kubernetes itself.
    pub intervals: Vec<Interval>,
    /// The severity of the record.
    pub severity: Severity,
}

impl Advisory {
    /// Whether the advisory concerns Kubernetes itself (not only a separately versioned project).
    pub fn is_kubernetes(&self) -> bool {
        !self.intervals.is_empty()
    }

    /// Whether `v` is affected.
    pub fn affects(&self, v: &K8sVersion) -> bool {
        self.intervals.iter().any(|i| i.contains(v))
    }

    /// Build from a record. Packages that are not released with Kubernetes are skipped.
    pub fn from_record(record: &OsvRecord) -> Result<Advisory, OsvError> {
        let err = |reason: String| OsvError {
            id: record.id.clone(),
            reason,
        };
        let mut intervals = Vec::new();
        let mut components = Vec::new();
        let mut severities: Vec<&OsvSeverity> = record.severity.iter().collect();
        for affected in &record.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            if !is_kubernetes_component(&package.name) {
                continue;
            }
            let go_staging =
                package.ecosystem.eq_ignore_ascii_case("go") && package.name != "k8s.io/kubernetes";
            components.push(package.name.clone());
            severities.extend(affected.severity.iter());
            for range in &affected.ranges {
                if range.kind == "GIT" {
                    continue;
                }
                intervals.extend(
                    intervals_from_events(&range.events, go_staging)
                        .map_err(|e| err(format!("{}: {e}", package.name)))?,
                );
            }
            for entry in &affected.versions {
                intervals.push(
                    interval_from_listed(entry, go_staging)
                        .map_err(|e| err(format!("{}: {e}", package.name)))?,
                );
            }
        }
        components.sort();
        components.dedup();
        let severity = match severities.first() {
            None => Severity::Unknown {
                reason: "the record gives no CVSS vector".into(),
            },
            Some(s) => match cvss::base_score(&s.score) {
                Ok(score) => Severity::Scored {
                    score,
                    vector: s.score.clone(),
                },
                Err(e @ CvssError::Unsupported(_)) => Severity::Unknown {
                    reason: e.to_string(),
                },
                Err(e) => return Err(err(e.to_string())),
            },
        };
        Ok(Advisory {
            id: record.id.clone(),
            summary: record.summary.clone().unwrap_or_default(),
            components,
            intervals,
            severity,
        })
    }
}

/// Whether a package is released in lockstep with Kubernetes (same version numbers).
pub fn is_kubernetes_component(name: &str) -> bool {
    const COMPONENTS: &[&str] = &[
        "kubernetes",
        "k8s.io/kubernetes",
        "k8s.io/apiserver",
        "k8s.io/kube-apiserver",
        "k8s.io/kubelet",
        "k8s.io/kubectl",
        "k8s.io/kube-proxy",
        "k8s.io/controller-manager",
        "k8s.io/kube-controller-manager",
        "k8s.io/kube-scheduler",
        "k8s.io/kubeadm",
        "k8s.io/client-go",
        "k8s.io/api",
        "k8s.io/apimachinery",
        "k8s.io/cloud-provider",
        "k8s.io/kube-aggregator",
        "k8s.io/apiextensions-apiserver",
    ];
    COMPONENTS.contains(&name)
}

/// Parse a version from a record. In the Go ecosystem the staging modules (`k8s.io/apiserver`)
/// are numbered `v0.Y.Z` for Kubernetes `1.Y.Z`.
fn record_version(raw: &str, go_staging: bool) -> Result<K8sVersion, String> {
    let mut v = K8sVersion::parse(raw).map_err(|e| e.to_string())?;
    if go_staging && v.major == 0 {
        v.major = 1;
    }
    Ok(v)
}

/// `X.Y.x` → the branch, if the string has that shape.
fn branch_wildcard(raw: &str) -> Option<Result<Branch, String>> {
    let body = raw.trim().strip_prefix('v').unwrap_or(raw.trim());
    let prefix = body
        .strip_suffix(".x")
        .or_else(|| body.strip_suffix(".X"))?;
    Some(prefix.parse::<Branch>().map_err(|e| e.to_string()))
}

#[derive(Debug)]
enum Event {
    Introduced(Option<K8sVersion>),
    Fixed(K8sVersion),
    LastAffected(End),
}

impl Event {
    /// Sort position: OSV evaluates events in version order.
    fn position(&self) -> (u64, u64, u64, u8) {
        match self {
            Event::Introduced(None) => (0, 0, 0, 0),
            Event::Introduced(Some(v)) | Event::Fixed(v) => (v.major, v.minor, v.patch, 1),
            Event::LastAffected(End::Through(v)) => (v.major, v.minor, v.patch, 2),
            Event::LastAffected(End::ThroughBranch(b)) => (b.major, b.minor, u64::MAX, 2),
            Event::LastAffected(_) => (u64::MAX, u64::MAX, u64::MAX, 2),
        }
    }
}

/// Turn an OSV event list into intervals, following the OSV evaluation order (sorted by version).
fn intervals_from_events(
    events: &[std::collections::BTreeMap<String, String>],
    go_staging: bool,
) -> Result<Vec<Interval>, String> {
    let mut parsed = Vec::new();
    for event in events {
        for (key, value) in event {
            let e = match key.as_str() {
                "introduced" if value == "0" => Event::Introduced(None),
                "introduced" => match branch_wildcard(value) {
                    Some(b) => Event::Introduced(Some({
                        let b = b?;
                        K8sVersion::new(b.major, b.minor, 0)
                    })),
                    None => Event::Introduced(Some(record_version(value, go_staging)?)),
                },
                "fixed" => {
                    if branch_wildcard(value).is_some() {
                        return Err(format!("`fixed: {value}` names no single version"));
                    }
                    Event::Fixed(record_version(value, go_staging)?)
                }
                "last_affected" => match branch_wildcard(value) {
                    Some(b) => Event::LastAffected(End::ThroughBranch(b?)),
                    None => Event::LastAffected(End::Through(record_version(value, go_staging)?)),
                },
                // `limit` only bounds GIT ranges.
                "limit" => continue,
                other => return Err(format!("unknown range event `{other}`")),
            };
            parsed.push(e);
        }
    }
    parsed.sort_by_key(Event::position);
    let mut intervals = Vec::new();
    let mut open: Option<Option<K8sVersion>> = None;
    for event in parsed {
        match event {
            Event::Introduced(from) => {
                if open.is_none() {
                    open = Some(from);
                }
            }
            Event::Fixed(v) => {
                if let Some(from) = open.take() {
                    intervals.push(Interval {
                        from,
                        end: End::Before(v),
                    });
                }
            }
            Event::LastAffected(end) => {
                if let Some(from) = open.take() {
                    intervals.push(Interval { from, end });
                }
            }
        }
    }
    if let Some(from) = open {
        intervals.push(Interval {
            from,
            end: End::Open,
        });
    }
    Ok(intervals)
}

/// An explicitly listed version: `1.28.3`, `1.28.x` (whole branch) or `1.28.0 - 1.28.3` (inclusive).
fn interval_from_listed(entry: &str, go_staging: bool) -> Result<Interval, String> {
    if let Some((lo, hi)) = entry.split_once(" - ") {
        let from = record_version(lo, go_staging)?;
        let end = match branch_wildcard(hi) {
            Some(b) => End::ThroughBranch(b?),
            None => End::Through(record_version(hi, go_staging)?),
        };
        return Ok(Interval {
            from: Some(from),
            end,
        });
    }
    if let Some(b) = branch_wildcard(entry) {
        let b = b?;
        return Ok(Interval {
            from: Some(K8sVersion::new(b.major, b.minor, 0)),
            end: End::ThroughBranch(b),
        });
    }
    let v = record_version(entry, go_staging)?;
    Ok(Interval {
        from: Some(v.clone()),
        end: End::Through(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> K8sVersion {
        K8sVersion::parse(s).unwrap()
    }

    fn record(json: serde_json::Value) -> Advisory {
        Advisory::from_record(&serde_json::from_value(json).unwrap()).unwrap()
    }

    #[test]
    fn unsorted_event_pairs_build_per_branch_intervals() {
        let a = record(serde_json::json!({
            "id": "CVE-2020-8552",
            "affected": [{
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/apiserver"},
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"}],
                "ranges": [{"type": "SEMVER", "events": [
                    {"introduced": "1.17.0"}, {"fixed": "1.17.3"},
                    {"introduced": "1.16.0"}, {"fixed": "1.16.7"},
                    {"introduced": "0"}, {"fixed": "1.15.10"}]}]
            }]
        }));
        assert_eq!(a.intervals.len(), 3);
        for (ver, hit) in [
            ("1.14.0", true),
            ("1.15.10", false),
            ("1.16.6", true),
            ("1.16.7", false),
            ("1.17.2", true),
            ("1.17.3", false),
            ("1.18.0", false),
        ] {
            assert_eq!(a.affects(&v(ver)), hit, "{ver}");
        }
        assert_eq!(
            a.severity,
            Severity::Scored {
                score: Score(53),
                vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L".into()
            }
        );
    }

    #[test]
    fn branch_wildcards_cover_the_whole_branch() {
        let a = record(serde_json::json!({
            "id": "CVE-X",
            "affected": [{
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/kubelet"},
                "versions": ["1.28.x", "1.27.0 - 1.27.3"],
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.26.x"}, {"last_affected": "1.26.x"}]}]
            }]
        }));
        for (ver, hit) in [
            ("1.28.0", true),
            ("1.28.99", true),
            ("1.29.0", false),
            ("1.27.3", true),
            ("1.27.4", false),
            ("1.26.12", true),
            ("1.25.9", false),
        ] {
            assert_eq!(a.affects(&v(ver)), hit, "{ver}");
        }
        assert!(matches!(a.severity, Severity::Unknown { .. }));
    }

    #[test]
    fn other_projects_in_the_feed_are_not_kubernetes() {
        let a = record(serde_json::json!({
            "id": "CVE-2024-7646",
            "affected": [{
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/ingress-nginx"},
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.11.2"}]}]
            }]
        }));
        assert!(!a.is_kubernetes());
        assert!(!a.affects(&v("1.10.0")));
    }

    #[test]
    fn go_staging_modules_map_to_kubernetes_versions() {
        let a = record(serde_json::json!({
            "id": "GO-X",
            "affected": [{
                "package": {"ecosystem": "Go", "name": "k8s.io/apiserver"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.28.0"}, {"fixed": "0.28.4"}]}]
            }]
        }));
        assert!(a.affects(&v("v1.28.3")));
        assert!(!a.affects(&v("v1.28.4")));
    }

    #[test]
    fn open_ranges_and_v4_vectors() {
        let a = record(serde_json::json!({
            "id": "CVE-Y",
            "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
            "affected": [{
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/kubernetes"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.30.0"}]}]
            }]
        }));
        assert!(a.affects(&v("1.99.0")) && !a.affects(&v("1.29.9")));
        let Severity::Unknown { reason } = &a.severity else {
            panic!("v4 must be unknown")
        };
        assert!(reason.contains("v4.0"), "{reason}");
    }

    #[test]
    fn bad_records_name_the_record_and_problem() {
        let rec: OsvRecord = serde_json::from_value(serde_json::json!({
            "id": "CVE-Z",
            "affected": [{
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/kubelet"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "soon"}]}]
            }]
        }))
        .unwrap();
        let err = Advisory::from_record(&rec).unwrap_err().to_string();
        assert!(err.contains("CVE-Z") && err.contains("soon"), "{err}");
    }
}
