//! `registry-frozen-images-check` (derived from scs-0210, CHECKS.md §5): no workload pulls from
//! a frozen registry, since no patch can ever arrive from one.
//!
//! Rules: REG-01 no container, init or ephemeral container image of a pod or of a workload
//! template (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob), and no image a pod
//! actually runs (`status.*containerStatuses[].image`), comes from `k8s.gcr.io` (FAIL in
//! `kube-system` and for static pods, WARN elsewhere); REG-02 kubeadm's `imageRepository` is
//! not frozen (WARN); REG-04 an inventory of registry hosts, digest pinning and mirror paths.
//! Read-only: paged LISTs of pods and the six workload kinds, deserialized into slim types that
//! keep only names, owners and images; only offending references are kept, so memory stays flat
//! as the cluster grows.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use kube::api::ListParams;
use scs_kaas_core::finding::{Finding, Outcome};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::paged;
use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};

/// Registries that no longer receive images, with the maintained registry serving the same
/// content (CHECKS.md §5: `k8s.gcr.io` frozen since 2023-04-03).
pub const FROZEN: &[(&str, &str)] = &[("k8s.gcr.io", "registry.k8s.io")];
/// The namespace whose images the cluster's own operation depends on: FAIL there.
const SYSTEM_NAMESPACE: &str = "kube-system";
/// How many registry hosts the REG-04 inventory names before "…".
const HOST_LIMIT: usize = 10;
/// Derivation note carried by every REG-01 finding (not a literal SCS MUST).
const DERIVED: &str = "derived from scs-0210: a frozen registry gets no security patches";

/// The check: stateless; everything comes from the context.
#[derive(Debug, Default, Clone, Copy)]
pub struct RegistryFrozenImagesCheck;

/// An image reference split the way container runtimes resolve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry host, lower-cased, without port; `docker.io` when the reference names none.
    pub host: String,
    /// Port given with the host, if any.
    pub port: Option<&'a str>,
    /// Repository path with tag and/or digest, as written.
    pub rest: &'a str,
}

impl<'a> ImageRef<'a> {
    /// Split `image` (docker reference grammar: the first path component is a registry only
    /// when it contains `.` or `:`, is `localhost`, or has upper-case letters).
    pub fn parse(image: &'a str) -> ImageRef<'a> {
        let image = image.trim();
        match image.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                let (host, port) = match first.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (first, None),
                };
                ImageRef {
                    host: host.trim_end_matches('.').to_ascii_lowercase(),
                    port,
                    rest,
                }
            }
            _ => ImageRef {
                host: "docker.io".to_owned(),
                port: None,
                rest: image,
            },
        }
    }

    /// The maintained registry replacing this reference's frozen one, if it is frozen.
    pub fn frozen(&self) -> Option<&'static str> {
        FROZEN
            .iter()
            .find(|(frozen, _)| *frozen == self.host)
            .map(|(_, replacement)| *replacement)
    }

    /// The same image from the maintained registry (same path, tag and digest), if frozen.
    pub fn replacement(&self) -> Option<String> {
        self.frozen()
            .map(|replacement| format!("{replacement}/{}", self.rest))
    }

    /// Whether the reference pins a digest (`@sha256:…`).
    pub fn pinned(&self) -> bool {
        self.rest.contains('@')
    }

    /// A frozen registry named as the first path component on another host: the pattern of
    /// a proxy-cache project (Harbor) or a path-based mirror of that registry.
    pub fn mirror_of_frozen(&self) -> Option<&'static str> {
        if self.frozen().is_some() || self.host == "docker.io" {
            return None;
        }
        let first = self.rest.split('/').next()?;
        let first = first.split(':').next()?.to_ascii_lowercase();
        FROZEN
            .iter()
            .find(|(frozen, _)| *frozen == first)
            .map(|(frozen, _)| *frozen)
    }
}

// ----- slim API types: only the fields this check reads are deserialized -----

/// One page of a LIST response.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Page<T> {
    #[serde(default)]
    items: Vec<T>,
    #[serde(default)]
    metadata: PageMeta,
}

#[derive(Debug, Default, Deserialize)]
struct PageMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

/// Object metadata: name, namespace, controller, and whether it is a static pod's mirror.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Object name.
    #[serde(default)]
    pub name: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Owners; the one with `controller: true` is the object's controller.
    #[serde(default)]
    pub owner_references: Vec<OwnerRef>,
    /// Only the mirror-pod annotation is kept.
    #[serde(default)]
    pub annotations: Option<Annotations>,
}

/// The one annotation this check needs (everything else is skipped while parsing).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Annotations {
    /// Set on mirror pods of static pods.
    #[serde(default, rename = "kubernetes.io/config.mirror")]
    pub mirror: Option<IgnoredAny>,
}

/// An owner reference.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct OwnerRef {
    /// Owner kind, e.g. `ReplicaSet`.
    #[serde(default)]
    pub kind: String,
    /// Owner name.
    #[serde(default)]
    pub name: String,
    /// Whether this owner is the controller.
    #[serde(default)]
    pub controller: Option<bool>,
}

impl Meta {
    fn controller(&self) -> Option<&OwnerRef> {
        self.owner_references
            .iter()
            .find(|o| o.controller == Some(true))
    }

    fn is_mirror(&self) -> bool {
        self.annotations
            .as_ref()
            .is_some_and(|a| a.mirror.is_some())
            || self.owner_references.iter().any(|o| o.kind == "Node")
    }
}

/// A container (or init/ephemeral container, or a container status): name and image.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Container {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Image reference (absent in odd objects; then there is nothing to judge).
    #[serde(default)]
    pub image: Option<String>,
}

/// A pod spec's three container lists.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Regular containers.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Init containers.
    #[serde(default)]
    pub init_containers: Vec<Container>,
    /// Ephemeral (debug) containers.
    #[serde(default)]
    pub ephemeral_containers: Vec<Container>,
}

/// What the runtime reports each container runs.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// Regular containers.
    #[serde(default)]
    pub container_statuses: Vec<Container>,
    /// Init containers.
    #[serde(default)]
    pub init_container_statuses: Vec<Container>,
    /// Ephemeral containers.
    #[serde(default)]
    pub ephemeral_container_statuses: Vec<Container>,
}

