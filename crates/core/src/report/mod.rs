//! The SCS report document (INTEROP.md §2): what `check` writes and monitors read.
//!
//! # Overview
//! - [`Report`] and friends are typed mirrors of the schema; [`Report::to_yaml`] writes it in the
//!   shape the Python tool writes (key order, `---`, unquoted naive UTC `checked_at`).
//! - [`parse_stream`] reads YAML (also multi-document, PyYAML style, the legacy `versions` form)
//!   and [`parse_json`] the JSON variant; both validate result values.
//! - [`junit`] renders run results as JUnit XML.

pub mod junit;
mod ordered;
mod time;

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::finding::Status;

pub use ordered::OrderedMap;

/// A whole report document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scope the report is about.
    pub spec: ReportSpec,
    /// When the report was written: naive UTC, microsecond precision.
    #[serde(with = "time::naive_timestamp")]
    pub checked_at: DateTime,
    /// The date used to select scope versions.
    #[serde(with = "time::date")]
    pub reference_date: Date,
    /// The subject under test (the monitor's account name).
    pub subject: String,
    /// How the run was invoked and what every program printed.
    pub run: Run,
    /// Legacy per-version results (reports before 2026-01-24); never written by us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<BTreeMap<String, BTreeMap<String, LegacyResult>>>,
}

/// `spec`: identifies the scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSpec {
    /// Scope uuid: the monitor's key for the scope.
    pub uuid: String,
    /// Scope display name.
    pub name: String,
    /// Scope URL.
    #[serde(default)]
    pub url: String,
}

/// `run`: the invocation of the check tool and of every program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Report identity (uuid4); monitors reject a second report with the same one.
    pub uuid: String,
    /// Command-line arguments of the check tool.
    #[serde(default)]
    pub argv: Vec<String>,
    /// The `-a` assignments (defaults are not included, like the reference).
    #[serde(default)]
    pub assignment: OrderedMap<String>,
    /// `--sections`, if given.
    #[serde(default)]
    pub sections: Option<Vec<String>>,
    /// `--version`, if given.
    #[serde(default)]
    pub forced_version: Option<String>,
    /// `--tests`, if given.
    #[serde(default)]
    pub forced_tests: Option<String>,
    /// Invocation uuid → invocation, in run order.
    #[serde(default)]
    pub invocations: OrderedMap<Invocation>,
}

/// One program run (or one native check, rendered as `scs-kaas native:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// Same uuid as the map key.
    pub id: String,
    /// Rendered command line: env prefix, executable, arguments.
    pub cmd: String,
    /// Legacy invocation-level result (old reports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<i64>,
    /// Testcase id → result, only for ids requested from this invocation.
    pub results: OrderedMap<ResultValue>,
    /// Exit status; 127 when the program could not be started.
    pub rc: i32,
    /// Standard output, one entry per line.
    #[serde(default)]
    pub stdout: Vec<String>,
    /// Standard error, one entry per line.
    #[serde(default)]
    pub stderr: Vec<String>,
    /// Lines (stdout and stderr) starting with `info`.
    #[serde(default)]
    pub info: u32,
    /// Lines starting with `warning`.
    #[serde(default)]
    pub warning: u32,
    /// Lines starting with `error`.
    #[serde(default)]
    pub error: u32,
    /// Lines starting with `critical`.
    #[serde(default)]
    pub critical: u32,
}

/// A result as the schema writes it: `1` PASS, `0` ABORT, `-1` FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultValue(pub Status);

impl Serialize for ResultValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i8(self.0.report_value())
    }
}

impl<'de> Deserialize<'de> for ResultValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        Status::from_report_value(v)
            .map(ResultValue)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "result value {v} is not one of 1 (PASS), 0 (ABORT), -1 (FAIL)"
                ))
            })
    }
}

