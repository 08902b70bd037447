#![doc = include_str!("node_distribution.md")]
//!
//! The judge is the pure function [`judge::judge`], table-tested there; [`gather`] does the I/O.

pub mod judge;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::storage::v1::CSINode;
use kube::Api;
use kube::api::ListParams;
use scs_kaas_core::finding::Outcome;

use super::paged;
use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};

pub use judge::judge;

/// The check id (SCS testcase id).
pub const ID: &str = "node-distribution-check";
/// The zone label every node must carry (ND-04).
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// The region label every node must carry (ND-04).
pub const REGION: &str = "topology.kubernetes.io/region";
/// The kubelet's hostname label: identifies the VM, not the physical host.
pub const HOSTNAME: &str = "kubernetes.io/hostname";
/// The deprecated zone label (does not satisfy ND-04).
pub const DEPRECATED_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
/// The deprecated region label (does not satisfy ND-04).
pub const DEPRECATED_REGION: &str = "failure-domain.beta.kubernetes.io/region";
/// Labels that make a node a control-plane node.
pub const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];
/// Label selecting the kube-apiserver identity Leases (one per running apiserver).
const APISERVER_LEASE_SELECTOR: &str = "apiserver.kubernetes.io/identity=kube-apiserver";
/// The `-a` assignment naming host-identifying labels (comma-separated).
pub const HOST_ID_LABELS_ARG: &str = "host_id_labels";
/// Default host-identifying label (historical SCS label, hypervisor host id).
pub const DEFAULT_HOST_ID_LABEL: &str = "topology.scs.community/host-id";

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

/// The topology keys one CSI driver publishes for one node (CSINode `spec.drivers[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiTopology {
    /// Driver name, e.g. `cinder.csi.openstack.org`.
    pub driver: String,
    /// Node label keys the driver's topology lives in.
    pub keys: Vec<String>,
}

/// What was gathered from the cluster.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every node the user can see.
    pub nodes: Vec<NodeFacts>,
    /// Hostnames of kube-apiserver identity Leases (`None` entries: lease without hostname
    /// label); `None` when not looked up (control-plane nodes are visible).
    pub apiserver_leases: Option<Vec<Option<String>>>,
    /// CSI drivers with topology keys, by node name (from CSINodes); nodes without any are absent.
    pub csi_topology: BTreeMap<String, Vec<CsiTopology>>,
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
    /// A label's value; empty values count as absent.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether the node carries a control-plane role label.
    pub fn is_control_plane(&self) -> bool {
        CONTROL_PLANE_LABELS
            .iter()
            .any(|l| self.labels.contains_key(*l))
    }

    /// The node's physical host: the first configured host-identifying label it carries.
    pub fn host_id(&self, settings: &Settings) -> Option<&str> {
        settings.host_id_labels.iter().find_map(|l| self.label(l))
    }

    fn object(&self) -> String {
        format!("node/{}", self.name)
    }
}

fn list_error(what: &str, group: &str, resource: &str, err: &kube::Error) -> String {
    paged::describe_error(what, "list", group, resource, err)
}

/// Gather nodes page by page (only names and labels are kept), the CSI drivers' topology keys,
/// and apiserver Leases when no control-plane node is visible. Returns the facts and the number
/// of LIST requests.
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
    .map_err(|err| list_error("list nodes", "", "nodes", &err))?;
    let csi_nodes: Api<CSINode> = Api::all(client.clone());
    let mut csi_topology = BTreeMap::new();
    requests += paged::for_each(&csi_nodes, ListParams::default(), |csi: CSINode| {
        let drivers: Vec<CsiTopology> = csi
            .spec
            .drivers
            .into_iter()
            .filter_map(|d| {
                let keys = d.topology_keys.unwrap_or_default();
                (!keys.is_empty()).then_some(CsiTopology {
                    driver: d.name,
                    keys,
                })
            })
            .collect();
        if !drivers.is_empty() {
            csi_topology.insert(csi.metadata.name.unwrap_or_default(), drivers);
        }
    })
    .await
    .map_err(|err| list_error("list CSINodes", "storage.k8s.io", "csinodes", &err))?;
    let mut observed = Observed {
        nodes,
        apiserver_leases: None,
        csi_topology,
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
            list_error(
                "list Leases in kube-system",
                "coordination.k8s.io",
                "leases",
                &err,
            )
        })?;
        observed.apiserver_leases = Some(hosts);
    }
    Ok((observed, requests))
}

const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "ND-01",
        severity: "FAIL|INFO",
        summary: "MUST: the control plane runs on more than one physical machine. FAIL for a \
                  single instance or when all instances share one host id or one hostname; \
                  passes with two zones or two host ids; otherwise INFO: not visible, the \
                  provider confirms (scs-0214-w1)",
    },
    RuleDoc {
        id: "ND-02",
        severity: "WARN",
        summary: "SHOULD: control-plane nodes in at least two failure zones (WARN otherwise; \
                  not applicable to a hidden control plane)",
    },
    RuleDoc {
        id: "ND-03",
        severity: "WARN",
        summary: "RECOMMENDED: worker nodes in at least two zones (WARN otherwise)",
    },
    RuleDoc {
        id: "ND-04",
        severity: "FAIL|WARN",
        summary: "MUST: every node carries non-empty topology.kubernetes.io/zone and \
                  topology.kubernetes.io/region (FAIL per node; the deprecated \
                  failure-domain.beta labels alone do not count); a missing \
                  kubernetes.io/hostname or a zone under two regions: WARN",
    },
    RuleDoc {
        id: "ND-05",
        severity: "WARN",
        summary: "MUST, judged from label evidence only, so WARN: the zone label agrees with \
                  the zone CSI drivers see (CSINode topology keys), \
                  other */zone labels and the deprecated zone label (WARN per node), and one \
                  host id is not in several zones (WARN per host id); Machine \
                  failure domains and the IaaS placement are not compared",
    },
    RuleDoc {
        id: "AA-01",
        severity: "WARN|INFO",
        summary: "scs-0213 (draft): at least two control-plane instances (WARN below two; INFO \
                  for an even count, an odd one keeps etcd quorum)",
    },
    RuleDoc {
        id: "AA-02",
        severity: "WARN|INFO",
        summary: "scs-0213 (draft): the control-plane instances on at least two physical \
                  hosts, judged from the same evidence as ND-01 (WARN where ND-01 fails, INFO \
                  where it cannot tell); WARN per control-plane node without a host-identifying \
                  label when others carry one",
    },
    RuleDoc {
        id: "AA-03",
        severity: "WARN",
        summary: "scs-0213 (draft): every worker carries a host-identifying label (WARN per \
                  worker without one) and the workers spread over more than one host (WARN)",
    },
];

const ASSIGNMENTS: &[AssignmentDoc] = &[AssignmentDoc {
    key: HOST_ID_LABELS_ARG,
    default: "topology.scs.community/host-id",
    accepted: "LABEL[,LABEL…]",
    help: "node labels whose value names the physical host (first match wins)",
}];

impl Check for NodeDistributionCheck {
    fn id(&self) -> &'static str {
        ID
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
            Access::read("list", "storage.k8s.io", "csinodes"),
            Access::read("list", "coordination.k8s.io", "leases"),
        ]
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn details(&self) -> &'static str {
        include_str!("node_distribution.md")
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
