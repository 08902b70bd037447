//! JUnit XML for CI systems: one `<testsuite>` per scope version, one `<testcase>` per testcase id.
//!
//! FAIL → `<failure>`, ABORT → `<error>`, missing or not selected → `<skipped>`; the element text
//! is the testcase's findings, one log line each.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::verdict::{TestcaseResult, VersionVerdict};

/// Escape text for XML attribute values and element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            // XML 1.0 forbids other control characters even when escaped.
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Render the JUnit document.
pub fn render(
    scope_name: &str,
    verdicts: &[VersionVerdict],
    results: &BTreeMap<String, TestcaseResult>,
) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_fail, mut all_err, mut all_skip) = (0, 0, 0, 0);
    for v in verdicts {
        let mut cases = String::new();
        let (mut tests, mut fail, mut err, mut skip) = (0, 0, 0, 0);
        for t in &v.targets {
            for (ids, kind) in [
                (&t.passed, Kind::Pass),
                (&t.failed, Kind::Fail),
                (&t.aborted, Kind::Abort),
                (&t.missing, Kind::Missing),
                (&t.skipped, Kind::Skipped),
            ] {
                for id in ids {
                    tests += 1;
                    let result = results.get(id);
                    let text = result
                        .map(|r| {
                            r.findings
                                .iter()
                                .map(|f| f.log_line())
                                .collect::<Vec<_>>()
                                .join("\n")
                        })
                        .unwrap_or_default();
                    let reason = result
                        .and_then(|r| r.reason.clone())
                        .or_else(|| {
                            result.and_then(|r| {
                                r.findings
                                    .iter()
                                    .find(|f| f.severity == crate::finding::Severity::Error)
                                    .map(|f| f.message.clone())
                            })
                        })
                        .unwrap_or_default();
                    let _ = write!(
                        cases,
                        "    <testcase name=\"{}\" classname=\"{}.{}.{}\">",
                        escape(id),
                        escape(scope_name),
                        escape(&v.version),
                        escape(&t.target)
                    );
                    match kind {
                        Kind::Pass => {
                            if !text.is_empty() {
                                let _ = write!(cases, "<system-out>{}</system-out>", escape(&text));
                            }
                        }
                        Kind::Fail => {
                            fail += 1;
                            let _ = write!(
                                cases,
                                "<failure type=\"FAIL\" message=\"{}\">{}</failure>",
                                escape(&reason),
                                escape(&text)
                            );
                        }
                        Kind::Abort => {
                            err += 1;
                            let _ = write!(
                                cases,
                                "<error type=\"ABORT\" message=\"{}\">{}</error>",
                                escape(&reason),
                                escape(&text)
                            );
                        }
                        Kind::Missing => {
                            skip += 1;
                            let _ = write!(
                                cases,
                                "<skipped message=\"missing: {}\"/>",
                                escape(&reason)
                            );
                        }
                        Kind::Skipped => {
                            skip += 1;
                            cases.push_str("<skipped message=\"not selected\"/>");
                        }
                    }
                    cases.push_str("</testcase>\n");
                }
            }
        }
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{} {}\" tests=\"{tests}\" failures=\"{fail}\" errors=\"{err}\" skipped=\"{skip}\">\n{cases}  </testsuite>",
            escape(scope_name),
            escape(&v.version)
        );
        all_tests += tests;
        all_fail += fail;
        all_err += err;
        all_skip += skip;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{all_tests}\" failures=\"{all_fail}\" errors=\"{all_err}\" skipped=\"{all_skip}\">\n{suites}</testsuites>\n",
        escape(scope_name)
    )
}

#[derive(Clone, Copy)]
enum Kind {
    Pass,
    Fail,
    Abort,
    Missing,
    Skipped,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Status};
    use crate::scope::Validity;
    use crate::verdict::{TargetVerdict, Verdict};

    #[test]
    fn one_suite_per_version_with_failure_text_from_findings() {
        let target = TargetVerdict {
            target: "main".into(),
            verdict: Verdict::Fail,
            passed: vec!["ok".into()],
            failed: vec!["bad".into()],
            aborted: vec!["gone".into()],
            missing: vec!["man".into()],
            skipped: vec![],
        };
        let verdicts = vec![
            VersionVerdict {
                version: "v1".into(),
                validity: Validity::Effective,
                explicit: true,
                targets: vec![target.clone()],
            },
            VersionVerdict {
                version: "v2".into(),
                validity: Validity::Draft,
                explicit: true,
                targets: vec![target],
            },
        ];
        let mut results = BTreeMap::new();
        results.insert(
            "bad".to_owned(),
            TestcaseResult {
                id: "bad".into(),
                status: Some(Status::Fail),
                findings: vec![Finding::error("VER-01", "1.27 < 1.28 & old").with_fix("upgrade")],
                reason: None,
                implementation: Some(crate::verdict::Implementation::Native),
            },
        );
        results.insert(
            "man".to_owned(),
            TestcaseResult {
                id: "man".into(),
                status: None,
                findings: vec![],
                reason: Some("manual check".into()),
                implementation: None,
            },
        );
        let xml = render("Scope <x>", &verdicts, &results);
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        assert!(xml.contains("<testsuite name=\"Scope &lt;x&gt; v1\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\">"), "{xml}");
        assert!(xml.contains("<failure type=\"FAIL\" message=\"1.27 &lt; 1.28 &amp; old\">ERROR: [VER-01] 1.27 &lt; 1.28 &amp; old (fix: upgrade)</failure>"), "{xml}");
        assert!(
            xml.contains("<skipped message=\"missing: manual check\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("tests=\"8\" failures=\"2\" errors=\"2\" skipped=\"2\""),
            "{xml}"
        );
    }

    #[test]
    fn escape_replaces_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"'\u{1b}x"),
            "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}x"
        );
    }
}
