//! The pure judges of `default-storage-class-check` (scs-0211, SC-01..SC-09): findings from the
//! StorageClasses, CSIDrivers and PersistentVolumes read, and from what the active probe observed.

use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass};
use scs_kaas_core::finding::{Finding, Severity};

/// The annotation that marks the default class.
pub const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// The legacy beta annotation. Kubernetes still honours it, but scs-0211 and the SCS reference
/// test name only [`DEFAULT_ANNOTATION`], so a class marked only this way FAILS SC-01.
pub const BETA_DEFAULT_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The provisioner name of classes without dynamic provisioning.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// Provisioners whose volumes live on one node (SC-06). A trailing `*` matches any suffix.
const LOCAL_PROVISIONERS: &[&str] = &[
    NO_PROVISIONER,
    "rancher.io/local-path",
    "openebs.io/local",
    "topolvm.io",
    "hostpath.csi.k8s.io",
    "k8s.io/minikube-hostpath",
    "local.csi.*",
    "lvm.csi.*",
];

/// Networked provisioners known to survive a disk or host failure (SC-07). A leading `*.`
/// matches the bare name and any prefix (`rbd.csi.ceph.com`, `rook-ceph.rbd.csi.ceph.com`).
const NETWORKED_PROVISIONERS: &[&str] = &[
    "cinder.csi.openstack.org",
    "*.rbd.csi.ceph.com",
    "*.cephfs.csi.ceph.com",
    "driver.longhorn.io",
    "ebs.csi.aws.com",
    "pd.csi.storage.gke.io",
    "disk.csi.azure.com",
    "csi.vsphere.vmware.com",
];

/// Labels that pin a volume to one node (zone labels are fine).
const HOSTNAME_KEYS: &[&str] = &["kubernetes.io/hostname"];

/// Which version of scs-0211 the judgement follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// v1 (Stable): durability properties of the default class are MUSTs.
    V1,
    /// v2 (Draft): a default class is a MUST; durability properties are recommendations.
    V2,
}

/// The judgement's knobs, from assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// scs-0211 version.
    pub semantics: Semantics,
    /// Severity of "more than one default class" (SC-02): ERROR by default, as the SCS reference
    /// test and the standard's "exactly one"; `-a multiple_default_severity=warn` lowers it.
    pub multiple_defaults: Severity,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            semantics: Semantics::V1,
            multiple_defaults: Severity::Error,
        }
    }
}

impl Rules {
    /// Severity of a durability violation (SC-04 RWO, SC-05, SC-06): MUST in v1, SHOULD in v2.
    fn durability(&self) -> Severity {
        match self.semantics {
            Semantics::V1 => Severity::Error,
            Semantics::V2 => Severity::Warn,
        }
    }

    fn version(&self) -> &'static str {
        match self.semantics {
            Semantics::V1 => "scs-0211-v1",
            Semantics::V2 => "scs-0211-v2",
        }
    }
}

/// What the read-only part reads.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// All StorageClasses.
    pub classes: Vec<StorageClass>,
    /// All CSIDrivers.
    pub drivers: Vec<CSIDriver>,
    /// All PersistentVolumes.
    pub volumes: Vec<PersistentVolume>,
}

/// How a class is marked default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `storageclass.kubernetes.io/is-default-class: "true"`.
    Ga,
    /// Only the legacy beta annotation is `"true"`.
    Beta,
}

/// How `class` is marked default, if it is.
pub fn default_marker(class: &StorageClass) -> Option<Marker> {
    let ann = class.metadata.annotations.as_ref()?;
    if ann.get(DEFAULT_ANNOTATION).map(String::as_str) == Some("true") {
        Some(Marker::Ga)
    } else if ann.get(BETA_DEFAULT_ANNOTATION).map(String::as_str) == Some("true") {
        Some(Marker::Beta)
    } else {
        None
    }
}

/// The classes marked default, in the order listed.
pub fn default_classes(classes: &[StorageClass]) -> Vec<&StorageClass> {
    classes
        .iter()
        .filter(|c| default_marker(c).is_some())
        .collect()
}

fn name(class: &StorageClass) -> &str {
    class.metadata.name.as_deref().unwrap_or("<unnamed>")
}

fn sc_object(class: &StorageClass) -> String {
    format!("storageclass/{}", name(class))
}