/// A pod, slim.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Pod {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Declared containers.
    #[serde(default)]
    pub spec: PodSpec,
    /// Running containers.
    #[serde(default)]
    pub status: Option<PodStatus>,
}

/// A pod template.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Template {
    /// The template's pod spec.
    #[serde(default)]
    pub spec: PodSpec,
}

/// A CronJob's job template.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct JobTemplate {
    /// The Job spec inside.
    #[serde(default)]
    pub spec: WorkloadSpec,
}

/// The spec of any workload kind: a pod template (or, for CronJobs, a job template).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Pod template (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job).
    #[serde(default)]
    pub template: Option<Template>,
    /// Job template (CronJob).
    #[serde(default)]
    pub job_template: Option<Box<JobTemplate>>,
    /// Desired replicas (ReplicaSet: 0 marks an old Deployment revision).
    #[serde(default)]
    pub replicas: Option<i32>,
}

/// A workload object, slim.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Workload {
    /// Metadata.
    #[serde(default)]
    pub metadata: Meta,
    /// Spec.
    #[serde(default)]
    pub spec: WorkloadSpec,
}

impl WorkloadSpec {
    fn pod_spec(&self) -> Option<&PodSpec> {
        match (&self.template, &self.job_template) {
            (Some(template), _) => Some(&template.spec),
            (None, Some(job)) => job.spec.template.as_ref().map(|t| &t.spec),
            (None, None) => None,
        }
    }
}

// ----- what is gathered -----

/// Which list of the pod spec a container came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContainerKind {
    /// `containers`.
    Container,
    /// `initContainers`.
    Init,
    /// `ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    fn word(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::Init => "init container",
            ContainerKind::Ephemeral => "ephemeral container",
        }
    }
}

/// Where one frozen reference was found: the object reported (a bare pod, or the controller
/// of the pods), the container and the image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Namespace.
    pub namespace: String,
    /// Kind of the reported object.
    pub kind: String,
    /// Name of the reported object.
    pub name: String,
    /// Container name.
    pub container: String,
    /// The image reference as written.
    pub image: String,
}

/// Everything seen about one [`Key`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Which container list it came from.
    pub container_kind: Option<ContainerKind>,
    /// The object's own template names the image.
    pub template: bool,
    /// Pods of this object (or the bare pod itself) that declare or run the image.
    pub pods: usize,
    /// Some pod runs the image without declaring it (runtime status only).
    pub running_only: bool,
    /// A static pod (mirror pod): FAIL wherever it is.
    pub static_pod: bool,
    /// The object's controller (Deployment of a ReplicaSet, CronJob of a Job).
    pub owner: Option<(String, String)>,
    /// A ReplicaSet scaled to zero: an old Deployment revision, only used on rollback.
    pub idle_revision: bool,
}

/// REG-04 inventory over the images pods declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Container references per registry host.
    pub hosts: BTreeMap<String, usize>,
    /// All container references of pods.
    pub references: usize,
    /// Of which pinned by digest.
    pub pinned: usize,
    /// References through a mirror path named after a frozen registry, with one example.
    pub mirror_paths: usize,
    /// The first such reference seen.
    pub mirror_example: Option<String>,
}

/// What was found in `kube-system/kubeadm-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kubeadm {
    /// No such ConfigMap: not a visible kubeadm control plane.
    Absent,
    /// The ConfigMap exists; its `ClusterConfiguration` text, if any.
    Present(Option<String>),
}

/// What was gathered from the cluster.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Frozen references, grouped.
    pub usages: BTreeMap<Key, Usage>,
    /// Registry inventory.
    pub inventory: Inventory,
    /// Pods seen.
    pub pods: usize,
    /// Workload objects seen.
    pub workloads: usize,
    /// kubeadm's configuration; `None` when not looked up.
    pub kubeadm: Option<Kubeadm>,
}

impl Observed {
    /// Record one pod: its declared and running images (frozen ones kept, all inventoried).
    /// Pods with a controller are grouped under it, so a 100-replica Deployment is one entry.
    pub fn add_pod(&mut self, pod: &Pod) {
        self.pods += 1;
        let meta = &pod.metadata;
        let static_pod = meta.is_mirror();
        let (kind, name, owner) = match meta.controller() {
            Some(c) if !static_pod => (c.kind.as_str(), c.name.as_str(), true),
            _ => ("Pod", meta.name.as_str(), false),
        };
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (list, ckind) in containers_of(&pod.spec) {
            for c in list {
                let Some(image) = c.image.as_deref().filter(|i| !i.trim().is_empty()) else {
                    continue;
                };
                let parsed = ImageRef::parse(image);
                self.inventory.count(&parsed, image);
                if parsed.frozen().is_some() {
                    let usage = self.usage(&meta.namespace, kind, name, &c.name, image);
                    usage.container_kind.get_or_insert(ckind);
                    usage.pods += 1;
                    usage.static_pod |= static_pod;
                    usage.template |= !owner;
                    seen.push((&c.name, image));
                }
            }
        }
        let Some(status) = &pod.status else { return };
        let lists = [
            (&status.container_statuses, ContainerKind::Container),
            (&status.init_container_statuses, ContainerKind::Init),
            (
                &status.ephemeral_container_statuses,
                ContainerKind::Ephemeral,
            ),
        ];
        for (list, ckind) in lists {
            for c in list {
                let Some(image) = c.image.as_deref() else {
                    continue;
                };
                if seen.contains(&(c.name.as_str(), image))
                    || ImageRef::parse(image).frozen().is_none()
                {
                    continue;
                }
                let usage = self.usage(&meta.namespace, kind, name, &c.name, image);
                usage.container_kind.get_or_insert(ckind);
                usage.pods += 1;
                usage.running_only = true;
                usage.static_pod |= static_pod;
            }
        }
    }

