//! The load balancer checks end to end against the simulator's load balancer scenarios: a kube
//! client from the sim's kubeconfig, real TCP requests to the loopback addresses it assigns.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Api;
use kube::api::ListParams;
use scs_kaas_checks::CheckContext;
use scs_kaas_checks::probe::finish_detached_cleanups;
use scs_kaas_checks::probe::wait::wait_for;
use scs_kaas_checks::registry;
use scs_kaas_core::finding::{Outcome, Severity, Status};
use scs_kaas_sim::server::{self, RunningSim};

async fn start(scenario: &str) -> (RunningSim, kube::Client) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{scenario}.yaml"));
    let config = scs_kaas_sim::scenario::load(&path).unwrap();
    let sim = server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml("admin")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    (sim, kube::Client::try_from(config).unwrap())
}

fn context(client: &kube::Client, args: &[(&str, &str)]) -> CheckContext {
    CheckContext {
        client: client.clone(),
        kubeconfig: None,
        args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        now: "2026-11-22T10:00:00Z".parse().unwrap(),
        deadline: Duration::from_secs(60),
        run_id: "0badcafe".into(),
        cache_dir: None,
        denied: Vec::new(),
    }
}

async fn run_check(id: &str, client: &kube::Client, args: &[(&str, &str)]) -> Outcome {
    let check = registry::find(id).expect("registered");
    check.run(&context(client, args)).await
}

fn dump(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| f.log_line())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Nothing labelled managed-by scs-kaas is left: no namespace, no Service.
async fn assert_clean(client: &kube::Client) {
    let selector = ListParams::default().labels("app.kubernetes.io/managed-by=scs-kaas");
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&selector)
        .await
        .unwrap();
    assert!(namespaces.items.is_empty(), "left: {:?}", namespaces.items);
    let services = Api::<Service>::all(client.clone())
        .list(&selector)
        .await
        .unwrap();
    assert!(services.items.is_empty(), "left: {:?}", services.items);
}

