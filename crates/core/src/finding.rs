//! The outcome vocabulary shared by every check, the runner, reports and the monitor.

use serde::{Deserialize, Serialize};

/// The verdict of one check (one SCS testcase).
///
/// Maps onto the SCS report result values: PASS = 1, ABORT = 0, FAIL = -1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// A MUST-level criterion is demonstrably violated.
    Fail,
    /// The check could not judge (no permission, missing data, timeout): never folded into PASS.
    Abort,
    /// Every MUST-level criterion is demonstrably met (warnings may still be attached).
    Pass,
}

impl Status {
    /// The integer the SCS report schema uses for this status.
    pub fn report_value(self) -> i8 {
        match self {
            Status::Pass => 1,
            Status::Abort => 0,
            Status::Fail => -1,
        }
    }

    /// The status for an SCS report integer, if it is one of -1, 0, 1.
    pub fn from_report_value(value: i64) -> Option<Status> {
        match value {
            1 => Some(Status::Pass),
            0 => Some(Status::Abort),
            -1 => Some(Status::Fail),
            _ => None,
        }
    }

    /// The word the SCS runner parses from a script's stdout (`id: PASS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Abort => "ABORT",
            Status::Fail => "FAIL",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a finding matters; rendered as the `INFO:`/`WARNING:`/`ERROR:` line prefixes of SCS scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Inventory, measurement or context without a threshold.
    Info,
    /// A SHOULD/RECOMMENDED criterion unmet, or a deadline approaching.
    Warn,
    /// A MUST-level criterion violated, or the reason a check could not judge.
    Error,
}

impl Severity {
    /// The log-line prefix SCS tooling counts (`INFO`, `WARNING`, `ERROR`).
    pub fn prefix(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARNING",
            Severity::Error => "ERROR",
        }
    }
}

/// One observation of a check: which rule, what was seen, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule identifier from CHECKS.md, e.g. `VER-03` or `SC-01`.
    pub rule: String,
    /// How much the finding matters.
    pub severity: Severity,
    /// What was seen, in one sentence a person can act on.
    pub message: String,
    /// How to fix it, when there is something to fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The object the finding is about (`namespace/kind/name`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl Finding {
    /// A finding with the given rule, severity and message and no fix or object.
    pub fn new(rule: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            fix: None,
            object: None,
        }
    }

    /// An informational finding.
    pub fn info(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(rule, Severity::Info, message)
    }

    /// A warning finding.
    pub fn warn(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(rule, Severity::Warn, message)
    }

    /// An error finding.
    pub fn error(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(rule, Severity::Error, message)
    }

    /// Attach how to fix it.
    #[must_use]
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Attach the object the finding is about.
    #[must_use]
    pub fn with_object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// The finding as one SCS-style log line: `WARNING: [VER-03] message (fix: ...)`.
    pub fn log_line(&self) -> String {
        let mut line = format!(
            "{}: [{}] {}",
            self.severity.prefix(),
            self.rule,
            self.message
        );
        if let Some(object) = &self.object {
            line.push_str(&format!(" (object: {object})"));
        }
        if let Some(fix) = &self.fix {
            line.push_str(&format!(" (fix: {fix})"));
        }
        line
    }
}

/// What one check run concluded: a status and the findings behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The verdict.
    pub status: Status,
    /// Everything the check observed, in the order it observed it.
    pub findings: Vec<Finding>,
}

impl Outcome {
    /// Derive the status from findings: FAIL if any finding is an error, otherwise PASS.
    ///
    /// Checks that need ABORT construct it with [`Outcome::abort`].
    pub fn from_findings(findings: Vec<Finding>) -> Self {
        let status = if findings.iter().any(|f| f.severity == Severity::Error) {
            Status::Fail
        } else {
            Status::Pass
        };
        Outcome { status, findings }
    }

    /// An ABORT with one error finding naming why the check could not judge.
    pub fn abort(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Outcome {
            status: Status::Abort,
            findings: vec![Finding::error(rule, reason)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_values_round_trip_and_reject_others() {
        for s in [Status::Pass, Status::Abort, Status::Fail] {
            assert_eq!(Status::from_report_value(s.report_value().into()), Some(s));
        }
        assert_eq!(Status::from_report_value(2), None);
    }

    #[test]
    fn outcome_fails_on_error_and_passes_on_warnings() {
        let pass = Outcome::from_findings(vec![Finding::warn("VER-03", "soon")]);
        assert_eq!(pass.status, Status::Pass);
        let fail = Outcome::from_findings(vec![
            Finding::info("X", "i"),
            Finding::error("VER-03", "old"),
        ]);
        assert_eq!(fail.status, Status::Fail);
    }

    #[test]
    fn log_line_names_rule_object_and_fix() {
        let f = Finding::error("SC-01", "no default class")
            .with_object("sc/x")
            .with_fix("annotate one");
        assert_eq!(
            f.log_line(),
            "ERROR: [SC-01] no default class (object: sc/x) (fix: annotate one)"
        );
    }
}
