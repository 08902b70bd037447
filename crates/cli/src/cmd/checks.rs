//! `scs-kaas checks [ID]`: what each native check establishes, how, and what it cannot prove.
//!
//! Everything printed comes from the [`Check`] trait (`description`, `rules`, `assignments`,
//! `access`, `details`), so the help a user reads is the one the code carries.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use scs_kaas_checks::{Check, Mode, registry};

use crate::exit;

/// Width the rule and assignment texts are wrapped to.
const WIDTH: usize = 100;

/// Arguments of `scs-kaas checks`.
#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// A native check id (e.g. node-distribution-check): print its rules, assignments, needed
    /// rights and long description. Without it, list every native check in one line each.
    #[arg(value_name = "ID")]
    id: Option<String>,
    /// Print the full description of every native check.
    #[arg(long, conflicts_with = "id")]
    all: bool,
}

/// Run `scs-kaas checks`.
pub async fn run(args: ChecksArgs) -> anyhow::Result<ExitCode> {
    let checks = registry::all();
    match (&args.id, args.all) {
        (Some(id), _) => match checks.iter().find(|c| c.id() == id) {
            Some(check) => out!("{}", details(check.as_ref())),
            None => bail!(
                "`{id}` is not a native check; native checks: {}",
                checks.iter().map(|c| c.id()).collect::<Vec<_>>().join(", ")
            ),
        },
        (None, true) => {
            let texts: Vec<String> = checks.iter().map(|c| details(c.as_ref())).collect();
            out!("{}", texts.join("\n"));
        }
        (None, false) => out!("{}", list(&checks)),
    }
    Ok(ExitCode::from(exit::OK))
}

fn mode(check: &dyn Check) -> &'static str {
    match check.mode() {
        Mode::ReadOnly => "read-only",
        Mode::Active => "active",
    }
}

/// Each check's id, mode and standard, its one-line description below, then how to read more.
pub fn list(checks: &[Box<dyn Check>]) -> String {
    let width = checks.iter().map(|c| c.id().len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "{:<width$}  {:<9}  {}\n",
            c.id(),
            mode(c.as_ref()),
            c.standard(),
        ));
        out.push_str(&wrap("    ", c.description()));
    }
    out.push_str("\n`scs-kaas checks ID` shows a check's rules, assignments, rights and what it can and cannot prove.\n");
    out
}

/// Everything known about one check, for people.
pub fn details(check: &dyn Check) -> String {
    let mut out = format!("{}\n", check.id());
    out.push_str(&format!("  standard: {}\n", check.standard()));
    out.push_str(&format!("  mode:     {}\n", mode(check)));
    out.push_str(&wrap("  summary:  ", check.description()));
    let access = check.access();
    if !access.is_empty() {
        let rights: Vec<String> = access
            .iter()
            .map(|a| {
                let resource = if a.group.is_empty() {
                    a.resource.to_owned()
                } else {
                    format!("{}.{}", a.resource, a.group)
                };
                let active = if a.active_only { " (active part)" } else { "" };
                format!("{} {resource}{active}", a.verb)
            })
            .collect();
        out.push_str(&wrap("  rights:   ", &rights.join(", ")));
    }
    out.push_str("  rules (severities of their findings):\n");
    let width = check.rules().iter().map(|r| r.id.len()).max().unwrap_or(0) + 2;
    let sev_width = check
        .rules()
        .iter()
        .map(|r| r.severity.len())
        .max()
        .unwrap_or(0)
        + 2;
    for rule in check.rules() {
        out.push_str(&wrap(
            &format!("    {:<width$}{:<sev_width$}", rule.id, rule.severity),
            rule.summary,
        ));
    }
    if check.assignments().is_empty() {
        out.push_str("  assignments: none (any -a key is for the scope's programs)\n");
    } else {
        out.push_str("  assignments (-a KEY=VALUE):\n");
        let width = check
            .assignments()
            .iter()
            .map(|a| a.key.len())
            .max()
            .unwrap_or(0);
        for a in check.assignments() {
            let default = if a.default.is_empty() {
                "not set"
            } else {
                a.default
            };
            out.push_str(&wrap(
                &format!("    {:<width$}  ", a.key),
                &format!("{}; accepts {}; default {default}", a.help, a.accepted),
            ));
        }
    }
    let long = check.details().trim_end();
    if !long.is_empty() {
        out.push('\n');
        out.push_str(long);
        out.push('\n');
    }
    out
}

