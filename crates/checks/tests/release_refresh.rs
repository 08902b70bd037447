//! `versions refresh` against a loopback HTTP server serving recorded upstream responses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scs_kaas_checks::release_data::{CACHE_FILE, load_uncached};
use scs_kaas_checks::release_refresh::{RefreshError, Sources, refresh};
use scs_kaas_core::k8s_version::{Branch, K8sVersion};
use scs_kaas_core::release::{self, Origin};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    RateLimited,
    /// HTTP 429 without GitHub's rate-limit headers (secondary limits, proxies).
    TooManyRequests,
    Malformed,
    /// Releases fine, the schedule is not the YAML upstream publishes.
    MalformedSchedule,
    /// Releases, schedule and feed fine, an OSV record is not JSON.
    MalformedOsv,
}

/// Path and query, authorization header, if-none-match header.
type Logged = (String, Option<String>, Option<String>);

#[derive(Clone)]
struct Upstream {
    base: String,
    mode: Arc<Mutex<Mode>>,
    /// (path and query, authorization header, if-none-match header) of every request.
    log: Arc<Mutex<Vec<Logged>>>,
}

fn recorded(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/refresh")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const ETAG: &str = "\"releases-v1\"";

async fn releases(
    State(up): State<Upstream>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let page = q.get("page").cloned().unwrap_or_else(|| "1".into());
    up.log.lock().unwrap().push((
        format!("/releases?page={page}"),
        h("authorization"),
        h("if-none-match"),
    ));
    let mode = *up.mode.lock().unwrap();
    match mode {
        Mode::RateLimited => (
            StatusCode::FORBIDDEN,
            [
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1795000000"),
                ("content-type", "application/json"),
            ],
            recorded("rate-limit.json"),
        )
            .into_response(),
        Mode::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response(),
        Mode::Malformed => (
            StatusCode::OK,
            [("content-type", "application/json")],
            // Cut off mid-document, as a broken proxy would.
            recorded("releases-page1.json")[..200].to_string(),
        )
            .into_response(),
        Mode::Normal | Mode::MalformedSchedule | Mode::MalformedOsv if page == "2" => (
            StatusCode::OK,
            [("content-type", "application/json")],
            recorded("releases-page2.json"),
        )
            .into_response(),
        Mode::Normal | Mode::MalformedSchedule | Mode::MalformedOsv
            if h("if-none-match").as_deref() == Some(ETAG) =>
        {
            StatusCode::NOT_MODIFIED.into_response()
        }
        Mode::Normal | Mode::MalformedSchedule | Mode::MalformedOsv => {
            let link = format!(
                "<{}/repos/kubernetes/kubernetes/releases?per_page=100&page=2>; rel=\"next\", <{}/repos/kubernetes/kubernetes/releases?per_page=100&page=2>; rel=\"last\"",
                up.base, up.base
            );
            (
                StatusCode::OK,
                [
                    ("content-type", "application/json".to_string()),
                    ("link", link),
                    ("etag", ETAG.to_string()),
                ],
                recorded("releases-page1.json"),
            )
                .into_response()
        }
    }
}

/// A body with an ETag, or 304 when the client already has that version.
fn tagged(up: &Upstream, path: &str, headers: &HeaderMap, tag: &str, body: String) -> Response {
    let sent = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    up.log
        .lock()
        .unwrap()
        .push((path.to_string(), None, sent.clone()));
    if sent.as_deref() == Some(tag) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (StatusCode::OK, [("etag", tag.to_string())], body).into_response()
}

async fn schedule(State(up): State<Upstream>, headers: HeaderMap) -> Response {
    if *up.mode.lock().unwrap() == Mode::MalformedSchedule {
        // A branch without its end-of-life date.
        return "schedules:\n- release: \"1.37\"\n  maintenanceModeStartDate: \"2027-08-28\"\n"
            .into_response();
    }
    tagged(
        &up,
        "/schedule.yaml",
        &headers,
        "\"schedule-v1\"",
        recorded("schedule.yaml"),
    )
}

async fn feed(State(up): State<Upstream>, headers: HeaderMap) -> Response {
    tagged(
        &up,
        "/feed.json",
        &headers,
        "\"feed-v1\"",
        recorded("feed.json"),
    )
}

async fn osv(State(up): State<Upstream>, UrlPath(id): UrlPath<String>) -> Response {
    if *up.mode.lock().unwrap() == Mode::MalformedOsv {
        return (StatusCode::OK, "<html>maintenance</html>").into_response();
    }
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/refresh/osv/{id}.json"));
    match std::fs::read_to_string(path) {
        Ok(body) => (StatusCode::OK, body).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "{\"code\":5,\"message\":\"Bug not found.\"}",
        )
            .into_response(),
    }
}

