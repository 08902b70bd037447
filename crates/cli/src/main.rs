//! `scs-kaas`: certify Kubernetes-as-a-Service offerings against the SCS KaaS standards.
//!
//! `main` only parses arguments and dispatches; every subcommand lives in its own file under
//! `cmd/`, and the exit codes are defined once in `exit.rs`.

#[macro_use]
mod out;
mod cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Certify Kubernetes-as-a-Service offerings against the Sovereign Cloud Stack KaaS standards.
#[derive(Debug, Parser)]
#[command(name = "scs-kaas", version, about, long_about = None)]
#[command(after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    /// More log output on stderr (repeat for debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a certification scope against a cluster: verdicts, SCS report, JUnit.
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Check(Box<cmd::check::CheckArgs>),
    /// Describe the native checks: rules, assignments, rights, what each can and cannot prove.
    Checks(cmd::checks::ChecksArgs),
    /// Show or export certificate scopes (built-in: scs-compatible-kaas, scs-kaas-extended).
    #[command(subcommand)]
    Scope(cmd::scope::ScopeCommand),
    /// Start a simulated compliant cluster, check it with both built-in scopes, show the verdicts.
    Demo(cmd::demo::DemoArgs),
    /// Remove what earlier runs left in a cluster (only objects labelled managed-by=scs-kaas).
    Cleanup(cmd::cleanup::CleanupArgs),
    /// The simulated Kubernetes API server (test bed and demo).
    #[command(subcommand)]
    Sim(cmd::sim::SimCommand),
    /// Sign, verify and upload SCS compliance reports (SSH signatures, monitor upload).
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
    /// Kubernetes versions: upstream status, offering checks, `.x` resolution, data refresh.
    #[command(subcommand)]
    Versions(cmd::versions::VersionsCommand),
    /// The compliance monitor: report API, status pages, badges, metrics.
    #[command(subcommand)]
    Monitor(cmd::monitor::MonitorCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Check(args) => cmd::check::run(*args).await,
            Command::Checks(args) => cmd::checks::run(args).await,
            Command::Scope(command) => cmd::scope::run(command).await,
            Command::Demo(args) => cmd::demo::run(args).await,
            Command::Cleanup(args) => cmd::cleanup::run(args).await,
            Command::Sim(command) => cmd::sim::run(command).await,
            Command::Monitor(command) => cmd::monitor::run(command).await,
            Command::Report(command) => cmd::report::run(command).await,
            Command::Versions(command) => cmd::versions::run(command).await,
        }
    });
    match result {
        Ok(code) => match out::failure() {
            None => code,
            Some(std::io::ErrorKind::BrokenPipe) => ExitCode::from(exit::BROKEN_PIPE),
            Some(kind) => {
                eprintln!("error: cannot write to standard output: {kind}");
                ExitCode::from(exit::USAGE)
            }
        },
        Err(err) => match err.downcast_ref::<cmd::interrupt::Interrupted>() {
            Some(stopped) => {
                eprintln!("{stopped}");
                ExitCode::from(stopped.0.exit_code())
            }
            None => {
                eprintln!("error: {err:#}");
                ExitCode::from(exit::USAGE)
            }
        },
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCS_KAAS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(cmd::check::log_colour())
        .with_writer(std::io::stderr)
        .init();
}
