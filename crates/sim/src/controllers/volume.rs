//! Volume provisioner: binds claims to new volumes the way each storage class's scenario
//! `behaviour` says, honours `WaitForFirstConsumer`, assigns the default class to claims without
//! one, and deletes or releases volumes whose claims are gone.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::object::{self, annotation, at, is_terminating, name, namespace, str_at, uid};
use crate::scenario::Behaviour;
use crate::world::{Action, Controller, World};

/// Annotation the scheduler sets on a delayed claim to name the node the consumer goes to.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Annotation naming the provisioner responsible for a claim; also marks "already tried".
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The default-class annotation.
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The legacy default-class annotation, still honoured upstream.
pub const BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// Annotation on a simulated volume saying how it behaves (read by the probe protocol).
pub const BEHAVIOUR_ANNOTATION: &str = "sim.scs-kaas.io/behaviour";

/// The provisioner that does nothing upstream (statically provisioned local volumes).
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// Provisions volumes per storage-class behaviour.
pub struct VolumeProvisioner {
    behaviours: BTreeMap<String, Behaviour>,
}

impl VolumeProvisioner {
    /// A provisioner that knows the scenario's class behaviours; classes created later behave
    /// `network`, or `never` for `kubernetes.io/no-provisioner`.
    pub fn new(behaviours: BTreeMap<String, Behaviour>) -> Self {
        VolumeProvisioner { behaviours }
    }

    fn behaviour(&self, class: &Value) -> Behaviour {
        match self.behaviours.get(name(class)) {
            Some(b) => *b,
            None if str_at(class, "provisioner") == Some(NO_PROVISIONER) => Behaviour::Never,
            None => Behaviour::Network,
        }
    }
}

/// `volumeBindingMode` of a class (`Immediate` when absent).
pub fn binding_mode(class: &Value) -> &str {
    str_at(class, "volumeBindingMode").unwrap_or("Immediate")
}

fn is_default(class: &Value) -> bool {
    annotation(class, DEFAULT_CLASS) == Some("true")
        || annotation(class, BETA_DEFAULT_CLASS) == Some("true")
}

/// The default class: among classes annotated default, the newest; ties by name, as upstream.
pub fn default_class(classes: &[Value]) -> Option<&Value> {
    classes.iter().filter(|c| is_default(c)).max_by(|a, b| {
        let created = |c: &Value| {
            str_at(c, "metadata.creationTimestamp")
                .unwrap_or("")
                .to_string()
        };
        created(a)
            .cmp(&created(b))
            .then_with(|| name(b).cmp(name(a)))
    })
}

/// The class a claim uses: its `storageClassName`, or the default class when the field is absent.
pub fn resolve_class(world: &dyn World, claim: &Value) -> Option<Value> {
    match at(claim, "spec.storageClassName") {
        Some(Value::String(class)) if !class.is_empty() => world.get("StorageClass", None, class),
        Some(Value::String(_)) => None,
        _ => default_class(&world.list("StorageClass", None, None)).cloned(),
    }
}

impl Controller for VolumeProvisioner {
    fn name(&self) -> &'static str {
        "volume-provisioner"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["PersistentVolumeClaim", "PersistentVolume", "StorageClass"]
    }

    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action> {
        let claims = world.list("PersistentVolumeClaim", None, None);
        let volumes = world.list("PersistentVolume", None, None);
        if claims.is_empty() && volumes.is_empty() {
            return Vec::new();
        }
        let classes = world.list("StorageClass", None, None);
        let mut actions = Vec::new();
        for claim in claims.iter().filter(|c| !is_terminating(c)) {
            self.reconcile_claim(world, claim, &classes, &now, &mut actions);
        }
        let live: HashSet<&str> = claims.iter().map(uid).collect();
        for pv in &volumes {
            reclaim(pv, &live, &mut actions);
        }
        actions
    }
}

