//! The spec list of the simulated e2e suite: how many specs the upstream suite of each minor
//! version has (the one data table), and made-up but realistic spec names — the version's
//! count of `[Conformance]` specs, a NetworkPolicy group, and storage specs filling up to the
//! total, as a real `e2e.test` lists them.

/// Per minor version: (minor, `[Conformance]` specs, all specs), as the CNCF certification
/// submissions' `e2e.log` files of that minor report them (`Will run N of M specs`, certified
/// conformance): v1.24–v1.27 kind, v1.28 kind and k3s, v1.29 and v1.30 kubespray, v1.31 k3s,
/// v1.32 k3s (from its JUnit), v1.33 civo, v1.34 k3s, v1.35 kind. The total moves by a few
/// specs between patch releases; the `[Conformance]` count does not.
pub const SUITES: &[(u64, usize, usize)] = &[
    (24, 356, 6971),
    (25, 362, 7067),
    (26, 368, 7069),
    (27, 378, 7207),
    (28, 380, 7387),
    (29, 388, 7408),
    (30, 402, 7199),
    (31, 404, 6603),
    (32, 411, 6622),
    (33, 419, 6735),
    (34, 424, 7137),
    (35, 441, 7348),
];

/// The minor versions [`SUITES`] covers, for messages (`v1.24–v1.35`).
pub fn known_minors() -> String {
    match (SUITES.first(), SUITES.last()) {
        (Some(first), Some(last)) => format!("v1.{}–v1.{}", first.0, last.0),
        _ => String::new(),
    }
}

/// `(conformance specs, all specs)` of Kubernetes 1.`minor`, if known.
pub fn counts(minor: u64) -> Option<(usize, usize)> {
    SUITES
        .iter()
        .find(|(m, _, _)| *m == minor)
        .map(|(_, c, t)| (*c, *t))
}

/// The minor version of a `vMAJOR.MINOR.PATCH[+suffix]` version string (major 1 only).
pub fn minor_of(version: &str) -> Option<u64> {
    let mut parts = version.trim_start_matches('v').split(['.', '+', '-']);
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}

/// One spec of the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The spec's full text, e.g. `[sig-network] Services should ... [Conformance]`.
    pub name: String,
    /// Where it is defined, e.g. `k8s.io/kubernetes/test/e2e/network/service.go:787`.
    pub location: String,
}

