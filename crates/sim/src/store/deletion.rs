//! Deletion that waits like the real API server's: finalizers hold an object (and the namespace
//! it is in) in `Terminating` until they are removed; ownerReferences cascade in the background
//! (the owner goes first, then its dependents) or in the foreground (the owner waits, marked,
//! with the `foregroundDeletion` finalizer, until its dependents are gone).

use serde_json::{Value, json};

use super::{Entry, Key, Store, has_pending_finalizers, now_rfc3339};
use crate::resources::{RESOURCES, ResourceId};
use crate::status::ApiError;

/// What deleting an owner does to its dependents (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents stay (their ownerReferences are left in place).
    Orphan,
    /// The owner goes at once; its dependents are deleted after it (the default).
    Background,
    /// The owner stays `Terminating` until its dependents are deleted.
    Foreground,
}

impl From<bool> for Propagation {
    /// `true`: cascade in the background; `false`: orphan.
    fn from(cascade: bool) -> Self {
        if cascade {
            Propagation::Background
        } else {
            Propagation::Orphan
        }
    }
}

const FOREGROUND: &str = "foregroundDeletion";

impl Store {
    /// Objects (any kind) with an ownerReference to `uid`.
    fn dependents(&self, uid: &str) -> Vec<(ResourceId, Key, Entry)> {
        let mut out = Vec::new();
        for (res, table) in self.tables.iter().enumerate() {
            for (key, entry) in table {
                if entry.index.owners.iter().any(|o| *o.uid == *uid) {
                    out.push((res, key.clone(), entry.clone()));
                }
            }
        }
        out
    }

    pub(super) fn has_dependents(&self, uid: &str) -> bool {
        self.tables.iter().any(|t| {
            t.values()
                .any(|e| e.index.owners.iter().any(|o| *o.uid == *uid))
        })
    }

    fn find_uid(&self, uid: &str) -> Option<(ResourceId, Entry)> {
        self.tables.iter().enumerate().find_map(|(res, t)| {
            t.values()
                .find(|e| *e.index.uid == *uid)
                .map(|e| (res, e.clone()))
        })
    }

    /// Delete every object owned (transitively) by the object with `uid`; a dependent with
    /// finalizers is only marked (`deletionTimestamp`) and goes when they are removed.
    pub(super) fn collect_garbage(&mut self, uid: String, now: jiff::Timestamp) {
        let mut work = vec![uid];
        while let Some(owner) = work.pop() {
            for (res, _, entry) in self.dependents(&owner) {
                let mut value = entry.value();
                if has_pending_finalizers(&value) {
                    if value.pointer("/metadata/deletionTimestamp").is_none() {
                        value["metadata"]["deletionTimestamp"] = json!(now_rfc3339(now));
                        let _ = self.replace(res, value, true, true);
                    }
                    continue;
                }
                let key = (
                    entry.index.namespace().to_string(),
                    entry.index.name().to_string(),
                );
                let key = if RESOURCES[res].namespaced {
                    key
                } else {
                    (String::new(), key.1)
                };
                if self.remove(res, &key, value).is_ok() {
                    work.push(entry.index.uid.to_string());
                }
            }
        }
    }

    /// Foreground deletion of an owner that has dependents: mark it, delete them, and remove it
    /// once none is left (at once, or when the last one's finalizers are removed).
    pub(super) fn delete_foreground(
        &mut self,
        res: ResourceId,
        mut value: Value,
        now: jiff::Timestamp,
    ) -> Result<Entry, ApiError> {
        let uid = value
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if value.pointer("/metadata/deletionTimestamp").is_none() {
            value["metadata"]["deletionTimestamp"] = json!(now_rfc3339(now));
        }
        if !value["metadata"]["finalizers"].is_array() {
            value["metadata"]["finalizers"] = json!([]);
        }
        if let Some(list) = value["metadata"]["finalizers"].as_array_mut()
            && !list.iter().any(|f| f == FOREGROUND)
        {
            list.push(json!(FOREGROUND));
        }
        self.foreground.insert(uid.clone());
        let marked = self.replace(res, value, true, true)?;
        self.collect_garbage(uid.clone(), now);
        Ok(self.finish_foreground(&uid).unwrap_or(marked))
    }

