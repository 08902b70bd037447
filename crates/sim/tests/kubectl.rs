//! The simulated API server through the real `kubectl` (installed on these machines and in CI).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use scs_kaas_sim::server::RunningSim;

/// A started sim with its kubeconfig written to a fresh temporary directory.
struct Fixture {
    sim: RunningSim,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with(common::start().await)
    }

    /// A sim serving a shipped scenario (with its controllers).
    async fn scenario(name: &str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(name);
        let config = scs_kaas_sim::scenario::load(&path).expect("shipped scenario loads");
        let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Fixture::with(sim)
    }

    fn with(sim: RunningSim) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        sim.write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Fixture { sim, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run kubectl as `user`; returns (success, stdout, stderr).
    async fn kubectl(&self, user: &str, args: &[&str]) -> (bool, String, String) {
        let kubeconfig = self.path("kubeconfig");
        let cache = self.path("cache");
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--cache-dir")
                .arg(&cache)
                .arg("--context")
                .arg(user)
                .args(args)
                .env("HOME", self.dir.path())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("kubectl finishes")
        .expect("kubectl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl("admin", args).await;
        assert!(ok, "kubectl {args:?} failed:\n{out}\n{err}");
        out
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn get_nodes_wide_and_pods_in_all_namespaces() {
    let f = Fixture::new().await;
    let out = f.ok(&["get", "nodes", "-o", "wide"]).await;
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        &header[..5],
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{out}"
    );
    assert!(header.contains(&"INTERNAL-IP"), "{out}");
    for node in ["node-1", "node-2", "node-3"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(node))
            .unwrap_or_else(|| panic!("{node} missing:\n{out}"));
        assert!(line.contains("Ready") && line.contains("v1.35.1"), "{line}");
    }
    let out = f.ok(&["get", "pods", "-A"]).await;
    let line = out
        .lines()
        .find(|l| l.contains("coredns-1"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cells[..4],
        ["kube-system", "coredns-1", "0/1", "Running"],
        "{out}"
    );
    let out = f.ok(&["version", "-o", "json"]).await;
    assert!(out.contains("v1.35.1"), "{out}");
    drop(f.sim);
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1
        ports:
        - containerPort: 80
";

#[tokio::test]
async fn apply_creates_then_configures_a_deployment() {
    let f = Fixture::new().await;
    let file = f.path("deploy.yaml");
    write(&file, DEPLOYMENT);
    let file = file.to_str().unwrap();
    assert!(
        f.ok(&["apply", "-f", file])
            .await
            .contains("deployment.apps/web created")
    );
    assert!(f.ok(&["apply", "-f", file]).await.contains("unchanged"));
    write(Path::new(file), &DEPLOYMENT.replace("nginx:1", "nginx:2"));
    assert!(f.ok(&["apply", "-f", file]).await.contains("configured"));
    let out = f.ok(&["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.generation}"]).await;
    assert_eq!(out, "nginx:2 80 2");
    assert!(
        f.ok(&["label", "deployment", "web", "tier=front"])
            .await
            .contains("labeled")
    );
    assert!(
        f.ok(&["get", "deploy", "-l", "tier=front", "-o", "name"])
            .await
            .contains("deployment.apps/web")
    );
    drop(f.sim);
}

#[tokio::test]
async fn applied_deployment_becomes_available_through_the_controllers() {
    let f = Fixture::scenario("compliant.yaml").await;
    let file = f.path("deploy.yaml");
    write(&file, DEPLOYMENT);
    f.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    let out = f
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "default",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    let pods = f
        .ok(&[
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ])
        .await;
    assert_eq!(pods, "Running");
    drop(f.sim);
}

#[tokio::test]
async fn delete_namespace_cascades() {
    let f = Fixture::new().await;
    f.ok(&["create", "namespace", "doomed"]).await;
    let file = f.path("cm.yaml");
    write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: doomed\ndata: {a: b}\n",
    );
    f.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    assert!(
        f.ok(&["get", "configmaps", "-n", "doomed", "-o", "name"])
            .await
            .contains("configmap/c")
    );
    assert!(
        f.ok(&["delete", "namespace", "doomed"])
            .await
            .contains("deleted")
    );
    let (ok, _, err) = f.kubectl("admin", &["get", "namespace", "doomed"]).await;
    assert!(!ok && err.contains("NotFound"), "{err}");
    assert_eq!(
        f.ok(&["get", "configmaps", "-n", "doomed", "-o", "name"])
            .await,
        ""
    );
    drop(f.sim);
}

#[tokio::test]
async fn auth_can_i_answers_per_user() {
    let f = Fixture::new().await;
    let (ok, out, _) = f
        .kubectl(
            "admin",
            &["auth", "can-i", "create", "pods", "-n", "default"],
        )
        .await;
    assert!(ok && out.trim() == "yes", "{out}");
    let (ok, out, _) = f
        .kubectl(
            "viewer",
            &["auth", "can-i", "create", "pods", "-n", "default"],
        )
        .await;
    assert!(!ok && out.trim() == "no", "{out}");
    let (ok, out, _) = f
        .kubectl("viewer", &["auth", "can-i", "list", "nodes"])
        .await;
    assert!(ok && out.trim() == "yes", "{out}");
    let (ok, _, err) = f.kubectl("viewer", &["create", "namespace", "x"]).await;
    assert!(!ok && err.contains("forbidden"), "{err}");
    drop(f.sim);
}

#[tokio::test]
async fn get_pvc_watch_sees_changes_until_the_request_timeout() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let f = Fixture::new().await;
    let file = f.path("pvc.yaml");
    write(
        &file,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: default\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    );
    f.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    let mut child = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(f.path("kubeconfig"))
        .arg("--cache-dir")
        .arg(f.path("cache"))
        .args(["get", "pvc", "-w", "--request-timeout=2s", "-o", "name"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_deref(), Some("persistentvolumeclaim/data"));
    // A change after the initial list arrives through the watch.
    f.ok(&["label", "pvc", "data", "seen=yes"]).await;
    let second = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.as_deref(), Some("persistentvolumeclaim/data"));
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "kubectl ends cleanly at its request timeout"
    );
    drop(f.sim);
}

