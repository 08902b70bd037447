//! Benchmark of the simulated API server (issue 2) on a generated scenario: start-up time, peak
//! RSS of the server and the wall time for a kube client to list every pod in pages of 500.
//!
//! Run it by hand (release build):
//! `cargo run --release -p scs-kaas-sim --example sim_bench -- [NODES] [PODS]`
//! (defaults 5000 and 50000; targets: full list ≤ 1.5 s, server RSS ≤ 500 MiB), or
//! `... --example sim_bench -- --scenario FILE` for an existing scenario file, or
//! `... --example sim_bench -- --against KUBECONFIG [--rounds N] [--server-pid PID]` to only
//! list against a server already running (`bench/sim-pod-list.sh` runs it beside a checks
//! client), printing each round and the min/median/max wall time.
//!
//! The scenario is written as YAML (what `scs-kaas sim generate` writes) and a child process
//! (this example started with `serve`) loads it exactly as `scs-kaas sim serve` does: parse,
//! validate, build the objects, start the server and its controllers. Start-up is measured in
//! the child from before reading the file until the server answers; its peak RSS (`VmHWM`) is
//! measured apart from the client's. Each list round also reports how its wall time splits
//! into waiting for the server (request, server work, transfer) and decoding (and freeing)
//! the pods in the client, and the CPU time each process used: on a busy machine the wall
//! times vary with the load, the CPU times much less.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, ObjectList};

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // Linux reports these in clock ticks of 1/100 s (USER_HZ).
    Duration::from_millis(ticks * 10)
}

fn proc_status(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// Child: load and serve the scenario until the parent closes stdin.
async fn serve(scenario: PathBuf, kubeconfig: PathBuf) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let config = scs_kaas_sim::scenario::load(&scenario)?;
    let loaded = t0.elapsed();
    let load_peak = proc_status(std::process::id(), "VmHWM:");
    let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse()?).await?;
    let started = t0.elapsed();
    sim.write_kubeconfig(&kubeconfig)?;
    println!(
        "ready load_ms={} startup_ms={} peak_after_load={:?}",
        loaded.as_millis(),
        started.as_millis(),
        load_peak
    );
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
    Ok(())
}

/// List every pod in pages of 500 `rounds` times, returning each round's wall time, and print
/// each round's split: waiting for the server (request, server work, transfer) against the
/// client's decoding, and the CPU time of the server (when its process id is known) and of
/// this client.
async fn list_rounds(
    client: &kube::Client,
    rounds: usize,
    server_pid: Option<u32>,
) -> anyhow::Result<Vec<Duration>> {
    let node_count = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .len();
    // What `Api::<Pod>::list` does (`Client::request` = `request_text`, then serde_json), in
    // two steps so that each round also says how much of it is the server and the transfer
    // and how much the client's decoding into typed pods.
    let pods_url = kube::core::Request::new("/api/v1/pods");
    let mut out = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let server_cpu = server_pid.map(cpu_time);
        let client_cpu = cpu_time(std::process::id());
        let t = Instant::now();
        let (mut fetch, mut decode) = (Duration::ZERO, Duration::ZERO);
        let mut count = 0;
        let mut pages = 0;
        let mut bytes = 0;
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(500);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let step = Instant::now();
            let text = client.request_text(pods_url.list(&lp)?).await?;
            fetch += step.elapsed();
            bytes += text.len();
            let step = Instant::now();
            let page: ObjectList<Pod> = serde_json::from_str(&text)?;
            pages += 1;
            count += page.items.len();
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            // Freeing 500 typed pods and the page's text is the client's work too.
            drop((page.items, text));
            decode += step.elapsed();
            if token.is_none() {
                break;
            }
        }
        let wall = t.elapsed();
        let server = match (server_pid, server_cpu) {
            (Some(pid), Some(before)) => format!("{} ms", (cpu_time(pid) - before).as_millis()),
            _ => "?".into(),
        };
        println!(
            "round {round}: listed {count} pods ({} MB) in {pages} pages of 500 in {} ms \
             (server and transfer {} ms, client decoding and freeing {} ms; CPU used by the server {server}, \
             by the client {} ms; nodes: {node_count})",
            bytes / 1_000_000,
            wall.as_millis(),
            fetch.as_millis(),
            decode.as_millis(),
            (cpu_time(std::process::id()) - client_cpu).as_millis(),
        );
        out.push(wall);
    }
    Ok(out)
}

