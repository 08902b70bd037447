//! The scs-0210 judge for one cluster: VER-01..04 and VER-09 (CHECKS.md §3), plus TP-04 (§3.1).
//!
//! A pure function of what the cluster reports (`/version`, the nodes' kubelet versions and
//! creation times), the release data and "now". Unlike the reference script it is fix-aware: for
//! a critical CVE the 14-day clock starts at the first patch of the branch that actually fixes
//! it, not at any newer patch. Every finding names the rule, the versions, the dates and the deadline; a PASS still
//! tells what is coming ("v1.35.9 was released 2026-11-10: roll out by 2026-12-11").
//!
//! Days are UTC days and a deadline day is valid through 23:59:59 UTC: a patch published on day
//! D must be rolled out by D + 31 (v2) and the check fails from D + 32. A branch's end-of-life day
//! is the exception: as in the SCS reference (`now < eol`), it is unsupported from 00:00 UTC.

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::civil::Date;

use crate::finding::{Finding, Outcome, Severity, Status};
use crate::k8s_version::{Branch, K8sVersion};
use crate::osv::Severity as CveSeverity;
use crate::release::{ReleaseDb, add_days, days_between, utc_date};

/// v2's patch window ("1 month"; the reference constant is 31 days).
pub const PATCH_WINDOW_V2_DAYS: i64 = 31;
/// v1's patch window ("within a week").
pub const PATCH_WINDOW_V1_DAYS: i64 = 7;
/// v2: a critical CVE's fix MUST be rolled out within 14 days.
pub const CRITICAL_FIX_REQUIRED_DAYS: i64 = 14;
/// v2: a critical CVE's fix SHOULD be rolled out within 2 days.
pub const CRITICAL_FIX_RECOMMENDED_DAYS: i64 = 2;
/// Kubelets may be at most this many minors older than the API server (upstream skew policy).
pub const MAX_KUBELET_SKEW: i64 = 3;
/// End of life closer than this gives a forward-looking warning.
pub const EOL_WARNING_DAYS: i64 = 30;

/// Which edition of scs-0210 to judge by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyVersion {
    /// scs-0210-v1: 7-day patch window, no hard limit for critical CVEs.
    V1,
    /// scs-0210-v2 (current): 31-day patch window, critical CVE fixes within 14 days.
    #[default]
    V2,
}

impl PolicyVersion {
    /// The patch window in days.
    pub fn patch_window_days(self) -> i64 {
        match self {
            PolicyVersion::V1 => PATCH_WINDOW_V1_DAYS,
            PolicyVersion::V2 => PATCH_WINDOW_V2_DAYS,
        }
    }

    /// `scs-0210-v1` / `scs-0210-v2`.
    pub fn standard(self) -> &'static str {
        match self {
            PolicyVersion::V1 => "scs-0210-v1",
            PolicyVersion::V2 => "scs-0210-v2",
        }
    }
}

impl FromStr for PolicyVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "v1" | "1" | "scs-0210-v1" => Ok(PolicyVersion::V1),
            "v2" | "2" | "scs-0210-v2" => Ok(PolicyVersion::V2),
            other => Err(format!(
                "`{other}` is not a version policy edition: use v1 or v2"
            )),
        }
    }
}

/// How to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyOptions {
    /// The edition.
    pub policy: PolicyVersion,
    /// Whether an EOL branch is a FAIL (reference behaviour, default) or only a WARN (v2's text).
    pub eol_fails: bool,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            policy: PolicyVersion::V2,
            eol_fails: true,
        }
    }
}

/// What the cluster reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterVersions {
    /// `/version` `gitVersion` of the API server.
    pub server: String,
    /// `(node name, status.nodeInfo.kubeletVersion)` of every node.
    pub kubelets: Vec<(String, String)>,
    /// Node name → `metadata.creationTimestamp`, where known (TP-04).
    pub created: BTreeMap<String, jiff::Timestamp>,
}