#[tokio::test]
async fn loadbalancer_check_passes_on_compliant_with_latencies_and_hairpin() {
    let (_sim, client) = start("compliant").await;
    let started = Instant::now();
    let o = run_check("loadbalancer-check", &client, &[]).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    let text = dump(&o);
    assert!(text.contains("20 of 20 requests from the tool"), "{text}");
    assert!(text.contains("median"), "{text}");
    assert!(
        text.contains("5 of 5 requests from inside the cluster"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_clean(&client).await;
}

#[tokio::test]
async fn loadbalancer_check_fails_on_pending_naming_the_deadline() {
    let (_sim, client) = start("lb-pending").await;
    let o = run_check("loadbalancer-check", &client, &[("lb_timeout", "2s")]).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let error = o
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .unwrap();
    assert_eq!(error.rule, "LB-01");
    assert!(
        error.message.contains("deadline of 2s (lb_timeout)"),
        "{}",
        error.message
    );
    assert_clean(&client).await;
}

#[tokio::test]
async fn plain_services_work_without_health_checks_too() {
    // No health monitor only hurts `externalTrafficPolicy: Local`; LB-01 uses Cluster.
    let (_sim, client) = start("lb-local-no-healthcheck").await;
    let o = run_check("loadbalancer-check", &client, &[]).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert_clean(&client).await;
}

#[tokio::test]
async fn interrupted_probe_leaves_nothing_behind() {
    let (_sim, client) = start("lb-pending").await;
    let services: Api<Service> =
        Api::namespaced(client.clone(), "scs-kaas-loadbalancer-check-0badcafe");
    let check = run_check("loadbalancer-check", &client, &[("lb_timeout", "10m")]);
    // Interrupt once the Service exists (the check then waits for an address that never comes).
    let created = wait_for(
        services,
        "lb-plain",
        "probe Service created",
        Duration::from_secs(30),
        |s| s.is_some(),
    );
    tokio::select! {
        o = check => panic!("the check should still be waiting: {}", dump(&o)),
        r = created => assert!(r.is_ok(), "the probe Service appears"),
    }
    assert!(finish_detached_cleanups(Duration::from_secs(30)).await);
    assert_clean(&client).await;
}

/// The local-policy check's findings of `rule`, as (severity, message).
async fn local_policy(scenario: &str, args: &[(&str, &str)]) -> (Outcome, String) {
    let (_sim, client) = start(scenario).await;
    let o = run_check("loadbalancer-local-policy-check", &client, args).await;
    assert_clean(&client).await;
    let text = dump(&o);
    (o, text)
}

fn has(o: &Outcome, rule: &str, severity: Severity, words: &str) -> bool {
    o.findings
        .iter()
        .any(|f| f.rule == rule && f.severity == severity && f.message.contains(words))
}

#[tokio::test]
async fn local_policy_on_l3_works_and_preserves_client_addresses() {
    let (o, text) = local_policy("lb-l3", &[("proxy_protocol", "true")]).await;
    assert_eq!(o.status, Status::Pass, "{text}");
    assert!(
        has(&o, "LB-02", Severity::Info, "Local works: 30 of 30"),
        "{text}"
    );
    assert!(
        has(
            &o,
            "LB-03",
            Severity::Info,
            "lb-local: the backend saw the client's own address 127.0.0.1"
        ),
        "{text}"
    );
    assert!(
        has(
            &o,
            "LB-03",
            Severity::Info,
            "lb-cluster: the backend saw the client's own address"
        ),
        "{text}"
    );
    // The l3 scenario's load balancer ignores the PROXY annotation.
    assert!(
        has(&o, "LB-03", Severity::Warn, "PROXY protocol not available"),
        "{text}"
    );
}

#[tokio::test]
async fn local_policy_on_snat_reports_node_addresses() {
    let (o, text) = local_policy("lb-snat", &[]).await;
    assert_eq!(o.status, Status::Pass, "{text}");
    assert!(has(&o, "LB-02", Severity::Info, "Local works"), "{text}");
    assert!(
        has(&o, "LB-03", Severity::Warn, "the address of node worker-"),
        "{text}"
    );
    assert!(
        has(
            &o,
            "LB-03",
            Severity::Warn,
            "enable PROXY protocol in your ingress controller"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn local_policy_on_proxy_reports_the_lb_address_and_the_proxy_header() {
    let (o, text) = local_policy("lb-proxy", &[("proxy_protocol", "true")]).await;
    assert_eq!(o.status, Status::Pass, "{text}");
    assert!(
        has(
            &o,
            "LB-03",
            Severity::Warn,
            "the load balancer's own address"
        ),
        "{text}"
    );
    assert!(
        has(
            &o,
            "LB-03",
            Severity::Info,
            "PROXY protocol available: with loadbalancer.openstack.org/proxy-protocol: \"true\" the load balancer sent a PROXY v1 header carrying 127.0.0.1, your address"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn local_policy_without_health_checks_partially_works_but_never_fails() {
    let (o, text) = local_policy("lb-local-no-healthcheck", &[]).await;
    assert_eq!(o.status, Status::Pass, "{text}");
    // Three pool nodes, the one backend pod on one of them: two requests in three are reset.
    assert!(
        has(
            &o,
            "LB-02",
            Severity::Warn,
            "partially works: 20 of 30 requests failed (67 %)"
        ),
        "{text}"
    );
    assert!(has(&o, "LB-02", Severity::Warn, "health monitor"), "{text}");
}

#[tokio::test]
async fn local_policy_on_pending_is_broken_not_failed() {
    let (o, text) = local_policy("lb-pending", &[("lb_timeout", "1s")]).await;
    assert_eq!(o.status, Status::Pass, "{text}");
    assert!(
        has(&o, "LB-02", Severity::Warn, "Local is broken"),
        "{text}"
    );
    assert!(has(&o, "LB-02", Severity::Warn, "deadline of 1s"), "{text}");
    assert!(
        o.findings.iter().all(|f| f.severity != Severity::Error),
        "{text}"
    );
}

#[tokio::test]
async fn one_checks_cleanup_leaves_a_concurrent_checks_namespace_alone() {
    // Checks of one `scs-kaas check` share the run id; cleanup selects by run id and check.
    let (_sim, client) = start("lb-l3").await;
    let now = "2026-11-22T10:00:00Z".parse().unwrap();
    let mine =
        scs_kaas_checks::probe::ProbeRun::new("0badcafe", "loadbalancer-check", now).unwrap();
    let other =
        scs_kaas_checks::probe::ProbeRun::new("0badcafe", "default-storage-class-check", now)
            .unwrap();
    let timeout = Duration::from_secs(30);
    let mine = scs_kaas_checks::probe::ProbeGuard::new(client.clone(), mine, timeout);
    let other = scs_kaas_checks::probe::ProbeGuard::new(client.clone(), other, timeout);
    mine.create_namespace().await.unwrap();
    other.create_namespace().await.unwrap();
    let report = mine.cleanup().await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let namespaces = Api::<Namespace>::all(client.clone());
    assert!(
        namespaces
            .get_opt(&other.namespace())
            .await
            .unwrap()
            .is_some()
    );
    other.cleanup().await;
    assert_clean(&client).await;
}

#[tokio::test]
async fn api_server_gone_while_waiting_for_the_address_aborts_naming_the_cause() {
    let (sim, client) = start("lb-pending").await;
    let services: Api<Service> =
        Api::namespaced(client.clone(), "scs-kaas-loadbalancer-check-0badcafe");
    // Through the runner's entry point for one check, as `scs-kaas check` runs it.
    let check: std::sync::Arc<dyn scs_kaas_checks::Check> =
        registry::find("loadbalancer-check").unwrap().into();
    let outcome = tokio::spawn(scs_kaas_checks::runner::native::run(
        check,
        context(&client, &[("lb_timeout", "10m")]),
        Duration::from_secs(300),
    ));
    let created = wait_for(
        services,
        "lb-plain",
        "probe Service created",
        Duration::from_secs(30),
        |s| s.is_some(),
    )
    .await;
    assert!(created.is_ok(), "the probe Service appears");
    // The API server dies while the check waits for the load balancer's address.
    sim.shutdown().await;
    let o = outcome.await.unwrap();
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    assert!(
        o.findings[0]
            .message
            .contains("lost contact with the cluster under test"),
        "{}",
        dump(&o)
    );
}
