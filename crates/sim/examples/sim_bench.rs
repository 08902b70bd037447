//! Benchmark of the simulated API server (issue 2): start-up time, peak RSS of the server and
//! the wall time for a kube client to list every pod in pages of 500.
//!
//! Run it by hand (release build):
//! `cargo run --release -p scs-kaas-sim --example sim_bench -- [NODES] [PODS]`
//! (defaults 5000 and 50000; targets: full list ≤ 1.5 s, server RSS ≤ 500 MiB).
//!
//! The server runs in a child process (this example started with `serve`) so that its peak RSS
//! (`VmHWM`) is measured apart from the client's.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use scs_kaas_sim::world::{Permission, SimConfig, User};
use serde_json::{Value, json};

const TOKEN: &str = "bench-admin-token";

fn config(nodes: usize, pods: usize) -> SimConfig {
    let namespaces = pods.div_ceil(1000).max(1);
    let mut objects: Vec<Value> = (0..namespaces)
        .map(|i| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("load-{i:03}")}}))
        .collect();
    for i in 0..nodes {
        objects.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("worker-{i:05}"), "labels": {
                "kubernetes.io/hostname": format!("worker-{i:05}"), "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": format!("zone-{}", i % 3), "topology.kubernetes.io/region": "region-1"}},
            "spec": {"podCIDR": format!("10.{}.{}.0/24", i / 256, i % 256)},
            "status": {"capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "allocatable": {"cpu": "7800m", "memory": "30Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 256, i % 256)}, {"type": "Hostname", "address": format!("worker-{i:05}")}],
                "nodeInfo": {"kubeletVersion": "v1.35.1", "kubeProxyVersion": "v1.35.1", "osImage": "Ubuntu 24.04 LTS", "containerRuntimeVersion": "containerd://2.0.0", "kernelVersion": "6.8.0", "architecture": "amd64", "operatingSystem": "linux"}}}));
    }
    for i in 0..pods {
        let node = format!("worker-{:05}", i % nodes.max(1));
        objects.push(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("app-{i:06}-7d9f8c6b5-x2k4q"), "namespace": format!("load-{:03}", i / 1000),
                "labels": {"app": format!("app-{}", i % 50), "pod-template-hash": "7d9f8c6b5"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("app-{}-7d9f8c6b5", i % 50), "uid": "3b0c7d4e-8f1a-4c2b-9d3e-5f6a7b8c9d0e", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"nodeName": node, "restartPolicy": "Always", "schedulerName": "default-scheduler",
                "containers": [{"name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53", "args": ["netexec", "--http-port=8080"],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": format!("10.244.{}.{}", (i / 250) % 256, i % 250), "startTime": "2026-11-22T00:00:00Z", "qosClass": "Burstable",
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "registry.k8s.io/e2e-test-images/agnhost:2.53", "started": true, "state": {"running": {"startedAt": "2026-11-22T00:00:01Z"}}}]}}));
    }
    SimConfig {
        name: "bench".into(),
        git_version: "v1.35.1".into(),
        users: vec![User {
            name: "admin".into(),
            token: TOKEN.into(),
            permission: Permission::Admin,
        }],
        objects,
        controllers: Vec::new(),
    }
}

fn proc_status(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_else(|| "?".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let nodes: usize = args[1].parse()?;
        let pods: usize = args[2].parse()?;
        let kubeconfig = std::path::PathBuf::from(&args[3]);
        let t0 = Instant::now();
        let config = config(nodes, pods);
        let built = t0.elapsed();
        let t1 = Instant::now();
        let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse()?).await?;
        let started = t1.elapsed();
        sim.write_kubeconfig(&kubeconfig)?;
        println!(
            "ready build_config_ms={} start_ms={}",
            built.as_millis(),
            started.as_millis()
        );
        // Serve until the parent closes our stdin.
        tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
        return Ok(());
    }
    let nodes: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let pods: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50_000);
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", &nodes.to_string(), &pods.to_string()])
        .arg(&kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut ready)?;
    println!("server: {} nodes, {} pods; {}", nodes, pods, ready.trim());
    println!(
        "server RSS after start: {} (peak {})",
        proc_status(pid, "VmRSS:"),
        proc_status(pid, "VmHWM:")
    );

    let config = kube::config::Kubeconfig::read_from(&kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let node_count = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .len();
    let pods_api: Api<Pod> = Api::all(client);
    for round in 1..=3 {
        let t = Instant::now();
        let mut count = 0;
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(500);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page = pods_api.list(&lp).await?;
            pages += 1;
            count += page.items.len();
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        println!(
            "round {round}: listed {count} pods in {pages} pages of 500 in {} ms (nodes listed: {node_count})",
            t.elapsed().as_millis()
        );
    }
    println!(
        "server RSS after lists: {} (peak {})",
        proc_status(pid, "VmRSS:"),
        proc_status(pid, "VmHWM:")
    );
    drop(child.stdin.take());
    child.wait()?;
    Ok(())
}
