//! `scs-kaas monitor serve`: the compliance monitor.
//!
//! The server logs at `info` by default (one access line per request), unlike the other
//! subcommands, whose default is `warn`. The process-wide subscriber is set up before the
//! subcommand is known, so the monitor runs on a runtime of its own whose threads use the
//! monitor's subscriber (text or JSON, filter `SCS_KAAS_LOG` or `info,sqlx=warn`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use scs_kaas_monitor::clock::SystemClock;
use scs_kaas_monitor::state::{AppState, Config};

/// Subcommands of `scs-kaas monitor`.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Serve the SCS-compatible report API, status pages and badges.
    Serve(ServeArgs),
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Options of `scs-kaas monitor serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database: `sqlite://FILE` (created if missing; WAL, synchronous=FULL) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(
        long,
        env = "SCS_KAAS_MONITOR_DB",
        default_value = "sqlite://monitor.db"
    )]
    pub db: String,
    /// Bootstrap file with accounts, roles, groups, API-key hashes and SSH keys (INTEROP §4.7).
    #[arg(long)]
    pub bootstrap: PathBuf,
    /// Directory of scope YAML files, loaded in addition to the built-in scopes (a file with a
    /// built-in scope's uuid replaces it).
    #[arg(long)]
    pub scopes: Option<PathBuf>,
    /// Prefix of generated links (e.g. `https://monitor.example/`).
    #[arg(long, default_value = "/")]
    pub base_url: String,
    /// Largest accepted request body in bytes. Credentials are checked before a body is read;
    /// headers must arrive within 10 s, a body within 60 s, and all bodies in flight share 64 MiB.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub body_limit: usize,
    /// Log format on stderr; the level is `info` unless `SCS_KAAS_LOG` says otherwise.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Run a `monitor` subcommand.
pub async fn run(command: MonitorCommand) -> anyhow::Result<ExitCode> {
    match command {
        MonitorCommand::Serve(args) => {
            // A thread of its own with a runtime of its own, so every runtime thread can use
            // the monitor's subscriber; the caller's runtime only waits for it.
            let dispatch = log_dispatch(args.log_format);
            let server = std::thread::Builder::new()
                .name("monitor".into())
                .spawn(move || {
                    let _default = tracing::dispatcher::set_default(&dispatch);
                    let for_threads = dispatch.clone();
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .enable_all()
                        .on_thread_start(move || {
                            // Lives as long as the thread.
                            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
                        })
                        .build()
                        .context("cannot start the monitor's runtime")?;
                    runtime.block_on(serve(args))
                })
                .context("cannot start the monitor thread")?;
            tokio::task::spawn_blocking(move || server.join())
                .await
                .context("waiting for the monitor failed")?
                .map_err(|_| anyhow::anyhow!("the monitor thread panicked"))?
        }
    }
}

/// The monitor's log subscriber: `SCS_KAAS_LOG` or `info,sqlx=warn`, text or JSON, stderr.
fn log_dispatch(format: LogFormat) -> tracing::Dispatch {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCS_KAAS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(super::check::log_colour())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => tracing::Dispatch::new(builder.finish()),
        LogFormat::Json => tracing::Dispatch::new(builder.json().finish()),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let scopes_dir = args.scopes.clone();
    let config = Config {
        db_url: args.db.clone(),
        bootstrap: args.bootstrap.clone(),
        base_url: args.base_url.clone(),
        body_limit: args.body_limit,
        limits: Default::default(),
        scopes: Arc::new(move || scs_kaas_monitor::scopes::load(scopes_dir.as_deref())),
        clock: Arc::new(SystemClock),
    };
    let state = AppState::start(config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "scs-kaas monitor: listening on http://{} (database {})",
        listener.local_addr()?,
        if args.db.starts_with("sqlite:") {
            args.db.as_str()
        } else {
            "postgres"
        }
    );
    scs_kaas_monitor::server::serve(state, listener).await?;
    Ok(ExitCode::SUCCESS)
}
