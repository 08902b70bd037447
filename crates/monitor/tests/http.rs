//! Full HTTP tests of the monitor against a real SQLite file and (when
//! `SCS_KAAS_TEST_POSTGRES_URL` is set) a real PostgreSQL database per test.

mod common;

use common::*;
use jiff::civil::datetime;

fn now() -> jiff::civil::DateTime {
    datetime(2026, 11, 22, 12, 0, 0, 0)
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(env) = super::start(super::Backend::Sqlite, super::now()).await {
                    super::$name(env).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(env) = super::start(super::Backend::Postgres, super::now()).await {
                    super::$name(env).await;
                }
            }
        }
    };
}

both!(upload_list_fetch_and_duplicate);
async fn upload_list_fetch_and_duplicate(env: Env) {
    let run = new_uuid();
    let yaml = report_yaml(
        "acme",
        &run,
        "2026-11-22 10:00:00",
        &[("fast", 1), ("slow", 1)],
    );
    let r = upload_report(&env, "acme", &yaml).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "null");

    let list = get(&env, "/reports", Some("acme")).await;
    assert_eq!(list.status, 200);
    let list = list.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["run"]["uuid"], run.as_str());

    let one = get(&env, &format!("/reports/{run}"), Some("acme")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["subject"], "acme");
    assert_eq!(
        get(&env, "/reports/no-such", Some("acme")).await.status,
        404
    );

    // Same run uuid again: 409, and nothing else of that upload is stored.
    let again = upload_report(&env, "acme", &yaml).await;
    assert_eq!(again.status, 409, "{}", again.text());

    // Two documents in one body where the second duplicates: all-or-nothing.
    let fresh = new_uuid();
    let two = format!(
        "{}{}",
        report_yaml("acme", &fresh, "2026-11-22 10:30:00", &[("fast", -1)]),
        report_yaml("acme", &run, "2026-11-22 10:30:00", &[("fast", -1)])
    );
    assert_eq!(upload_report(&env, "acme", &two).await.status, 409);
    assert_eq!(
        get(&env, &format!("/reports/{fresh}"), Some("acme"))
            .await
            .status,
        404
    );
    let status = get(&env, "/status", None).await.json();
    assert_eq!(status["acme"][SCOPE]["results"]["fast"]["result"], 1);

    // Ordering: newest first.
    let newer = new_uuid();
    let yaml = report_yaml("acme", &newer, "2026-11-22 11:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let list = get(&env, "/reports?limit=1", Some("acme")).await.json();
    assert_eq!(list[0]["run"]["uuid"], newer.as_str());
    assert_eq!(
        get(&env, "/reports?limit=100000", Some("acme"))
            .await
            .status,
        400
    );
    assert_eq!(
        get(&env, "/reports?skip=-1", Some("acme")).await.status,
        400
    );
}

both!(auth_matrix);
async fn auth_matrix(env: Env) {
    let run = new_uuid();
    let yaml = report_yaml("acme", &run, "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);

    // (account, path, expected) for reads; None = no credentials.
    let reads: &[(Option<&str>, String, u16)] = &[
        (None, "/reports".into(), 401),
        (Some("acme"), "/reports".into(), 200),
        (Some("acme"), "/reports?subject=acme".into(), 200),
        (Some("other"), "/reports?subject=acme".into(), 403),
        (Some("reader"), "/reports?subject=acme".into(), 200),
        (Some("reader"), "/reports?subject=".into(), 200),
        (Some("other"), "/reports?subject=".into(), 403),
        (None, format!("/reports/{run}"), 401),
        (Some("acme"), format!("/reports/{run}"), 200),
        (Some("other"), format!("/reports/{run}"), 403),
        (Some("zuul"), format!("/reports/{run}"), 403),
        (Some("reader"), format!("/reports/{run}"), 200),
        (None, "/results".into(), 401),
        (Some("acme"), "/results".into(), 403),
        (Some("reader"), "/results".into(), 200),
        (None, format!("/page/report/{run}"), 200),
        (None, format!("/page/report_full/{run}"), 401),
        (Some("acme"), format!("/page/report_full/{run}"), 200),
        (Some("other"), format!("/page/report_full/{run}"), 403),
        (Some("reader"), format!("/page/report_full/{run}"), 200),
        (None, "/status".into(), 200),
        (None, "/page/table".into(), 200),
        (None, "/page/table_full".into(), 200),
    ];
    for (who, path, expected) in reads {
        let r = get(&env, path, *who).await;
        assert_eq!(r.status, *expected, "{who:?} GET {path}: {}", r.text());
        if r.status == 401 {
            let challenge = r.headers.get("www-authenticate").unwrap().to_str().unwrap();
            assert_eq!(challenge, "Basic realm=\"Compliance monitor\"");
        }
    }
    let rows = get(&env, "/results", Some("reader")).await.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["check"], "fast");

    // Posting: own subject, other subject, delegate with append_any, append_any without delegation.
    let posts: &[(&str, &str, u16)] = &[
        ("acme", "acme", 200),
        ("other", "acme", 403),
        ("acme", "other", 403),
        ("zuul", "acme", 200),
        ("zuul", "other", 403),
        ("sneaky", "acme", 403),
        ("reader", "acme", 403),
        ("acme", "nobody", 403),
    ];
    for (account, subject, expected) in posts {
        let yaml = report_yaml(subject, &new_uuid(), "2026-11-22 10:00:00", &[("slow", 1)]);
        let r = upload_report(&env, account, &yaml).await;
        assert_eq!(
            r.status,
            *expected,
            "{account} posts for {subject}: {}",
            r.text()
        );
    }

    // Approval and reload need their roles.
    let approve = serde_json::json!({"reportuuid": run, "scopeuuid": SCOPE, "version": "*", "check": "fast", "approval": false});
    for (account, expected) in [("acme", 403), ("reader", 403), ("approver", 200)] {
        let auth = basic(account);
        let r = request(
            &env,
            "POST",
            "/results",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            approve.to_string().into_bytes(),
        )
        .await;
        assert_eq!(r.status, expected, "{account} POST /results: {}", r.text());
    }
    let rows = get(&env, "/results?approved=false", Some("reader"))
        .await
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let auth = basic("approver");
    let unmatched = serde_json::json!({"reportuuid": "nope", "scopeuuid": SCOPE, "version": "*", "check": "fast", "approval": true});
    let r = request(
        &env,
        "POST",
        "/results",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        unmatched.to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = request(
        &env,
        "POST",
        "/results",
        &[("authorization", &auth), ("content-type", "text/plain")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 415);
    for (account, expected) in [("acme", 403), ("admin", 200)] {
        let auth = basic(account);
        let r = request(
            &env,
            "POST",
            "/admin/reload",
            &[("authorization", &auth)],
            Vec::new(),
        )
        .await;
        assert_eq!(r.status, expected, "{account} reload");
    }
    // Wrong password and unknown user look the same.
    let bad = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "acme:wrong")
    );
    let r = request(
        &env,
        "GET",
        "/reports",
        &[("authorization", &bad)],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["detail"], "Incorrect username or password");
    let ghost = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ghost:wrong")
    );
    let r = request(
        &env,
        "GET",
        "/reports",
        &[("authorization", &ghost)],
        Vec::new(),
    )
    .await;
    assert_eq!(r.json()["detail"], "Incorrect username or password");
}

