//! The verdict on a set of e2e results: a pure function of what was read, the cluster's
//! version, the okToFail list, the published counts and "now".
//!
//! Order of the decision (issue 15 item 5):
//! 1. Results that are missing or unreadable, made against another Kubernetes version, or older
//!    than the testcase's lifetime say nothing about this cluster today: ABORT.
//! 2. A failed test that no okToFail entry tolerates is FAIL — also when the run is otherwise
//!    incomplete, because a failure is evidence. Tolerated failures are warnings naming why.
//! 3. A run that did less than its selection demands is ABORT, never a vacuous PASS: no test
//!    ran; in conformance mode a `[Conformance]` spec was skipped, or their number differs from
//!    the version's published count; in networking mode no NetworkPolicy spec ran; fewer specs
//!    ran than the log announced.
//! 4. Otherwise PASS, with the counts (skipped included) as INFO.

use scs_kaas_core::finding::{Finding, Outcome, Severity, Status};
use scs_kaas_core::k8s_version::K8sVersion;
use scs_kaas_core::lifetime::is_expired;
use scs_kaas_core::scope::Lifetime;

use super::ok_to_fail::OkToFail;
use super::results::Evidence;
use super::suite::{Counts, Suite};

/// Rule: the run did everything its selection demands (no vacuous pass).
pub const COMPLETE_RULE: &str = "E2E-01";
/// Rule: the results were made against the cluster's Kubernetes version.
pub const VERSION_RULE: &str = "E2E-02";
/// Rule: the results are younger than the testcase's lifetime.
pub const FRESH_RULE: &str = "E2E-03";
/// Rule: results exist and are readable; the run itself worked (image, deadline).
pub const RESULTS_RULE: &str = "E2E-04";
/// Rule: what ran (INFO).
pub const SUMMARY_RULE: &str = "E2E-05";

/// What the judge compares the results with.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// Which selection.
    pub suite: Suite,
    /// The cluster's version (`/version`).
    pub cluster: &'a K8sVersion,
    /// Published `[Conformance]` counts.
    pub counts: &'a Counts,
    /// Tolerated failures.
    pub ok_to_fail: &'a OkToFail,
    /// How long results stay valid.
    pub lifetime: Lifetime,
    /// The judgement's "now".
    pub now: jiff::Timestamp,
}

fn parse_version(v: &str) -> Option<K8sVersion> {
    K8sVersion::parse(v).ok()
}

