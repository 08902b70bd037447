//! `node-distribution-check` end to end: the sim serves a scenario over HTTPS, the check runs
//! through the `Check` trait with a kube client built from the sim's kubeconfig (read-only user).
//!
//! Every rule has a passing case (the `compliant` scenario) and a failing or warning case on a
//! scenario that breaks exactly that rule. The kube-apiserver identity Leases of a hidden control
//! plane cannot be preloaded by a scenario: the sim shows a cluster without control-plane nodes
//! and without Leases; one, two or more Leases are covered by the judge's unit tables.

use std::collections::BTreeMap;
use std::time::Duration;

use scs_kaas_checks::CheckContext;
use scs_kaas_checks::registry;
use scs_kaas_core::finding::{Outcome, Severity, Status};
use scs_kaas_sim::server;
use scs_kaas_sim::world::SimConfig;

fn scenario(name: &str) -> SimConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.yaml"));
    scs_kaas_sim::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run the check against the scenario as the read-only `viewer`, with these assignments.
async fn run_with(name: &str, args: &[(&str, &str)]) -> Outcome {
    run_config(scenario(name), args).await
}

async fn run_config(config: SimConfig, args: &[(&str, &str)]) -> Outcome {
    let sim = server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml("viewer")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let ctx = CheckContext {
        client: kube::Client::try_from(config).unwrap(),
        kubeconfig: None,
        args: args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        now: "2026-11-22T10:00:00Z".parse().unwrap(),
        deadline: Duration::from_secs(60),
        run_id: "0badcafe".into(),
        cache_dir: None,
        denied: Vec::new(),
    };
    let check = registry::find("node-distribution-check").expect("registered");
    let outcome = check.run(&ctx).await;
    sim.shutdown().await;
    outcome
}

async fn run(name: &str) -> Outcome {
    run_with(name, &[]).await
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

/// The worst severity among the findings of `rule`.
fn worst(o: &Outcome, rule: &str) -> Option<Severity> {
    o.findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.severity)
        .max()
}

const RULES: [&str; 8] = [
    "ND-01", "ND-02", "ND-03", "ND-04", "ND-05", "AA-01", "AA-02", "AA-03",
];

#[tokio::test]
async fn compliant_scenario_passes_every_rule_without_warnings() {
    let o = run("compliant").await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    for rule in RULES {
        assert_eq!(
            worst(&o, rule),
            Some(Severity::Info),
            "{rule}: {}",
            dump(&o)
        );
    }
    let nd01 = found(&o, "ND-01", Severity::Info);
    assert_eq!(
        nd01[0].1,
        "3 control-plane nodes (control-plane-0, control-plane-1, control-plane-2) spread over \
         3 zone(s) and 3 known host(s)"
    );
    assert_eq!(
        found(&o, "ND-04", Severity::Info)[0].1,
        "all 6 nodes carry topology.kubernetes.io/zone, topology.kubernetes.io/region and \
         kubernetes.io/hostname"
    );
    // The CSI driver's zone topology (served as CSINodes) was really compared.
    assert!(
        found(&o, "ND-05", Severity::Info)[0].1.starts_with(
            "the zone label was compared with the CSI topology (cinder.csi.openstack.org) on 6 \
             node(s); no disagreement"
        ),
        "{}",
        dump(&o)
    );
    assert_eq!(
        found(&o, "AA-03", Severity::Info)[0].1,
        "all 3 worker nodes carry a host-identifying label"
    );
}

#[tokio::test]
async fn single_zone_control_plane_warns_naming_the_nodes() {
    let o = run("single-zone-control-plane").await;
    assert_eq!(o.status, Status::Pass, "ND-02 is a SHOULD: {}", dump(&o));
    assert_eq!(
        found(&o, "ND-02", Severity::Warn),
        vec![(
            String::new(),
            "all 3 control-plane nodes (control-plane-0, control-plane-1, control-plane-2) are in \
             zone zone-a"
                .to_owned()
        )],
        "{}",
        dump(&o)
    );
    // Distinct VMs in one zone without host ids: not visible, so the provider confirms.
    let nd01 = found(&o, "ND-01", Severity::Info);
    assert!(
        nd01[0].1.contains("not visible from the cluster"),
        "{}",
        dump(&o)
    );
    assert_eq!(worst(&o, "ND-03"), Some(Severity::Info), "{}", dump(&o));
}

