//! Load generator for the monitor (run through `bench/monitor.sh`, release mode).
//!
//! It starts the monitor as a separate process (this binary re-executed with `serve`, so the
//! server's peak RSS is its own), creates `--subjects` accounts sharing one bcrypt hash (cost 12,
//! as in real bootstrap files) and one ed25519 key, then measures:
//! 1. warm-up: the first authenticated request of every account (one bcrypt check each);
//! 2. ingest: `--reports` signed YAML reports over `--clients` concurrent keep-alive connections,
//!    alternating the two built-in scopes, every report with a fresh run uuid and signature;
//! 3. the table page (`/page/table`, every subject × both scopes) `--table-requests` times from
//!    one client, with p50/p99/max latency;
//! 4. the server's peak RSS (`VmHWM`) and its RSS after the table requests (steady state);
//! 5. a restart on the same database: time until it serves, and its RSS after one table page,
//!    against the steady RSS of the process that ingested the data.
//!
//! Client and server share the machine, so the figures are lower bounds for the server alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Options {
    db: Option<String>,
    subjects: usize,
    reports: usize,
    clients: usize,
    table_requests: usize,
}

fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        db: None,
        subjects: 200,
        reports: 100_000,
        clients: 16,
        table_requests: 2_000,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .with_context(|| format!("{flag} needs a number, not {value:?}"))
        };
        match flag.as_str() {
            "--db" => o.db = Some(value.clone()),
            "--subjects" => o.subjects = number()?,
            "--reports" => o.reports = number()?,
            "--clients" => o.clients = number()?,
            "--table-requests" => o.table_requests = number()?,
            other => bail!(
                "unknown option {other:?}: use --db URL --subjects N --reports N --clients N \
                 --table-requests N"
            ),
        }
    }
    if o.subjects == 0 || o.clients == 0 {
        bail!("--subjects and --clients must be at least 1");
    }
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        // The server process: `serve DB_URL BOOTSTRAP`, prints its address on stdout.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(serve(&args[1], &args[2]));
    }
    let options = parse_options(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(drive(options))
}

async fn serve(db: &str, bootstrap: &str) -> anyhow::Result<()> {
    use scs_kaas_monitor::state::{AppState, Config};
    // Log like `scs-kaas monitor serve` does by default (info: one access line per request);
    // the driver sends this process's stderr to a file.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        .with_writer(std::io::stderr)
        .init();
    let state = AppState::start(Config {
        db_url: db.to_string(),
        bootstrap: bootstrap.into(),
        base_url: "/".into(),
        body_limit: 8 << 20,
        limits: Default::default(),
        scopes: Arc::new(|| scs_kaas_monitor::scopes::load(None)),
        clock: Arc::new(scs_kaas_monitor::clock::SystemClock),
    })
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    scs_kaas_monitor::server::serve_until(state, listener, std::future::pending()).await?;
    Ok(())
}

const PASSWORD: &str = "bench-password";

/// One scope to report against: uuid, name, testcase ids.
struct BenchScope {
    uuid: String,
    name: String,
    testcases: Vec<String>,
}

