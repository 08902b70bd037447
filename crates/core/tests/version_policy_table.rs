//! Table-driven tests of the scs-0210 judge (VER-01..04, VER-09) with pinned dates.
//!
//! The release data is the shipped snapshot (as of 2026-08-22), optionally extended with
//! synthetic CVEs and drafts; the dates below are chosen around its real release days:
//! v1.35.8 and v1.34.11 were published 2026-08-20, v1.35.7 2026-07-22, branch 1.34 ends 2026-10-27.

use scs_kaas_core::finding::{Severity, Status};
use scs_kaas_core::k8s_version::K8sVersion;
use scs_kaas_core::osv::OsvRecord;
use scs_kaas_core::release::{Origin, Release, ReleaseDb, snapshot};
use scs_kaas_core::version_policy::{ClusterVersions, PolicyOptions, PolicyVersion, judge};

/// 7.9 and 8.0 with real CVSS v3.1 vectors.
const CVSS_7_9: &str = "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:H/I:H/A:L";
const CVSS_8_0: &str = "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:H/I:H/A:H";

#[derive(Clone, Copy)]
enum Data {
    Snapshot,
    /// A critical-or-not CVE (vector) affecting 1.35.0 up to, not including, 1.35.8.
    CveFixedIn1358(&'static str),
    /// A critical CVE affecting every 1.34 release, written `1.34.x`.
    CveWholeBranch134,
    /// A draft v1.35.9 and a pre-release v1.35.10-rc.0, both published 2026-09-01.
    DraftAndPrerelease,
    /// A CVE without a CVSS score affecting 1.35.0 up to, not including, 1.35.8.
    UnscoredCveFixedIn1358,
}

fn db(data: Data) -> ReleaseDb {
    let mut raw = snapshot().unwrap().data;
    let cve = |id: &str, vector: &str, ranges: serde_json::Value| -> OsvRecord {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "summary": "synthetic test CVE",
            "affected": [{
                "package": {"ecosystem": "kubernetes", "name": "k8s.io/kubelet"},
                "severity": [{"type": "CVSS_V3", "score": vector}],
                "ranges": ranges,
            }]
        }))
        .unwrap()
    };
    match data {
        Data::Snapshot => {}
        Data::CveFixedIn1358(vector) => raw.cves.push(cve(
            "CVE-2099-0001",
            vector,
            serde_json::json!([{"type": "SEMVER", "events": [{"introduced": "1.35.0"}, {"fixed": "1.35.8"}]}]),
        )),
        Data::CveWholeBranch134 => raw.cves.push(cve(
            "CVE-2099-0002",
            CVSS_8_0,
            serde_json::json!([{"type": "SEMVER", "events": [{"introduced": "1.34.x"}, {"last_affected": "1.34.x"}]}]),
        )),
        Data::UnscoredCveFixedIn1358 => raw.cves.push(
            serde_json::from_value(serde_json::json!({
                "id": "CVE-2099-0003",
                "summary": "synthetic test CVE without a score",
                "affected": [{
                    "package": {"ecosystem": "kubernetes", "name": "k8s.io/kubelet"},
                    "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.35.0"}, {"fixed": "1.35.8"}]}],
                }]
            }))
            .unwrap(),
        ),
        Data::DraftAndPrerelease => {
            raw.releases.push(Release {
                version: K8sVersion::new(1, 35, 9),
                published: jiff::civil::date(2026, 9, 1),
                prerelease: false,
                draft: true,
            });
            raw.releases.push(Release {
                version: K8sVersion::parse("v1.35.10-rc.0").unwrap(),
                published: jiff::civil::date(2026, 9, 1),
                prerelease: true,
                draft: false,
            });
        }
    }
    ReleaseDb::new(raw, Origin::Inline)
}

struct Case {
    name: &'static str,
    server: &'static str,
    kubelets: &'static [(&'static str, &'static str)],
    /// `(node, creationTimestamp)` for TP-04.
    created: &'static [(&'static str, &'static str)],
    now: &'static str,
    data: Data,
    policy: PolicyVersion,
    eol_fails: bool,
    status: Status,
    /// A finding that must be present: rule, severity, text it contains.
    expect: (&'static str, Severity, &'static str),
    /// Text no finding may contain, or a rule no finding may have.
    absent: Option<&'static str>,
}