    /// Record one workload's template (`kind` as listed, e.g. `Deployment`).
    pub fn add_workload(&mut self, kind: &str, workload: &Workload) {
        self.workloads += 1;
        let Some(spec) = workload.spec.pod_spec() else {
            return;
        };
        let meta = &workload.metadata;
        let owner = meta.controller().map(|c| (c.kind.clone(), c.name.clone()));
        let idle = kind == "ReplicaSet" && workload.spec.replicas == Some(0);
        for (list, ckind) in containers_of(spec) {
            for c in list {
                let Some(image) = c.image.as_deref() else {
                    continue;
                };
                if ImageRef::parse(image).frozen().is_none() {
                    continue;
                }
                let usage = self.usage(&meta.namespace, kind, &meta.name, &c.name, image);
                usage.container_kind.get_or_insert(ckind);
                usage.template = true;
                usage.owner.clone_from(&owner);
                usage.idle_revision = idle;
            }
        }
    }

    fn usage(
        &mut self,
        namespace: &str,
        kind: &str,
        name: &str,
        container: &str,
        image: &str,
    ) -> &mut Usage {
        self.usages
            .entry(Key {
                namespace: namespace.to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                container: container.to_owned(),
                image: image.to_owned(),
            })
            .or_default()
    }

    /// Merge another partial observation (gathered concurrently) into this one.
    pub fn merge(&mut self, other: Observed) {
        for (key, usage) in other.usages {
            let mine = self.usages.entry(key).or_default();
            mine.container_kind = mine.container_kind.or(usage.container_kind);
            mine.template |= usage.template;
            mine.pods += usage.pods;
            mine.running_only |= usage.running_only;
            mine.static_pod |= usage.static_pod;
            if usage.owner.is_some() {
                mine.owner = usage.owner;
            }
            mine.idle_revision |= usage.idle_revision;
        }
        for (host, n) in other.inventory.hosts {
            *self.inventory.hosts.entry(host).or_default() += n;
        }
        self.inventory.references += other.inventory.references;
        self.inventory.pinned += other.inventory.pinned;
        self.inventory.mirror_paths += other.inventory.mirror_paths;
        if self.inventory.mirror_example.is_none() {
            self.inventory.mirror_example = other.inventory.mirror_example;
        }
        self.pods += other.pods;
        self.workloads += other.workloads;
        if other.kubeadm.is_some() {
            self.kubeadm = other.kubeadm;
        }
    }
}

impl Inventory {
    fn count(&mut self, image: &ImageRef, raw: &str) {
        self.references += 1;
        if let Some(n) = self.hosts.get_mut(&image.host) {
            *n += 1;
        } else {
            self.hosts.insert(image.host.clone(), 1);
        }
        if image.pinned() {
            self.pinned += 1;
        }
        if image.mirror_of_frozen().is_some() {
            self.mirror_paths += 1;
            if self.mirror_example.is_none() {
                self.mirror_example = Some(raw.to_owned());
            }
        }
    }
}

fn containers_of(spec: &PodSpec) -> [(&[Container], ContainerKind); 3] {
    [
        (&spec.containers, ContainerKind::Container),
        (&spec.init_containers, ContainerKind::Init),
        (&spec.ephemeral_containers, ContainerKind::Ephemeral),
    ]
}

// ----- the judge -----

/// Judge the gathered facts; pure, so every rule is table-tested.
pub fn judge(observed: &Observed) -> Vec<Finding> {
    let mut findings = Vec::new();
    frozen_references(observed, &mut findings);
    if let Some(kubeadm) = &observed.kubeadm {
        findings.push(image_repository(kubeadm));
    }
    inventory(observed, &mut findings);
    findings
}

/// The key one level up the ownership chain, when that object names the same image.
fn parent_key(key: &Key, usage: &Usage, observed: &Observed) -> Option<Key> {
    let (kind, name) = usage.owner.as_ref()?;
    let parent = Key {
        namespace: key.namespace.clone(),
        kind: kind.clone(),
        name: name.clone(),
        container: key.container.clone(),
        image: key.image.clone(),
    };
    observed
        .usages
        .get(&parent)
        .is_some_and(|p| p.template)
        .then_some(parent)
}