fn matches_pattern(provisioner: &str, pattern: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        provisioner.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix("*.") {
        provisioner == suffix || provisioner.ends_with(&format!(".{suffix}"))
    } else {
        provisioner == pattern
    }
}

/// Whether `provisioner` is known to create node-local volumes.
pub fn is_local_provisioner(provisioner: &str) -> bool {
    LOCAL_PROVISIONERS
        .iter()
        .any(|p| matches_pattern(provisioner, p))
}

/// Why a volume is bound to one node's lifecycle, if it is.
pub fn node_bound_reason(pv: &PersistentVolume) -> Option<String> {
    let spec = pv.spec.as_ref()?;
    if let Some(local) = &spec.local {
        return Some(format!("it is a local volume (path {})", local.path));
    }
    if let Some(host) = &spec.host_path {
        return Some(format!("it is a hostPath volume (path {})", host.path));
    }
    let terms = spec
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?
        .node_selector_terms
        .iter();
    for term in terms {
        for req in term.match_expressions.iter().flatten() {
            if HOSTNAME_KEYS.contains(&req.key.as_str()) && req.operator == "In" {
                let hosts = req.values.clone().unwrap_or_default().join(", ");
                return Some(format!("its node affinity pins it to host {hosts}"));
            }
        }
    }
    None
}

/// Findings on the classes, drivers and volumes (SC-01, 02, 03, 05 read-only, 06, 07, 08, 09).
pub fn judge_inventory(inv: &Inventory, rules: &Rules) -> Vec<Finding> {
    let mut out = Vec::new();
    // Annotation values other than exactly "true" are ignored by Kubernetes: say so.
    for class in &inv.classes {
        for key in [DEFAULT_ANNOTATION, BETA_DEFAULT_ANNOTATION] {
            let value = class.metadata.annotations.as_ref().and_then(|a| a.get(key));
            if let Some(v) = value
                && v != "true"
                && v != "false"
                && v.eq_ignore_ascii_case("true")
            {
                out.push(
                    Finding::warn(
                        "SC-01",
                        format!("StorageClass {} has {key}={v:?}; Kubernetes only honours exactly \"true\"", name(class)),
                    )
                    .with_object(sc_object(class))
                    .with_fix(format!("set {key}: \"true\"")),
                );
            }
        }
    }
    let defaults = default_classes(&inv.classes);
    if defaults.is_empty() {
        let which = match rules.semantics {
            Semantics::V1 => "the scs-0211-v1 reference test requires one",
            Semantics::V2 => "scs-0211-v2 requires one",
        };
        out.push(
            Finding::error(
                "SC-01",
                format!(
                    "no StorageClass is annotated {DEFAULT_ANNOTATION}=\"true\" ({} classes present); {which}",
                    inv.classes.len()
                ),
            )
            .with_fix(format!(
                "kubectl annotate storageclass <network-backed class> {DEFAULT_ANNOTATION}=true"
            )),
        );
        return out;
    }
    for class in &defaults {
        if default_marker(class) == Some(Marker::Beta) {
            out.push(
                Finding::error(
                    "SC-01",
                    format!(
                        "StorageClass {} is default only through the legacy annotation {BETA_DEFAULT_ANNOTATION}; Kubernetes still honours it, but scs-0211 and the SCS reference test recognise only {DEFAULT_ANNOTATION}",
                        name(class)
                    ),
                )
                .with_object(sc_object(class))
                .with_fix(format!(
                    "kubectl annotate storageclass {} {DEFAULT_ANNOTATION}=true",
                    name(class)
                )),
            );
        } else {
            out.push(
                Finding::info(
                    "SC-01",
                    format!(
                        "default StorageClass {} (provisioner {})",
                        name(class),
                        class.provisioner
                    ),
                )
                .with_object(sc_object(class)),
            );
        }
    }
    if defaults.len() > 1 {
        let names: Vec<&str> = defaults.iter().map(|c| name(c)).collect();
        out.push(
            Finding::new(
                "SC-02",
                rules.multiple_defaults,
                format!(
                    "{} StorageClasses are marked default ({}); scs-0211 requires exactly one (recent Kubernetes picks the newest, older versions reject claims without a class)",
                    defaults.len(),
                    names.join(", ")
                ),
            )
            .with_fix(format!(
                "keep {DEFAULT_ANNOTATION}=true on exactly one class (or -a multiple_default_severity=warn to accept several)"
            )),
        );
    }
    for class in &defaults {
        judge_default_class(class, inv, rules, &mut out);
    }
    out
}

