//! The monitor end to end with the real binary: `scs-kaas check` against the simulated cluster
//! writes a signed report, `scs-kaas report upload` sends it to a monitor with a pinned clock, the
//! status page shows the subject passing, and moving the clock past the results' lifetime turns
//! it stale. Also `scs-kaas monitor serve` itself: SQLite file in the current directory by
//! default, reload on SIGHUP and on `POST /admin/reload`.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jiff::civil::DateTime;
use scs_kaas_monitor::clock::FixedClock;
use scs_kaas_monitor::state::{AppState, Config};
use scs_kaas_sim::server::{self, RunningSim};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

async fn sim(scenario: &str, kubeconfig: &Path) -> RunningSim {
    let config =
        scs_kaas_sim::scenario::load(&repo(&format!("scenarios/{scenario}.yaml"))).unwrap();
    let sim = server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    sim.write_kubeconfig(kubeconfig).unwrap();
    sim
}

async fn scs_kaas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("SCS_KAAS_MONITOR_DB")
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "rc={:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A date on which the compliant scenario's v1.35.8 is the newest patch (release data snapshot).
const PASS_DATE: &str = "2026-08-25";

const E2E_SCOPE_UUID: &str = "5d3c2b1a-0f9e-4d8c-b7a6-e2e0e2e0e2e0";

/// A scope whose effective version needs two native checks; `version-policy-check` lives a day.
const E2E_SCOPE: &str = r#"
name: End-to-end KaaS
uuid: 5d3c2b1a-0f9e-4d8c-b7a6-e2e0e2e0e2e0
url: https://example.invalid/e2e.yaml
scripts:
- testcases:
  - id: version-policy-check
    lifetime: day
    description: Offered Kubernetes versions follow scs-0210-v2.
  - id: default-storage-class-check
    lifetime: week
    description: Exactly one good default storage class.
modules:
  - id: e2e-module
    name: Native checks
    targets:
      main: [version-policy-check, default-storage-class-check]
timeline:
  - date: 2026-01-01
    versions:
      v1: effective
versions:
  - version: v1
    stabilized_at: 2026-01-01
    include: [e2e-module]
"#;

fn keygen(path: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f"])
        .arg(path)
        .output()
        .expect("this test needs ssh-keygen: apt-get install openssh-client");
    assert!(out.status.success());
    let public = std::fs::read_to_string(format!("{}.pub", path.display())).unwrap();
    public.split_whitespace().nth(1).unwrap().to_string()
}

/// One bootstrap account line set: (subject, roles, password, optional key blob).
fn bootstrap(accounts: &[(&str, &str, &str, Option<&str>)]) -> String {
    let mut yaml = String::from("accounts:\n");
    for (subject, roles, password, key) in accounts {
        let hash = bcrypt::hash(password, 4).unwrap();
        yaml.push_str(&format!(
            "  - subject: {subject}\n    roles: [{roles}]\n    api_keys: [\"{hash}\"]\n"
        ));
        if let Some(blob) = key {
            yaml.push_str(&format!(
                "    keys:\n      - {{public_key: \"{blob}\", public_key_type: ssh-ed25519, public_key_name: ci}}\n"
            ));
        }
    }
    yaml
}

