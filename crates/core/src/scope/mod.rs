//! SCS certificate scopes (`scs-compatible-kaas.yaml`): what must be tested, by which program,
//! and which scope version is valid on which date (INTEROP.md §1).
//!
//! # Overview
//! - [`Scope::parse`] reads the current format and the two 2024 formats; every problem is a
//!   [`ScopeError`] at `file:line:column`.
//! - [`Scope::validity_on`] applies the timeline to a date (INTEROP.md §1.6).
//! - [`template`] renders `args`/`env` templates and splits command lines like a POSIX shell.
//! - [`builtin`] holds the scopes embedded in the binary.
//!
//! The model is read-only after parsing; the runner and the monitor both consume it.

pub mod builtin;
mod error;
mod legacy;
mod parse;
pub mod template;
mod yaml;

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;

pub use error::ScopeError;
pub use yaml::Pos;

/// The key of the target that decides certification.
pub const MAIN_TARGET: &str = "main";

/// Which schema generation a scope file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Since 2026-01: top-level `scripts`, module `targets` lists.
    Current,
    /// 2024-08 … 2026-01: `modules[].run` + `modules[].testcases` with `tags`, version `targets` by tag.
    Modules2024,
    /// 2024-03 … 2024-08: `versions[].standards[].check_tools|checks`, no timeline.
    Standards2024,
}

/// A parsed certificate scope.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    /// Stable identity used in reports (`spec.uuid`) and by monitors; absent in the oldest format.
    pub uuid: Option<String>,
    /// Display name, e.g. `SCS-compatible KaaS`.
    pub name: String,
    /// Canonical URL of the scope file.
    pub url: String,
    /// Schema generation of the source file.
    pub format: Format,
    /// Variables in declaration order.
    pub variables: Vec<Variable>,
    /// Check programs in file order; testcases refer to them by index.
    pub scripts: Vec<Script>,
    /// Testcases in file order.
    pub testcases: Vec<Testcase>,
    /// Modules in file order.
    pub modules: Vec<Module>,
    /// Versions in file order (monitors assume most recent first).
    pub versions: Vec<Version>,
    /// Timeline entries in file order.
    pub timeline: Vec<TimelineEntry>,
    /// Another scope that must be held first (not enforced, like the reference).
    pub prerequisite: Option<Prerequisite>,
    /// Things the loader accepted but that have no effect, to be shown to the user.
    pub notes: Vec<String>,
}

/// A variable the subject assigns with `-a name=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    /// Variable name as used in `{name}` templates.
    pub name: String,
    /// The default; `None` means the user must assign it.
    pub default: Option<String>,
}

/// A check program that owns testcases; without an executable its testcases are manual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    /// Position in the file, 0-based (the order in which programs run).
    pub index: usize,
    /// Path relative to the scope file's directory; `None` for a manual check.
    pub executable: Option<String>,
    /// Argument template (split with shell rules after rendering).
    pub args: Option<String>,
    /// Environment templates, in file order.
    pub env: Vec<(String, String)>,
    /// Ids of the testcases this program decides, in file order.
    pub testcases: Vec<String>,
}

/// How long a result stays valid in a monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifetime {
    /// Rest of the day and the next day.
    Day,
    /// Until the end of the following calendar week (the default).
    Week,
    /// Until the end of the following month.
    Month,
    /// Until the end of the following quarter.
    Quarter,
    /// About a year and two months.
    Year,
    /// Never expires (2025 KaaS scope, CNCF conformance; the reference of the time used +1000 years).
    Infinite,
}

impl Lifetime {
    /// All lifetimes with their YAML spelling.
    pub const ALL: [(Lifetime, &'static str); 6] = [
        (Lifetime::Day, "day"),
        (Lifetime::Week, "week"),
        (Lifetime::Month, "month"),
        (Lifetime::Quarter, "quarter"),
        (Lifetime::Year, "year"),
        (Lifetime::Infinite, "infinite"),
    ];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(l, _)| *l == self)
            .map(|(_, s)| *s)
            .unwrap_or("week")
    }
}

/// One testcase: the unit results are reported for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Testcase {
    /// Unique id within the scope; the key in report `results`.
    pub id: String,
    /// Result lifetime (`week` when the file says nothing).
    pub lifetime: Lifetime,
    /// Section label used by `--sections`.
    pub section: Option<String>,
    /// Short text (markdown).
    pub description: Option<String>,
    /// Link to the normative text.
    pub url: Option<String>,
    /// Index into [`Scope::scripts`] of the program that decides it.
    pub script: usize,
    /// Number of stable versions whose `main` target contains it (monitor ordering, INTEROP §1.8).
    pub attn: u32,
}

