//! `version-policy-check` end to end: the sim serves `/version` and nodes over HTTPS, a kube
//! client built from its kubeconfig gathers them, the judge decides with the built-in snapshot.
//!
//! The shipped scenario files `compliant`, `outdated-patch`, `eol-version` and `cve-affected`
//! are judged as of the day they describe; smaller clusters built in code on the sim's own config
//! type cover the boundaries, the assignments and odd versions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use scs_kaas_checks::CheckContext;
use scs_kaas_checks::registry;
use scs_kaas_core::finding::{Outcome, Severity, Status};
use scs_kaas_sim::server::{self, RunningSim};
use scs_kaas_sim::world::{Permission, SimConfig, User};
use serde_json::json;

const TOKEN: &str = "version-policy-admin-token";

fn config(name: &str, server: &str, kubelets: &[&str]) -> SimConfig {
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
    ];
    for (i, kubelet) in kubelets.iter().enumerate() {
        objects.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{i}")},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": kubelet}}}));
    }
    SimConfig {
        name: name.into(),
        git_version: server.into(),
        users: vec![User {
            name: "admin".into(),
            token: TOKEN.into(),
            permission: Permission::Admin,
        }],
        objects,
        source: None,
        controllers: Vec::new(),
        added_finalizers: Vec::new(),
    }
}

async fn start(config: SimConfig) -> RunningSim {
    server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts")
}

async fn client(sim: &RunningSim) -> kube::Client {
    let user = sim.first_admin().expect("an admin user").to_string();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(&user)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn context(
    client: kube::Client,
    now: &str,
    args: &[(&str, &str)],
    cache: &std::path::Path,
) -> CheckContext {
    CheckContext {
        client,
        kubeconfig: None,
        args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        now: now.parse().unwrap(),
        deadline: Duration::from_secs(30),
        run_id: "0badcafe".into(),
        // An empty cache directory: the built-in snapshot (as of 2026-08-22) decides.
        cache_dir: Some(cache.to_path_buf()),
        denied: Vec::new(),
    }
}

async fn run(config: SimConfig, now: &str, args: &[(&str, &str)]) -> Outcome {
    let sim = start(config).await;
    let cache = tempfile::tempdir().unwrap();
    let check = registry::find("version-policy-check").expect("registered");
    let ctx = context(client(&sim).await, now, args, cache.path());
    let outcome = check.run(&ctx).await;
    sim.shutdown().await;
    outcome
}

fn scenario(name: &str) -> SimConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.yaml"));
    scs_kaas_sim::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shipped scenarios, judged on the day they were written for (2026-11-22; the CVE one on
/// 2023-09-20) with the built-in snapshot.
#[tokio::test]
async fn shipped_scenarios() {
    let o = run(scenario("compliant"), "2026-11-22T10:00:00Z", &[]).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-03",
            Severity::Info,
            "v1.35.8 is the newest known GA patch"
        ),
        "{}",
        dump(&o)
    );
    assert!(
        has(
            &o,
            "VER-09",
            Severity::Info,
            "6 node(s) run kubelet v1.35.8"
        ),
        "{}",
        dump(&o)
    );
    // The snapshot is three months old on that day: said loudly.
    assert!(
        has(&o, "VER-00", Severity::Warn, "RELEASE DATA IS STALE"),
        "{}",
        dump(&o)
    );

    let o = run(scenario("outdated-patch"), "2026-11-22T10:00:00Z", &[]).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-03",
            Severity::Error,
            "v1.35.6 is outdated: v1.35.7 was released 2026-07-22 and had to be rolled out by 2026-08-22"
        ),
        "{}",
        dump(&o)
    );

    let o = run(scenario("eol-version"), "2026-11-22T10:00:00Z", &[]).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-02",
            Severity::Error,
            "reached its upstream end of life on 2026-06-28"
        ),
        "{}",
        dump(&o)
    );

    let o = run(scenario("cve-affected"), "2023-09-20T10:00:00Z", &[]).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-04",
            Severity::Error,
            "critical CVE-2023-3676 (CVSS 8.8) affects v1.27.4; v1.27.5 fixes it"
        ),
        "{}",
        dump(&o)
    );
    assert!(
        !o.findings
            .iter()
            .any(|f| f.severity == Severity::Error && f.rule != "VER-04"),
        "{}",
        dump(&o)
    );
}