/// A minimal HTTP/1.1 exchange over loopback: (status, body).
async fn http(addr: &str, method: &str, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    if let Some((user, password)) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        head.push_str(&format!("Authorization: Basic {b}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {raw}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn naive_utc(ts: jiff::Timestamp) -> DateTime {
    jiff::tz::Offset::UTC.to_datetime(ts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_sign_upload_then_status_shows_passing_and_expiry_turns_it_stale() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let _sim = sim("compliant", &kc).await;
    let scopes = dir.path().join("scopes");
    std::fs::create_dir(&scopes).unwrap();
    let scope_file = scopes.join("e2e.yaml");
    std::fs::write(&scope_file, E2E_SCOPE).unwrap();
    let key = dir.path().join("id");
    let blob = keygen(&key);
    let subject = "provider-1.35";

    // 1. Check the simulated cluster and sign the report.
    let report = dir.path().join("report.yaml");
    let out = scs_kaas(&[
        "check",
        "--kubeconfig",
        kc.to_str().unwrap(),
        "--scope",
        scope_file.to_str().unwrap(),
        "--date",
        PASS_DATE,
        "--subject",
        subject,
        "--report",
        report.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(dir.path().join("report.yaml.sig").exists());

    // 2. A monitor with the same scope and a clock pinned just after the check.
    let checked = naive_utc(jiff::Timestamp::now());
    let clock = Arc::new(FixedClock::new(
        checked.checked_add(jiff::Span::new().minutes(1)).unwrap(),
    ));
    let boot = dir.path().join("bootstrap.yaml");
    // `intruder` may sign with the same key but not post for the subject.
    std::fs::write(
        &boot,
        bootstrap(&[
            (subject, "", "s3cret", Some(&blob)),
            ("intruder", "", "pw2", Some(&blob)),
        ]),
    )
    .unwrap();
    let scopes_for_loader = scopes.clone();
    let state = AppState::start(Config {
        db_url: format!("sqlite://{}", dir.path().join("monitor.db").display()),
        bootstrap: boot,
        base_url: "/".into(),
        body_limit: 1 << 20,
        limits: Default::default(),
        scopes: Arc::new(move || scs_kaas_monitor::scopes::load(Some(&scopes_for_loader))),
        clock: clock.clone(),
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = scs_kaas_monitor::server::router(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Before the upload the subject has no results.
    let (_, table) = http(&addr, "GET", "/page/table", None).await;
    assert!(!table.contains("✅ v1"), "{table}");

    // 3. Upload with the real client.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let out = scs_kaas(&[
        "report",
        "upload",
        "--monitor",
        &format!("http://{addr}/"),
        "--subject",
        subject,
        "--password-file",
        pw.to_str().unwrap(),
        report.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The same report again is refused (run uuid already stored), exit 1.
    let again = scs_kaas(&[
        "report",
        "upload",
        "--monitor",
        &format!("http://{addr}/"),
        "--subject",
        subject,
        "--password-file",
        pw.to_str().unwrap(),
        report.to_str().unwrap(),
    ])
    .await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("do not send it again"),
        "{}",
        text(&again)
    );
    // Another account's upload of it is refused with 403, and the client says why.
    let pw2 = dir.path().join("pw2");
    std::fs::write(&pw2, "pw2\n").unwrap();
    let intruder = scs_kaas(&[
        "report",
        "upload",
        "--monitor",
        &format!("http://{addr}/"),
        "--subject",
        "intruder",
        "--password-file",
        pw2.to_str().unwrap(),
        report.to_str().unwrap(),
    ])
    .await;
    assert_eq!(intruder.status.code(), Some(1), "{}", text(&intruder));
    let err = String::from_utf8_lossy(&intruder.stderr);
    assert!(
        err.contains("HTTP 403") && err.contains("may not upload reports for the subject named in"),
        "{}",
        text(&intruder)
    );

    // 4. The status page and API show the subject passing v1.
    let (status, table) = http(&addr, "GET", "/page/table", None).await;
    assert_eq!(status, 200);
    assert!(table.contains(subject), "{table}");
    assert!(table.contains("✅ v1"), "{table}");
    let (_, json) = http(&addr, "GET", "/status", None).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let card = &json[subject][E2E_SCOPE_UUID];
    assert_eq!(card["result"], 1, "{json}");
    assert_eq!(card["passed_str"], "v1", "{json}");
    assert_eq!(card["results"]["version-policy-check"]["result"], 1);
    let (_, detail) = http(
        &addr,
        "GET",
        &format!("/page/detail/{subject}/{E2E_SCOPE_UUID}"),
        None,
    )
    .await;
    assert!(detail.contains("version-policy-check"), "{detail}");
    assert!(detail.contains("✅ PASS"), "{detail}");
    let (_, badge) = http(
        &addr,
        "GET",
        &format!("/badge/{subject}/{E2E_SCOPE_UUID}.svg"),
        None,
    )
    .await;
    assert!(badge.contains("compliant") && !badge.contains("not compliant"));
    let (_, metrics) = http(&addr, "GET", "/metrics", None).await;
    assert!(
        metrics.contains("scs_monitor_subjects{scope=\"End-to-end KaaS\",status=\"green\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("scs_monitor_reports_accepted_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("scs_monitor_uploads_total{outcome=\"rejected\",reason=\"forbidden\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("scs_monitor_uploads_total{outcome=\"rejected\",reason=\"duplicate\"} 1"),
        "{metrics}"
    );

    // 5. Two days later the day-long version-policy result has expired: no longer passing.
    clock.set(checked.checked_add(jiff::Span::new().days(2)).unwrap());
    let (_, table) = http(&addr, "GET", "/page/table", None).await;
    assert!(table.contains(subject), "{table}");
    assert!(!table.contains("✅ v1"), "{table}");
    assert!(table.contains("🟧 v1"), "{table}");
    let (_, json) = http(&addr, "GET", "/status", None).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let card = &json[subject][E2E_SCOPE_UUID];
    assert_eq!(card["result"], serde_json::Value::Null, "{json}");
    assert!(card["results"].get("version-policy-check").is_none());
    assert_eq!(card["buckets"]["null"][0], "version-policy-check");
    let (_, metrics) = http(&addr, "GET", "/metrics", None).await;
    assert!(
        metrics.contains("scs_monitor_subjects{scope=\"End-to-end KaaS\",status=\"orange\"} 1"),
        "{metrics}"
    );
}

/// The server's stderr lines, read continuously so it never blocks on a full pipe.
fn stderr_lines(child: &mut tokio::process::Child) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits (60 s at most) for a stderr line containing `needle`; returns it.
async fn wait_for_line(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    needle: &str,
) -> String {
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.recv().await {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("the monitor exited before printing {needle:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("the monitor did not print {needle:?} within 60 s"))
}

/// Polls until `account` authenticates (reload done), with a generous deadline.
async fn wait_until_status(addr: &str, account: (&str, &str), expected: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = http(addr, "GET", "/reports", Some(account)).await;
        if status == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{account:?} still gets {status}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_defaults_to_sqlite_in_cwd_and_reloads_on_sighup_and_admin_request() {
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("bootstrap.yaml");
    std::fs::write(
        &boot,
        bootstrap(&[("alpha", "", "pa", None), ("root", "admin", "pr", None)]),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(["monitor", "serve", "--listen", "127.0.0.1:0", "--bootstrap"])
        .arg(&boot)
        .current_dir(dir.path())
        .env_remove("SCS_KAAS_MONITOR_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = stderr_lines(&mut child);
    let line = wait_for_line(&mut lines, "listening on http://").await;
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(
        dir.path().join("monitor.db").is_file(),
        "no monitor.db in the current directory"
    );
    let (status, _) = http(&addr, "GET", "/healthz", None).await;
    assert_eq!(status, 200);
    // `monitor serve` logs at info by default: one access line per request.
    let access = wait_for_line(&mut lines, "scs_kaas_monitor::access").await;
    assert!(
        access.contains("/healthz") && access.contains("200"),
        "{access}"
    );
    wait_until_status(&addr, ("alpha", "pa"), 200).await;
    assert_eq!(
        http(&addr, "GET", "/reports", Some(("beta", "pb"))).await.0,
        401
    );

    // SIGHUP: beta appears, alpha is gone.
    std::fs::write(
        &boot,
        bootstrap(&[("beta", "", "pb", None), ("root", "admin", "pr", None)]),
    )
    .unwrap();
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_until_status(&addr, ("beta", "pb"), 200).await;
    assert_eq!(
        http(&addr, "GET", "/reports", Some(("alpha", "pa")))
            .await
            .0,
        401
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP stopped the server"
    );

    // Admin reload: only with the admin role; a broken file keeps the old state (400).
    std::fs::write(
        &boot,
        "accounts:\n  - subject: x\n    roles: [no-such-role]\n",
    )
    .unwrap();
    let (status, body) = http(&addr, "POST", "/admin/reload", Some(("root", "pr"))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no-such-role"), "{body}");
    assert_eq!(
        http(&addr, "GET", "/reports", Some(("beta", "pb"))).await.0,
        200
    );
    // A broken file on SIGHUP is logged, the server keeps running with the old accounts.
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let line = wait_for_line(&mut lines, "reload failed").await;
    assert!(line.contains("no-such-role"), "{line}");
    assert_eq!(
        http(&addr, "GET", "/reports", Some(("beta", "pb"))).await.0,
        200
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "a failed reload stopped the server"
    );
    std::fs::write(
        &boot,
        bootstrap(&[("gamma", "", "pg", None), ("root", "admin", "pr", None)]),
    )
    .unwrap();
    assert_eq!(
        http(&addr, "POST", "/admin/reload", Some(("beta", "pb")))
            .await
            .0,
        403
    );
    let (status, body) = http(&addr, "POST", "/admin/reload", Some(("root", "pr"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        http(&addr, "GET", "/reports", Some(("gamma", "pg")))
            .await
            .0,
        200
    );
    assert_eq!(
        http(&addr, "GET", "/reports", Some(("beta", "pb"))).await.0,
        401
    );
    assert!(child.try_wait().unwrap().is_none());
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_json_lines_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("bootstrap.yaml");
    std::fs::write(&boot, bootstrap(&[("alpha", "", "pa", None)])).unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args([
            "monitor",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .args(["--db", &db, "--bootstrap"])
        .arg(&boot)
        .env_remove("SCS_KAAS_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = stderr_lines(&mut child);
    let line = wait_for_line(&mut lines, "listening on http://").await;
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(http(&addr, "GET", "/status", None).await.0, 200);
    let line = wait_for_line(&mut lines, "scs_kaas_monitor::access").await;
    let json: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(json["level"], "INFO", "{json}");
    assert_eq!(json["fields"]["route"], "/status", "{json}");
    assert_eq!(json["fields"]["status"], 200, "{json}");
    child.kill().await.unwrap();
}