/// (sig, area, source file below `test/e2e/`) of the conformance specs.
const AREAS: &[(&str, &str, &str)] = &[
    ("sig-network", "Services", "network/service.go"),
    ("sig-network", "DNS", "network/dns.go"),
    ("sig-network", "EndpointSlice", "network/endpointslice.go"),
    ("sig-network", "Proxy version v1", "network/proxy.go"),
    ("sig-network", "Ingress API", "network/ingress.go"),
    ("sig-network", "HostPort", "network/hostport.go"),
    (
        "sig-network",
        "Networking Granular Checks: Pods",
        "common/network/networking.go",
    ),
    ("sig-node", "Pods", "common/node/pods.go"),
    (
        "sig-node",
        "Container Runtime blackbox test",
        "common/node/runtime.go",
    ),
    (
        "sig-node",
        "Probing container",
        "common/node/container_probe.go",
    ),
    (
        "sig-node",
        "Security Context",
        "common/node/security_context.go",
    ),
    ("sig-node", "ConfigMap", "common/node/configmap.go"),
    ("sig-node", "Downward API", "common/node/downwardapi.go"),
    ("sig-node", "Lease", "common/node/lease.go"),
    (
        "sig-node",
        "Kubelet when scheduling a busybox command in a pod",
        "common/node/kubelet.go",
    ),
    ("sig-node", "RuntimeClass", "common/node/runtimeclass.go"),
    ("sig-apps", "Deployment", "apps/deployment.go"),
    ("sig-apps", "ReplicaSet", "apps/replica_set.go"),
    (
        "sig-apps",
        "StatefulSet Basic StatefulSet functionality",
        "apps/statefulset.go",
    ),
    ("sig-apps", "Daemon set [Serial]", "apps/daemon_set.go"),
    ("sig-apps", "Job", "apps/job.go"),
    ("sig-apps", "CronJob", "apps/cronjob.go"),
    ("sig-apps", "DisruptionController", "apps/disruption.go"),
    (
        "sig-apps",
        "ControllerRevision [Serial]",
        "apps/controller_revision.go",
    ),
    ("sig-api-machinery", "Watchers", "apimachinery/watch.go"),
    (
        "sig-api-machinery",
        "Garbage collector",
        "apimachinery/garbage_collector.go",
    ),
    (
        "sig-api-machinery",
        "ResourceQuota",
        "apimachinery/resource_quota.go",
    ),
    (
        "sig-api-machinery",
        "Namespaces [Serial]",
        "apimachinery/namespace.go",
    ),
    (
        "sig-api-machinery",
        "CustomResourceDefinition resources [Privileged:ClusterAdmin]",
        "apimachinery/custom_resource_definition.go",
    ),
    (
        "sig-api-machinery",
        "AdmissionWebhook [Privileged:ClusterAdmin]",
        "apimachinery/webhook.go",
    ),
    (
        "sig-api-machinery",
        "Servers with support for Table transformation",
        "apimachinery/table_conversion.go",
    ),
    (
        "sig-api-machinery",
        "FieldValidation",
        "apimachinery/field_validation.go",
    ),
    (
        "sig-storage",
        "EmptyDir volumes",
        "common/storage/empty_dir.go",
    ),
    (
        "sig-storage",
        "Projected secret",
        "common/storage/projected_secret.go",
    ),
    ("sig-storage", "Secrets", "common/storage/secrets_volume.go"),
    ("sig-storage", "CSIInlineVolumes", "storage/csi_inline.go"),
    (
        "sig-storage",
        "CSIStorageCapacity",
        "storage/csistoragecapacity.go",
    ),
    (
        "sig-cli",
        "Kubectl client Kubectl run pod",
        "kubectl/kubectl.go",
    ),
    (
        "sig-cli",
        "Kubectl client Proxy server",
        "kubectl/kubectl.go",
    ),
    ("sig-auth", "ServiceAccounts", "auth/service_accounts.go"),
    (
        "sig-auth",
        "Certificates API [Privileged:ClusterAdmin]",
        "auth/certificates.go",
    ),
    (
        "sig-scheduling",
        "SchedulerPredicates [Serial]",
        "scheduling/predicates.go",
    ),
    ("sig-scheduling", "LimitRange", "scheduling/limit_range.go"),
    (
        "sig-instrumentation",
        "Events API",
        "instrumentation/events.go",
    ),
    (
        "sig-architecture",
        "Conformance Tests",
        "architecture/conformance.go",
    ),
];

/// Behaviours combined with [`AREAS`] (in our own words).
const BEHAVIOURS: &[&str] = &[
    "be created, read, patched and deleted through the API",
    "report its status once its pods are ready",
    "be listed with a label selector",
    "be watched from a known resourceVersion",
    "reject an update that changes an immutable field",
    "keep serving while its pods are replaced",
    "apply the documented defaults on create",
    "record events for what it does",
    "remove its dependents when it is deleted",
    "accept a server-side apply of its spec",
];

/// Behaviours of the NetworkPolicy group (in our own words).
const NETPOL: &[&str] = &[
    "support a 'default-deny-ingress' policy",
    "support a 'default-deny-all' policy",
    "allow ingress access on one named port",
    "allow ingress access from namespace on one named port",
    "allow egress access on one named port",
    "allow ingress access from updated namespace",
    "allow ingress access from updated pod",
    "deny ingress from pods on other namespaces",
    "deny ingress access to updated pod",
    "deny egress from pods based on PodSelector",
    "deny egress from all pods in a namespace",
    "work with Ingress, Egress specified together",
    "support allow-all policy",
    "enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
    "enforce policy based on PodSelector with MatchExpressions",
    "enforce policy based on NamespaceSelector with MatchExpressions",
    "enforce policy based on PodSelector or NamespaceSelector",
    "enforce policy based on PodSelector and NamespaceSelector",
    "enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
    "enforce policy based on Ports",
    "enforce multiple, stacked policies with overlapping podSelectors",
    "support allow-all policy on a single port",
    "allow ingress access on one named port for multiple pods",
    "enforce updated policy",
    "allow ingress access from pods in a namespace with a matching label",
    "enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
    "enforce ingress policy allowing any port traffic to a server on a specific protocol",
    "enforce multiple ingress policies with ingress allow-all policy taking precedence",
    "enforce multiple egress policies with egress allow-all policy taking precedence",
    "stop enforcing policies after they are deleted",
    "allow egress access to server in CIDR block",
    "enforce except clause while egress access to server in CIDR block",
    "ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
    "enforce policies to check ingress and egress policies can be controlled independently based on PodSelector",
    "not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
    "properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
    "not allow access by TCP when a policy specifies only UDP",
    "enforce policy based on Ports with an endPort range",
];

