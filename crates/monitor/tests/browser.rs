//! The status pages as a browser renders them: headless Chromium (Debian `chromium`) loads the
//! table and detail pages from a real monitor on loopback, takes a screenshot and dumps the DOM.
//!
//! Without `chromium` on PATH the test is skipped with a loud notice, except where the browser
//! is required: when `SCS_KAAS_REQUIRE_CHROMIUM` (exported by `.ci/run`, which installs
//! chromium) or `CI` is set, a missing browser fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use jiff::civil::datetime;

/// Whether a missing browser is a failure rather than a skip.
fn browser_required() -> bool {
    ["SCS_KAAS_REQUIRE_CHROMIUM", "CI"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The browser binary, or `None` (after a loud notice) when absent and not required.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !browser_required(),
            "chromium is not on PATH but the browser test is required here \
             (SCS_KAAS_REQUIRE_CHROMIUM or CI is set): apt-get install chromium"
        );
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: headless-browser test of the monitor pages: `chromium` is not on PATH\n\
             !!! (apt-get install chromium; CI always has it)\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
    }
    found
}

/// Runs headless Chromium once with a private profile; returns stdout.
fn run_chromium(browser: &Path, profile: &Path, args: &[String]) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Screenshot of `url`; returns the PNG bytes after checking signature and size.
fn screenshot(browser: &Path, dir: &Path, name: &str, url: &str) -> Vec<u8> {
    let file = dir.join(format!("{name}.png"));
    let args = [format!("--screenshot={}", file.display()), url.to_string()];
    run_chromium(browser, &dir.join(format!("profile-{name}")), &args);
    let png = std::fs::read(&file).unwrap_or_else(|e| panic!("no screenshot {file:?}: {e}"));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name}: not a PNG file"
    );
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900), "{name}: screenshot size");
    png
}

/// The DOM after loading `url` (Chromium needs scripts enabled to serialise it).
fn dom(browser: &Path, dir: &Path, name: &str, url: &str) -> String {
    let args = ["--dump-dom".to_string(), url.to_string()];
    run_chromium(browser, &dir.join(format!("profile-dom-{name}")), &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_and_detail_render_in_headless_chromium() {
    let Some(browser) = chromium() else { return };
    let env = start(Backend::Sqlite, datetime(2026, 11, 22, 12, 0, 0, 0))
        .await
        .unwrap();
    let yaml = report_yaml(
        "acme",
        &new_uuid(),
        "2026-11-22 10:00:00",
        &[("fast", 1), ("slow", 1)],
    );
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let yaml = report_yaml("other", &new_uuid(), "2026-11-22 11:00:00", &[("fast", -1)]);
    assert_eq!(upload_report(&env, "other", &yaml).await.status, 200);

    let base = format!("http://{}", env.addr);
    let table_url = format!("{base}/page/table");
    let detail_url = format!("{base}/page/detail/acme/{SCOPE}");
    let shots = env.dir.path().join("shots");
    std::fs::create_dir(&shots).unwrap();

    let (blank, pngs, table_dom, detail_dom) = tokio::task::spawn_blocking(move || {
        let blank = screenshot(&browser, &shots, "blank", "about:blank");
        let pngs = [
            ("table", screenshot(&browser, &shots, "table", &table_url)),
            (
                "detail",
                screenshot(&browser, &shots, "detail", &detail_url),
            ),
        ];
        let table_dom = dom(&browser, &shots, "table", &table_url);
        let detail_dom = dom(&browser, &shots, "detail", &detail_url);
        (blank, pngs, table_dom, detail_dom)
    })
    .await
    .unwrap();

    // Something was drawn: an empty white page compresses to far fewer bytes.
    for (name, png) in &pngs {
        assert!(
            png.len() > 2 * blank.len(),
            "{name} screenshot ({} bytes) is not larger than a blank page's ({} bytes)",
            png.len(),
            blank.len()
        );
    }

    // The table as the browser built it: the overview table, both subjects, their verdicts.
    let dom = &table_dom;
    assert!(dom.contains("<table id=\"overview\">"), "{dom}");
    assert!(dom.contains("Test KaaS"), "{dom}");
    assert!(dom.contains(">acme<"), "{dom}");
    assert!(dom.contains(">other<"), "{dom}");
    assert!(dom.contains("✅ v1"), "{dom}");
    assert!(dom.contains("group-acme-cloud"), "{dom}");
    // No script anywhere (the headless browser itself needs scripting to screenshot and dump,
    // so "works without JavaScript" is shown by the pages having none).
    for dom in [&table_dom, &detail_dom] {
        assert!(!dom.contains("<script"), "{dom}");
    }
    // The detail page lists each testcase with its result and the report's reason line, and
    // the provider-controlled markup stays text.
    assert!(detail_dom.contains("fast"), "{detail_dom}");
    assert!(detail_dom.contains("slow"), "{detail_dom}");
    assert!(detail_dom.contains("✅ PASS"), "{detail_dom}");
    assert!(detail_dom.contains("version too old"), "{detail_dom}");
    assert!(
        detail_dom.contains("&lt;script&gt;alert(1)"),
        "{detail_dom}"
    );
    assert!(!detail_dom.contains("<script>alert(1)"), "{detail_dom}");
}
