//! The scenario file as written by people: plain serde structs, strict about unknown keys.
//!
//! Everything here mirrors `docs/scenario-format.md`; keep the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole simulated cluster, good or broken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    /// Scenario name, shown in logs and in the kubeconfig's cluster name.
    pub name: String,
    /// Control-plane version facts.
    pub kubernetes: KubernetesSpec,
    /// Optional kubeadm facts, published as ConfigMap `kube-system/kubeadm-config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeadm: Option<KubeadmSpec>,
    /// Nodes of the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeSpec>,
    /// Storage classes, each with the behaviour its provisioner simulates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_classes: Vec<StorageClassSpec>,
    /// Installed CSI drivers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub csi_drivers: Vec<CsiDriverSpec>,
    /// Namespaces besides the four every cluster has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceSpec>,
    /// Pre-existing workloads and bare pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadSpec>,
    /// Users; `admin` and `viewer` with documented tokens when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserSpec>>,
    /// Cluster API `OpenStackCluster` objects, for a management-cluster scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openstack_clusters: Vec<OpenStackClusterSpec>,
    /// Networking: load balancer and NetworkPolicy behaviour (a working L3 load balancer and no
    /// NetworkPolicy enforcement when absent).
    #[serde(default, skip_serializing_if = "is_default")]
    pub network: NetworkSpec,
    /// What runs of the conformance image (`*/conformance:TAG`) do; all selected specs pass
    /// within 2s when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<E2eSpec>,
    /// Finalizers an admission webhook puts on every new object of some kinds and that nobody
    /// ever removes (the controller that would is gone): deleting such an object, or the
    /// namespace it is in, never completes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreleased_finalizers: Vec<UnreleasedFinalizerSpec>,
}

/// A finalizer added to every object of `kinds` created while the simulator runs and never
/// released, as when a mutating webhook adds it and the controller that should remove it is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnreleasedFinalizerSpec {
    /// The finalizer, domain-qualified, e.g. `backup.example.com/protect`.
    pub finalizer: String,
    /// Kinds it is added to, e.g. `[PersistentVolumeClaim]`.
    pub kinds: Vec<String>,
}

/// The simulated e2e suite (the conformance image); see `docs/scenario-format.md`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct E2eSpec {
    /// How runs end (default `pass`).
    #[serde(default)]
    pub outcome: E2eOutcome,
    /// Full spec names that fail (outcome `fail` only), e.g.
    /// `[sig-network] Services should serve a basic endpoint from pods [Conformance]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// How long a run takes, e.g. `30s`, `500ms` (default `2s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// How a run of the conformance image ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum E2eOutcome {
    /// Every selected spec passes.
    #[default]
    Pass,
    /// The specs named in `failures` fail (with a message and location); the rest pass.
    Fail,
    /// The suite crashes after a few specs (exit code 2, `e2e.log` cut short, no JUnit).
    Crash,
    /// The image cannot be pulled (`ErrImagePull`, then `ImagePullBackOff`); nothing runs.
    ImagePullError,
    /// The suite stops after a few specs and never ends; no results.
    Hang,
}

/// How the cluster's networking behaves; described in `docs/sim-network.md`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkSpec {
    /// What Services of type LoadBalancer get (default `l3`: a working load balancer).
    #[serde(default)]
    pub load_balancer: LoadBalancerMode,
    /// Whether the load balancer honours `loadbalancer.openstack.org/proxy-protocol: "true"`
    /// (only with `proxy` or `local-no-healthcheck`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub proxy_protocol: bool,
    /// Whether NetworkPolicies are enforced (default `ignored`, like Flannel alone).
    #[serde(default)]
    pub network_policy: NetworkPolicyMode,
    /// Name of the network plugin the scenario stands for, e.g. `calico` (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<String>,
    /// IngressClasses (`networking.k8s.io/v1`) the cluster offers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_classes: Vec<IngressClassSpec>,
    /// Whether pods can connect to the API server's own address (default `reachable`);
    /// `blocked` stands for an API allow-list that forgot the cluster's egress address.
    #[serde(default)]
    pub api_from_pods: ApiFromPods,
}

/// What a pod's connection to the API server's address does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiFromPods {
    /// The connection is made.
    #[default]
    Reachable,
    /// The connection times out, as behind a load balancer whose allow-list omits the cluster.
    Blocked,
}

/// One IngressClass: which controller serves it and whether it is the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressClassSpec {
    /// Object name, e.g. `nginx`.
    pub name: String,
    /// `spec.controller`, e.g. `k8s.io/ingress-nginx`.
    pub controller: String,
    /// Annotated `ingressclass.kubernetes.io/is-default-class: "true"`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
}

