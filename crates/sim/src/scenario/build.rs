//! Turns a checked scenario into Kubernetes JSON objects, users and controllers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::*;
use super::validate::BUILTIN_NAMESPACES;
use super::workloads;
use crate::controllers::{self, object::stable_hash};
use crate::world::{AddedFinalizer, ObjectSource, Permission, Rule, SimConfig, User};

/// Token of the default `admin` user (documented in docs/scenario-format.md).
pub const DEFAULT_ADMIN_TOKEN: &str = "scs-kaas-sim-admin-token";
/// Token of the default `viewer` user (documented in docs/scenario-format.md).
pub const DEFAULT_VIEWER_TOKEN: &str = "scs-kaas-sim-viewer-token";

/// A stable uid for an object, so that owner references in the scenario line up.
pub fn uid(kind: &str, namespace: &str, name: &str) -> String {
    let seed = format!("{kind}/{namespace}/{name}");
    let a = stable_hash(&seed);
    let b = stable_hash(&format!("{seed}#uid"));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// Everything the server starts from. The objects are not built here: the config's
/// [`source`](SimConfig::source) makes them (see [`objects`]) while the server stores them.
pub fn config(s: &Scenario) -> SimConfig {
    let behaviours: BTreeMap<String, Behaviour> = s
        .storage_classes
        .iter()
        .map(|c| (c.name.clone(), c.behaviour))
        .collect();
    let connect = controllers::connect::Rules {
        enforce_network_policies: s.network.network_policy == NetworkPolicyMode::Enforced,
        block_api_from_pods: s.network.api_from_pods == ApiFromPods::Blocked,
    };
    let mut controllers = controllers::all(behaviours, connect);
    // Before the kubelet, so an image that cannot be pulled is never started.
    let kubelet = controllers
        .iter()
        .position(|c| c.name() == "kubelet")
        .unwrap_or(controllers.len());
    controllers.insert(
        kubelet,
        Box::new(controllers::conformance::ConformanceImage::new(
            e2e_behaviour(s),
            &s.kubernetes.version,
        )),
    );
    controllers.push(Box::new(
        controllers::loadbalancer::LoadBalancerController::new(s.network.clone()),
    ));
    SimConfig {
        name: s.name.clone(),
        git_version: s.kubernetes.version.clone(),
        users: users(s),
        objects: Vec::new(),
        source: Some(Box::new(Objects(s.clone()))),
        controllers,
        added_finalizers: s
            .unreleased_finalizers
            .iter()
            .flat_map(|u| {
                u.kinds.iter().map(|kind| AddedFinalizer {
                    kind: kind.clone(),
                    finalizer: u.finalizer.clone(),
                })
            })
            .collect(),
    }
}

/// What runs of the conformance image do (a checked scenario's `e2e` block, or the defaults).
fn e2e_behaviour(s: &Scenario) -> controllers::conformance::Behaviour {
    let mut behaviour = controllers::conformance::Behaviour::default();
    if let Some(e2e) = &s.e2e {
        behaviour.outcome = e2e.outcome;
        behaviour.failures = e2e.failures.clone();
        if let Some(d) = e2e
            .duration
            .as_deref()
            .and_then(|d| super::validate::e2e_duration(d).ok())
        {
            behaviour.duration = d;
        }
    }
    behaviour
}

/// A scenario as the source of the server's initial objects.
struct Objects(Scenario);

impl ObjectSource for Objects {
    fn emit(&self, out: &mut dyn FnMut(Value)) {
        objects(&self.0, out);
    }
}

/// Makes every object of the scenario, one at a time: namespaces, nodes, storage classes, CSI
/// drivers, IngressClasses, CSINodes, OpenStackClusters, the kubeadm ConfigMap, then the
/// workloads.
pub fn objects(s: &Scenario, out: &mut dyn FnMut(Value)) {
    let now = jiff::Timestamp::now().to_string();
    namespaces(s, out);
    let mut nodes = Vec::with_capacity(s.nodes.len());
    for (i, n) in s.nodes.iter().enumerate() {
        let node = node(s, i, n);
        nodes.push(workloads::PlacedNode::of(&node));
        out(node);
    }
    for class in &s.storage_classes {
        out(storage_class(class));
    }
    for driver in &s.csi_drivers {
        out(csi_driver(driver));
    }
    for class in &s.network.ingress_classes {
        out(ingress_class(class));
    }
    csi_nodes(s, out);
    for cluster in &s.openstack_clusters {
        out(openstack_cluster(cluster));
    }
    if let Some(kubeadm) = &s.kubeadm {
        out(kubeadm_config(s, kubeadm));
    }
    workloads::expand(s, &nodes, &now, out);
}

fn namespaces(s: &Scenario, out: &mut dyn FnMut(Value)) {
    let builtin = BUILTIN_NAMESPACES
        .iter()
        .filter(|b| !s.namespaces.iter().any(|n| n.name == **b))
        .map(|b| NamespaceSpec {
            name: (*b).to_string(),
            labels: BTreeMap::new(),
        });
    for ns in builtin.chain(s.namespaces.iter().cloned()) {
        let mut labels = ns.labels.clone();
        labels.insert("kubernetes.io/metadata.name".into(), ns.name.clone());
        out(json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns.name, "uid": uid("Namespace", "", &ns.name), "labels": labels},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }));
    }
}