/// How a version stands against the newer patches of its branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchState {
    /// No newer GA patch is known.
    Latest,
    /// Newer patches exist; the oldest one's window is still open.
    Pending {
        /// The oldest newer patch.
        release: K8sVersion,
        /// Its publication day.
        published: Date,
        /// Last day to roll it out (valid through 23:59:59 UTC).
        deadline: Date,
        /// The newest patch of the branch.
        latest: K8sVersion,
    },
    /// A newer patch's window has closed.
    Overdue {
        /// The oldest newer patch (its deadline passed first).
        release: K8sVersion,
        /// Its publication day.
        published: Date,
        /// The day that was the last day to roll it out.
        deadline: Date,
        /// The newest patch of the branch.
        latest: K8sVersion,
    },
}

/// Where `v` stands against newer GA patches of its branch known by `today` (VER-03).
pub fn patch_state(v: &K8sVersion, db: &ReleaseDb, today: Date, window_days: i64) -> PatchState {
    let newer: Vec<_> = db
        .ga_releases(v.branch(), today)
        .into_iter()
        .filter(|(r, _)| r > v)
        .collect();
    let (Some((release, published)), Some((latest, _))) = (newer.first(), newer.last()) else {
        return PatchState::Latest;
    };
    let deadline = add_days(*published, window_days);
    if today > deadline {
        PatchState::Overdue {
            release: release.clone(),
            published: *published,
            deadline,
            latest: latest.clone(),
        }
    } else {
        PatchState::Pending {
            release: release.clone(),
            published: *published,
            deadline,
            latest: latest.clone(),
        }
    }
}

/// Judge a cluster's versions as of `now`.
pub fn judge(
    cluster: &ClusterVersions,
    db: &ReleaseDb,
    options: &PolicyOptions,
    now: jiff::Timestamp,
) -> Outcome {
    let today = utc_date(now);
    let mut findings = vec![Finding::info(
        "VER-00",
        format!(
            "judged by {} on {today} against release data: {}",
            options.policy.standard(),
            db.describe(now)
        ),
    )];
    findings.extend(db.staleness(now, "VER-00"));
    findings.extend(
        db.warnings
            .iter()
            .map(|w| Finding::warn("VER-04", w.clone())),
    );
    let abort = |mut findings: Vec<Finding>, rule: &str, reason: String| {
        findings.push(Finding::error(rule, reason));
        Outcome {
            status: Status::Abort,
            findings,
        }
    };

    // VER-01: the version must be readable.
    let v = match K8sVersion::parse(&cluster.server) {
        Ok(v) => v,
        Err(e) => {
            return abort(
                findings,
                "VER-01",
                format!("cannot judge the cluster: /version reports gitVersion {e}"),
            );
        }
    };
    let branch = v.branch();
    if v.is_prerelease() {
        findings.push(Finding::warn(
            "VER-01",
            format!(
                "the API server runs the pre-release {v}: it is judged against the GA releases of {branch}, all of which count as newer"
            ),
        ));
    } else if let Some(vendor) = &v.vendor {
        findings.push(Finding::info(
            "VER-01",
            format!(
                "the API server reports {} (vendor suffix `{vendor}`): judged as upstream {v}",
                v.full()
            ),
        ));
    } else {
        findings.push(Finding::info("VER-01", format!("the API server runs {v}")));
    }

    // VER-02: the branch must be supported upstream.
    let known_branches = db.released_branches(today);
    match db.eol(branch) {
        Some(entry) => {
            let end = entry.end_of_life;
            // As in the SCS reference (`now < eol`), the end-of-life day itself is unsupported.
            if today >= end {
                let message = format!(
                    "branch {branch} of {v} reached its upstream end of life on {end} (unsupported from 00:00 UTC that day, as in the SCS reference); {} days ago",
                    days_between(end, today)
                );
                let fix = supported_range_fix(db, now);
                findings.push(if options.eol_fails {
                    Finding::error("VER-02", message).with_fix(fix)
                } else {
                    Finding::warn("VER-02", message).with_fix(fix)
                });
            } else {
                let left = days_between(today, end);
                let message =
                    format!("branch {branch} is supported upstream until {end} ({left} days left)");
                findings.push(if left <= EOL_WARNING_DAYS {
                    Finding::warn("VER-02", message)
                        .with_fix(format!("upgrade to a newer minor before {end}"))
                } else {
                    Finding::info("VER-02", message)
                });
            }
        }
        None => match db.oldest_tabled_branch() {
            Some(oldest) if branch < oldest.branch && today >= oldest.end_of_life => {
                let message = format!(
                    "branch {branch} of {v} is older than every branch in the end-of-life table (oldest {}, end of life {}): it is past its end of life",
                    oldest.branch, oldest.end_of_life
                );
                let fix = supported_range_fix(db, now);
                findings.push(if options.eol_fails {
                    Finding::error("VER-02", message).with_fix(fix)
                } else {
                    Finding::warn("VER-02", message).with_fix(fix)
                });
            }
            _ => {
                let newest = known_branches
                    .last()
                    .map_or("none".to_string(), Branch::to_string);
                return abort(
                    findings,
                    "VER-02",
                    format!(
                        "the release data has no end-of-life date for branch {branch} of {v} (newest released branch it knows: {newest}; data as of {}): cannot judge the support window",
                        db.data.as_of
                    ),
                );
            }
        },
    }
    let published = db
        .ga_releases(branch, Date::MAX)
        .into_iter()
        .find(|(r, _)| *r == v)
        .map(|(_, d)| d);
    if let Some(day) = published.filter(|d| *d > today) {
        findings.push(
            Finding::warn(
                "VER-03",
                format!(
                    "{v} was published {day}, after the judged day {today}: the judgement sees the release data of {today}, in which {v} does not exist yet"
                ),
            )
            .with_fix(format!("judge on {day} or later (--date)")),
        );
    } else if !v.is_prerelease() && db.ga_releases(branch, today).iter().all(|(r, _)| *r < v) {
        findings.push(Finding::warn(
            "VER-03",
            format!(
                "{v} is not among the GA releases in the release data (as of {}): newer patches may exist that this judgement cannot see",
                db.data.as_of
            ),
        ).with_fix("run `scs-kaas versions refresh`"));
    }

    // VER-03: patch recency.
    let window = options.policy.patch_window_days();
    findings.push(patch_finding(
        "VER-03",
        &v,
        &patch_state(&v, db, today, window),
        window,
        true,
    ));

    // VER-04: critical CVEs, fix-aware.
    let undecided = cve_findings(&v, db, options.policy, today, &mut findings);

    // VER-09: kubelets.
    kubelet_findings(&v, &cluster.kubelets, db, window, today, &mut findings);

    // TP-04: nodes created with a patch older than the newest one at their creation.
    creation_findings(cluster, db, today, &mut findings);

    // A known failure stands; otherwise a MUST that could not be decided is ABORT, never PASS.
    let failed = findings.iter().any(|f| f.severity == Severity::Error);
    if !failed && let Some(reason) = undecided {
        return abort(findings, "VER-04", reason);
    }
    Outcome::from_findings(findings)
}

