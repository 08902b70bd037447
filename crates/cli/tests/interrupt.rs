//! Killing and interrupting `scs-kaas check` mid-probe, black-box (issue 5 item 5, CHECKS.md
//! §0.4): the simulated cluster runs as its own process (`scs-kaas sim serve`), the check as
//! another; the tests watch the cluster until the probe namespace exists, then
//! - SIGKILL the check: its probe is left behind, `scs-kaas cleanup` removes it and says so;
//! - SIGINT / SIGTERM the check: it removes its probe itself and exits 130 / 143;
//! - let `--timeout` cut a check off: the process waits for the background cleanup before it exits;
//! - SIGINT the demo while it checks.
//!
//! A before/after inventory of every object proves nothing else was touched.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

#[path = "../../checks/tests/common/mod.rs"]
mod common;
use common::{differences, inventory, managed_objects};

const BIN: &str = env!("CARGO_BIN_EXE_scs-kaas");
/// A date on which the scenarios' Kubernetes version is current.
const DATE: &str = "2026-08-25";
/// Generous: the machine running the tests may be busy.
const WAIT: Duration = Duration::from_secs(180);

/// `scs-kaas sim serve` in its own process, with the kubeconfig it wrote.
struct Served {
    child: Child,
    kubeconfig: PathBuf,
    // Kept open so the server's stdout stays writable.
    _stdout: Lines<BufReader<ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start(scenario: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(BIN)
            .args(["sim", "serve", "--listen", "127.0.0.1:0", "--scenario"])
            .arg(common::repo(&format!("scenarios/{scenario}.yaml")))
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        wait_for_line(&mut lines, "serving https://127.0.0.1:").await;
        Served {
            child,
            kubeconfig,
            _stdout: lines,
            _dir: dir,
        }
    }

    async fn admin(&self) -> kube::Client {
        common::client_from_yaml(&std::fs::read_to_string(&self.kubeconfig).unwrap()).await
    }

    fn kc(&self) -> &str {
        self.kubeconfig.to_str().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Read lines until one starts with `prefix` (within [`WAIT`]); returns it.
async fn wait_for_line<R>(lines: &mut Lines<R>, prefix: &str) -> String
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let found = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with(prefix) {
                return line;
            }
        }
        panic!("the output ended before a line starting with {prefix:?}");
    };
    tokio::time::timeout(WAIT, found)
        .await
        .unwrap_or_else(|_| panic!("no line starting with {prefix:?} within {WAIT:?}"))
}

/// Watch until a probe namespace of `check` exists (`scs-kaas-<check>-<run id>`); its name.
async fn probe_namespace(client: &kube::Client, check: &str) -> String {
    let api: Api<Namespace> = Api::all(client.clone());
    let config = watcher::Config::default().labels(&format!("scs-kaas.io/check={check}"));
    let mut stream = std::pin::pin!(watcher(api, config).applied_objects());
    let seen = async {
        while let Some(ns) = stream.next().await {
            let ns = ns.expect("the namespace watch works");
            if let Some(name) = ns.metadata.name {
                return name;
            }
        }
        panic!("the namespace watch ended");
    };
    let name = tokio::time::timeout(WAIT, seen)
        .await
        .unwrap_or_else(|_| panic!("no probe namespace of {check} within {WAIT:?}"));
    assert!(
        name.starts_with(&format!("scs-kaas-{check}-")),
        "probe namespaces are named scs-kaas-<check>-<run id>: {name}"
    );
    name
}

/// Watch until the storage probe's claim exists: the probe is then waiting for it to bind.
async fn probe_claim(client: &kube::Client, namespace: &str) {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let exists = kube::runtime::wait::await_condition(
        api,
        "sc-probe",
        |c: Option<&PersistentVolumeClaim>| c.is_some(),
    );
    tokio::time::timeout(WAIT, exists)
        .await
        .expect("the probe claim appears in time")
        .expect("the claim watch works");
}

