//! `scs-kaas demo`: start the simulated cluster with the compliant scenario and show what it serves.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `scs-kaas demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Run the demo.
pub async fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the demo needs the simulated cluster, which is not built yet")
}
