//! Reading the e2e suite's `junit_01.xml` in one streaming pass, keeping only what the judge
//! needs: counts, the failed tests with the first lines of their failure, and how many specs of
//! each selection (`[Conformance]`, `NetworkPolicy`) were listed, run and skipped.
//!
//! Both layouts are read: ginkgo v2 (`<testsuites>` → `<testsuite timestamp>` → `<testcase
//! status>`, spec names starting with `[It] `, suite nodes such as `[SynchronizedBeforeSuite]`
//! as testcases of their own) and ginkgo v1 (a root `<testsuite>`, no `status` attribute,
//! `<skipped/>` and `<failure>` children). `<system-out>` and `<system-err>` are skipped over,
//! never kept, so a 2 MB file costs a few kilobytes of memory.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// How many lines of a failure message are kept per failed test.
pub const FAILURE_LINES: usize = 5;
/// How many characters of one failure line are kept.
const LINE_CHARS: usize = 300;
/// How many bytes of failure text are collected per test before the rest is skipped.
const FAILURE_BYTES: usize = 8 * 1024;
/// How many names of skipped selection specs are kept as examples.
const EXAMPLES: usize = 5;

/// Which JUnit dialect the file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// ginkgo v2 (Kubernetes ≥ 1.25): `<testsuites>` root, `status` attributes.
    GinkgoV2,
    /// ginkgo v1 (older): `<testsuite>` root, no `status` attribute.
    GinkgoV1,
}

/// One failed test: its name and the first lines of why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedTest {
    /// The testcase name as the JUnit gives it (`[It] ` prefix removed).
    pub name: String,
    /// Up to [`FAILURE_LINES`] non-empty lines of the failure message, joined by ` | `.
    pub excerpt: String,
}

/// How many specs of one selection the file lists, how many ran and how many were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Specs of the selection the file lists (run or not).
    pub listed: usize,
    /// Of those, how many ran (passed or failed).
    pub ran: usize,
    /// Of those, how many were skipped.
    pub skipped: usize,
    /// The first few skipped ones, by name.
    pub skipped_examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, name: &str, skipped: bool) {
        self.listed += 1;
        if skipped {
            self.skipped += 1;
            if self.skipped_examples.len() < EXAMPLES {
                self.skipped_examples.push(name.to_string());
            }
        } else {
            self.ran += 1;
        }
    }
}

/// What a JUnit file says, in the size the judge needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JunitSummary {
    /// The dialect.
    pub layout: Layout,
    /// Spec testcases (suite nodes such as `[SynchronizedBeforeSuite]` not counted).
    pub specs: usize,
    /// Specs that passed.
    pub passed: usize,
    /// Specs that were skipped.
    pub skipped: usize,
    /// Every failed testcase, suite nodes included (a failed `BeforeSuite` fails the run).
    pub failed: Vec<FailedTest>,
    /// Specs tagged `[Conformance]`.
    pub conformance: Tally,
    /// Specs whose name contains `NetworkPolicy` (the SCS networking focus).
    pub network_policy: Tally,
    /// The suite's `timestamp` attribute (ginkgo v2), UTC.
    pub timestamp: Option<jiff::civil::DateTime>,
}

impl JunitSummary {
    /// Specs that ran (passed or failed), suite nodes not counted.
    pub fn ran(&self) -> usize {
        self.specs - self.skipped
    }
}

/// Why a JUnit file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// Not well-formed XML.
    #[error("not well-formed XML at byte {position}: {source}")]
    Xml {
        /// Byte offset of the error.
        position: u64,
        /// The parser's error.
        source: quick_xml::Error,
    },
    /// Well-formed, but not a JUnit report (no `<testsuite>` at all: an empty file, say).
    #[error("not a JUnit report: {0}")]
    NotJunit(&'static str),
}

/// Whether a testcase is a suite node rather than a spec (ginkgo v2 reports both).
fn is_suite_node(name: &str) -> bool {
    const NODES: [&str; 6] = [
        "[BeforeSuite]",
        "[AfterSuite]",
        "[SynchronizedBeforeSuite]",
        "[SynchronizedAfterSuite]",
        "[ReportBeforeSuite]",
        "[ReportAfterSuite]",
    ];
    NODES.iter().any(|n| name.starts_with(n))
}

/// The state of the testcase being read.
#[derive(Default)]
struct Case {
    name: String,
    status: Option<String>,
    skipped: bool,
    failed: bool,
    message: String,
    text: String,
}

/// Where text events go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    None,
    Failure,
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.as_ref() == key).then(|| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.clone().into_owned())
        })
    })
}