/// `head` followed by `text` wrapped at [`WIDTH`], continuation lines indented under the text.
fn wrap(head: &str, text: &str) -> String {
    let indent = head.chars().count();
    let mut out = head.to_owned();
    let mut column = indent;
    let mut first = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !first && column + 1 + len > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else if !first {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
        first = false;
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_indents_continuations() {
        let text = "word ".repeat(40);
        let wrapped = wrap("    ND-01  ", &text);
        let lines: Vec<&str> = wrapped.lines().collect();
        assert!(lines.len() > 1);
        assert!(
            lines.iter().all(|l| l.chars().count() <= WIDTH),
            "{wrapped}"
        );
        assert!(lines[1].starts_with("           word"), "{wrapped}");
        assert_eq!(wrapped.split_whitespace().count(), 41);
    }

    #[test]
    fn every_native_check_is_listed_and_documented() {
        let checks = registry::all();
        let listing = list(&checks);
        for c in &checks {
            assert!(listing.contains(c.id()), "{listing}");
            let text = details(c.as_ref());
            assert!(text.starts_with(c.id()), "{text}");
            assert!(text.contains(c.standard()), "{text}");
            // Every rule with its severity, every assignment with default and accepted values.
            for r in c.rules() {
                assert!(
                    text.contains(&format!("    {:<6}", r.id)) && text.contains(r.severity),
                    "{}: {text}",
                    r.id
                );
            }
            for a in c.assignments() {
                assert!(
                    text.contains(&format!("    {}", a.key)),
                    "{}: {text}",
                    a.key
                );
                let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let accepted = a.accepted.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(flat.contains(&format!("accepts {accepted}")), "{text}");
            }
        }
        let storage = details(
            registry::find("default-storage-class-check")
                .unwrap()
                .as_ref(),
        );
        for key in [
            "storage_class_semantics",
            "multiple_default_severity",
            "storage_probe",
            "storage_timeout",
        ] {
            assert!(storage.contains(key), "{key}: {storage}");
        }
        let flat = storage.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("accepts error|warn; default error"),
            "{storage}"
        );
    }

    #[test]
    fn node_distribution_details_name_every_rule_and_the_limits() {
        let check = registry::find("node-distribution-check").unwrap();
        let text = details(check.as_ref());
        for rule in [
            "ND-01", "ND-02", "ND-03", "ND-04", "ND-05", "AA-01", "AA-02", "AA-03",
        ] {
            assert!(text.contains(&format!("    {rule}  ")), "{rule}: {text}");
            assert!(
                text.contains(&format!("    {rule}  WARN"))
                    || text.contains(&format!("    {rule}  FAIL")),
                "{rule}: {text}"
            );
        }
        assert!(text.contains("host_id_labels"), "{text}");
        assert!(text.contains("list csinodes.storage.k8s.io"), "{text}");
        assert!(text.contains("does **not** compare"), "{text}");
    }

    #[test]
    fn kubeapi_access_details_say_what_one_vantage_point_cannot_prove() {
        let check = registry::find("kubeapi-access-check").unwrap();
        let text = details(check.as_ref());
        for key in [
            "kubeapi_allowed_cidrs",
            "vantage_ip",
            "mgmt_kubeconfig",
            "mgmt_ip",
        ] {
            assert!(text.contains(key), "{key}: {text}");
        }
        assert!(
            text.contains("It can **never** prove a restriction is effective"),
            "{text}"
        );
        assert!(text.contains("API-03"), "{text}");
    }
}