/// Min, median and max wall time of the rounds, in seconds.
fn summary(rounds: &[Duration]) -> String {
    let mut walls = rounds.to_vec();
    walls.sort();
    let secs = |d: Option<&Duration>| d.map_or("?".into(), |d| format!("{:.2}", d.as_secs_f64()));
    format!(
        "full list of all pods in pages of 500, {} rounds: min {} s, median {} s, max {} s",
        walls.len(),
        secs(walls.first()),
        secs(walls.get(walls.len() / 2)),
        secs(walls.last()),
    )
}

async fn client_from(kubeconfig: &std::path::Path) -> anyhow::Result<kube::Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("cannot read the kubeconfig {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// `--against KUBECONFIG [--rounds N] [--server-pid PID]`: only list, against a server that
/// is already running (what `bench/sim-pod-list.sh` uses).
async fn against(args: &[String]) -> anyhow::Result<()> {
    let mut kubeconfig = None;
    let mut rounds = 5;
    let mut server_pid = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--against" => kubeconfig = Some(PathBuf::from(value()?)),
            "--rounds" => {
                rounds = value()?
                    .parse()
                    .context("--rounds needs a positive number")?
            }
            "--server-pid" => {
                server_pid = Some(
                    value()?
                        .parse()
                        .context("--server-pid needs a process id")?,
                )
            }
            other => anyhow::bail!(
                "unknown argument {other:?}; usage: sim_bench --against KUBECONFIG [--rounds N] [--server-pid PID]"
            ),
        }
    }
    anyhow::ensure!(rounds > 0, "--rounds needs a positive number");
    let kubeconfig = kubeconfig.context("--against needs a KUBECONFIG")?;
    let client = client_from(&kubeconfig).await?;
    let rounds = list_rounds(&client, rounds, server_pid).await?;
    println!("{}", summary(&rounds));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve(args[1].clone().into(), args[2].clone().into()).await;
    }
    if args.first().map(String::as_str) == Some("--against") {
        return against(&args).await;
    }
    let dir = tempfile::tempdir()?;
    let scenario = if args.first().map(String::as_str) == Some("--scenario") {
        PathBuf::from(args.get(1).context("--scenario needs a FILE")?)
    } else {
        let nodes: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(5000);
        let pods: usize = args
            .get(1)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(50_000);
        let generated = scs_kaas_sim::scenario::generate::generate(nodes, pods, 1)?;
        let path = dir.path().join("generated.yaml");
        std::fs::write(
            &path,
            scs_kaas_sim::scenario::generate::to_yaml(&generated)?,
        )?;
        path
    };
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(std::env::current_exe()?)
        .arg("serve")
        .arg(&scenario)
        .arg(&kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut ready)?;
    anyhow::ensure!(ready.starts_with("ready"), "the server did not start");
    println!(
        "scenario {} ({} bytes); server {}",
        scenario.display(),
        std::fs::metadata(&scenario)?.len(),
        ready.trim()
    );
    println!(
        "server RSS after start: {} (peak {})",
        proc_status(pid, "VmRSS:"),
        proc_status(pid, "VmHWM:")
    );

    let client = client_from(&kubeconfig).await?;
    let rounds = list_rounds(&client, 3, Some(pid)).await?;
    println!("{}", summary(&rounds));
    println!(
        "server RSS after lists: {} (peak {})",
        proc_status(pid, "VmRSS:"),
        proc_status(pid, "VmHWM:")
    );
    drop(child.stdin.take());
    child.wait()?;
    Ok(())
}
