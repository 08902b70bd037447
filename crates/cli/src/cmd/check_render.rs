//! The human output of `scs-kaas check`: per version and target PASS / FAIL / TENTATIVE with
//! counts, then every failing, aborted or missing testcase with rule, reason and fix.

use std::collections::BTreeMap;

use scs_kaas_core::finding::{Severity, Status};
use scs_kaas_core::scope::Scope;
use scs_kaas_core::verdict::{TestcaseResult, Verdict, VersionVerdict};

use super::check::CheckArgs;

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn verdict(&self, v: Verdict) -> String {
        let code = match v {
            Verdict::Pass => "1;32",
            Verdict::Tentative => "1;33",
            Verdict::Fail => "1;31",
        };
        self.wrap(code, v.as_str())
    }
    fn status(&self, s: Option<Status>) -> String {
        match s {
            Some(Status::Fail) => self.wrap("31", "FAIL"),
            Some(Status::Abort) => self.wrap("33", "ABORT"),
            Some(Status::Pass) => self.wrap("32", "PASS"),
            None => self.wrap("33", "MISSING"),
        }
    }
    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
}

/// Render the table; `colour` only when stdout is a terminal.
pub fn table(
    subject: &str,
    scope: &Scope,
    args: &CheckArgs,
    verdicts: &[VersionVerdict],
    results: &BTreeMap<String, TestcaseResult>,
    colour: bool,
) -> String {
    let p = Paint(colour);
    let mut out = String::new();
    let filters = args.filters();
    let filters = if filters.is_empty() {
        String::new()
    } else {
        format!(" [{}]", filters.join("] ["))
    };
    let mut listed: Vec<String> = Vec::new();
    for v in verdicts {
        out.push_str(&format!(
            "{subject} {}{filters} {} ({}):\n",
            scope.name,
            v.version,
            if v.explicit {
                v.validity.to_string()
            } else {
                "forced".into()
            }
        ));
        if v.targets.is_empty() {
            out.push_str("  (no targets)\n");
        }
        for t in &v.targets {
            let judged = t.passed.iter().chain(&t.failed).chain(&t.aborted);
            let warned: usize = judged.map(|id| warnings(results, id)).sum();
            let counts = match warned {
                0 => t.counts(),
                1 => format!("{}, 1 warning", t.counts()),
                n => format!("{}, {n} warnings", t.counts()),
            };
            out.push_str(&format!(
                "  {:<10} {:<10} {counts}\n",
                t.target,
                p.verdict(t.verdict),
            ));
            // Failing, aborted and missing testcases, then passed ones with warnings.
            let passed_warned = t.passed.iter().filter(|id| warnings(results, id) > 0);
            for id in t
                .failed
                .iter()
                .chain(&t.aborted)
                .chain(&t.missing)
                .chain(passed_warned)
            {
                if !listed.contains(id) {
                    listed.push(id.clone());
                }
            }
        }
    }
    if !listed.is_empty() {
        out.push('\n');
    }
    for id in &listed {
        let r = results.get(id);
        let status = r.and_then(|r| r.status);
        out.push_str(&format!("{} {id}", p.status(status)));
        if let Some(tc) = scope.testcase(id) {
            if let Some(d) = &tc.description {
                out.push_str(&format!(": {}", d.lines().next().unwrap_or("")));
            }
            out.push('\n');
            if let Some(url) = &tc.url {
                out.push_str(&format!("    {}\n", p.dim(url)));
            }
        } else {
            out.push('\n');
        }
        if let Some(reason) = r.and_then(|r| r.reason.as_ref()) {
            out.push_str(&format!("    reason: {reason}\n"));
        }
        if let Some(by) = r.and_then(|r| r.implementation.as_ref()) {
            out.push_str(&format!("    decided by: {by}\n"));
        }
        for f in r.map(|r| r.findings.as_slice()).unwrap_or(&[]) {
            if f.severity == Severity::Info {
                continue;
            }
            out.push_str(&format!(
                "    {} [{}] {}",
                f.severity.prefix(),
                f.rule,
                f.message
            ));
            if let Some(o) = &f.object {
                out.push_str(&format!(" ({o})"));
            }
            // A warning is one line (rule, message, fix); an error keeps its fix below.
            match (&f.fix, f.severity) {
                (Some(fix), Severity::Warn) => out.push_str(&format!("; fix: {fix}\n")),
                (Some(fix), _) => out.push_str(&format!("\n      fix: {fix}\n")),
                (None, _) => out.push('\n'),
            }
        }
    }
    out.push_str(&decided_by(results));
    let overall = scs_kaas_core::verdict::judge_overall(verdicts);
    let total: usize = listed.iter().map(|id| warnings(results, id)).sum();
    let warned = match total {
        0 => String::new(),
        1 => " (1 warning)".to_owned(),
        n => format!(" ({n} warnings)"),
    };
    out.push_str(&format!(
        "\nOverall ({}): {}{warned}\n",
        overall.basis(),
        p.verdict(overall.verdict)
    ));
    out
}

/// How many WARN findings the result of `id` carries.
fn warnings(results: &BTreeMap<String, TestcaseResult>, id: &str) -> usize {
    results.get(id).map_or(0, |r| {
        r.findings
            .iter()
            .filter(|f| f.severity == Severity::Warn)
            .count()
    })
}

/// Which implementation decided which testcases, one line each (`  native check: a, b`), under
/// a `Decided by:` heading; empty when nothing ran.
fn decided_by(results: &BTreeMap<String, TestcaseResult>) -> String {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (id, r) in results {
        if let Some(by) = &r.implementation {
            groups.entry(by.to_string()).or_default().push(id);
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nDecided by:\n");
    for (by, ids) in groups {
        out.push_str(&format!("  {by}: {}\n", ids.join(", ")));
    }
    out
}