fn supported_range_fix(db: &ReleaseDb, now: jiff::Timestamp) -> String {
    let supported: Vec<_> = db
        .branch_infos(now)
        .into_iter()
        .filter(|i| i.status.is_supported())
        .map(|i| i.branch)
        .collect();
    match (supported.last(), supported.first()) {
        (Some(lo), Some(hi)) => format!("upgrade to a supported branch ({lo} to {hi})"),
        _ => "upgrade to a supported branch".to_string(),
    }
}

/// The VER-03 finding for one version: error when overdue (warning for kubelets).
fn patch_finding(
    rule: &str,
    v: &K8sVersion,
    state: &PatchState,
    window: i64,
    must: bool,
) -> Finding {
    match state {
        PatchState::Latest => Finding::info(
            rule,
            format!(
                "{v} is the newest known GA patch of {}",
                v.branch()
            ),
        ),
        PatchState::Pending {
            release,
            published,
            deadline,
            latest,
        } => Finding::warn(
            rule,
            format!(
                "{release} was released {published}: roll out by {deadline} ({window}-day window; running {v}, newest {latest})"
            ),
        )
        .with_fix(format!("upgrade to {latest}")),
        PatchState::Overdue {
            release,
            published,
            deadline,
            latest,
        } => {
            let message = format!(
                "{v} is outdated: {release} was released {published} and had to be rolled out by {deadline} ({window}-day window); newest patch is {latest}"
            );
            let f = if must {
                Finding::error(rule, message)
            } else {
                Finding::warn(rule, message)
            };
            f.with_fix(format!("upgrade to {latest}"))
        }
    }
}

