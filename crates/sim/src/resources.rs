//! The table of resource kinds the simulated server serves.
//!
//! Everything the server knows about a kind (URL plural, scope, discovery data) lives in one
//! [`ResourceType`] entry of [`RESOURCES`]; adding a kind (a Cluster API type, `leases`, ...) means
//! adding one entry here.

/// One served resource kind.
#[derive(Debug)]
pub struct ResourceType {
    /// API group, `""` for core.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Kind, e.g. `Pod`.
    pub kind: &'static str,
    /// URL plural, e.g. `pods`.
    pub plural: &'static str,
    /// Singular name for discovery.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts (`po`, `deploy`).
    pub short_names: &'static [&'static str],
    /// Discovery categories (`all`).
    pub categories: &'static [&'static str],
    /// Served subresources besides the object itself (`status`, `log`).
    pub subresources: &'static [&'static str],
    /// Review-style kinds (SelfSubjectAccessReview) accept only `create` and store nothing.
    pub review: bool,
}

const ALL: &[&str] = &["all"];

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        short_names: &[],
        categories: &[],
        subresources: &[],
        review: false,
    }
}

const fn short(mut r: ResourceType, names: &'static [&'static str]) -> ResourceType {
    r.short_names = names;
    r
}

const fn in_all(mut r: ResourceType) -> ResourceType {
    r.categories = ALL;
    r
}

const fn with_status(mut r: ResourceType) -> ResourceType {
    r.subresources = &["status"];
    r
}

/// Workload kinds with replicas: `status` and the `autoscaling/v1` `scale` subresource.
const fn scalable(mut r: ResourceType) -> ResourceType {
    r.subresources = &["status", "scale"];
    r
}

const fn review(mut r: ResourceType) -> ResourceType {
    r.review = true;
    r
}

/// Every served kind. Order matters only for discovery output.
pub static RESOURCES: &[ResourceType] = &[
    with_status(short(
        kind("", "v1", "Namespace", "namespaces", "namespace", false),
        &["ns"],
    )),
    with_status(short(
        kind("", "v1", "Node", "nodes", "node", false),
        &["no"],
    )),
    ResourceType {
        subresources: &["status", "log", "exec"],
        ..in_all(short(kind("", "v1", "Pod", "pods", "pod", true), &["po"]))
    },
    with_status(in_all(short(
        kind("", "v1", "Service", "services", "service", true),
        &["svc"],
    ))),
    short(
        kind("", "v1", "Endpoints", "endpoints", "endpoints", true),
        &["ep"],
    ),
    with_status(short(
        kind(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            true,
        ),
        &["pvc"],
    )),
    with_status(short(
        kind(
            "",
            "v1",
            "PersistentVolume",
            "persistentvolumes",
            "persistentvolume",
            false,
        ),
        &["pv"],
    )),
    short(
        kind("", "v1", "ConfigMap", "configmaps", "configmap", true),
        &["cm"],
    ),
    short(kind("", "v1", "Event", "events", "event", true), &["ev"]),
    kind("", "v1", "Secret", "secrets", "secret", true),
    ResourceType {
        subresources: &["token"],
        ..short(
            kind(
                "",
                "v1",
                "ServiceAccount",
                "serviceaccounts",
                "serviceaccount",
                true,
            ),
            &["sa"],
        )
    },
    scalable(in_all(short(
        kind(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            "deployment",
            true,
        ),
        &["deploy"],
    ))),
    scalable(in_all(short(
        kind(
            "apps",
            "v1",
            "ReplicaSet",
            "replicasets",
            "replicaset",
            true,
        ),
        &["rs"],
    ))),
    with_status(in_all(short(
        kind("apps", "v1", "DaemonSet", "daemonsets", "daemonset", true),
        &["ds"],
    ))),
    scalable(in_all(short(
        kind(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            "statefulset",
            true,
        ),
        &["sts"],
    ))),
    with_status(in_all(kind("batch", "v1", "Job", "jobs", "job", true))),
    with_status(in_all(short(
        kind("batch", "v1", "CronJob", "cronjobs", "cronjob", true),
        &["cj"],
    ))),
    short(
        kind(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            "storageclass",
            false,
        ),
        &["sc"],
    ),
    kind(
        "storage.k8s.io",
        "v1",
        "CSIDriver",
        "csidrivers",
        "csidriver",
        false,
    ),
    kind(
        "storage.k8s.io",
        "v1",
        "CSINode",
        "csinodes",
        "csinode",
        false,
    ),
    kind(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
    ),
    kind(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
    ),
    short(
        kind(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            "networkpolicy",
            true,
        ),
        &["netpol"],
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        "ingressclass",
        false,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        false,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        false,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        true,
    ),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        true,
    ),
    // Cluster API (OpenStack provider) for management-cluster scenarios (kubeapi-access-check).
    kind(
        "infrastructure.cluster.x-k8s.io",
        "v1beta1",
        "OpenStackCluster",
        "openstackclusters",
        "openstackcluster",
        true,
    ),
    review(kind(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        false,
    )),
    review(kind(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        false,
    )),
];

/// Index of a kind in [`RESOURCES`]; the store keys its tables by it.
pub type ResourceId = usize;

impl ResourceType {
    /// `apiVersion` of objects of this kind (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the kind serves the given subresource.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }
}

/// The kind served at `group/version/plural`, if any.
pub fn find(group: &str, version: &str, plural: &str) -> Option<ResourceId> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The kind named `kind` (`Pod`), if served. Kind names are unique in [`RESOURCES`].
pub fn by_kind(kind: &str) -> Option<ResourceId> {
    RESOURCES.iter().position(|r| r.kind == kind)
}

/// The `(group, version)` pairs served, core first, each once, in table order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_plurals_are_unique() {
        for (i, a) in RESOURCES.iter().enumerate() {
            for b in &RESOURCES[i + 1..] {
                assert_ne!(a.kind, b.kind);
                assert!(a.plural != b.plural || a.group != b.group);
            }
        }
    }

    #[test]
    fn lookup_finds_served_kinds_only() {
        assert_eq!(
            RESOURCES[find("apps", "v1", "deployments").unwrap()].kind,
            "Deployment"
        );
        assert_eq!(find("apps", "v1", "pods"), None);
        assert_eq!(RESOURCES[by_kind("Pod").unwrap()].api_version(), "v1");
        assert_eq!(by_kind("Widget"), None);
    }
}