/// One legacy `versions.<v>.<id>` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyResult {
    /// The result.
    pub result: ResultValue,
    /// The invocation that produced it.
    #[serde(default)]
    pub invocation: Option<String>,
    /// Earlier results superseded by this one (kept opaque).
    #[serde(default)]
    pub runnerups: Option<Vec<serde_json::Value>>,
}

/// A report that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The YAML text does not match the schema.
    #[error("report is not a valid SCS report: {0}")]
    Yaml(String),
    /// The JSON text does not match the schema.
    #[error("report is not a valid SCS report (JSON): {0}")]
    Json(#[from] serde_json::Error),
    /// A report that parses but contradicts itself.
    #[error("report is inconsistent: {0}")]
    Invalid(String),
    /// Serialization failed (should not happen for well-formed values).
    #[error("cannot write the report: {0}")]
    Write(String),
}

impl Report {
    /// The YAML document, starting with `---`, in the reference tool's key order.
    pub fn to_yaml(&self) -> Result<String, ReportError> {
        let mut opts = serde_saphyr::SerializerOptions::default();
        opts.prefer_block_scalars = false;
        let body = serde_saphyr::to_string_with_options(self, opts)
            .map_err(|e| ReportError::Write(e.to_string()))?;
        // The serializer quotes timestamp-like strings (right for user data). The two top-level
        // date fields must be plain YAML timestamps: top-level keys are the only lines at column 0.
        let mut out = String::with_capacity(body.len() + 4);
        out.push_str("---\n");
        for line in body.lines() {
            let line = unquote_top_level(line, "checked_at: ");
            out.push_str(&unquote_top_level(&line, "reference_date: "));
            out.push('\n');
        }
        Ok(out)
    }

    /// The JSON form (same fields, `checked_at` as a string).
    pub fn to_json(&self) -> Result<String, ReportError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Every testcase result across invocations; an id reported twice keeps the worst result.
    pub fn results(&self) -> BTreeMap<String, Status> {
        let mut out: BTreeMap<String, Status> = BTreeMap::new();
        for (_, inv) in self.run.invocations.iter() {
            for (id, value) in inv.results.iter() {
                out.entry(id.clone())
                    .and_modify(|s| *s = (*s).min(value.0))
                    .or_insert(value.0);
            }
        }
        out
    }

    /// Structural checks the types cannot express (invocation ids match their keys).
    pub fn validate(&self) -> Result<(), ReportError> {
        for (key, inv) in self.run.invocations.iter() {
            if *key != inv.id {
                return Err(ReportError::Invalid(format!(
                    "invocation key `{key}` differs from its `id` `{}`",
                    inv.id
                )));
            }
        }
        Ok(())
    }
}

fn unquote_top_level(line: &str, key: &str) -> String {
    match line.strip_prefix(key) {
        Some(rest)
            if rest.len() >= 2
                && ((rest.starts_with('\'') && rest.ends_with('\''))
                    || (rest.starts_with('"') && rest.ends_with('"'))) =>
        {
            format!("{key}{}", &rest[1..rest.len() - 1])
        }
        _ => line.to_owned(),
    }
}

/// Parse a YAML stream of one or more report documents.
pub fn parse_stream(text: &str) -> Result<Vec<Report>, ReportError> {
    crate::yaml_depth::check(text, "report").map_err(|e| ReportError::Yaml(e.to_string()))?;
    let reports: Vec<Report> =
        serde_saphyr::from_multiple(text).map_err(|e| ReportError::Yaml(e.to_string()))?;
    if reports.is_empty() {
        return Err(ReportError::Yaml("the text contains no document".into()));
    }
    for r in &reports {
        r.validate()?;
    }
    Ok(reports)
}

/// Parse the JSON variant (a single object).
pub fn parse_json(text: &str) -> Result<Report, ReportError> {
    let report: Report = serde_json::from_str(text)?;
    report.validate()?;
    Ok(report)
}

#[cfg(test)]
mod tests;