/// Judge `ev` against `exp`.
pub fn judge(ev: &Evidence, exp: &Expect<'_>) -> Outcome {
    let suite = exp.suite;
    let junit = match &ev.junit {
        Ok(j) => j,
        Err(why) => {
            return Outcome::abort(
                RESULTS_RULE,
                format!("no usable e2e results in {}: {why}", ev.source),
            );
        }
    };
    let mut findings = Vec::new();
    // Findings that make the results no evidence about this cluster today.
    let mut invalid = Vec::new();

    // Which version the results were made against.
    let log = ev.log.as_ref();
    let results_version = log
        .and_then(|l| l.apiserver_version.as_deref())
        .map(|v| (v, "the e2e.log's kube-apiserver version"))
        .or_else(|| {
            ev.server_version
                .as_deref()
                .map(|v| (v, "the tarball's serverversion.json"))
        });
    match results_version {
        Some((raw, from)) => match parse_version(raw) {
            Some(v) if v == *exp.cluster => {}
            Some(_) => invalid.push(
                Finding::error(
                    VERSION_RULE,
                    format!(
                        "the results were made against Kubernetes {raw} ({from}), the cluster runs {}: they are no evidence about this cluster",
                        exp.cluster.full()
                    ),
                )
                .with_fix("run the e2e suite against this cluster again (or judge the results of a run made against it)"),
            ),
            None => findings.push(Finding::warn(
                VERSION_RULE,
                format!("{from} {raw:?} is not a Kubernetes version; the results' version could not be compared with the cluster's {}", exp.cluster.full()),
            )),
        },
        None => findings.push(Finding::warn(
            VERSION_RULE,
            format!(
                "the results carry no Kubernetes version (no e2e.log with a kube-apiserver version line, no serverversion.json): it cannot be confirmed that they were made against this cluster ({})",
                exp.cluster.full()
            ),
        ).with_fix("keep the e2e.log (verbose) or the Sonobuoy tarball with the JUnit")),
    }
    let e2e_version = log
        .and_then(|l| l.e2e_version.as_deref())
        .and_then(parse_version);
    if let Some(e2e) = &e2e_version
        && e2e.branch() != exp.cluster.branch()
    {
        invalid.push(
            Finding::error(
                VERSION_RULE,
                format!(
                    "the e2e suite was {} but the cluster runs {}: conformance is judged with the suite of the cluster's minor version",
                    e2e.full(),
                    exp.cluster.full()
                ),
            )
            .with_fix(format!(
                "run registry.k8s.io/conformance:{}",
                exp.cluster.upstream()
            )),
        );
    }

    // When the results were made.
    match &ev.produced {
        Some(p) => {
            let utc = jiff::tz::TimeZone::UTC;
            let made = p.at.to_zoned(utc.clone()).datetime();
            let now = exp.now.to_zoned(utc).datetime();
            if is_expired(made, exp.lifetime, now) {
                invalid.push(
                    Finding::error(
                        FRESH_RULE,
                        format!(
                            "the results are from {} ({}), older than the {} lifetime of {}",
                            made.date(),
                            p.from,
                            lifetime_word(exp.lifetime),
                            suite.id()
                        ),
                    )
                    .with_fix("run the e2e suite again"),
                );
            }
        }
        None => findings.push(Finding::warn(
            FRESH_RULE,
            "the results carry no date (no JUnit timestamp, no tarball file time): their age against the testcase's lifetime could not be checked",
        )),
    }

    // Failures.
    let mut real_failures = 0;
    let mut tolerated = 0;
    for f in &junit.failed {
        match exp.ok_to_fail.reason(&f.name) {
            Some(reason) => {
                tolerated += 1;
                findings.push(Finding::warn(
                    suite.rule(),
                    format!("{} failed, tolerated by okToFail: {reason}", f.name),
                ));
            }
            None => {
                real_failures += 1;
                let why = if f.excerpt.is_empty() {
                    String::new()
                } else {
                    format!(": {}", f.excerpt)
                };
                findings.push(Finding::error(
                    suite.rule(),
                    format!("{} failed{why}", f.name),
                ));
            }
        }
    }

    // What the selection demands.
    let mut incomplete = Vec::new();
    let ran = junit.ran();
    if ran == 0 {
        incomplete.push(format!(
            "no test ran ({} specs listed, {} skipped): nothing about the cluster was shown",
            junit.specs, junit.skipped
        ));
    }
    let version_for_count = e2e_version
        .clone()
        .or_else(|| results_version.and_then(|(raw, _)| parse_version(raw)))
        .unwrap_or_else(|| exp.cluster.clone());
    match suite {
        Suite::Conformance => {
            let c = &junit.conformance;
            if c.listed == 0 {
                incomplete.push(
                    "the results list no [Conformance] spec: this was not a conformance run"
                        .to_string(),
                );
            } else if c.skipped > 0 {
                incomplete.push(format!(
                    "{} of {} [Conformance] specs were skipped (e.g. {}): the certified-conformance selection runs every one (focus \\[Conformance\\], empty skip)",
                    c.skipped,
                    c.listed,
                    c.skipped_examples.join("; ")
                ));
            }
            let branch = version_for_count.branch();
            match exp
                .counts
                .get(version_for_count.major, version_for_count.minor)
            {
                Some(expected) if c.ran != expected && c.listed > 0 => {
                    incomplete.push(format!(
                        "{} [Conformance] specs ran, the published conformance list of {branch} has {expected}",
                        c.ran
                    ))
                }
                Some(_) => {}
                None => findings.push(Finding::warn(
                    COMPLETE_RULE,
                    format!(
                        "no published [Conformance] count for {branch} is shipped; the number of specs run ({}) was not checked against it",
                        c.ran
                    ),
                )),
            }
        }
        Suite::Networking => {
            if junit.network_policy.ran == 0 {
                incomplete.push(format!(
                    "no NetworkPolicy spec ran ({} listed, {} skipped): the networking selection was not exercised",
                    junit.network_policy.listed, junit.network_policy.skipped
                ));
            }
        }
    }
    if let Some((announced, _)) = log.and_then(|l| l.will_run)
        && ran < announced
    {
        incomplete.push(format!(
            "the e2e.log announced {announced} specs, the JUnit shows {ran} run: the run did not finish"
        ));
    }

    let mut summary = format!(
        "{} specs ran of {} listed: {} passed, {} failed ({} tolerated by okToFail), {} skipped; [Conformance] {} ran, {} skipped; NetworkPolicy {} ran, {} skipped (from {})",
        ran,
        junit.specs,
        junit.passed,
        junit.failed.len(),
        tolerated,
        junit.skipped,
        junit.conformance.ran,
        junit.conformance.skipped,
        junit.network_policy.ran,
        junit.network_policy.skipped,
        ev.source
    );
    if let Some(l) = log
        && let Some((n, m)) = l.will_run
    {
        summary.push_str(&format!("; e2e.log: will run {n} of {m}"));
    }
    findings.insert(0, Finding::info(SUMMARY_RULE, summary));
    for e in &ev.artifact_errors {
        findings.push(Finding::warn(
            RESULTS_RULE,
            format!("evidence not kept: {e}"),
        ));
    }

    let status = if !invalid.is_empty() {
        Status::Abort
    } else if real_failures > 0 {
        Status::Fail
    } else if !incomplete.is_empty() {
        Status::Abort
    } else {
        Status::Pass
    };
    findings.extend(invalid);
    for why in incomplete {
        let f = Finding::new(COMPLETE_RULE, Severity::Error, why).with_fix(match suite {
            Suite::Conformance => {
                "run the certified-conformance selection to the end (every [Conformance] spec, nothing skipped)"
            }
            Suite::Networking => "run the e2e suite with focus NetworkPolicy to the end",
        });
        findings.push(f);
    }
    Outcome { status, findings }
}

