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
    Malformed,
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
        Mode::Malformed => (
            StatusCode::OK,
            [("content-type", "application/json")],
            // Cut off mid-document, as a broken proxy would.
            recorded("releases-page1.json")[..200].to_string(),
        )
            .into_response(),
        Mode::Normal if page == "2" => (
            StatusCode::OK,
            [("content-type", "application/json")],
            recorded("releases-page2.json"),
        )
            .into_response(),
        Mode::Normal if h("if-none-match").as_deref() == Some(ETAG) => {
            StatusCode::NOT_MODIFIED.into_response()
        }
        Mode::Normal => {
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

async fn osv(UrlPath(id): UrlPath<String>) -> Response {
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
        .route(
            "/schedule.yaml",
            get(|| async { recorded("schedule.yaml") }),
        )
        .route("/feed.json", get(|| async { recorded("feed.json") }))
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

    // Both pages were read, the token was sent to GitHub.
    let log = up.log.lock().unwrap().clone();
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
    assert_eq!(report.not_modified, ["GitHub releases"]);
    assert_eq!(report.new_releases, 0);
    let log = up.log.lock().unwrap().clone();
    assert_eq!(log.last().unwrap().2.as_deref(), Some(ETAG));
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
