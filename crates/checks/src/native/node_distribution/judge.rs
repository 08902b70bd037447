//! The pure judge of `node-distribution-check`: one function per rule group, table-tested below.

use std::collections::{BTreeMap, BTreeSet};

use scs_kaas_core::finding::Finding;

use super::{
    CsiTopology, DEPRECATED_REGION, DEPRECATED_ZONE, HOSTNAME, NodeFacts, Observed, REGION,
    Settings, ZONE,
};

/// How many node names a group finding lists before "…".
const LIST_LIMIT: usize = 10;

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
    worker_hosts(&workers, settings, &mut findings);
    consistency(
        &observed.nodes,
        &observed.csi_topology,
        settings,
        &mut findings,
    );
    findings
}

/// ND-04: zone and region on every node; hostname too; a zone in one region only.
fn labels(nodes: &[NodeFacts], findings: &mut Vec<Finding>) {
    let before = findings.len();
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
    if findings.len() == before {
        findings.push(Finding::info(
            "ND-04",
            format!(
                "all {} nodes carry {ZONE}, {REGION} and {HOSTNAME}",
                nodes.len()
            ),
        ));
    }
}

/// What the labels say about whether a group of nodes shares one machine.
#[derive(Debug, PartialEq, Eq)]
enum Placement<'a> {
    /// Every node carries a host id, and it is the same one.
    OneHost(&'a str),
    /// Every node reports the same `kubernetes.io/hostname`.
    OneHostname(&'a str),
    /// Evidence of at least two machines: two zones or two host ids.
    Spread { zones: usize, hosts: usize },
    /// Distinct VMs; nothing is known about their physical hosts.
    Unknown,
}

/// The placement evidence of two or more nodes (the same for ND-01, AA-02 and the workers).
fn placement<'a>(nodes: &[&'a NodeFacts], settings: &Settings) -> Placement<'a> {
    let host_ids: Vec<Option<&str>> = nodes.iter().map(|n| n.host_id(settings)).collect();
    let hosts = distinct(host_ids.iter().copied());
    if host_ids.iter().all(Option::is_some) && hosts.len() == 1 {
        return Placement::OneHost(hosts.into_iter().next().unwrap_or_default());
    }
    let hostnames: Vec<Option<&str>> = nodes.iter().map(|n| n.label(HOSTNAME)).collect();
    let one_hostname = distinct(hostnames.iter().copied());
    if hostnames.iter().all(Option::is_some) && one_hostname.len() == 1 {
        return Placement::OneHostname(one_hostname.into_iter().next().unwrap_or_default());
    }
    let zones = distinct(nodes.iter().map(|n| n.label(ZONE))).len();
    if zones >= 2 || hosts.len() >= 2 {
        Placement::Spread {
            zones,
            hosts: hosts.len(),
        }
    } else {
        Placement::Unknown
    }
}

/// AA-01: the number of control-plane instances.
fn instance_count(count: usize, what: &str, findings: &mut Vec<Finding>) {
    if count < 2 {
        findings.push(
            Finding::warn(
                "AA-01",
                format!(
                    "only {count} control-plane instance ({what}): scs-0213 asks for at least two"
                ),
            )
            .with_fix("run at least three control-plane instances (etcd quorum survives one loss)"),
        );
    } else if count.is_multiple_of(2) {
        findings.push(Finding::info(
            "AA-01",
            format!(
                "{count} control-plane instances ({what}): an odd count (3, 5) keeps etcd quorum \
                 through one loss with fewer machines"
            ),
        ));
    } else {
        findings.push(Finding::info(
            "AA-01",
            format!("{count} control-plane instances ({what})"),
        ));
    }
}