/// The first non-empty lines of a failure, each cut to a readable length.
pub fn excerpt(message: &str, text: &str) -> String {
    let source = if message.trim().is_empty() {
        text
    } else {
        message
    };
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(FAILURE_LINES)
        .map(|l| {
            if l.chars().count() > LINE_CHARS {
                let cut: String = l.chars().take(LINE_CHARS).collect();
                format!("{cut}…")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Read a JUnit report from `input` in one pass.
pub fn read(input: impl BufRead) -> Result<JunitSummary, JunitError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let mut buf = Vec::new();
    let mut layout = None;
    let mut summary = JunitSummary {
        layout: Layout::GinkgoV1,
        specs: 0,
        passed: 0,
        skipped: 0,
        failed: Vec::new(),
        conformance: Tally::default(),
        network_policy: Tally::default(),
        timestamp: None,
    };
    let mut case: Option<Case> = None;
    let mut sink = Sink::None;
    let mut saw_suite = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|source| JunitError::Xml {
                position: reader.error_position(),
                source,
            })?;
        let is_start = matches!(event, Event::Start(_));
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), "testsuites" | "testsuite") =>
            {
                let name = e.name();
                if layout.is_none() {
                    layout = Some(if name.as_ref() == "testsuites" {
                        Layout::GinkgoV2
                    } else {
                        Layout::GinkgoV1
                    });
                }
                if name.as_ref() == "testsuite" {
                    saw_suite = true;
                    if summary.timestamp.is_none() {
                        summary.timestamp = attr(&e, "timestamp")
                            .and_then(|t| t.parse::<jiff::civil::DateTime>().ok());
                    }
                }
            }
            Event::Start(e) if e.name().as_ref() == "testcase" => {
                case = Some(Case {
                    name: attr(&e, "name").unwrap_or_default(),
                    status: attr(&e, "status"),
                    ..Case::default()
                });
            }
            Event::Empty(e) if e.name().as_ref() == "testcase" => {
                let c = Case {
                    name: attr(&e, "name").unwrap_or_default(),
                    status: attr(&e, "status"),
                    ..Case::default()
                };
                finish(&mut summary, c);
            }
            Event::End(e) if e.name().as_ref() == "testcase" => {
                if let Some(c) = case.take() {
                    finish(&mut summary, c);
                }
                sink = Sink::None;
            }
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), "skipped") && case.is_some() =>
            {
                if let Some(c) = case.as_mut() {
                    c.skipped = true;
                }
            }
            Event::Start(e) | Event::Empty(e)
                if matches!(e.name().as_ref(), "failure" | "error") && case.is_some() =>
            {
                if let Some(c) = case.as_mut() {
                    c.failed = true;
                    if c.message.is_empty() {
                        c.message = attr(&e, "message").unwrap_or_default();
                    }
                    if is_start {
                        sink = Sink::Failure;
                    }
                }
            }
            Event::End(e) if matches!(e.name().as_ref(), "failure" | "error") => {
                sink = Sink::None;
            }
            Event::Text(t) if sink == Sink::Failure => {
                push_text(&mut case, &t.xml_content(XmlVersion::Implicit1_0));
            }
            Event::CData(t) if sink == Sink::Failure => push_text(&mut case, &t),
            Event::GeneralRef(r) if sink == Sink::Failure => {
                if let Ok(Some(ch)) = r.resolve_char_ref() {
                    push_text(&mut case, ch.encode_utf8(&mut [0; 4]));
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    push_text(&mut case, s);
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_suite {
        return Err(JunitError::NotJunit("it has no <testsuite> element"));
    }
    summary.layout = layout.unwrap_or(Layout::GinkgoV1);
    Ok(summary)
}

fn push_text(case: &mut Option<Case>, s: &str) {
    if let Some(c) = case.as_mut()
        && c.text.len() < FAILURE_BYTES
    {
        c.text.push_str(s);
    }
}

fn finish(summary: &mut JunitSummary, case: Case) {
    let status = case.status.as_deref();
    let failed = case.failed
        || matches!(
            status,
            Some("failed" | "panicked" | "interrupted" | "timedout" | "aborted")
        );
    let skipped = !failed && (case.skipped || matches!(status, Some("skipped" | "pending")));
    let name = case
        .name
        .strip_prefix("[It] ")
        .unwrap_or(&case.name)
        .to_string();
    if failed {
        summary.failed.push(FailedTest {
            excerpt: excerpt(&case.message, &case.text),
            name: name.clone(),
        });
    }
    if is_suite_node(&name) {
        return;
    }
    summary.specs += 1;
    if skipped {
        summary.skipped += 1;
    } else if !failed {
        summary.passed += 1;
    }
    if name.contains("[Conformance]") {
        summary.conformance.add(&name, skipped);
    }
    if name.contains("NetworkPolicy") {
        summary.network_policy.add(&name, skipped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" disabled="2" errors="0" failures="1" time="12.5">
  <testsuite name="Kubernetes e2e suite" package="/usr/local/bin" tests="5" disabled="0" skipped="2" errors="0" failures="1" time="12.5" timestamp="2025-06-02T09:15:01">
    <properties><property name="SuiteSucceeded" value="false"></property></properties>
    <testcase name="[ReportBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="0.001"></testcase>
    <testcase name="[It] [sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]" classname="Kubernetes e2e suite" status="passed" time="3.2"><system-err>lots of &lt;log&gt; output</system-err></testcase>
    <testcase name="[It] [sig-network] Services should serve a basic endpoint from pods [Conformance]" classname="Kubernetes e2e suite" status="failed" time="6.1">
      <failure message="[FAILED] timed out waiting for endpoints&#xA;Expected &lt;int&gt;: 0" type="failed">[FAILED] timed out waiting for endpoints
In [It] at: test/e2e/network/service.go:812</failure>
      <system-err>more output</system-err>
    </testcase>
    <testcase name="[It] [sig-network] Netpol NetworkPolicy between server and client should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
    <testcase name="[It] [sig-node] Pods should be updated [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"/></testcase>
    <testcase name="[SynchronizedAfterSuite]" classname="Kubernetes e2e suite" status="passed" time="0.1"></testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn reads_ginkgo_v2_counts_failures_and_selections() {
        let s = read(V2.as_bytes()).unwrap();
        assert_eq!(s.layout, Layout::GinkgoV2);
        assert_eq!((s.specs, s.passed, s.skipped, s.ran()), (4, 1, 2, 2));
        assert_eq!(s.failed.len(), 1);
        assert_eq!(
            s.failed[0].name,
            "[sig-network] Services should serve a basic endpoint from pods [Conformance]"
        );
        assert_eq!(
            s.failed[0].excerpt,
            "[FAILED] timed out waiting for endpoints | Expected <int>: 0"
        );
        assert_eq!(
            (
                s.conformance.listed,
                s.conformance.ran,
                s.conformance.skipped
            ),
            (3, 2, 1)
        );
        assert_eq!(
            s.conformance.skipped_examples,
            ["[sig-node] Pods should be updated [NodeConformance] [Conformance]"]
        );
        assert_eq!((s.network_policy.listed, s.network_policy.ran), (1, 0));
        assert_eq!(s.timestamp, Some("2025-06-02T09:15:01".parse().unwrap()));
    }

    #[test]
    fn reads_ginkgo_v1_with_failure_text_and_no_status() {
        let v1 = r#"<?xml version="1.0" encoding="UTF-8"?>
  <testsuite name="Kubernetes e2e suite" tests="3" failures="1" errors="0" time="10">
      <testcase name="[sig-apps] Daemon set [Serial] should rollback without unnecessary restarts [Conformance]" classname="Kubernetes e2e suite" time="5">
          <failure type="Failure">/workspace/framework.go:630&#xA;Aug 17 17:10:15.362: Conformance test suite needs a cluster with at least 2 nodes.&#xA;Expected</failure>
          <system-out>noise</system-out>
      </testcase>
      <testcase name="[sig-storage] Projected secret should be consumable [Conformance]" classname="Kubernetes e2e suite" time="4"></testcase>
      <testcase name="[sig-storage] In-tree Volumes [Slow]" classname="Kubernetes e2e suite" time="0"><skipped></skipped></testcase>
  </testsuite>"#;
        let s = read(v1.as_bytes()).unwrap();
        assert_eq!(s.layout, Layout::GinkgoV1);
        assert_eq!((s.specs, s.passed, s.skipped), (3, 1, 1));
        assert_eq!(
            s.failed[0].excerpt,
            "/workspace/framework.go:630 | Aug 17 17:10:15.362: Conformance test suite needs a cluster with at least 2 nodes. | Expected"
        );
        assert_eq!(s.timestamp, None);
    }

    #[test]
    fn a_failed_suite_node_is_a_failure_but_no_spec() {
        let xml = r#"<testsuites><testsuite name="x"><testcase name="[SynchronizedBeforeSuite]" status="failed"><failure message="cluster not ready" type="failed"/></testcase></testsuite></testsuites>"#;
        let s = read(xml.as_bytes()).unwrap();
        assert_eq!(s.specs, 0);
        assert_eq!(s.failed[0].name, "[SynchronizedBeforeSuite]");
        assert_eq!(s.failed[0].excerpt, "cluster not ready");
    }

    #[test]
    fn empty_and_broken_files_are_errors_naming_why() {
        let e = read("".as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a JUnit report: it has no <testsuite> element"
        );
        let e = read("<testsuites><testsuite><testcase name=\"a\"></testsuite>".as_bytes())
            .unwrap_err();
        assert!(
            e.to_string().starts_with("not well-formed XML at byte"),
            "{e}"
        );
    }

    #[test]
    fn long_failure_lines_are_cut() {
        let long = "x".repeat(400);
        let e = excerpt("", &format!("\n\n{long}\nsecond"));
        assert!(e.starts_with(&"x".repeat(300)));
        assert!(e.ends_with("… | second"), "{e}");
    }
}