async fn start(mode: Mode) -> (Upstream, Sources) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let up = Upstream {
        base: base.clone(),
        mode: Arc::new(Mutex::new(mode)),
        log: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/repos/kubernetes/kubernetes/releases", get(releases))
        .route("/schedule.yaml", get(schedule))
        .route("/feed.json", get(feed))
        .route("/osv/{id}", get(osv))
        .with_state(up.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sources = Sources {
        github_api: base.clone(),
        schedule_url: format!("{base}/schedule.yaml"),
        cve_feed_url: format!("{base}/feed.json"),
        osv_url: format!("{base}/osv/"),
        token: Some("test-token".into()),
        timeout: Duration::from_secs(10),
    };
    (up, sources)
}

/// The requests to the GitHub releases API.
fn github_log(up: &Upstream) -> Vec<Logged> {
    up.log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p.starts_with("/releases"))
        .cloned()
        .collect()
}

fn now() -> jiff::Timestamp {
    "2026-11-22T09:00:00Z".parse().unwrap()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// An older cache (as of 2026-10-01) to prove it survives failed refreshes byte for byte.
fn write_old_cache(dir: &Path) -> Vec<u8> {
    let mut data = release::snapshot().unwrap().data;
    data.as_of = jiff::civil::date(2026, 10, 1);
    let bytes = serde_json::to_vec(&data).unwrap();
    std::fs::write(dir.join(CACHE_FILE), &bytes).unwrap();
    bytes
}

#[tokio::test]
async fn refresh_follows_pages_merges_and_writes_the_cache() {
    let (up, sources) = start(Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    let report = refresh(&sources, dir.path(), now()).await.unwrap();
    assert_eq!(report.as_of, jiff::civil::date(2026, 11, 22));
    // 4 releases on page 1 of which one draft without date, 2 on page 2; all new to the snapshot.
    assert_eq!(report.new_releases, 5, "{report:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("CVE-2099-2222: no OSV record")),
        "{:?}",
        report.notes
    );

    // Both pages were read, the token was sent to GitHub (and only there).
    let log = github_log(&up);
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].0, "/releases?page=2");
    assert!(
        log.iter()
            .all(|(_, auth, _)| auth.as_deref() == Some("Bearer test-token"))
    );

    // Only the cache and the ETag file are left: no temporary files.
    let names: Vec<_> = files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["http-etags.json", CACHE_FILE]);

    let loaded = load_uncached(Some(dir.path()));
    assert!(matches!(loaded.db.origin, Origin::Cache(_)));
    let db = &loaded.db;
    let today = jiff::civil::date(2026, 11, 22);
    let b135 = db.ga_releases(Branch::new(1, 35), today);
    // Published 2026-11-10T23:59:59Z is the UTC day 2026-11-10.
    assert_eq!(
        b135.last().unwrap(),
        &(K8sVersion::new(1, 35, 11), jiff::civil::date(2026, 11, 10))
    );
    assert!(b135.iter().any(|(v, d)| *v == K8sVersion::new(1, 35, 10) && *d == jiff::civil::date(2026, 10, 15)));
    // Older releases from the snapshot are kept.
    assert!(b135.iter().any(|(v, _)| *v == K8sVersion::new(1, 35, 0)));
    // The pre-release is stored but never GA.
    assert!(db.ga_releases(Branch::new(1, 37), today).is_empty());
    // Schedule: new branch, maintenance date taken from upstream; old entries kept.
    let b137 = db.eol(Branch::new(1, 37)).unwrap();
    assert_eq!(b137.end_of_life, jiff::civil::date(2027, 10, 28));
    assert_eq!(
        db.eol(Branch::new(1, 35)).unwrap().maintenance_mode,
        Some(jiff::civil::date(2026, 12, 28))
    );
    assert!(db.eol(Branch::new(1, 25)).is_some());
    // The new CVE is evaluated.
    let cve = db
        .advisories()
        .iter()
        .find(|a| a.id == "CVE-2099-1111")
        .unwrap();
    assert!(cve.affects(&K8sVersion::new(1, 35, 10)) && !cve.affects(&K8sVersion::new(1, 35, 11)));
}

