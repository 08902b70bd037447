//! `scs-kaas monitor serve`: the compliance monitor.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use scs_kaas_monitor::clock::SystemClock;
use scs_kaas_monitor::state::{AppState, Config};

/// Subcommands of `scs-kaas monitor`.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Serve the SCS-compatible report API, status pages and badges.
    Serve(ServeArgs),
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
    /// Largest accepted request body in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub body_limit: usize,
}

/// Run a `monitor` subcommand.
pub async fn run(command: MonitorCommand) -> anyhow::Result<ExitCode> {
    match command {
        MonitorCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let scopes_dir = args.scopes.clone();
    let config = Config {
        db_url: args.db.clone(),
        bootstrap: args.bootstrap.clone(),
        base_url: args.base_url.clone(),
        body_limit: args.body_limit,
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