/// `scs-kaas check` of the storage check on `served`, whose claim never binds: the probe waits
/// for it (up to ten minutes) until it is stopped.
fn storage_check(served: &Served) -> Child {
    Command::new(BIN)
        .args([
            "check",
            "--kubeconfig",
            served.kc(),
            "--scope",
            "scs-kaas-extended",
            "--tests",
            "default-storage-class-check",
            "--date",
            DATE,
            "--timeout",
            "20m",
            "-a",
            "storage_timeout=10m",
        ])
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn finish(child: Child) -> Output {
    tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("the process ends in time")
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "rc={:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn signal(child: &Child, sig: &str) {
    let pid = child.id().expect("the process runs").to_string();
    let status = Command::new("kill")
        .args([sig, &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// Nothing labelled managed-by=scs-kaas, nothing else changed.
async fn assert_untouched(client: &kube::Client, before: &common::Inventory, what: &str) {
    assert_eq!(
        managed_objects(client).await,
        Vec::<String>::new(),
        "{what}: objects labelled app.kubernetes.io/managed-by=scs-kaas remain"
    );
    assert_eq!(
        differences(before, &inventory(client).await),
        Vec::<String>::new(),
        "{what}: the cluster is not as it was"
    );
}

#[tokio::test]
async fn sigkill_leaves_the_probe_and_cleanup_removes_it_and_says_so() {
    let served = Served::start("storage-never-binds").await;
    let admin = served.admin().await;
    let before = inventory(&admin).await;
    let mut check = storage_check(&served);
    let ns = probe_namespace(&admin, "default-storage-class-check").await;
    probe_claim(&admin, &ns).await;

    check.start_kill().unwrap();
    let out = finish(check).await;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "{}",
        text(&out)
    );
    // SIGKILL cannot be handled: the probe is still there.
    assert!(
        managed_objects(&admin)
            .await
            .iter()
            .any(|o| o == &format!("v1/Namespace//{ns}")),
        "the killed check left its namespace {ns}"
    );

    let cleanup = Command::new(BIN)
        .args(["cleanup", "--kubeconfig", served.kc()])
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(cleanup.status.code(), Some(0), "{}", text(&cleanup));
    let stdout = String::from_utf8_lossy(&cleanup.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!("namespace/{ns} ")))
        .unwrap_or_else(|| panic!("cleanup names {ns}: {}", text(&cleanup)));
    assert!(
        line.starts_with("removed") && line.contains("check default-storage-class-check"),
        "{line}"
    );
    assert_untouched(&admin, &before, "after cleanup").await;
}

async fn interrupted_check_removes_its_probe_and_exits(sig: &str, code: i32) {
    let served = Served::start("storage-never-binds").await;
    let admin = served.admin().await;
    let before = inventory(&admin).await;
    let check = storage_check(&served);
    let ns = probe_namespace(&admin, "default-storage-class-check").await;
    probe_claim(&admin, &ns).await;

    signal(&check, sig).await;
    let out = finish(check).await;
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "stopped: default-storage-class-check",
        &format!(
            "cleaning up probe run {} of default-storage-class-check (namespace {ns})",
            &ns[ns.len() - 8..]
        ),
        &format!("removed namespace/{ns}"),
        "no verdict, no report",
    ] {
        assert!(
            stderr.contains(want),
            "stderr lacks {want:?}: {}",
            text(&out)
        );
    }
    assert!(
        !stderr.contains("scs-kaas cleanup"),
        "nothing is left, so no cleanup is asked for: {}",
        text(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Overall"),
        "no verdict is printed: {}",
        text(&out)
    );
    // No `scs-kaas cleanup` was run: the check removed its probe itself.
    assert_untouched(&admin, &before, sig).await;
}

#[tokio::test]
async fn ctrl_c_removes_the_probe_and_exits_130() {
    interrupted_check_removes_its_probe_and_exits("-INT", 130).await;
}

#[tokio::test]
async fn sigterm_removes_the_probe_and_exits_143() {
    interrupted_check_removes_its_probe_and_exits("-TERM", 143).await;
}

/// Ctrl-C while the native conformance runner waits for the e2e suite (its simulated image
/// hangs): the check removes its namespace and the ClusterRole and ClusterRoleBinding it made
/// (cluster-scoped, so not removed with the namespace), exits 130, and the cluster is as before.
#[tokio::test]
async fn ctrl_c_during_the_e2e_suite_removes_its_namespace_and_cluster_rbac() {
    let served = Served::start("conformance-hang").await;
    let admin = served.admin().await;
    let before = inventory(&admin).await;
    let check = Command::new(BIN)
        .args([
            "check",
            "--kubeconfig",
            served.kc(),
            "--tests",
            "cncf-k8s-conformance",
            "--date",
            DATE,
            "--timeout",
            "20m",
        ])
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ns = probe_namespace(&admin, "cncf-k8s-conformance").await;
    // Wait until the suite runs: the e2e pod's conformance container has started.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(admin.clone(), &ns);
    let running = kube::runtime::wait::await_condition(
        pods,
        "e2e",
        |p: Option<&k8s_openapi::api::core::v1::Pod>| {
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.name == "conformance"
                            && c.state.as_ref().is_some_and(|st| st.running.is_some())
                    })
                })
        },
    );
    tokio::time::timeout(WAIT, running)
        .await
        .expect("the e2e pod runs in time")
        .expect("the pod watch works");
    // The runner's cluster-wide RBAC exists now, named like the namespace.
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(admin.clone());
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin.clone());
    assert!(
        roles.get_opt(&ns).await.unwrap().is_some(),
        "ClusterRole {ns} exists"
    );
    assert!(
        bindings.get_opt(&ns).await.unwrap().is_some(),
        "ClusterRoleBinding {ns} exists"
    );

    signal(&check, "-INT").await;
    let out = finish(check).await;
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "stopped: cncf-k8s-conformance".to_string(),
        format!("removed namespace/{ns}"),
        "no verdict, no report".to_string(),
    ] {
        assert!(
            stderr.contains(&want),
            "stderr lacks {want:?}: {}",
            text(&out)
        );
    }
    assert!(
        roles.get_opt(&ns).await.unwrap().is_none(),
        "ClusterRole {ns} removed"
    );
    assert!(
        bindings.get_opt(&ns).await.unwrap().is_none(),
        "ClusterRoleBinding {ns} removed"
    );
    assert_untouched(&admin, &before, "after Ctrl-C during the e2e suite").await;
}

