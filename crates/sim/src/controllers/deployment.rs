//! Deployment controller: one ReplicaSet per pod template (labelled `pod-template-hash`), old
//! ones scaled to zero, and the status `kubectl rollout status` and `kubectl wait
//! --for=condition=Available` read.

use serde_json::{Value, json};

use super::object::{self, condition, i64_at, is_terminating, name, namespace, owner_ref};
use super::replicaset::index_by_controller;
use super::revisions;
use crate::world::{Action, Controller, Index, World};

/// The label that ties a ReplicaSet and its pods to one template of a Deployment.
pub const HASH_LABEL: &str = "pod-template-hash";

/// Rolls Deployments out into ReplicaSets and reports their progress.
pub struct DeploymentController;

impl Controller for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Deployment", "ReplicaSet"]
    }

    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action> {
        let deployments = world.list_index("Deployment", None);
        if deployments.is_empty() {
            return Vec::new();
        }
        // Deployments and ReplicaSets are read from the index; an object is parsed only when
        // the index shows that something may have to change.
        let sets = world.list_index("ReplicaSet", None);
        let owned = index_by_controller(&sets, "Deployment");
        let now = now.to_string();
        let mut actions = Vec::new();
        for entry in deployments.iter().filter(|d| !d.deleting()) {
            let mine = owned
                .get(&(entry.namespace(), entry.name()))
                .cloned()
                .unwrap_or_default();
            if settled(entry, &mine) {
                continue;
            }
            let Some(d) = world.get("Deployment", Some(entry.namespace()), entry.name()) else {
                continue;
            };
            if is_terminating(&d) {
                continue;
            }
            let template = d.pointer("/spec/template").cloned().unwrap_or(Value::Null);
            let hash = object::template_hash(&template);
            let desired = i64_at(&d, "spec.replicas").unwrap_or(1).max(0);
            let current = mine
                .iter()
                .copied()
                .find(|rs| rs.label(HASH_LABEL) == Some(&hash));
            let sets: Vec<Value> = mine
                .iter()
                .filter_map(|rs| world.get("ReplicaSet", Some(rs.namespace()), rs.name()))
                .collect();
            if current.is_none() && d.pointer("/spec/paused") == Some(&json!(true)) {
                paused(&d, desired, &sets, &mine, &now, &mut actions);
                continue;
            }
            let plan = revisions::plan(&d, &hash, &sets);
            match current {
                None => {
                    let mut rs = replica_set(&d, &hash, desired);
                    revisions::stamp_new(&mut rs, &d, plan.current);
                    actions.extend(scaled(&d, name(&rs), 0, desired));
                    actions.push(Action::Create(rs));
                }
                Some(rs) if rs.replicas() != Some(desired) || plan.bump_current => {
                    if let Some(mut rs) = sets.iter().find(|s| name(s) == rs.name()).cloned() {
                        let from = i64_at(&rs, "spec.replicas").unwrap_or(0);
                        actions.extend(scaled(&d, name(&rs), from, desired));
                        rs["spec"]["replicas"] = json!(desired);
                        revisions::stamp_new(&mut rs, &d, plan.current);
                        actions.push(Action::Update(rs));
                    }
                }
                Some(_) => {}
            }
            for old in mine.iter().filter(|rs| rs.label(HASH_LABEL) != Some(&hash)) {
                if plan.prune.iter().any(|n| n == old.name()) {
                    actions.push(Action::Delete {
                        kind: "ReplicaSet".into(),
                        namespace: Some(old.namespace().to_string()),
                        name: old.name().to_string(),
                    });
                } else if old.replicas() != Some(0)
                    && let Some(mut rs) = sets.iter().find(|s| name(s) == old.name()).cloned()
                {
                    let from = i64_at(&rs, "spec.replicas").unwrap_or(0);
                    actions.extend(scaled(&d, name(&rs), from, 0));
                    rs["spec"]["replicas"] = json!(0);
                    actions.push(Action::Update(rs));
                }
            }
            let status = status(&d, current, &mine, &now);
            let revision = plan.current.to_string();
            let stamped = object::annotation(&d, revisions::REVISION) == Some(revision.as_str());
            if d.get("status") != Some(&status) || !stamped {
                let mut updated = d.clone();
                updated["status"] = status;
                object::set_annotation(&mut updated, revisions::REVISION, &revision);
                actions.push(Action::Update(updated));
            }
        }
        actions
    }
}