/// REG-01: one finding per top-most object naming a frozen image (ReplicaSets fold into their
/// Deployment, Jobs into their CronJob, pods into their controller).
fn frozen_references(observed: &Observed, findings: &mut Vec<Finding>) {
    let mut folded: BTreeMap<&Key, Usage> = BTreeMap::new();
    for (key, usage) in &observed.usages {
        let mut top = key.clone();
        let mut top_usage = usage;
        let mut hops = 0;
        while let Some(parent) = parent_key(&top, top_usage, observed) {
            top = parent;
            top_usage = &observed.usages[&top];
            hops += 1;
            if hops > 4 {
                break; // an ownership cycle would be a broken cluster; stop climbing
            }
        }
        let (top_key, _) = observed
            .usages
            .get_key_value(&top)
            .expect("the top key was found in the map");
        let entry = folded.entry(top_key).or_insert_with(|| top_usage.clone());
        if top_key != key {
            entry.pods += usage.pods;
            entry.running_only |= usage.running_only;
            entry.static_pod |= usage.static_pod;
        }
    }
    let mut failing = 0;
    for (key, usage) in &folded {
        let parsed = ImageRef::parse(&key.image);
        let replacement = parsed.replacement().unwrap_or_default();
        let registry = &parsed.host;
        let what = usage
            .container_kind
            .unwrap_or(ContainerKind::Container)
            .word();
        let object = format!("{}/{}/{}", key.namespace, key.kind, key.name);
        let how = if usage.template && key.kind == "Pod" {
            if usage.static_pod {
                "static pod declares".to_owned()
            } else {
                "declares".to_owned()
            }
        } else if usage.template && usage.pods > 0 {
            format!("template names, and {} pod(s) use,", usage.pods)
        } else if usage.template {
            "template names".to_owned()
        } else if usage.running_only {
            format!("{} pod(s) run", usage.pods)
        } else {
            format!("{} pod(s) declare", usage.pods)
        };
        let message = format!(
            "{object} {what} {:?}: {how} {} from the frozen registry {registry} ({DERIVED})",
            key.container, key.image
        );
        let fix = format!(
            "use {replacement} instead: {registry} was frozen on 2023-04-03, its successor serves \
             the same images with the same digests"
        );
        let finding = if usage.idle_revision && usage.pods == 0 {
            Finding::info(
                "REG-01",
                format!(
                    "{message}; it is an old revision (0 replicas) that only a rollback would bring back"
                ),
            )
        } else if key.namespace == SYSTEM_NAMESPACE || usage.static_pod {
            failing += 1;
            Finding::error("REG-01", message)
        } else {
            Finding::warn("REG-01", message)
        };
        findings.push(finding.with_fix(fix).with_object(object));
    }
    if folded.is_empty() {
        findings.push(Finding::info(
            "REG-01",
            format!(
                "no image from a frozen registry ({}) in {} pod(s) and {} workload template(s)",
                FROZEN
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", "),
                observed.pods,
                observed.workloads
            ),
        ));
    } else if failing > 0 {
        findings.push(Finding::info(
            "REG-01",
            "frozen images in kube-system or in static pods fail the check; elsewhere they warn",
        ));
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfiguration {
    #[serde(default)]
    image_repository: Option<String>,
}

/// REG-02: kubeadm's `imageRepository` (where upgrades pull control-plane images from).
fn image_repository(kubeadm: &Kubeadm) -> Finding {
    const OBJECT: &str = "kube-system/ConfigMap/kubeadm-config";
    let text = match kubeadm {
        Kubeadm::Absent => {
            return Finding::info(
                "REG-02",
                "no ConfigMap kube-system/kubeadm-config: the control plane is not kubeadm-managed \
                 or not visible; nothing to check",
            );
        }
        Kubeadm::Present(None) => {
            return Finding::warn(
                "REG-02",
                "kube-system/kubeadm-config has no ClusterConfiguration key, so kubeadm's image \
                 repository cannot be judged",
            )
            .with_fix("re-upload it with `kubeadm init phase upload-config kubeadm`")
            .with_object(OBJECT);
        }
        Kubeadm::Present(Some(text)) => text,
    };
    // Text from the cluster is bounded like a file before it is parsed.
    if let Err(problem) = yaml_within_limits(text) {
        return Finding::warn(
            "REG-02",
            format!("ClusterConfiguration in kube-system/kubeadm-config is not read: {problem}"),
        )
        .with_fix("repair the ConfigMap (`kubeadm init phase upload-config kubeadm`)")
        .with_object(OBJECT);
    }
    let config: ClusterConfiguration = match serde_yaml_ng::from_str(text) {
        Ok(config) => config,
        Err(err) => {
            return Finding::warn(
                "REG-02",
                format!(
                    "ClusterConfiguration in kube-system/kubeadm-config is not valid YAML: {err}"
                ),
            )
            .with_fix("repair the ConfigMap (`kubeadm init phase upload-config kubeadm`)")
            .with_object(OBJECT);
        }
    };
    let Some(repository) = config
        .image_repository
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return Finding::info(
            "REG-02",
            "kubeadm's imageRepository is unset: kubeadm v1.25 and later default to registry.k8s.io \
             (older ones to k8s.gcr.io; REG-01 judges the images actually running)",
        )
        .with_object(OBJECT);
    };
    // imageRepository always starts with a registry host, unlike image references.
    let host = repository.split('/').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match FROZEN.iter().find(|(frozen, _)| *frozen == host) {
        Some((frozen, replacement)) => Finding::warn(
            "REG-02",
            format!(
                "kubeadm's imageRepository is {repository}: upgrades and new control-plane nodes \
                 pull from the frozen registry {frozen}"
            ),
        )
        .with_fix(format!(
            "set imageRepository: {replacement} in the ClusterConfiguration (CAPI: \
             KubeadmControlPlane spec.kubeadmConfigSpec.clusterConfiguration.imageRepository)"
        ))
        .with_object(OBJECT),
        None => {
            Finding::info("REG-02", format!("kubeadm pulls from {repository}")).with_object(OBJECT)
        }
    }
}

/// REG-04: where images come from, how many are pinned, which go through mirror paths.
fn inventory(observed: &Observed, findings: &mut Vec<Finding>) {
    let inv = &observed.inventory;
    if inv.references == 0 {
        findings.push(Finding::info("REG-04", "no pod declares a container image"));
        return;
    }
    let mut hosts: Vec<(&String, &usize)> = inv.hosts.iter().collect();
    hosts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut list = hosts
        .iter()
        .take(HOST_LIMIT)
        .map(|(h, n)| format!("{h} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if hosts.len() > HOST_LIMIT {
        list.push_str(&format!(", … ({} more)", hosts.len() - HOST_LIMIT));
    }
    findings.push(Finding::info(
        "REG-04",
        format!(
            "{} container image reference(s) in {} pod(s) from {} registry host(s): {list}; \
             {} ({}%) pinned by digest",
            inv.references,
            observed.pods,
            inv.hosts.len(),
            inv.pinned,
            inv.pinned * 100 / inv.references
        ),
    ));
    if let Some(example) = &inv.mirror_example {
        findings.push(
            Finding::info(
                "REG-04",
                format!(
                    "{} reference(s) go through a mirror path named after a frozen registry \
                     (e.g. {example}): if that mirror proxies the frozen registry, they are frozen too",
                    inv.mirror_paths
                ),
            )
            .with_fix("point the mirror (proxy-cache project) at registry.k8s.io"),
        );
    }
    findings.push(Finding::info(
        "REG-04",
        "node-level mirrors (containerd hosts.toml) are not visible through the API",
    ));
}

// ----- gathering -----

/// The workload kinds whose pod templates are read: (kind, API path of the cluster-wide list).
pub const WORKLOADS: &[(&str, &str)] = &[
    ("Deployment", "/apis/apps/v1/deployments"),
    ("DaemonSet", "/apis/apps/v1/daemonsets"),
    ("StatefulSet", "/apis/apps/v1/statefulsets"),
    ("ReplicaSet", "/apis/apps/v1/replicasets"),
    ("Job", "/apis/batch/v1/jobs"),
    ("CronJob", "/apis/batch/v1/cronjobs"),
];

/// Walk a cluster-wide list page by page, deserializing items into the slim type `T`.
async fn for_each_slim<T: DeserializeOwned>(
    client: &kube::Client,
    path: &str,
    mut visit: impl FnMut(T),
) -> Result<usize, kube::Error> {
    let request = kube::core::Request::new(path);
    let mut params = ListParams::default().limit(paged::PAGE_SIZE);
    let mut requests = 0;
    loop {
        let http = request.list(&params).map_err(kube::Error::BuildRequest)?;
        let page: Page<T> = client.request(http).await?;
        requests += 1;
        page.items.into_iter().for_each(&mut visit);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(requests),
        }
    }
}