#[tokio::test]
async fn a_check_cut_off_by_its_timeout_is_cleaned_up_before_the_process_exits() {
    // No load balancer ever gets an address here: the check waits until the runner cuts it off.
    let served = Served::start("lb-pending").await;
    let admin = served.admin().await;
    let before = inventory(&admin).await;
    let check = Command::new(BIN)
        .args([
            "check",
            "--kubeconfig",
            served.kc(),
            "--scope",
            "scs-kaas-extended",
            "--tests",
            "loadbalancer-check",
            "--date",
            DATE,
            "--timeout",
            "15s",
            "-a",
            "lb_timeout=10m",
        ])
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ns = probe_namespace(&admin, "loadbalancer-check").await;
    let out = finish(check).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("did not finish within the deadline of 15s"),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains("cleaning up probe run")
            && stderr.contains(&format!("removed namespace/{ns}")),
        "{}",
        text(&out)
    );
    // Only a preview testcase is selected, so it is judged: aborted, exit 3 (not 0).
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_untouched(&admin, &before, "after the timeout").await;
}

#[tokio::test]
async fn ctrl_c_during_the_demo_removes_the_probes_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut demo = Command::new(BIN)
        .args(["demo", "--scope", "scs-kaas-extended", "--scenario"])
        .arg(common::repo("scenarios/storage-never-binds.yaml"))
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .args(["--timeout", "20m", "-a", "storage_timeout=10m"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    wait_for_line(&mut lines, "Kubeconfig written to").await;
    let admin = common::client_from_yaml(&std::fs::read_to_string(&kubeconfig).unwrap()).await;
    let ns = probe_namespace(&admin, "default-storage-class-check").await;
    probe_claim(&admin, &ns).await;

    signal(&demo, "-INT").await;
    let rest = async {
        let mut rest = String::new();
        while let Some(l) = lines.next_line().await.unwrap() {
            rest.push_str(&l);
            rest.push('\n');
        }
        rest
    };
    let (out, rest) = tokio::join!(finish(demo), rest);
    assert_eq!(out.status.code(), Some(130), "{}\n{rest}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("removed namespace/{ns}")),
        "{}",
        text(&out)
    );
    assert!(!stderr.contains("scs-kaas cleanup"), "{}", text(&out));
}
