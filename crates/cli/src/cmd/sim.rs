//! `scs-kaas sim`: the simulated Kubernetes API server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::exit;

/// Subcommands of `scs-kaas sim`.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a scenario over HTTPS until Ctrl-C/SIGTERM; writes a kubeconfig once serving.
    Serve(ServeArgs),
    /// Write a large, valid scenario (for benchmarks) to a file or standard output.
    Generate(super::sim_generate::GenerateArgs),
}

/// Arguments of `scs-kaas sim serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Scenario file (see `scenarios/` for examples).
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// Where to write the kubeconfig (one context per scenario user); it appears only once the
    /// server answers.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Current context of the written kubeconfig (default: the first admin user).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Run a `sim` subcommand.
pub async fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    match command {
        SimCommand::Serve(args) => serve(args).await,
        SimCommand::Generate(args) => super::sim_generate::run(args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = match scs_kaas_sim::scenario::load(&args.scenario) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(exit::USAGE));
        }
    };
    if let Some(user) = &args.user
        && !config.users.iter().any(|u| &u.name == user)
    {
        let known: Vec<&str> = config.users.iter().map(|u| u.name.as_str()).collect();
        eprintln!(
            "error: --user {user:?} is not a user of the scenario; choose one of: {}",
            known.join(", ")
        );
        return Ok(ExitCode::from(exit::USAGE));
    }
    let sim = scs_kaas_sim::server::start(config, args.listen).await?;
    if let Some(path) = &args.kubeconfig_out {
        let written = match &args.user {
            Some(user) => sim.write_kubeconfig_for(path, user),
            None => sim.write_kubeconfig(path),
        };
        written.with_context(|| format!("cannot write the kubeconfig to {}", path.display()))?;
        outln!("kubeconfig: {}", path.display());
    }
    outln!("serving {} (Ctrl-C to stop)", sim.url());
    shutdown_signal().await;
    sim.shutdown().await;
    Ok(ExitCode::from(exit::OK))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