both!(signatures);
async fn signatures(env: Env) {
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    let payload = yaml.as_bytes();
    let acme_key = key_path(&env, "acme");

    // Signed with another account's key.
    let body = signed_body(&key_path(&env, "other"), payload);
    let r = upload(&env, "acme", body).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("verification failed"));

    // Wrong namespace.
    let mut body = sign(&acme_key, "file", payload);
    body.push(b'&');
    body.extend_from_slice(payload);
    assert_eq!(upload(&env, "acme", body).await.status, 401);

    // Tampered body.
    let mut body = signed_body(&acme_key, payload);
    let n = body.len();
    body[n - 3] = b'0';
    assert_eq!(upload(&env, "acme", body).await.status, 401);

    // Missing `&`: 401 `missing signature`, as the SCS monitor answers (INTEROP §4.3) and
    // `scs-kaas report upload` explains.
    let mut body = sign(&acme_key, "report", payload);
    body.extend_from_slice(payload);
    let r = upload(&env, "acme", body).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("missing signature"));
    assert!(
        r.headers.get("www-authenticate").is_none(),
        "the credentials were fine"
    );

    // Garbage signature.
    let mut body =
        b"-----BEGIN SSH SIGNATURE-----\nbm9wZQ==\n-----END SSH SIGNATURE-----\n&".to_vec();
    body.extend_from_slice(payload);
    assert_eq!(upload(&env, "acme", body).await.status, 401);

    // Unknown account (basic auth) and a report for an unknown subject.
    let body = signed_body(&acme_key, payload);
    let ghost = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ghost:pw")
    );
    let r = request(
        &env,
        "POST",
        "/reports",
        &[
            ("authorization", &ghost),
            ("content-type", "application/x-signed-yaml"),
        ],
        body,
    )
    .await;
    assert_eq!(r.status, 401);
    let stranger = report_yaml(
        "stranger",
        &new_uuid(),
        "2026-11-22 10:00:00",
        &[("fast", 1)],
    );
    assert_eq!(upload_report(&env, "acme", &stranger).await.status, 403);

    // Content types: exact match only.
    let body = signed_body(&acme_key, payload);
    let auth = basic("acme");
    let r = request(
        &env,
        "POST",
        "/reports",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-signed-yaml; charset=utf-8"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 415);
    let r = request(
        &env,
        "POST",
        "/reports",
        &[("authorization", &auth)],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 415);

    // Nothing of the above was stored; the valid one is.
    assert_eq!(
        get(&env, "/reports", Some("acme"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(upload(&env, "acme", body).await.status, 200);

    // JSON variant.
    let json_report = serde_json::json!({
        "spec": {"uuid": SCOPE, "name": "Test KaaS", "url": ""},
        "checked_at": "2026-11-22 10:05:00",
        "reference_date": "2026-11-22",
        "subject": "acme",
        "run": {"uuid": new_uuid(), "invocations": {"i": {"id": "i", "cmd": "c", "rc": 0, "results": {"slow": 0}}}}
    })
    .to_string();
    let body = signed_body(&acme_key, json_report.as_bytes());
    let r = request(
        &env,
        "POST",
        "/reports",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-signed-json"),
        ],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Invalid content: unknown scope, bad result value, empty.
    let bad_scope = yaml.replacen(SCOPE, "00000000-0000-0000-0000-000000000000", 1);
    let r = upload_report(&env, "acme", &bad_scope).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("not a scope this monitor knows"));
    let bad_value = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 7)]);
    let r = upload_report(&env, "acme", &bad_value).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("result value 7"));
    let r = upload_report(&env, "acme", "---\n").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("empty reports"));

    // Body limit: 413 with a JSON detail naming the limit.
    let huge = vec![b'a'; 300 * 1024];
    let r = upload(&env, "acme", huge).await;
    assert_eq!(r.status, 413);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("262144 bytes"),
        "{}",
        r.text()
    );

    // Uploads are counted per upload, refusals by reason (the 413 too: the body never reached
    // the parser); reports per stored document; latency per route.
    let metrics = get(&env, "/metrics", None).await.text();
    for line in [
        "scs_monitor_uploads_total{outcome=\"accepted\"} 2",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"signature\"} 4",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"missing_signature\"} 1",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"unauthenticated\"} 1",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"forbidden\"} 1",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"content_type\"} 2",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"invalid\"} 2",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"empty\"} 1",
        "scs_monitor_uploads_total{outcome=\"rejected\",reason=\"too_large\"} 1",
        "scs_monitor_reports_accepted_total 2",
        "scs_monitor_requests_total{route=\"/reports\",method=\"POST\",status=\"401\"} 6",
        "scs_monitor_requests_total{route=\"/reports\",method=\"POST\",status=\"413\"} 1",
        "scs_monitor_request_seconds_bucket{route=\"/reports\",le=\"+Inf\"} 16",
        "scs_monitor_request_seconds_count{route=\"/reports\"} 16",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    // The histogram counts all 16 requests of the route (15 uploads, one listing); its buckets
    // are cumulative and end at the count.
    let buckets: Vec<u64> = metrics
        .lines()
        .filter(|l| l.starts_with("scs_monitor_request_seconds_bucket{route=\"/reports\","))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 13, "{metrics}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(*buckets.last().unwrap(), 16);
}