const DRIVERS: &[&str] = &[
    "local",
    "hostPath",
    "hostPathSymlink",
    "emptydir",
    "nfs",
    "iscsi",
    "cinder",
    "azure-disk",
    "azure-file",
    "vsphere",
    "gcepd",
    "aws",
    "ceph",
    "csi-hostpath",
];

const PATTERNS: &[&str] = &[
    "Dynamic PV (default fs)",
    "Dynamic PV (ext4)",
    "Dynamic PV (xfs)",
    "Dynamic PV (ntfs)",
    "Dynamic PV (block volmode)",
    "Dynamic PV (filesystem volmode)",
    "Pre-provisioned PV (default fs)",
    "Pre-provisioned PV (ext4)",
    "Pre-provisioned PV (block volmode)",
    "Pre-provisioned PV (filesystem volmode)",
    "Inline-volume (default fs)",
    "Inline-volume (ext3)",
    "Generic Ephemeral-volume (default fs) (late-binding)",
    "Generic Ephemeral-volume (block volmode) (immediate-binding)",
];

const STORAGE: &[&str] = &[
    "volumes should store data",
    "volumes should allow exec of files on the volume",
    "subPath should support existing directory",
    "subPath should support existing single file [LinuxOnly]",
    "subPath should support file as subpath [LinuxOnly]",
    "subPath should fail if subpath directory is outside the volume [Slow] [LinuxOnly]",
    "subPath should support readOnly directory specified in the volumeMount",
    "subPath should unmount if pod is gracefully deleted while kubelet is down [Disruptive] [Slow] [LinuxOnly]",
    "multiVolume [Slow] should access to two volumes with the same volume mode and retain data across pod recreation on the same node",
    "multiVolume [Slow] should concurrently access the single volume from pods on the same node",
    "provisioning should provision storage with mount options",
    "provisioning should provision storage with pvc data source",
    "provisioning should mount multiple PV pointing to the same storage on the same node",
    "volumeIO should write files of various sizes, verify size, validate content [Slow]",
    "volumeMode should not mount / map unused volumes in a pod [LinuxOnly]",
    "volumeMode should fail to use a volume in a pod with mismatched mode [Slow]",
    "volumeLimits should verify that all csinodes have volume limits",
    "volume-expand should resize volume when PVC is edited while pod is using it",
    "volume-expand should not allow expansion of pvcs without AllowVolumeExpansion property",
    "ephemeral should create read-only inline ephemeral volume",
    "ephemeral should support multiple inline ephemeral volumes",
    "fsgroupchangepolicy (Always)[LinuxOnly], pod created with an initial fsgroup, new pod fsgroup applied to volume contents",
    "fsgroupchangepolicy (OnRootMismatch)[LinuxOnly], pod created with an initial fsgroup, volume contents ownership changed via chgrp in first pod, new pod with same fsgroup skips ownership changes to the volume contents",
    "snapshottable [Feature:VolumeSnapshotDataSource] volume snapshot controller should check snapshot fields, check restore correctly works after modifying source data, check deletion (persistent)",
    "topology should provision a volume and schedule a pod with AllowedTopologies",
    "topology should fail to schedule a pod which has topologies that conflict with AllowedTopologies",
    "disruptive [Disruptive] [LinuxOnly] Should test that pv written before kubelet restart is readable after restart.",
    "capacity provides storage capacity information",
    "read-write-once-pod [MinimumKubeletVersion:1.27] should preempt lower priority pods using ReadWriteOncePod volumes",
    "volume-stress multiple pods should access different volumes repeatedly [Slow] [Serial]",
    "volume-lifecycle-performance should provision volumes at scale within performance constraints [Slow] [Serial]",
    "subPath should verify container cannot write to subpath readonly volumes [Slow]",
    "subPath should support restarting containers using directory as subpath [Slow]",
    "subPath should support creating multiple subpath from same volumes [Slow]",
    "provisioning should provision storage with any volume data source [Serial]",
    "volumes should allow exec of files on the volume [Feature:Windows]",
];