fn judge_default_class(
    class: &StorageClass,
    inv: &Inventory,
    rules: &Rules,
    out: &mut Vec<Finding>,
) {
    let provisioner = class.provisioner.as_str();
    let object = sc_object(class);
    let driver = inv
        .drivers
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(provisioner));
    // SC-03: dynamic provisioning.
    if provisioner == NO_PROVISIONER {
        out.push(
            Finding::error(
                "SC-03",
                format!("default StorageClass {} has provisioner {NO_PROVISIONER}: claims are never provisioned dynamically", name(class)),
            )
            .with_object(object.clone())
            .with_fix("make a class with a dynamic (CSI) provisioner the default"),
        );
    } else if provisioner.starts_with("kubernetes.io/") {
        out.push(
            Finding::warn(
                "SC-03",
                format!("default StorageClass {} uses the legacy in-tree provisioner {provisioner}, which only works through CSI migration", name(class)),
            )
            .with_object(object.clone())
            .with_fix("use the CSI driver's provisioner name"),
        );
    } else if driver.is_none() {
        out.push(
            Finding::warn(
                "SC-03",
                format!(
                    "no CSIDriver object named {provisioner} exists for default StorageClass {}",
                    name(class)
                ),
            )
            .with_object(object.clone())
            .with_fix(format!(
                "install the CSI driver {provisioner} (it registers a CSIDriver object)"
            )),
        );
    } else {
        out.push(
            Finding::info(
                "SC-03",
                format!("provisioner {provisioner} is registered as a CSIDriver"),
            )
            .with_object(object.clone()),
        );
    }
    // SC-06: not local or ephemeral.
    let mut local = false;
    if is_local_provisioner(provisioner) {
        local = true;
        out.push(
            Finding::new(
                "SC-06",
                rules.durability(),
                format!(
                    "default StorageClass {} uses {provisioner}, which provisions node-local storage ({} forbids this for the default class)",
                    name(class),
                    rules.version()
                ),
            )
            .with_object(object.clone())
            .with_fix("make a network-attached class (e.g. Cinder CSI, Ceph RBD) the default"),
        );
    }
    if let Some(modes) = driver
        .and_then(|d| d.spec.volume_lifecycle_modes.as_ref())
        .filter(|m| !m.iter().any(|m| m == "Persistent"))
    {
        local = true;
        out.push(
            Finding::new(
                "SC-06",
                rules.durability(),
                format!(
                    "CSIDriver {provisioner} supports only {} volumes, not Persistent ones",
                    modes.join(", ")
                ),
            )
            .with_object(format!("csidriver/{provisioner}"))
            .with_fix("use a driver that provisions persistent volumes for the default class"),
        );
    }
    // SC-07: durability against disk/host loss cannot be observed; say what is known.
    if !local {
        let known = NETWORKED_PROVISIONERS
            .iter()
            .any(|p| matches_pattern(provisioner, p));
        let replicas = class
            .parameters
            .as_ref()
            .and_then(|p| p.get("numberOfReplicas"));
        if provisioner == "driver.longhorn.io"
            && replicas.is_some_and(|r| r.parse::<u32>().is_ok_and(|n| n < 2))
        {
            out.push(
                Finding::warn(
                    "SC-07",
                    format!("Longhorn class {} keeps numberOfReplicas={}: a single disk or host failure loses data", name(class), replicas.map_or("", |r| r.as_str())),
                )
                .with_object(object.clone())
                .with_fix("set numberOfReplicas to 2 or more"),
            );
        } else if known {
            out.push(
                Finding::info(
                    "SC-07",
                    format!("{provisioner} is a networked provisioner; protection against disk/host loss still needs the provider's attestation (MANUAL)"),
                )
                .with_object(object.clone()),
            );
        } else {
            out.push(
                Finding::warn(
                    "SC-07",
                    format!("unknown provisioner {provisioner}: whether volumes survive a disk or host failure cannot be judged (MANUAL attestation needed)"),
                )
                .with_object(object.clone()),
            );
        }
    }
    // SC-05 (read-only evidence): existing volumes of the default class.
    let volumes: Vec<&PersistentVolume> = inv
        .volumes
        .iter()
        .filter(|pv| {
            pv.spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
                == class.metadata.name.as_deref()
        })
        .collect();
    let mut bound = 0;
    for pv in &volumes {
        if let Some(reason) = node_bound_reason(pv) {
            bound += 1;
            let pv_name = pv.metadata.name.as_deref().unwrap_or("<unnamed>");
            out.push(
                Finding::new(
                    "SC-05",
                    rules.durability(),
                    format!(
                        "volume {pv_name} of default class {} is tied to a node: {reason}",
                        name(class)
                    ),
                )
                .with_object(format!("persistentvolume/{pv_name}"))
                .with_fix("the default class must provision volumes that outlive a node"),
            );
        }
    }
    if volumes.is_empty() {
        out.push(Finding::info(
            "SC-05",
            format!("no volumes of default class {} exist yet; node binding is judged by the active probe only", name(class)),
        ));
    } else if bound == 0 {
        out.push(Finding::info(
            "SC-05",
            format!(
                "none of the {} volumes of default class {} is tied to a node",
                volumes.len(),
                name(class)
            ),
        ));
    }
    // SC-08, SC-09: information.
    let expansion = class.allow_volume_expansion == Some(true);
    out.push(
        Finding::info(
            "SC-08",
            if expansion {
                format!("default class {} allows volume expansion", name(class))
            } else {
                format!(
                    "default class {} does not allow volume expansion (a MAY in scs-0211-v2)",
                    name(class)
                )
            },
        )
        .with_object(object.clone()),
    );
    let binding = class.volume_binding_mode.as_deref().unwrap_or("Immediate");
    let reclaim = class.reclaim_policy.as_deref().unwrap_or("Delete");
    let mut msg = format!(
        "default class {}: volumeBindingMode {binding}, reclaimPolicy {reclaim}",
        name(class)
    );
    if binding == "Immediate" {
        msg.push_str(" (WaitForFirstConsumer is recommended for zonal storage)");
    }
    if reclaim == "Retain" {
        msg.push_str(" (Retain keeps backend volumes after claims are deleted)");
    }
    out.push(Finding::info("SC-09", msg).with_object(object));
}

