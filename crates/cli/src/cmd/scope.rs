//! `scs-kaas scope`: show a certificate scope (versions with validity, targets, testcases) and
//! export the built-in scopes (for a monitor's scope directory).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::civil::Date;
use scs_kaas_checks::registry;
use scs_kaas_core::scope::{Scope, builtin};

use crate::exit;

/// Subcommands of `scs-kaas scope`.
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Print a scope: versions with their validity on a date, targets, and testcases.
    Show(ShowArgs),
    /// Print a built-in scope's YAML exactly as embedded.
    Export(ExportArgs),
    /// List the built-in scopes.
    List,
}

/// Arguments of `scs-kaas scope show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A scope file, or the name of a built-in scope (see `scope list`).
    #[arg(value_name = "FILE|NAME")]
    scope: String,
    /// Reference date for version validity (YYYY-MM-DD; default: today, UTC).
    #[arg(long, value_name = "DATE")]
    date: Option<String>,
}

/// Arguments of `scs-kaas scope export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Name of a built-in scope.
    #[arg(value_name = "NAME")]
    name: String,
}

/// A loaded scope and, for a file, the directory its programs are relative to.
pub struct Loaded {
    /// The parsed scope.
    pub scope: Scope,
    /// The scope file's directory; `None` for a built-in scope.
    pub dir: Option<PathBuf>,
}

/// Load `FILE|NAME`: an existing file wins over a built-in name.
pub fn load(spec: &str) -> anyhow::Result<Loaded> {
    let path = Path::new(spec);
    if path.is_file() {
        let text =
            scs_kaas_core::input::read_bounded_text(path, scs_kaas_core::input::InputKind::Scope)?;
        let scope = Scope::parse(&path.display().to_string(), &text)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = dir.canonicalize().unwrap_or(dir);
        return Ok(Loaded {
            scope,
            dir: Some(dir),
        });
    }
    match builtin::find(spec) {
        Some(b) => Ok(Loaded {
            scope: b.load()?,
            dir: None,
        }),
        None => bail!(
            "`{spec}` is neither a scope file nor a built-in scope; built-in scopes: {}",
            builtin::ALL.map(|b| b.name).join(", ")
        ),
    }
}

/// Parse `--date`, defaulting to today (UTC).
pub fn parse_date(date: Option<&str>) -> anyhow::Result<Date> {
    match date {
        Some(d) => d
            .parse::<Date>()
            .with_context(|| format!("--date `{d}` is not a date; write it as YYYY-MM-DD")),
        None => Ok(jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()),
    }
}

/// Run a `scope` subcommand.
pub async fn run(command: ScopeCommand) -> anyhow::Result<ExitCode> {
    match command {
        ScopeCommand::Show(args) => {
            let loaded = load(&args.scope)?;
            let date = parse_date(args.date.as_deref())?;
            out!("{}", render(&loaded, date));
        }
        ScopeCommand::Export(args) => match builtin::find(&args.name) {
            Some(b) => out!("{}", b.yaml),
            None => bail!(
                "no built-in scope `{}`; built-in scopes: {}",
                args.name,
                builtin::ALL.map(|b| b.name).join(", ")
            ),
        },
        ScopeCommand::List => {
            for b in builtin::ALL {
                outln!("{:<22} {}", b.name, b.summary);
            }
        }
    }
    Ok(ExitCode::from(exit::OK))
}

/// The text of `scope show`.
pub fn render(loaded: &Loaded, date: Date) -> String {
    let s = &loaded.scope;
    let natives: Vec<&'static str> = registry::all().iter().map(|c| c.id()).collect();
    let mut out = String::new();
    out.push_str(&format!(
        "{}\n  uuid:   {}\n  url:    {}\n  format: {:?}\n",
        s.name,
        s.uuid.as_deref().unwrap_or("(none)"),
        s.url,
        s.format
    ));
    if !s.variables.is_empty() {
        let vars: Vec<String> = s
            .variables
            .iter()
            .map(|v| match &v.default {
                Some(d) => format!("{} (default {d})", v.name),
                None => format!("{} (required)", v.name),
            })
            .collect();
        out.push_str(&format!("  variables: {}\n", vars.join(", ")));
    }
    out.push_str(&format!("\nVersions on {date}:\n"));
    for (v, validity) in s.versions.iter().zip(s.validity_on(date)) {
        let status = if validity.explicit {
            validity.validity.to_string()
        } else {
            "not listed (deprecated; runs only with --version)".into()
        };
        let stable = match v.stabilized_at {
            Some(d) => format!(", stable since {d}"),
            None => String::new(),
        };
        out.push_str(&format!("  {}: {status}{stable}\n", v.name));
        if v.targets.is_empty() {
            out.push_str("    (no targets)\n");
        }
        for (target, ids) in &v.targets {
            out.push_str(&format!("    {target}: {}\n", ids.join(", ")));
        }
    }
    out.push_str("\nTestcases:\n");
    for tc in &s.testcases {
        let script = &s.scripts[tc.script];
        let how = if natives.contains(&tc.id.as_str()) {
            "native check".to_owned()
        } else {
            match (&script.executable, &loaded.dir) {
                (Some(exe), Some(_)) => format!("program {exe}"),
                (Some(exe), None) => format!("program {exe} (not shipped: missing)"),
                (None, _) => "manual (missing)".into(),
            }
        };
        out.push_str(&format!(
            "  {}\n    lifetime {}, section {}, attn {}, {how}\n",
            tc.id,
            tc.lifetime.as_str(),
            tc.section.as_deref().unwrap_or("-"),
            tc.attn
        ));
        if let Some(d) = &tc.description {
            out.push_str(&format!("    {d}\n"));
        }
    }
    if !s.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &s.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}