#[tokio::test]
async fn second_refresh_sends_the_etag() {
    let (up, sources) = start(Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    refresh(&sources, dir.path(), now()).await.unwrap();
    let later: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
    let report = refresh(&sources, dir.path(), later).await.unwrap();
    assert_eq!(
        report.not_modified,
        ["GitHub releases", "release schedule", "CVE feed"]
    );
    assert_eq!(report.new_releases, 0);
    let log = up.log.lock().unwrap().clone();
    let sent = |path: &str| {
        log.iter()
            .rev()
            .find(|(p, _, _)| p == path)
            .and_then(|(_, _, tag)| tag.clone())
    };
    assert_eq!(sent("/releases?page=1").as_deref(), Some(ETAG));
    assert_eq!(sent("/schedule.yaml").as_deref(), Some("\"schedule-v1\""));
    assert_eq!(sent("/feed.json").as_deref(), Some("\"feed-v1\""));
    let loaded = load_uncached(Some(dir.path()));
    assert_eq!(loaded.db.data.as_of, jiff::civil::date(2026, 11, 23));
    assert!(
        loaded
            .db
            .ga_releases(Branch::new(1, 35), jiff::civil::date(2026, 11, 23))
            .iter()
            .any(|(v, _)| *v == K8sVersion::new(1, 35, 11))
    );
}

#[tokio::test]
async fn rate_limit_keeps_the_old_cache() {
    let (_up, sources) = start(Mode::RateLimited).await;
    let dir = tempfile::tempdir().unwrap();
    let old = write_old_cache(dir.path());
    let err = refresh(&sources, dir.path(), now()).await.unwrap_err();
    assert!(matches!(err, RefreshError::RateLimited { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("rate limit exceeded") && text.contains("GITHUB_TOKEN"),
        "{text}"
    );
    assert!(text.contains("resets at 2026-11-18"), "{text}");
    assert_eq!(std::fs::read(dir.path().join(CACHE_FILE)).unwrap(), old);
    assert_eq!(files(dir.path()).len(), 1, "no temporary files left");
}

#[tokio::test]
async fn malformed_body_keeps_the_old_cache() {
    let (_up, sources) = start(Mode::Malformed).await;
    let dir = tempfile::tempdir().unwrap();
    let old = write_old_cache(dir.path());
    let err = refresh(&sources, dir.path(), now()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("malformed body") && text.contains("JSON array of releases"),
        "{text}"
    );
    assert_eq!(std::fs::read(dir.path().join(CACHE_FILE)).unwrap(), old);
}

#[tokio::test]
async fn offline_is_a_clear_error() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sources = Sources {
        github_api: format!("http://127.0.0.1:{port}"),
        schedule_url: format!("http://127.0.0.1:{port}/s"),
        cve_feed_url: format!("http://127.0.0.1:{port}/f"),
        osv_url: format!("http://127.0.0.1:{port}/o/"),
        token: None,
        timeout: Duration::from_secs(10),
    };
    let dir = tempfile::tempdir().unwrap();
    let err = refresh(&sources, dir.path(), now()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot reach") && text.contains("offline?"),
        "{text}"
    );
    assert!(files(dir.path()).is_empty(), "nothing written");
}

/// Failures after the releases were fetched must not leave a half-refreshed cache either.
#[tokio::test]
async fn later_malformed_sources_keep_the_old_cache() {
    for (mode, url_part, reason) in [
        (
            Mode::MalformedSchedule,
            "/schedule.yaml",
            "branch 1.37 has no `endOfLifeDate`",
        ),
        (Mode::MalformedOsv, "/osv/CVE-2099-", "not an OSV record"),
    ] {
        let (up, sources) = start(mode).await;
        let dir = tempfile::tempdir().unwrap();
        let old = write_old_cache(dir.path());
        let err = refresh(&sources, dir.path(), now()).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, RefreshError::Malformed { .. }), "{text}");
        assert!(
            text.contains(url_part)
                && text.contains(reason)
                && text.contains("cache was left unchanged"),
            "{text}"
        );
        // Both release pages had been read before the failure.
        assert_eq!(github_log(&up).len(), 2);
        assert_eq!(std::fs::read(dir.path().join(CACHE_FILE)).unwrap(), old);
        assert_eq!(
            files(dir.path()).len(),
            1,
            "no temporary or ETag files left"
        );
    }
}

#[tokio::test]
async fn http_429_is_a_rate_limit_too() {
    let (_up, sources) = start(Mode::TooManyRequests).await;
    let dir = tempfile::tempdir().unwrap();
    let old = write_old_cache(dir.path());
    let err = refresh(&sources, dir.path(), now()).await.unwrap_err();
    assert!(matches!(err, RefreshError::RateLimited { .. }), "{err}");
    assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    assert_eq!(std::fs::read(dir.path().join(CACHE_FILE)).unwrap(), old);
}

#[tokio::test]
async fn anonymous_refresh_sends_no_authorization() {
    let (up, mut sources) = start(Mode::Normal).await;
    sources.token = None;
    let dir = tempfile::tempdir().unwrap();
    refresh(&sources, dir.path(), now()).await.unwrap();
    let log = up.log.lock().unwrap().clone();
    assert_eq!(
        log.len(),
        4,
        "two release pages, the schedule and the feed: {log:?}"
    );
    assert!(log.iter().all(|(_, auth, _)| auth.is_none()), "{log:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts connections (the kernel's backlog does) but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sources = Sources {
        github_api: base.clone(),
        schedule_url: format!("{base}/s"),
        cve_feed_url: format!("{base}/f"),
        osv_url: format!("{base}/o/"),
        token: None,
        timeout: Duration::from_secs(1),
    };
    let dir = tempfile::tempdir().unwrap();
    let old = write_old_cache(dir.path());
    let err = refresh(&sources, dir.path(), now()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Timeout { .. }), "{err}");
    assert!(
        err.to_string().contains("did not answer within 1 s"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.path().join(CACHE_FILE)).unwrap(), old);
    drop(listener);
}