/// How a probe pod ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEnd {
    /// Exit 0 on `node`.
    Succeeded {
        /// Node the pod ran on.
        node: String,
    },
    /// Non-zero exit (or pod failure) on `node`.
    Failed {
        /// Node the pod ran on (empty when never scheduled).
        node: String,
        /// Reason/message from the pod status.
        reason: String,
    },
    /// Still not finished at the deadline.
    NotFinished {
        /// Last phase/conditions seen.
        reason: String,
    },
}

/// What the active probe observed (SC-04, SC-05 cross-node evidence).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `spec.storageClassName` the API server gave the claim created without one.
    pub assigned_class: Option<String>,
    /// `Err(reason)` when the claim was not bound by the deadline.
    pub bound: Result<(), String>,
    /// The volume bound to the claim, when bound.
    pub volume: Option<PersistentVolume>,
    /// The writer pod.
    pub writer: PodEnd,
    /// The reader pod on another node; `Err(reason)` when it could not be run (NA).
    pub reader: Result<PodEnd, String>,
}

/// Findings from the active probe, given the default classes found by the read-only part.
pub fn judge_observation(
    obs: &Observation,
    defaults: &[&StorageClass],
    rules: &Rules,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let claim = "persistentvolumeclaim/sc-probe".to_string();
    let class = obs.assigned_class.as_deref().and_then(|a| {
        defaults
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(a))
    });
    match (&obs.assigned_class, class) {
        (None, _) => out.push(
            Finding::error("SC-04", "a claim created without storageClassName was not given the default class")
                .with_object(claim.clone())
                .with_fix("enable the DefaultStorageClass admission plugin and mark one class default"),
        ),
        (Some(a), None) => out.push(
            Finding::error("SC-04", format!("a claim without storageClassName was given class {a}, which is not marked default"))
                .with_object(claim.clone()),
        ),
        (Some(a), Some(_)) => out.push(Finding::info("SC-04", format!("a claim without storageClassName was given the default class {a}"))),
    }
    if let Err(reason) = &obs.bound {
        out.push(
            Finding::error("SC-04", format!("the probe claim (1Gi, ReadWriteOnce, default class) was not bound: {reason}"))
                .with_object(claim)
                .with_fix("check the provisioner of the default class (`kubectl describe pvc`, CSI controller logs)"),
        );
        return out;
    }
    if let Some(pv) = &obs.volume {
        let pv_name = pv.metadata.name.as_deref().unwrap_or("<unnamed>");
        let object = format!("persistentvolume/{pv_name}");
        let spec = pv.spec.clone().unwrap_or_default();
        if !spec
            .access_modes
            .iter()
            .flatten()
            .any(|m| m == "ReadWriteOnce")
        {
            out.push(
                Finding::new(
                    "SC-04",
                    rules.durability(),
                    format!("volume {pv_name} does not offer ReadWriteOnce"),
                )
                .with_object(object.clone()),
            );
        }
        if let Some(class) = class
            && !class.provisioner.starts_with("kubernetes.io/")
        {
            let driver = spec.csi.as_ref().map(|c| c.driver.as_str());
            if driver != Some(class.provisioner.as_str()) {
                out.push(
                    Finding::warn(
                        "SC-04",
                        format!(
                            "volume {pv_name} was not provisioned by the class's CSI driver {} (found {})",
                            class.provisioner,
                            driver.unwrap_or("no CSI source")
                        ),
                    )
                    .with_object(object.clone()),
                );
            }
        }
        match node_bound_reason(pv) {
            Some(reason) => out.push(
                Finding::new(
                    "SC-05",
                    rules.durability(),
                    format!("the probe volume {pv_name} is tied to a node: {reason}"),
                )
                .with_object(object)
                .with_fix("the default class must provision volumes that outlive a node"),
            ),
            None => out.push(
                Finding::info(
                    "SC-05",
                    format!("the probe volume {pv_name} is not tied to a node"),
                )
                .with_object(object),
            ),
        }
    }
    let writer_node = match &obs.writer {
        PodEnd::Succeeded { node } => {
            out.push(Finding::info(
                "SC-05",
                format!("a probe pod wrote a marker to the volume on node {node}"),
            ));
            node.clone()
        }
        PodEnd::Failed { node, reason } => {
            out.push(
                Finding::error("SC-04", format!("the probe pod could not write to the default-class volume on node {node}: {reason}"))
                    .with_object("pod/sc-writer"),
            );
            return out;
        }
        PodEnd::NotFinished { reason } => {
            out.push(
                Finding::error(
                    "SC-04",
                    format!(
                        "the probe pod using the default-class volume did not finish: {reason}"
                    ),
                )
                .with_object("pod/sc-writer"),
            );
            return out;
        }
    };
    match &obs.reader {
        Err(why) => out.push(Finding::info("SC-05", format!("cross-node read not tested (NA): {why}"))),
        Ok(PodEnd::Succeeded { node }) => out.push(Finding::info(
            "SC-05",
            format!("the marker written on node {writer_node} was read back on node {node}"),
        )),
        Ok(PodEnd::Failed { node, reason }) => out.push(
            Finding::new(
                "SC-05",
                rules.durability(),
                format!("the marker written on node {writer_node} could not be read on node {node}: {reason}"),
            )
            .with_object("pod/sc-reader")
            .with_fix("the default class must provide volumes whose data follows the pod to another node"),
        ),
        Ok(PodEnd::NotFinished { reason }) => out.push(
            Finding::new(
                "SC-05",
                rules.durability(),
                format!("the volume written on node {writer_node} could not be used on another node: {reason}"),
            )
            .with_object("pod/sc-reader")
            .with_fix("the default class must provide volumes that can move between nodes"),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sc(
        name: &str,
        provisioner: &str,
        ann: serde_json::Value,
        extra: serde_json::Value,
    ) -> StorageClass {
        let mut v = json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": ann},
            "provisioner": provisioner,
        });
        if let serde_json::Value::Object(m) = extra {
            v.as_object_mut().unwrap().extend(m);
        }
        serde_json::from_value(v).unwrap()
    }

    fn default_sc(name: &str, provisioner: &str) -> StorageClass {
        sc(
            name,
            provisioner,
            json!({DEFAULT_ANNOTATION: "true"}),
            json!({}),
        )
    }

    fn driver(name: &str, modes: Option<&[&str]>) -> CSIDriver {
        let mut spec = json!({});
        if let Some(m) = modes {
            spec["volumeLifecycleModes"] = json!(m);
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    fn pv(name: &str, class: &str, extra: serde_json::Value) -> PersistentVolume {
        let mut spec = json!({"storageClassName": class, "accessModes": ["ReadWriteOnce"],
            "csi": {"driver": "cinder.csi.openstack.org", "volumeHandle": "h"}});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    fn hostname_affinity(host: &str) -> serde_json::Value {
        json!({"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}})
    }

    fn compliant() -> Inventory {
        Inventory {
            classes: vec![
                default_sc("csi-cinder", "cinder.csi.openstack.org"),
                sc("local", "rancher.io/local-path", json!({}), json!({})),
            ],
            drivers: vec![driver("cinder.csi.openstack.org", None)],
            volumes: vec![pv(
                "pv-1",
                "csi-cinder",
                json!({"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.cinder.csi.openstack.org/zone", "operator": "In", "values": ["az1"]}]}]}}}),
            )],
        }
    }

    fn v1() -> Rules {
        Rules::default()
    }

    fn v2() -> Rules {
        Rules {
            semantics: Semantics::V2,
            ..Rules::default()
        }
    }

    /// The worst severity among findings of `rule`, `None` when there are none.
    fn worst(findings: &[Finding], rule: &str) -> Option<Severity> {
        findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.severity)
            .max()
    }

    #[test]
    fn compliant_inventory_has_no_warnings_or_errors() {
        let f = judge_inventory(&compliant(), &v1());
        let bad: Vec<_> = f.iter().filter(|f| f.severity != Severity::Info).collect();
        assert!(bad.is_empty(), "{bad:#?}");
        for rule in ["SC-01", "SC-03", "SC-05", "SC-07", "SC-08", "SC-09"] {
            assert_eq!(worst(&f, rule), Some(Severity::Info), "{rule}");
        }
    }

    #[test]
    fn table_of_rule_violations() {
        struct Case {
            name: &'static str,
            inv: Inventory,
            rules: Rules,
            rule: &'static str,
            expect: Severity,
        }
        let with = |f: fn(&mut Inventory)| {
            let mut inv = compliant();
            f(&mut inv);
            inv
        };
        let cases = vec![
            Case {
                name: "no default",
                inv: with(|i| {
                    i.classes.remove(0);
                }),
                rules: v1(),
                rule: "SC-01",
                expect: Severity::Error,
            },
            Case {
                name: "no default v2",
                inv: with(|i| {
                    i.classes.remove(0);
                }),
                rules: v2(),
                rule: "SC-01",
                expect: Severity::Error,
            },
            Case {
                name: "value not exactly true",
                inv: with(|i| {
                    i.classes[0] = sc(
                        "csi-cinder",
                        "cinder.csi.openstack.org",
                        json!({DEFAULT_ANNOTATION: "True"}),
                        json!({}),
                    )
                }),
                rules: v1(),
                rule: "SC-01",
                expect: Severity::Error,
            },
            Case {
                name: "beta annotation only",
                inv: with(|i| {
                    i.classes[0] = sc(
                        "csi-cinder",
                        "cinder.csi.openstack.org",
                        json!({BETA_DEFAULT_ANNOTATION: "true"}),
                        json!({}),
                    )
                }),
                rules: v1(),
                rule: "SC-01",
                expect: Severity::Error,
            },
            Case {
                name: "two defaults fail by default",
                inv: with(|i| {
                    i.classes
                        .push(default_sc("ceph", "rook-ceph.rbd.csi.ceph.com"))
                }),
                rules: v1(),
                rule: "SC-02",
                expect: Severity::Error,
            },
            Case {
                name: "two defaults configured warn",
                inv: with(|i| {
                    i.classes
                        .push(default_sc("ceph", "rook-ceph.rbd.csi.ceph.com"))
                }),
                rules: Rules {
                    multiple_defaults: Severity::Warn,
                    ..v1()
                },
                rule: "SC-02",
                expect: Severity::Warn,
            },
            Case {
                name: "no-provisioner",
                inv: with(|i| i.classes[0] = default_sc("manual", NO_PROVISIONER)),
                rules: v1(),
                rule: "SC-03",
                expect: Severity::Error,
            },
            Case {
                name: "legacy in-tree",
                inv: with(|i| i.classes[0] = default_sc("old", "kubernetes.io/cinder")),
                rules: v1(),
                rule: "SC-03",
                expect: Severity::Warn,
            },
            Case {
                name: "missing CSIDriver",
                inv: with(|i| i.drivers.clear()),
                rules: v1(),
                rule: "SC-03",
                expect: Severity::Warn,
            },
            Case {
                name: "local provisioner v1",
                inv: with(|i| i.classes[0] = default_sc("lp", "rancher.io/local-path")),
                rules: v1(),
                rule: "SC-06",
                expect: Severity::Error,
            },
            Case {
                name: "local provisioner v2",
                inv: with(|i| i.classes[0] = default_sc("lp", "rancher.io/local-path")),
                rules: v2(),
                rule: "SC-06",
                expect: Severity::Warn,
            },
            Case {
                name: "local.csi.* pattern",
                inv: with(|i| i.classes[0] = default_sc("l", "local.csi.example.org")),
                rules: v1(),
                rule: "SC-06",
                expect: Severity::Error,
            },
            Case {
                name: "ephemeral-only driver",
                inv: with(|i| {
                    i.drivers[0] = driver("cinder.csi.openstack.org", Some(&["Ephemeral"]))
                }),
                rules: v1(),
                rule: "SC-06",
                expect: Severity::Error,
            },
            Case {
                name: "longhorn one replica",
                inv: with(|i| {
                    i.classes[0] = sc(
                        "lh",
                        "driver.longhorn.io",
                        json!({DEFAULT_ANNOTATION: "true"}),
                        json!({"parameters": {"numberOfReplicas": "1"}}),
                    );
                    i.drivers.push(driver("driver.longhorn.io", None));
                }),
                rules: v1(),
                rule: "SC-07",
                expect: Severity::Warn,
            },
            Case {
                name: "unknown provisioner",
                inv: with(|i| {
                    i.classes[0] = default_sc("x", "x.example.org");
                    i.drivers.push(driver("x.example.org", None));
                }),
                rules: v1(),
                rule: "SC-07",
                expect: Severity::Warn,
            },
            Case {
                name: "local PV of default class",
                inv: with(|i| {
                    i.volumes.push(pv(
                        "pv-2",
                        "csi-cinder",
                        json!({"local": {"path": "/mnt/disk"}}),
                    ))
                }),
                rules: v1(),
                rule: "SC-05",
                expect: Severity::Error,
            },
            Case {
                name: "hostPath PV v2",
                inv: with(|i| {
                    i.volumes.push(pv(
                        "pv-2",
                        "csi-cinder",
                        json!({"hostPath": {"path": "/tmp"}}),
                    ))
                }),
                rules: v2(),
                rule: "SC-05",
                expect: Severity::Warn,
            },
            Case {
                name: "hostname-pinned PV",
                inv: with(|i| {
                    i.volumes
                        .push(pv("pv-2", "csi-cinder", hostname_affinity("node-1")))
                }),
                rules: v1(),
                rule: "SC-05",
                expect: Severity::Error,
            },
        ];
        for case in cases {
            let f = judge_inventory(&case.inv, &case.rules);
            assert_eq!(
                worst(&f, case.rule),
                Some(case.expect),
                "{}: {f:#?}",
                case.name
            );
        }
    }

    #[test]
    fn non_default_local_classes_and_their_volumes_are_not_judged() {
        let mut inv = compliant();
        inv.volumes
            .push(pv("pv-local", "local", json!({"local": {"path": "/mnt"}})));
        let f = judge_inventory(&inv, &v1());
        assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:#?}");
    }

    #[test]
    fn rook_and_plain_ceph_names_match_the_networked_list() {
        for p in [
            "rbd.csi.ceph.com",
            "rook-ceph.rbd.csi.ceph.com",
            "x.cephfs.csi.ceph.com",
        ] {
            assert!(
                NETWORKED_PROVISIONERS.iter().any(|n| matches_pattern(p, n)),
                "{p}"
            );
        }
        assert!(
            !NETWORKED_PROVISIONERS
                .iter()
                .any(|n| matches_pattern("evilrbd.csi.ceph.com", n))
        );
        assert!(is_local_provisioner("lvm.csi.metal-stack.io"));
        assert!(!is_local_provisioner("cinder.csi.openstack.org"));
    }

    fn good_obs() -> Observation {
        Observation {
            assigned_class: Some("csi-cinder".into()),
            bound: Ok(()),
            volume: Some(pv("pvc-1", "csi-cinder", json!({}))),
            writer: PodEnd::Succeeded { node: "a".into() },
            reader: Ok(PodEnd::Succeeded { node: "b".into() }),
        }
    }

    #[test]
    fn good_observation_passes() {
        let inv = compliant();
        let defaults = default_classes(&inv.classes);
        let f = judge_observation(&good_obs(), &defaults, &v1());
        assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:#?}");
        assert!(f.iter().any(|f| f.message.contains("read back on node b")));
    }

    #[test]
    fn table_of_observation_failures() {
        let inv = compliant();
        let defaults = default_classes(&inv.classes);
        type Break = fn(&mut Observation);
        let cases: Vec<(&str, Break, Rules, &str, Severity)> = vec![
            (
                "not defaulted",
                |o| o.assigned_class = None,
                v1(),
                "SC-04",
                Severity::Error,
            ),
            (
                "wrong class",
                |o| o.assigned_class = Some("local".into()),
                v1(),
                "SC-04",
                Severity::Error,
            ),
            (
                "never bound",
                |o| o.bound = Err("Pending".into()),
                v1(),
                "SC-04",
                Severity::Error,
            ),
            (
                "no RWO",
                |o| {
                    o.volume
                        .as_mut()
                        .unwrap()
                        .spec
                        .as_mut()
                        .unwrap()
                        .access_modes = Some(vec!["ReadWriteMany".into()])
                },
                v1(),
                "SC-04",
                Severity::Error,
            ),
            (
                "other driver",
                |o| o.volume.as_mut().unwrap().spec.as_mut().unwrap().csi = None,
                v1(),
                "SC-04",
                Severity::Warn,
            ),
            (
                "local PV",
                |o| {
                    o.volume.as_mut().unwrap().spec.as_mut().unwrap().local =
                        Some(k8s_openapi::api::core::v1::LocalVolumeSource {
                            path: "/x".into(),
                            fs_type: None,
                        })
                },
                v1(),
                "SC-05",
                Severity::Error,
            ),
            (
                "local PV v2",
                |o| {
                    o.volume.as_mut().unwrap().spec.as_mut().unwrap().local =
                        Some(k8s_openapi::api::core::v1::LocalVolumeSource {
                            path: "/x".into(),
                            fs_type: None,
                        })
                },
                v2(),
                "SC-05",
                Severity::Warn,
            ),
            (
                "write failed",
                |o| {
                    o.writer = PodEnd::Failed {
                        node: "a".into(),
                        reason: "read-only fs".into(),
                    }
                },
                v1(),
                "SC-04",
                Severity::Error,
            ),
            (
                "writer stuck",
                |o| {
                    o.writer = PodEnd::NotFinished {
                        reason: "Pending".into(),
                    }
                },
                v1(),
                "SC-04",
                Severity::Error,
            ),
            (
                "read failed",
                |o| {
                    o.reader = Ok(PodEnd::Failed {
                        node: "b".into(),
                        reason: "marker missing".into(),
                    })
                },
                v1(),
                "SC-05",
                Severity::Error,
            ),
            (
                "read failed v2",
                |o| {
                    o.reader = Ok(PodEnd::Failed {
                        node: "b".into(),
                        reason: "marker missing".into(),
                    })
                },
                v2(),
                "SC-05",
                Severity::Warn,
            ),
            (
                "reader unschedulable",
                |o| {
                    o.reader = Ok(PodEnd::NotFinished {
                        reason: "volume node affinity conflict".into(),
                    })
                },
                v1(),
                "SC-05",
                Severity::Error,
            ),
        ];
        for (name, brk, rules, rule, expect) in cases {
            let mut obs = good_obs();
            brk(&mut obs);
            let f = judge_observation(&obs, &defaults, &rules);
            assert_eq!(worst(&f, rule), Some(expect), "{name}: {f:#?}");
        }
    }

    #[test]
    fn single_node_cluster_reports_cross_node_read_as_not_applicable() {
        let inv = compliant();
        let defaults = default_classes(&inv.classes);
        let mut obs = good_obs();
        obs.reader = Err("only one schedulable node".into());
        let f = judge_observation(&obs, &defaults, &v1());
        assert!(f.iter().all(|f| f.severity == Severity::Info));
        assert!(f.iter().any(|f| f.message.contains("NA")));
    }
}
