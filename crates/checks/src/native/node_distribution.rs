//! `node-distribution-check` (scs-0214-v2, with scs-0213 folded in): are nodes labelled with
//! their zone, region and host, and do control plane and workers spread over hosts and zones?
//!
//! Rules (CHECKS.md §6, §7): ND-01 control plane on more than one machine (MUST), ND-02 over
//! more than one zone (SHOULD), ND-03 workers over more than one zone (RECOMMENDED), ND-04 zone
//! and region labels on every node (MUST), ND-05 labels agree with other placement evidence,
//! AA-01 control-plane count, AA-03 host-identifying labels on workers. Read-only: one paged
//! LIST of nodes, plus apiserver identity Leases only when no control-plane node is visible.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::ListParams;
use scs_kaas_core::finding::{Finding, Outcome};

use super::paged;
use crate::check::{Access, Check, CheckContext, Mode};

/// The zone label every node must carry (ND-04).
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// The region label every node must carry (ND-04).
pub const REGION: &str = "topology.kubernetes.io/region";
/// The kubelet's hostname label: identifies the VM, not the physical host.
pub const HOSTNAME: &str = "kubernetes.io/hostname";
const DEPRECATED_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
const DEPRECATED_REGION: &str = "failure-domain.beta.kubernetes.io/region";
const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];
/// Label selecting the kube-apiserver identity Leases (one per running apiserver).
const APISERVER_LEASE_SELECTOR: &str = "apiserver.kubernetes.io/identity=kube-apiserver";
/// The `-a` assignment naming host-identifying labels (comma-separated).
pub const HOST_ID_LABELS_ARG: &str = "host_id_labels";
/// Default host-identifying label (historical SCS label, hypervisor host id).
pub const DEFAULT_HOST_ID_LABEL: &str = "topology.scs.community/host-id";
/// How many node names a summary finding lists before "…".
const LIST_LIMIT: usize = 10;

/// The check: stateless; everything comes from the context.
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeDistributionCheck;

/// What the judge needs to know about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// Node name.
    pub name: String,
    /// All labels of the node.
    pub labels: BTreeMap<String, String>,
}

/// What was gathered from the cluster.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every node the user can see.
    pub nodes: Vec<NodeFacts>,
    /// Hostnames of kube-apiserver identity Leases (`None` entries: lease without hostname
    /// label); `None` when not looked up (control-plane nodes are visible).
    pub apiserver_leases: Option<Vec<Option<String>>>,
}

/// Tunables from `-a` assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Labels whose value identifies the physical host of a node.
    pub host_id_labels: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host_id_labels: vec![DEFAULT_HOST_ID_LABEL.to_owned()],
        }
    }
}

impl Settings {
    /// Settings from the run's assignments (`-a host_id_labels=a,b`).
    pub fn from_context(ctx: &CheckContext) -> Self {
        match ctx.arg(HOST_ID_LABELS_ARG) {
            Some(list) => Settings {
                host_id_labels: list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            None => Settings::default(),
        }
    }
}

impl NodeFacts {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn is_control_plane(&self) -> bool {
        CONTROL_PLANE_LABELS
            .iter()
            .any(|l| self.labels.contains_key(*l))
    }

    fn host_id(&self, settings: &Settings) -> Option<&str> {
        settings.host_id_labels.iter().find_map(|l| self.label(l))
    }

    fn object(&self) -> String {
        format!("node/{}", self.name)
    }
}

fn names(nodes: &[&NodeFacts]) -> String {
    let mut text = nodes
        .iter()
        .take(LIST_LIMIT)
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if nodes.len() > LIST_LIMIT {
        text.push_str(&format!(", … ({} more)", nodes.len() - LIST_LIMIT));
    }
    text
}

fn distinct<'a>(values: impl Iterator<Item = Option<&'a str>>) -> BTreeSet<&'a str> {
    values.flatten().collect()
}