/// The `ScalingReplicaSet` event upstream records on a Deployment when it scales one of its
/// ReplicaSets (`kubectl describe deployment` lists them); none when nothing changes.
fn scaled(d: &Value, rs: &str, from: i64, to: i64) -> Option<Action> {
    if from == to {
        return None;
    }
    let direction = if to > from { "up" } else { "down" };
    Some(Action::Event {
        namespace: namespace(d).to_string(),
        involved: object::involved(d),
        event_type: "Normal".into(),
        reason: "ScalingReplicaSet".into(),
        message: format!("Scaled {direction} replica set {rs} from {from} to {to}"),
    })
}

/// A paused Deployment whose template has no ReplicaSet yet rolls nothing out: its newest
/// ReplicaSet keeps running, scaled to `spec.replicas`, and the status says it is paused.
fn paused(
    d: &Value,
    desired: i64,
    sets: &[Value],
    mine: &[&Index],
    now: &str,
    actions: &mut Vec<Action>,
) {
    let active = sets.iter().max_by_key(|rs| revisions::revision_of(rs));
    if let Some(rs) = active
        && i64_at(rs, "spec.replicas") != Some(desired)
    {
        let from = i64_at(rs, "spec.replicas").unwrap_or(0);
        actions.extend(scaled(d, name(rs), from, desired));
        let mut rs = rs.clone();
        rs["spec"]["replicas"] = json!(desired);
        actions.push(Action::Update(rs));
    }
    let active_index = active.and_then(|a| mine.iter().copied().find(|i| i.name() == name(a)));
    let mut updated = d.clone();
    updated["status"] = status(d, active_index, mine, now);
    if let Some(rs) = active {
        let revision = revisions::revision_of(rs).to_string();
        object::set_annotation(&mut updated, revisions::REVISION, &revision);
    }
    if updated != *d {
        actions.push(Action::Update(updated));
    }
}

/// Whether the index shows a Deployment as this controller leaves it: the ReplicaSet of its
/// template scaled to `spec.replicas`, older ones at zero, and a status for this generation
/// whose counts are those of its ReplicaSets. Such a Deployment is not parsed. Its conditions
/// are not indexed; they follow from those counts, which only this controller writes.
fn settled(d: &Index, mine: &[&Index]) -> bool {
    let Some(hash) = d.template_hash() else {
        return false;
    };
    let desired = d.replicas().unwrap_or(1).max(0);
    let Some(current) = mine.iter().find(|rs| rs.label(HASH_LABEL) == Some(hash)) else {
        return false;
    };
    let others_idle = mine
        .iter()
        .filter(|rs| rs.label(HASH_LABEL) != Some(hash))
        .all(|rs| rs.replicas() == Some(0));
    let counts = Counts::of(desired, Some(current), mine);
    current.replicas() == Some(desired)
        && others_idle
        && d.status_int("observedGeneration") == Some(d.generation().max(1))
        // `observedGeneration`, the five counts below and `conditions`.
        && d.status_keys() == 7
        && d.status_int("replicas") == Some(counts.replicas)
        && d.status_int("updatedReplicas") == Some(counts.updated)
        && d.status_int("readyReplicas") == Some(counts.ready)
        && d.status_int("availableReplicas") == Some(counts.available)
        && d.status_int("unavailableReplicas") == Some(counts.unavailable)
}