/// ND-01/ND-02/AA-01/AA-02 when control-plane nodes are visible.
fn control_plane(control: &[&NodeFacts], settings: &Settings, findings: &mut Vec<Finding>) {
    let count = control.len();
    let listed = names(control);
    if let [single] = control {
        findings.push(
            Finding::error(
                "ND-01",
                format!(
                    "only one control-plane node ({}): the control plane does not survive the loss of its machine",
                    single.name
                ),
            )
            .with_fix("run at least three control-plane nodes on different physical hosts and zones")
            .with_object(single.object()),
        );
        findings.push(
            Finding::warn(
                "ND-02",
                format!(
                    "the single control-plane node {} cannot span failure zones",
                    single.name
                ),
            )
            .with_object(single.object()),
        );
        instance_count(1, &listed, findings);
        findings.push(
            Finding::warn(
                "AA-02",
                format!(
                    "the single control-plane instance {} runs on one host",
                    single.name
                ),
            )
            .with_object(single.object()),
        );
        return;
    }
    let unlabelled: Vec<&&NodeFacts> = control
        .iter()
        .filter(|n| n.host_id(settings).is_none())
        .collect();
    // Only when some carry one: without any host id, ND-01/AA-02 already say it is not visible.
    if unlabelled.len() < control.len() {
        for node in unlabelled {
            findings.push(
                Finding::warn(
                    "AA-02",
                    format!(
                        "control-plane node {} carries no host-identifying label ({}): its host is not known, so the host spread is judged without it",
                        node.name,
                        settings.host_id_labels.join(", ")
                    ),
                )
                .with_fix("label every control-plane node with its (possibly obfuscated) hypervisor host id")
                .with_object(node.object()),
            );
        }
    }
    let spread_fix =
        "spread the control-plane VMs over different hosts (hard anti-affinity server group)";
    match placement(control, settings) {
        Placement::OneHost(host) => {
            let msg = format!(
                "all {count} control-plane nodes ({listed}) run on the same physical host {host}"
            );
            findings.push(Finding::error("ND-01", msg.clone()).with_fix(spread_fix));
            findings.push(Finding::warn("AA-02", msg).with_fix(spread_fix));
        }
        Placement::OneHostname(hostname) => {
            let msg = format!(
                "all {count} control-plane nodes ({listed}) report the same {HOSTNAME} {hostname}"
            );
            findings.push(
                Finding::error("ND-01", msg.clone())
                    .with_fix("run the control-plane nodes on distinct machines"),
            );
            findings.push(
                Finding::warn("AA-02", msg)
                    .with_fix("run the control-plane nodes on distinct machines"),
            );
        }
        Placement::Spread { zones, hosts } => {
            let msg = format!(
                "{count} control-plane nodes ({listed}) spread over {zones} zone(s) and {hosts} known host(s)"
            );
            findings.push(Finding::info("ND-01", msg.clone()));
            findings.push(Finding::info("AA-02", msg));
        }
        Placement::Unknown => {
            let fix = format!(
                "confirm it as the provider (scs-0214-w1), or label nodes with {}",
                settings.host_id_labels.join(" or ")
            );
            let msg = format!(
                "{count} control-plane nodes ({listed}) are distinct machines in one zone; whether \
                 they run on different physical hosts is not visible from the cluster"
            );
            findings.push(Finding::info("ND-01", msg.clone()).with_fix(fix.clone()));
            findings.push(Finding::info("AA-02", format!("{msg} (MANUAL)")).with_fix(fix));
        }
    }
    let zones = distinct(control.iter().map(|n| n.label(ZONE)));
    if zones.len() >= 2 {
        findings.push(Finding::info(
            "ND-02",
            format!("control plane spans {} zones", zones.len()),
        ));
    } else {
        findings.push(
            Finding::warn("ND-02", one_zone("control-plane", control)).with_fix(
                "place control-plane nodes in at least two failure zones (CAPI failure domains)",
            ),
        );
    }
    instance_count(count, &listed, findings);
}

/// "all N <what> nodes (…) are in zone z", naming nodes without a zone label separately.
fn one_zone(what: &str, nodes: &[&NodeFacts]) -> String {
    let count = nodes.len();
    let zone = distinct(nodes.iter().map(|n| n.label(ZONE)))
        .into_iter()
        .next();
    let unlabelled: Vec<&NodeFacts> = nodes
        .iter()
        .copied()
        .filter(|n| n.label(ZONE).is_none())
        .collect();
    match (zone, unlabelled.is_empty()) {
        (Some(zone), true) => {
            format!(
                "all {count} {what} nodes ({}) are in zone {zone}",
                names(nodes)
            )
        }
        (Some(zone), false) => format!(
            "the {count} {what} nodes ({}) span one zone at most: {zone}, and {} without a zone label",
            names(nodes),
            names(&unlabelled)
        ),
        (None, _) => format!(
            "none of the {count} {what} nodes ({}) has a zone label",
            names(nodes)
        ),
    }
}