/// What the simulated cloud load balancer does with Services of type LoadBalancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerMode {
    /// Forwards at L3 with health checks: backends see the client address (the default, so
    /// scenarios about other failures have a working load balancer).
    #[default]
    L3,
    /// Forwards with source NAT and health checks: backends see a node address.
    Snat,
    /// Terminates TCP (like an Octavia amphora) with health checks: backends see the LB address.
    Proxy,
    /// Like `proxy` but without health checks: with `externalTrafficPolicy: Local`, connections
    /// sent to nodes without a local endpoint are reset.
    LocalNoHealthcheck,
    /// No load balancer: Services stay without an ingress address.
    Pending,
}

/// Whether the simulated network plugin enforces NetworkPolicies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkPolicyMode {
    /// Policies decide which probe connections succeed.
    Enforced,
    /// Policies are stored but have no effect.
    #[default]
    Ignored,
}

/// Control-plane version facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesSpec {
    /// `gitVersion` served by `/version`, e.g. `v1.35.8`.
    pub version: String,
}

/// kubeadm's ClusterConfiguration facts checks read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeadmSpec {
    /// Where kubeadm pulls control-plane images from, e.g. `registry.k8s.io`.
    pub image_repository: String,
}

/// A node role, shown as `node-role.kubernetes.io/<role>` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the control plane; tainted `NoSchedule` unless `taints` says otherwise.
    ControlPlane,
    /// Runs workloads.
    Worker,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// Roles; `[worker]` when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// `topology.kubernetes.io/zone` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `topology.kubernetes.io/region` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `kubernetes.io/hostname` label; the node name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Extra labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Whether the Ready condition is True (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ready: bool,
    /// Cordoned (`spec.unschedulable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unschedulable: bool,
    /// Taints; absent means the control-plane taint on control-plane nodes and none elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<TaintSpec>>,
    /// `status.nodeInfo.kubeletVersion`; the cluster version when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_version: Option<String>,
    /// `status.allocatable` (and capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<AllocatableSpec>,
    /// `InternalIP` address; derived from the node's position when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_ip: Option<String>,
}

/// Node resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AllocatableSpec {
    /// CPU quantity, e.g. `"4"`.
    #[serde(default = "default_cpu")]
    pub cpu: String,
    /// Memory quantity, e.g. `16Gi`.
    #[serde(default = "default_memory")]
    pub memory: String,
    /// Pod capacity, e.g. `"110"`.
    #[serde(default = "default_pods")]
    pub pods: String,
}

impl Default for AllocatableSpec {
    fn default() -> Self {
        AllocatableSpec {
            cpu: default_cpu(),
            memory: default_memory(),
            pods: default_pods(),
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaintSpec {
    /// Taint key.
    pub key: String,
    /// Taint value (may be absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Effect.
    pub effect: TaintEffect,
}

/// What a taint does to pods that do not tolerate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    /// New pods are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node but may use it.
    PreferNoSchedule,
    /// New pods are not scheduled and running ones are evicted.
    NoExecute,
}

/// What the simulated provisioner does for a storage class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Behaviour {
    /// Network-attached: binds; the PV has no node affinity; data follows the volume.
    Network,
    /// Node-local: binds; the PV is pinned to one node by hostname affinity.
    Local,
    /// Binds like `network`, but data does not survive the pod moving to another node.
    Ephemeral,
    /// Never provisions: the claim stays Pending with a `ProvisioningFailed` warning.
    Never,
}

/// When a claim gets its volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum VolumeBindingMode {
    /// As soon as the claim exists.
    #[default]
    Immediate,
    /// Once a pod using the claim has been given a node.
    WaitForFirstConsumer,
}

/// What happens to a volume when its claim goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ReclaimPolicy {
    /// The volume is deleted.
    #[default]
    Delete,
    /// The volume stays, phase `Released`.
    Retain,
}

/// One storage class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageClassSpec {
    /// Class name.
    pub name: String,
    /// Provisioner (CSI driver name for `network`/`ephemeral`).
    pub provisioner: String,
    /// Annotated `storageclass.kubernetes.io/is-default-class: "true"`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
    /// Annotated with the legacy `storageclass.beta.kubernetes.io/is-default-class: "true"`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub legacy_default: bool,
    /// `volumeBindingMode` (default `Immediate`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub volume_binding_mode: VolumeBindingMode,
    /// `reclaimPolicy` (default `Delete`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub reclaim_policy: ReclaimPolicy,
    /// `allowVolumeExpansion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_volume_expansion: Option<bool>,
    /// Provisioner parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// What the simulated provisioner does (default `network`).
    #[serde(default = "default_behaviour")]
    pub behaviour: Behaviour,
}

/// How a CSI driver's volumes may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VolumeLifecycleMode {
    /// PersistentVolumes.
    Persistent,
    /// Inline ephemeral volumes.
    Ephemeral,
}