/// Judge the gathered facts; pure, so every rule is table-tested.
pub fn judge(observed: &Observed, settings: &Settings) -> Vec<Finding> {
    let mut findings = Vec::new();
    labels(&observed.nodes, &mut findings);
    let (control, workers): (Vec<&NodeFacts>, Vec<&NodeFacts>) =
        observed.nodes.iter().partition(|n| n.is_control_plane());
    if control.is_empty() {
        hidden_control_plane(observed.apiserver_leases.as_deref(), &mut findings);
    } else {
        control_plane(&control, settings, &mut findings);
    }
    worker_zones(&workers, &mut findings);
    worker_host_labels(&workers, settings, &mut findings);
    consistency(&observed.nodes, &mut findings);
    findings
}

/// ND-04: zone and region on every node; hostname too; a zone in one region only.
fn labels(nodes: &[NodeFacts], findings: &mut Vec<Finding>) {
    let fix = format!(
        "let the cloud controller manager or the kubelet (--node-labels) set {ZONE} and {REGION} \
         to the node's real placement"
    );
    for node in nodes {
        let mut missing = Vec::new();
        for (label, deprecated) in [(ZONE, DEPRECATED_ZONE), (REGION, DEPRECATED_REGION)] {
            if node.label(label).is_none() {
                if node.label(deprecated).is_some() {
                    missing.push(format!("{label} (it has only the deprecated {deprecated})"));
                } else {
                    missing.push(label.to_owned());
                }
            }
        }
        if !missing.is_empty() {
            findings.push(
                Finding::error(
                    "ND-04",
                    format!("node {} lacks {}", node.name, missing.join(" and ")),
                )
                .with_fix(fix.clone())
                .with_object(node.object()),
            );
        }
        if node.label(HOSTNAME).is_none() {
            findings.push(
                Finding::warn(
                    "ND-04",
                    format!(
                        "node {} lacks {HOSTNAME}, so its machine cannot be told apart",
                        node.name
                    ),
                )
                .with_fix("run a kubelet that sets kubernetes.io/hostname (it does by default)")
                .with_object(node.object()),
            );
        }
    }
    let mut regions_of_zone: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for node in nodes {
        if let (Some(zone), Some(region)) = (node.label(ZONE), node.label(REGION)) {
            regions_of_zone.entry(zone).or_default().insert(region);
        }
    }
    for (zone, regions) in regions_of_zone {
        if regions.len() > 1 {
            let list: Vec<_> = regions.into_iter().collect();
            findings.push(
                Finding::warn(
                    "ND-04",
                    format!(
                        "zone {zone} appears in several regions ({}): a zone belongs to one region",
                        list.join(", ")
                    ),
                )
                .with_fix("correct the region or zone labels of the nodes concerned"),
            );
        }
    }
}