fn lifetime_word(l: Lifetime) -> &'static str {
    match l {
        Lifetime::Day => "day",
        Lifetime::Week => "week",
        Lifetime::Month => "month",
        Lifetime::Quarter => "quarter",
        Lifetime::Year => "year",
        Lifetime::Infinite => "unlimited lifetime",
    }
}

#[cfg(test)]
mod tests {
    use super::super::e2e_log::LogHeader;
    use super::super::junit::{FailedTest, JunitSummary, Layout, Tally};
    use super::super::results::Produced;
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn tally(listed: usize, ran: usize) -> Tally {
        Tally {
            listed,
            ran,
            skipped: listed - ran,
            skipped_examples: if listed > ran {
                vec!["[sig-x] y [Conformance]".into()]
            } else {
                vec![]
            },
        }
    }

    /// A complete v1.33 certified-conformance run: 419 [Conformance] specs passed.
    fn complete() -> Evidence {
        Evidence {
            source: "r".into(),
            junit: Ok(JunitSummary {
                layout: Layout::GinkgoV2,
                specs: 6731,
                passed: 419,
                skipped: 6312,
                failed: vec![],
                conformance: tally(419, 419),
                network_policy: tally(60, 3),
                timestamp: Some("2026-11-30T10:00:00".parse().unwrap()),
            }),
            log: Some(LogHeader {
                will_run: Some((419, 6731)),
                e2e_version: Some("v1.33.5".into()),
                apiserver_version: Some("v1.33.5+k3s1".into()),
                summary: None,
                done: 419,
            }),
            server_version: None,
            produced: Some(Produced {
                at: "2026-11-30T10:00:00Z".parse().unwrap(),
                from: "the JUnit's timestamp",
            }),
            artifact_errors: vec![],
        }
    }

    fn fail(ev: &mut Evidence, name: &str) {
        let j = ev.junit.as_mut().unwrap();
        j.passed -= 1;
        j.failed.push(FailedTest {
            name: name.into(),
            excerpt: "[FAILED] boom".into(),
        });
    }