async fn drive(o: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db =
        o.db.clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("monitor.db").display()));
    let key = ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[7u8; 32]));
    let blob = key
        .public_key()
        .to_openssh()?
        .split_whitespace()
        .nth(1)
        .context("public key without blob")?
        .to_string();
    let started = Instant::now();
    let hash = bcrypt::hash(PASSWORD, 12)?;
    let bcrypt_ms = started.elapsed().as_secs_f64() * 1000.0;
    let subjects: Vec<String> = (0..o.subjects).map(|i| format!("csp-{i:03}")).collect();
    let mut yaml = String::from("accounts:\n");
    for s in &subjects {
        yaml.push_str(&format!(
            "  - subject: {s}\n    api_keys: [\"{hash}\"]\n    keys:\n      - {{public_key: \"{blob}\", \
             public_key_type: ssh-ed25519, public_key_name: ci}}\n"
        ));
    }
    let bootstrap = dir.path().join("bootstrap.yaml");
    std::fs::write(&bootstrap, yaml)?;

    let scopes: Vec<BenchScope> = scs_kaas_monitor::scopes::load(None)?
        .into_iter()
        .map(|s| BenchScope {
            uuid: s.card.uuid.clone(),
            name: s.card.name.clone(),
            testcases: s.card.testcases.keys().cloned().collect(),
        })
        .collect();
    let scopes = Arc::new(scopes);

    let mut server = tokio::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .arg(&db)
        .arg(&bootstrap)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("server.log"))?)
        .kill_on_drop(true)
        .spawn()?;
    let pid = server.id().context("server pid")?;
    let mut out = BufReader::new(server.stdout.take().context("server stdout")?).lines();
    let addr: std::net::SocketAddr = out
        .next_line()
        .await?
        .context("the server exited before printing its address")?
        .parse()?;
    let backend = if db.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!(
        "monitor bench: {backend}, {} subjects, {} scopes, {} reports, {} clients (bcrypt cost 12 \
         hash took {bcrypt_ms:.0} ms; load average {})",
        o.subjects,
        scopes.len(),
        o.reports,
        o.clients,
        loadavg()
    );

    // 1. Warm-up: one bcrypt verification per account.
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let subjects = Arc::new(subjects);
    let mut tasks = Vec::new();
    for _ in 0..o.clients {
        let (next, subjects) = (Arc::clone(&next), Arc::clone(&subjects));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(s) = subjects.get(i) else {
                    return anyhow::Ok(());
                };
                let (status, _) = conn
                    .send_retrying("GET", "/reports?limit=1", Some(s), None)
                    .await?;
                if status != 200 {
                    bail!("warm-up GET /reports as {s}: HTTP {status}");
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "warm-up: {} first logins (bcrypt each) in {:.1} s",
        o.subjects,
        started.elapsed().as_secs_f64()
    );

    // 2. Ingest.
    let cpu_before = cpu_seconds(pid)?;
    let key = Arc::new(key);
    let next = Arc::new(AtomicUsize::new(0));
    let base = jiff::Timestamp::now();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.clients {
        let (next, subjects, scopes, key) = (
            Arc::clone(&next),
            Arc::clone(&subjects),
            Arc::clone(&scopes),
            Arc::clone(&key),
        );
        let total = o.reports;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(latencies);
                }
                let subject = &subjects[i % subjects.len()];
                let scope = &scopes[(i / subjects.len()) % scopes.len()];
                // Older reports first, all within the last few hours (so results stay valid).
                let age = jiff::SignedDuration::from_millis(((total - i) as i64) * 100);
                let checked_at = jiff::tz::Offset::UTC.to_datetime(base - age);
                let report = report_yaml(subject, scope, checked_at, i);
                let sig = scs_kaas_core::signature::sign_report(&key, report.as_bytes())?;
                let mut body = sig.into_bytes();
                body.push(b'&');
                body.extend_from_slice(report.as_bytes());
                let t = Instant::now();
                let (status, text) = conn
                    .send("POST", "/reports", Some(subject), Some(body))
                    .await?;
                latencies.push(t.elapsed());
                if status != 200 {
                    bail!("upload {i} as {subject}: HTTP {status}: {text}");
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid)? - cpu_before;
    println!(
        "ingest: {} signed reports in {secs:.1} s = {:.0} reports/s; upload latency {} \
         (load average {})",
        o.reports,
        o.reports as f64 / secs,
        summary(&mut latencies),
        loadavg()
    );
    println!(
        "ingest: server CPU {cpu:.1} s = {:.0} µs per report (≈ {:.0} reports/s per fully \
         available core; the load generator shares the machine)",
        cpu * 1e6 / o.reports as f64,
        o.reports as f64 / cpu
    );

    // 3. Table page.
    let mut conn = Conn::open(addr).await?;
    let (_, metrics) = conn.send("GET", "/metrics", None, None).await?;
    let commits: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("scs_monitor_db_commits_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0);
    if commits > 0.0 {
        println!(
            "ingest: {commits:.0} commits, {:.1} uploads per commit on average",
            o.reports as f64 / commits
        );
    }
    let (status, page) = conn.send("GET", "/page/table", None, None).await?;
    if status != 200 || !page.contains(&subjects[0]) {
        bail!("table page: HTTP {status}, subject rows missing");
    }
    let mut latencies = Vec::with_capacity(o.table_requests);
    let started = Instant::now();
    for _ in 0..o.table_requests {
        let t = Instant::now();
        let (status, _) = conn.send("GET", "/page/table", None, None).await?;
        latencies.push(t.elapsed());
        if status != 200 {
            bail!("table page: HTTP {status}");
        }
    }
    println!(
        "table page ({} subjects × {} scopes, {} bytes): {} requests in {:.1} s; latency {} \
         (load average {})",
        o.subjects,
        scopes.len(),
        page.len(),
        o.table_requests,
        started.elapsed().as_secs_f64(),
        summary(&mut latencies),
        loadavg()
    );
    let mut latencies = Vec::new();
    for _ in 0..o.table_requests.min(500) {
        let t = Instant::now();
        let (status, _) = conn.send("GET", "/status", None, None).await?;
        latencies.push(t.elapsed());
        if status != 200 {
            bail!("/status: HTTP {status}");
        }
    }
    println!("GET /status: latency {}", summary(&mut latencies));

    // 4. Peak and steady RSS of the server process.
    let steady = proc_status_kib(pid, "VmRSS")?;
    println!(
        "server peak RSS: {} kB; steady RSS after the table requests: {steady} kB",
        proc_status_kib(pid, "VmHWM")?
    );
    server.kill().await?;
    server.wait().await?;

    // 5. Restart on the same database: the start-up reads the newest results back.
    let started = Instant::now();
    let mut server = tokio::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .arg(&db)
        .arg(&bootstrap)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("server2.log"))?)
        .kill_on_drop(true)
        .spawn()?;
    let pid = server.id().context("server pid")?;
    let mut out = BufReader::new(server.stdout.take().context("server stdout")?).lines();
    let addr: std::net::SocketAddr = out
        .next_line()
        .await?
        .context("the restarted server exited before printing its address")?
        .parse()?;
    let start_secs = started.elapsed().as_secs_f64();
    let mut conn = Conn::open(addr).await?;
    let (status, again) = conn.send("GET", "/page/table", None, None).await?;
    if status != 200 || again.len() != page.len() {
        bail!(
            "table page after restart: HTTP {status}, {} bytes instead of {}",
            again.len(),
            page.len()
        );
    }
    let restarted = proc_status_kib(pid, "VmRSS")?;
    println!(
        "restart: serving after {start_secs:.1} s; RSS {restarted} kB (peak {} kB) = {:.2}× the \
         steady RSS before the restart",
        proc_status_kib(pid, "VmHWM")?,
        restarted as f64 / steady as f64
    );
    server.kill().await?;
    Ok(())
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// The machine's 1/5/15-minute load averages, e.g. `0.42 0.80 1.10` (the machine is shared, so
/// every figure is printed with the load it was measured under).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// User + system CPU seconds the process `pid` has used so far.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("malformed /proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn summary(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "n/a".into();
    }
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50),
        at(0.99),
        at(1.0)
    )
}