fn node(s: &Scenario, index: usize, n: &NodeSpec) -> Value {
    let hostname = n.hostname.clone().unwrap_or_else(|| n.name.clone());
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("kubernetes.io/hostname", hostname.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
    ] {
        labels.insert(k.into(), v.into());
    }
    if let Some(zone) = &n.zone {
        labels.insert("topology.kubernetes.io/zone".into(), zone.clone());
    }
    if let Some(region) = &n.region {
        labels.insert("topology.kubernetes.io/region".into(), region.clone());
    }
    let roles = if n.roles.is_empty() {
        vec![Role::Worker]
    } else {
        n.roles.clone()
    };
    for role in &roles {
        let key = match role {
            Role::ControlPlane => "node-role.kubernetes.io/control-plane",
            Role::Worker => "node-role.kubernetes.io/worker",
        };
        labels.insert(key.into(), String::new());
    }
    for key in s.csi_drivers.iter().flat_map(|d| &d.topology_keys) {
        if let Some(value) = topology_value(key, n) {
            labels.insert(key.clone(), value);
        }
    }
    labels.extend(n.labels.clone());
    let taints: Vec<Value> = match &n.taints {
        Some(taints) => taints
            .iter()
            .map(|t| {
                let mut taint = json!({"key": t.key, "effect": t.effect});
                if let Some(value) = &t.value {
                    taint["value"] = json!(value);
                }
                taint
            })
            .collect(),
        None if roles.contains(&Role::ControlPlane) => {
            vec![json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})]
        }
        None => Vec::new(),
    };
    let mut spec =
        json!({"podCIDR": format!("10.{}.{}.0/24", 64 + index / 65536 % 64, index / 256 % 256)});
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    if n.unschedulable {
        spec["unschedulable"] = json!(true);
    }
    let ip = n
        .internal_ip
        .clone()
        .unwrap_or_else(|| format!("10.0.{}.{}", index / 250 % 256, index % 250 + 4));
    let resources = n.allocatable.clone().unwrap_or_default();
    let resources = json!({
        "cpu": resources.cpu, "memory": resources.memory, "pods": resources.pods,
        "ephemeral-storage": "100Gi",
    });
    let kubelet = n
        .kubelet_version
        .clone()
        .unwrap_or_else(|| s.kubernetes.version.clone());
    let heartbeat = "2026-01-01T00:00:00Z";
    let pressure = |kind: &str, reason: &str| {
        json!({"type": kind, "status": "False", "reason": reason, "message": "kubelet reports no pressure",
               "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat})
    };
    let ready = if n.ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
               "message": "kubelet is posting ready status",
               "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat})
    } else {
        json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
               "message": "Kubelet stopped posting node status.",
               "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat})
    };
    let machine = format!(
        "{:016x}{:016x}",
        stable_hash(&n.name),
        stable_hash(&hostname)
    );
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": n.name, "uid": uid("Node", "", &n.name), "labels": labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "capacity": resources.clone(),
            "allocatable": resources,
            "conditions": [
                pressure("MemoryPressure", "KubeletHasSufficientMemory"),
                pressure("DiskPressure", "KubeletHasNoDiskPressure"),
                pressure("PIDPressure", "KubeletHasSufficientPID"),
                ready,
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": hostname}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine, "systemUUID": uid("Node", "system", &n.name), "bootID": uid("Node", "boot", &n.name),
                "kernelVersion": "6.8.0-79-generic", "osImage": "Ubuntu 24.04.3 LTS",
                "containerRuntimeVersion": "containerd://2.1.4",
                "kubeletVersion": kubelet.clone(), "kubeProxyVersion": kubelet,
                "operatingSystem": "linux", "architecture": "amd64",
            },
        },
    })
}

fn storage_class(c: &StorageClassSpec) -> Value {
    let mut annotations = serde_json::Map::new();
    if c.default {
        annotations.insert(
            "storageclass.kubernetes.io/is-default-class".into(),
            json!("true"),
        );
    }
    if c.legacy_default {
        annotations.insert(
            "storageclass.beta.kubernetes.io/is-default-class".into(),
            json!("true"),
        );
    }
    let mut class = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": c.name, "uid": uid("StorageClass", "", &c.name), "annotations": annotations},
        "provisioner": c.provisioner,
        "reclaimPolicy": c.reclaim_policy,
        "volumeBindingMode": c.volume_binding_mode,
    });
    if !c.parameters.is_empty() {
        class["parameters"] = json!(c.parameters);
    }
    if let Some(expand) = c.allow_volume_expansion {
        class["allowVolumeExpansion"] = json!(expand);
    }
    class
}