/// ND-01/ND-02/AA-01/AA-02 when no control-plane node is visible (managed control plane).
fn hidden_control_plane(leases: Option<&[Option<String>]>, findings: &mut Vec<Finding>) {
    let leases = leases.unwrap_or_default();
    let what = "kube-apiserver identity Leases in kube-system";
    match leases {
        [] => {
            let msg = "control plane not visible (no control-plane nodes, no kube-apiserver identity Leases): \
                       its distribution must be confirmed by the provider (scs-0214-w1)";
            findings.push(Finding::info("ND-01", msg));
            findings.push(Finding::info(
                "AA-01",
                "control plane not visible: its instances cannot be counted",
            ));
            findings.push(Finding::info("AA-02", format!("{msg} (MANUAL)")));
        }
        [single] => {
            let host = single.as_deref().unwrap_or("an unnamed host");
            findings.push(
                Finding::error(
                    "ND-01",
                    format!(
                        "one kube-apiserver identity Lease in kube-system (on {host}): the hidden control plane runs a single API server"
                    ),
                )
                .with_fix("run at least two (better three) API servers on different hosts"),
            );
            instance_count(1, what, findings);
            findings.push(Finding::warn(
                "AA-02",
                format!("the single API server runs on one host ({host})"),
            ));
        }
        _ => {
            let count = leases.len();
            let hosts: BTreeSet<&str> = leases.iter().flatten().map(String::as_str).collect();
            let all_named = leases.iter().all(Option::is_some);
            if all_named && hosts.len() == 1 {
                let host = hosts.iter().next().copied().unwrap_or_default();
                let msg = format!(
                    "all {count} kube-apiserver identity Leases report the same {HOSTNAME} {host}"
                );
                findings.push(
                    Finding::error("ND-01", msg.clone())
                        .with_fix("run the API servers on distinct machines"),
                );
                findings.push(Finding::warn("AA-02", msg));
            } else {
                let msg = format!(
                    "control plane not visible as nodes; {count} kube-apiserver identity Leases on {} distinct host(s); \
                     physical separation must be confirmed by the provider (scs-0214-w1)",
                    hosts.len()
                );
                findings.push(Finding::info("ND-01", msg.clone()));
                findings.push(Finding::info("AA-02", format!("{msg} (MANUAL)")));
            }
            instance_count(count, what, findings);
        }
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
        findings.push(
            Finding::warn("ND-03", one_zone("worker", workers))
                .with_fix("spread worker nodes over at least two failure zones (RECOMMENDED)"),
        );
    }
}

/// AA-03: every worker reveals its physical host through a label, and the workers spread over
/// more than one host.
fn worker_hosts(workers: &[&NodeFacts], settings: &Settings, findings: &mut Vec<Finding>) {
    if workers.is_empty() {
        findings.push(Finding::info("AA-03", "no worker nodes visible"));
        return;
    }
    let labels = settings.host_id_labels.join(", ");
    let mut lacking = 0;
    for node in workers.iter().filter(|n| n.host_id(settings).is_none()) {
        lacking += 1;
        findings.push(
            Finding::warn(
                "AA-03",
                format!(
                    "worker node {} carries no host-identifying label ({labels})",
                    node.name
                ),
            )
            .with_object(node.object())
            .with_fix("label workers with their (possibly obfuscated) hypervisor host id, or name your label with -a host_id_labels=…"),
        );
    }
    if lacking == 0 {
        findings.push(Finding::info(
            "AA-03",
            format!(
                "all {} worker nodes carry a host-identifying label",
                workers.len()
            ),
        ));
    }
    let count = workers.len();
    let listed = names(workers);
    let spread_fix = "spread the worker VMs over several hypervisor hosts (anti-affinity server group) (RECOMMENDED)";
    if let [single] = workers {
        findings.push(
            Finding::warn(
                "AA-03",
                format!(
                    "only one worker node ({}): workloads cannot spread over hosts",
                    single.name
                ),
            )
            .with_object(single.object())
            .with_fix("run at least two worker nodes on different hosts"),
        );
        return;
    }
    match placement(workers, settings) {
        Placement::OneHost(host) => findings.push(
            Finding::warn(
                "AA-03",
                format!("all {count} worker nodes ({listed}) run on the same physical host {host}"),
            )
            .with_fix(spread_fix),
        ),
        Placement::OneHostname(hostname) => findings.push(
            Finding::warn(
                "AA-03",
                format!(
                    "all {count} worker nodes ({listed}) report the same {HOSTNAME} {hostname}"
                ),
            )
            .with_fix(spread_fix),
        ),
        Placement::Spread { zones, hosts } => findings.push(Finding::info(
            "AA-03",
            format!("{count} worker nodes spread over {zones} zone(s) and {hosts} known host(s)"),
        )),
        Placement::Unknown => findings.push(Finding::info(
            "AA-03",
            format!(
                "{count} worker nodes are distinct machines in one zone; their physical hosts are not visible"
            ),
        )),
    }
}

