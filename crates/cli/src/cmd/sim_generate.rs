//! `scs-kaas sim generate`: write a large, valid scenario for benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::exit;

/// Arguments of `scs-kaas sim generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of nodes (three of them control plane when there are at least four).
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Number of pods, spread over Deployments in namespaces of about 1,000 pods.
    #[arg(long, default_value_t = 1000)]
    pub pods: usize,
    /// Seed for replica counts and images; the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file; standard output when absent.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Generate the scenario and write it.
pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    use scs_kaas_sim::scenario::generate;
    let scenario = match generate::generate(args.nodes, args.pods, args.seed) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(exit::USAGE));
        }
    };
    let text = generate::to_yaml(&scenario).context("cannot serialise the scenario")?;
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the scenario to {}", path.display()))?,
        None => out!("{text}"),
    }
    Ok(ExitCode::from(exit::OK))
}
