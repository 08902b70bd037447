//! Benchmark (run by hand): generate a large scenario, write it, load it back, and let the
//! controllers confirm it is settled.
//!
//! `cargo run --release -p scs-kaas-sim --example scenario_bench -- 5000 50000`

use std::time::Instant;

use scs_kaas_sim::controllers::memory::MemoryWorld;
use scs_kaas_sim::scenario::{generate, load};

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
    println!(
        "load: {:.3} s ({} objects)",
        start.elapsed().as_secs_f64(),
        config.objects.len()
    );

    let start = Instant::now();
    let world = MemoryWorld::new(config.objects);
    println!("in-memory world: {:.3} s", start.elapsed().as_secs_f64());
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
