//! `registry-frozen-images-check` end to end: the sim serves a scenario over HTTPS, the check runs
//! through the `Check` trait with a kube client built from the sim's kubeconfig.

use std::collections::BTreeMap;
use std::time::Duration;

use scs_kaas_checks::CheckContext;
use scs_kaas_checks::registry;
use scs_kaas_core::finding::{Outcome, Severity, Status};
use scs_kaas_sim::server;
use scs_kaas_sim::world::{Permission, Rule, SimConfig, User};

fn scenario(name: &str) -> SimConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.yaml"));
    scs_kaas_sim::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run the check against `config` as `user`.
async fn run(config: SimConfig, user: &str) -> Outcome {
    let sim = server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(user)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let ctx = CheckContext {
        client: kube::Client::try_from(config).unwrap(),
        kubeconfig: None,
        args: BTreeMap::new(),
        now: "2026-11-22T10:00:00Z".parse().unwrap(),
        deadline: Duration::from_secs(60),
        run_id: "0badcafe".into(),
        cache_dir: None,
        denied: Vec::new(),
    };
    let check = registry::find("registry-frozen-images-check").expect("registered");
    let outcome = check.run(&ctx).await;
    sim.shutdown().await;
    outcome
}

fn dump(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| f.log_line())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The findings of `rule` at `severity`, as (object, message).
fn found(o: &Outcome, rule: &str, severity: Severity) -> Vec<(String, String)> {
    o.findings
        .iter()
        .filter(|f| f.rule == rule && f.severity == severity)
        .map(|f| (f.object.clone().unwrap_or_default(), f.message.clone()))
        .collect()
}

#[tokio::test]
async fn frozen_registry_scenario_fails_and_names_every_offender() {
    let o = run(scenario("frozen-registry-images"), "viewer").await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let errors = found(&o, "REG-01", Severity::Error);
    let objects: Vec<&str> = errors.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(
        objects,
        [
            "kube-system/DaemonSet/kube-proxy",
            "kube-system/Deployment/coredns"
        ],
        "{}",
        dump(&o)
    );
    assert!(
        errors[1].1.starts_with(
            "kube-system/Deployment/coredns container \"coredns\": template names, and 2 pod(s) \
             use, k8s.gcr.io/coredns/coredns:v1.9.3 from the frozen registry k8s.gcr.io"
        ),
        "{}",
        dump(&o)
    );
    let warnings = found(&o, "REG-01", Severity::Warn);
    let objects: Vec<&str> = warnings.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(
        objects,
        [
            "monitoring/CronJob/cleanup",
            "monitoring/Deployment/legacy-exporter"
        ],
        "{}",
        dump(&o)
    );
    assert!(
        warnings[1].1.contains("init container \"setup\""),
        "{}",
        dump(&o)
    );
    let fixes: Vec<&str> = o
        .findings
        .iter()
        .filter(|f| f.rule == "REG-01" && f.severity != Severity::Info)
        .filter_map(|f| f.fix.as_deref())
        .collect();
    assert!(
        fixes
            .iter()
            .any(|f| f.starts_with("use registry.k8s.io/kube-proxy:v1.25.16 instead")),
        "{fixes:#?}"
    );
    let reg02 = found(&o, "REG-02", Severity::Warn);
    assert_eq!(reg02.len(), 1, "{}", dump(&o));
    assert_eq!(reg02[0].0, "kube-system/ConfigMap/kubeadm-config");
    assert!(reg02[0].1.contains("imageRepository is k8s.gcr.io"));
    let reg04 = found(&o, "REG-04", Severity::Info);
    assert!(
        reg04[0].1.contains("k8s.gcr.io") && reg04[0].1.contains("registry.k8s.io"),
        "{}",
        dump(&o)
    );
}

#[tokio::test]
async fn compliant_scenario_passes_without_warnings() {
    let o = run(scenario("compliant"), "viewer").await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert!(
        o.findings.iter().all(|f| f.severity == Severity::Info),
        "{}",
        dump(&o)
    );
    let reg01 = found(&o, "REG-01", Severity::Info);
    assert!(
        reg01[0].1.starts_with("no image from a frozen registry"),
        "{}",
        dump(&o)
    );
    assert_eq!(
        found(&o, "REG-02", Severity::Info)[0].1,
        "kubeadm pulls from registry.k8s.io"
    );
}

/// More pods than one LIST page holds: every page is walked (the count in the summary is exact).
#[tokio::test]
async fn large_clusters_are_walked_page_by_page() {
    let generated = scs_kaas_sim::scenario::generate::generate(8, 1234, 7).unwrap();
    let text = scs_kaas_sim::scenario::generate::to_yaml(&generated).unwrap();
    let config = scs_kaas_sim::scenario::parse(&text, "generated").unwrap();
    let o = run(config, "viewer").await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    let reg01 = found(&o, "REG-01", Severity::Info);
    assert!(reg01[0].1.contains(" in 1234 pod(s) and "), "{}", dump(&o));
    let reg04 = found(&o, "REG-04", Severity::Info);
    assert!(
        reg04[0]
            .1
            .starts_with("1234 container image reference(s) in 1234 pod(s)"),
        "{}",
        dump(&o)
    );
}

/// A user who may list everything but CronJobs: ABORT naming the missing right, not a PASS
/// that silently skipped them.
#[tokio::test]
async fn missing_list_right_aborts_with_the_right_named() {
    let mut config = scenario("frozen-registry-images");
    let rule = |verbs: &[&str], group: &str, resources: &[&str]| Rule {
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        groups: vec![group.to_string()],
        resources: resources.iter().map(|r| r.to_string()).collect(),
        namespaces: Vec::new(),
    };
    config.users.push(User {
        name: "partial".into(),
        token: "partial-token".into(),
        permission: Permission::Rules(vec![
            rule(&["list"], "", &["pods"]),
            rule(&["get"], "", &["configmaps"]),
            rule(
                &["list"],
                "apps",
                &["deployments", "daemonsets", "statefulsets", "replicasets"],
            ),
            rule(&["list"], "batch", &["jobs"]),
        ]),
    });
    let o = run(config, "partial").await;
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    assert!(
        o.findings[0]
            .message
            .contains("grant `list` on `cronjobs` (API group batch)"),
        "{}",
        dump(&o)
    );
}