const fn case(
    name: &'static str,
    server: &'static str,
    now: &'static str,
    status: Status,
    expect: (&'static str, Severity, &'static str),
) -> Case {
    Case {
        name,
        server,
        kubelets: &[],
        created: &[],
        now,
        data: Data::Snapshot,
        policy: PolicyVersion::V2,
        eol_fails: true,
        status,
        expect,
        absent: None,
    }
}

use Severity::{Error as E, Info as I, Warn as W};
use Status::{Abort, Fail, Pass};

fn cases() -> Vec<Case> {
    vec![
        // VER-03, 31-day window: v1.35.8 published 2026-08-20, deadline 2026-09-20.
        case(
            "31d before",
            "v1.35.7",
            "2026-09-19T12:00:00Z",
            Pass,
            (
                "VER-03",
                W,
                "v1.35.8 was released 2026-08-20: roll out by 2026-09-20",
            ),
        ),
        case(
            "31d on, last second",
            "v1.35.7",
            "2026-09-20T23:59:59Z",
            Pass,
            ("VER-03", W, "roll out by 2026-09-20"),
        ),
        case(
            "31d after",
            "v1.35.7",
            "2026-09-21T00:00:00Z",
            Fail,
            (
                "VER-03",
                E,
                "v1.35.7 is outdated: v1.35.8 was released 2026-08-20 and had to be rolled out by 2026-09-20",
            ),
        ),
        case(
            "latest patch",
            "v1.35.8",
            "2026-08-22T08:00:00Z",
            Pass,
            ("VER-03", I, "v1.35.8 is the newest known GA patch of 1.35"),
        ),
        case(
            "oldest overdue named, newest suggested",
            "v1.35.2",
            "2026-08-22T08:00:00Z",
            Fail,
            (
                "VER-03",
                E,
                "v1.35.3 was released 2026-03-18 and had to be rolled out by 2026-04-18 (31-day window); newest patch is v1.35.8",
            ),
        ),
        // v1: 7-day window, deadline 2026-08-27.
        Case {
            policy: PolicyVersion::V1,
            ..case(
                "v1 7d on",
                "v1.35.7",
                "2026-08-27T23:59:59Z",
                Pass,
                ("VER-03", W, "roll out by 2026-08-27 (7-day window"),
            )
        },
        Case {
            policy: PolicyVersion::V1,
            ..case(
                "v1 7d after",
                "v1.35.7",
                "2026-08-28T00:00:00Z",
                Fail,
                (
                    "VER-03",
                    E,
                    "had to be rolled out by 2026-08-27 (7-day window)",
                ),
            )
        },
        // A version the data knows, judged on a day before its release: say so, not "unknown".
        case(
            "judged before the version's release",
            "v1.35.8",
            "2026-08-10T12:00:00Z",
            Pass,
            (
                "VER-03",
                W,
                "v1.35.8 was published 2026-08-20, after the judged day 2026-08-10",
            ),
        ),
        // VER-02: branch 1.34 ends 2026-10-27; as in the SCS reference, the end-of-life day
        // itself is unsupported (from 00:00 UTC).
        case(
            "EOL day before",
            "v1.34.11",
            "2026-10-26T12:00:00Z",
            Pass,
            (
                "VER-02",
                W,
                "supported upstream until 2026-10-27 (1 days left)",
            ),
        ),
        case(
            "EOL eve last second",
            "v1.34.11",
            "2026-10-26T23:59:59Z",
            Pass,
            ("VER-02", W, "until 2026-10-27 (1 days left)"),
        ),
        case(
            "EOL day itself",
            "v1.34.11",
            "2026-10-27T00:00:00Z",
            Fail,
            (
                "VER-02",
                E,
                "branch 1.34 of v1.34.11 reached its upstream end of life on 2026-10-27",
            ),
        ),
        Case {
            eol_fails: false,
            ..case(
                "EOL as warning",
                "v1.34.11",
                "2026-10-28T00:00:00Z",
                Pass,
                (
                    "VER-02",
                    W,
                    "reached its upstream end of life on 2026-10-27",
                ),
            )
        },
        case(
            "far from EOL is info",
            "v1.35.8",
            "2026-08-22T00:00:00Z",
            Pass,
            ("VER-02", I, "supported upstream until 2027-02-28"),
        ),
        case(
            "branch older than the table",
            "v1.20.1",
            "2026-08-22T00:00:00Z",
            Fail,
            (
                "VER-02",
                E,
                "older than every branch in the end-of-life table",
            ),
        ),
        case(
            "unknown newer branch",
            "v1.37.0",
            "2026-08-22T00:00:00Z",
            Abort,
            ("VER-02", E, "no end-of-life date for branch 1.37"),
        ),
        // VER-04 without a score: a warning while the 14-day deadline is open, ABORT after it
        // (it would FAIL if the CVE were critical), never a silent PASS.
        Case {
            data: Data::UnscoredCveFixedIn1358,
            ..case(
                "unscored CVE, fix 10 days old",
                "v1.35.7",
                "2026-08-30T12:00:00Z",
                Pass,
                (
                    "VER-04",
                    W,
                    "CVE-2099-0003 affects v1.35.7, but its severity is unknown",
                ),
            )
        },
        Case {
            data: Data::UnscoredCveFixedIn1358,
            ..case(
                "unscored CVE, fix past the 14-day deadline",
                "v1.35.7",
                "2026-09-10T12:00:00Z",
                Abort,
                (
                    "VER-04",
                    E,
                    "v1.35.8 (released 2026-08-20) fixes it more than 14 days ago, but its severity is unknown",
                ),
            )
        },
        Case {
            data: Data::UnscoredCveFixedIn1358,
            ..case(
                "unscored CVE, but the patch window has failed already",
                "v1.35.7",
                "2026-09-25T12:00:00Z",
                Fail,
                ("VER-03", E, "v1.35.7 is outdated"),
            )
        },
        // VER-04, 2-day recommendation around v1.35.8 (2026-08-20): recommended by 2026-08-22.
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "2d before",
                "v1.35.7",
                "2026-08-21T12:00:00Z",
                Pass,
                (
                    "VER-04",
                    W,
                    "v1.35.8 fixes it, released 2026-08-20: roll out by 2026-08-22 (recommended), 2026-09-03 at the latest",
                ),
            )
        },
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "2d on",
                "v1.35.7",
                "2026-08-22T23:59:59Z",
                Pass,
                ("VER-04", W, "roll out by 2026-08-22 (recommended)"),
            )
        },
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "2d after",
                "v1.35.7",
                "2026-08-23T00:00:00Z",
                Pass,
                (
                    "VER-04",
                    W,
                    "the recommended 2-day rollout (2026-08-22) has passed; roll out by 2026-09-03",
                ),
            )
        },
        // 14-day requirement: by 2026-09-03.
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "14d before",
                "v1.35.7",
                "2026-09-02T12:00:00Z",
                Pass,
                ("VER-04", W, "roll out by 2026-09-03 at the latest"),
            )
        },
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "14d on",
                "v1.35.7",
                "2026-09-03T23:59:59Z",
                Pass,
                ("VER-04", W, "roll out by 2026-09-03 at the latest"),
            )
        },
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "14d after",
                "v1.35.7",
                "2026-09-04T00:00:00Z",
                Fail,
                (
                    "VER-04",
                    E,
                    "critical CVE-2099-0001 (CVSS 8.0) affects v1.35.7; v1.35.8 fixes it, released 2026-08-20: the 14-day deadline 2026-09-03 has passed",
                ),
            )
        },
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            policy: PolicyVersion::V1,
            ..case(
                "v1 has no hard CVE limit",
                "v1.35.7",
                "2026-08-26T00:00:00Z",
                Pass,
                ("VER-04", W, "scs-0210-v1 asks for a faster rollout"),
            )
        },
        // CVSS 7.9 is not critical, 8.0 is.
        Case {
            data: Data::CveFixedIn1358(CVSS_7_9),
            ..case(
                "CVSS 7.9 not critical",
                "v1.35.7",
                "2026-09-10T00:00:00Z",
                Pass,
                (
                    "VER-04",
                    I,
                    "CVE-2099-0001 (CVSS 7.9, not critical) affects v1.35.7",
                ),
            )
        },
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "CVSS 8.0 critical",
                "v1.35.7",
                "2026-09-10T00:00:00Z",
                Fail,
                ("VER-04", E, "critical CVE-2099-0001 (CVSS 8.0)"),
            )
        },
        // A newer patch that does not fix the CVE does not start the clock (reference bug 2):
        // on 2026-08-10, v1.35.7 (2026-07-22, 19 days old) exists but is still affected.
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "newer patch does not fix",
                "v1.35.6",
                "2026-08-10T00:00:00Z",
                Pass,
                (
                    "VER-04",
                    I,
                    "critical CVE-2099-0001 (CVSS 8.0) affects v1.35.6; no GA release of 1.35 fixes it yet",
                ),
            )
        },
        // ... and once the fix exists, it is the fix's date that counts.
        Case {
            data: Data::CveFixedIn1358(CVSS_8_0),
            ..case(
                "fix is the first unaffected patch",
                "v1.35.6",
                "2026-08-21T00:00:00Z",
                Pass,
                ("VER-04", W, "v1.35.8 fixes it, released 2026-08-20"),
            )
        },
        // `1.34.x` covers the whole branch (reference bug 3: it never matched).
        Case {
            data: Data::CveWholeBranch134,
            ..case(
                "1.34.x affected",
                "v1.34.11",
                "2026-08-22T00:00:00Z",
                Pass,
                (
                    "VER-04",
                    I,
                    "critical CVE-2099-0002 (CVSS 8.0) affects v1.34.11; no GA release of 1.34 fixes it yet",
                ),
            )
        },
        Case {
            data: Data::CveWholeBranch134,
            absent: Some("CVE-2099-0002"),
            ..case(
                "1.34.x leaves 1.35 alone",
                "v1.35.8",
                "2026-08-22T00:00:00Z",
                Pass,
                ("VER-03", I, "newest known GA patch"),
            )
        },
        // A real critical CVE from the data: CVE-2023-3676 (8.8) fixed in v1.27.5 (2023-08-23).
        case(
            "real critical CVE in data",
            "v1.27.4",
            "2023-09-20T00:00:00Z",
            Fail,
            (
                "VER-04",
                E,
                "critical CVE-2023-3676 (CVSS 8.8) affects v1.27.4; v1.27.5 fixes it",
            ),
        ),
        // Drafts and pre-releases never count as newer patches.
        Case {
            data: Data::DraftAndPrerelease,
            absent: Some("v1.35.9"),
            ..case(
                "draft and rc ignored",
                "v1.35.8",
                "2026-11-01T00:00:00Z",
                Pass,
                ("VER-03", I, "v1.35.8 is the newest known GA patch"),
            )
        },
        // Vendor suffixes.
        case(
            "k3s suffix",
            "v1.35.8+k3s1",
            "2026-08-22T00:00:00Z",
            Pass,
            (
                "VER-01",
                I,
                "reports v1.35.8+k3s1 (vendor suffix `+k3s1`): judged as upstream v1.35.8",
            ),
        ),
        case(
            "gke suffix",
            "v1.35.7-gke.100",
            "2026-09-21T00:00:00Z",
            Fail,
            ("VER-03", E, "v1.35.7 is outdated"),
        ),
        case(
            "eks suffix",
            "v1.35.8-eks-a737599",
            "2026-08-22T00:00:00Z",
            Pass,
            ("VER-01", I, "vendor suffix `-eks-a737599`"),
        ),
        case(
            "no v prefix",
            "1.35.8",
            "2026-08-22T00:00:00Z",
            Pass,
            ("VER-01", I, "the API server runs v1.35.8"),
        ),
        // Pre-release cluster: every GA release of its branch is newer.
        case(
            "pre-release cluster",
            "v1.36.0-rc.0",
            "2026-08-22T00:00:00Z",
            Fail,
            ("VER-01", W, "pre-release v1.36.0-rc.0"),
        ),
        // Unparsable versions abort with the reason.
        case(
            "unparsable",
            "v1.35",
            "2026-08-22T00:00:00Z",
            Abort,
            (
                "VER-01",
                E,
                "/version reports gitVersion `v1.35` is not a Kubernetes version",
            ),
        ),
        case(
            "garbage",
            "latest",
            "2026-08-22T00:00:00Z",
            Abort,
            ("VER-01", E, "expected vMAJOR.MINOR.PATCH"),
        ),
        case(
            "empty",
            "",
            "2026-08-22T00:00:00Z",
            Abort,
            ("VER-01", E, "is not a Kubernetes version"),
        ),
        // Stale data: loud warning (snapshot is 2026-08-22, today 2026-11-22).
        case(
            "stale data warns",
            "v1.35.8",
            "2026-11-22T00:00:00Z",
            Pass,
            (
                "VER-00",
                W,
                "RELEASE DATA IS STALE: inline data is 92 days old",
            ),
        ),
        // VER-09: kubelets.
        Case {
            kubelets: &[("n1", "v1.31.5"), ("n2", "v1.35.8")],
            ..case(
                "kubelet skew 4",
                "v1.35.8",
                "2026-08-22T00:00:00Z",
                Pass,
                (
                    "VER-09",
                    W,
                    "kubelet v1.31.5 is 4 minors older than the API server v1.35.8",
                ),
            )
        },
        Case {
            kubelets: &[("n1", "v1.32.1")],
            absent: Some("minors older"),
            ..case(
                "kubelet skew 3 ok",
                "v1.35.8",
                "2026-08-22T00:00:00Z",
                Pass,
                ("VER-09", W, "v1.32.1 is outdated"),
            )
        },
        Case {
            kubelets: &[("n1", "v1.36.0")],
            ..case(
                "kubelet newer than server",
                "v1.35.8",
                "2026-08-22T00:00:00Z",
                Pass,
                (
                    "VER-09",
                    W,
                    "kubelet v1.36.0 is newer than the API server v1.35.8",
                ),
            )
        },
        Case {
            kubelets: &[
                ("n1", "v1.35.2"),
                ("n2", "v1.35.2"),
                ("n3", "v1.35.2"),
                ("n4", "v1.35.2"),
            ],
            ..case(
                "outdated kubelets warn, grouped",
                "v1.35.8",
                "2026-08-22T00:00:00Z",
                Pass,
                ("VER-09", W, "v1.35.2 is outdated"),
            )
        },
        Case {
            kubelets: &[("n1", "weird")],
            ..case(
                "unparsable kubelet",
                "v1.35.8",
                "2026-08-22T00:00:00Z",
                Pass,
                (
                    "VER-09",
                    W,
                    "kubeletVersion `weird` is not a Kubernetes version",
                ),
            )
        },
        // TP-04: v1.35.8 was published 2026-08-20. A node created with v1.35.7 after that day
        // came from a stale resolution; on that day or before, it did not (yet).
        Case {
            kubelets: &[("n1", "v1.35.7")],
            created: &[("n1", "2026-08-19T23:00:00Z")],
            absent: Some("TP-04"),
            ..case(
                "TP-04 created the day before the patch",
                "v1.35.8",
                "2026-09-05T00:00:00Z",
                Pass,
                (
                    "VER-09",
                    W,
                    "v1.35.8 was released 2026-08-20: roll out by 2026-09-20",
                ),
            )
        },
        Case {
            kubelets: &[("n1", "v1.35.7")],
            created: &[("n1", "2026-08-20T23:59:59Z")],
            absent: Some("TP-04"),
            ..case(
                "TP-04 created on the patch day",
                "v1.35.8",
                "2026-09-05T00:00:00Z",
                Pass,
                ("VER-09", W, "v1.35.8 was released 2026-08-20"),
            )
        },
        Case {
            kubelets: &[("n1", "v1.35.7"), ("n2", "v1.35.7"), ("n3", "v1.35.8")],
            created: &[
                ("n1", "2026-08-21T00:00:00Z"),
                ("n2", "2026-09-02T08:00:00Z"),
                ("n3", "2026-09-02T08:00:00Z"),
            ],
            ..case(
                "TP-04 created the day after the patch",
                "v1.35.8",
                "2026-09-05T00:00:00Z",
                Pass,
                (
                    "TP-04",
                    I,
                    "2 node(s) created 2026-08-21 to 2026-09-02 with kubelet v1.35.7 although v1.35.8 (released 2026-08-20) was already the newest GA patch of 1.35",
                ),
            )
        },
        // A creation time after the judgement day (a sim, `--date` in the past) cannot make
        // later releases known: on 2026-08-15 v1.35.7 was the newest.
        Case {
            kubelets: &[("n1", "v1.35.7")],
            created: &[("n1", "2026-11-01T00:00:00Z")],
            absent: Some("TP-04"),
            ..case(
                "TP-04 creation after the judgement day",
                "v1.35.7",
                "2026-08-15T00:00:00Z",
                Pass,
                ("VER-03", I, "v1.35.7 is the newest known GA patch of 1.35"),
            )
        },
        Case {
            kubelets: &[("n1", "v1.35.7-gke.3")],
            created: &[("n1", "2026-09-01T00:00:00Z")],
            ..case(
                "TP-04 with a vendor suffix",
                "v1.35.8",
                "2026-09-05T00:00:00Z",
                Pass,
                (
                    "TP-04",
                    I,
                    "1 node(s) created 2026-09-01 with kubelet v1.35.7 although v1.35.8",
                ),
            )
        },
    ]
}