/// VER-04 findings; returns why the rule could not be decided, if a CVE of unknown severity
/// has a fix older than the critical deadline (it would FAIL if it were critical).
fn cve_findings(
    v: &K8sVersion,
    db: &ReleaseDb,
    policy: PolicyVersion,
    today: Date,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let branch = v.branch();
    let ga = db.ga_releases(branch, today);
    let mut undecided = None;
    for advisory in db.advisories().iter().filter(|a| a.affects(v)) {
        let id = &advisory.id;
        let fix = ga.iter().find(|(r, _)| r > v && !advisory.affects(r));
        let score = match &advisory.severity {
            CveSeverity::Unknown { reason } => {
                let overdue = fix.filter(|(_, published)| {
                    policy == PolicyVersion::V2
                        && days_between(*published, today) > CRITICAL_FIX_REQUIRED_DAYS
                });
                match overdue {
                    Some((fixed, published)) => {
                        let text = format!(
                            "{id} affects {v} and {fixed} (released {published}) fixes it more than {CRITICAL_FIX_REQUIRED_DAYS} days ago, but its severity is unknown ({reason}): whether the critical-CVE deadline applies cannot be judged"
                        );
                        undecided.get_or_insert(text.clone());
                        findings.push(
                            Finding::warn("VER-04", text).with_fix(format!(
                                "run `scs-kaas versions refresh` for a scored record, or upgrade to {fixed} or newer"
                            )),
                        );
                    }
                    None => findings.push(
                        Finding::warn(
                            "VER-04",
                            format!("{id} affects {v}, but its severity is unknown ({reason})"),
                        )
                        .with_fix(format!(
                            "judge {id} by hand; upgrade if it is critical for you"
                        )),
                    ),
                }
                continue;
            }
            CveSeverity::Scored { score, .. } => *score,
        };
        if !score.is_critical() {
            findings.push(Finding::info(
                "VER-04",
                format!("{id} (CVSS {score}, not critical) affects {v}"),
            ));
            continue;
        }
        let Some((fixed, published)) = fix else {
            findings.push(Finding::info(
                "VER-04",
                format!(
                    "critical {id} (CVSS {score}) affects {v}; no GA release of {branch} fixes it yet"
                ),
            ));
            continue;
        };
        let age = days_between(*published, today);
        let required = add_days(*published, CRITICAL_FIX_REQUIRED_DAYS);
        let recommended = add_days(*published, CRITICAL_FIX_RECOMMENDED_DAYS);
        let head = format!(
            "critical {id} (CVSS {score}) affects {v}; {fixed} fixes it, released {published}"
        );
        let fix_text = format!("upgrade to {fixed} or newer");
        let finding = match policy {
            PolicyVersion::V2 if age > CRITICAL_FIX_REQUIRED_DAYS => Finding::error(
                "VER-04",
                format!(
                    "{head}: the {CRITICAL_FIX_REQUIRED_DAYS}-day deadline {required} has passed"
                ),
            ),
            PolicyVersion::V2 if age > CRITICAL_FIX_RECOMMENDED_DAYS => Finding::warn(
                "VER-04",
                format!(
                    "{head}: the recommended {CRITICAL_FIX_RECOMMENDED_DAYS}-day rollout ({recommended}) has passed; roll out by {required} at the latest"
                ),
            ),
            PolicyVersion::V2 => Finding::warn(
                "VER-04",
                format!(
                    "{head}: roll out by {recommended} (recommended), {required} at the latest"
                ),
            ),
            PolicyVersion::V1 => Finding::warn(
                "VER-04",
                format!(
                    "{head}: scs-0210-v1 asks for a faster rollout than the {PATCH_WINDOW_V1_DAYS}-day patch window ({age} days so far)"
                ),
            ),
        };
        findings.push(finding.with_fix(fix_text));
    }
    undecided
}

