//! An in-memory [`World`] that applies [`Action`]s like the server would (uids, generations,
//! `generateName`), for controller tests, scenario checks and benchmarks without a server.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::object::{self, at, name, namespace, str_at};
use crate::world::{Action, Controller, Index, World};

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Kind of the involved object.
    pub kind: String,
    /// Name of the involved object.
    pub name: String,
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// Reason, e.g. `FailedScheduling`.
    pub reason: String,
    /// Message.
    pub message: String,
}

type Key = (String, String, String);

/// Objects, events and logs held in memory.
#[derive(Default)]
pub struct MemoryWorld {
    objects: BTreeMap<Key, Value>,
    /// Events in the order they were recorded.
    pub events: Vec<RecordedEvent>,
    logs: BTreeMap<(String, String, String), String>,
    /// Files written into pods' emptyDir volumes.
    pub files: crate::volume_files::VolumeFiles,
    counter: u64,
    /// What [`World::api_address`] answers (tests of probes that connect to the API server).
    pub api_address: Option<std::net::SocketAddr>,
}

fn key_of(value: &Value) -> Key {
    (
        value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        namespace(value).to_string(),
        name(value).to_string(),
    )
}

impl MemoryWorld {
    /// A world holding `objects`, keeping their uids (as the server keeps those of its initial
    /// objects; objects without one get a fresh one).
    pub fn new(objects: Vec<Value>) -> Self {
        let mut world = MemoryWorld::default();
        for object in objects {
            world.insert(object, "2026-01-01T00:00:00Z", true);
        }
        world
    }

    /// All objects, in kind/namespace/name order.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.values()
    }

    /// Creates an object as a user would (fresh uid, creation time `now`).
    pub fn create_at(&mut self, value: Value, now: jiff::Timestamp) {
        self.create(value, &now.to_string());
    }

    /// Replaces an object as a user's update would (generation grows with the spec).
    pub fn replace(&mut self, value: Value) {
        self.update(value);
    }

    /// Removes an object (as a user's `kubectl delete` would).
    pub fn remove(&mut self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.objects
            .remove(&(kind.into(), namespace.unwrap_or("").into(), name.into()))
    }

    /// The log of one container.
    pub fn log(&self, namespace: &str, pod: &str, container: &str) -> &str {
        self.logs
            .get(&(namespace.into(), pod.into(), container.into()))
            .map_or("", String::as_str)
    }

    fn create(&mut self, value: Value, now: &str) {
        self.insert(value, now, false);
    }

    fn insert(&mut self, mut value: Value, now: &str, keep_uid: bool) {
        self.counter += 1;
        let counter = self.counter;
        let meta = object::ensure_object(&mut value, "metadata");
        if meta
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        {
            meta["name"] = json!(format!(
                "{prefix}{}",
                object::suffix(&counter.to_string(), 5)
            ));
        }
        // Like the server: identity is assigned on create, whatever the object says.
        if !keep_uid
            || meta
                .get("uid")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            meta["uid"] = json!(format!("00000000-0000-4000-8000-{counter:012x}"));
        }
        meta["creationTimestamp"] = json!(now);
        meta["generation"] = json!(1);
        meta["resourceVersion"] = json!(counter.to_string());
        let key = key_of(&value);
        self.objects.entry(key).or_insert(value);
    }

    fn update(&mut self, mut value: Value) {
        let key = key_of(&value);
        let Some(old) = self.objects.get(&key) else {
            return;
        };
        self.counter += 1;
        let generation = at(old, "metadata.generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let generation = if old.get("spec") != value.get("spec") {
            generation + 1
        } else {
            generation
        };
        let meta = object::ensure_object(&mut value, "metadata");
        meta["generation"] = json!(generation);
        meta["resourceVersion"] = json!(self.counter.to_string());
        self.objects.insert(key, value);
    }

    /// Applies actions as the server would.
    pub fn apply(&mut self, actions: Vec<Action>, now: jiff::Timestamp) {
        let now = now.to_string();
        for action in actions {
            match action {
                Action::Create(value) => self.create(value, &now),
                Action::Update(value) => self.update(value),
                Action::Delete {
                    kind,
                    namespace,
                    name,
                } => {
                    self.remove(&kind, namespace.as_deref(), &name);
                }
                Action::Event {
                    involved,
                    event_type,
                    reason,
                    message,
                    ..
                } => self.events.push(RecordedEvent {
                    kind: str_at(&involved, "kind").unwrap_or("").into(),
                    name: str_at(&involved, "name").unwrap_or("").into(),
                    event_type,
                    reason,
                    message,
                }),
                Action::AppendLog {
                    namespace,
                    pod,
                    container,
                    text,
                } => {
                    self.logs
                        .entry((namespace, pod, container))
                        .or_default()
                        .push_str(&text);
                }
                Action::WriteFile {
                    pod_uid,
                    volume,
                    path,
                    content,
                } => self.files.write(&pod_uid, &volume, &path, content),
            }
        }
    }

    /// Runs the controllers round after round until none has anything to do; returns the number
    /// of rounds, or `None` if they still act after `max_rounds`.
    pub fn settle(
        &mut self,
        controllers: &[Box<dyn Controller>],
        now: jiff::Timestamp,
        max_rounds: usize,
    ) -> Option<usize> {
        for round in 0..max_rounds {
            let mut acted = false;
            for controller in controllers {
                let actions = controller.reconcile(self, now);
                acted |= !actions.is_empty();
                self.apply(actions, now);
            }
            if !acted {
                return Some(round);
            }
        }
        None
    }
}

fn field_matches(value: &Value, path: &str, wanted: &str) -> bool {
    match at(value, path) {
        None | Some(Value::Null) => wanted.is_empty(),
        Some(Value::String(s)) => s == wanted,
        Some(other) => *other.to_string() == *wanted,
    }
}

impl World for MemoryWorld {
    fn list(&self, kind: &str, namespace: Option<&str>, field: Option<(&str, &str)>) -> Vec<Value> {
        let start = (
            kind.to_string(),
            namespace.unwrap_or("").to_string(),
            String::new(),
        );
        self.objects
            .range(start..)
            .take_while(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v)
            .filter(|v| field.is_none_or(|(path, wanted)| field_matches(v, path, wanted)))
            .cloned()
            .collect()
    }

    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.objects
            .get(&(kind.into(), namespace.unwrap_or("").into(), name.into()))
            .cloned()
    }

    fn list_index(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Index>> {
        let start = (
            kind.to_string(),
            namespace.unwrap_or("").to_string(),
            String::new(),
        );
        self.objects
            .range(start..)
            .take_while(|((k, ns, _), _)| k == kind && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| Arc::new(Index::of(v)))
            .collect()
    }

    fn get_index(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Arc<Index>> {
        self.objects
            .get(&(kind.into(), namespace.unwrap_or("").into(), name.into()))
            .map(|v| Arc::new(Index::of(v)))
    }

    fn api_address(&self) -> Option<std::net::SocketAddr> {
        self.api_address
    }
}