/// ND-01/ND-02/AA-01 when control-plane nodes are visible.
fn control_plane(control: &[&NodeFacts], settings: &Settings, findings: &mut Vec<Finding>) {
    let count = control.len();
    if count == 1 {
        findings.push(
            Finding::error(
                "ND-01",
                format!("only one control-plane node ({}): the control plane does not survive the loss of its machine", control[0].name),
            )
            .with_fix("run at least three control-plane nodes on different physical hosts and zones")
            .with_object(control[0].object()),
        );
        findings.push(Finding::warn(
            "ND-02",
            "a single control-plane node cannot span failure zones",
        ));
        return;
    }
    let zones = distinct(control.iter().map(|n| n.label(ZONE)));
    let host_ids: Vec<Option<&str>> = control.iter().map(|n| n.host_id(settings)).collect();
    let all_have_host_id = host_ids.iter().all(Option::is_some);
    let hosts = distinct(host_ids.iter().copied());
    let hostnames: Vec<Option<&str>> = control.iter().map(|n| n.label(HOSTNAME)).collect();
    let one_hostname =
        hostnames.iter().all(Option::is_some) && distinct(hostnames.iter().copied()).len() == 1;
    if all_have_host_id && hosts.len() == 1 {
        findings.push(
            Finding::error(
                "ND-01",
                format!(
                    "all {count} control-plane nodes ({}) run on the same physical host {}",
                    names(control),
                    hosts.iter().next().copied().unwrap_or_default()
                ),
            )
            .with_fix("spread the control-plane VMs over different hosts (hard anti-affinity server group)"),
        );
    } else if one_hostname {
        findings.push(
            Finding::error(
                "ND-01",
                format!(
                    "all {count} control-plane nodes ({}) report the same {HOSTNAME}",
                    names(control)
                ),
            )
            .with_fix("run the control-plane nodes on distinct machines"),
        );
    } else if zones.len() >= 2 || hosts.len() >= 2 {
        findings.push(Finding::info(
            "ND-01",
            format!(
                "{count} control-plane nodes spread over {} zone(s) and {} known host(s)",
                zones.len(),
                hosts.len()
            ),
        ));
    } else {
        findings.push(
            Finding::info(
                "ND-01",
                format!(
                    "{count} control-plane nodes ({}) are distinct machines in one zone; whether they \
                     run on different physical hosts is not visible from the cluster",
                    names(control)
                ),
            )
            .with_fix(format!(
                "confirm it as the provider (scs-0214-w1), or label nodes with {}",
                settings.host_id_labels.join(" or ")
            )),
        );
    }
    if zones.len() >= 2 {
        findings.push(Finding::info(
            "ND-02",
            format!("control plane spans {} zones", zones.len()),
        ));
    } else {
        let zone = zones.iter().next().copied().unwrap_or("(unlabelled)");
        findings.push(
            Finding::warn(
                "ND-02",
                format!(
                    "all {count} control-plane nodes ({}) are in zone {zone}",
                    names(control)
                ),
            )
            .with_fix(
                "place control-plane nodes in at least two failure zones (CAPI failure domains)",
            ),
        );
    }
    if count.is_multiple_of(2) {
        findings.push(Finding::info(
            "AA-01",
            format!("{count} control-plane nodes: an odd count (3, 5) keeps etcd quorum through one loss with fewer machines"),
        ));
    }
}

/// ND-01/ND-02/AA-01 when no control-plane node is visible (managed control plane).
fn hidden_control_plane(leases: Option<&[Option<String>]>, findings: &mut Vec<Finding>) {
    match leases {
        Some(leases) if leases.len() == 1 => findings.push(
            Finding::error(
                "ND-01",
                "one kube-apiserver identity Lease in kube-system: the hidden control plane runs a single API server",
            )
            .with_fix("run at least two (better three) API servers on different hosts"),
        ),
        Some(leases) if leases.len() >= 2 => {
            let hosts: BTreeSet<&str> = leases.iter().flatten().map(String::as_str).collect();
            findings.push(Finding::info(
                "ND-01",
                format!(
                    "control plane not visible as nodes; {} kube-apiserver identity Leases on {} distinct host(s); \
                     physical separation must be confirmed by the provider (scs-0214-w1)",
                    leases.len(),
                    hosts.len()
                ),
            ));
        }
        _ => findings.push(Finding::info(
            "ND-01",
            "control plane not visible (no control-plane nodes, no kube-apiserver identity Leases): \
             its distribution must be confirmed by the provider (scs-0214-w1)",
        )),
    }
    findings.push(Finding::info(
        "ND-02",
        "zones of a hidden control plane are not visible: not applicable",
    ));
}

/// ND-03: workers over more than one zone.
fn worker_zones(workers: &[&NodeFacts], findings: &mut Vec<Finding>) {
    if workers.is_empty() {
        findings.push(Finding::info("ND-03", "no worker nodes visible"));
        return;
    }
    let zones = distinct(workers.iter().map(|n| n.label(ZONE)));
    if zones.len() >= 2 {
        findings.push(Finding::info(
            "ND-03",
            format!("{} worker nodes span {} zones", workers.len(), zones.len()),
        ));
    } else {
        let zone = zones.iter().next().copied().unwrap_or("(unlabelled)");
        findings.push(
            Finding::warn(
                "ND-03",
                format!(
                    "all {} worker nodes ({}) are in zone {zone}",
                    workers.len(),
                    names(workers)
                ),
            )
            .with_fix("spread worker nodes over at least two failure zones (RECOMMENDED)"),
        );
    }
}

