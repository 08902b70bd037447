//! Test bed for the monitor: a real server on a loopback port with a real database (a SQLite file
//! in a temp dir, or a fresh PostgreSQL database when `SCS_KAAS_TEST_POSTGRES_URL` is set), real
//! SSH keys from `ssh-keygen`, bcrypt-hashed passwords and a pinned clock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use jiff::civil::DateTime;
use scs_kaas_core::scope::Scope;
use scs_kaas_monitor::body::Limits;
use scs_kaas_monitor::clock::FixedClock;
use scs_kaas_monitor::scopes::ScopeInfo;
use scs_kaas_monitor::state::{AppState, Config};
use tempfile::TempDir;

/// uuid of the test scope.
pub const SCOPE: &str = "7e0b4c8e-5d1a-4f7e-9d43-0a1b2c3d4e5f";

/// A small scope: `fast` (lifetime day), `slow` (week) in v1 (effective), `extra` only in the
/// draft `next`.
pub const SCOPE_YAML: &str = r#"
name: Test KaaS
uuid: 7e0b4c8e-5d1a-4f7e-9d43-0a1b2c3d4e5f
url: https://example.invalid/test-kaas.yaml
scripts:
- executable: ./check.py
  testcases:
  - id: fast
    lifetime: day
    description: A check whose results live one day.
    url: https://example.invalid/fast
  - id: slow
    description: A weekly check <b>with markup</b>.
  - id: extra
    description: Only in the draft.
modules:
  - id: scs-9000-v1
    name: Fast and slow
    url: https://example.invalid/scs-9000
    targets:
      main: [fast, slow]
  - id: scs-9001-v1
    name: Extra
    targets:
      main: [extra]
timeline:
  - date: 2026-01-01
    versions:
      next: draft
      v1: effective
versions:
  - version: next
    include: [scs-9000-v1, scs-9001-v1]
  - version: v1
    stabilized_at: 2026-01-01
    include: [scs-9000-v1]
"#;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file in the temp dir.
    Sqlite,
    /// Fresh database on the server named by `SCS_KAAS_TEST_POSTGRES_URL`.
    Postgres,
}

/// One account of the test bootstrap.
pub struct Acct {
    pub name: &'static str,
    pub password: String,
    pub key: PathBuf,
}

/// A running monitor.
pub struct Env {
    pub dir: TempDir,
    pub addr: std::net::SocketAddr,
    pub state: Arc<AppState>,
    pub clock: Arc<FixedClock>,
    pub bootstrap: PathBuf,
}

pub const ACCOUNTS: &[(&str, &[&str])] = &[
    // zuul comes first on purpose: its delegation must not depend on account order.
    ("zuul", &["append_any"]),
    ("acme", &[]),
    ("other", &[]),
    ("reader", &["read_any"]),
    ("approver", &["approve"]),
    ("admin", &["admin"]),
    ("sneaky", &["append_any"]),
    // An account whose API key is an argon2id hash, as in the SCS monitor's bootstrap files.
    ("argon", &[]),
];

/// An argon2id PHC string for `password` (small parameters, so tests stay fast).
pub fn argon2_hash(password: &str) -> String {
    use argon2::PasswordHasher as _;
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// Creates an ed25519 key with ssh-keygen; returns the private key path.
pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed");
    path
}

/// Signs `payload` with ssh-keygen in `namespace`; returns the armored signature.
pub fn sign(key: &Path, namespace: &str, payload: &[u8]) -> Vec<u8> {
    let dir = key.parent().unwrap();
    let file = dir.join(format!("payload-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, payload).unwrap();
    let status = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&file)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen -Y sign failed");
    std::fs::read(format!("{}.sig", file.display())).unwrap()
}

/// `<sig>&<payload>`.
pub fn signed_body(key: &Path, payload: &[u8]) -> Vec<u8> {
    let mut body = sign(key, "report", payload);
    body.push(b'&');
    body.extend_from_slice(payload);
    body
}

pub fn password(name: &str) -> String {
    format!("pw-{name}-secret")
}

pub fn basic(name: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{}", password(name)));
    format!("Basic {b}")
}

pub fn key_path(env: &Env, name: &str) -> PathBuf {
    env.dir.path().join(format!("key-{name}"))
}

/// Writes the bootstrap file for [`ACCOUNTS`] (keys generated if missing).
pub fn write_bootstrap(dir: &Path, accounts: &[(&str, &[&str])]) -> PathBuf {
    let mut yaml = String::from("accounts:\n");
    for (name, roles) in accounts {
        let key = dir.join(format!("key-{name}"));
        if !key.exists() {
            keygen(dir, &format!("key-{name}"));
        }
        let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
        let blob = public.split_whitespace().nth(1).unwrap();
        let hash = if *name == "argon" {
            argon2_hash(&password(name))
        } else {
            bcrypt::hash(password(name), 4).unwrap()
        };
        yaml.push_str(&format!(
            "  - subject: {name}\n    roles: [{}]\n",
            roles.join(", ")
        ));
        if *name == "acme" {
            yaml.push_str("    group: acme-cloud\n    delegates: [zuul]\n");
        }
        if *name == "other" {
            yaml.push_str("    group: acme-cloud\n");
        }
        yaml.push_str(&format!(
            "    api_keys: [\"{hash}\"]\n    keys:\n      - {{public_key: \"{blob}\", public_key_type: ssh-ed25519, public_key_name: primary}}\n"
        ));
    }
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

pub fn test_scopes() -> anyhow::Result<Vec<ScopeInfo>> {
    let scope = Scope::parse("test-kaas.yaml", SCOPE_YAML)?;
    Ok(vec![ScopeInfo::from_scope(&scope)?])
}

/// The PostgreSQL admin URL, or `None` with a printed notice.
pub fn postgres_url() -> Option<String> {
    match std::env::var("SCS_KAAS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "notice: SCS_KAAS_TEST_POSTGRES_URL is not set; skipping the PostgreSQL variant \
                 (start one with `source scripts/pg-throwaway.sh && pg_throwaway_start`)"
            );
            None
        }
    }
}

