//! Benchmark (run by hand): generate a large scenario, write it, load it back into the server's
//! store, and time one reconcile of each controller against it (what the server's controller
//! runner does after start; a settled scenario gives no actions).
//!
//! `cargo run --release -p scs-kaas-sim --example scenario_bench -- 5000 50000`

use std::time::Instant;

use scs_kaas_sim::resources::by_kind;
use scs_kaas_sim::scenario::{generate, load};
use scs_kaas_sim::store::{Store, WorldView};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().map_or(Ok(5000), |a| a.parse())?;
    let pods: usize = args.next().map_or(Ok(50_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("large.yaml");

    let start = Instant::now();
    let scenario = generate::generate(nodes, pods, 1)?;
    let text = generate::to_yaml(&scenario)?;
    std::fs::write(&path, &text)?;
    println!(
        "generate {nodes} nodes / {pods} pods: {:.3} s ({} bytes of YAML)",
        start.elapsed().as_secs_f64(),
        text.len()
    );

    let start = Instant::now();
    let config = load(&path)?;
    println!("parse and check: {:.3} s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let mut store = Store::new(scs_kaas_sim::store::DEFAULT_HISTORY);
    let now = jiff::Timestamp::now();
    let mut count = 0;
    let mut failed = None;
    if let Some(source) = &config.source {
        source.emit(&mut |obj| {
            count += 1;
            let kind = obj["kind"].as_str().unwrap_or("").to_string();
            let stored = by_kind(&kind)
                .ok_or_else(|| format!("unknown kind {kind}"))
                .and_then(|res| {
                    store
                        .create_initial(res, obj, now)
                        .map_err(|e| e.message.clone())
                });
            if let Err(err) = stored
                && failed.is_none()
            {
                failed = Some(err);
            }
        });
    }
    if let Some(err) = failed {
        anyhow::bail!("an object was refused: {err}");
    }
    let bytes: usize = (0..scs_kaas_sim::resources::RESOURCES.len())
        .flat_map(|res| store.table(res).values())
        .map(|e| e.bytes.len())
        .sum();
    println!(
        "build and store: {:.3} s ({count} objects, {} MiB of JSON)",
        start.elapsed().as_secs_f64(),
        bytes >> 20
    );

    let world = WorldView(&store);
    let now = jiff::Timestamp::now();
    for controller in &config.controllers {
        let start = Instant::now();
        let actions = controller.reconcile(&world, now);
        println!(
            "  {:<20} {:>8.3} s, {} actions",
            controller.name(),
            start.elapsed().as_secs_f64(),
            actions.len()
        );
    }
    Ok(())
}