/// Whether a label key names a zone (`…/zone`, `…-zone`).
fn zone_like(key: &str) -> bool {
    key.rsplit('/').next().is_some_and(|k| k.ends_with("zone"))
}

/// ND-05: the zone label agrees with the zones other components see: CSI topology keys
/// (CSINode), other `*/zone` labels and the deprecated zone label.
fn consistency(
    nodes: &[NodeFacts],
    csi: &BTreeMap<String, Vec<CsiTopology>>,
    settings: &Settings,
    findings: &mut Vec<Finding>,
) {
    let fix = "make the node's zone labels agree with its real placement (the node's \
               topology.kubernetes.io/zone, or the zone the CSI driver reads from the instance metadata, is wrong)";
    let mut compared = 0;
    let mut disagreeing = 0;
    let mut drivers: BTreeSet<&str> = BTreeSet::new();
    for node in nodes {
        let Some(zone) = node.label(ZONE) else {
            continue;
        };
        let mut csi_keys: BTreeSet<&str> = BTreeSet::new();
        let mut node_disagrees = false;
        for topo in csi.get(&node.name).into_iter().flatten() {
            for key in topo
                .keys
                .iter()
                .filter(|k| zone_like(k) && k.as_str() != ZONE)
            {
                csi_keys.insert(key);
                drivers.insert(&topo.driver);
                match node.label(key) {
                    None => findings.push(
                        Finding::info(
                            "ND-05",
                            format!(
                                "CSI driver {} declares the topology key {key} for node {}, but the node has no such label",
                                topo.driver, node.name
                            ),
                        )
                        .with_object(node.object()),
                    ),
                    Some(value) if value != zone => {
                        node_disagrees = true;
                        findings.push(
                            Finding::warn(
                                "ND-05",
                                format!(
                                    "node {} has {ZONE}={zone} but CSI driver {} places it in {key}={value}",
                                    node.name, topo.driver
                                ),
                            )
                            .with_fix(fix)
                            .with_object(node.object()),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        if !csi_keys.is_empty() {
            compared += 1;
        }
        for (key, value) in &node.labels {
            let other = zone_like(key) && key != ZONE && !csi_keys.contains(key.as_str());
            if other && !value.is_empty() && value != zone {
                node_disagrees = true;
                findings.push(
                    Finding::warn(
                        "ND-05",
                        format!("node {} has {ZONE}={zone} but {key}={value}", node.name),
                    )
                    .with_fix(fix)
                    .with_object(node.object()),
                );
            }
        }
        if node_disagrees {
            disagreeing += 1;
        }
    }
    // One physical host cannot be in several zones: contradictory host-id or zone labels.
    let mut host_zones: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for node in nodes {
        if let (Some(host), Some(zone)) = (node.host_id(settings), node.label(ZONE)) {
            host_zones
                .entry(host)
                .or_default()
                .entry(zone)
                .or_default()
                .push(&node.name);
        }
    }
    let mut split_hosts = 0;
    for (host, zones) in host_zones.iter().filter(|(_, z)| z.len() > 1) {
        split_hosts += 1;
        let per_zone: Vec<String> = zones
            .iter()
            .map(|(zone, names)| format!("{zone}: {}", names.join(", ")))
            .collect();
        findings.push(
            Finding::warn(
                "ND-05",
                format!(
                    "host id {host} is in {} zones ({}; nodes {}): one physical host cannot be in several zones",
                    zones.len(),
                    zones.keys().copied().collect::<Vec<_>>().join(", "),
                    per_zone.join("; ")
                ),
            )
            .with_fix("correct the host-id or zone labels of these nodes so they follow the real placement"),
        );
    }
    let not_compared = "Machine failure domains (management cluster) and the IaaS placement are \
                        not compared: confirm as the provider that the labels follow the real placement";
    let csi_part = if compared == 0 {
        "no CSI driver publishes a zone topology key (CSINode): the zone labels were compared with \
         other zone labels only"
            .to_owned()
    } else {
        format!(
            "the zone label was compared with the CSI topology ({}) on {compared} node(s)",
            drivers.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let verdict = match (disagreeing, split_hosts) {
        (0, 0) => "no disagreement".to_owned(),
        (n, 0) => format!("{n} node(s) disagree"),
        (0, h) => format!("{h} host id(s) in several zones"),
        (n, h) => format!("{n} node(s) disagree, {h} host id(s) in several zones"),
    };
    findings.push(Finding::info(
        "ND-05",
        format!("{csi_part}; {verdict}; {not_compared}"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::node_distribution::DEFAULT_HOST_ID_LABEL;
    use scs_kaas_core::finding::{Outcome, Severity, Status};

    const CP: &str = "node-role.kubernetes.io/control-plane";
    const CINDER_ZONE: &str = "topology.cinder.csi.openstack.org/zone";

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

    fn observed(nodes: Vec<NodeFacts>) -> Observed {
        Observed {
            nodes,
            ..Observed::default()
        }
    }

    fn run(nodes: Vec<NodeFacts>) -> Vec<Finding> {
        judge(&observed(nodes), &Settings::default())
    }

    fn of(findings: &[Finding], rule: &str) -> Vec<(Severity, String)> {
        findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.severity, f.message.clone()))
            .collect()
    }

    /// The findings of `rule` at `severity`, as (object, message).
    fn at(findings: &[Finding], rule: &str, severity: Severity) -> Vec<(String, String)> {
        findings
            .iter()
            .filter(|f| f.rule == rule && f.severity == severity)
            .map(|f| (f.object.clone().unwrap_or_default(), f.message.clone()))
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
    fn compliant_cluster_passes_every_rule_without_warnings() {
        let findings = run(compliant());
        assert!(
            findings.iter().all(|f| f.severity == Severity::Info),
            "{findings:#?}"
        );
        for rule in [
            "ND-01", "ND-02", "ND-03", "ND-04", "ND-05", "AA-01", "AA-02", "AA-03",
        ] {
            assert!(
                !of(&findings, rule).is_empty(),
                "{rule} leaves no evidence: {findings:#?}"
            );
        }
        assert_eq!(Outcome::from_findings(findings).status, Status::Pass);
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
        assert_eq!(nd04[0].message, format!("node w-a lacks {ZONE}"));
        assert_eq!(nd04[1].object.as_deref(), Some("node/w-b"));
        assert!(
            nd04[1].message.contains("only the deprecated"),
            "{}",
            nd04[1].message
        );
        assert_eq!(
            Outcome::from_findings(findings).status,
            Status::Fail,
            "ND-04 is a MUST"
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
    fn nd01_single_control_plane_fails_and_aa01_aa02_warn() {
        let nodes = vec![
            placed("cp", "cp", "az1", "h1"),
            placed("w", "worker", "az2", "h2"),
        ];
        let findings = run(nodes);
        let nd01 = at(&findings, "ND-01", Severity::Error);
        assert_eq!(nd01.len(), 1);
        assert_eq!(nd01[0].0, "node/cp");
        assert!(nd01[0].1.contains("only one control-plane node (cp)"));
        let aa01 = of(&findings, "AA-01");
        assert_eq!(aa01.len(), 1, "{aa01:#?}");
        assert_eq!(aa01[0].0, Severity::Warn);
        assert!(
            aa01[0].1.starts_with("only 1 control-plane instance (cp)"),
            "{}",
            aa01[0].1
        );
        assert_eq!(
            at(&findings, "AA-02", Severity::Warn),
            vec![(
                "node/cp".to_owned(),
                "the single control-plane instance cp runs on one host".to_owned()
            )]
        );
        assert_eq!(
            at(&findings, "ND-02", Severity::Warn)[0].1,
            "the single control-plane node cp cannot span failure zones"
        );
    }

    #[test]
    fn nd01_control_plane_on_one_host_fails_and_aa02_warns() {
        let nodes = vec![
            placed("cp-a", "cp", "az1", "vm0"),
            placed("cp-b", "cp", "az1", "vm0"),
            placed("cp-c", "cp", "az1", "vm0"),
        ];
        let findings = run(nodes);
        let expected =
            "all 3 control-plane nodes (cp-a, cp-b, cp-c) run on the same physical host vm0";
        assert_eq!(
            of(&findings, "ND-01"),
            vec![(Severity::Error, expected.to_owned())]
        );
        assert_eq!(
            of(&findings, "AA-02"),
            vec![(Severity::Warn, expected.to_owned())]
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
        let findings = run(nodes);
        let nd01 = of(&findings, "ND-01");
        assert_eq!(nd01[0].0, Severity::Error);
        assert_eq!(
            nd01[0].1,
            "all 2 control-plane nodes (a, b) report the same kubernetes.io/hostname x"
        );
        assert_eq!(of(&findings, "AA-02")[0].0, Severity::Warn);
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
        let aa02 = of(&findings, "AA-02");
        assert_eq!(aa02[0].0, Severity::Info);
        assert!(aa02[0].1.ends_with("(MANUAL)"), "{}", aa02[0].1);
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
        assert_eq!(
            of(&findings, "AA-02"),
            vec![(
                Severity::Info,
                "3 control-plane nodes (cp-a, cp-b, cp-c) spread over 1 zone(s) and 3 known host(s)"
                    .to_owned()
            )]
        );
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
        let findings = judge(&observed(nodes.clone()), &settings);
        assert_eq!(of(&findings, "ND-01")[0].0, Severity::Error);
        // With the default label the same nodes only lack evidence.
        assert_eq!(of(&run(nodes), "ND-01")[0].0, Severity::Info);
    }

    #[test]
    fn aa01_counts_instances() {
        let two = vec![
            placed("cp-a", "cp", "az1", "h1"),
            placed("cp-b", "cp", "az2", "h2"),
        ];
        let aa01 = of(&run(two), "AA-01");
        assert_eq!(aa01.len(), 1);
        assert_eq!(aa01[0].0, Severity::Info);
        assert!(aa01[0].1.contains("an odd count"), "{}", aa01[0].1);
        assert_eq!(
            of(&run(compliant()), "AA-01"),
            vec![(
                Severity::Info,
                "3 control-plane instances (cp-a, cp-b, cp-c)".to_owned()
            )]
        );
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
    fn nd03_unlabelled_workers_are_named_not_counted_as_a_zone() {
        let mut nodes = compliant();
        nodes[4].labels.remove(ZONE);
        let nd03 = of(&run(nodes), "ND-03");
        assert_eq!(
            nd03,
            vec![(
                Severity::Warn,
                "the 2 worker nodes (w-a, w-b) span one zone at most: az1, and w-b without a zone label"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn aa03_one_finding_per_worker_without_host_id() {
        let mut nodes = compliant();
        nodes[3].labels.remove(DEFAULT_HOST_ID_LABEL);
        nodes[4].labels.remove(DEFAULT_HOST_ID_LABEL);
        let findings = run(nodes);
        let aa03 = at(&findings, "AA-03", Severity::Warn);
        assert_eq!(
            aa03,
            vec![
                (
                    "node/w-a".to_owned(),
                    "worker node w-a carries no host-identifying label (topology.scs.community/host-id)"
                        .to_owned()
                ),
                (
                    "node/w-b".to_owned(),
                    "worker node w-b carries no host-identifying label (topology.scs.community/host-id)"
                        .to_owned()
                ),
            ]
        );
        // The control-plane nodes are not judged by AA-03.
        assert!(aa03.iter().all(|(o, _)| !o.contains("cp-")));
        // Workers in two zones are spread anyway.
        assert!(
            at(&findings, "AA-03", Severity::Info)
                .iter()
                .any(|(_, m)| m == "2 worker nodes spread over 2 zone(s) and 0 known host(s)")
        );
    }

    #[test]
    fn aa03_workers_on_one_host_warn() {
        let nodes = vec![
            placed("cp-a", "cp", "az1", "h1"),
            placed("cp-b", "cp", "az2", "h2"),
            placed("cp-c", "cp", "az3", "h3"),
            placed("w-a", "worker", "az1", "hv9"),
            placed("w-b", "worker", "az1", "hv9"),
        ];
        let findings = run(nodes);
        assert_eq!(
            of(&findings, "AA-03"),
            vec![
                (
                    Severity::Info,
                    "all 2 worker nodes carry a host-identifying label".to_owned()
                ),
                (
                    Severity::Warn,
                    "all 2 worker nodes (w-a, w-b) run on the same physical host hv9".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn aa03_workers_with_one_hostname_or_alone_warn() {
        let mut nodes = vec![
            placed("cp-a", "cp", "az1", "h1"),
            node("w-a", &[(ZONE, "z"), (REGION, "r"), (HOSTNAME, "shared")]),
            node("w-b", &[(ZONE, "z"), (REGION, "r"), (HOSTNAME, "shared")]),
        ];
        let findings = run(nodes.clone());
        assert!(
            at(&findings, "AA-03", Severity::Warn).iter().any(|(_, m)| m
                == "all 2 worker nodes (w-a, w-b) report the same kubernetes.io/hostname shared"),
            "{findings:#?}"
        );
        nodes.pop();
        let findings = run(nodes);
        assert!(
            at(&findings, "AA-03", Severity::Warn).contains(&(
                "node/w-a".to_owned(),
                "only one worker node (w-a): workloads cannot spread over hosts".to_owned()
            )),
            "{findings:#?}"
        );
    }

    #[test]
    fn aa03_distinct_vms_without_evidence_are_not_a_warning_of_their_own() {
        let nodes = vec![
            placed("cp-a", "cp", "az1", "h1"),
            node("w-a", &[(ZONE, "z"), (REGION, "r"), (HOSTNAME, "w-a")]),
            node("w-b", &[(ZONE, "z"), (REGION, "r"), (HOSTNAME, "w-b")]),
        ];
        let findings = run(nodes);
        let aa03 = of(&findings, "AA-03");
        // Two per-node label warnings and an INFO on the spread.
        assert_eq!(aa03.len(), 3, "{aa03:#?}");
        assert_eq!(
            aa03[2],
            (
                Severity::Info,
                "2 worker nodes are distinct machines in one zone; their physical hosts are not visible"
                    .to_owned()
            )
        );
    }

    #[test]
    fn nd05_one_host_id_in_several_zones_warns() {
        let mut nodes = compliant();
        // w-b (zone az2) claims host h1, which cp-a and w-a place in az1.
        nodes[4]
            .labels
            .insert(DEFAULT_HOST_ID_LABEL.to_owned(), "h1".to_owned());
        let findings = run(nodes);
        let warned = at(&findings, "ND-05", Severity::Warn);
        assert_eq!(warned.len(), 1, "{findings:#?}");
        assert!(
            warned[0].1.contains("host id h1")
                && warned[0].1.contains("az1, az2")
                && warned[0].1.contains("w-b"),
            "{warned:?}"
        );
        let summary = at(&findings, "ND-05", Severity::Info);
        assert!(
            summary.iter().all(|(_, m)| !m.contains("no disagreement")),
            "{summary:?}"
        );
        // The compliant cluster (one zone per host id) has no such warning.
        assert!(at(&run(compliant()), "ND-05", Severity::Warn).is_empty());
    }

    #[test]
    fn control_plane_node_without_host_id_is_named() {
        let mut nodes = compliant();
        nodes[2].labels.remove(DEFAULT_HOST_ID_LABEL);
        let findings = run(nodes);
        let warned = at(&findings, "AA-02", Severity::Warn);
        assert_eq!(warned.len(), 1, "{findings:#?}");
        assert_eq!(warned[0].0, "node/cp-c");
        assert!(
            warned[0].1.contains("no host-identifying label"),
            "{warned:?}"
        );
    }

    fn cinder(keys: &[&str]) -> Vec<CsiTopology> {
        vec![CsiTopology {
            driver: "cinder.csi.openstack.org".to_owned(),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        }]
    }

    #[test]
    fn nd05_csi_topology_disagreeing_warns_per_node() {
        let mut nodes = compliant();
        for n in &mut nodes {
            let zone = n.labels[ZONE].clone();
            n.labels.insert(CINDER_ZONE.to_owned(), zone);
        }
        nodes[3]
            .labels
            .insert(CINDER_ZONE.to_owned(), "az9".to_owned());
        let mut obs = observed(nodes);
        for n in &obs.nodes {
            obs.csi_topology
                .insert(n.name.clone(), cinder(&[CINDER_ZONE]));
        }
        let findings = judge(&obs, &Settings::default());
        assert_eq!(
            at(&findings, "ND-05", Severity::Warn),
            vec![(
                "node/w-a".to_owned(),
                format!(
                    "node w-a has {ZONE}=az1 but CSI driver cinder.csi.openstack.org places it in {CINDER_ZONE}=az9"
                )
            )]
        );
        let summary = at(&findings, "ND-05", Severity::Info);
        assert!(
            summary[0].1.starts_with(
                "the zone label was compared with the CSI topology (cinder.csi.openstack.org) on 5 node(s); 1 node(s) disagree"
            ),
            "{summary:#?}"
        );
    }

    #[test]
    fn nd05_agreeing_csi_topology_passes_and_missing_label_is_noted() {
        let mut nodes = compliant();
        for n in &mut nodes {
            let zone = n.labels[ZONE].clone();
            n.labels.insert(CINDER_ZONE.to_owned(), zone);
        }
        nodes[4].labels.remove(CINDER_ZONE);
        let mut obs = observed(nodes);
        for n in &obs.nodes {
            obs.csi_topology
                .insert(n.name.clone(), cinder(&[CINDER_ZONE, ZONE]));
        }
        let findings = judge(&obs, &Settings::default());
        assert!(at(&findings, "ND-05", Severity::Warn).is_empty());
        let info = at(&findings, "ND-05", Severity::Info);
        assert_eq!(info.len(), 2, "{info:#?}");
        assert_eq!(info[0].0, "node/w-b");
        assert!(info[0].1.contains("has no such label"), "{}", info[0].1);
        assert!(info[1].1.contains("no disagreement"), "{}", info[1].1);
        assert!(info[1].1.contains("not compared"), "{}", info[1].1);
    }

    #[test]
    fn nd05_other_zone_labels_are_compared_without_csi_nodes() {
        let mut nodes = compliant();
        nodes[3]
            .labels
            .insert(CINDER_ZONE.to_owned(), "az9".to_owned());
        nodes[4]
            .labels
            .insert(CINDER_ZONE.to_owned(), "az2".to_owned());
        nodes[1]
            .labels
            .insert(DEPRECATED_ZONE.to_owned(), "az7".to_owned());
        let findings = run(nodes);
        let warns = at(&findings, "ND-05", Severity::Warn);
        let objects: Vec<&str> = warns.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(objects, ["node/cp-b", "node/w-a"], "{warns:#?}");
        assert!(
            at(&findings, "ND-05", Severity::Info)[0]
                .1
                .starts_with("no CSI driver publishes a zone topology key")
        );
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
                    ..Observed::default()
                },
                &Settings::default(),
            )
        };
        let one = judge_with(Some(vec![Some("m1".to_owned())]));
        assert_eq!(of(&one, "ND-01")[0].0, Severity::Error);
        assert_eq!(of(&one, "AA-01")[0].0, Severity::Warn);
        assert_eq!(of(&one, "AA-02")[0].0, Severity::Warn);
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
        assert_eq!(of(&three, "AA-01")[0].0, Severity::Info);
        let same = judge_with(Some(vec![Some("m1".to_owned()), Some("m1".to_owned())]));
        assert_eq!(of(&same, "ND-01")[0].0, Severity::Error);
        assert_eq!(of(&same, "AA-02")[0].0, Severity::Warn);
        let none = judge_with(Some(vec![]));
        assert!(
            of(&none, "ND-01")[0]
                .1
                .contains("control plane not visible")
        );
        assert_eq!(of(&none, "ND-02")[0].0, Severity::Info);
        assert_eq!(of(&none, "AA-01")[0].0, Severity::Info);
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

    #[test]
    fn zone_like_keys() {
        assert!(zone_like(CINDER_ZONE));
        assert!(zone_like("topology.ebs.csi.aws.com/zone"));
        assert!(zone_like("example.com/availability-zone"));
        assert!(!zone_like("topology.kubernetes.io/region"));
        assert!(!zone_like("example.com/zoned-out"));
    }
}