impl VolumeProvisioner {
    fn reconcile_claim(
        &self,
        world: &dyn World,
        claim: &Value,
        classes: &[Value],
        now: &jiff::Timestamp,
        actions: &mut Vec<Action>,
    ) {
        if str_at(claim, "spec.volumeName").is_some_and(|v| !v.is_empty()) {
            expand(world, claim, actions);
            return;
        }
        let class = match at(claim, "spec.storageClassName") {
            Some(Value::String(class)) if class.is_empty() => return,
            Some(Value::String(class)) => classes.iter().find(|c| name(c) == class),
            _ => {
                // Retroactive default assignment, as upstream does since 1.28.
                if let Some(default) = default_class(classes) {
                    let mut updated = claim.clone();
                    updated["spec"]["storageClassName"] = json!(name(default));
                    actions.push(Action::Update(updated));
                }
                return;
            }
        };
        let Some(class) = class else {
            let wanted = str_at(claim, "spec.storageClassName").unwrap_or("");
            fail_once(
                claim,
                "",
                &format!("storageclass.storage.k8s.io \"{wanted}\" not found"),
                actions,
            );
            return;
        };
        let selected = annotation(claim, SELECTED_NODE);
        if binding_mode(class) == "WaitForFirstConsumer" && selected.is_none() {
            return;
        }
        let provisioner = str_at(class, "provisioner").unwrap_or("");
        let behaviour = self.behaviour(class);
        if behaviour == Behaviour::Never {
            let message = format!(
                "failed to provision volume with StorageClass \"{}\": rpc error: code = ResourceExhausted \
                 desc = the simulated backend of {provisioner} never provisions volumes",
                name(class)
            );
            fail_once(claim, provisioner, &message, actions);
            return;
        }
        let node = match (behaviour, selected) {
            (Behaviour::Local, Some(node)) => Some(node.to_string()),
            (Behaviour::Local, None) => first_ready_node(world),
            _ => None,
        };
        if behaviour == Behaviour::Local && node.is_none() {
            fail_once(
                claim,
                provisioner,
                "no ready node to place a local volume on",
                actions,
            );
            return;
        }
        let pv_name = format!("pvc-{}", uid(claim));
        let pv = world
            .get("PersistentVolume", None, &pv_name)
            .unwrap_or_else(|| volume(claim, class, behaviour, &pv_name, node.as_deref()));
        if world.get("PersistentVolume", None, &pv_name).is_none() {
            actions.push(Action::Create(pv.clone()));
        }
        let mut bound = claim.clone();
        bound["spec"]["volumeName"] = json!(pv_name);
        object::set_annotation(&mut bound, "pv.kubernetes.io/bind-completed", "yes");
        object::set_annotation(&mut bound, "pv.kubernetes.io/bound-by-controller", "yes");
        object::set_annotation(&mut bound, STORAGE_PROVISIONER, provisioner);
        object::set_annotation(
            &mut bound,
            "volume.beta.kubernetes.io/storage-provisioner",
            provisioner,
        );
        bound["status"] = json!({
            "phase": "Bound",
            "accessModes": pv["spec"]["accessModes"].clone(),
            "capacity": pv["spec"]["capacity"].clone(),
        });
        actions.push(Action::Update(bound));
        actions.push(Action::Event {
            namespace: namespace(claim).to_string(),
            involved: object::involved(claim),
            event_type: "Normal".into(),
            reason: "ProvisioningSucceeded".into(),
            message: format!("Successfully provisioned volume {pv_name}"),
        });
        let _ = now;
    }
}

fn first_ready_node(world: &dyn World) -> Option<String> {
    let mut nodes = world.list("Node", None, None);
    nodes.sort_by(|a, b| name(a).cmp(name(b)));
    nodes
        .iter()
        .find(|n| super::node_match::node_ready(n) && !super::node_match::node_unschedulable(n))
        .map(|n| name(n).to_string())
}

/// Marks the claim as tried (the provisioner annotation) and warns, once.
fn fail_once(claim: &Value, provisioner: &str, message: &str, actions: &mut Vec<Action>) {
    if annotation(claim, STORAGE_PROVISIONER).is_some() {
        return;
    }
    let mut marked = claim.clone();
    object::set_annotation(&mut marked, STORAGE_PROVISIONER, provisioner);
    let status = object::ensure_object(&mut marked, "status");
    status["phase"] = json!("Pending");
    actions.push(Action::Update(marked));
    actions.push(Action::Event {
        namespace: namespace(claim).to_string(),
        involved: object::involved(claim),
        event_type: "Warning".into(),
        reason: "ProvisioningFailed".into(),
        message: message.to_string(),
    });
}