both!(expiry_and_evaluation_at_boundaries);
async fn expiry_and_evaluation_at_boundaries(env: Env) {
    // Sunday 10:00: `fast` (day) valid until Tuesday 00:00, `slow` (week) until Monday 11-30 00:00.
    let run = new_uuid();
    let yaml = report_yaml(
        "acme",
        &run,
        "2026-11-22 10:00:00",
        &[("fast", 1), ("slow", 1)],
    );
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);

    let status = get(&env, "/status", None).await.json();
    let card = &status["acme"][SCOPE];
    assert_eq!(card["result"], 1);
    assert_eq!(card["passed_str"], "v1");
    assert_eq!(card["results"]["fast"]["expires_at"], "2026-11-24T00:00:00");
    let table = get(&env, "/page/table", None).await.text();
    assert!(table.contains("✅ v1"), "{table}");

    // One second before expiry: still passing.
    env.clock.set(datetime(2026, 11, 23, 23, 59, 59, 0));
    let status = get(&env, "/status", None).await.json();
    assert_eq!(status["acme"][SCOPE]["result"], 1);

    // At expiry: `fast` is gone, the verdict turns MISSING (orange, stale).
    env.clock.set(datetime(2026, 11, 24, 0, 0, 0, 0));
    let status = get(&env, "/status", None).await.json();
    let card = &status["acme"][SCOPE];
    assert!(card["results"].get("fast").is_none());
    assert_eq!(card["result"], serde_json::Value::Null);
    assert_eq!(card["buckets"]["null"][0], "fast");
    let table = get(&env, "/page/table", None).await.text();
    assert!(table.contains("🟧 v1"), "{table}");
    let detail = get(&env, &format!("/page/detail/acme/{SCOPE}"), None)
        .await
        .text();
    assert!(detail.contains("❓ MISSING"));

    // After every result expired the subject has no data.
    env.clock.set(datetime(2026, 11, 30, 0, 0, 0, 0));
    let status = get(&env, "/status", None).await.json();
    assert!(status.get("acme").is_none());
    let table = get(&env, "/page/table", None).await.text();
    assert!(table.contains("🛑 –"));

    // A fresh FAIL on an attention testcase is red; the newest result wins.
    let yaml = report_yaml(
        "acme",
        &new_uuid(),
        "2026-11-30 08:00:00",
        &[("fast", -1), ("slow", 1)],
    );
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    env.clock.set(datetime(2026, 11, 30, 9, 0, 0, 0));
    let status = get(&env, "/status", None).await.json();
    assert_eq!(status["acme"][SCOPE]["result"], -1);
    let detail = get(&env, &format!("/page/detail/acme/{SCOPE}"), None)
        .await
        .text();
    assert!(detail.contains("🛑 FAIL"));
    // Drafts only in the _full views: `next` needs `extra`, which is missing.
    let full = get(&env, &format!("/markdown/detail_full/acme/{SCOPE}"), None)
        .await
        .text();
    assert!(full.contains("extra"), "{full}");
    let public = get(&env, &format!("/markdown/detail/acme/{SCOPE}"), None)
        .await
        .text();
    assert!(!public.contains("extra"), "{public}");
}