/// Spec names of the suite of Kubernetes 1.`minor` in definition order: the `[Conformance]`
/// specs first, then the NetworkPolicy group, then storage specs up to the total; `None` if
/// the minor version is not in [`SUITES`].
pub fn catalogue(minor: u64) -> Option<Vec<Spec>> {
    let (conformance, total) = counts(minor)?;
    let mut specs = Vec::with_capacity(total);
    let line = |i: usize| 40 + (i * 37) % 1900;
    specs.push(Spec {
        name: "[sig-network] Services should serve a basic endpoint from pods [Conformance]".into(),
        location: "k8s.io/kubernetes/test/e2e/network/service.go:787".into(),
    });
    specs.push(Spec {
        name: "[sig-network] NetworkPolicy API should support creating NetworkPolicy API operations [Conformance]".into(),
        location: "k8s.io/kubernetes/test/e2e/network/netpol/network_policy_api.go:50".into(),
    });
    specs.push(Spec {
        name: "[sig-node] NoExecuteTaintManager Single Pod [Serial] removing taint cancels eviction [Disruptive] [Conformance]".into(),
        location: "k8s.io/kubernetes/test/e2e/node/taints.go:290".into(),
    });
    let mut i = 0;
    'outer: for behaviour in BEHAVIOURS {
        for (sig, area, file) in AREAS {
            if specs.len() >= conformance {
                break 'outer;
            }
            let tags = match i % 9 {
                0 => " [NodeConformance]",
                4 => " [LinuxOnly]",
                _ => "",
            };
            specs.push(Spec {
                name: format!("[{sig}] {area} should {behaviour}{tags} [Conformance]"),
                location: format!("k8s.io/kubernetes/test/e2e/{file}:{}", line(i)),
            });
            i += 1;
        }
    }
    for (j, behaviour) in NETPOL.iter().enumerate() {
        specs.push(Spec {
            name: format!(
                "[sig-network] NetworkPolicyLegacy [LinuxOnly] NetworkPolicy between server and client should {behaviour}"
            ),
            location: format!(
                "k8s.io/kubernetes/test/e2e/network/netpol/network_legacy.go:{}",
                line(j)
            ),
        });
    }
    'fill: for behaviour in STORAGE {
        for pattern in PATTERNS {
            for driver in DRIVERS {
                if specs.len() >= total {
                    break 'fill;
                }
                specs.push(Spec {
                    name: format!(
                        "[sig-storage] In-tree Volumes [Driver: {driver}] [Testpattern: {pattern}] {behaviour}"
                    ),
                    location: "k8s.io/kubernetes/test/e2e/storage/testsuites/base.go:106".into(),
                });
            }
        }
    }
    Some(specs)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_known_version_has_its_counts_of_unique_names() {
        let focus = regex::Regex::new(r"\[Conformance\]").unwrap();
        for (minor, conformance, total) in SUITES {
            let specs = catalogue(*minor).unwrap();
            assert_eq!(specs.len(), *total, "v1.{minor}");
            let names: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names.len(), *total, "v1.{minor}: names are unique");
            assert_eq!(
                specs.iter().filter(|s| focus.is_match(&s.name)).count(),
                *conformance,
                "v1.{minor}"
            );
            let netpol = specs
                .iter()
                .filter(|s| s.name.contains("NetworkPolicy"))
                .count();
            assert_eq!(netpol, NETPOL.len() + 1, "v1.{minor}");
        }
        assert_eq!(counts(33), Some((419, 6735)));
        assert_eq!(counts(24), Some((356, 6971)));
        assert_eq!(catalogue(23), None);
        assert_eq!(minor_of("v1.35.8"), Some(35));
        assert_eq!(minor_of("v1.33.5+k3s1"), Some(33));
        assert_eq!(minor_of("v2.0.0"), None);
        assert_eq!(known_minors(), "v1.24–v1.35");
    }
}