/// A report in the SCS tool's shape with one invocation listing every testcase of the scope.
fn report_yaml(
    subject: &str,
    scope: &BenchScope,
    checked_at: jiff::civil::DateTime,
    i: usize,
) -> String {
    let run = uuid::Uuid::new_v4();
    let inv = uuid::Uuid::new_v4();
    let mut results = String::new();
    let mut stdout = String::new();
    for (n, id) in scope.testcases.iter().enumerate() {
        let value = if (i + n).is_multiple_of(17) { -1 } else { 1 };
        results.push_str(&format!("        {id}: {value}\n"));
        let word = if value == 1 { "PASS" } else { "FAIL" };
        stdout.push_str(&format!("      - '{id}: {word}'\n"));
    }
    let checked_at = checked_at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    format!(
        "---\nspec:\n  uuid: {uuid}\n  name: {name}\n  url: https://example.invalid/scope.yaml\n\
         checked_at: {checked_at}\nreference_date: {date}\nsubject: {subject}\nrun:\n  uuid: {run}\n\
         \x20 argv: [scs-kaas, check]\n  assignment:\n    subject_root: {subject}\n  sections: null\n\
         \x20 forced_version: null\n  forced_tests: null\n  invocations:\n    {inv}:\n      id: {inv}\n\
         \x20     cmd: scs-kaas native:all\n      results:\n{results}      rc: 0\n      stdout:\n{stdout}\
         \x20     stderr:\n      - 'INFO: bench report {i}'\n      info: 1\n      warning: 0\n      error: 0\n\
         \x20     critical: 0\n",
        uuid = scope.uuid,
        name = scope.name,
        date = &checked_at[..10],
    )
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<bytes::Bytes>>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { sender })
    }

    /// Like [`Conn::send`], but waits and retries while the server answers 503 (its password
    /// checks are all busy), as a well-behaved client does.
    async fn send_retrying(
        &mut self,
        method: &str,
        path: &str,
        account: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(u16, String)> {
        loop {
            let answer = self.send(method, path, account, body.clone()).await?;
            if answer.0 != 503 {
                return Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        account: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(u16, String)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "bench");
        if let Some(a) = account {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{a}:{PASSWORD}"));
            req = req.header("authorization", format!("Basic {b}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/x-signed-yaml");
        }
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(req.body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}
