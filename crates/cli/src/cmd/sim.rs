//! `scs-kaas sim`: the simulated Kubernetes API server.

use std::process::ExitCode;

use clap::Subcommand;

/// Subcommands of `scs-kaas sim`.
#[derive(Debug, Subcommand)]
pub enum SimCommand {}

/// Run a `sim` subcommand.
pub async fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