/// A fresh database on the server for this test.
pub async fn fresh_postgres(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("monitor_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
}

/// Starts a monitor; `None` when the backend is not available (notice printed).
pub async fn start(backend: Backend, now: DateTime) -> Option<Env> {
    start_with(backend, now, Limits::default()).await
}

/// Starts a monitor with the given timeouts and body memory.
pub async fn start_with(backend: Backend, now: DateTime, limits: Limits) -> Option<Env> {
    let dir = tempfile::tempdir().unwrap();
    let db_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("monitor.db").display()),
        Backend::Postgres => fresh_postgres(&postgres_url()?).await,
    };
    let bootstrap = write_bootstrap(dir.path(), ACCOUNTS);
    let clock = Arc::new(FixedClock::new(now));
    let state = AppState::start(Config {
        db_url,
        bootstrap: bootstrap.clone(),
        base_url: "/".into(),
        body_limit: 256 * 1024,
        limits,
        scopes: Arc::new(test_scopes),
        clock: clock.clone(),
    })
    .await
    .expect("monitor starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = state.clone();
    tokio::spawn(async move {
        scs_kaas_monitor::server::serve_until(served, listener, std::future::pending())
            .await
            .unwrap();
    });
    Some(Env {
        dir,
        addr,
        state,
        clock,
        bootstrap,
    })
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request over a fresh loopback connection.
pub async fn request(
    env: &Env,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    request_from(env, [127, 0, 0, 1], method, path, headers, body).await
}

/// One HTTP/1.1 request from the loopback address `from` (any of 127.0.0.0/8).
pub async fn request_from(
    env: &Env,
    from: [u8; 4],
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    let stream = socket.connect(env.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", env.addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = sender
        .send_request(req.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

pub async fn get(env: &Env, path: &str, auth: Option<&str>) -> Resp {
    let header;
    let headers: Vec<(&str, &str)> = match auth {
        Some(name) => {
            header = basic(name);
            vec![("authorization", header.as_str())]
        }
        None => vec![],
    };
    request(env, "GET", path, &headers, Vec::new()).await
}

/// A report document in the shape the SCS tool writes.
pub fn report_yaml(
    subject: &str,
    run_uuid: &str,
    checked_at: &str,
    results: &[(&str, i8)],
) -> String {
    let mut res = String::new();
    for (id, value) in results {
        res.push_str(&format!("        {id}: {value}\n"));
    }
    if results.is_empty() {
        res.push_str("        {}\n");
    }
    format!(
        "---\nspec:\n  uuid: {SCOPE}\n  name: Test KaaS\n  url: https://example.invalid/test-kaas.yaml\n\
         checked_at: {checked_at}\nreference_date: 2026-11-22\nsubject: {subject}\nrun:\n  uuid: {run_uuid}\n\
         \x20 argv: [scs-kaas, check]\n  assignment:\n    kubeconfig: /secret/path/kubeconfig.yaml\n\
         \x20 sections: null\n  forced_version: null\n  forced_tests: null\n  invocations:\n\
         \x20   9b1c3a52-0c4e-4b8e-9f0a-6d2f1e3c4b5a:\n      id: 9b1c3a52-0c4e-4b8e-9f0a-6d2f1e3c4b5a\n\
         \x20     cmd: ./check.py --token s3cr3t\n      results:\n{res}\
         \x20     rc: 0\n      stdout:\n      - 'fast: PASS'\n      - 'leaked secret token: PASS'\n\
         \x20     stderr:\n      - 'ERROR: <script>alert(1)</script> version too old'\n\
         \x20     - 'INFO: private detail'\n      info: 1\n      warning: 0\n      error: 1\n      critical: 0\n"
    )
}

/// Uploads a signed YAML body as `account`.
pub async fn upload(env: &Env, account: &str, body: Vec<u8>) -> Resp {
    let auth = basic(account);
    request(
        env,
        "POST",
        "/reports",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/x-signed-yaml"),
        ],
        body,
    )
    .await
}

/// Signs `yaml` with `account`'s key and uploads it as `account`.
pub async fn upload_report(env: &Env, account: &str, yaml: &str) -> Resp {
    let body = signed_body(&key_path(env, account), yaml.as_bytes());
    upload(env, account, body).await
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