/// A module: a named bundle of targets, included by versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// Unique id referenced by `versions[].include`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Documentation link.
    pub url: Option<String>,
    /// Descriptive parameters (name → description), shown only.
    pub parameters: Vec<(String, String)>,
    /// Target name → testcase ids, in file order.
    pub targets: Vec<(String, Vec<String>)>,
}

/// A module included by a version, with optional parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Include {
    /// Module id.
    pub module: String,
    /// Parameters given at inclusion (displayed; not passed to programs, like the reference).
    pub parameters: Vec<(String, String)>,
}

/// A scope version, e.g. `v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// Version name, unique.
    pub name: String,
    /// Included modules in file order.
    pub include: Vec<Include>,
    /// When the version was frozen; `Some` makes it stable.
    pub stabilized_at: Option<Date>,
    /// Target name → sorted union of the target's testcase ids over all included modules.
    pub targets: BTreeMap<String, Vec<String>>,
}

impl Version {
    /// Whether the version is stable (has `stabilized_at`).
    pub fn is_stable(&self) -> bool {
        self.stabilized_at.is_some()
    }

    /// Every testcase id in any target, sorted and deduplicated.
    pub fn all_testcases(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.targets.values().flatten().cloned().collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The target a testcase belongs to (the last target in name order wins, like the reference).
    pub fn target_of(&self, id: &str) -> Option<&str> {
        self.targets
            .iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == id))
            .map(|(t, _)| t.as_str())
            .next_back()
    }
}

/// The status a timeline entry gives a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// Certifiable.
    Effective,
    /// Certifiable but about to expire.
    Warn,
    /// Testable, not certifiable.
    Draft,
    /// Testable, not certifiable (also the implicit state of unlisted versions).
    Deprecated,
}

impl Validity {
    /// All codes with their YAML spelling.
    pub const ALL: [(Validity, &'static str); 4] = [
        (Validity::Effective, "effective"),
        (Validity::Warn, "warn"),
        (Validity::Draft, "draft"),
        (Validity::Deprecated, "deprecated"),
    ];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, s)| *s)
            .unwrap_or("deprecated")
    }
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dated timeline entry: from `date` until the next later entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// First day the entry applies.
    pub date: Date,
    /// Version name → code, in file order.
    pub versions: Vec<(String, Validity)>,
}

/// A scope that must be held first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prerequisite {
    /// Its display name.
    pub name: Option<String>,
    /// Its URL.
    pub url: Option<String>,
}

/// A version's validity on a given date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionValidity {
    /// Version name.
    pub version: String,
    /// The effective code (`deprecated` when not listed).
    pub validity: Validity,
    /// Whether the timeline lists the version on that date; only such versions run by default.
    pub explicit: bool,
}

impl Scope {
    /// Parse a scope file's text; `file` names it in error messages.
    pub fn parse(file: &str, text: &str) -> Result<Scope, ScopeError> {
        let root = yaml::load(file, text)?;
        parse::scope(file, &root)
    }

    /// The testcase with this id.
    pub fn testcase(&self, id: &str) -> Option<&Testcase> {
        self.testcases.iter().find(|t| t.id == id)
    }

    /// The version with this name.
    pub fn version(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// Validity of every version on `date`, in version (file) order (INTEROP.md §1.6).
    ///
    /// The entry with the greatest date ≤ `date` decides (ties: the first in file order); a version
    /// it does not list is `deprecated` without explicit validity.
    pub fn validity_on(&self, date: Date) -> Vec<VersionValidity> {
        let mut current: Option<&TimelineEntry> = None;
        for entry in &self.timeline {
            if entry.date <= date && current.is_none_or(|c| entry.date > c.date) {
                current = Some(entry);
            }
        }
        self.versions
            .iter()
            .map(|v| {
                let code = current.and_then(|e| {
                    e.versions
                        .iter()
                        .find(|(name, _)| *name == v.name)
                        .map(|(_, c)| *c)
                });
                VersionValidity {
                    version: v.name.clone(),
                    validity: code.unwrap_or(Validity::Deprecated),
                    explicit: code.is_some(),
                }
            })
            .collect()
    }

    /// Variable defaults overlaid with the user's assignments; errors name missing variables.
    pub fn assignment(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for var in &self.variables {
            match (given.get(&var.name), &var.default) {
                (Some(v), _) => {
                    out.insert(var.name.clone(), v.clone());
                }
                (None, Some(d)) => {
                    out.insert(var.name.clone(), d.clone());
                }
                (None, None) => missing.push(var.name.clone()),
            }
        }
        for (k, v) in given {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(format!(
                "scope `{}` needs a value for {}: pass {}",
                self.name,
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                missing
                    .iter()
                    .map(|m| format!("-a {m}=VALUE"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        }
    }
}

#[cfg(test)]
mod tests;