/// AA-03: workers reveal their physical host through a label.
fn worker_host_labels(workers: &[&NodeFacts], settings: &Settings, findings: &mut Vec<Finding>) {
    let lacking: Vec<&NodeFacts> = workers
        .iter()
        .copied()
        .filter(|n| n.host_id(settings).is_none())
        .collect();
    if !lacking.is_empty() {
        findings.push(
            Finding::warn(
                "AA-03",
                format!(
                    "{} of {} worker nodes carry no host-identifying label ({}): {}",
                    lacking.len(),
                    workers.len(),
                    settings.host_id_labels.join(", "),
                    names(&lacking)
                ),
            )
            .with_fix("label workers with their (possibly obfuscated) hypervisor host id, or name your label with -a host_id_labels=…"),
        );
    }
}

/// ND-05: the zone label agrees with the zone other components (CSI drivers) see.
fn consistency(nodes: &[NodeFacts], findings: &mut Vec<Finding>) {
    for node in nodes {
        let Some(zone) = node.label(ZONE) else {
            continue;
        };
        for (key, value) in &node.labels {
            let other_zone = key.ends_with("/zone") && key != ZONE && key != DEPRECATED_ZONE;
            if other_zone && !value.is_empty() && value != zone {
                findings.push(
                    Finding::warn(
                        "ND-05",
                        format!("node {} has {ZONE}={zone} but {key}={value}", node.name),
                    )
                    .with_fix("make the node's zone labels agree with its real placement")
                    .with_object(node.object()),
                );
            }
        }
    }
    findings.push(Finding::info(
        "ND-05",
        "agreement of the labels with the real placement needs the IaaS API: confirm as the provider",
    ));
}

/// Gather nodes page by page (only names and labels are kept), and apiserver Leases when no
/// control-plane node is visible. Returns the facts and the number of LIST requests.
pub async fn gather(client: &kube::Client) -> Result<(Observed, usize), String> {
    let api: Api<Node> = Api::all(client.clone());
    let mut nodes = Vec::new();
    let mut requests = paged::for_each(&api, ListParams::default(), |node: Node| {
        nodes.push(NodeFacts {
            name: node.metadata.name.unwrap_or_default(),
            labels: node.metadata.labels.unwrap_or_default(),
        });
    })
    .await
    .map_err(|err| paged::describe_error("list nodes", "list", "", "nodes", &err))?;
    let mut observed = Observed {
        nodes,
        apiserver_leases: None,
    };
    if !observed.nodes.iter().any(NodeFacts::is_control_plane) {
        let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
        let mut hosts = Vec::new();
        requests += paged::for_each(
            &leases,
            ListParams::default().labels(APISERVER_LEASE_SELECTOR),
            |lease: Lease| {
                hosts.push(lease.metadata.labels.and_then(|mut l| l.remove(HOSTNAME)));
            },
        )
        .await
        .map_err(|err| {
            paged::describe_error(
                "list Leases in kube-system",
                "list",
                "coordination.k8s.io",
                "leases",
                &err,
            )
        })?;
        observed.apiserver_leases = Some(hosts);
    }
    Ok((observed, requests))
}