    fn run(ev: &Evidence, suite: Suite, cluster: &str) -> Outcome {
        let cluster = K8sVersion::parse(cluster).unwrap();
        let counts = Counts::shipped();
        let ok = OkToFail::shipped();
        judge(
            ev,
            &Expect {
                suite,
                cluster: &cluster,
                counts: &counts,
                ok_to_fail: &ok,
                lifetime: suite.lifetime(),
                now: now(),
            },
        )
    }

    fn errors(o: &Outcome) -> Vec<String> {
        o.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("[{}] {}", f.rule, f.message))
            .collect()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            suite: Suite,
            cluster: &'static str,
            change: fn(&mut Evidence),
            status: Status,
            error: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "complete run passes (vendor suffix ignored)",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |_| {},
                status: Status::Pass,
                error: None,
            },
            Case {
                name: "a failure is FAIL naming the test and its first lines",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    fail(
                        ev,
                        "[sig-network] Services should serve a basic endpoint from pods [Conformance]",
                    )
                },
                status: Status::Fail,
                error: Some(
                    "[CONF-01] [sig-network] Services should serve a basic endpoint from pods [Conformance] failed: [FAILED] boom",
                ),
            },
            Case {
                name: "an okToFail failure is a warning",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    fail(
                        ev,
                        "[sig-network] Services should have session affinity work for NodePort service [LinuxOnly] [Conformance]",
                    )
                },
                status: Status::Pass,
                error: None,
            },
            Case {
                name: "no test ran is ABORT (the vacuous pass)",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    let j = ev.junit.as_mut().unwrap();
                    j.passed = 0;
                    j.skipped = j.specs;
                    j.conformance = tally(419, 0);
                    j.network_policy = tally(60, 0);
                },
                status: Status::Abort,
                error: Some("[E2E-01] no test ran (6731 specs listed, 6731 skipped)"),
            },
            Case {
                name: "a skipped [Conformance] spec is ABORT",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    let j = ev.junit.as_mut().unwrap();
                    j.passed -= 1;
                    j.skipped += 1;
                    j.conformance = tally(419, 418);
                },
                status: Status::Abort,
                error: Some("[E2E-01] 1 of 419 [Conformance] specs were skipped"),
            },
            Case {
                name: "fewer [Conformance] specs than published is ABORT",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    let j = ev.junit.as_mut().unwrap();
                    j.conformance = tally(400, 400);
                    ev.log.as_mut().unwrap().will_run = None;
                },
                status: Status::Abort,
                error: Some(
                    "[E2E-01] 400 [Conformance] specs ran, the published conformance list of 1.33 has 419",
                ),
            },
            Case {
                name: "a failure in an incomplete run is still FAIL",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    ev.junit.as_mut().unwrap().conformance = tally(419, 25);
                    fail(ev, "[sig-apps] Daemon set should rollback [Conformance]");
                },
                status: Status::Fail,
                error: Some("[CONF-01] [sig-apps] Daemon set should rollback [Conformance] failed"),
            },
            Case {
                name: "another cluster version is ABORT even with failures",
                suite: Suite::Conformance,
                cluster: "v1.34.2",
                change: |ev| fail(ev, "[sig-x] y [Conformance]"),
                status: Status::Abort,
                error: Some(
                    "[E2E-02] the results were made against Kubernetes v1.33.5+k3s1 (the e2e.log's kube-apiserver version), the cluster runs v1.34.2",
                ),
            },
            Case {
                name: "another patch of the same minor is ABORT too",
                suite: Suite::Conformance,
                cluster: "v1.33.6",
                change: |_| {},
                status: Status::Abort,
                error: Some("[E2E-02] the results were made against Kubernetes v1.33.5+k3s1"),
            },
            Case {
                name: "the tarball's serverversion.json is used without a log",
                suite: Suite::Conformance,
                cluster: "v1.33.4",
                change: |ev| {
                    ev.log = None;
                    ev.server_version = Some("v1.33.5".into());
                },
                status: Status::Abort,
                error: Some(
                    "[E2E-02] the results were made against Kubernetes v1.33.5 (the tarball's serverversion.json)",
                ),
            },
            Case {
                name: "results older than a year are ABORT",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    ev.produced.as_mut().unwrap().at = "2025-09-30T10:00:00Z".parse().unwrap()
                },
                status: Status::Abort,
                error: Some(
                    "[E2E-03] the results are from 2025-09-30 (the JUnit's timestamp), older than the year lifetime of cncf-k8s-conformance",
                ),
            },
            Case {
                name: "unreadable results are ABORT naming why",
                suite: Suite::Conformance,
                cluster: "v1.33.5",
                change: |ev| {
                    ev.junit = Err("not a JUnit report: it has no <testsuite> element".into())
                },
                status: Status::Abort,
                error: Some(
                    "[E2E-04] no usable e2e results in r: not a JUnit report: it has no <testsuite> element",
                ),
            },
            Case {
                name: "networking passes with NetworkPolicy specs run (month lifetime)",
                suite: Suite::Networking,
                cluster: "v1.33.5",
                change: |ev| {
                    let j = ev.junit.as_mut().unwrap();
                    j.conformance = tally(419, 0);
                    j.passed = 3;
                    ev.log.as_mut().unwrap().will_run = Some((3, 6731));
                },
                status: Status::Pass,
                error: None,
            },
            Case {
                name: "networking without a NetworkPolicy spec is ABORT",
                suite: Suite::Networking,
                cluster: "v1.33.5",
                change: |ev| {
                    ev.junit.as_mut().unwrap().network_policy = tally(60, 0);
                },
                status: Status::Abort,
                error: Some("[E2E-01] no NetworkPolicy spec ran (60 listed, 60 skipped)"),
            },
            Case {
                name: "networking results older than a month are ABORT",
                suite: Suite::Networking,
                cluster: "v1.33.5",
                change: |ev| {
                    ev.produced.as_mut().unwrap().at = "2026-09-15T10:00:00Z".parse().unwrap()
                },
                status: Status::Abort,
                error: Some("[E2E-03] the results are from 2026-09-15"),
            },
            Case {
                name: "a run that stopped before the announced count is ABORT",
                suite: Suite::Networking,
                cluster: "v1.33.5",
                change: |ev| ev.log.as_mut().unwrap().will_run = Some((500, 6731)),
                status: Status::Abort,
                error: Some("[E2E-01] the e2e.log announced 500 specs, the JUnit shows 419 run"),
            },
        ];
        for c in cases {
            let mut ev = complete();
            (c.change)(&mut ev);
            let o = run(&ev, c.suite, c.cluster);
            assert_eq!(o.status, c.status, "{}: {:#?}", c.name, o.findings);
            let errs = errors(&o);
            match c.error {
                Some(e) => assert!(
                    errs.iter().any(|x| x.starts_with(e)),
                    "{}: no error starting {e:?} in {errs:#?}",
                    c.name
                ),
                None => assert!(errs.is_empty(), "{}: {errs:#?}", c.name),
            }
        }
    }

    #[test]
    fn a_bare_junit_without_version_or_date_warns_and_shows_counts() {
        let mut ev = complete();
        ev.log = None;
        ev.produced = None;
        let o = run(&ev, Suite::Conformance, "v1.33.5");
        assert_eq!(o.status, Status::Pass);
        let warns: Vec<_> = o
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warn)
            .map(|f| f.rule.as_str())
            .collect();
        assert_eq!(warns, ["E2E-02", "E2E-03"]);
        assert!(o.findings[0].message.starts_with(
            "419 specs ran of 6731 listed: 419 passed, 0 failed (0 tolerated by okToFail), 6312 skipped"
        ));
    }

    #[test]
    fn an_ok_to_fail_warning_names_the_reason() {
        let mut ev = complete();
        fail(
            &mut ev,
            "[sig-network] HostPort validates that there is no conflict between pods with same hostPort but different hostIP and protocol [LinuxOnly] [Conformance]",
        );
        let o = run(&ev, Suite::Conformance, "v1.33.5");
        assert_eq!(o.status, Status::Pass);
        let w = o.findings.iter().find(|f| f.rule == "CONF-01").unwrap();
        assert_eq!(w.severity, Severity::Warn);
        assert!(w.message.contains("tolerated by okToFail"));
        assert!(w.message.contains("issues/136626"));
    }
}