both!(future_checked_at_is_clamped);
async fn future_checked_at_is_clamped(env: Env) {
    let run = new_uuid();
    let yaml = report_yaml("acme", &run, "2099-01-01 00:00:00", &[("slow", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let status = get(&env, "/status", None).await.json();
    assert_eq!(
        status["acme"][SCOPE]["results"]["slow"]["checked_at"],
        "2026-11-22T12:00:00"
    );
    // An honest older report cannot be overridden by the future-dated one's timestamp: a newer
    // real result wins.
    env.clock.set(datetime(2026, 11, 22, 13, 0, 0, 0));
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 12:30:00", &[("slow", -1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let status = get(&env, "/status", None).await.json();
    assert_eq!(status["acme"][SCOPE]["results"]["slow"]["result"], -1);
}

both!(pages_escape_report_content_and_redact);
async fn pages_escape_report_content_and_redact(env: Env) {
    let run = new_uuid();
    let yaml = report_yaml(
        "acme",
        &run,
        "2026-11-22 10:00:00",
        &[("fast", -1), ("slow", 1)],
    );
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    for path in [
        format!("/page/report/{run}"),
        format!("/fragment/report/{run}"),
        format!("/page/detail/acme/{SCOPE}"),
        format!("/page/detail/group-acme-cloud/{SCOPE}"),
        format!("/page/scope/{SCOPE}"),
        "/page/table".to_string(),
    ] {
        let r = get(&env, &path, None).await;
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        assert!(!html.contains("<script>"), "{path} has raw script");
        assert!(
            !html.contains("<b>with markup</b>"),
            "{path} has raw markup"
        );
    }
    let report = get(&env, &format!("/page/report/{run}"), None).await.text();
    assert!(report.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; version too old"));
    assert!(
        !report.contains("s3cr3t"),
        "cmd is redacted in the public view"
    );
    assert!(!report.contains("/secret/path"), "assignment is redacted");
    assert!(
        !report.contains("private detail"),
        "INFO lines are redacted"
    );
    assert!(
        !report.contains("leaked secret token"),
        "non-verdict stdout is redacted"
    );
    assert!(report.contains("fast: PASS"));
    let full = get(&env, &format!("/page/report_full/{run}"), Some("acme"))
        .await
        .text();
    assert!(full.contains("s3cr3t") && full.contains("private detail"));
    // The detail page shows the reason lines, escaped.
    let detail = get(&env, &format!("/page/detail/acme/{SCOPE}"), None)
        .await
        .text();
    assert!(detail.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; version too old"));
    assert!(
        detail.contains("in 1 d") || detail.contains("in 36 h"),
        "{detail}"
    );
    // Markdown view escapes markup too.
    let md = get(&env, &format!("/markdown/report/{run}"), None).await;
    assert_eq!(md.headers["content-type"], "text/markdown; charset=utf-8");
    assert!(!md.text().contains("<script>"));
    // Group view lists members; unknown scope and group are 404, unknown view type too.
    let group = get(
        &env,
        &format!("/page/detail/group-acme-cloud/{SCOPE}"),
        None,
    )
    .await
    .text();
    assert!(group.contains("Jump to") && group.contains("other"));
    assert_eq!(get(&env, "/page/scope/nope", None).await.status, 404);
    assert_eq!(
        get(&env, &format!("/page/detail/group-nope/{SCOPE}"), None)
            .await
            .status,
        404
    );
    assert_eq!(get(&env, "/html/table", None).await.status, 404);
    // Badges, history, OpenAPI, health, root redirect.
    let badge = get(&env, &format!("/badge/acme/{SCOPE}.svg"), None).await;
    assert_eq!(badge.headers["content-type"], "image/svg+xml");
    assert!(badge.text().contains("not compliant"));
    let history = get(&env, "/history/acme", None).await.json();
    assert_eq!(history["reports"][0]["fail"], 1);
    assert_eq!(
        get(&env, "/openapi.json", None).await.json()["openapi"],
        "3.0.3"
    );
    assert_eq!(get(&env, "/healthz", None).await.status, 200);
    let root = get(&env, "/", None).await;
    assert_eq!(root.status, 307);
    assert_eq!(root.headers["location"], "/page/table");
    let r = request(
        &env,
        "GET",
        "/status",
        &[("accept", "text/html")],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 406);
}

both!(reload_replaces_accounts);
async fn reload_replaces_accounts(env: Env) {
    assert_eq!(get(&env, "/reports", Some("other")).await.status, 200);
    // Drop `other`, keep the rest; a broken file keeps the old state.
    std::fs::write(
        &env.bootstrap,
        "accounts:\n  - subject: acme\n    roles: [nope]\n",
    )
    .unwrap();
    assert!(env.state.reload().await.is_err());
    assert_eq!(get(&env, "/reports", Some("other")).await.status, 200);
    let without: Vec<(&str, &[&str])> = ACCOUNTS
        .iter()
        .copied()
        .filter(|(n, _)| *n != "other")
        .collect();
    write_bootstrap(env.dir.path(), &without);
    env.state.reload().await.unwrap();
    assert_eq!(get(&env, "/reports", Some("other")).await.status, 401);
    assert_eq!(get(&env, "/reports", Some("acme")).await.status, 200);
    // The delegation survived although zuul is listed before acme.
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("slow", 1)]);
    assert_eq!(upload_report(&env, "zuul", &yaml).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_wal_and_survives_restart() {
    let env = start(Backend::Sqlite, now()).await.unwrap();
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    assert!(env.dir.path().join("monitor.db-wal").exists());
    // A second server on the same file sees the stored result at start-up.
    let state = scs_kaas_monitor::state::AppState::start(scs_kaas_monitor::state::Config {
        db_url: format!("sqlite://{}", env.dir.path().join("monitor.db").display()),
        bootstrap: env.bootstrap.clone(),
        base_url: "/".into(),
        body_limit: 1024,
        limits: Default::default(),
        scopes: std::sync::Arc::new(test_scopes),
        clock: env.clock.clone(),
    })
    .await
    .unwrap();
    assert_eq!(state.latest.rows("acme", SCOPE).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_group_names_make_no_links_in_markdown() {
    let env = start(Backend::Sqlite, now()).await.unwrap();
    let hostile = "x) [click](javascript:alert(1)) (";
    let boot = std::fs::read_to_string(&env.bootstrap).unwrap();
    let boot = boot.replace("group: acme-cloud", &format!("group: {hostile:?}"));
    std::fs::write(&env.bootstrap, boot).unwrap();
    env.state.reload().await.unwrap();
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    for path in ["/markdown/table", "/markdown/table_full"] {
        let text = get(&env, path, None).await.text();
        assert!(
            text.contains("x) \\[click\\]"),
            "the group is listed, escaped: {text}"
        );
        assert!(!links_to_javascript(&text), "{text}");
        assert!(
            text.contains("/group-x%29%20%5Bclick%5D%28javascript%3Aalert%281%29%29%20%28/"),
            "{text}"
        );
    }
    // The encoded link leads to the group's detail view.
    let link = format!(
        "/markdown/detail/{}/{SCOPE}",
        "group-x%29%20%5Bclick%5D%28javascript%3Aalert%281%29%29%20%28"
    );
    let detail = get(&env, &link, None).await;
    assert_eq!(detail.status, 200, "{}", detail.text());
    assert!(!links_to_javascript(&detail.text()), "{}", detail.text());
}

/// Whether markdown `text` has a link (an unescaped `](`) whose target starts with `javascript:`.
fn links_to_javascript(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower
        .match_indices("](javascript:")
        .any(|(at, _)| !lower[..at].ends_with('\\'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_with_only_drafts_shows_neutral_draft() {
    let env = start(Backend::Sqlite, now()).await.unwrap();
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    // The same database and scope, but the timeline lists only the draft `next`.
    fn drafts_only() -> anyhow::Result<Vec<scs_kaas_monitor::scopes::ScopeInfo>> {
        let yaml = SCOPE_YAML.replace("      v1: effective\n", "");
        let scope = scs_kaas_core::scope::Scope::parse("drafts.yaml", &yaml)?;
        Ok(vec![scs_kaas_monitor::scopes::ScopeInfo::from_scope(
            &scope,
        )?])
    }
    let state = scs_kaas_monitor::state::AppState::start(scs_kaas_monitor::state::Config {
        db_url: format!("sqlite://{}", env.dir.path().join("monitor.db").display()),
        bootstrap: env.bootstrap.clone(),
        base_url: "/".into(),
        body_limit: 1024,
        limits: Default::default(),
        scopes: std::sync::Arc::new(drafts_only),
        clock: env.clock.clone(),
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(scs_kaas_monitor::server::serve_until(
        state,
        listener,
        std::future::pending(),
    ));
    let drafts = Env {
        addr,
        ..start(Backend::Sqlite, now()).await.unwrap()
    };
    let table = get(&drafts, "/markdown/table", None).await.text();
    assert!(table.contains("| acme | [📝 draft]("), "{table}");
    assert!(
        table.contains("| other | [📝 draft]("),
        "no results: neutral too: {table}"
    );
    assert!(!table.contains("🛑"), "{table}");
    let badge = get(&drafts, &format!("/badge/acme/{SCOPE}.svg"), None)
        .await
        .text();
    assert!(
        badge.contains("draft") && !badge.contains("not compliant"),
        "{badge}"
    );
    // With drafts included, the draft version is judged as before.
    let full = get(&drafts, "/markdown/table_full", None).await.text();
    assert!(!full.contains("📝"), "{full}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = start(Backend::Sqlite, now()).await.unwrap();
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let mode = |name: &str| {
        std::fs::metadata(env.dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    for name in ["monitor.db", "monitor.db-wal", "monitor.db-shm"] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
    // A database file an older version left readable is tightened at the next start.
    let db = env.dir.path().join("monitor.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    scs_kaas_monitor::db::Db::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(mode("monitor.db"), 0o600);
}

both!(latest_results_in_sql_match_the_full_scan);
async fn latest_results_in_sql_match_the_full_scan(env: Env) {
    use scs_kaas_monitor::db::{ResultRecord, from_micros, to_micros};
    use sqlx::Row as _;
    let db = &env.state.db;
    let pool = db.pool_for_tests();
    let since = datetime(2026, 6, 1, 0, 0, 0, 0);
    let base = to_micros(datetime(2026, 5, 1, 0, 0, 0, 0));
    // A fixed pseudo-random sequence: 400 reports of 8 subjects × 2 scopes, 4 of 6 testcases
    // each, at distinct times from before `since` to after it, inserted in shuffled time order.
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut tx = pool.begin().await.unwrap();
    for i in 0..400u64 {
        let subject = format!("csp-{}", next(8));
        let scope = format!("scope-{}", next(2));
        let at = base + i64::try_from((i * 7919) % 400).unwrap() * 21_600_000_000;
        let id: i64 = sqlx::query(
            "INSERT INTO report (reportuuid, checked_at, received_at, subject, scopeuuid, data) \
             VALUES ($1, $2, $2, $3, $4, '{}') RETURNING reportid",
        )
        .bind(format!("run-{i}"))
        .bind(at)
        .bind(subject.clone())
        .bind(scope.clone())
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
        for _ in 0..4 {
            sqlx::query(
                "INSERT INTO result2 (checked_at, subject, scopeuuid, version, testcase, result, \
                 approval, reportid) VALUES ($1, $2, $3, '*', $4, $5, 0, $6)",
            )
            .bind(at + i64::try_from(next(1000)).unwrap())
            .bind(subject.clone())
            .bind(scope.clone())
            .bind(format!("tc-{}", next(6)))
            .bind(i64::try_from(next(3)).unwrap() - 1)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    // The old computation: every row since `since`, newest per key kept in memory.
    let rows = sqlx::query(
        "SELECT r.subject, r.scopeuuid, r.testcase, r.result, r.checked_at, p.reportuuid \
         FROM result2 r JOIN report p ON p.reportid = r.reportid WHERE r.checked_at >= $1",
    )
    .bind(to_micros(since))
    .fetch_all(pool)
    .await
    .unwrap();
    let mut newest: std::collections::HashMap<(String, String, String), ResultRecord> =
        Default::default();
    for row in &rows {
        let record = ResultRecord {
            subject: row.try_get(0).unwrap(),
            scope: row.try_get(1).unwrap(),
            testcase: row.try_get(2).unwrap(),
            result: row.try_get(3).unwrap(),
            checked_at: from_micros(row.try_get(4).unwrap()),
            report: row.try_get(5).unwrap(),
        };
        let key = (
            record.subject.clone(),
            record.scope.clone(),
            record.testcase.clone(),
        );
        match newest.get(&key) {
            Some(old) if old.checked_at >= record.checked_at => {}
            _ => {
                newest.insert(key, record);
            }
        }
    }
    let key = |r: &ResultRecord| (r.subject.clone(), r.scope.clone(), r.testcase.clone());
    let mut expected: Vec<ResultRecord> = newest.into_values().collect();
    expected.sort_by_key(key);
    let mut streamed = Vec::new();
    db.latest_results(since, |r| streamed.push(r))
        .await
        .unwrap();
    streamed.sort_by_key(key);
    assert!(
        rows.len() > 1000 && expected.len() > 50,
        "{} {}",
        rows.len(),
        expected.len()
    );
    assert_eq!(streamed, expected);
}

both!(argon2_api_keys_log_in);
async fn argon2_api_keys_log_in(env: Env) {
    // `argon`'s bootstrap entry holds an argon2id PHC string (made by the test bed).
    let boot = std::fs::read_to_string(&env.bootstrap).unwrap();
    assert!(boot.contains("$argon2id$v=19$m=1024,t=1,p=1$"), "{boot}");
    let yaml = report_yaml("argon", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    let r = upload_report(&env, "argon", &yaml).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(&env, "/reports", Some("argon")).await.status, 200);
    let wrong = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "argon:wrong")
    );
    let r = request(
        &env,
        "GET",
        "/reports",
        &[("authorization", &wrong)],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 401);
}

both!(repeated_bad_passwords_are_throttled_cheaply);
async fn repeated_bad_passwords_are_throttled_cheaply(env: Env) {
    // `acme` logged in before the attack: its remembered credential keeps working.
    assert_eq!(get(&env, "/reports", Some("acme")).await.status, 200);
    let bad = |user: &str| {
        format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{user}:guess")
            )
        )
    };
    for user in ["acme", "other"] {
        for _ in 0..scs_kaas_monitor::auth::FREE_FAILURES {
            let r = request(
                &env,
                "GET",
                "/reports",
                &[("authorization", &bad(user))],
                Vec::new(),
            )
            .await;
            assert_eq!(r.status, 401, "{}", r.text());
        }
    }
    let checks = env.state.hash_gate.checks();
    let r = request(
        &env,
        "GET",
        "/reports",
        &[("authorization", &bad("other"))],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.headers["retry-after"], "1");
    assert!(r.headers.get("www-authenticate").is_none());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("retry in 1 s")
    );
    // Even the right password waits the back-off out when it was not remembered yet ...
    assert_eq!(get(&env, "/reports", Some("other")).await.status, 429);
    // ... uploads too, counted as throttled ...
    let yaml = report_yaml("other", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "other", &yaml).await.status, 429);
    // ... and none of that cost a password-hash check.
    assert_eq!(env.state.hash_gate.checks(), checks);
    // A remembered credential is not affected by its account's back-off.
    assert_eq!(get(&env, "/reports", Some("acme")).await.status, 200);
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let metrics = get(&env, "/metrics", None).await.text();
    assert!(
        metrics.contains("scs_monitor_uploads_total{outcome=\"rejected\",reason=\"throttled\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "scs_monitor_requests_total{route=\"/reports\",method=\"GET\",status=\"429\"} 2"
        ),
        "{metrics}"
    );
}

both!(back_off_holds_only_the_failing_address);
async fn back_off_holds_only_the_failing_address(env: Env) {
    let guess = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "other:guess")
    );
    let outsider = [127, 0, 0, 2];
    for _ in 0..scs_kaas_monitor::auth::FREE_FAILURES {
        let r = request_from(
            &env,
            outsider,
            "GET",
            "/reports",
            &[("authorization", &guess)],
            vec![],
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let right = basic("other");
    let from_outsider = request_from(
        &env,
        outsider,
        "GET",
        "/reports",
        &[("authorization", &right)],
        vec![],
    )
    .await;
    assert_eq!(from_outsider.status, 429, "{}", from_outsider.text());
    // The provider's address never failed: its first login gets through, and so do uploads.
    assert_eq!(get(&env, "/reports", Some("other")).await.status, 200);
    let yaml = report_yaml("other", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)]);
    assert_eq!(upload_report(&env, "other", &yaml).await.status, 200);
}

both!(nul_characters_are_refused_on_both_backends);
async fn nul_characters_are_refused_on_both_backends(env: Env) {
    // YAML: a double-quoted "\0" is a NUL character. SQLite would store it, PostgreSQL would
    // fail; both refuse it with 400 naming the field.
    let yaml = report_yaml("acme", &new_uuid(), "2026-11-22 10:00:00", &[("fast", 1)])
        .replace("'INFO: private detail'", "\"INFO: private\\0detail\"");
    let r = upload_report(&env, "acme", &yaml).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains(
            "`run.invocations.9b1c3a52-0c4e-4b8e-9f0a-6d2f1e3c4b5a.stderr[1]` contains a NUL"
        ),
        "{detail}"
    );
    // JSON: \u0000 in the scope name and in a testcase id.
    let auth = basic("acme");
    for (name, tc, field) in [
        ("Test\u{0}KaaS", "slow", "`spec.name`"),
        (
            "Test KaaS",
            "sl\u{0}ow",
            "`run.invocations.i.results (a testcase id)`",
        ),
    ] {
        let doc = serde_json::json!({
            "spec": {"uuid": SCOPE, "name": name, "url": ""},
            "checked_at": "2026-11-22 10:05:00",
            "reference_date": "2026-11-22",
            "subject": "acme",
            "run": {"uuid": new_uuid(), "invocations": {"i": {"id": "i", "cmd": "c", "rc": 0, "results": {tc: 0}}}}
        })
        .to_string();
        let body = signed_body(&key_path(&env, "acme"), doc.as_bytes());
        let r = request(
            &env,
            "POST",
            "/reports",
            &[
                ("authorization", &auth),
                ("content-type", "application/x-signed-json"),
            ],
            body,
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains(field), "{field}: {}", r.text());
    }
    assert_eq!(
        get(&env, "/reports", Some("acme")).await.json(),
        serde_json::json!([])
    );
    // NUL in lookups: 400 for query values, 404 for ids, never 500.
    assert_eq!(
        get(&env, "/reports?subject=a%00b", Some("reader"))
            .await
            .status,
        400
    );
    assert_eq!(
        get(&env, "/reports/a%00b", Some("reader")).await.status,
        404
    );
    assert_eq!(get(&env, "/page/report/a%00b", None).await.status, 404);
    assert_eq!(get(&env, "/history/a%00b", None).await.status, 400);
    assert_eq!(get(&env, "/status?subject=a%00b", None).await.status, 400);
    let approve = serde_json::json!({"reportuuid": "a\u{0}", "scopeuuid": SCOPE, "version": "*", "check": "fast", "approval": true});
    let auth = basic("approver");
    let r = request(
        &env,
        "POST",
        "/results",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        approve.to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

both!(status_shape_and_all_view_types);
async fn status_shape_and_all_view_types(env: Env) {
    let run = new_uuid();
    let yaml = report_yaml(
        "acme",
        &run,
        "2026-11-22 10:00:00",
        &[("fast", 1), ("slow", 1)],
    );
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let status = get(&env, "/status", None).await.json();
    let v1 = &status["acme"][SCOPE]["versions"]["v1"];
    assert_eq!(
        v1["tc_target"],
        serde_json::json!({"fast": "main", "slow": "main"}),
        "{v1}"
    );
    assert_eq!(
        v1["targets"]["main"]["testcases"],
        serde_json::json!(["fast", "slow"])
    );
    assert_eq!(v1["_idx"], 1);
    assert!(
        status["acme"][SCOPE]["versions"].get("next").is_none(),
        "drafts excluded"
    );

    let md = "text/markdown; charset=utf-8";
    let html = "text/html; charset=utf-8";
    let cases: Vec<(String, Option<&str>, &str, Vec<&str>)> = vec![
        (
            "/markdown/table".into(),
            None,
            md,
            vec!["| acme |", "✅ v1", "[Test KaaS]("],
        ),
        (
            "/markdown/table_full".into(),
            None,
            md,
            vec!["| acme |", "/page/detail_full/acme/"],
        ),
        (
            "/fragment/table".into(),
            None,
            html,
            vec!["<table id=\"overview\">", ">acme<", "✅ v1"],
        ),
        (
            "/fragment/table_full".into(),
            None,
            html,
            vec!["drafts included", "detail_full&#x2f;acme&#x2f;"],
        ),
        (
            format!("/markdown/scope/{SCOPE}"),
            None,
            md,
            vec![
                "| Scope versions -> | next | v1 |",
                "| State | Draft | Effective |",
                "scs-9000-v1: Fast and slow",
            ],
        ),
        (
            format!("/fragment/scope/{SCOPE}"),
            None,
            html,
            vec!["Effective", "Fast and slow"],
        ),
        (
            format!("/fragment/detail/acme/{SCOPE}"),
            None,
            html,
            vec![
                "✅ PASS",
                "version too old",
                "A check whose results live one day.",
            ],
        ),
        (
            format!("/markdown/detail/group-acme-cloud/{SCOPE}"),
            None,
            md,
            vec!["## acme", "## other", "No recent test results available."],
        ),
        (
            format!("/markdown/report_full/{run}"),
            Some("acme"),
            md,
            vec![
                "./check.py --token s3cr3t",
                "INFO: private detail",
                "kubeconfig=/secret/path",
            ],
        ),
        (
            format!("/fragment/report/{run}"),
            None,
            html,
            vec!["fast: PASS", "redacted in this public view"],
        ),
    ];
    for (path, who, content_type, needles) in cases {
        let r = get(&env, &path, who).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.headers["content-type"], content_type, "{path}");
        let text = r.text();
        assert!(
            !text.contains("<html"),
            "{path}: fragment and markdown views are not pages"
        );
        for needle in needles {
            assert!(text.contains(needle), "{path}: no {needle:?} in\n{text}");
        }
    }
    // Markdown escapes markup (the scope description has <b>), pages wrap fragments.
    let md_detail = get(&env, &format!("/markdown/detail/acme/{SCOPE}"), None)
        .await
        .text();
    assert!(
        md_detail.contains("&lt;b&gt;with markup&lt;/b&gt;"),
        "{md_detail}"
    );
    assert!(!md_detail.contains("<b>"), "{md_detail}");
    let page = get(&env, "/page/table", None).await.text();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<table id=\"overview\">"));
    assert_eq!(
        get(&env, &format!("/markdown/report_full/{run}"), None)
            .await
            .status,
        401
    );
    assert_eq!(
        get(&env, &format!("/markdown/report_full/{run}"), Some("other"))
            .await
            .status,
        403
    );
    assert_eq!(get(&env, "/markdown/table_half", None).await.status, 404);
}

both!(reports_keep_the_key_order_they_were_written_in);
async fn reports_keep_the_key_order_they_were_written_in(env: Env) {
    // Invocations and assignment keys deliberately not in sorted order.
    let run = new_uuid();
    let yaml = format!(
        "---\nspec:\n  uuid: {SCOPE}\n  name: Test KaaS\n  url: ''\nchecked_at: 2026-11-22 10:00:00\n\
         reference_date: 2026-11-22\nsubject: acme\nrun:\n  uuid: {run}\n  assignment:\n    zeta: '1'\n    alpha: '2'\n\
         \x20 invocations:\n    zz-second-id:\n      id: zz-second-id\n      cmd: run zz\n      results: {{slow: 1}}\n      rc: 0\n\
         \x20   aa-first-id:\n      id: aa-first-id\n      cmd: run aa\n      results: {{fast: 1}}\n      rc: 0\n"
    );
    assert_eq!(upload_report(&env, "acme", &yaml).await.status, 200);
    let before = |text: &str, a: &str, b: &str| {
        let (i, j) = (text.find(a), text.find(b));
        assert!(
            i.is_some() && j.is_some() && i < j,
            "{a:?} not before {b:?} in\n{text}"
        );
    };
    let one = get(&env, &format!("/reports/{run}"), Some("acme"))
        .await
        .text();
    before(&one, "zz-second-id", "aa-first-id");
    before(&one, "\"zeta\"", "\"alpha\"");
    before(&one, "\"spec\"", "\"checked_at\"");
    assert!(one.contains("\n  \"spec\": {"), "indented: {one}");
    let list = get(&env, "/reports", Some("acme")).await;
    assert_eq!(list.headers["content-type"], "application/json");
    before(&list.text(), "zz-second-id", "aa-first-id");
    let full = get(&env, &format!("/page/report_full/{run}"), Some("acme"))
        .await
        .text();
    before(&full, "run zz", "run aa");
    before(&full, "zeta", "alpha");
}

both!(openapi_describes_every_json_route);
async fn openapi_describes_every_json_route(env: Env) {
    let r = get(&env, "/openapi.json", None).await;
    assert_eq!(r.headers["content-type"], "application/json");
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    // Every route except the redirect and the human views is described ...
    let views = [
        "/",
        "/{vt}/{view}",
        "/{vt}/scope/{scope}",
        "/{vt}/{view}/{uuid}",
        "/{vt}/{view}/{subject}/{scope}",
    ];
    for route in scs_kaas_monitor::server::ROUTES {
        if !views.contains(route) {
            assert!(paths.contains_key(*route), "{route} is not in openapi.json");
        }
    }
    // ... and every described operation is routed, the others are 405.
    let concrete = |p: &str| {
        p.replace("{uuid}", "0dad6d59-bd4c-4d2c-9d6f-2c6a9a4b8a11")
            .replace("{subject}", "acme")
            .replace("{scope}", &format!("{SCOPE}.svg"))
    };
    for (path, ops) in paths {
        assert!(
            scs_kaas_monitor::server::ROUTES.contains(&path.as_str()),
            "{path} is not routed"
        );
        for method in ["get", "post"] {
            let r = request(
                &env,
                &method.to_uppercase(),
                &concrete(path),
                &[],
                Vec::new(),
            )
            .await;
            if ops.get(method).is_some() {
                assert!(
                    ![404, 405].contains(&r.status),
                    "{method} {path}: {}",
                    r.status
                );
            } else {
                assert_eq!(r.status, 405, "{method} {path} is routed but not described");
            }
        }
        for (method, op) in ops.as_object().unwrap() {
            let codes: Vec<&str> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert!(codes.contains(&"200"), "{method} {path}: {codes:?}");
            if op.get("security").is_some() {
                for code in ["401", "429", "503"] {
                    assert!(
                        codes.contains(&code),
                        "{method} {path} needs auth but lacks {code}: {codes:?}"
                    );
                }
            }
        }
    }
    let upload: Vec<&String> = doc["paths"]["/reports"]["post"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        upload,
        [
            "200", "400", "401", "403", "409", "413", "415", "429", "503"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schema_v1_migrates_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    migrates_with_its_data(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_v1_migrates_with_its_data() {
    let Some(admin) = postgres_url() else { return };
    migrates_with_its_data(&fresh_postgres(&admin).await).await;
}

/// A database at schema 1 with a report and its results migrates to the current schema without
/// losing them; the result cache sees them, new ids follow the old ones, cascades still work.
async fn migrates_with_its_data(url: &str) {
    use scs_kaas_monitor::db::Db;
    use sqlx::Row;
    let old = Db::connect_at(url, 1).await.unwrap();
    let pool = old.pool_for_tests();
    let at = scs_kaas_monitor::db::to_micros(datetime(2026, 11, 22, 10, 0, 0, 0));
    sqlx::query(
        "INSERT INTO report (reportuuid, checked_at, received_at, subject, scopeuuid, data) \
         VALUES ('old-run', $1, $1, 'acme', $2, '{}')",
    )
    .bind(at)
    .bind(SCOPE)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO result2 (checked_at, subject, scopeuuid, version, testcase, result, approval, reportid) \
         SELECT $1, 'acme', $2, '*', 'fast', 1, 1, reportid FROM report WHERE reportuuid = 'old-run'",
    )
    .bind(at)
    .bind(SCOPE)
    .execute(pool)
    .await
    .unwrap();
    pool.close().await;

    let db = Db::connect(url).await.unwrap();
    let pool = db.pool_for_tests();
    let versions: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    let mut latest = Vec::new();
    db.latest_results(datetime(2026, 1, 1, 0, 0, 0, 0), |r| latest.push(r))
        .await
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(
        (latest[0].report.as_str(), latest[0].testcase.as_str()),
        ("old-run", "fast")
    );
    let index_sql = match db.backend() {
        scs_kaas_monitor::db::Backend::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'result2_latest'"
        }
        scs_kaas_monitor::db::Backend::Postgres => {
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'result2_latest'"
        }
    };
    let n: i64 = sqlx::query(index_sql)
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 0, "result2_latest is gone");
    // A new report gets a larger id; deleting the old report still cascades to its results.
    sqlx::query(
        "INSERT INTO report (reportuuid, checked_at, received_at, subject, scopeuuid, data) \
         VALUES ('new-run', $1, $1, 'acme', $2, '{}')",
    )
    .bind(at)
    .bind(SCOPE)
    .execute(pool)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query("SELECT reportid FROM report ORDER BY reportuuid")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    assert!(
        ids[0] > ids[1],
        "new-run {} after old-run {}",
        ids[0],
        ids[1]
    );
    sqlx::query("DELETE FROM report WHERE reportuuid = 'old-run'")
        .execute(pool)
        .await
        .unwrap();
    let n: i64 = sqlx::query("SELECT count(*) FROM result2")
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 0, "ON DELETE CASCADE survived the rebuild");
    // Connecting again changes nothing (migrations are recorded, checksums match).
    drop(db);
    Db::connect(url).await.unwrap();
}

/// Sends `head` (request line and headers, maybe part of a body) on a fresh loopback connection
/// and returns what the server answers until it closes the connection or ends the response
/// head. Panics when the server says nothing for 30 s (it is waiting for more from us).
async fn raw_exchange(env: &Env, head: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if memchr::memmem::find(&answer, b"\r\n\r\n").is_some() {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("no answer to {head:?}: the server waits for the client"));
    String::from_utf8_lossy(&answer).into_owned()
}

fn short_limits() -> scs_kaas_monitor::body::Limits {
    scs_kaas_monitor::body::Limits {
        header_timeout: std::time::Duration::from_millis(300),
        body_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_without_valid_credentials_are_refused_before_the_body() {
    let env = start(Backend::Sqlite, now()).await.unwrap();
    let wrong = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "acme:wrong-password"
        )
    );
    for auth in [String::new(), format!("Authorization: {wrong}\r\n")] {
        for expect in ["", "Expect: 100-continue\r\n"] {
            // The headers announce 200 kB of body, none of which is ever sent.
            let head = format!(
                "POST /reports HTTP/1.1\r\nHost: monitor\r\n{auth}{expect}\
                 Content-Type: application/x-signed-yaml\r\nContent-Length: 200000\r\n\r\n"
            );
            let answer = raw_exchange(&env, &head).await;
            assert!(answer.starts_with("HTTP/1.1 401 "), "{head:?} → {answer}");
        }
    }
    // The right credentials with a wrong Content-Type are refused before the body as well.
    let head = format!(
        "POST /reports HTTP/1.1\r\nHost: monitor\r\nAuthorization: {}\r\n\
         Content-Type: text/plain\r\nContent-Length: 200000\r\n\r\n",
        basic("acme")
    );
    let answer = raw_exchange(&env, &head).await;
    assert!(answer.starts_with("HTTP/1.1 415 "), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_and_half_sent_headers_are_cut_off() {
    let env = start_with(Backend::Sqlite, now(), short_limits())
        .await
        .unwrap();
    // An authenticated upload that stops sending after 10 of 1000 bytes: 408, connection closed.
    let head = format!(
        "POST /reports HTTP/1.1\r\nHost: monitor\r\nAuthorization: {}\r\n\
         Content-Type: application/x-signed-yaml\r\nContent-Length: 1000\r\n\r\n0123456789",
        basic("acme")
    );
    let answer = raw_exchange(&env, &head).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // The body's memory share was given back.
    assert_eq!(
        env.state.body_budget.available(),
        scs_kaas_monitor::body::Limits::default().body_memory
    );
    // A request whose headers never end is dropped without an answer.
    let answer = raw_exchange(&env, "GET /healthz HTTP/1.1\r\nHost: monitor\r\n").await;
    assert!(!answer.contains(" 200 "), "{answer}");
    // A complete request still works.
    assert_eq!(get(&env, "/healthz", None).await.status, 200);
    let metrics = get(&env, "/metrics", None).await.text();
    assert!(
        metrics.contains("scs_monitor_uploads_total{outcome=\"rejected\",reason=\"timeout\"} 1"),
        "{metrics}"
    );
}
