//! `scs-kaas versions status|resolve|refresh` as a user runs them: output, error texts, exit codes.
//!
//! Every run gets its own empty cache directory so the built-in snapshot (as of 2026-08-22)
//! decides unless a test writes a cache; dates are pinned with `--date`.

use std::path::Path;
use std::process::{Command, Output};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(cache: &Path, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .env("HOME", cache)
        .env_remove("SCS_KAAS_CACHE_DIR")
        .env_remove("GITHUB_TOKEN")
        .output()
        .expect("the binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args)
}

#[test]
fn status_prints_upstream_state_and_names_the_data() {
    let r = run(&["versions", "status", "--date", "2026-08-22"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("release data: built-in snapshot as of 2026-08-22 (0 days old)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("1.35    2025-12-17  v1.35.8    2026-08-20  2027-02-28   supported"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("1.33    2025-04-23  v1.33.13   2026-06-11  2026-06-28   EOL"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("next deadline: 2026-09-20: roll out v1.34.11"),
        "{}",
        r.stdout
    );
}

#[test]
fn status_warns_loudly_when_data_is_stale() {
    let r = run(&["versions", "status", "--date", "2026-11-22"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("WARNING: RELEASE DATA IS STALE: built-in snapshot is 92 days old"),
        "{}",
        r.stderr
    );
}

#[test]
fn status_judges_an_offering() {
    let ok = run(&[
        "versions",
        "status",
        "--date",
        "2026-08-22",
        "--offered",
        "v1.36.4,v1.35.8,v1.34.11",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(ok.stdout.contains("verdict: PASS"), "{}", ok.stdout);
    let bad = run(&[
        "versions",
        "status",
        "--date",
        "2026-08-22",
        "--offered",
        "v1.36.4,v1.35.2",
    ]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    assert!(bad.stdout.contains("ERROR: [VER-06] branch 1.34 is supported upstream until 2026-10-27 but not offered (fix: offer v1.34.11)"), "{}", bad.stdout);
    assert!(
        bad.stdout
            .contains("ERROR: [VER-03] offered v1.35.2 is outdated"),
        "{}",
        bad.stdout
    );
}

#[test]
fn status_flags_a_preview_only_newest_minor() {
    let r = run(&[
        "versions",
        "status",
        "--date",
        "2026-08-22",
        "--offered",
        "v1.36.4:preview,v1.35.8,v1.34.11",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("offering: v1.36.4 (preview), v1.35.8, v1.34.11"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            "WARNING: [TP-03] newest minor 1.36 only available as preview; it had to be offered from 2026-08-21"
        ),
        "{}",
        r.stdout
    );
    let bad = run(&["versions", "status", "--offered", "v1.36.4:beta"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("unknown marker `beta`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn status_reads_an_offered_file_and_renders_json_and_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("offered.txt");
    std::fs::write(
        &file,
        "# our catalogue\nv1.36.4\nv1.35.8\nv1.34.11\nv1.33.13\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let r = run(&[
        "versions",
        "status",
        "--date",
        "2026-08-22",
        "--offered-file",
        f,
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["status"], "PASS");
    assert_eq!(doc["data"]["as_of"], "2026-08-22");
    assert_eq!(doc["branches"][0]["branch"], "1.36");
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "VER-07")
    );
    let md = run(&[
        "versions",
        "status",
        "--date",
        "2026-08-22",
        "--offered-file",
        f,
        "--output",
        "markdown",
    ]);
    assert_eq!(md.code, 0);
    assert!(
        md.stdout
            .contains("| 1.36 | 2026-04-22 | v1.36.4 | 2026-08-20 | 2027-06-28 | supported |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains(
            "- WARNING [VER-07] v1.33.13 is offered but branch 1.33 is past its end of life"
        ),
        "{}",
        md.stdout
    );
}

#[test]
fn status_rejects_bad_input_with_exit_2() {
    let r = run(&[
        "versions",
        "status",
        "--date",
        "2026-08-22",
        "--offered",
        "v1.36.4,1.35",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`1.35` is not a Kubernetes version"),
        "{}",
        r.stderr
    );
    let r = run(&["versions", "status", "--date", "22.08.2026"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--date `22.08.2026` is not a day: use YYYY-MM-DD"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "versions",
        "status",
        "--offered-file",
        "/nonexistent/offered.txt",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot read --offered-file /nonexistent/offered.txt"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "versions",
        "status",
        "--offered",
        "v1.35.8",
        "--offered-file",
        "x",
    ]);
    assert_eq!(r.code, 2, "clap refuses both");
}

#[test]
fn resolve_x_to_the_newest_ga_patch() {
    let r = run(&[
        "versions",
        "resolve",
        "v1.35.x",
        "--date",
        "2026-08-22",
        "--output",
        "env",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "KUBERNETES_VERSION=v1.35.8\n");
    assert!(
        r.stderr
            .contains("release data: built-in snapshot as of 2026-08-22"),
        "{}",
        r.stderr
    );
    // As of an earlier day, the newest patch then.
    let r = run(&["versions", "resolve", "1.35.x", "--date", "2026-05-01"]);
    assert_eq!(r.stdout, "v1.35.4\n");
    let r = run(&[
        "versions",
        "resolve",
        "1.35.2",
        "--date",
        "2026-08-22",
        "--output",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["version"], "v1.35.2");
    assert_eq!(doc["preview"], false);
}

#[test]
fn resolve_gates_previews_with_or_without_v() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(
        &catalog,
        "branches: [{branch: \"1.35\"}, {branch: \"1.36\", preview: true}]\n",
    )
    .unwrap();
    let c = catalog.to_str().unwrap();
    for req in ["v1.36.2", "1.36.2", "v1.36.x"] {
        let r = run(&[
            "versions",
            "resolve",
            req,
            "--catalog",
            c,
            "--date",
            "2026-08-22",
        ]);
        assert_eq!(r.code, 1, "{req}: {}", r.stdout);
        assert!(
            r.stderr
                .contains("is a technical preview: pass --allow-preview-versions to use it"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
        let ok = run(&[
            "versions",
            "resolve",
            req,
            "--catalog",
            c,
            "--date",
            "2026-08-22",
            "--allow-preview-versions",
            "--output",
            "env",
        ]);
        assert_eq!(ok.code, 0, "{}", ok.stderr);
        assert!(
            ok.stdout.starts_with("KUBERNETES_VERSION=v1.36."),
            "{}",
            ok.stdout
        );
    }
    let r = run(&[
        "versions",
        "resolve",
        "v1.34.x",
        "--catalog",
        c,
        "--date",
        "2026-08-22",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("branch 1.34 is not offered; offered branches: 1.35 (preview: 1.36)"),
        "{}",
        r.stderr
    );
}

#[test]
fn resolve_refuses_eol_and_unknown_naming_the_range() {
    let r = run(&["versions", "resolve", "v1.33.x", "--date", "2026-08-22"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error: branch 1.33 reached its end of life on 2026-06-28; supported upstream branches on 2026-08-22: 1.34 to 1.36"), "{}", r.stderr);
    let r = run(&["versions", "resolve", "v1.38.x", "--date", "2026-08-22"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "error: branch 1.38 has no GA release in the release data (as of 2026-08-22); supported upstream branches on 2026-08-22: 1.34 to 1.36"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    // A patch that does not exist is refused with the known range, never passed through.
    let r = run(&["versions", "resolve", "1.35.99", "--date", "2026-08-22"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "v1.35.99 is not a known GA release (known GA patches of 1.35: v1.35.0 to v1.35.8)"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn resolve_rejects_bad_input_with_exit_2() {
    let r = run(&["versions", "resolve", "latest"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("`latest` is not a version request: use vMAJOR.MINOR.x"),
        "{}",
        r.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, "branches: [{branch: \"1.35\", previw: true}]\n").unwrap();
    let r = run(&[
        "versions",
        "resolve",
        "v1.35.x",
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown field `previw`"), "{}", r.stderr);
}

#[test]
fn newer_cache_is_used_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut data: serde_json::Value =
        serde_json::from_str(scs_kaas_core::release::SNAPSHOT_JSON).unwrap();
    data["as_of"] = "2026-11-20".into();
    let cache = dir.path().join("mycache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("k8s-release-data.json"), data.to_string()).unwrap();
    let r = run_in(
        dir.path(),
        &[
            "versions",
            "resolve",
            "v1.35.x",
            "--date",
            "2026-11-22",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "release data: cache {}/k8s-release-data.json as of 2026-11-20 (2 days old)",
            cache.display()
        )),
        "{}",
        r.stderr
    );
    // The XDG default is used without --cache-dir.
    let xdg = dir.path().join("scs-kaas");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("k8s-release-data.json"), data.to_string()).unwrap();
    let r = run_in(dir.path(), &["versions", "status", "--date", "2026-11-22"]);
    assert!(
        r.stderr.contains("as of 2026-11-20 (2 days old)"),
        "{}",
        r.stderr
    );
}

#[test]
fn refresh_offline_keeps_the_cache_and_exits_2() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let r = run_in(
        dir.path(),
        &[
            "versions",
            "refresh",
            "--cache-dir",
            dir.path().to_str().unwrap(),
            "--github-api",
            &base,
            "--schedule-url",
            &format!("{base}/s"),
            "--cve-feed-url",
            &format!("{base}/f"),
            "--osv-url",
            &format!("{base}/o/"),
            "--timeout",
            "5",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach") && r.stderr.contains("offline?"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("release data in use: built-in snapshot"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("k8s-release-data.json").exists());
}

/// Serves the recorded upstream responses of `crates/checks/tests/data/refresh` on loopback
/// (two release pages linked as GitHub does, the schedule, the CVE feed, OSV records) and
/// returns the base URL; the server lives as long as the test process.
fn recorded_upstream() -> String {
    use axum::extract::{Path as UrlPath, Query};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use std::collections::HashMap;

    fn recorded(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../checks/tests/data/refresh")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let link_base = base.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let releases = move |Query(q): Query<HashMap<String, String>>| {
                let link_base = link_base.clone();
                async move {
                    if q.get("page").map(String::as_str) == Some("2") {
                        return recorded("releases-page2.json").into_response();
                    }
                    let next = format!(
                        "<{link_base}/repos/kubernetes/kubernetes/releases?per_page=100&page=2>; rel=\"next\""
                    );
                    ([("link", next)], recorded("releases-page1.json")).into_response()
                }
            };
            let app = axum::Router::new()
                .route("/repos/kubernetes/kubernetes/releases", get(releases))
                .route("/schedule.yaml", get(|| async { recorded("schedule.yaml") }))
                .route("/feed.json", get(|| async { recorded("feed.json") }))
                .route(
                    "/osv/{id}",
                    get(|UrlPath(id): UrlPath<String>| async move {
                        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                            .join(format!("../checks/tests/data/refresh/osv/{id}.json"));
                        match std::fs::read_to_string(path) {
                            Ok(body) => body.into_response(),
                            Err(_) => (StatusCode::NOT_FOUND, "{}").into_response(),
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    base
}

#[test]
fn refresh_writes_the_cache_that_later_commands_use() {
    let base = recorded_upstream();
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(
        dir.path(),
        &[
            "versions",
            "refresh",
            "--cache-dir",
            dir.path().to_str().unwrap(),
            "--github-api",
            &base,
            "--schedule-url",
            &format!("{base}/schedule.yaml"),
            "--cve-feed-url",
            &format!("{base}/feed.json"),
            "--osv-url",
            &format!("{base}/osv/"),
            "--timeout",
            "10",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("anonymous GitHub access"), "{}", r.stderr);
    assert!(
        r.stdout.starts_with("wrote ") && r.stdout.contains("(5 new)"),
        "{}",
        r.stdout
    );
    assert!(dir.path().join("k8s-release-data.json").exists());
    // The refreshed data knows v1.35.11 (2026-11-10), which the built-in snapshot does not.
    let r = run_in(
        dir.path(),
        &[
            "versions",
            "resolve",
            "v1.35.x",
            "--cache-dir",
            dir.path().to_str().unwrap(),
            "--date",
            "2026-11-22",
            "--output",
            "env",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "KUBERNETES_VERSION=v1.35.11\n");
    assert!(r.stderr.contains("release data: cache "), "{}", r.stderr);
}

#[test]
fn release_data_file_in_github_format_judges_scs_testdata() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/tests/data/release/github-releases.scs-testdata.json"
    );
    let r = run(&[
        "versions",
        "status",
        "--date",
        "2024-03-20",
        "--release-data",
        file,
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("release data: file ") && r.stderr.contains("as of 2024-03-15"),
        "{}",
        r.stderr
    );
    // v1.29.3 was published (published_at) 2024-03-15.
    assert!(r.stdout.contains("v1.29.3    2024-03-15"), "{}", r.stdout);
    // A verdict on an offering judged by that data.
    let r = run(&[
        "versions",
        "status",
        "--date",
        "2024-03-20",
        "--release-data",
        file,
        "--offered",
        "v1.29.3,v1.28.8,v1.27.12",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // A file that is neither format: usage error naming it.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"releases\": 1}").unwrap();
    let r = run(&[
        "versions",
        "status",
        "--release-data",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--release-data"), "{}", r.stderr);
}
