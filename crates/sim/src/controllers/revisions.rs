//! Deployment revisions as upstream numbers them: the ReplicaSet of the current template carries
//! the highest `deployment.kubernetes.io/revision` (a new template gets max + 1; going back to an
//! old template gives its ReplicaSet the next number), the Deployment carries the same number,
//! and idle old ReplicaSets beyond `spec.revisionHistoryLimit` are deleted. `kubectl rollout
//! history` and `kubectl rollout undo` read these numbers.

use serde_json::Value;

use super::deployment::HASH_LABEL;
use super::object::{self, i64_at, is_terminating, label, name};

/// The annotation holding a revision number.
pub const REVISION: &str = "deployment.kubernetes.io/revision";

/// Deployment annotations not copied to its ReplicaSets (upstream's skip list).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
];

/// What the revisions of one Deployment's ReplicaSets should become.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// The revision of the current template's ReplicaSet (and of the Deployment).
    pub current: u64,
    /// The current template's ReplicaSet exists but needs the new number.
    pub bump_current: bool,
    /// Old ReplicaSets to delete (idle, beyond the history limit), by name.
    pub prune: Vec<String>,
}

/// The revision a ReplicaSet carries (0 when it has none).
pub fn revision_of(rs: &Value) -> u64 {
    object::annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Plan the revisions for Deployment `d`, whose current template hashes to `hash`, owning
/// `sets`.
pub fn plan(d: &Value, hash: &str, sets: &[Value]) -> Plan {
    let is_current = |rs: &Value| label(rs, HASH_LABEL) == Some(hash);
    let max_old = sets
        .iter()
        .filter(|rs| !is_current(rs))
        .map(revision_of)
        .max()
        .unwrap_or(0);
    let (current, bump_current) = match sets.iter().find(|rs| is_current(rs)) {
        Some(rs) if revision_of(rs) > max_old => (revision_of(rs), false),
        Some(_) => (max_old + 1, true),
        None => (max_old + 1, false),
    };
    let limit = i64_at(d, "spec.revisionHistoryLimit").unwrap_or(10).max(0) as usize;
    let mut idle: Vec<&Value> = sets
        .iter()
        .filter(|rs| !is_current(rs) && !is_terminating(rs))
        .filter(|rs| {
            i64_at(rs, "spec.replicas") == Some(0)
                && i64_at(rs, "status.replicas").unwrap_or(0) == 0
        })
        .collect();
    idle.sort_by_key(|rs| revision_of(rs));
    let excess = idle.len().saturating_sub(limit);
    Plan {
        current,
        bump_current,
        prune: idle[..excess]
            .iter()
            .map(|rs| name(rs).to_string())
            .collect(),
    }
}

/// Give the ReplicaSet of the current template its revision and the Deployment's annotations.
pub fn stamp_new(rs: &mut Value, d: &Value, revision: u64) {
    if let Some(annotations) = d
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (key, value) in annotations {
            if !NOT_COPIED.contains(&key.as_str())
                && let Some(text) = value.as_str()
            {
                object::set_annotation(rs, key, text);
            }
        }
    }
    object::set_annotation(rs, REVISION, &revision.to_string());
    let desired = i64_at(d, "spec.replicas").unwrap_or(1).max(0);
    object::set_annotation(
        rs,
        "deployment.kubernetes.io/desired-replicas",
        &desired.to_string(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(name: &str, hash: &str, revision: u64, replicas: i64) -> Value {
        json!({"metadata": {"name": name, "labels": {HASH_LABEL: hash},
            "annotations": {REVISION: revision.to_string()}},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
    }

    #[test]
    fn a_new_template_gets_the_next_revision() {
        let d = json!({"spec": {}});
        let sets = [rs("a", "h1", 1, 0), rs("b", "h2", 2, 3)];
        assert_eq!(
            plan(&d, "h3", &sets),
            Plan {
                current: 3,
                bump_current: false,
                prune: vec![]
            }
        );
        assert_eq!(plan(&d, "h1", &[]).current, 1);
    }

    #[test]
    fn going_back_reuses_the_old_replica_set_with_a_new_number() {
        let d = json!({"spec": {}});
        let sets = [rs("a", "h1", 1, 0), rs("b", "h2", 2, 3)];
        let p = plan(&d, "h1", &sets);
        assert_eq!((p.current, p.bump_current), (3, true));
        let p = plan(&d, "h2", &sets);
        assert_eq!((p.current, p.bump_current), (2, false));
    }

    #[test]
    fn idle_sets_beyond_the_history_limit_are_pruned_oldest_first() {
        let d = json!({"spec": {"revisionHistoryLimit": 1}});
        let sets = [
            rs("a", "h1", 1, 0),
            rs("b", "h2", 2, 0),
            rs("c", "h3", 3, 2),
            rs("d", "h4", 4, 1),
        ];
        assert_eq!(plan(&d, "h4", &sets).prune, ["a"]);
        let none = json!({"spec": {"revisionHistoryLimit": 10}});
        assert!(plan(&none, "h4", &sets).prune.is_empty());
    }

    #[test]
    fn stamping_copies_annotations_but_not_the_skipped_ones() {
        let d = json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "why",
            "kubectl.kubernetes.io/last-applied-configuration": "{}", REVISION: "7"}},
            "spec": {"replicas": 2}});
        let mut set = json!({"metadata": {}});
        stamp_new(&mut set, &d, 3);
        assert_eq!(
            set["metadata"]["annotations"],
            json!({"kubernetes.io/change-cause": "why", REVISION: "3",
                "deployment.kubernetes.io/desired-replicas": "2"})
        );
    }

    #[test]
    fn template_hash_ignores_zero_values_so_undo_finds_the_old_set() {
        let from_protobuf = json!({"metadata": {"generation": 0, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i", "stdin": false, "resources": {}}],
                     "hostPID": false}});
        let from_json = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        assert_eq!(
            object::template_hash(&from_protobuf),
            object::template_hash(&from_json)
        );
        let other = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "j"}]}});
        assert_ne!(
            object::template_hash(&other),
            object::template_hash(&from_json)
        );
    }
}