#[test]
fn version_policy_table() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 30);
    for c in &all {
        let cluster = ClusterVersions {
            server: c.server.to_string(),
            kubelets: c
                .kubelets
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            created: c
                .created
                .iter()
                .map(|(n, t)| (n.to_string(), t.parse().unwrap()))
                .collect(),
        };
        let options = PolicyOptions {
            policy: c.policy,
            eol_fails: c.eol_fails,
        };
        let now: jiff::Timestamp = c.now.parse().unwrap();
        let outcome = judge(&cluster, &db(c.data), &options, now);
        let (rule, severity, text) = c.expect;
        let found = outcome
            .findings
            .iter()
            .any(|f| f.rule == rule && f.severity == severity && f.message.contains(text));
        let leaked = c.absent.is_some_and(|t| {
            outcome
                .findings
                .iter()
                .any(|f| f.rule == t || f.message.contains(t))
        });
        if outcome.status != c.status || !found || leaked {
            failures.push(format!(
                "case `{}`: status {} (want {}), finding {rule}/{severity:?}/`{text}` found={found}, absent-violated={leaked}\n  {}",
                c.name,
                outcome.status,
                c.status,
                outcome
                    .findings
                    .iter()
                    .map(|f| f.log_line())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn kubelet_lines_group_nodes() {
    let cluster = ClusterVersions {
        server: "v1.35.8".into(),
        kubelets: (1..=5)
            .map(|i| (format!("n{i}"), "v1.35.8".to_string()))
            .collect(),
        ..Default::default()
    };
    let now: jiff::Timestamp = "2026-08-22T00:00:00Z".parse().unwrap();
    let outcome = judge(
        &cluster,
        &db(Data::Snapshot),
        &PolicyOptions::default(),
        now,
    );
    let lines: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.rule == "VER-09")
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].object.as_deref(),
        Some("node/n1, node/n2, node/n3 and 2 more")
    );
    assert!(
        lines[0]
            .message
            .starts_with("5 node(s) run kubelet v1.35.8")
    );
}