/// The replica counts a Deployment reports.
struct Counts {
    replicas: i64,
    updated: i64,
    ready: i64,
    available: i64,
    unavailable: i64,
}

impl Counts {
    fn of(desired: i64, current: Option<&Index>, owned: &[&Index]) -> Counts {
        let available = sum(owned, "availableReplicas");
        Counts {
            replicas: sum(owned, "replicas"),
            updated: current.map_or(0, |rs| rs.status_int("replicas").unwrap_or(0)),
            ready: sum(owned, "readyReplicas"),
            available,
            unavailable: (desired - available).max(0),
        }
    }
}

/// The ReplicaSet a Deployment runs its template with.
pub fn replica_set(deployment: &Value, hash: &str, replicas: i64) -> Value {
    let mut template = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    object::ensure_object(object::ensure_object(&mut template, "metadata"), "labels")[HASH_LABEL] =
        json!(hash);
    let mut selector = deployment
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    object::ensure_object(&mut selector, "matchLabels")[HASH_LABEL] = json!(hash);
    let labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let revision =
        object::annotation(deployment, "deployment.kubernetes.io/revision").unwrap_or("1");
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", name(deployment)),
            "namespace": namespace(deployment),
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                "deployment.kubernetes.io/revision": revision,
            },
            "ownerReferences": [owner_ref(deployment)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    })
}

fn sum(sets: &[&Index], field: &str) -> i64 {
    sets.iter()
        .map(|rs| rs.status_int(field).unwrap_or(0))
        .sum()
}

/// A condition that keeps its timestamps while its status and reason stay the same.
fn keep_times(
    old: Option<&Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let same_status = old.and_then(|c| c.get("status")).and_then(Value::as_str) == Some(status);
    let same_reason = same_status
        && old.and_then(|c| c.get("reason")).and_then(Value::as_str) == Some(reason)
        && old.and_then(|c| c.get("message")).and_then(Value::as_str) == Some(message);
    let stamp = |key: &str, keep: bool| {
        if keep {
            old.and_then(|c| c.get(key))
                .cloned()
                .unwrap_or_else(|| json!(now))
        } else {
            json!(now)
        }
    };
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": stamp("lastUpdateTime", same_reason),
        "lastTransitionTime": stamp("lastTransitionTime", same_status),
    })
}

/// The status a Deployment reports, given its current and all owned ReplicaSets.
pub fn status(deployment: &Value, current: Option<&Index>, owned: &[&Index], now: &str) -> Value {
    let desired = i64_at(deployment, "spec.replicas").unwrap_or(1).max(0);
    let counts = Counts::of(desired, current, owned);
    let Counts {
        replicas,
        updated,
        ready,
        available,
        unavailable,
    } = counts;
    let is_available = available >= desired;
    let complete = updated == desired && replicas == desired && available == desired;
    let rs_name = current.map_or_else(
        || {
            format!(
                "{}-{}",
                name(deployment),
                object::template_hash(&deployment["spec"]["template"])
            )
        },
        |rs| rs.name().to_string(),
    );
    let available_condition = keep_times(
        condition(deployment, "Available"),
        "Available",
        if is_available { "True" } else { "False" },
        if is_available {
            "MinimumReplicasAvailable"
        } else {
            "MinimumReplicasUnavailable"
        },
        if is_available {
            "Deployment has minimum availability."
        } else {
            "Deployment does not have minimum availability."
        },
        now,
    );
    let progressing = if deployment.pointer("/spec/paused") == Some(&json!(true)) {
        keep_times(
            condition(deployment, "Progressing"),
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            now,
        )
    } else if complete {
        keep_times(
            condition(deployment, "Progressing"),
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            now,
        )
    } else {
        keep_times(
            condition(deployment, "Progressing"),
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{rs_name}\" is progressing."),
            now,
        )
    };
    json!({
        "observedGeneration": i64_at(deployment, "metadata.generation").unwrap_or(1),
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": [available_condition, progressing],
    })
}
