//! Benchmark of `version-policy-check` against the simulated cluster (issue 3: ≤ 100 ms wall end
//! to end, release data loaded once, no network).
//!
//! Run it by hand, release build, the binary first (the CLI half spawns it):
//! `cargo build --release -p scs-kaas && cargo run --release -p scs-kaas-checks --example version_policy_bench -- [RUNS]`
//! (default 30 runs; `--bin PATH` names another `scs-kaas` binary).
//!
//! The shipped `compliant` scenario is served in-process over HTTPS on a loopback port. Measured:
//! 1. loading the release data (the built-in snapshot: parse and index);
//! 2. the check through the `Check` trait with one kube client, as the runner calls it: the first
//!    run (includes the one-time data load) and then RUNS runs;
//! 3. `scs-kaas check --scope scs-kaas-extended --tests version-policy-check` as a child process,
//!    RUNS times: process start, kubeconfig, TLS, pre-flight access review, scope, data, check,
//!    report.
//!
//! Every run must PASS (the scenario is judged as of 2026-11-22 against an empty cache directory,
//! so the snapshot decides and nothing is fetched); a different verdict stops the benchmark.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use scs_kaas_checks::{CheckContext, registry, release_data};
use scs_kaas_core::finding::Status;

/// The day the shipped scenarios describe.
const DATE: &str = "2026-11-22";

fn summary(label: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "{label:<44} n={:<4} min {:>10}  median {:>10}  max {:>10}",
        times.len(),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}

/// `target/release/scs-kaas` next to `target/release/examples/` unless `--bin` says otherwise.
fn default_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory from this example's path")?;
    Ok(dir.join(format!("scs-kaas{}", std::env::consts::EXE_SUFFIX)))
}

fn parse_args() -> anyhow::Result<(usize, PathBuf)> {
    let mut runs = 30;
    let mut binary = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bin" => binary = Some(PathBuf::from(args.next().context("--bin needs a path")?)),
            n => {
                runs = n.parse().with_context(|| {
                    format!("`{n}` is not a number of runs (usage: [RUNS] [--bin PATH])")
                })?;
                if runs == 0 {
                    bail!("RUNS must be at least 1");
                }
            }
        }
    }
    let binary = match binary {
        Some(b) => b,
        None => default_binary()?,
    };
    if !binary.is_file() {
        bail!(
            "{} does not exist: build it first with `cargo build --release -p scs-kaas` or pass --bin PATH",
            binary.display()
        );
    }
    Ok((runs, binary))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (runs, binary) = parse_args()?;
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/compliant.yaml");
    let config = scs_kaas_sim::scenario::load(&scenario)
        .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.display()))?;
    let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse()?).await?;
    let work = tempfile::tempdir()?;
    let kubeconfig = work.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig)?;
    // Empty: the built-in snapshot decides, nothing is fetched.
    let cache = work.path().join("cache");
    std::fs::create_dir(&cache)?;
    println!(
        "version-policy-check on the compliant scenario ({} nodes) at {}, {runs} runs, judged as of {DATE}",
        sim.count("Node"),
        sim.url()
    );

    // 1. The data load alone (what the first check of a process pays once).
    let mut load = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let loaded = release_data::load_uncached(Some(&cache));
        load.push(start.elapsed());
        std::hint::black_box(loaded);
    }
    summary("release data load (snapshot parse + index)", &mut load);

    // 2. Through the Check trait, one client, data loaded once per process.
    let kube_config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let ctx = CheckContext {
        client: kube::Client::try_from(kube_config)?,
        kubeconfig: Some(kubeconfig.clone()),
        args: BTreeMap::new(),
        now: format!("{DATE}T10:00:00Z").parse()?,
        deadline: Duration::from_secs(60),
        run_id: "0bench00".into(),
        cache_dir: Some(cache.clone()),
        denied: Vec::new(),
    };
    let check = registry::find("version-policy-check").context("check not registered")?;
    let start = Instant::now();
    let first = check.run(&ctx).await;
    let first_time = start.elapsed();
    if first.status != Status::Pass {
        bail!(
            "expected PASS, got {:?}: {:?}",
            first.status,
            first.findings
        );
    }
    println!(
        "{:<44} {:.2} ms (new TLS connection, data load)",
        "Check trait, first run",
        first_time.as_secs_f64() * 1000.0
    );
    let mut trait_runs = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let o = check.run(&ctx).await;
        trait_runs.push(start.elapsed());
        if o.status != Status::Pass {
            bail!("expected PASS, got {:?}: {:?}", o.status, o.findings);
        }
    }
    summary("Check trait, later runs", &mut trait_runs);

    // 3. The CLI as a user runs it, one process per run.
    let mut cli = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = tokio::process::Command::new(&binary)
            .arg("check")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args([
                "--scope",
                "scs-kaas-extended",
                "--tests",
                "version-policy-check",
            ])
            .args(["--date", DATE, "--output", "json", "--cache-dir"])
            .arg(&cache)
            .output()
            .await
            .with_context(|| format!("cannot run {}", binary.display()))?;
        cli.push(start.elapsed());
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() != Some(0) || !stdout.contains("\"verdict\": \"PASS\"") {
            bail!(
                "scs-kaas check exited {:?}:\n{stdout}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    summary("scs-kaas check (process, end to end)", &mut cli);
    sim.shutdown().await;
    Ok(())
}