#[tokio::test]
async fn exec_speaks_websocket_to_kubectl() {
    let f = Fixture::new().await;
    let out = f
        .ok(&[
            "exec",
            "-n",
            "kube-system",
            "coredns-1",
            "--",
            "echo",
            "hello",
            "kubectl",
        ])
        .await;
    assert_eq!(out, "hello kubectl\n");
    let (ok, _, err) = f
        .kubectl(
            "admin",
            &[
                "exec",
                "-n",
                "kube-system",
                "coredns-1",
                "--",
                "sh",
                "-c",
                "false",
            ],
        )
        .await;
    assert!(
        !ok && err.contains("command terminated with exit code 1"),
        "{err}"
    );
    let (ok, _, err) = f
        .kubectl(
            "admin",
            &[
                "exec",
                "-n",
                "kube-system",
                "coredns-1",
                "-c",
                "nope",
                "--",
                "true",
            ],
        )
        .await;
    assert!(!ok && err.contains("container nope"), "{err}");
}

#[tokio::test]
async fn exec_cat_reads_the_conformance_results() {
    let f = Fixture::scenario("compliant.yaml").await;
    write(
        &f.path("e2e.yaml"),
        r#"apiVersion: v1
kind: Pod
metadata: {name: e2e, namespace: default}
spec:
  restartPolicy: Never
  volumes: [{name: results, emptyDir: {}}]
  containers:
    - name: conformance
      image: registry.k8s.io/conformance:v1.35.8
      env: [{name: E2E_FOCUS, value: NetworkPolicy}, {name: RESULTS_DIR, value: /tmp/results}]
      volumeMounts: [{name: results, mountPath: /tmp/results}]
    - name: output
      image: registry.k8s.io/e2e-test-images/busybox:1.36.1-1
      command: [sleep, infinity]
      volumeMounts: [{name: results, mountPath: /tmp/results}]
"#,
    );
    f.ok(&["apply", "-f", f.path("e2e.yaml").to_str().unwrap()])
        .await;
    f.ok(&[
        "wait",
        "pod/e2e",
        "--for=jsonpath={.status.containerStatuses[0].state.terminated.exitCode}=0",
        "--timeout=60s",
    ])
    .await;
    let junit = f
        .ok(&[
            "exec",
            "e2e",
            "-c",
            "output",
            "--",
            "cat",
            "/tmp/results/junit_01.xml",
        ])
        .await;
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert_eq!(junit.matches("status=\"passed\"").count(), 39 + 4);
    let listing = f
        .ok(&["exec", "e2e", "-c", "output", "--", "ls", "/tmp/results"])
        .await;
    assert_eq!(listing, "e2e.log\njunit_01.xml\n");
    let log = f.ok(&["logs", "e2e", "-c", "conformance"]).await;
    assert!(log.contains("Ran 39 of 7348 Specs"), "{log}");
    let (ok, _, err) = f
        .kubectl("admin", &["exec", "e2e", "-c", "conformance", "--", "true"])
        .await;
    assert!(!ok && err.contains("not running"), "{err}");
}

