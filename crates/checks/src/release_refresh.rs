//! `versions refresh`: fetch upstream release data into the local cache.
//!
//! Sources (each base URL overridable, so tests point them at a loopback server):
//! - GitHub releases of kubernetes/kubernetes, paginated by the `Link` header, with `GITHUB_TOKEN`
//!   when set (anonymous clients get 60 requests per hour);
//! - the Kubernetes release schedule (`kubernetes/website` `data/releases/schedule.yaml`) for
//!   end-of-life and maintenance-mode dates;
//! - the official Kubernetes CVE feed (ids) and each CVE's OSV record.
//!
//! New facts are merged over the best data we already have (newer of cache and snapshot), so
//! nothing older is lost. Every request has a timeout; ETags from the last refresh are sent
//! where upstream offers them. Any error leaves the old cache untouched; a successful refresh
//! replaces it atomically (temporary file + rename in the same directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scs_kaas_core::k8s_version::{Branch, K8sVersion};
use scs_kaas_core::osv::OsvRecord;
use scs_kaas_core::release::{self, BranchEol, Origin, Release, ReleaseDb};
use serde::{Deserialize, Serialize};

use crate::release_data::{self, CACHE_FILE};

/// File name of the ETag memory next to the cache.
pub const ETAG_FILE: &str = "http-etags.json";
/// At most this many pages of 100 GitHub releases are read.
pub const MAX_RELEASE_PAGES: usize = 30;

/// Where to fetch from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// GitHub API base, e.g. `https://api.github.com`.
    pub github_api: String,
    /// URL of the release schedule YAML.
    pub schedule_url: String,
    /// URL of the official CVE feed (JSON Feed).
    pub cve_feed_url: String,
    /// OSV record URL prefix; the CVE id is appended.
    pub osv_url: String,
    /// GitHub token, if any.
    pub token: Option<String>,
    /// Timeout of each request.
    pub timeout: Duration,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            github_api: "https://api.github.com".into(),
            schedule_url:
                "https://raw.githubusercontent.com/kubernetes/website/main/data/releases/schedule.yaml"
                    .into(),
            cve_feed_url:
                "https://kubernetes.io/docs/reference/issues-security/official-cve-feed/index.json"
                    .into(),
            osv_url: "https://api.osv.dev/v1/vulns/".into(),
            token: None,
            timeout: Duration::from_secs(20),
        }
    }
}

impl Sources {
    /// Defaults overridden by `SCS_KAAS_GITHUB_API`, `SCS_KAAS_SCHEDULE_URL`,
    /// `SCS_KAAS_CVE_FEED_URL`, `SCS_KAAS_OSV_URL` and `GITHUB_TOKEN`.
    pub fn from_env() -> Self {
        let mut s = Sources::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var("SCS_KAAS_GITHUB_API") {
            s.github_api = v;
        }
        if let Some(v) = var("SCS_KAAS_SCHEDULE_URL") {
            s.schedule_url = v;
        }
        if let Some(v) = var("SCS_KAAS_CVE_FEED_URL") {
            s.cve_feed_url = v;
        }
        if let Some(v) = var("SCS_KAAS_OSV_URL") {
            s.osv_url = v;
        }
        s.token = var("GITHUB_TOKEN");
        s
    }
}