fn kubelet_findings(
    server: &K8sVersion,
    kubelets: &[(String, String)],
    db: &ReleaseDb,
    window: i64,
    today: Date,
    findings: &mut Vec<Finding>,
) {
    if kubelets.is_empty() {
        findings.push(Finding::info(
            "VER-09",
            "no nodes are visible: kubelet versions not judged",
        ));
        return;
    }
    // Group nodes by reported version so large clusters give one line per version.
    let mut by_version: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (node, version) in kubelets {
        by_version.entry(version).or_default().push(node);
    }
    for (raw, nodes) in by_version {
        let object = node_list(&nodes);
        let v = match K8sVersion::parse(raw) {
            Ok(v) => v,
            Err(e) => {
                findings.push(
                    Finding::warn("VER-09", format!("kubeletVersion {e}")).with_object(object),
                );
                continue;
            }
        };
        let skew = v.branch().minors_behind(server.branch());
        if skew < 0 {
            findings.push(
                Finding::warn(
                    "VER-09",
                    format!("kubelet {v} is newer than the API server {server}: the skew policy forbids it"),
                )
                .with_object(object.clone())
                .with_fix(format!("upgrade the control plane first, or run kubelet {}", server.branch())),
            );
        } else if skew > MAX_KUBELET_SKEW {
            findings.push(
                Finding::warn(
                    "VER-09",
                    format!(
                        "kubelet {v} is {skew} minors older than the API server {server} (at most {MAX_KUBELET_SKEW} allowed)"
                    ),
                )
                .with_object(object.clone())
                .with_fix("upgrade the nodes"),
            );
        }
        let mut f = patch_finding(
            "VER-09",
            &v,
            &patch_state(&v, db, today, window),
            window,
            false,
        );
        if f.severity == crate::finding::Severity::Info {
            f.message = format!("{} node(s) run kubelet {v}: {}", nodes.len(), f.message);
        }
        findings.push(f.with_object(object));
    }
}

/// TP-04 (INFO): a node whose kubelet is older than the newest GA patch of its branch published
/// before the day the node was created was provisioned from a stale resolution table (the
/// reference scripts' `.x` lookup). Releases of the creation day itself are not counted, since
/// the node may have been created hours before they appeared. Nodes are grouped per
/// (kubelet, newest then) so large clusters give one line per combination.
fn creation_findings(
    cluster: &ClusterVersions,
    db: &ReleaseDb,
    today: Date,
    findings: &mut Vec<Finding>,
) {
    // (kubelet, newest then) → (nodes, first and last creation day, newest's publication day)
    type Group<'a> = (Vec<&'a str>, Date, Date, Date);
    let mut stale: BTreeMap<(K8sVersion, K8sVersion), Group> = BTreeMap::new();
    for (node, raw) in &cluster.kubelets {
        let (Some(created), Ok(v)) = (cluster.created.get(node), K8sVersion::parse(raw)) else {
            continue;
        };
        if v.is_prerelease() {
            continue;
        }
        // A node "created" after the judgement day (sim clocks, `--date` in the past) is judged
        // as of that day: later releases are not known then.
        let day = utc_date(*created);
        let Some((newest, published)) = db
            .ga_releases(v.branch(), add_days(day.min(today), -1))
            .last()
            .cloned()
        else {
            continue;
        };
        if newest <= v {
            continue;
        }
        let entry =
            stale
                .entry((v.upstream(), newest))
                .or_insert((Vec::new(), day, day, published));
        entry.0.push(node);
        entry.1 = entry.1.min(day);
        entry.2 = entry.2.max(day);
    }
    for ((v, newest), (nodes, first, last, published)) in stale {
        let when = if first == last {
            format!("created {first}")
        } else {
            format!("created {first} to {last}")
        };
        findings.push(
            Finding::info(
                "TP-04",
                format!(
                    "{} node(s) {when} with kubelet {v} although {newest} (released {published}) was already the newest GA patch of {}: the version resolution that provisioned them may be stale",
                    nodes.len(),
                    v.branch()
                ),
            )
            .with_object(node_list(&nodes)),
        );
    }
}

fn node_list(nodes: &[&str]) -> String {
    let shown: Vec<String> = nodes.iter().take(3).map(|n| format!("node/{n}")).collect();
    if nodes.len() > 3 {
        format!("{} and {} more", shown.join(", "), nodes.len() - 3)
    } else {
        shown.join(", ")
    }
}