/// kubectl's typed `create` commands post protobuf bodies and accept protobuf back (issue 16).
#[tokio::test]
async fn typed_create_commands_send_protobuf_and_work() {
    let f = Fixture::scenario("compliant.yaml").await;
    f.ok(&["create", "namespace", "bar-a"]).await;
    let creates: &[&[&str]] = &[
        &[
            "create",
            "deployment",
            "web",
            "--image=registry.k8s.io/pause:3.10",
            "--replicas=3",
        ],
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        &["create", "configmap", "cfg", "--from-literal=a=b"],
        &[
            "create",
            "secret",
            "generic",
            "sec",
            "--from-literal=k=hello",
        ],
        &[
            "create",
            "job",
            "once",
            "--image=registry.k8s.io/pause:3.10",
        ],
        &[
            "create",
            "cronjob",
            "nightly",
            "--image=registry.k8s.io/pause:3.10",
            "--schedule=0 3 * * *",
        ],
        &["create", "serviceaccount", "robot"],
        &[
            "create",
            "role",
            "pod-reader",
            "--verb=get,list",
            "--resource=pods",
        ],
        &[
            "create",
            "rolebinding",
            "robot-reads",
            "--role=pod-reader",
            "--serviceaccount=bar-a:robot",
        ],
        &[
            "create",
            "clusterrole",
            "node-reader",
            "--verb=list",
            "--resource=nodes",
        ],
        &[
            "create",
            "clusterrolebinding",
            "robot-nodes",
            "--clusterrole=node-reader",
            "--serviceaccount=bar-a:robot",
        ],
    ];
    for args in creates {
        let mut args = args.to_vec();
        args.extend(["-n", "bar-a"]);
        let out = f.ok(&args).await;
        assert!(out.contains("created"), "{args:?}: {out}");
    }
    // The token kubectl gets is accepted and carries exactly the bound rules.
    let token = f
        .ok(&["create", "token", "robot", "-n", "bar-a", "--duration=1h"])
        .await;
    let token = token.trim();
    assert!(!token.is_empty());
    let as_robot = |args: &[&str]| {
        let mut all = vec!["--token", token, "--user", ""];
        all.extend_from_slice(args);
        all.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    for (args, allowed) in [
        (vec!["get", "pods", "-n", "bar-a", "-o", "name"], true),
        (vec!["get", "nodes", "-o", "name"], true),
        (vec!["get", "pods", "-n", "default", "-o", "name"], false),
        (
            vec!["get", "configmaps", "-n", "bar-a", "-o", "name"],
            false,
        ),
        (vec!["delete", "pod", "x", "-n", "bar-a"], false),
    ] {
        let args = as_robot(&args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, err) = f.kubectl("admin", &args).await;
        assert_eq!(ok, allowed, "{args:?}: {out}{err}");
        if !allowed {
            assert!(
                err.contains("system:serviceaccount:bar-a:robot") && err.contains("forbidden"),
                "{err}"
            );
        }
    }
    let args = as_robot(&["auth", "can-i", "list", "pods", "-n", "bar-a"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, out, _) = f.kubectl("admin", &args).await;
    assert_eq!(out.trim(), "yes");
    let args = as_robot(&["auth", "can-i", "create", "pods", "-n", "bar-a"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, out, _) = f.kubectl("admin", &args).await;
    assert_eq!(out.trim(), "no");
    // Deleting the ServiceAccount invalidates its tokens.
    f.ok(&["delete", "serviceaccount", "robot", "-n", "bar-a"])
        .await;
    let args = as_robot(&["get", "nodes"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, err) = f.kubectl("admin", &args).await;
    assert!(!ok && err.contains("Unauthorized"), "{err}");

    let yaml = f
        .ok(&["get", "deployment", "web", "-n", "bar-a", "-o", "yaml"])
        .await;
    assert!(yaml.contains("replicas: 3"), "{yaml}");
    assert!(yaml.contains("image: registry.k8s.io/pause:3.10"), "{yaml}");
    let port = f
        .ok(&[
            "get",
            "service",
            "web",
            "-n",
            "bar-a",
            "-o",
            "jsonpath={.spec.ports[0].port} {.spec.ports[0].targetPort}",
        ])
        .await;
    assert_eq!(port, "80 8080");
    let secret = f
        .ok(&[
            "get",
            "secret",
            "sec",
            "-n",
            "bar-a",
            "-o",
            "jsonpath={.data.k}",
        ])
        .await;
    assert_eq!(secret, "aGVsbG8=");
    let schedule = f
        .ok(&[
            "get",
            "cronjob",
            "nightly",
            "-n",
            "bar-a",
            "-o",
            "jsonpath={.spec.schedule}",
        ])
        .await;
    assert_eq!(schedule, "0 3 * * *");
    let out = f
        .ok(&[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "bar-a",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let out = f
        .ok(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "-n",
            "bar-a",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    let ready = f
        .ok(&[
            "get",
            "deployment",
            "web",
            "-n",
            "bar-a",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .await;
    assert_eq!(ready, "3");
    drop(f.sim);
}

/// Waits (through `kubectl wait`, no sleeping) until `jsonpath` of `object` equals `value`.
async fn wait_for(f: &Fixture, ns: &str, object: &str, jsonpath: &str, value: &str) {
    let cond = format!("--for=jsonpath={jsonpath}={value}");
    f.ok(&["wait", &cond, object, "-n", ns, "--timeout=60s"])
        .await;
}

#[tokio::test]
async fn scale_subresource_scales_deployments_replicasets_and_statefulsets() {
    let f = Fixture::scenario("compliant.yaml").await;
    f.ok(&["create", "namespace", "t1"]).await;
    f.ok(&[
        "-n",
        "t1",
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
        "--replicas=3",
    ])
    .await;
    wait_for(&f, "t1", "deployment/web", "{.status.readyReplicas}", "3").await;
    let out = f
        .ok(&["-n", "t1", "scale", "deployment", "web", "--replicas=5"])
        .await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    wait_for(&f, "t1", "deployment/web", "{.status.readyReplicas}", "5").await;
    let described = f.ok(&["-n", "t1", "describe", "deployment", "web"]).await;
    assert!(
        described.contains("ScalingReplicaSet") && described.contains("from 3 to 5"),
        "{described}"
    );
    let pods = f
        .ok(&["-n", "t1", "get", "pods", "-l", "app=web", "-o", "name"])
        .await;
    assert_eq!(pods.lines().count(), 5, "{pods}");
    // The Scale object itself, as `autoscaling/v1` clients (HPA, kubectl) read it.
    let scale: serde_json::Value = serde_json::from_str(
        &f.ok(&[
            "get",
            "--raw",
            "/apis/apps/v1/namespaces/t1/deployments/web/scale",
        ])
        .await,
    )
    .unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["replicas"], 5);
    assert_eq!(scale["status"]["selector"], "app=web");
    // A precondition that does not hold is refused (GET, then PUT with the resourceVersion).
    let (ok, _, err) = f
        .kubectl(
            "admin",
            &[
                "-n",
                "t1",
                "scale",
                "deployment",
                "web",
                "--current-replicas=2",
                "--replicas=1",
            ],
        )
        .await;
    assert!(!ok && err.contains("Expected replicas to be 2"), "{err}");
    f.ok(&[
        "-n",
        "t1",
        "scale",
        "deployment",
        "web",
        "--current-replicas=5",
        "--replicas=2",
    ])
    .await;
    wait_for(&f, "t1", "deployment/web", "{.status.replicas}", "2").await;
    // Scaling to zero is a scale too.
    f.ok(&["-n", "t1", "scale", "deployment/web", "--replicas=0"])
        .await;
    wait_for(&f, "t1", "deployment/web", "{.spec.replicas}", "0").await;
    // A StatefulSet, and the Scale of something that does not exist.
    let sts = f.path("sts.yaml");
    write(
        &sts,
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: t1}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: registry.k8s.io/pause:3.10}]}
",
    );
    f.ok(&["apply", "-f", sts.to_str().unwrap()]).await;
    assert!(
        f.ok(&["-n", "t1", "scale", "statefulset", "db", "--replicas=4"])
            .await
            .contains("scaled")
    );
    let replicas = f
        .ok(&[
            "-n",
            "t1",
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await;
    assert_eq!(replicas, "4");
    let (ok, _, err) = f
        .kubectl(
            "admin",
            &["-n", "t1", "scale", "replicaset", "nope", "--replicas=1"],
        )
        .await;
    assert!(!ok && err.contains("not found"), "{err}");
    drop(f.sim);
}

/// The `REVISION` numbers `kubectl rollout history` lists.
async fn revisions(f: &Fixture, ns: &str, object: &str) -> Vec<String> {
    let out = f.ok(&["-n", ns, "rollout", "history", object]).await;
    out.lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[tokio::test]
async fn rollout_history_and_undo_follow_deployment_revisions() {
    let f = Fixture::scenario("compliant.yaml").await;
    f.ok(&["create", "namespace", "t1"]).await;
    f.ok(&[
        "-n",
        "t1",
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
        "--replicas=2",
    ])
    .await;
    let status = [
        "-n",
        "t1",
        "rollout",
        "status",
        "deployment/web",
        "--timeout=60s",
    ];
    f.ok(&status).await;
    assert_eq!(revisions(&f, "t1", "deployment/web").await, ["1"]);
    f.ok(&[
        "-n",
        "t1",
        "set",
        "image",
        "deployment/web",
        "pause=registry.k8s.io/pause:3.9",
    ])
    .await;
    f.ok(&status).await;
    assert_eq!(revisions(&f, "t1", "deployment/web").await, ["1", "2"]);
    let two = f
        .ok(&[
            "-n",
            "t1",
            "rollout",
            "history",
            "deployment/web",
            "--revision=2",
        ])
        .await;
    assert!(two.contains("registry.k8s.io/pause:3.9"), "{two}");
    let one = f
        .ok(&[
            "-n",
            "t1",
            "rollout",
            "history",
            "deployment/web",
            "--revision=1",
        ])
        .await;
    assert!(one.contains("registry.k8s.io/pause:3.10"), "{one}");
    // Undo goes back to the previous template: its ReplicaSet comes back as revision 3.
    let out = f
        .ok(&["-n", "t1", "rollout", "undo", "deployment/web"])
        .await;
    assert!(out.contains("rolled back"), "{out}");
    f.ok(&status).await;
    let image = "jsonpath={.spec.template.spec.containers[0].image}";
    assert_eq!(
        f.ok(&["-n", "t1", "get", "deployment", "web", "-o", image])
            .await,
        "registry.k8s.io/pause:3.10"
    );
    assert_eq!(revisions(&f, "t1", "deployment/web").await, ["2", "3"]);
    let sets = f
        .ok(&["-n", "t1", "get", "rs", "-l", "app=web", "-o", "name"])
        .await;
    assert_eq!(sets.lines().count(), 2, "{sets}");
    // --to-revision picks one; a revision that does not exist is refused.
    f.ok(&[
        "-n",
        "t1",
        "rollout",
        "undo",
        "deployment/web",
        "--to-revision=2",
    ])
    .await;
    f.ok(&status).await;
    assert_eq!(
        f.ok(&["-n", "t1", "get", "deployment", "web", "-o", image])
            .await,
        "registry.k8s.io/pause:3.9"
    );
    let revision = "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}";
    assert_eq!(
        f.ok(&["-n", "t1", "get", "deployment", "web", "-o", revision])
            .await,
        "4"
    );
    let (ok, _, err) = f
        .kubectl(
            "admin",
            &[
                "-n",
                "t1",
                "rollout",
                "undo",
                "deployment/web",
                "--to-revision=9",
            ],
        )
        .await;
    assert!(
        !ok && err.contains("unable to find specified revision"),
        "{err}"
    );
    // A restart is a new template, so a new revision.
    f.ok(&["-n", "t1", "rollout", "restart", "deployment/web"])
        .await;
    f.ok(&status).await;
    assert_eq!(revisions(&f, "t1", "deployment/web").await, ["3", "4", "5"]);
    drop(f.sim);
}

#[tokio::test]
async fn written_objects_get_the_defaults_of_a_real_api_server() {
    let f = Fixture::new().await;
    // Typed create (protobuf body) and apply (JSON body) are defaulted alike.
    f.ok(&[
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
    ])
    .await;
    let file = f.path("deploy.yaml");
    write(
        &file,
        &DEPLOYMENT
            .replace("name: web\n", "name: api\n")
            .replace("nginx:1", "nginx"),
    );
    f.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    for (name, pull) in [("web", "IfNotPresent"), ("api", "Always")] {
        let got = f
            .ok(&[
                "get",
                "deployment",
                name,
                "-o",
                "jsonpath={.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge} \
                 {.spec.revisionHistoryLimit} {.spec.progressDeadlineSeconds} \
                 {.spec.template.spec.restartPolicy} {.spec.template.spec.dnsPolicy} \
                 {.spec.template.spec.schedulerName} {.spec.template.spec.terminationGracePeriodSeconds} \
                 {.spec.template.spec.containers[0].terminationMessagePath} \
                 {.spec.template.spec.containers[0].imagePullPolicy}",
            ])
            .await;
        assert_eq!(
            got,
            format!(
                "RollingUpdate 25% 10 600 Always ClusterFirst default-scheduler 30 \
                 /dev/termination-log {pull}"
            ),
            "{name}"
        );
    }
    let described = f.ok(&["describe", "deployment", "web"]).await;
    assert!(
        described.contains("StrategyType:           RollingUpdate"),
        "{described}"
    );
    assert!(
        described.contains("RollingUpdateStrategy:  25% max unavailable, 25% max surge"),
        "{described}"
    );
    f.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"])
        .await;
    let svc = f
        .ok(&[
            "get",
            "service",
            "web",
            "-o",
            "jsonpath={.spec.type} {.spec.sessionAffinity} {.spec.ipFamilies[0]} \
             {.spec.ports[0].protocol}",
        ])
        .await;
    assert_eq!(svc, "ClusterIP None IPv4 TCP");
    f.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=registry.k8s.io/pause:3.10",
        "--schedule=0 3 * * *",
    ])
    .await;
    let cj = f
        .ok(&[
            "get",
            "cronjob",
            "nightly",
            "-o",
            "jsonpath={.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit} \
             {.spec.jobTemplate.spec.template.spec.dnsPolicy}",
        ])
        .await;
    assert_eq!(cj, "Allow 3 ClusterFirst");
    drop(f.sim);
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_dry_runs() {
    let f = Fixture::new().await;
    let file = f.path("deploy.yaml");
    write(&file, DEPLOYMENT);
    let file = file.to_str().unwrap();
    let out = f.ok(&["apply", "--server-side", "-f", file]).await;
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let managers =
        "jsonpath={.metadata.managedFields[*].manager} {.metadata.managedFields[*].operation}";
    assert_eq!(
        f.ok(&["get", "deployment", "web", "-o", managers]).await,
        "kubectl Apply"
    );
    // The applied fields are recorded in upstream's FieldsV1 form.
    let fields = f
        .ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.metadata.managedFields[0].fieldsV1}",
        ])
        .await;
    assert!(fields.contains(r#""f:replicas":{}"#), "{fields}");
    assert!(fields.contains(r#""k:{\"name\":\"web\"}""#), "{fields}");
    // An update merges into the stored object; a dry run changes nothing.
    write(Path::new(file), &DEPLOYMENT.replace("nginx:1", "nginx:2"));
    assert!(
        f.ok(&["apply", "--server-side", "-f", file])
            .await
            .contains("serverside-applied")
    );
    write(Path::new(file), &DEPLOYMENT.replace("nginx:1", "nginx:3"));
    let out = f
        .ok(&["apply", "--server-side", "--dry-run=server", "-f", file])
        .await;
    assert!(out.contains("serverside-applied (server dry run)"), "{out}");
    let image = "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.generation}";
    assert_eq!(
        f.ok(&["get", "deployment", "web", "-o", image]).await,
        "nginx:2 80 2"
    );
    // A second manager is recorded next to the first; a new object by dry run is not stored.
    let cm = f.path("cm.yaml");
    write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: default}\ndata: {a: b}\n",
    );
    let cm = cm.to_str().unwrap();
    let out = f
        .ok(&["apply", "--server-side", "--dry-run=server", "-f", cm])
        .await;
    assert!(out.contains("configmap/cfg serverside-applied"), "{out}");
    let (ok, _, err) = f.kubectl("admin", &["get", "configmap", "cfg"]).await;
    assert!(!ok && err.contains("not found"), "{err}");
    f.ok(&["apply", "--server-side", "-f", cm]).await;
    f.ok(&["apply", "--server-side", "--field-manager=ops", "-f", cm])
        .await;
    assert_eq!(
        f.ok(&[
            "get",
            "configmap",
            "cfg",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager} {.data.a}"
        ])
        .await,
        "kubectl ops b"
    );
    drop(f.sim);
}

/// Cells of a `kubectl get` line: separated by two or more spaces (kubectl pads columns with
/// at least three; single spaces occur inside cells like `network (default)`).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

/// The header and the row starting with `name` of a `kubectl get` table, as cells; AGE cells
/// and the like (which change with time) are left to the caller.
async fn table_row(f: &Fixture, args: &[&str], name: &str) -> (Vec<String>, Vec<String>) {
    let out = f.ok(args).await;
    let header = cells(out.lines().next().unwrap_or(""));
    let row = out
        .lines()
        .find(|l| l.starts_with(name))
        .map(cells)
        .unwrap_or_else(|| panic!("no row {name} in kubectl {args:?}:\n{out}"));
    assert_eq!(header.len(), row.len(), "kubectl {args:?}:\n{out}");
    (header, row)
}

#[tokio::test]
async fn get_prints_upstream_columns_for_the_served_kinds() {
    let f = Fixture::scenario("compliant.yaml").await;
    let (h, r) = table_row(&f, &["get", "sc"], "network").await;
    assert_eq!(
        h,
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    assert_eq!(
        r[..5],
        [
            "network (default)",
            "cinder.csi.openstack.org",
            "Delete",
            "WaitForFirstConsumer",
            "true"
        ]
    );
    let (h, r) = table_row(
        &f,
        &["get", "deploy", "-n", "kube-system", "-o", "wide"],
        "coredns",
    )
    .await;
    assert_eq!(
        h,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert_eq!(
        r[5..],
        [
            "coredns",
            "registry.k8s.io/coredns/coredns:v1.12.1",
            "k8s-app=kube-dns"
        ]
    );
    let (h, r) = table_row(&f, &["get", "sts", "-n", "monitoring"], "prometheus").await;
    assert_eq!(h, ["NAME", "READY", "AGE"]);
    assert_eq!(r[1], "1/1");
    let (h, r) = table_row(&f, &["get", "ds", "-n", "kube-system"], "kube-proxy").await;
    assert_eq!(
        h,
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE SELECTOR",
            "AGE"
        ]
    );
    let nodes = f
        .ok(&["get", "nodes", "-o", "name"])
        .await
        .lines()
        .count()
        .to_string();
    assert_eq!(r[1..7], [&nodes, &nodes, &nodes, &nodes, &nodes, "<none>"]);
    let (h, r) = table_row(&f, &["get", "rs", "-n", "kube-system"], "coredns-").await;
    assert_eq!(h, ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    assert_eq!(r[1..4], ["2", "2", "2"]);
    let (h, r) = table_row(&f, &["get", "ingressclass"], "nginx").await;
    assert_eq!(h, ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]);
    assert_eq!(r[1..3], ["k8s.io/ingress-nginx", "<none>"]);

    f.ok(&["create", "serviceaccount", "robot"]).await;
    let (h, r) = table_row(&f, &["get", "sa"], "robot").await;
    assert_eq!(
        (h, &r[1]),
        (
            vec!["NAME".to_string(), "SECRETS".into(), "AGE".into()],
            &"0".to_string()
        )
    );
    f.ok(&[
        "create",
        "role",
        "pod-reader",
        "--verb=get",
        "--resource=pods",
    ])
    .await;
    let (h, r) = table_row(&f, &["get", "role"], "pod-reader").await;
    assert_eq!(h, ["NAME", "CREATED AT"]);
    assert!(r[1].ends_with('Z') && r[1].contains('T'), "{r:?}");
    f.ok(&[
        "create",
        "rolebinding",
        "robot-reads",
        "--role=pod-reader",
        "--serviceaccount=default:robot",
    ])
    .await;
    let (h, r) = table_row(&f, &["get", "rolebinding"], "robot-reads").await;
    assert_eq!(h, ["NAME", "ROLE", "AGE"]);
    assert_eq!(r[1], "Role/pod-reader");
    let wide = f.ok(&["get", "rolebinding", "-o", "wide"]).await;
    assert!(
        wide.lines()
            .next()
            .unwrap_or("")
            .ends_with("SERVICEACCOUNTS"),
        "{wide}"
    );
    assert!(wide.contains("default/robot"), "{wide}");
    f.ok(&[
        "create",
        "clusterrole",
        "node-reader",
        "--verb=list",
        "--resource=nodes",
    ])
    .await;
    let (h, _) = table_row(&f, &["get", "clusterrole"], "node-reader").await;
    assert_eq!(h, ["NAME", "CREATED AT"]);
    f.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=registry.k8s.io/pause:3.10",
        "--schedule=0 3 * * *",
    ])
    .await;
    let (h, r) = table_row(&f, &["get", "cronjob"], "nightly").await;
    assert_eq!(
        h,
        [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE"
        ]
    );
    assert_eq!(r[1..6], ["0 3 * * *", "<none>", "False", "0", "<none>"]);
    f.ok(&[
        "create",
        "job",
        "once",
        "--image=registry.k8s.io/pause:3.10",
    ])
    .await;
    let (h, r) = table_row(&f, &["get", "job"], "once").await;
    assert_eq!(h, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert!(r[2].ends_with("/1"), "{r:?}");
    f.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"])
        .await;
    let (h, r) = table_row(&f, &["get", "svc"], "web").await;
    assert_eq!(
        h,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert_eq!(
        (r[1].as_str(), r[3].as_str(), r[4].as_str()),
        ("ClusterIP", "<none>", "80/TCP")
    );
    assert!(r[2].starts_with("10.96."), "{r:?}");
    f.ok(&[
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=b",
        "--from-literal=c=d",
    ])
    .await;
    let (h, r) = table_row(&f, &["get", "cm"], "cfg").await;
    assert_eq!(
        (h, &r[1]),
        (
            vec!["NAME".to_string(), "DATA".into(), "AGE".into()],
            &"2".to_string()
        )
    );

    let more = f.path("more.yaml");
    write(
        &more,
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-only, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual, namespace: default}
subsets:
- addresses: [{ip: 10.0.0.1}, {ip: 10.0.0.2}]
  ports: [{port: 80}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {path: /tmp/pv-1}
---
apiVersion: v1
kind: Event
metadata: {name: hello.1, namespace: default}
involvedObject: {kind: Pod, name: hello, namespace: default}
type: Warning
reason: BackOff
message: Back-off restarting failed container
",
    );
    f.ok(&["apply", "-f", more.to_str().unwrap()]).await;
    let (h, r) = table_row(&f, &["get", "netpol"], "web-only").await;
    assert_eq!(h, ["NAME", "POD-SELECTOR", "AGE"]);
    assert_eq!(r[1], "app=web");
    let (h, r) = table_row(&f, &["get", "ep"], "manual").await;
    assert_eq!(h, ["NAME", "ENDPOINTS", "AGE"]);
    assert_eq!(r[1], "10.0.0.1:80,10.0.0.2:80");
    let pvc = f.path("pvc.yaml");
    write(
        &pvc,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n\
         spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
    );
    f.ok(&["apply", "-f", pvc.to_str().unwrap()]).await;
    let out = f.ok(&["get", "pvc", "-o", "wide"]).await;
    assert_eq!(
        cells(out.lines().next().unwrap_or("")),
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
            "VOLUMEMODE"
        ],
        "{out}"
    );
    // Endpoints are mirrored into discovery.k8s.io/v1 EndpointSlices by a controller.
    let ep: serde_json::Value =
        serde_json::from_str(&f.ok(&["get", "ep", "manual", "-o", "json"]).await).unwrap();
    let slices = scs_kaas_sim::controllers::endpoint_slices::slices_of(&ep);
    let slice = format!(
        "endpointslice/{}",
        slices[0]["metadata"]["name"].as_str().unwrap()
    );
    f.ok(&["wait", "--for=create", &slice, "--timeout=60s"])
        .await;
    let (h, r) = table_row(&f, &["get", "endpointslices"], "manual-").await;
    assert_eq!(h, ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]);
    assert_eq!(r[1..4], ["IPv4", "80", "10.0.0.1,10.0.0.2"]);
    let all = f.ok(&["get", "svc,ep,endpointslices", "-o", "name"]).await;
    assert!(
        all.contains("endpointslice.discovery.k8s.io/manual-"),
        "{all}"
    );
    // Status, Claim and Reason are empty for a new, unclaimed volume.
    let out = f.ok(&["get", "pv"]).await;
    assert_eq!(
        cells(out.lines().next().unwrap_or("")),
        [
            "NAME",
            "CAPACITY",
            "ACCESS MODES",
            "RECLAIM POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE"
        ]
    );
    let row = cells(out.lines().find(|l| l.starts_with("pv-1")).unwrap_or(""));
    assert_eq!(row[..4], ["pv-1", "1Gi", "RWO", "Retain"], "{out}");
    let out = f.ok(&["get", "events"]).await;
    assert_eq!(
        cells(out.lines().next().unwrap_or("")),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("BackOff"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        cells(line)[1..],
        [
            "Warning",
            "BackOff",
            "pod/hello",
            "Back-off restarting failed container"
        ]
    );
    drop(f.sim);
}

#[tokio::test]
async fn explain_reads_the_schemas_of_the_served_kinds() {
    let f = Fixture::new().await;
    let out = f.ok(&["explain", "deployment.spec.replicas"]).await;
    assert!(out.contains("GROUP:      apps"), "{out}");
    assert!(out.contains("FIELD: replicas <integer>"), "{out}");
    assert!(out.contains("Number of desired pods"), "{out}");
    let out = f.ok(&["explain", "pods.spec.containers"]).await;
    assert!(out.contains("imagePullPolicy\t<string>"), "{out}");
    let out = f.ok(&["explain", "storageclass"]).await;
    assert!(out.contains("KIND:       StorageClass"), "{out}");
    let (ok, _, err) = f
        .kubectl("admin", &["explain", "deployment.spec.nope"])
        .await;
    assert!(!ok && err.contains("nope"), "{err}");
    drop(f.sim);
}

#[tokio::test]
async fn a_paused_rollout_waits_for_resume() {
    let f = Fixture::scenario("compliant.yaml").await;
    f.ok(&["create", "namespace", "t1"]).await;
    f.ok(&[
        "-n",
        "t1",
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
        "--replicas=2",
    ])
    .await;
    let status = [
        "-n",
        "t1",
        "rollout",
        "status",
        "deployment/web",
        "--timeout=60s",
    ];
    f.ok(&status).await;
    f.ok(&["-n", "t1", "rollout", "pause", "deployment/web"])
        .await;
    f.ok(&[
        "-n",
        "t1",
        "set",
        "image",
        "deployment/web",
        "pause=registry.k8s.io/pause:3.9",
    ])
    .await;
    f.ok(&["-n", "t1", "scale", "deployment/web", "--replicas=3"])
        .await;
    // Paused: the change is observed, scaling still happens, nothing is rolled out.
    wait_for(&f, "t1", "deployment/web", "{.status.readyReplicas}", "3").await;
    let reason = "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}";
    assert_eq!(
        f.ok(&["-n", "t1", "get", "deployment", "web", "-o", reason])
            .await,
        "DeploymentPaused"
    );
    assert_eq!(revisions(&f, "t1", "deployment/web").await, ["1"]);
    let images = f
        .ok(&[
            "-n",
            "t1",
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .await;
    assert!(
        images.split(' ').all(|i| i == "registry.k8s.io/pause:3.10"),
        "{images}"
    );
    f.ok(&["-n", "t1", "rollout", "resume", "deployment/web"])
        .await;
    f.ok(&status).await;
    assert_eq!(revisions(&f, "t1", "deployment/web").await, ["1", "2"]);
    wait_for(&f, "t1", "deployment/web", "{.status.updatedReplicas}", "3").await;
    drop(f.sim);
}

#[tokio::test]
async fn an_exposed_deployment_has_endpoints_and_slices_of_its_pods() {
    let f = Fixture::scenario("compliant.yaml").await;
    f.ok(&["create", "namespace", "t1"]).await;
    f.ok(&[
        "-n",
        "t1",
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
        "--replicas=2",
        "--port=8080",
    ])
    .await;
    wait_for(&f, "t1", "deployment/web", "{.status.readyReplicas}", "2").await;
    f.ok(&[
        "-n",
        "t1",
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
    ])
    .await;
    f.ok(&[
        "-n",
        "t1",
        "wait",
        "--for=create",
        "endpoints/web",
        "--timeout=60s",
    ])
    .await;
    let pod_ips = f
        .ok(&[
            "-n",
            "t1",
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].status.podIP}",
        ])
        .await;
    let mut expected: Vec<String> = pod_ips.split(' ').map(|ip| format!("{ip}:8080")).collect();
    expected.sort();
    let (h, r) = table_row(&f, &["-n", "t1", "get", "ep"], "web").await;
    assert_eq!(h, ["NAME", "ENDPOINTS", "AGE"]);
    let mut got: Vec<String> = r[1].split(',').map(String::from).collect();
    got.sort();
    assert_eq!(got, expected);
    let out = f
        .ok(&[
            "-n",
            "t1",
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={.items[*].ports[0].port}",
        ])
        .await;
    assert_eq!(out, "8080");
    // Scaling down removes the address; deleting the Service removes its Endpoints and slices.
    f.ok(&["-n", "t1", "scale", "deployment/web", "--replicas=1"])
        .await;
    wait_for(
        &f,
        "t1",
        "endpoints/web",
        "{.subsets[0].addresses[*].targetRef.kind}",
        "Pod",
    )
    .await;
    f.ok(&["-n", "t1", "delete", "service", "web"]).await;
    let left = f
        .ok(&["-n", "t1", "get", "ep,endpointslices", "-o", "name"])
        .await;
    assert_eq!(left, "", "{left}");
    drop(f.sim);
}