fn csi_driver(d: &CsiDriverSpec) -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": {"name": d.name, "uid": uid("CSIDriver", "", &d.name)},
        "spec": {
            "attachRequired": d.attach_required,
            "podInfoOnMount": false,
            "volumeLifecycleModes": d.volume_lifecycle_modes,
            "fsGroupPolicy": "ReadWriteOnceWithFSType",
            "requiresRepublish": false,
            "storageCapacity": false,
            "seLinuxMount": false,
        },
    })
}

fn ingress_class(c: &IngressClassSpec) -> Value {
    let mut class = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": c.name, "uid": uid("IngressClass", "", &c.name)},
        "spec": {"controller": c.controller},
    });
    if c.default {
        class["metadata"]["annotations"] =
            json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    }
    class
}

/// The node label value a CSI node plugin publishes for a topology key.
fn topology_value(key: &str, n: &NodeSpec) -> Option<String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    if name.ends_with("zone") {
        n.zone.clone()
    } else if name.ends_with("region") {
        n.region.clone()
    } else {
        Some(n.name.clone())
    }
}

/// One CSINode per node listing the drivers that publish topology keys (as the kubelet
/// registers node plugins); none when no driver has topology keys.
fn csi_nodes(s: &Scenario, out: &mut dyn FnMut(Value)) {
    let drivers: Vec<&CsiDriverSpec> = s
        .csi_drivers
        .iter()
        .filter(|d| !d.topology_keys.is_empty())
        .collect();
    if drivers.is_empty() {
        return;
    }
    for n in &s.nodes {
        let entries: Vec<Value> = drivers
            .iter()
            .map(|d| json!({"name": d.name, "nodeID": n.name, "topologyKeys": d.topology_keys}))
            .collect();
        out(json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSINode",
            "metadata": {"name": n.name, "uid": uid("CSINode", "", &n.name)},
            "spec": {"drivers": entries},
        }));
    }
}

fn openstack_cluster(c: &OpenStackClusterSpec) -> Value {
    let mut cluster = json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "OpenStackCluster",
        "metadata": {"name": c.name, "namespace": c.namespace,
                     "uid": uid("OpenStackCluster", &c.namespace, &c.name),
                     "labels": {"cluster.x-k8s.io/cluster-name": c.name}},
        "spec": {},
        "status": {"ready": true},
    });
    if let Some(lb) = &c.api_server_load_balancer {
        let mut spec = json!({"enabled": lb.enabled});
        if !lb.allowed_cidrs.is_empty() {
            spec["allowedCIDRs"] = json!(lb.allowed_cidrs);
        }
        if let Some(provider) = &lb.provider {
            spec["provider"] = json!(provider);
        }
        cluster["spec"]["apiServerLoadBalancer"] = spec;
        if lb.enabled {
            let applied = lb.applied_cidrs.as_ref().unwrap_or(&lb.allowed_cidrs);
            cluster["status"]["apiServerLoadBalancer"] = json!({
                "name": format!("k8s-clusterapi-cluster-{}-{}-kubeapi", c.namespace, c.name),
                "allowedCIDRs": applied,
            });
        }
    }
    cluster
}

fn kubeadm_config(s: &Scenario, k: &KubeadmSpec) -> Value {
    let cluster_configuration = format!(
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nclusterName: {}\n\
         kubernetesVersion: {}\nimageRepository: {}\ncertificatesDir: /etc/kubernetes/pki\n\
         networking:\n  dnsDomain: cluster.local\n  podSubnet: 10.64.0.0/10\n  serviceSubnet: 10.96.0.0/12\n",
        s.name, s.kubernetes.version, k.image_repository
    );
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system",
                     "uid": uid("ConfigMap", "kube-system", "kubeadm-config")},
        "data": {"ClusterConfiguration": cluster_configuration},
    })
}

fn users(s: &Scenario) -> Vec<User> {
    let Some(users) = &s.users else {
        return vec![
            User {
                name: "admin".into(),
                token: DEFAULT_ADMIN_TOKEN.into(),
                permission: Permission::Admin,
            },
            User {
                name: "viewer".into(),
                token: DEFAULT_VIEWER_TOKEN.into(),
                permission: Permission::ReadOnly,
            },
        ];
    };
    users
        .iter()
        .map(|u| User {
            name: u.name.clone(),
            token: u.token.clone(),
            permission: match u.permission {
                PermissionKind::Admin => Permission::Admin,
                PermissionKind::ReadOnly => Permission::ReadOnly,
                PermissionKind::Rules => Permission::Rules(
                    u.rules
                        .iter()
                        .map(|r| Rule {
                            verbs: r.verbs.clone(),
                            groups: r.groups.clone(),
                            resources: r.resources.clone(),
                            namespaces: r.namespaces.clone(),
                        })
                        .collect(),
                ),
            },
        })
        .collect()
}