impl Check for NodeDistributionCheck {
    fn id(&self) -> &'static str {
        "node-distribution-check"
    }

    fn standard(&self) -> &'static str {
        "scs-0214-v2"
    }

    fn description(&self) -> &'static str {
        "nodes carry zone/region/host labels; control plane and workers spread over hosts and zones"
    }

    fn mode(&self) -> Mode {
        Mode::ReadOnly
    }

    fn access(&self) -> Vec<Access> {
        vec![
            Access::read("list", "", "nodes"),
            Access::read("list", "coordination.k8s.io", "leases"),
        ]
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let settings = Settings::from_context(ctx);
            if settings.host_id_labels.is_empty() {
                return Outcome::abort(
                    "ND-01",
                    format!(
                        "-a {HOST_ID_LABELS_ARG}= names no label: give at least one label or drop the assignment"
                    ),
                );
            }
            match gather(&ctx.client).await {
                Ok((observed, _)) if observed.nodes.is_empty() => Outcome::abort(
                    "ND-04",
                    "the cluster lists no nodes: nothing to judge (is the kubeconfig pointing at the right cluster?)",
                ),
                Ok((observed, _)) => Outcome::from_findings(judge(&observed, &settings)),
                Err(reason) => Outcome::abort("ND-04", reason),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_core::finding::Severity;

    const CP: &str = "node-role.kubernetes.io/control-plane";

    fn node(name: &str, labels: &[(&str, &str)]) -> NodeFacts {
        NodeFacts {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// A fully labelled node; `role` is "cp" or "worker".
    fn placed(name: &str, role: &str, zone: &str, host: &str) -> NodeFacts {
        let mut n = node(
            name,
            &[
                (ZONE, zone),
                (REGION, "r1"),
                (HOSTNAME, name),
                (DEFAULT_HOST_ID_LABEL, host),
            ],
        );
        if role == "cp" {
            n.labels.insert(CP.to_owned(), String::new());
        }
        n
    }

    fn run(nodes: Vec<NodeFacts>) -> Vec<Finding> {
        judge(
            &Observed {
                nodes,
                apiserver_leases: None,
            },
            &Settings::default(),
        )
    }

    fn of(findings: &[Finding], rule: &str) -> Vec<(Severity, String)> {
        findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.severity, f.message.clone()))
            .collect()
    }

    fn compliant() -> Vec<NodeFacts> {
        vec![
            placed("cp-a", "cp", "az1", "h1"),
            placed("cp-b", "cp", "az2", "h2"),
            placed("cp-c", "cp", "az3", "h3"),
            placed("w-a", "worker", "az1", "h1"),
            placed("w-b", "worker", "az2", "h2"),
        ]
    }

    #[test]
    fn compliant_cluster_passes_without_warnings() {
        let findings = run(compliant());
        assert!(
            findings.iter().all(|f| f.severity == Severity::Info),
            "{findings:#?}"
        );
        assert_eq!(
            Outcome::from_findings(findings).status,
            scs_kaas_core::finding::Status::Pass
        );
    }

    #[test]
    fn nd04_missing_zone_or_region_fails_per_node() {
        let mut nodes = compliant();
        nodes[3].labels.remove(ZONE);
        nodes[4].labels.remove(REGION);
        nodes[4]
            .labels
            .insert(DEPRECATED_REGION.to_owned(), "r1".to_owned());
        let findings = run(nodes);
        let nd04: Vec<_> = findings.iter().filter(|f| f.rule == "ND-04").collect();
        assert_eq!(nd04.len(), 2, "{nd04:#?}");
        assert!(nd04.iter().all(|f| f.severity == Severity::Error));
        assert_eq!(nd04[0].object.as_deref(), Some("node/w-a"));
        assert!(nd04[0].message.contains(ZONE));
        assert!(
            nd04[1].message.contains("only the deprecated"),
            "{}",
            nd04[1].message
        );
    }

    #[test]
    fn nd04_empty_label_value_counts_as_missing() {
        let mut nodes = compliant();
        nodes[0].labels.insert(ZONE.to_owned(), String::new());
        let findings = run(nodes);
        assert_eq!(of(&findings, "ND-04").len(), 1);
        assert_eq!(of(&findings, "ND-04")[0].0, Severity::Error);
    }

    #[test]
    fn nd04_missing_hostname_warns_and_zone_in_two_regions_warns() {
        let mut nodes = compliant();
        nodes[4].labels.remove(HOSTNAME);
        nodes[3].labels.insert(REGION.to_owned(), "r2".to_owned());
        let nd04 = of(&run(nodes), "ND-04");
        assert_eq!(nd04.len(), 2, "{nd04:#?}");
        assert!(nd04.iter().all(|(s, _)| *s == Severity::Warn));
        assert!(
            nd04.iter()
                .any(|(_, m)| m.contains("w-b lacks kubernetes.io/hostname"))
        );
        assert!(
            nd04.iter()
                .any(|(_, m)| m.contains("zone az1 appears in several regions (r1, r2)"))
        );
    }

    #[test]
    fn nd01_single_control_plane_fails() {
        let nodes = vec![
            placed("cp", "cp", "az1", "h1"),
            placed("w", "worker", "az2", "h2"),
        ];
        let findings = run(nodes);
        let nd01 = of(&findings, "ND-01");
        assert_eq!(nd01.len(), 1);
        assert_eq!(nd01[0].0, Severity::Error);
        assert!(nd01[0].1.contains("only one control-plane node (cp)"));
    }

    #[test]
    fn nd01_control_plane_on_one_host_fails() {
        let nodes = vec![
            placed("cp-a", "cp", "az1", "vm0"),
            placed("cp-b", "cp", "az1", "vm0"),
            placed("cp-c", "cp", "az1", "vm0"),
        ];
        let nd01 = of(&run(nodes), "ND-01");
        assert_eq!(nd01[0].0, Severity::Error);
        assert!(
            nd01[0].1.contains("same physical host vm0"),
            "{}",
            nd01[0].1
        );
    }

    #[test]
    fn nd01_same_hostname_fails() {
        let mut nodes = vec![
            node(
                "a",
                &[(CP, ""), (ZONE, "z"), (REGION, "r"), (HOSTNAME, "x")],
            ),
            node(
                "b",
                &[(CP, ""), (ZONE, "z"), (REGION, "r"), (HOSTNAME, "x")],
            ),
        ];
        nodes.push(placed("w", "worker", "z", "h"));
        let nd01 = of(&run(nodes), "ND-01");
        assert_eq!(nd01[0].0, Severity::Error);
        assert!(nd01[0].1.contains("same kubernetes.io/hostname"));
    }

    #[test]
    fn nd01_distinct_vms_in_one_zone_without_host_ids_needs_confirmation() {
        let nodes = vec![
            node(
                "cp-a",
                &[(CP, ""), (ZONE, "z"), (REGION, "r"), (HOSTNAME, "cp-a")],
            ),
            node(
                "cp-b",
                &[(CP, ""), (ZONE, "z"), (REGION, "r"), (HOSTNAME, "cp-b")],
            ),
            node(
                "cp-c",
                &[(CP, ""), (ZONE, "z"), (REGION, "r"), (HOSTNAME, "cp-c")],
            ),
        ];
        let findings = run(nodes);
        let nd01 = of(&findings, "ND-01");
        assert_eq!(nd01[0].0, Severity::Info);
        assert!(nd01[0].1.contains("not visible from the cluster"));
        let nd02 = of(&findings, "ND-02");
        assert_eq!(
            nd02,
            vec![(
                Severity::Warn,
                "all 3 control-plane nodes (cp-a, cp-b, cp-c) are in zone z".to_owned()
            )]
        );
    }

    #[test]
    fn nd01_distinct_host_ids_in_one_zone_pass_but_nd02_warns() {
        let nodes = vec![
            placed("cp-a", "cp", "z", "h1"),
            placed("cp-b", "cp", "z", "h2"),
            placed("cp-c", "cp", "z", "h3"),
        ];
        let findings = run(nodes);
        assert_eq!(of(&findings, "ND-01")[0].0, Severity::Info);
        assert_eq!(of(&findings, "ND-02")[0].0, Severity::Warn);
    }

    #[test]
    fn nd01_configured_host_id_label_is_used() {
        let nodes = vec![
            node(
                "cp-a",
                &[
                    (CP, ""),
                    (ZONE, "z"),
                    (REGION, "r"),
                    (HOSTNAME, "a"),
                    ("example.com/host", "hv1"),
                ],
            ),
            node(
                "cp-b",
                &[
                    (CP, ""),
                    (ZONE, "z"),
                    (REGION, "r"),
                    (HOSTNAME, "b"),
                    ("example.com/host", "hv1"),
                ],
            ),
        ];
        let settings = Settings {
            host_id_labels: vec!["example.com/host".to_owned()],
        };
        let findings = judge(
            &Observed {
                nodes: nodes.clone(),
                apiserver_leases: None,
            },
            &settings,
        );
        assert_eq!(of(&findings, "ND-01")[0].0, Severity::Error);
        // With the default label the same nodes only lack evidence.
        assert_eq!(of(&run(nodes), "ND-01")[0].0, Severity::Info);
    }

    #[test]
    fn aa01_even_control_plane_count_is_noted() {
        let nodes = vec![
            placed("cp-a", "cp", "az1", "h1"),
            placed("cp-b", "cp", "az2", "h2"),
        ];
        let aa01 = of(&run(nodes), "AA-01");
        assert_eq!(aa01.len(), 1);
        assert_eq!(aa01[0].0, Severity::Info);
        assert!(of(&run(compliant()), "AA-01").is_empty());
    }

    #[test]
    fn nd03_workers_in_one_zone_warn() {
        let mut nodes = compliant();
        nodes[4].labels.insert(ZONE.to_owned(), "az1".to_owned());
        let nd03 = of(&run(nodes), "ND-03");
        assert_eq!(
            nd03,
            vec![(
                Severity::Warn,
                "all 2 worker nodes (w-a, w-b) are in zone az1".to_owned()
            )]
        );
        assert_eq!(of(&run(compliant()), "ND-03")[0].0, Severity::Info);
    }

    #[test]
    fn aa03_workers_without_host_id_warn_once() {
        let mut nodes = compliant();
        nodes[3].labels.remove(DEFAULT_HOST_ID_LABEL);
        nodes[4].labels.remove(DEFAULT_HOST_ID_LABEL);
        let aa03 = of(&run(nodes), "AA-03");
        assert_eq!(aa03.len(), 1);
        assert_eq!(aa03[0].0, Severity::Warn);
        assert!(
            aa03[0].1.starts_with("2 of 2 worker nodes"),
            "{}",
            aa03[0].1
        );
    }

    #[test]
    fn nd05_disagreeing_csi_zone_warns_per_node() {
        let mut nodes = compliant();
        nodes[3].labels.insert(
            "topology.cinder.csi.openstack.org/zone".to_owned(),
            "az9".to_owned(),
        );
        nodes[4].labels.insert(
            "topology.cinder.csi.openstack.org/zone".to_owned(),
            "az2".to_owned(),
        );
        let findings = run(nodes);
        let warns: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "ND-05" && f.severity == Severity::Warn)
            .collect();
        assert_eq!(warns.len(), 1);
        assert_eq!(warns[0].object.as_deref(), Some("node/w-a"));
    }

    #[test]
    fn hidden_control_plane_uses_apiserver_leases() {
        let workers = vec![
            placed("w-a", "worker", "az1", "h1"),
            placed("w-b", "worker", "az2", "h2"),
        ];
        let judge_with = |leases: Option<Vec<Option<String>>>| {
            judge(
                &Observed {
                    nodes: workers.clone(),
                    apiserver_leases: leases,
                },
                &Settings::default(),
            )
        };
        let one = judge_with(Some(vec![Some("m1".to_owned())]));
        assert_eq!(of(&one, "ND-01")[0].0, Severity::Error);
        let three = judge_with(Some(vec![
            Some("m1".to_owned()),
            Some("m2".to_owned()),
            None,
        ]));
        let nd01 = of(&three, "ND-01");
        assert_eq!(nd01[0].0, Severity::Info);
        assert!(
            nd01[0]
                .1
                .contains("3 kube-apiserver identity Leases on 2 distinct host(s)"),
            "{}",
            nd01[0].1
        );
        let none = judge_with(Some(vec![]));
        assert!(
            of(&none, "ND-01")[0]
                .1
                .contains("control plane not visible")
        );
        assert_eq!(of(&none, "ND-02")[0].0, Severity::Info);
    }

    #[test]
    fn long_node_lists_are_cut() {
        let workers: Vec<_> = (0..25)
            .map(|i| placed(&format!("w{i}"), "worker", "z", "h"))
            .collect();
        let nd03 = of(&run(workers), "ND-03");
        assert!(
            nd03[0].1.ends_with("w9, … (15 more)) are in zone z"),
            "{}",
            nd03[0].1
        );
    }
}
