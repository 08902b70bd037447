//! `scs-kaas demo`: start the simulated cluster with the compliant scenario and show what it serves.
//!
//! The demo is the newcomer's first contact: one command, no cluster needed. It starts the
//! simulated API server in-process, talks to it through the real `kube` client (exactly as the
//! checks do), and prints what a provider's cluster would show.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use scs_kaas_sim::server::RunningSim;

use crate::exit;

/// The shipped compliant scenario, embedded so the demo works from any directory.
const COMPLIANT: &str = include_str!("../../../../scenarios/compliant.yaml");

/// Arguments of `scs-kaas demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario file to simulate instead of the shipped compliant one (see docs/scenario-format.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// Also write a kubeconfig for the simulated cluster here (for kubectl).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,

    /// Keep the simulated cluster running after the tour until Ctrl-C, so you can use kubectl.
    #[arg(long)]
    pub serve: bool,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Run the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.scenario {
        Some(path) => scs_kaas_sim::scenario::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => scs_kaas_sim::scenario::parse(COMPLIANT, "scenarios/compliant.yaml")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let scenario_name = config.name.clone();
    let sim = scs_kaas_sim::server::start(config, args.listen)
        .await
        .context("cannot start the simulated cluster")?;
    println!(
        "Simulated cluster {scenario_name:?} serving at {}",
        sim.url()
    );

    let client = client_for(&sim).await?;
    tour(&client).await?;

    if let Some(path) = &args.kubeconfig_out {
        sim.write_kubeconfig(path)
            .with_context(|| format!("cannot write the kubeconfig to {}", path.display()))?;
        println!("\nKubeconfig written to {}", path.display());
    }
    if args.serve {
        match &args.kubeconfig_out {
            Some(path) => println!(
                "Try: kubectl --kubeconfig {} get nodes -o wide",
                path.display()
            ),
            None => println!("(add --kubeconfig-out PATH to use kubectl against it)"),
        }
        println!("Serving until Ctrl-C.");
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
    }
    sim.shutdown().await;
    Ok(ExitCode::from(exit::OK))
}

/// A `kube` client for the sim's first admin user, built from the kubeconfig it writes.
async fn client_for(sim: &RunningSim) -> anyhow::Result<kube::Client> {
    let user = sim.first_admin().unwrap_or("admin").to_string();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(&user))
        .context("the simulator wrote a kubeconfig kube cannot read")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .context("the simulator's kubeconfig is not usable")?;
    kube::Client::try_from(config).context("cannot build a client for the simulated cluster")
}

/// Print what the cluster serves, as a provider's engineer would look at it.
async fn tour(client: &kube::Client) -> anyhow::Result<()> {
    let version = client
        .apiserver_version()
        .await
        .context("GET /version failed")?;
    println!("Kubernetes version: {}", version.git_version);

    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    println!("\nNodes ({}):", nodes.items.len());
    println!(
        "  {:<24} {:<14} {:<12} {:<12} KUBELET",
        "NAME", "ROLE", "ZONE", "REGION"
    );
    for node in &nodes.items {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let role = if labels.contains_key("node-role.kubernetes.io/control-plane") {
            "control-plane"
        } else {
            "worker"
        };
        let label = |k: &str| labels.get(k).cloned().unwrap_or_else(|| "-".into());
        let kubelet = node
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone())
            .unwrap_or_else(|| "-".into());
        println!(
            "  {:<24} {:<14} {:<12} {:<12} {}",
            node.metadata.name.as_deref().unwrap_or("?"),
            role,
            label("topology.kubernetes.io/zone"),
            label("topology.kubernetes.io/region"),
            kubelet
        );
    }

    let classes = Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    println!("\nStorage classes ({}):", classes.items.len());
    for sc in &classes.items {
        let default = sc
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
            .is_some_and(|v| v == "true");
        println!(
            "  {:<24} {:<32} {}",
            sc.metadata.name.as_deref().unwrap_or("?"),
            sc.provisioner,
            if default { "(default)" } else { "" }
        );
    }

    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let names: Vec<_> = namespaces
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    println!("\nNamespaces ({}): {}", names.len(), names.join(", "));

    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    for pod in &pods.items {
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        *phases.entry(phase).or_default() += 1;
    }
    let phases: Vec<_> = phases.iter().map(|(p, n)| format!("{n} {p}")).collect();
    println!("Pods ({}): {}", pods.items.len(), phases.join(", "));

    let pvcs = Api::<PersistentVolumeClaim>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    println!("Persistent volume claims: {}", pvcs.items.len());
    Ok(())
}