/// One installed CSI driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CsiDriverSpec {
    /// Driver name, e.g. `cinder.csi.openstack.org`.
    pub name: String,
    /// `attachRequired` (default true).
    #[serde(default = "yes")]
    pub attach_required: bool,
    /// `volumeLifecycleModes` (default `[Persistent]`).
    #[serde(default = "default_lifecycle_modes")]
    pub volume_lifecycle_modes: Vec<VolumeLifecycleMode>,
    /// Topology keys the driver's node plugin publishes: every node gets a CSINode listing them
    /// and a label per key (a `…zone` key carries the node's zone, a `…region` key its region,
    /// any other key the node name) unless the node's `labels` set it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_keys: Vec<String>,
}

/// A Cluster API `OpenStackCluster` (`infrastructure.cluster.x-k8s.io/v1beta1`) of a
/// management-cluster scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenStackClusterSpec {
    /// Name (the workload cluster's name).
    pub name: String,
    /// Namespace (default `default`); must be declared or built in.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// `spec.apiServerLoadBalancer`; absent: the cluster has no API load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_load_balancer: Option<ApiServerLoadBalancerSpec>,
}

/// `spec.apiServerLoadBalancer` of an `OpenStackCluster`, with the field names of CAPO v1beta1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiServerLoadBalancerSpec {
    /// `enabled` (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `allowedCIDRs`: who may reach the API; empty means everybody. Written as given (the real
    /// CRD does not validate the entries either).
    #[serde(
        default,
        rename = "allowedCIDRs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_cidrs: Vec<String>,
    /// `provider`, e.g. `amphora` or `ovn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// What the cloud applied: `status.apiServerLoadBalancer.allowedCIDRs`; default: the same as
    /// `allowedCIDRs` (a change that has not been applied yet differs).
    #[serde(
        default,
        rename = "appliedCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub applied_cidrs: Option<Vec<String>>,
}

/// A namespace the scenario declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// Namespace name.
    pub name: String,
    /// Labels (e.g. pod security admission labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Which kind of workload a scenario entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    /// apps/v1 Deployment (with a ReplicaSet and pods).
    Deployment,
    /// apps/v1 DaemonSet (one pod per node).
    DaemonSet,
    /// apps/v1 StatefulSet (pods `<name>-0..`).
    StatefulSet,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// batch/v1 Job (completed pods).
    Job,
    /// batch/v1 CronJob (no pods yet).
    CronJob,
    /// A bare core/v1 Pod.
    Pod,
}

/// The phase of a bare scenario pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PodPhase {
    /// Not yet running (the scheduler and lifecycle controllers take over).
    Pending,
    /// Running.
    #[default]
    Running,
    /// Completed successfully.
    Succeeded,
    /// Completed with failure.
    Failed,
}

/// A pre-existing workload or bare pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Kind of workload.
    pub kind: WorkloadKind,
    /// Name.
    pub name: String,
    /// Namespace (default `default`); must be declared or built in.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Replicas for Deployment, StatefulSet, ReplicaSet (default 1); completions for Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Labels on the workload and its pod template (`app: <name>` when absent).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Containers (at least one).
    pub containers: Vec<ContainerSpec>,
    /// Init containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<ContainerSpec>,
    /// Node the pods run on; spread over schedulable nodes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Phase of a bare Pod (default `Running`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PodPhase>,
    /// Cron schedule of a CronJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// A container and its image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Image reference, e.g. `registry.k8s.io/coredns/coredns:v1.12.0`.
    pub image: String,
}

/// The permission class of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PermissionKind {
    /// Everything.
    Admin,
    /// get/list/watch on everything.
    ReadOnly,
    /// Only what `rules` allow.
    Rules,
}

/// A user of the simulated cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserSpec {
    /// User name.
    pub name: String,
    /// Bearer token.
    pub token: String,
    /// Permission class.
    pub permission: PermissionKind,
    /// Allow rules; only with `permission: rules`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSpec>,
}

/// One allow rule of a `rules` user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleSpec {
    /// Verbs (`*` for all).
    pub verbs: Vec<String>,
    /// API groups, `""` for core (`*` for all); default `["*"]`.
    #[serde(default = "star")]
    pub groups: Vec<String>,
    /// Resources, optionally with subresource (`pods/log`).
    pub resources: Vec<String>,
    /// Namespaces; empty means everywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn default_cpu() -> String {
    "4".into()
}

fn default_memory() -> String {
    "16Gi".into()
}

fn default_pods() -> String {
    "110".into()
}

fn default_behaviour() -> Behaviour {
    Behaviour::Network
}

fn default_lifecycle_modes() -> Vec<VolumeLifecycleMode> {
    vec![VolumeLifecycleMode::Persistent]
}

fn default_namespace() -> String {
    "default".into()
}

fn star() -> Vec<String> {
    vec!["*".into()]
}