#[tokio::test]
async fn single_control_plane_fails_nd01_and_warns_aa01_aa02() {
    let o = run("single-control-plane").await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let nd01 = found(&o, "ND-01", Severity::Error);
    assert_eq!(nd01.len(), 1, "{}", dump(&o));
    assert_eq!(nd01[0].0, "node/control-plane-0");
    assert!(
        nd01[0]
            .1
            .starts_with("only one control-plane node (control-plane-0)"),
        "{}",
        dump(&o)
    );
    let aa01 = found(&o, "AA-01", Severity::Warn);
    assert_eq!(aa01.len(), 1, "{}", dump(&o));
    assert!(
        aa01[0]
            .1
            .starts_with("only 1 control-plane instance (control-plane-0)"),
        "{}",
        dump(&o)
    );
    assert_eq!(
        found(&o, "AA-02", Severity::Warn),
        vec![(
            "node/control-plane-0".to_owned(),
            "the single control-plane instance control-plane-0 runs on one host".to_owned()
        )]
    );
    assert_eq!(worst(&o, "ND-02"), Some(Severity::Warn));
    // The workers are fine.
    assert_eq!(worst(&o, "ND-03"), Some(Severity::Info), "{}", dump(&o));
    assert_eq!(worst(&o, "AA-03"), Some(Severity::Info), "{}", dump(&o));
}

#[tokio::test]
async fn control_plane_on_one_host_fails_nd01_and_warns_aa02() {
    let o = run("control-plane-one-host").await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let expected = "all 3 control-plane nodes (control-plane-0, control-plane-1, \
                    control-plane-2) report the same kubernetes.io/hostname cp-host";
    assert_eq!(
        found(&o, "ND-01", Severity::Error),
        vec![(String::new(), expected.to_owned())],
        "{}",
        dump(&o)
    );
    assert_eq!(
        found(&o, "AA-02", Severity::Warn),
        vec![(String::new(), expected.to_owned())]
    );
    // Three instances are enough by count.
    assert_eq!(worst(&o, "AA-01"), Some(Severity::Info), "{}", dump(&o));
}

#[tokio::test]
async fn nodes_missing_topology_labels_fail_nd04_once_per_node() {
    let o = run("nodes-missing-topology-labels").await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let nd04 = found(&o, "ND-04", Severity::Error);
    assert_eq!(
        nd04,
        vec![
            (
                "node/worker-0".to_owned(),
                "node worker-0 lacks topology.kubernetes.io/zone".to_owned()
            ),
            (
                "node/worker-1".to_owned(),
                "node worker-1 lacks topology.kubernetes.io/region".to_owned()
            ),
            (
                "node/worker-2".to_owned(),
                "node worker-2 lacks topology.kubernetes.io/zone (it has only the deprecated \
                 failure-domain.beta.kubernetes.io/zone) and topology.kubernetes.io/region (it \
                 has only the deprecated failure-domain.beta.kubernetes.io/region)"
                    .to_owned()
            ),
        ],
        "{}",
        dump(&o)
    );
    // The control-plane nodes are labelled: none of them is named.
    assert!(
        o.findings
            .iter()
            .filter(|f| f.rule == "ND-04")
            .all(|f| !f.message.contains("control-plane")),
        "{}",
        dump(&o)
    );
}

#[tokio::test]
async fn workers_in_one_zone_warn_nd03_naming_them() {
    let o = run("workers-one-zone").await;
    assert_eq!(o.status, Status::Pass, "ND-03 is RECOMMENDED: {}", dump(&o));
    assert_eq!(
        found(&o, "ND-03", Severity::Warn),
        vec![(
            String::new(),
            "all 3 worker nodes (worker-0, worker-1, worker-2) are in zone zone-a".to_owned()
        )],
        "{}",
        dump(&o)
    );
    // On three hosts: the host spread is fine.
    assert_eq!(worst(&o, "AA-03"), Some(Severity::Info), "{}", dump(&o));
    assert_eq!(worst(&o, "ND-02"), Some(Severity::Info), "{}", dump(&o));
}