    /// Remove an owner in foreground deletion whose dependents are all gone; returns its last
    /// state if that happened now.
    fn finish_foreground(&mut self, uid: &str) -> Option<Entry> {
        if self.has_dependents(uid) {
            return None;
        }
        self.foreground.remove(uid);
        let (res, entry) = self.find_uid(uid)?;
        let mut value = entry.value();
        if let Some(list) = value
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            list.retain(|f| f != FOREGROUND);
        }
        self.update(res, value, true).ok()
    }

    /// Follow-ups once `removed` is gone: owners waiting in foreground deletion for it, and its
    /// namespace if that is Terminating.
    pub(super) fn after_removal(&mut self, removed: &Entry) {
        if !self.foreground.is_empty() {
            let owners: Vec<String> = removed
                .index
                .owners
                .iter()
                .map(|o| o.uid.to_string())
                .filter(|u| self.foreground.contains(u))
                .collect();
            for owner in owners {
                self.finish_foreground(&owner);
            }
        }
        let ns = removed.index.namespace().to_string();
        if ns.is_empty() {
            return;
        }
        let terminating = crate::resources::by_kind("Namespace")
            .and_then(|r| self.tables[r].get(&(String::new(), ns.clone())))
            .is_some_and(|e| e.index.deleting());
        if terminating {
            self.finish_namespace(&ns);
        }
    }

    /// Go on deleting a Terminating namespace: remove everything in it except objects whose
    /// finalizers are pending (they are marked and stay), then the namespace once it is empty.
    /// Until then it stays Terminating with a condition naming the remaining finalizers.
    pub fn finish_namespace(&mut self, namespace: &str) {
        let Some(ns_res) = crate::resources::by_kind("Namespace") else {
            return;
        };
        let ns_key = (String::new(), namespace.to_string());
        let Some(ns_entry) = self.tables[ns_res].get(&ns_key).cloned() else {
            return;
        };
        let ns_value = ns_entry.value();
        let Some(since) = ns_value
            .pointer("/metadata/deletionTimestamp")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            return;
        };
        let mut held: Vec<(String, usize)> = Vec::new();
        for (res, rt) in RESOURCES.iter().enumerate() {
            if !rt.namespaced {
                continue;
            }
            let keys: Vec<(Key, Entry)> = self.tables[res]
                .range((namespace.to_string(), String::new())..)
                .take_while(|(k, _)| k.0 == namespace)
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            for (key, entry) in keys {
                let mut value = entry.value();
                if has_pending_finalizers(&value) {
                    for f in value["metadata"]["finalizers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        match held.iter_mut().find(|(name, _)| name == f) {
                            Some((_, n)) => *n += 1,
                            None => held.push((f.to_string(), 1)),
                        }
                    }
                    if value.pointer("/metadata/deletionTimestamp").is_none() {
                        value["metadata"]["deletionTimestamp"] = json!(now_rfc3339(since));
                        let _ = self.replace(res, value, true, true);
                    }
                    continue;
                }
                if let Err(err) = self.remove(res, &key, value) {
                    tracing::warn!(
                        "cannot remove {}/{} while deleting its namespace: {err}",
                        key.0,
                        key.1
                    );
                }
            }
        }
        if !held.is_empty() {
            let list: Vec<String> = held
                .iter()
                .map(|(f, n)| format!("{f} in {n} resource instances"))
                .collect();
            let mut value = ns_value;
            let status = json!({
                "phase": "Terminating",
                "conditions": [{
                    "type": "NamespaceFinalizersRemaining",
                    "status": "True",
                    "reason": "SomeFinalizersRemain",
                    "message": format!("Some content in the namespace has finalizers remaining: {}", list.join(", ")),
                    "lastTransitionTime": now_rfc3339(since),
                }],
            });
            if value.get("status") != Some(&status) {
                value["status"] = status;
                let _ = self.replace(ns_res, value, true, true);
            }
            return;
        }
        self.logs.retain(|(ns, _, _), _| ns != namespace);
        let mut value = ns_value;
        value["spec"]["finalizers"] = json!([]);
        if let Err(err) = self.remove(ns_res, &ns_key, value) {
            tracing::warn!("cannot remove namespace {namespace}: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn res(kind: &str) -> ResourceId {
        by_kind(kind).unwrap()
    }

    /// A namespace `ns` with a ReplicaSet `rs` owning pods `p1` (finalizer `f` if `held`) and `p2`.
    fn cluster(held: bool) -> (Store, String) {
        let mut s = Store::new(1000);
        s.create(
            res("Namespace"),
            json!({"metadata": {"name": "ns"}}),
            now(),
            true,
        )
        .unwrap();
        let rs = s
            .create(
                res("ReplicaSet"),
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": "rs", "namespace": "ns"}}),
                now(),
                true,
            )
            .unwrap();
        let uid = rs.index.uid.to_string();
        for (name, finalizers) in [
            (
                "p1",
                if held {
                    json!(["example.com/hold"])
                } else {
                    json!([])
                },
            ),
            ("p2", json!([])),
        ] {
            s.create(
                res("Pod"),
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns",
                    "finalizers": finalizers,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                        "uid": uid, "controller": true, "blockOwnerDeletion": true}]}}),
                now(),
                true,
            )
            .unwrap();
        }
        (s, uid)
    }

    fn key(ns: &str, name: &str) -> Key {
        (ns.to_string(), name.to_string())
    }

    fn release(s: &mut Store, name: &str) {
        let mut pod = s.get(res("Pod"), &key("ns", name)).unwrap().value();
        pod["metadata"]["finalizers"] = json!([]);
        s.update(res("Pod"), pod, true).unwrap();
    }

    #[test]
    fn background_removes_the_owner_first_and_held_dependents_wait() {
        let (mut s, _) = cluster(true);
        s.delete(
            res("ReplicaSet"),
            &key("ns", "rs"),
            (None, None),
            Propagation::Background,
            now(),
            true,
        )
        .unwrap();
        assert!(s.get(res("ReplicaSet"), &key("ns", "rs")).is_none());
        assert!(s.get(res("Pod"), &key("ns", "p2")).is_none());
        let p1 = s.get(res("Pod"), &key("ns", "p1")).unwrap();
        assert!(
            p1.index.deleting(),
            "held by its finalizer, marked Terminating"
        );
        release(&mut s, "p1");
        assert!(s.get(res("Pod"), &key("ns", "p1")).is_none());
    }

    #[test]
    fn foreground_keeps_the_owner_until_its_dependents_are_gone() {
        let (mut s, _) = cluster(true);
        let marked = s
            .delete(
                res("ReplicaSet"),
                &key("ns", "rs"),
                (None, None),
                Propagation::Foreground,
                now(),
                true,
            )
            .unwrap();
        assert!(marked.index.deleting());
        let rs = s.get(res("ReplicaSet"), &key("ns", "rs")).unwrap().value();
        assert_eq!(rs["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        assert!(s.get(res("Pod"), &key("ns", "p2")).is_none());
        assert!(s.get(res("Pod"), &key("ns", "p1")).is_some());
        release(&mut s, "p1");
        assert!(s.get(res("Pod"), &key("ns", "p1")).is_none());
        assert!(
            s.get(res("ReplicaSet"), &key("ns", "rs")).is_none(),
            "the owner goes with its last dependent"
        );
        // Without held dependents, foreground deletion finishes at once.
        let (mut s, _) = cluster(false);
        s.delete(
            res("ReplicaSet"),
            &key("ns", "rs"),
            (None, None),
            Propagation::Foreground,
            now(),
            true,
        )
        .unwrap();
        assert!(s.get(res("ReplicaSet"), &key("ns", "rs")).is_none());
        assert!(s.get(res("Pod"), &key("ns", "p1")).is_none());
    }

    #[test]
    fn orphan_leaves_dependents() {
        let (mut s, _) = cluster(false);
        s.delete(
            res("ReplicaSet"),
            &key("ns", "rs"),
            (None, None),
            Propagation::Orphan,
            now(),
            true,
        )
        .unwrap();
        assert!(s.get(res("Pod"), &key("ns", "p1")).is_some());
    }

    #[test]
    fn a_namespace_waits_for_finalizers_inside_it() {
        let (mut s, _) = cluster(true);
        let ns_key = key("", "ns");
        s.delete(res("Namespace"), &ns_key, (None, None), true, now(), true)
            .unwrap();
        s.finish_namespace("ns");
        let ns = s
            .get(res("Namespace"), &ns_key)
            .expect("namespace waits")
            .value();
        assert_eq!(ns["status"]["phase"], "Terminating");
        assert_eq!(
            ns["status"]["conditions"][0]["message"],
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
        );
        assert!(s.get(res("Pod"), &key("ns", "p2")).is_none());
        assert!(
            s.get(res("Pod"), &key("ns", "p1"))
                .unwrap()
                .index
                .deleting()
        );
        release(&mut s, "p1");
        assert!(s.get(res("Pod"), &key("ns", "p1")).is_none());
        assert!(
            s.get(res("Namespace"), &ns_key).is_none(),
            "the namespace goes once its last held object is gone"
        );
    }
}