/// Why a refresh failed (the old cache is kept in every case).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// No connection (offline, DNS, refused, TLS).
    #[error("cannot reach {url}: {reason} (offline? the cache was left unchanged)")]
    Unreachable {
        /// The URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The request took too long.
    #[error("{url} did not answer within {secs} s (the cache was left unchanged)")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// GitHub's rate limit.
    #[error(
        "rate limit exceeded at {url}{reset}: set GITHUB_TOKEN to a GitHub token to raise the limit (the cache was left unchanged)"
    )]
    RateLimited {
        /// The URL.
        url: String,
        /// When the limit resets, if told.
        reset: String,
    },
    /// An unexpected HTTP status.
    #[error("{url} answered HTTP {status}: {body} (the cache was left unchanged)")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The body was not what the source publishes.
    #[error("{url} sent a malformed body: {reason} (the cache was left unchanged)")]
    Malformed {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// Writing the cache failed.
    #[error("cannot write the cache {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No TLS trust roots could be loaded.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// The cache file written.
    pub path: PathBuf,
    /// The new data's date.
    pub as_of: jiff::civil::Date,
    /// GA and other releases now known.
    pub releases: usize,
    /// Releases that were not known before.
    pub new_releases: usize,
    /// Branches with an end-of-life date.
    pub branches: usize,
    /// CVE records.
    pub cves: usize,
    /// Sources that answered "not modified" (ETag).
    pub not_modified: Vec<String>,
    /// Anything worth telling (skipped records, ...).
    pub notes: Vec<String>,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

struct Fetcher {
    client: HttpsClient,
    timeout: Duration,
    token: Option<String>,
}

enum Fetched {
    Body {
        body: Bytes,
        etag: Option<String>,
        next: Option<String>,
    },
    NotModified,
    NotFound,
}

impl Fetcher {
    fn new(sources: &Sources) -> Result<Fetcher, RefreshError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| RefreshError::Tls(format!("no system trust roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Fetcher {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout: sources.timeout,
            token: sources.token.clone(),
        })
    }

    async fn get(
        &self,
        url: &str,
        etag: Option<&str>,
        github: bool,
    ) -> Result<Fetched, RefreshError> {
        let mut req = http::Request::get(url).header("user-agent", "scs-kaas (versions refresh)");
        if github {
            req = req
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28");
            if let Some(token) = &self.token {
                req = req.header("authorization", format!("Bearer {token}"));
            }
        }
        if let Some(etag) = etag {
            req = req.header("if-none-match", etag);
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| RefreshError::Unreachable {
                url: url.to_string(),
                reason: format!("invalid URL: {e}"),
            })?;
        let secs = self.timeout.as_secs();
        let work = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| RefreshError::Unreachable {
                    url: url.to_string(),
                    reason: error_chain(&e),
                })?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| RefreshError::Unreachable {
                    url: url.to_string(),
                    reason: format!("connection broke while reading: {e}"),
                })?
                .to_bytes();
            Ok::<_, RefreshError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| RefreshError::Timeout {
                url: url.to_string(),
                secs,
            })??;
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        match parts.status.as_u16() {
            200 => Ok(Fetched::Body {
                etag: header("etag"),
                next: header("link").and_then(|l| next_link(&l)),
                body,
            }),
            304 => Ok(Fetched::NotModified),
            404 => Ok(Fetched::NotFound),
            403 | 429
                if header("x-ratelimit-remaining").as_deref() == Some("0")
                    || parts.status.as_u16() == 429
                    || String::from_utf8_lossy(&body)
                        .to_lowercase()
                        .contains("rate limit") =>
            {
                let reset = header("x-ratelimit-reset")
                    .and_then(|s| s.parse::<i64>().ok())
                    .and_then(|s| jiff::Timestamp::from_second(s).ok())
                    .map(|t| format!(" (resets at {t})"))
                    .unwrap_or_default();
                Err(RefreshError::RateLimited {
                    url: url.to_string(),
                    reset,
                })
            }
            status => Err(RefreshError::Status {
                url: url.to_string(),
                status,
                body: String::from_utf8_lossy(&body).chars().take(200).collect(),
            }),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The `rel="next"` URL of a GitHub `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

#[derive(Deserialize)]
struct GithubRelease {
    tag_name: String,
    published_at: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
}

fn malformed(url: &str, reason: impl std::fmt::Display) -> RefreshError {
    RefreshError::Malformed {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

/// Refresh the cache in `cache_dir` as of `now`. On error the old cache is kept.
pub async fn refresh(
    sources: &Sources,
    cache_dir: &Path,
    now: jiff::Timestamp,
) -> Result<RefreshReport, RefreshError> {
    let fetcher = Fetcher::new(sources)?;
    let base = release_data::load_uncached(Some(cache_dir));
    let from_cache = matches!(base.db.origin, Origin::Cache(_));
    let etags: BTreeMap<String, String> = if from_cache {
        scs_kaas_core::input::read_bounded_text(
            &cache_dir.join(ETAG_FILE),
            scs_kaas_core::input::InputKind::Catalog,
        )
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let mut new_etags = BTreeMap::new();
    let mut data = base.db.data.clone();
    let mut notes = base.notes.clone();
    let mut not_modified = Vec::new();

    // Releases.
    let first = format!(
        "{}/repos/kubernetes/kubernetes/releases?per_page=100",
        sources.github_api.trim_end_matches('/')
    );
    let mut fetched_releases = Vec::new();
    let mut url = Some(first.clone());
    let mut pages = 0;
    while let Some(current) = url.take() {
        pages += 1;
        let etag = (current == first).then(|| etags.get(&first)).flatten();
        match fetcher
            .get(&current, etag.map(String::as_str), true)
            .await?
        {
            Fetched::NotModified => {
                not_modified.push("GitHub releases".to_string());
                new_etags.insert(first.clone(), etag.cloned().unwrap_or_default());
                break;
            }
            Fetched::NotFound => {
                return Err(RefreshError::Status {
                    url: current,
                    status: 404,
                    body: "not found".into(),
                });
            }
            Fetched::Body { body, etag, next } => {
                let page: Vec<GithubRelease> = serde_json::from_slice(&body).map_err(|e| {
                    malformed(&current, format!("expected a JSON array of releases: {e}"))
                })?;
                if current == first
                    && let Some(etag) = etag
                {
                    new_etags.insert(first.clone(), etag);
                }
                for r in page {
                    let Ok(version) = K8sVersion::parse(&r.tag_name) else {
                        notes.push(format!(
                            "skipped release tag `{}`: not a version",
                            r.tag_name
                        ));
                        continue;
                    };
                    let Some(published) = r.published_at else {
                        continue; // drafts have no publication date
                    };
                    let published: jiff::Timestamp = published.parse().map_err(|e| {
                        malformed(&current, format!("{}: published_at: {e}", r.tag_name))
                    })?;
                    fetched_releases.push(Release {
                        version,
                        published: release::utc_date(published),
                        prerelease: r.prerelease,
                        draft: r.draft,
                    });
                }
                if pages < MAX_RELEASE_PAGES {
                    url = next;
                } else if next.is_some() {
                    notes.push(format!(
                        "stopped after {MAX_RELEASE_PAGES} pages of releases"
                    ));
                }
            }
        }
    }
    let before = data.releases.len();
    merge_releases(&mut data.releases, fetched_releases);
    let new_releases = data.releases.len().saturating_sub(before);

    // Schedule (end of life).
    match fetcher
        .get(
            &sources.schedule_url,
            etags.get(&sources.schedule_url).map(String::as_str),
            false,
        )
        .await?
    {
        Fetched::NotModified => {
            not_modified.push("release schedule".to_string());
            if let Some(e) = etags.get(&sources.schedule_url) {
                new_etags.insert(sources.schedule_url.clone(), e.clone());
            }
        }
        Fetched::NotFound => {
            return Err(RefreshError::Status {
                url: sources.schedule_url.clone(),
                status: 404,
                body: "not found".into(),
            });
        }
        Fetched::Body { body, etag, .. } => {
            let entries = parse_schedule(&body).map_err(|e| malformed(&sources.schedule_url, e))?;
            merge_branches(&mut data.branches, entries);
            if let Some(etag) = etag {
                new_etags.insert(sources.schedule_url.clone(), etag);
            }
        }
    }

    // CVEs: feed of ids, then one OSV record each.
    match fetcher
        .get(
            &sources.cve_feed_url,
            etags.get(&sources.cve_feed_url).map(String::as_str),
            false,
        )
        .await?
    {
        Fetched::NotModified => {
            not_modified.push("CVE feed".to_string());
            if let Some(e) = etags.get(&sources.cve_feed_url) {
                new_etags.insert(sources.cve_feed_url.clone(), e.clone());
            }
        }
        Fetched::NotFound => {
            return Err(RefreshError::Status {
                url: sources.cve_feed_url.clone(),
                status: 404,
                body: "not found".into(),
            });
        }
        Fetched::Body { body, etag, .. } => {
            let ids = parse_feed(&body).map_err(|e| malformed(&sources.cve_feed_url, e))?;
            let results: Vec<_> = futures::stream::iter(ids)
                .map(|id| {
                    let url = format!("{}{id}", sources.osv_url);
                    let fetcher = &fetcher;
                    async move {
                        let fetched = fetcher.get(&url, None, false).await;
                        (id, url, fetched)
                    }
                })
                .buffered(4)
                .collect()
                .await;
            for (id, url, fetched) in results {
                match fetched? {
                    Fetched::Body { body, .. } => {
                        let record: OsvRecord = serde_json::from_slice(&body)
                            .map_err(|e| malformed(&url, format!("not an OSV record: {e}")))?;
                        data.cves.retain(|r| r.id != record.id);
                        data.cves.push(record);
                    }
                    Fetched::NotFound => notes.push(format!("{id}: no OSV record at {url}")),
                    Fetched::NotModified => {}
                }
            }
            data.cves.sort_by(|a, b| a.id.cmp(&b.id));
            if let Some(etag) = etag {
                new_etags.insert(sources.cve_feed_url.clone(), etag);
            }
        }
    }

    data.as_of = release::utc_date(now);
    data.format = release::FORMAT;
    data.sources = BTreeMap::from([
        ("releases".to_string(), format!("{first} (refreshed {now})")),
        ("end_of_life".to_string(), sources.schedule_url.clone()),
        (
            "cves".to_string(),
            format!("{} + {}<id>", sources.cve_feed_url, sources.osv_url),
        ),
    ]);
    let path = cache_dir.join(CACHE_FILE);
    let db = ReleaseDb::new(data, Origin::Cache(path.display().to_string()));
    notes.extend(db.warnings.iter().cloned());
    let json = serde_json::to_vec_pretty(&db.data).map_err(|e| RefreshError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomically(cache_dir, CACHE_FILE, &json)?;
    let etag_json = serde_json::to_vec_pretty(&new_etags).unwrap_or_default();
    write_atomically(cache_dir, ETAG_FILE, &etag_json)?;
    Ok(RefreshReport {
        path,
        as_of: db.data.as_of,
        releases: db.data.releases.len(),
        new_releases,
        branches: db.data.branches.len(),
        cves: db.data.cves.len(),
        not_modified,
        notes,
    })
}

/// Replace `dir/name` with `bytes` atomically: write a temporary file, flush it, rename.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RefreshError> {
    use std::io::Write;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RefreshError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join(name);
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&target)(e));
    }
    Ok(())
}

fn merge_releases(known: &mut Vec<Release>, fetched: Vec<Release>) {
    for r in fetched {
        match known.iter_mut().find(|k| k.version == r.version) {
            Some(k) => *k = r,
            None => known.push(r),
        }
    }
    known.sort_by(|a, b| b.version.cmp(&a.version));
}

fn merge_branches(known: &mut Vec<BranchEol>, fetched: Vec<BranchEol>) {
    for b in fetched {
        match known.iter_mut().find(|k| k.branch == b.branch) {
            Some(k) => *k = b,
            None => known.push(b),
        }
    }
    known.sort_by_key(|b| std::cmp::Reverse(b.branch));
}

/// Parse `schedule.yaml`: `schedules[]` with `release`, `endOfLifeDate`, `maintenanceModeStartDate`.
pub fn parse_schedule(body: &[u8]) -> Result<Vec<BranchEol>, String> {
    scs_kaas_core::yaml_depth::check(&String::from_utf8_lossy(body), "schedule.yaml")
        .map_err(|e| e.to_string())?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_slice(body).map_err(|e| format!("not YAML: {e}"))?;
    let schedules = doc
        .get("schedules")
        .and_then(|s| s.as_sequence())
        .ok_or("no `schedules` list")?;
    let text = |v: &serde_yaml_ng::Value, key: &str| -> Result<Option<String>, String> {
        match v.get(key) {
            None | Some(serde_yaml_ng::Value::Null) => Ok(None),
            Some(serde_yaml_ng::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "`{key}` must be a quoted string, found {other:?} (unquoted 1.30 would read as 1.3)"
            )),
        }
    };
    let date = |s: &str, key: &str| {
        s.parse::<jiff::civil::Date>()
            .map_err(|e| format!("`{key}: {s}` is not a date: {e}"))
    };
    let mut out = Vec::new();
    for entry in schedules {
        let release = text(entry, "release")?.ok_or("an entry has no `release`")?;
        let branch: Branch = release.parse().map_err(|e| format!("{e}"))?;
        let Some(eol) = text(entry, "endOfLifeDate")? else {
            return Err(format!("branch {branch} has no `endOfLifeDate`"));
        };
        let maintenance = text(entry, "maintenanceModeStartDate")?
            .map(|m| date(&m, "maintenanceModeStartDate"))
            .transpose()?;
        out.push(BranchEol {
            branch,
            end_of_life: date(&eol, "endOfLifeDate")?,
            maintenance_mode: maintenance,
        });
    }
    if out.is_empty() {
        return Err("`schedules` is empty".into());
    }
    Ok(out)
}

/// Parse the official CVE feed (JSON Feed): the ids of its items.
pub fn parse_feed(body: &[u8]) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Feed {
        items: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        id: String,
    }
    let feed: Feed = serde_json::from_slice(body)
        .map_err(|e| format!("expected a JSON feed with items: {e}"))?;
    let mut ids: Vec<String> = feed.items.into_iter().map(|i| i.id).collect();
    if let Some(bad) = ids
        .iter()
        .find(|id| id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(format!("item id `{bad}` is not a CVE id"));
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=9>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        assert_eq!(next_link(r#"<https://a/x?page=1>; rel="prev""#), None);
    }

    #[test]
    fn schedule_rejects_unquoted_branches() {
        let err = parse_schedule(b"schedules:\n- release: 1.30\n  endOfLifeDate: 2025-06-28\n")
            .unwrap_err();
        assert!(err.contains("quoted"), "{err}");
        let ok = parse_schedule(
            b"schedules:\n- release: \"1.30\"\n  endOfLifeDate: \"2025-06-28\"\n  maintenanceModeStartDate: \"2025-04-28\"\n",
        )
        .unwrap();
        assert_eq!(ok[0].branch, Branch::new(1, 30));
    }

    #[test]
    fn feed_ids() {
        let ids = parse_feed(br#"{"items":[{"id":"CVE-2024-2"},{"id":"CVE-2024-1"}]}"#).unwrap();
        assert_eq!(ids, ["CVE-2024-1", "CVE-2024-2"]);
        assert!(parse_feed(br#"{"items":[{"id":"../etc"}]}"#).is_err());
    }
}