fn has(o: &Outcome, rule: &str, severity: Severity, text: &str) -> bool {
    o.findings
        .iter()
        .any(|f| f.rule == rule && f.severity == severity && f.message.contains(text))
}

fn dump(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| f.log_line())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn compliant_cluster_passes_with_forward_looking_warning() {
    let o = run(
        config("compliant", "v1.35.8", &["v1.35.8", "v1.35.8", "v1.35.8"]),
        "2026-08-25T10:00:00Z",
        &[],
    )
    .await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-03",
            Severity::Info,
            "v1.35.8 is the newest known GA patch of 1.35"
        ),
        "{}",
        dump(&o)
    );
    assert!(
        has(
            &o,
            "VER-09",
            Severity::Info,
            "3 node(s) run kubelet v1.35.8"
        ),
        "{}",
        dump(&o)
    );
    // One release behind but inside the window: still PASS, with the deadline.
    let o = run(
        config("compliant", "v1.35.7", &["v1.35.7"]),
        "2026-08-25T10:00:00Z",
        &[],
    )
    .await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-03",
            Severity::Warn,
            "v1.35.8 was released 2026-08-20: roll out by 2026-09-20"
        ),
        "{}",
        dump(&o)
    );
}

#[tokio::test]
async fn outdated_patch_fails() {
    let o = run(
        config("outdated-patch", "v1.35.2", &["v1.35.2"]),
        "2026-08-22T10:00:00Z",
        &[],
    )
    .await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-03",
            Severity::Error,
            "v1.35.2 is outdated: v1.35.3 was released 2026-03-18"
        ),
        "{}",
        dump(&o)
    );
    // Kubelets that lag only warn.
    assert!(
        has(&o, "VER-09", Severity::Warn, "v1.35.2 is outdated"),
        "{}",
        dump(&o)
    );
}

#[tokio::test]
async fn v1_semantics_are_selectable() {
    // v1.35.7 three weeks after v1.35.8: fine under v2 (31 days), outdated under v1 (7 days).
    let cfg = || config("outdated-patch", "v1.35.7", &["v1.35.7"]);
    let v2 = run(cfg(), "2026-09-10T10:00:00Z", &[("version_policy", "v2")]).await;
    assert_eq!(v2.status, Status::Pass, "{}", dump(&v2));
    let v1 = run(cfg(), "2026-09-10T10:00:00Z", &[("version_policy", "v1")]).await;
    assert_eq!(v1.status, Status::Fail, "{}", dump(&v1));
    assert!(
        has(&v1, "VER-03", Severity::Error, "(7-day window)"),
        "{}",
        dump(&v1)
    );
    let bad = run(cfg(), "2026-09-10T10:00:00Z", &[("version_policy", "v3")]).await;
    assert_eq!(bad.status, Status::Abort);
    assert!(
        has(
            &bad,
            "VER-00",
            Severity::Error,
            "`v3` is not a version policy edition"
        ),
        "{}",
        dump(&bad)
    );
}

#[tokio::test]
async fn eol_version_fails_and_can_be_softened() {
    let cfg = || config("eol-version", "v1.33.13", &["v1.33.13"]);
    let o = run(cfg(), "2026-08-22T10:00:00Z", &[]).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-02",
            Severity::Error,
            "branch 1.33 of v1.33.13 reached its upstream end of life on 2026-06-28"
        ),
        "{}",
        dump(&o)
    );
    let soft = run(cfg(), "2026-08-22T10:00:00Z", &[("eol", "warn")]).await;
    assert_eq!(soft.status, Status::Pass, "{}", dump(&soft));
}