fn volume(
    claim: &Value,
    class: &Value,
    behaviour: Behaviour,
    pv_name: &str,
    node: Option<&str>,
) -> Value {
    let storage = claim
        .pointer("/spec/resources/requests/storage")
        .cloned()
        .unwrap_or_else(|| json!("1Gi"));
    let access = claim
        .pointer("/spec/accessModes")
        .cloned()
        .filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
        .unwrap_or_else(|| json!(["ReadWriteOnce"]));
    let provisioner = str_at(class, "provisioner").unwrap_or("");
    let mut spec = json!({
        "capacity": {"storage": storage},
        "accessModes": access,
        "persistentVolumeReclaimPolicy": str_at(class, "reclaimPolicy").unwrap_or("Delete"),
        "storageClassName": name(class),
        "volumeMode": str_at(claim, "spec.volumeMode").unwrap_or("Filesystem"),
        "claimRef": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": namespace(claim),
            "name": name(claim),
            "uid": uid(claim),
        },
    });
    match (behaviour, node) {
        (Behaviour::Local, Some(node)) => {
            spec["local"] = json!({"path": format!("/mnt/local-volumes/{pv_name}")});
            spec["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}});
        }
        _ => {
            spec["csi"] = json!({
                "driver": provisioner,
                "volumeHandle": format!("{:016x}", object::stable_hash(uid(claim))),
                "fsType": "ext4",
            });
        }
    }
    let behaviour_name = match behaviour {
        Behaviour::Network => "network",
        Behaviour::Local => "local",
        Behaviour::Ephemeral => "ephemeral",
        Behaviour::Never => "never",
    };
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": pv_name,
            "annotations": {
                "pv.kubernetes.io/provisioned-by": provisioner,
                BEHAVIOUR_ANNOTATION: behaviour_name,
            },
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": spec,
        "status": {"phase": "Bound"},
    })
}

/// Grows a bound volume when its claim asks for more and the class allows expansion.
fn expand(world: &dyn World, claim: &Value, actions: &mut Vec<Action>) {
    let Some(wanted) = claim
        .pointer("/spec/resources/requests/storage")
        .and_then(Value::as_str)
    else {
        return;
    };
    let have = claim
        .pointer("/status/capacity/storage")
        .and_then(Value::as_str);
    if have.is_none_or(|h| quantity_bytes(h) >= quantity_bytes(wanted)) {
        return;
    }
    let allowed = str_at(claim, "spec.storageClassName")
        .and_then(|c| world.get("StorageClass", None, c))
        .and_then(|c| c.get("allowVolumeExpansion").and_then(Value::as_bool))
        == Some(true);
    if !allowed {
        return;
    }
    let Some(mut pv) =
        str_at(claim, "spec.volumeName").and_then(|v| world.get("PersistentVolume", None, v))
    else {
        return;
    };
    pv["spec"]["capacity"]["storage"] = json!(wanted);
    actions.push(Action::Update(pv));
    let mut grown = claim.clone();
    grown["status"]["capacity"]["storage"] = json!(wanted);
    actions.push(Action::Update(grown));
}

/// Bytes of a Kubernetes quantity such as `1Gi`, `500M` or `1024` (0 when unreadable).
pub fn quantity_bytes(text: &str) -> u128 {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: u128 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        _ => return 0,
    };
    let value: f64 = number.parse().unwrap_or(0.0);
    (value * factor as f64) as u128
}

/// Deletes (policy `Delete`) or releases (`Retain`) volumes whose claim is gone.
fn reclaim(pv: &Value, live_claims: &HashSet<&str>, actions: &mut Vec<Action>) {
    let Some(claim_uid) = pv.pointer("/spec/claimRef/uid").and_then(Value::as_str) else {
        return;
    };
    if live_claims.contains(claim_uid) || is_terminating(pv) {
        return;
    }
    match str_at(pv, "spec.persistentVolumeReclaimPolicy").unwrap_or("Delete") {
        "Delete" => actions.push(Action::Delete {
            kind: "PersistentVolume".into(),
            namespace: None,
            name: name(pv).into(),
        }),
        _ if str_at(pv, "status.phase") != Some("Released") => {
            let mut released = pv.clone();
            released["status"] = json!({"phase": "Released"});
            actions.push(Action::Update(released));
        }
        _ => {}
    }
}
