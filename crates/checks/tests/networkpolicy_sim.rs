//! `networkpolicy-enforcement-check` end to end against the simulator: its NetworkPolicy engine
//! decides the client Jobs' `agnhost connect` outcomes when the scenario's plugin enforces
//! policies, and lets everything through when it does not.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::ListParams;
use scs_kaas_checks::probe::finish_detached_cleanups;
use scs_kaas_checks::probe::run::managed_selector;
use scs_kaas_checks::probe::wait::wait_for;
use scs_kaas_checks::runner::preflight::Preflight;
use scs_kaas_checks::{CheckContext, registry};
use scs_kaas_core::finding::{Outcome, Severity, Status};

const ID: &str = "networkpolicy-enforcement-check";

fn context(client: kube::Client, run_id: &str, args: &[(&str, &str)]) -> CheckContext {
    CheckContext {
        client,
        kubeconfig: None,
        args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        now: "2026-12-02T07:00:00Z".parse().unwrap(),
        deadline: Duration::from_secs(120),
        run_id: run_id.into(),
        cache_dir: None,
        denied: Vec::new(),
    }
}

/// As the runner does it: the pre-flight first, then the check with the denied active rights.
async fn run(client: kube::Client, run_id: &str, args: &[(&str, &str)]) -> Outcome {
    let check = registry::find(ID).expect("registered");
    let review = Preflight::default().review(&client, &check.access()).await;
    if let Some(reason) = review.reason() {
        return Outcome::abort("HARN-04", reason);
    }
    let mut ctx = context(client, run_id, args);
    ctx.denied = review.denied_active;
    check.run(&ctx).await
}

fn dump(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| f.log_line())
        .collect::<Vec<_>>()
        .join("\n")
}

fn lines(o: &Outcome, rule: &str) -> Vec<(Severity, String)> {
    o.findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.severity, f.message.clone()))
        .collect()
}

async fn leftovers(client: &kube::Client) -> Vec<String> {
    let selector = ListParams::default().labels(&managed_selector());
    let mut out: Vec<String> = Api::<Namespace>::all(client.clone())
        .list(&selector)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    out.extend(
        Api::<NetworkPolicy>::all(client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name.map(|n| format!("networkpolicy/{n}"))),
    );
    out
}

#[tokio::test]
async fn enforcing_cluster_passes_every_step_and_leaves_nothing_behind() {
    let sim = common::start("compliant").await;
    let admin = common::client_for(&sim, "admin").await;
    let before = common::inventory(&admin).await;
    let started = Instant::now();
    let o = run(admin.clone(), "7e7a0001", &[]).await;
    let took = started.elapsed();
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    let nw01 = lines(&o, "NW-01");
    for step in [
        "baseline",
        "deny-ingress",
        "allow-namespace",
        "ports-and-pods",
        "egress",
        "ip-block",
        "policy-removed",
    ] {
        assert!(
            nw01.iter().any(|(s, m)| *s == Severity::Info
                && m.starts_with(&format!("step {step}: "))
                && m.contains("expectations held")),
            "{step} missing in {nw01:?}"
        );
    }
    assert!(
        lines(&o, "NW-05")[0]
            .1
            .contains("Calico (DaemonSet kube-system/calico-node)")
    );
    assert!(
        lines(&o, "NW-02")[0]
            .1
            .contains("Calico supports or is working on them")
    );
    assert!(
        lines(&o, "NW-03")[0].1.contains(
            "default IngressClass nginx (k8s.io/ingress-nginx) with running controller pods"
        ),
        "{}",
        dump(&o)
    );
    assert!(lines(&o, "NW-04")[0].1.starts_with("0 NetworkPolicies"));
    assert!(lines(&o, "HARN-02").is_empty(), "{}", dump(&o));
    assert_eq!(leftovers(&admin).await, Vec::<String>::new());
    let after = common::inventory(&admin).await;
    assert_eq!(common::differences(&before, &after), Vec::<String>::new());
    eprintln!("networkpolicy-enforcement-check on the compliant sim took {took:?}");
}

#[tokio::test]
async fn plugin_that_ignores_policies_fails_nw01_naming_the_connection() {
    let sim = common::start("netpol-not-enforced").await;
    let admin = common::client_for(&sim, "admin").await;
    let o = run(admin.clone(), "7e7a0002", &[("netpol_convergence", "1s")]).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let errors: Vec<String> = o
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.message.clone())
        .collect();
    assert!(
        errors.iter().any(|m| m.contains("step deny-ingress")
            && m.contains("b -> s1:8080/TCP must be blocked, but the client connected")),
        "{errors:?}"
    );
    assert!(
        o.findings.iter().any(|f| f.rule == "NW-01"
            && f.message
                .starts_with("steps not run: allow-namespace, ports-and-pods")
            && f.message.contains("no NetworkPolicy was enforced at all")),
        "{}",
        dump(&o)
    );
    let nw05 = lines(&o, "NW-05");
    assert!(
        nw05.iter()
            .any(|(s, m)| *s == Severity::Warn && m.contains("Flannel alone")),
        "{nw05:?}"
    );
    assert_eq!(lines(&o, "NW-03")[0].0, Severity::Warn);
    assert_eq!(leftovers(&admin).await, Vec::<String>::new());
}

#[tokio::test]
async fn read_only_user_gets_the_inventory_and_an_abort_naming_the_rights() {
    let sim = common::start("compliant").await;
    let admin = common::client_for(&sim, "admin").await;
    let viewer = common::client_for(&sim, "viewer").await;
    let before = common::inventory(&admin).await;
    let o = run(viewer, "7e7a0003", &[]).await;
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    let nw01 = lines(&o, "NW-01");
    assert!(
        nw01[0].1.contains("probe not run (nothing was created)")
            && nw01[0].1.contains("create namespaces")
            && nw01[0]
                .1
                .contains("create networkpolicies.networking.k8s.io"),
        "{nw01:?}"
    );
    assert!(lines(&o, "NW-05")[0].1.contains("Calico"));
    let after = common::inventory(&admin).await;
    assert_eq!(common::differences(&before, &after), Vec::<String>::new());
}

#[tokio::test]
async fn interrupted_probe_is_cleaned_up() {
    let sim = common::start("netpol-not-enforced").await;
    let admin = common::client_for(&sim, "admin").await;
    // A long convergence keeps the probe retrying the default-deny step until it is dropped.
    let check = run(admin.clone(), "7e7a0004", &[("netpol_convergence", "10m")]);
    let policies: Api<NetworkPolicy> = Api::namespaced(
        admin.clone(),
        "scs-kaas-networkpolicy-enforcement-check-7e7a0004-a",
    );
    let policy_written = wait_for(
        policies,
        "deny-ingress",
        "the probe's first policy",
        Duration::from_secs(60),
        |p| p.is_some(),
    );
    tokio::select! {
        o = check => panic!("the probe finished before it was interrupted: {}", dump(&o)),
        seen = policy_written => { seen.expect("the probe wrote its first policy"); }
    }
    // The check's future is dropped here, as on a timeout or Ctrl-C: its guard cleans up.
    assert!(finish_detached_cleanups(Duration::from_secs(60)).await);
    assert_eq!(leftovers(&admin).await, Vec::<String>::new());
}