#[tokio::test]
async fn workers_on_one_host_warn_aa03_naming_them() {
    let o = run("workers-one-host").await;
    assert_eq!(o.status, Status::Pass, "AA-03 is a draft: {}", dump(&o));
    assert_eq!(
        found(&o, "AA-03", Severity::Warn),
        vec![(
            String::new(),
            "all 3 worker nodes (worker-0, worker-1, worker-2) run on the same physical host hv-a2"
                .to_owned()
        )],
        "{}",
        dump(&o)
    );
    assert_eq!(worst(&o, "ND-01"), Some(Severity::Info), "{}", dump(&o));
}

#[tokio::test]
async fn workers_without_host_labels_warn_aa03_per_node() {
    // single-zone-control-plane labels no node with a host id.
    let o = run("single-zone-control-plane").await;
    let aa03: Vec<String> = found(&o, "AA-03", Severity::Warn)
        .into_iter()
        .map(|(object, _)| object)
        .collect();
    assert_eq!(
        aa03,
        ["node/worker-0", "node/worker-1", "node/worker-2"],
        "{}",
        dump(&o)
    );
    // With the label named that these nodes do carry (the hostname), every worker has one.
    let o = run_with(
        "single-zone-control-plane",
        &[("host_id_labels", "example.org/none, kubernetes.io/hostname")],
    )
    .await;
    assert_eq!(worst(&o, "AA-03"), Some(Severity::Info), "{}", dump(&o));
}

#[tokio::test]
async fn csi_zone_disagreeing_with_the_label_warns_nd05_naming_the_node() {
    let o = run("csi-zone-mismatch").await;
    assert_eq!(o.status, Status::Pass, "ND-05 warns: {}", dump(&o));
    assert_eq!(
        found(&o, "ND-05", Severity::Warn),
        vec![(
            "node/worker-1".to_owned(),
            "node worker-1 has topology.kubernetes.io/zone=zone-b but CSI driver \
             cinder.csi.openstack.org places it in topology.cinder.csi.openstack.org/zone=zone-c"
                .to_owned()
        )],
        "{}",
        dump(&o)
    );
    assert!(
        found(&o, "ND-05", Severity::Info)[0]
            .1
            .contains("on 6 node(s); 1 node(s) disagree"),
        "{}",
        dump(&o)
    );
}

#[tokio::test]
async fn empty_host_id_labels_assignment_aborts_naming_the_key() {
    let o = run_with("compliant", &[("host_id_labels", " , ")]).await;
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    assert!(
        o.findings[0].message.contains("-a host_id_labels="),
        "{}",
        dump(&o)
    );
}

/// No control-plane node and no kube-apiserver identity Lease (a managed control plane the user
/// cannot see): ND-01/AA-01/AA-02 say so instead of passing or failing, ND-02 is not applicable.
#[tokio::test]
async fn hidden_control_plane_is_reported_as_not_visible() {
    let text = "name: hidden\nkubernetes:\n  version: v1.35.8\nnodes:\n\
                \x20 - {name: worker-0, zone: zone-a, region: region-1}\n\
                \x20 - {name: worker-1, zone: zone-b, region: region-1}\n";
    let config = scs_kaas_sim::scenario::parse(text, "hidden.yaml").unwrap();
    let o = run_config(config, &[]).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    let nd01 = found(&o, "ND-01", Severity::Info);
    assert!(
        nd01[0].1.starts_with(
            "control plane not visible (no control-plane nodes, no kube-apiserver identity Leases)"
        ),
        "{}",
        dump(&o)
    );
    assert_eq!(
        found(&o, "AA-01", Severity::Info)[0].1,
        "control plane not visible: its instances cannot be counted"
    );
    assert!(
        found(&o, "ND-02", Severity::Info)[0]
            .1
            .ends_with("not applicable")
    );
}