#[tokio::test]
async fn cve_affected_cluster_fails_on_the_fix_deadline() {
    // CVE-2023-3676 (CVSS 8.8) is fixed in v1.27.5, published 2023-08-24; on 2023-09-20 the
    // 31-day patch window is still open but the 14-day critical-CVE deadline has passed.
    let o = run(
        config("cve-affected", "v1.27.4", &["v1.27.4"]),
        "2023-09-20T10:00:00Z",
        &[],
    )
    .await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert!(
        has(&o, "VER-03", Severity::Warn, "roll out by 2023-09-24"),
        "{}",
        dump(&o)
    );
    assert!(
        has(
            &o,
            "VER-04",
            Severity::Error,
            "critical CVE-2023-3676 (CVSS 8.8) affects v1.27.4; v1.27.5 fixes it, released 2023-08-24: the 14-day deadline 2023-09-07 has passed"
        ),
        "{}",
        dump(&o)
    );
}

/// TP-04 end to end: the check reads each node's creationTimestamp (the sim stamps its start,
/// which is after 2026-09-05 on any machine running this) and notes nodes created with a patch
/// older than the newest one at that time.
#[tokio::test]
async fn nodes_created_from_a_stale_resolution_are_noted() {
    let o = run(
        config("stale-resolution", "v1.35.8", &["v1.35.7", "v1.35.8"]),
        "2026-09-05T10:00:00Z",
        &[],
    )
    .await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    let tp04: Vec<_> = o.findings.iter().filter(|f| f.rule == "TP-04").collect();
    assert_eq!(tp04.len(), 1, "{}", dump(&o));
    assert_eq!(tp04[0].severity, Severity::Info);
    assert!(
        tp04[0].message.contains(
            "with kubelet v1.35.7 although v1.35.8 (released 2026-08-20) was already the newest GA patch of 1.35"
        ),
        "{}",
        dump(&o)
    );
    assert_eq!(tp04[0].object.as_deref(), Some("node/node-0"));
    // Judged as of a day before v1.35.8 existed, nothing is noted.
    let o = run(
        config("stale-resolution", "v1.35.7", &["v1.35.7"]),
        "2026-08-15T10:00:00Z",
        &[],
    )
    .await;
    assert!(
        !o.findings.iter().any(|f| f.rule == "TP-04"),
        "{}",
        dump(&o)
    );
}

#[tokio::test]
async fn unparsable_server_version_aborts() {
    let o = run(
        config("weird", "v1.35", &["v1.35.8"]),
        "2026-08-22T10:00:00Z",
        &[],
    )
    .await;
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    assert!(
        has(
            &o,
            "VER-01",
            Severity::Error,
            "gitVersion `v1.35` is not a Kubernetes version"
        ),
        "{}",
        dump(&o)
    );
}

/// Performance: `cargo test -p scs-kaas-checks --release --test version_policy_sim -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "benchmark: run by hand and report the numbers"]
async fn bench_check_end_to_end() {
    let kubelets: Vec<String> = (0..1000).map(|i| format!("v1.35.{}", 6 + i % 3)).collect();
    let refs: Vec<&str> = kubelets.iter().map(String::as_str).collect();
    for (label, nodes) in [("3 nodes", &refs[..3]), ("1000 nodes", &refs[..])] {
        let sim = start(config("bench", "v1.35.8", nodes)).await;
        let cache = tempfile::tempdir().unwrap();
        let check = registry::find("version-policy-check").unwrap();
        let ctx = context(
            client(&sim).await,
            "2026-08-25T10:00:00Z",
            &[],
            cache.path(),
        );
        let mut times = Vec::new();
        for _ in 0..20 {
            let start = Instant::now();
            let o = check.run(&ctx).await;
            times.push(start.elapsed());
            assert_eq!(o.status, Status::Pass);
        }
        let first = times[0];
        times.sort();
        println!(
            "version-policy-check, {label}: first run {:?} (includes data load), median {:?}, max {:?}",
            first,
            times[times.len() / 2],
            times[times.len() - 1]
        );
        sim.shutdown().await;
    }
}