fn resource_of(path: &str) -> (&str, &str) {
    let mut parts = path.rsplit('/');
    let resource = parts.next().unwrap_or_default();
    let _version = parts.next();
    let group = parts.next().filter(|g| *g != "api" && *g != "v1");
    (group.unwrap_or(""), resource)
}

async fn gather_pods(client: &kube::Client) -> Result<(Observed, usize), String> {
    let mut observed = Observed::default();
    let requests = for_each_slim(client, "/api/v1/pods", |pod: Pod| observed.add_pod(&pod))
        .await
        .map_err(|err| paged::describe_error("list pods", "list", "", "pods", &err))?;
    Ok((observed, requests))
}

async fn gather_workloads(
    client: &kube::Client,
    kind: &'static str,
    path: &'static str,
) -> Result<(Observed, usize), String> {
    let mut observed = Observed::default();
    let requests = for_each_slim(client, path, |w: Workload| observed.add_workload(kind, &w))
        .await
        .map_err(|err| {
            let (group, resource) = resource_of(path);
            paged::describe_error(&format!("list {resource}"), "list", group, resource, &err)
        })?;
    Ok((observed, requests))
}

#[derive(Deserialize)]
struct ConfigMap {
    #[serde(default)]
    data: BTreeMap<String, String>,
}

async fn gather_kubeadm(client: &kube::Client) -> Result<(Observed, usize), String> {
    let request = kube::core::Request::new("/api/v1/namespaces/kube-system/configmaps");
    let http = request
        .get("kubeadm-config", &Default::default())
        .map_err(|err| format!("cannot build the kubeadm-config request: {err}"))?;
    let kubeadm = match client.request::<ConfigMap>(http).await {
        Ok(mut cm) => Kubeadm::Present(cm.data.remove("ClusterConfiguration")),
        Err(kube::Error::Api(status)) if status.code == 404 => Kubeadm::Absent,
        Err(err) => {
            return Err(paged::describe_error(
                "read ConfigMap kube-system/kubeadm-config",
                "get",
                "",
                "configmaps",
                &err,
            ));
        }
    };
    Ok((
        Observed {
            kubeadm: Some(kubeadm),
            ..Observed::default()
        },
        1,
    ))
}

/// Gather pods, workload templates and kubeadm's configuration, one list after the other, each
/// page by page. Returns the facts and the number of API requests made.
pub async fn gather(client: &kube::Client) -> Result<(Observed, usize), String> {
    let mut parts = vec![gather_pods(client).await?, gather_kubeadm(client).await?];
    for (kind, path) in WORKLOADS {
        parts.push(gather_workloads(client, kind, path).await?);
    }
    let mut observed = Observed::default();
    let mut requests = 0;
    for (part, n) in parts {
        observed.merge(part);
        requests += n;
    }
    Ok((observed, requests))
}

/// Every rule this check judges (`scs-kaas checks ID`).
const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "REG-01",
        severity: "FAIL|WARN|ABORT",
        summary: "no image comes from the frozen k8s.gcr.io (FAIL in kube-system and for static pods, WARN elsewhere; ABORT when pods or workloads cannot be read)",
    },
    RuleDoc {
        id: "REG-02",
        severity: "WARN",
        summary: "kubeadm's imageRepository is not a frozen registry",
    },
    RuleDoc {
        id: "REG-04",
        severity: "INFO",
        summary: "inventory of registry hosts, digest pinning and mirror paths",
    },
];

/// Every `-a` key this check reads.
const ASSIGNMENTS: &[AssignmentDoc] = &[];

impl Check for RegistryFrozenImagesCheck {
    fn id(&self) -> &'static str {
        "registry-frozen-images-check"
    }

    fn standard(&self) -> &'static str {
        "scs-0210-v2"
    }

    fn description(&self) -> &'static str {
        "no pod or workload template pulls from the frozen k8s.gcr.io registry; kubeadm neither"
    }

    fn mode(&self) -> Mode {
        Mode::ReadOnly
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn access(&self) -> Vec<Access> {
        let mut access = vec![
            Access::read("list", "", "pods"),
            Access::read("get", "", "configmaps"),
        ];
        for (_, path) in WORKLOADS {
            let (group, resource) = resource_of(path);
            access.push(Access::read("list", group, resource));
        }
        access
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match gather(&ctx.client).await {
                Ok((observed, _)) => Outcome::from_findings(judge(&observed)),
                Err(reason) => Outcome::abort("REG-01", reason),
            }
        })
    }
}

/// Kubernetes stores at most 1 MiB per ConfigMap; anything larger is not kubeadm's.
const MAX_CLUSTER_CONFIGURATION: usize = 1 << 20;

