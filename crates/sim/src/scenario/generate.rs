//! Generates large, valid scenarios (`scs-kaas sim generate`) for benchmarks: nodes spread over
//! three zones, workloads spread over namespaces, deterministic for a given seed.

use super::model::*;

/// Why a scenario cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Pods were asked for but there is no node to run them.
    #[error("--pods {0} needs at least one node; pass --nodes 1 or more")]
    NoNodes(usize),
    /// More nodes or pods than a scenario may have.
    #[error("--{what} {asked} is more than the simulator's limit of {limit}; pass at most {limit}")]
    TooMany {
        /// `nodes` or `pods`.
        what: &'static str,
        /// What was asked for.
        asked: usize,
        /// The limit (see `scenario::limits`).
        limit: usize,
    },
}

/// splitmix64: tiny, fast and stable across crate versions (the same seed gives the same file).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
const IMAGES: &[&str] = &[
    "registry.k8s.io/pause:3.10",
    "registry.k8s.io/e2e-test-images/agnhost:2.53",
    "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
    "registry.k8s.io/e2e-test-images/nginx:1.15-4",
];
/// Pods per generated namespace (roughly).
const PODS_PER_NAMESPACE: usize = 1000;

/// A compliant-looking cluster with `nodes` nodes (three of them control plane when there are at
/// least four) and exactly `pods` pods in Deployments.
pub fn generate(nodes: usize, pods: usize, seed: u64) -> Result<Scenario, GenerateError> {
    if pods > 0 && nodes == 0 {
        return Err(GenerateError::NoNodes(pods));
    }
    for (what, asked, limit) in [
        ("nodes", nodes, super::limits::MAX_NODES),
        ("pods", pods, super::limits::MAX_PODS),
    ] {
        if asked > limit {
            return Err(GenerateError::TooMany { what, asked, limit });
        }
    }
    let mut rng = Rng(seed);
    let control_planes = if nodes >= 4 { 3 } else { 0 };
    let node_specs = (0..nodes)
        .map(|i| {
            let control = i < control_planes;
            NodeSpec {
                name: if control {
                    format!("control-plane-{i}")
                } else {
                    format!("worker-{:05}", i - control_planes)
                },
                roles: vec![if control {
                    Role::ControlPlane
                } else {
                    Role::Worker
                }],
                zone: Some(ZONES[i % ZONES.len()].to_string()),
                region: Some("region-1".to_string()),
                hostname: None,
                labels: Default::default(),
                ready: true,
                unschedulable: false,
                taints: None,
                kubelet_version: None,
                allocatable: None,
                internal_ip: None,
            }
        })
        .collect();
    let namespace_count = pods.div_ceil(PODS_PER_NAMESPACE);
    let namespaces: Vec<NamespaceSpec> = (0..namespace_count)
        .map(|i| NamespaceSpec {
            name: format!("team-{i:03}"),
            labels: Default::default(),
        })
        .collect();
    let mut workloads = Vec::new();
    let mut left = pods;
    let mut index = 0;
    while left > 0 {
        let replicas = (1 + rng.below(20) as usize).min(left);
        let namespace = namespaces[(pods - left) / PODS_PER_NAMESPACE].name.clone();
        let image = IMAGES[rng.below(IMAGES.len() as u64) as usize];
        workloads.push(WorkloadSpec {
            kind: WorkloadKind::Deployment,
            name: format!("app-{index:05}"),
            namespace,
            replicas: Some(replicas as u32),
            labels: Default::default(),
            containers: vec![ContainerSpec {
                name: "main".into(),
                image: image.into(),
            }],
            init_containers: Vec::new(),
            node: None,
            phase: None,
            schedule: None,
        });
        left -= replicas;
        index += 1;
    }
    Ok(Scenario {
        name: format!("generated-{nodes}-nodes-{pods}-pods"),
        kubernetes: KubernetesSpec {
            version: "v1.35.8".into(),
        },
        kubeadm: Some(KubeadmSpec {
            image_repository: "registry.k8s.io".into(),
        }),
        nodes: node_specs,
        storage_classes: vec![StorageClassSpec {
            name: "network".into(),
            provisioner: "cinder.csi.openstack.org".into(),
            default: true,
            legacy_default: false,
            volume_binding_mode: VolumeBindingMode::WaitForFirstConsumer,
            reclaim_policy: ReclaimPolicy::Delete,
            allow_volume_expansion: Some(true),
            parameters: Default::default(),
            behaviour: Behaviour::Network,
        }],
        csi_drivers: vec![CsiDriverSpec {
            name: "cinder.csi.openstack.org".into(),
            attach_required: true,
            volume_lifecycle_modes: vec![VolumeLifecycleMode::Persistent],
            topology_keys: Vec::new(),
        }],
        namespaces,
        workloads,
        users: None,
        openstack_clusters: Vec::new(),
        network: NetworkSpec::default(),
        e2e: None,
        unreleased_finalizers: Vec::new(),
    })
}

/// The scenario as YAML text.
pub fn to_yaml(scenario: &Scenario) -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(scenario)
}
