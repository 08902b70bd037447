//! `scs-kaas sim serve` end to end: the real binary serves a shipped scenario, the kubeconfig it
//! writes works with the kube client, SIGTERM stops it cleanly, bad scenarios exit 2.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

#[tokio::test]
async fn serve_writes_a_working_kubeconfig_and_stops_on_sigterm() {
    serve_then_stop_with("-TERM").await;
}

#[tokio::test]
async fn serve_stops_on_ctrl_c() {
    serve_then_stop_with("-INT").await;
}

/// Serve the compliant scenario, use the kubeconfig once it is announced, stop with `signal`.
async fn serve_then_stop_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(scenario("compliant.yaml"))
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The "serving" line comes after the kubeconfig is in place.
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve starts in time")
            .unwrap()
            .expect("serve prints its address");
        if line.starts_with("serving https://127.0.0.1:") {
            break;
        }
    }
    let config = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    assert_eq!(config.current_context.as_deref(), Some("admin"));
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let nodes = Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(!nodes.items.is_empty());

    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn a_bad_scenario_exits_2_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nbogus_key: 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--scenario"])
        .arg(&bad)
        .arg("--kubeconfig-out")
        .arg(dir.path().join("kc"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.yaml:"), "{stderr}");
    assert!(
        !dir.path().join("kc").exists(),
        "no kubeconfig for a server that never served"
    );
}

#[tokio::test]
async fn generate_writes_a_scenario_the_loader_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("large.yaml");
    let status = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args([
            "sim", "generate", "--nodes", "7", "--pods", "1500", "--seed", "3", "-o",
        ])
        .arg(&out)
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let config = scs_kaas_sim::scenario::load(&out).expect("the generated scenario loads");
    let objects = config.initial_objects();
    let count = |kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(count("Node"), 7);
    assert_eq!(count("Pod"), 1500);
    // Same seed, same file.
    let again = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args([
            "sim", "generate", "--nodes", "7", "--pods", "1500", "--seed", "3",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(again.stdout, std::fs::read(&out).unwrap());
}

#[tokio::test]
async fn generate_refuses_pods_without_nodes() {
    let output = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "generate", "--nodes", "0", "--pods", "5"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--nodes"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn every_subcommand_of_the_issue_has_help() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["sim", "--help"],
        &["sim", "serve", "--help"],
        &["sim", "generate", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
            .args(args)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(stdout.contains("Usage: scs-kaas"), "{args:?}: {stdout}");
    }
    let top = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(top.contains("demo") && top.contains("sim"), "{top}");
    let serve = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--help"])
        .output()
        .await
        .unwrap();
    let serve = String::from_utf8_lossy(&serve.stdout);
    for flag in ["--scenario", "--kubeconfig-out", "--listen"] {
        assert!(serve.contains(flag), "{flag}: {serve}");
    }
}

#[tokio::test]
async fn demo_serves_the_compliant_scenario_and_shows_it() {
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
            .arg("demo")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the demo finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("serving at https://127.0.0.1:"), "{stdout}");
    // What it serves: the compliant scenario's nodes.
    let compliant = std::fs::read_to_string(scenario("compliant.yaml")).unwrap();
    let first_node = compliant
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: "))
        .unwrap();
    assert!(stdout.contains(first_node.trim()), "{first_node}: {stdout}");
}

/// Readiness: the kubeconfig must not appear before the server answers. A scenario large enough
/// that loading takes a while is served; the file is polled for (no output is awaited), and the
/// first request made the moment it exists must succeed without any retry.
#[tokio::test]
async fn the_kubeconfig_works_the_moment_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_file = dir.path().join("large.yaml");
    let generated = scs_kaas_sim::scenario::generate::generate(200, 4000, 5).unwrap();
    std::fs::write(
        &scenario_file,
        scs_kaas_sim::scenario::generate::to_yaml(&generated).unwrap(),
    )
    .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&scenario_file)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(120), async {
        while !kubeconfig.exists() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "serve exited before writing the kubeconfig"
            );
            // Polling interval only; correctness does not depend on it.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the kubeconfig appears in time");
    let config =
        kube::config::Kubeconfig::read_from(&kubeconfig).expect("complete when it appears");
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let nodes = Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .expect("the first request succeeds");
    assert_eq!(nodes.items.len(), 200, "the whole scenario is loaded");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test]
async fn no_kubeconfig_for_scenarios_that_fail_to_load_or_a_server_that_cannot_listen() {
    let dir = tempfile::tempdir().unwrap();
    let inconsistent = dir.path().join("inconsistent.yaml");
    std::fs::write(
        &inconsistent,
        "name: x\nkubernetes:\n  version: v1.35.8\nnodes:\n  - name: n1\nworkloads:\n  - kind: Pod\n    name: p\n    node: n2\n    containers: [{name: c, image: x}]\n",
    )
    .unwrap();
    let kubeconfig = dir.path().join("kc");
    let output = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--scenario"])
        .arg(&inconsistent)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("inconsistent.yaml:9:"), "{stderr}");
    assert!(
        !kubeconfig.exists(),
        "no kubeconfig for a scenario that failed"
    );

    // A good scenario on an address that is taken never serves, so it writes nothing either.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--scenario"])
        .arg(scenario("compliant.yaml"))
        .arg("--listen")
        .arg(taken.local_addr().unwrap().to_string())
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .output()
        .await
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert!(
        !kubeconfig.exists(),
        "no kubeconfig for a server that never served"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing but the scenario file was written"
    );
}

#[tokio::test]
async fn serve_refuses_a_planted_symlink_at_kubeconfig_out() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::os::unix::fs::symlink(&victim, &kubeconfig).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(scenario("compliant.yaml"))
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("serve gives up at once")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[tokio::test]
async fn serve_writes_the_kubeconfig_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(scenario("compliant.yaml"))
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve starts in time")
            .unwrap()
            .expect("serve prints its address");
        if line.starts_with("serving ") {
            break;
        }
    }
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn generate_refuses_counts_beyond_the_limits() {
    for args in [
        ["--nodes", "4294967295", "--pods", "0"],
        ["--nodes", "3", "--pods", "150001"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
            .args(["sim", "generate"])
            .args(args)
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("limit of"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}