/// Size and nesting depth of the kubeadm ClusterConfiguration, checked before parsing it.
fn yaml_within_limits(text: &str) -> Result<(), String> {
    if text.len() > MAX_CLUSTER_CONFIGURATION {
        return Err(format!(
            "it is {} bytes, more than the 1 MiB a ConfigMap can hold",
            text.len()
        ));
    }
    scs_kaas_core::yaml_depth::check(text, "ClusterConfiguration").map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_core::finding::{Severity, Status};
    use serde_json::{Value, json};

    fn pod(value: Value) -> Pod {
        serde_json::from_value(value).expect("a valid slim pod")
    }

    fn workload(value: Value) -> Workload {
        serde_json::from_value(value).expect("a valid slim workload")
    }

    fn of(findings: &[Finding], rule: &str) -> Vec<(Severity, String, Option<String>)> {
        findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.severity, f.message.clone(), f.object.clone()))
            .collect()
    }

    /// A pod owned by `owner` (kind, name) with one container per image.
    fn owned_pod(ns: &str, name: &str, owner: Option<(&str, &str)>, images: &[&str]) -> Pod {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        let owners: Vec<Value> = owner
            .map(|(kind, name)| json!({"kind": kind, "name": name, "controller": true}))
            .into_iter()
            .collect();
        pod(json!({
            "metadata": {"name": name, "namespace": ns, "ownerReferences": owners,
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"containers": containers},
            "status": {"containerStatuses": images.iter().enumerate()
                .map(|(i, image)| json!({"name": format!("c{i}"), "image": image, "imageID": "x"}))
                .collect::<Vec<_>>()}
        }))
    }

    fn deployment(ns: &str, name: &str, image: &str) -> Workload {
        workload(json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}
        }))
    }

    fn replicaset(ns: &str, name: &str, owner: &str, replicas: i32, image: &str) -> Workload {
        workload(json!({
            "metadata": {"name": name, "namespace": ns,
                         "ownerReferences": [{"kind": "Deployment", "name": owner, "controller": true}]},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}
        }))
    }

    #[test]
    fn image_references_are_parsed_like_container_runtimes_do() {
        let cases = [
            // (image, host, frozen replacement, pinned)
            (
                "k8s.gcr.io/pause:3.9",
                "k8s.gcr.io",
                Some("registry.k8s.io/pause:3.9"),
                false,
            ),
            (
                "k8s.gcr.io/foo@sha256:0123abcd",
                "k8s.gcr.io",
                Some("registry.k8s.io/foo@sha256:0123abcd"),
                true,
            ),
            (
                "k8s.gcr.io/coredns/coredns:v1.9.3@sha256:ab",
                "k8s.gcr.io",
                Some("registry.k8s.io/coredns/coredns:v1.9.3@sha256:ab"),
                true,
            ),
            (
                "K8S.GCR.IO/pause:3.9",
                "k8s.gcr.io",
                Some("registry.k8s.io/pause:3.9"),
                false,
            ),
            (
                "k8s.gcr.io:443/pause:3.9",
                "k8s.gcr.io",
                Some("registry.k8s.io/pause:3.9"),
                false,
            ),
            (
                "k8s.gcr.io./pause",
                "k8s.gcr.io",
                Some("registry.k8s.io/pause"),
                false,
            ),
            (
                " k8s.gcr.io/pause ",
                "k8s.gcr.io",
                Some("registry.k8s.io/pause"),
                false,
            ),
            ("docker.io/k8s.gcr.io/x", "docker.io", None, false),
            // No slash: an image called "k8s.gcr.io" on Docker Hub, tag 3.9.
            ("k8s.gcr.io:3.9", "docker.io", None, false),
            (
                "k8s.gcr.io.example.com/pause",
                "k8s.gcr.io.example.com",
                None,
                false,
            ),
            ("registry.k8s.io/pause:3.10", "registry.k8s.io", None, false),
            ("gcr.io/k8s-staging/pause", "gcr.io", None, false),
            ("pause:3.9", "docker.io", None, false),
            ("library/busybox", "docker.io", None, false),
            ("localhost/x", "localhost", None, false),
            ("localhost:5000/x", "localhost", None, false),
        ];
        for (image, host, replacement, pinned) in cases {
            let parsed = ImageRef::parse(image);
            assert_eq!(parsed.host, host, "{image}");
            assert_eq!(parsed.replacement().as_deref(), replacement, "{image}");
            assert_eq!(parsed.pinned(), pinned, "{image}");
        }
        assert_eq!(ImageRef::parse("k8s.gcr.io:443/pause").port, Some("443"));
    }

    #[test]
    fn mirror_paths_named_after_the_frozen_registry_are_recognised() {
        let mirror = ImageRef::parse("harbor.example.com/k8s.gcr.io/pause:3.9");
        assert_eq!(mirror.mirror_of_frozen(), Some("k8s.gcr.io"));
        assert_eq!(mirror.frozen(), None);
        assert_eq!(
            ImageRef::parse("localhost:5000/K8S.GCR.IO/pause").mirror_of_frozen(),
            Some("k8s.gcr.io")
        );
        for not in [
            "docker.io/k8s.gcr.io/x",
            "k8s.gcr.io/pause",
            "harbor.example.com/registry.k8s.io/pause",
        ] {
            assert_eq!(ImageRef::parse(not).mirror_of_frozen(), None, "{not}");
        }
    }

    #[test]
    fn compliant_cluster_passes_with_inventory() {
        let mut observed = Observed::default();
        observed.add_workload(
            "Deployment",
            &deployment("apps", "web", "registry.k8s.io/pause:3.10"),
        );
        for i in 0..3 {
            observed.add_pod(&owned_pod(
                "apps",
                &format!("web-{i}"),
                Some(("ReplicaSet", "web-1")),
                &["registry.k8s.io/pause:3.10", "quay.io/x/y@sha256:ff"],
            ));
        }
        observed.kubeadm = Some(Kubeadm::Present(Some(
            "kind: ClusterConfiguration\nimageRepository: registry.k8s.io\n".into(),
        )));
        let findings = judge(&observed);
        assert!(
            findings.iter().all(|f| f.severity == Severity::Info),
            "{findings:#?}"
        );
        assert_eq!(
            Outcome::from_findings(findings.clone()).status,
            Status::Pass
        );
        let reg01 = of(&findings, "REG-01");
        assert_eq!(reg01.len(), 1);
        assert_eq!(
            reg01[0].1,
            "no image from a frozen registry (k8s.gcr.io) in 3 pod(s) and 1 workload template(s)"
        );
        assert_eq!(
            of(&findings, "REG-02")[0].1,
            "kubeadm pulls from registry.k8s.io"
        );
        let reg04 = of(&findings, "REG-04");
        assert_eq!(
            reg04[0].1,
            "6 container image reference(s) in 3 pod(s) from 2 registry host(s): quay.io 3, \
             registry.k8s.io 3; 3 (50%) pinned by digest"
        );
    }

    #[test]
    fn reg01_kube_system_deployment_fails_once_with_pods_folded_in() {
        let image = "k8s.gcr.io/coredns/coredns:v1.9.3";
        let mut observed = Observed::default();
        observed.add_workload("Deployment", &deployment("kube-system", "coredns", image));
        observed.add_workload(
            "ReplicaSet",
            &replicaset("kube-system", "coredns-5d", "coredns", 2, image),
        );
        for i in 0..2 {
            observed.add_pod(&owned_pod(
                "kube-system",
                &format!("coredns-5d-{i}"),
                Some(("ReplicaSet", "coredns-5d")),
                &[image],
            ));
        }
        let findings = judge(&observed);
        let reg01: Vec<_> = of(&findings, "REG-01")
            .into_iter()
            .filter(|f| f.0 != Severity::Info)
            .collect();
        assert_eq!(reg01.len(), 1, "{reg01:#?}");
        assert_eq!(reg01[0].0, Severity::Error);
        assert_eq!(
            reg01[0].2.as_deref(),
            Some("kube-system/Deployment/coredns")
        );
        assert_eq!(
            reg01[0].1,
            "kube-system/Deployment/coredns container \"c0\": template names, and 2 pod(s) use, \
             k8s.gcr.io/coredns/coredns:v1.9.3 from the frozen registry k8s.gcr.io ({DERIVED})"
                .replace("{DERIVED}", DERIVED)
        );
        let fix = findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .and_then(|f| f.fix.clone())
            .unwrap();
        assert!(
            fix.starts_with("use registry.k8s.io/coredns/coredns:v1.9.3 instead"),
            "{fix}"
        );
        assert_eq!(Outcome::from_findings(findings).status, Status::Fail);
    }

    #[test]
    fn reg01_other_namespaces_warn_and_pass() {
        let mut observed = Observed::default();
        observed.add_pod(&owned_pod(
            "default",
            "debug",
            None,
            &["k8s.gcr.io/busybox:1.27"],
        ));
        let findings = judge(&observed);
        let reg01 = of(&findings, "REG-01");
        assert_eq!(reg01.len(), 1);
        assert_eq!(reg01[0].0, Severity::Warn);
        assert_eq!(reg01[0].2.as_deref(), Some("default/Pod/debug"));
        assert!(
            reg01[0]
                .1
                .contains("container \"c0\": declares k8s.gcr.io/busybox:1.27")
        );
        assert_eq!(Outcome::from_findings(findings).status, Status::Pass);
    }

    #[test]
    fn reg01_static_pods_fail_in_any_namespace() {
        let mut observed = Observed::default();
        observed.add_pod(&pod(json!({
            "metadata": {"name": "etcd-cp-0", "namespace": "platform",
                "annotations": {"kubernetes.io/config.mirror": "abc", "kubernetes.io/config.source": "file"},
                "ownerReferences": [{"kind": "Node", "name": "cp-0", "controller": true}]},
            "spec": {"containers": [{"name": "etcd", "image": "k8s.gcr.io/etcd:3.5.6-0"}]}
        })));
        let reg01 = of(&judge(&observed), "REG-01");
        assert_eq!(reg01[0].0, Severity::Error);
        assert_eq!(reg01[0].2.as_deref(), Some("platform/Pod/etcd-cp-0"));
        assert!(reg01[0].1.contains("static pod declares"), "{}", reg01[0].1);
    }

    #[test]
    fn reg01_init_and_ephemeral_containers_and_running_images_count() {
        let mut observed = Observed::default();
        observed.add_pod(&pod(json!({
            "metadata": {"name": "p", "namespace": "apps"},
            "spec": {
                "initContainers": [{"name": "setup", "image": "k8s.gcr.io/busybox:1.27"}],
                "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}],
                "ephemeralContainers": [{"name": "debugger", "image": "k8s.gcr.io/e2e-test-images/agnhost:2.39"}]
            },
            "status": {"containerStatuses": [
                // The runtime reports a frozen image for a container declared elsewhere.
                {"name": "main", "image": "k8s.gcr.io/pause:3.10"}
            ]}
        })));
        let reg01 = of(&judge(&observed), "REG-01");
        let messages: Vec<&str> = reg01.iter().map(|f| f.1.as_str()).collect();
        assert_eq!(reg01.len(), 3, "{messages:#?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("init container \"setup\""))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("ephemeral container \"debugger\""))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("container \"main\": 1 pod(s) run k8s.gcr.io/pause:3.10")),
            "{messages:#?}"
        );
    }

    #[test]
    fn reg01_cronjob_folds_its_jobs_and_their_pods() {
        let image = "k8s.gcr.io/e2e-test-images/busybox:1.29-4";
        let mut observed = Observed::default();
        observed.add_workload(
            "CronJob",
            &workload(json!({
                "metadata": {"name": "cleanup", "namespace": "monitoring"},
                "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}}}
            })),
        );
        observed.add_workload(
            "Job",
            &workload(json!({
                "metadata": {"name": "cleanup-1", "namespace": "monitoring",
                             "ownerReferences": [{"kind": "CronJob", "name": "cleanup", "controller": true}]},
                "spec": {"template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}
            })),
        );
        observed.add_pod(&owned_pod(
            "monitoring",
            "cleanup-1-x",
            Some(("Job", "cleanup-1")),
            &[image],
        ));
        let reg01 = of(&judge(&observed), "REG-01");
        assert_eq!(reg01.len(), 1, "{reg01:#?}");
        assert_eq!(reg01[0].0, Severity::Warn);
        assert_eq!(reg01[0].2.as_deref(), Some("monitoring/CronJob/cleanup"));
        assert!(
            reg01[0].1.contains("template names, and 1 pod(s) use,"),
            "{}",
            reg01[0].1
        );
    }

    #[test]
    fn reg01_old_revision_only_informs_but_a_live_one_counts() {
        let old = "k8s.gcr.io/coredns/coredns:v1.8.0";
        let mut observed = Observed::default();
        observed.add_workload(
            "Deployment",
            &deployment(
                "kube-system",
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.11.1",
            ),
        );
        observed.add_workload(
            "ReplicaSet",
            &replicaset("kube-system", "coredns-old", "coredns", 0, old),
        );
        let reg01 = of(&judge(&observed), "REG-01");
        assert_eq!(reg01.len(), 1, "{reg01:#?}");
        assert_eq!(reg01[0].0, Severity::Info);
        assert!(reg01[0].1.contains("only a rollback would bring back"));
        // Still scaled up (a rollout in progress): that is a real use.
        let mut observed = Observed::default();
        observed.add_workload(
            "ReplicaSet",
            &replicaset("kube-system", "coredns-old", "coredns", 1, old),
        );
        assert_eq!(of(&judge(&observed), "REG-01")[0].0, Severity::Error);
    }

    #[test]
    fn partial_observations_merge_like_one() {
        let image = "k8s.gcr.io/kube-proxy:v1.25.16";
        let mut templates = Observed::default();
        templates.add_workload(
            "DaemonSet",
            &workload(
                json!({"metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}}),
            ),
        );
        let mut pods = Observed::default();
        for i in 0..3 {
            pods.add_pod(&owned_pod(
                "kube-system",
                &format!("kube-proxy-{i}"),
                Some(("DaemonSet", "kube-proxy")),
                &[image],
            ));
        }
        let mut merged = Observed::default();
        merged.merge(pods);
        merged.merge(templates);
        assert_eq!((merged.pods, merged.workloads), (3, 1));
        let reg01 = of(&judge(&merged), "REG-01");
        assert!(
            reg01[0].1.contains("template names, and 3 pod(s) use,"),
            "{}",
            reg01[0].1
        );
    }

    #[test]
    fn reg02_kubeadm_image_repository() {
        let judge_repo = |kubeadm: Kubeadm| image_repository(&kubeadm);
        let frozen = judge_repo(Kubeadm::Present(Some(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nimageRepository: k8s.gcr.io\n".into(),
        )));
        assert_eq!(frozen.severity, Severity::Warn);
        assert!(frozen.message.contains("imageRepository is k8s.gcr.io"));
        assert!(
            frozen
                .fix
                .as_deref()
                .unwrap()
                .contains("imageRepository: registry.k8s.io")
        );
        for odd in ["K8S.GCR.IO/", "k8s.gcr.io:443"] {
            let f = judge_repo(Kubeadm::Present(Some(format!("imageRepository: {odd}\n"))));
            assert_eq!(f.severity, Severity::Warn, "{odd}");
        }
        let fine = judge_repo(Kubeadm::Present(Some(
            "imageRepository: registry.k8s.io\n".into(),
        )));
        assert_eq!(fine.severity, Severity::Info);
        let mirror = judge_repo(Kubeadm::Present(Some(
            "imageRepository: harbor.example.com/k8s\n".into(),
        )));
        assert_eq!(mirror.severity, Severity::Info);
        let unset = judge_repo(Kubeadm::Present(Some(
            "kind: ClusterConfiguration\n".into(),
        )));
        assert_eq!(unset.severity, Severity::Info);
        assert!(unset.message.contains("unset"));
        let broken = judge_repo(Kubeadm::Present(Some("imageRepository: [\n".into())));
        assert_eq!(broken.severity, Severity::Warn);
        assert!(broken.message.contains("not valid YAML"));
        assert_eq!(judge_repo(Kubeadm::Present(None)).severity, Severity::Warn);
        let absent = judge_repo(Kubeadm::Absent);
        assert_eq!(absent.severity, Severity::Info);
        assert!(absent.message.contains("not kubeadm-managed"));
    }

    #[test]
    fn reg02_a_deeply_nested_or_huge_cluster_configuration_is_not_parsed() {
        // 160 KB of nesting in the cluster's ConfigMap: refused before the YAML parser sees it.
        let nested = format!(
            "imageRepository: {}{}\n",
            "[".repeat(80_000),
            "]".repeat(80_000)
        );
        let deep = image_repository(&Kubeadm::Present(Some(nested)));
        assert_eq!(deep.severity, Severity::Warn);
        assert!(
            deep.message.contains("nested deeper than 256"),
            "{}",
            deep.message
        );
        let huge = format!(
            "imageRepository: registry.k8s.io\n#{}\n",
            "x".repeat(2 << 20)
        );
        let huge = image_repository(&Kubeadm::Present(Some(huge)));
        assert!(
            huge.message.contains("more than the 1 MiB"),
            "{}",
            huge.message
        );
    }

    #[test]
    fn reg04_inventory_counts_hosts_pinning_and_mirror_paths() {
        let mut observed = Observed::default();
        observed.add_pod(&owned_pod(
            "apps",
            "p",
            None,
            &[
                "harbor.example.com/k8s.gcr.io/pause:3.9",
                "nginx:1.27",
                "registry.k8s.io/pause@sha256:aa",
                "docker.io/library/redis:7",
            ],
        ));
        let findings = judge(&observed);
        let reg04 = of(&findings, "REG-04");
        assert_eq!(
            reg04[0].1,
            "4 container image reference(s) in 1 pod(s) from 3 registry host(s): docker.io 2, \
             harbor.example.com 1, registry.k8s.io 1; 1 (25%) pinned by digest"
        );
        assert!(
            reg04[1]
                .1
                .starts_with("1 reference(s) go through a mirror path"),
            "{}",
            reg04[1].1
        );
        assert!(
            reg04[1]
                .1
                .contains("harbor.example.com/k8s.gcr.io/pause:3.9")
        );
        // The mirror path alone is no REG-01 violation.
        assert_eq!(of(&findings, "REG-01")[0].0, Severity::Info);
    }

    #[test]
    fn access_lists_every_workload_kind() {
        let access = RegistryFrozenImagesCheck.access();
        for (group, resource) in [
            ("", "pods"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("batch", "cronjobs"),
            ("batch", "jobs"),
        ] {
            assert!(
                access
                    .iter()
                    .any(|a| a.group == group && a.resource == resource && a.verb == "list"),
                "{group}/{resource} missing from {access:?}"
            );
        }
        assert!(
            access
                .iter()
                .any(|a| a.resource == "configmaps" && a.verb == "get")
        );
    }
}
