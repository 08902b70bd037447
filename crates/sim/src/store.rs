//! The object store: every object as serialized JSON bytes plus a small index, ordered for
//! pagination, with a bounded history of changes for watches and consistent paged lists.
//!
//! Objects are kept serialized so that a list of 50,000 pods is built by concatenating bytes;
//! only writes parse and re-serialize. The index holds what selectors need (labels, node name,
//! phase) and owner uids for garbage collection. A change records the previous state too, so a
//! list at an older resourceVersion (a `continue` token) is the current state with the changes
//! after that version rolled back.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::resources::{RESOURCES, ResourceId, ResourceType};
use crate::selector::{FieldSelector, LabelSelector, field_of};
use crate::status::ApiError;

/// `(namespace, name)`; cluster-scoped objects use an empty namespace.
pub type Key = (String, String);

mod deletion;
pub use deletion::Propagation;

/// One `metadata.ownerReferences` entry, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    /// Kind of the owner.
    pub kind: Box<str>,
    /// Name of the owner (in the dependent's namespace, or cluster-scoped).
    pub name: Box<str>,
    /// uid of the owner.
    pub uid: Box<str>,
    /// Whether the owner is the dependent's controller.
    pub controller: bool,
}

/// What selectors, garbage collection and controllers need to know about an object without
/// parsing it. Built once per write; controllers read it through
/// [`World::list_index`](crate::world::World::list_index) and parse only what they change.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Index {
    namespace: Box<str>,
    name: Box<str>,
    uid: Box<str>,
    labels: Box<[(Box<str>, Box<str>)]>,
    node_name: Box<str>,
    phase: Box<str>,
    owners: Box<[OwnerRef]>,
    ready: bool,
    deleting: bool,
    replicas: Option<i64>,
    generation: i64,
    status_ints: Box<[(Box<str>, i64)]>,
    status_len: usize,
    template_hash: Option<Box<str>>,
}

impl Index {
    /// The index of a JSON object.
    pub fn of(obj: &Value) -> Index {
        let text = |path: &str| -> Box<str> {
            obj.pointer(path)
                .and_then(Value::as_str)
                .unwrap_or("")
                .into()
        };
        let labels = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str().into(), v.into())))
                    .collect()
            })
            .unwrap_or_default();
        let owners = obj
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| {
                        let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
                        r.is_object().then(|| OwnerRef {
                            kind: field("kind").into(),
                            name: field("name").into(),
                            uid: field("uid").into(),
                            controller: r.get("controller").and_then(Value::as_bool) == Some(true),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ready = obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
            })
            .and_then(|c| c.get("status"))
            .and_then(Value::as_str)
            == Some("True");
        let status = obj.get("status").and_then(Value::as_object);
        let status_ints = status
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_i64().map(|v| (k.as_str().into(), v)))
                    .collect()
            })
            .unwrap_or_default();
        Index {
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name"),
            uid: text("/metadata/uid"),
            labels,
            node_name: text("/spec/nodeName"),
            phase: text("/status/phase"),
            owners,
            ready,
            deleting: obj
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null()),
            replicas: obj.pointer("/spec/replicas").and_then(Value::as_i64),
            generation: obj
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            status_ints,
            status_len: status.map_or(0, |m| m.len()),
            template_hash: obj
                .pointer("/spec/template")
                .map(|t| crate::controllers::object::template_hash(t).into()),
        }
    }

    /// `metadata.namespace` (`""` for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The value of label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// `spec.nodeName`, if set and not empty.
    pub fn node_name(&self) -> Option<&str> {
        Some(&*self.node_name).filter(|n| !n.is_empty())
    }

    /// `status.phase` (`""` when absent).
    pub fn phase(&self) -> &str {
        &self.phase
    }

    /// `metadata.ownerReferences`.
    pub fn owners(&self) -> &[OwnerRef] {
        &self.owners
    }

    /// The owner reference marked `controller: true`, if any.
    pub fn controller(&self) -> Option<&OwnerRef> {
        self.owners.iter().find(|o| o.controller)
    }

    /// Whether the `Ready` condition is `True` (nodes, pods).
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Whether `metadata.deletionTimestamp` is set.
    pub fn deleting(&self) -> bool {
        self.deleting
    }

    /// `spec.replicas`, if set.
    pub fn replicas(&self) -> Option<i64> {
        self.replicas
    }

    /// `metadata.generation` (0 when absent).
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// An integer field of `status` (top level only), if set.
    pub fn status_int(&self, key: &str) -> Option<i64> {
        self.status_ints
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| *v)
    }

    /// Number of keys in `status`.
    pub fn status_keys(&self) -> usize {
        self.status_len
    }

    /// The `pod-template-hash` of `spec.template`, for objects that have one.
    pub fn template_hash(&self) -> Option<&str> {
        self.template_hash.as_deref()
    }

    /// Whether `status` is exactly these integer fields (no other key), so a controller can see
    /// that a status it would write is already there without parsing the object.
    pub fn status_is(&self, fields: &[(&str, i64)]) -> bool {
        self.status_len == fields.len()
            && fields.iter().all(|(k, v)| self.status_int(k) == Some(*v))
    }
}

/// One stored object.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The object as JSON, including its `metadata.resourceVersion`.
    pub bytes: Bytes,
    /// The resourceVersion of this state.
    pub rv: u64,
    /// Selector and owner index.
    pub index: Arc<Index>,
}

impl Entry {
    fn of(obj: &Value, rv: u64) -> Result<Entry, ApiError> {
        let bytes = serde_json::to_vec(obj)
            .map_err(|e| ApiError::internal(format!("cannot serialize object: {e}")))?;
        Ok(Entry {
            bytes: Bytes::from(bytes),
            rv,
            index: Arc::new(Index::of(obj)),
        })
    }

    /// The object parsed back into JSON.
    pub fn value(&self) -> Value {
        parse(&self.bytes)
    }

    /// A selector field of the object stored under `key` (the indexed ones without parsing).
    pub fn field<'e>(&'e self, key: &'e Key, path: &str) -> Cow<'e, str> {
        match path {
            "metadata.name" => Cow::Borrowed(&key.1),
            "metadata.namespace" => Cow::Borrowed(&key.0),
            "spec.nodeName" => Cow::Borrowed(&self.index.node_name),
            "status.phase" => Cow::Borrowed(&self.index.phase),
            other => Cow::Owned(field_of(&self.value(), other)),
        }
    }

    /// Whether the object satisfies both selectors.
    pub fn selected(&self, key: &Key, labels: &LabelSelector, fields: &FieldSelector) -> bool {
        labels.matches(|k| self.index.label(k)) && fields.matches(|f| self.field(key, f))
    }
}

/// Watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change, kept in the bounded history.
#[derive(Debug)]
pub struct Change {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Kind changed.
    pub res: ResourceId,
    /// Object key.
    pub key: Key,
    /// What happened.
    pub event: EventType,
    /// The object after the change (the last state for a deletion).
    pub obj: Entry,
    /// The object before the change, `None` for a creation.
    pub prev: Option<Entry>,
    /// The JSON watch event line, made by the first watcher that sends it and shared (not
    /// copied) by every other one.
    pub json_event: std::sync::OnceLock<Bytes>,
    /// The protobuf watch frame, likewise (`None`: the kind has no protobuf form).
    pub protobuf_event: std::sync::OnceLock<Option<Bytes>>,
}

/// A consistent list page.
#[derive(Debug)]
pub struct Page {
    /// Matching objects in key order.
    pub items: Vec<Bytes>,
    /// resourceVersion the page is consistent with.
    pub rv: u64,
    /// Where the next page starts, if there is more.
    pub next: Option<Key>,
}

/// How many changes are kept for watches and continue tokens.
pub const DEFAULT_HISTORY: usize = 20_000;

/// All objects, the resourceVersion counter and the change history.
pub struct Store {
    rv: u64,
    tables: Vec<BTreeMap<Key, Entry>>,
    history: VecDeque<Arc<Change>>,
    /// Every change with a resourceVersion above this is in `history`.
    floor: u64,
    capacity: usize,
    logs: HashMap<(String, String, String), String>,
    /// Counts log appends, so followers of a log know when to look again.
    log_seq: u64,
    /// Files simulated containers wrote into their pods' emptyDir volumes.
    pub files: crate::volume_files::VolumeFiles,
    dirty: Vec<&'static str>,
    /// uids of owners in foreground deletion, waiting for their dependents to go.
    foreground: std::collections::HashSet<String>,
    /// Finalizers put on every new object of a kind (a scenario's `unreleasedFinalizers`).
    added_finalizers: Vec<(ResourceId, String)>,
}

/// Finalizers the simulator's own controllers would drop at once; they never hold a deletion.
const INSTANT_FINALIZERS: &[&str] = &[
    "kubernetes.io/pv-protection",
    "kubernetes.io/pvc-protection",
    "foregroundDeletion",
    "orphan",
];

/// Whether `metadata.finalizers` names one that must be removed before the object goes.
fn has_pending_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .any(|f| !INSTANT_FINALIZERS.contains(&f))
        })
}

/// How [`Store::insert`] stores a new object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An API or controller create: fresh identity, a recorded change.
    Commit,
    /// A dry run: the answer only.
    DryRun,
    /// An object the server starts with: its identity kept, no change recorded.
    Initial,
}

fn now_rfc3339(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Whether `name` is a valid DNS-1123 subdomain, the rule for most object names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Store {
    /// An empty store keeping `capacity` changes of history.
    pub fn new(capacity: usize) -> Store {
        Store {
            rv: 1,
            tables: RESOURCES.iter().map(|_| BTreeMap::new()).collect(),
            history: VecDeque::new(),
            floor: 1,
            capacity: capacity.max(1),
            logs: HashMap::new(),
            log_seq: 0,
            files: Default::default(),
            dirty: Vec::new(),
            foreground: Default::default(),
            added_finalizers: Vec::new(),
        }
    }

    /// Put `finalizer` on every object of `res` created from now on (API and controller
    /// creates, dry runs included; not the initial objects), as a mutating admission webhook
    /// would. Nothing in the simulator removes it.
    pub fn add_finalizer_on_create(&mut self, res: ResourceId, finalizer: String) {
        self.added_finalizers.push((res, finalizer));
    }

    /// The current (latest committed) resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch or continue token may start from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Forget the history so far (after loading the scenario's initial objects).
    pub fn compact(&mut self) {
        self.history.clear();
        self.floor = self.rv;
    }

    /// Kinds changed since the last call, for waking controllers.
    pub fn take_dirty(&mut self) -> Vec<&'static str> {
        std::mem::take(&mut self.dirty)
    }

    /// The table of one kind.
    pub fn table(&self, res: ResourceId) -> &BTreeMap<Key, Entry> {
        &self.tables[res]
    }

    /// One object.
    pub fn get(&self, res: ResourceId, key: &Key) -> Option<&Entry> {
        self.tables[res].get(key)
    }

    fn commit(
        &mut self,
        res: ResourceId,
        key: Key,
        event: EventType,
        obj: Entry,
        prev: Option<Entry>,
    ) {
        match event {
            EventType::Deleted => {
                self.tables[res].remove(&key);
            }
            _ => {
                self.tables[res].insert(key.clone(), obj.clone());
            }
        }
        let kind = RESOURCES[res].kind;
        if !self.dirty.contains(&kind) {
            self.dirty.push(kind);
        }
        self.history.push_back(Arc::new(Change {
            rv: obj.rv,
            res,
            key,
            event,
            obj,
            prev,
            json_event: Default::default(),
            protobuf_event: Default::default(),
        }));
        while self.history.len() > self.capacity {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
    }

    fn namespace_check(&self, namespace: &str) -> Result<(), ApiError> {
        let ns = crate::resources::by_kind("Namespace").unwrap_or(0);
        match self.tables[ns].get(&(String::new(), namespace.to_string())) {
            None => Err(ApiError::not_found("", "namespaces", namespace)),
            Some(entry) if &*entry.index.phase == "Terminating" => Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ))
            .with_details(namespace, "", "namespaces")),
            Some(_) => Ok(()),
        }
    }

    /// Create an object. `obj` carries apiVersion/kind/metadata (name or generateName, and the
    /// namespace for namespaced kinds). With `commit == false` (dry run) nothing is stored.
    pub fn create(
        &mut self,
        res: ResourceId,
        obj: Value,
        now: jiff::Timestamp,
        commit: bool,
    ) -> Result<Entry, ApiError> {
        let mode = if commit { Mode::Commit } else { Mode::DryRun };
        self.insert(res, obj, now, mode)
    }

    /// Store one of the objects the server starts with. Unlike [`Store::create`] it keeps the
    /// object's own `uid`, `creationTimestamp` and `generation` (so the owner references a
    /// scenario wrote line up with the owners) and records no change: there is no history
    /// before the initial state and nobody to wake.
    pub fn create_initial(
        &mut self,
        res: ResourceId,
        obj: Value,
        now: jiff::Timestamp,
    ) -> Result<Entry, ApiError> {
        self.insert(res, obj, now, Mode::Initial)
    }

    fn insert(
        &mut self,
        res: ResourceId,
        mut obj: Value,
        now: jiff::Timestamp,
        mode: Mode,
    ) -> Result<Entry, ApiError> {
        let rt: &ResourceType = &RESOURCES[res];
        let meta = obj
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ApiError::invalid(rt.kind, "", "metadata: Required value"))?;
        let namespace = if rt.namespaced {
            let ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if ns.is_empty() {
                return Err(ApiError::invalid(
                    rt.kind,
                    "",
                    "metadata.namespace: Required value",
                ));
            }
            ns
        } else {
            meta.remove("namespace");
            String::new()
        };
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    rt.kind,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            name = format!("{prefix}{}", random_suffix());
        }
        if !valid_name(&name) {
            return Err(ApiError::invalid(
                rt.kind,
                &name,
                format!(
                    "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                ),
            ));
        }
        if rt.namespaced {
            self.namespace_check(&namespace)?;
        }
        let key = (namespace, name.clone());
        if self.tables[res].contains_key(&key) {
            return Err(ApiError::already_exists(rt.group, rt.plural, &name));
        }
        meta.insert("name".into(), json!(name));
        let keep =
            |meta: &serde_json::Map<String, Value>, field: &str, valid: fn(&Value) -> bool| {
                mode == Mode::Initial && meta.get(field).is_some_and(valid)
            };
        let non_empty = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
        if !keep(meta, "uid", non_empty) {
            meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        }
        if !keep(meta, "creationTimestamp", non_empty) {
            meta.insert("creationTimestamp".into(), json!(now_rfc3339(now)));
        }
        if !keep(meta, "generation", |v| v.as_i64().is_some_and(|g| g > 0)) {
            meta.insert("generation".into(), json!(1));
        }
        if mode != Mode::Initial {
            meta.remove("deletionTimestamp");
        }
        let commit = mode != Mode::DryRun;
        let rv = if commit { self.rv + 1 } else { self.rv };
        if commit {
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        } else {
            meta.remove("resourceVersion");
        }
        if rt.kind == "Namespace" {
            // Like the real API server (since 1.21): every namespace carries its name as label.
            let labels = crate::controllers::object::ensure_object(
                crate::controllers::object::ensure_object(&mut obj, "metadata"),
                "labels",
            );
            labels["kubernetes.io/metadata.name"] = json!(name);
            if obj.pointer("/status/phase").is_none() {
                obj["status"] = json!({"phase": "Active"});
            }
        }
        if mode != Mode::Initial {
            for (_, finalizer) in self.added_finalizers.iter().filter(|(r, _)| *r == res) {
                let meta = crate::controllers::object::ensure_object(&mut obj, "metadata");
                let slot = &mut meta["finalizers"];
                if !slot.is_array() {
                    *slot = json!([]);
                }
                if let Value::Array(list) = slot
                    && !list.iter().any(|f| f.as_str() == Some(finalizer.as_str()))
                {
                    list.push(json!(finalizer));
                }
            }
        }
        if rt.kind == "Pod" && obj.pointer("/status/phase").is_none() {
            obj["status"] = json!({"phase": "Pending"});
        }
        let entry = Entry::of(&obj, rv)?;
        match mode {
            Mode::Commit => {
                self.rv = rv;
                self.commit(res, key, EventType::Added, entry.clone(), None);
            }
            Mode::Initial => {
                self.rv = rv;
                self.tables[res].insert(key, entry.clone());
            }
            Mode::DryRun => {}
        }
        Ok(entry)
    }

    /// Replace an object (matched by its metadata). A non-empty `metadata.resourceVersion` must
    /// be the current one (409 Conflict otherwise). Identity fields are kept from the stored
    /// object; `generation` grows when `spec` changes. An update that changes nothing commits
    /// nothing (no new resourceVersion, no event), which keeps controllers from looping.
    pub fn update(&mut self, res: ResourceId, obj: Value, commit: bool) -> Result<Entry, ApiError> {
        self.replace(res, obj, commit, false)
    }

    /// [`Store::update`]; with `marking`, the object's own `deletionTimestamp` is kept (the
    /// deletion of an object with finalizers), otherwise the stored one wins.
    fn replace(
        &mut self,
        res: ResourceId,
        mut obj: Value,
        commit: bool,
        marking: bool,
    ) -> Result<Entry, ApiError> {
        let rt = &RESOURCES[res];
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let namespace = if rt.namespaced {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        } else {
            String::new()
        };
        let key = (namespace, name.clone());
        let Some(old) = self.tables[res].get(&key).cloned() else {
            return Err(ApiError::not_found(rt.group, rt.plural, &name));
        };
        let given_rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !given_rv.is_empty() && given_rv != old.rv.to_string() {
            return Err(ApiError::conflict(
                rt.group,
                rt.plural,
                &name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let old_value = old.value();
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return Err(ApiError::invalid(
                rt.kind,
                &name,
                "metadata: Required value",
            ));
        };
        for field in ["uid", "creationTimestamp", "deletionTimestamp"] {
            if marking && field == "deletionTimestamp" {
                continue;
            }
            match old_value.pointer(&format!("/metadata/{field}")) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        if !rt.namespaced {
            meta.remove("namespace");
        }
        let generation = old_value
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        meta.insert("generation".into(), json!(generation));
        meta.insert("resourceVersion".into(), json!(old.rv.to_string()));
        if obj == old_value {
            return Ok(old);
        }
        if obj.get("spec") != old_value.get("spec") {
            obj["metadata"]["generation"] = json!(generation + 1);
        }
        if !commit {
            return Entry::of(&obj, old.rv);
        }
        if rt.kind != "Namespace"
            && obj.pointer("/metadata/deletionTimestamp").is_some()
            && !has_pending_finalizers(&obj)
            && !self.foreground.contains(&*old.index.uid)
        {
            // The last finalizer of an object being deleted was removed: it goes now, and its
            // dependents after it (background).
            let since = obj
                .pointer("/metadata/deletionTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(jiff::Timestamp::now);
            let removed = self.remove(res, &key, obj)?;
            self.collect_garbage(removed.index.uid.to_string(), since);
            self.after_removal(&removed);
            return Ok(removed);
        }
        let rv = self.rv + 1;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let entry = Entry::of(&obj, rv)?;
        self.rv = rv;
        self.commit(res, key, EventType::Modified, entry.clone(), Some(old));
        Ok(entry)
    }

    /// Delete an object. `preconditions` are an optional uid and resourceVersion that must match.
    /// Deleting a namespace only marks it Terminating; [`Store::finish_namespace`] removes it.
    /// `propagation` (or `true` for background, `false` for orphan) says what happens to the
    /// objects owned (ownerReferences) by the deleted one; see [`Propagation`].
    pub fn delete(
        &mut self,
        res: ResourceId,
        key: &Key,
        preconditions: (Option<&str>, Option<&str>),
        propagation: impl Into<Propagation>,
        now: jiff::Timestamp,
        commit: bool,
    ) -> Result<Entry, ApiError> {
        let propagation = propagation.into();
        let rt = &RESOURCES[res];
        let Some(old) = self.tables[res].get(key).cloned() else {
            return Err(ApiError::not_found(rt.group, rt.plural, &key.1));
        };
        if let Some(uid) = preconditions.0
            && uid != &*old.index.uid
        {
            return Err(ApiError::conflict(
                rt.group,
                rt.plural,
                &key.1,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    old.index.uid
                ),
            ));
        }
        if let Some(rv) = preconditions.1
            && rv != old.rv.to_string()
        {
            return Err(ApiError::conflict(
                rt.group,
                rt.plural,
                &key.1,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    old.rv
                ),
            ));
        }
        let mut value = old.value();
        if rt.kind == "Namespace" {
            if value.pointer("/metadata/deletionTimestamp").is_none() {
                value["metadata"]["deletionTimestamp"] = json!(now_rfc3339(now));
                value["status"] = json!({"phase": "Terminating"});
                return self.replace(res, value, commit, true);
            }
            return Ok(old);
        }
        if propagation == Propagation::Foreground && commit && self.has_dependents(&old.index.uid) {
            return self.delete_foreground(res, value, now);
        }
        if has_pending_finalizers(&value) {
            // Like the real API server: mark the object and let whoever owns the finalizers
            // finish; it goes once an update leaves none (see `update`).
            if value.pointer("/metadata/deletionTimestamp").is_none() {
                value["metadata"]["deletionTimestamp"] = json!(now_rfc3339(now));
                return self.replace(res, value, commit, true);
            }
            return Ok(old);
        }
        if !commit {
            return Ok(old);
        }
        let removed = self.remove(res, key, value)?;
        if propagation != Propagation::Orphan {
            self.collect_garbage(removed.index.uid.to_string(), now);
        }
        self.after_removal(&removed);
        Ok(removed)
    }

    /// Remove an object for good, with a DELETED event carrying its last state.
    fn remove(&mut self, res: ResourceId, key: &Key, mut value: Value) -> Result<Entry, ApiError> {
        let old = self.tables[res].get(key).cloned();
        let rv = self.rv + 1;
        value["metadata"]["resourceVersion"] = json!(rv.to_string());
        let entry = Entry::of(&value, rv)?;
        self.rv = rv;
        if RESOURCES[res].kind == "Pod" {
            self.files.remove_pod(&entry.index.uid);
        }
        self.commit(res, key.clone(), EventType::Deleted, entry.clone(), old);
        Ok(entry)
    }

    /// One page of a list, consistent with resourceVersion `at` (the current one if `None`),
    /// starting after `after`, of at most `limit` objects passing the selectors.
    #[allow(clippy::too_many_arguments)]
    pub fn list(
        &self,
        res: ResourceId,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        limit: Option<usize>,
        after: Option<&Key>,
        at: Option<u64>,
    ) -> Result<Page, ApiError> {
        let at = at.unwrap_or(self.rv);
        if at < self.floor || at > self.rv {
            return Err(ApiError::expired(format!(
                "The provided continue parameter or resourceVersion {at} is too old to display a consistent list result (the oldest kept is {}). Start a new list without the continue parameter.",
                self.floor
            )));
        }
        // State at `at` = current state with later changes rolled back (earliest prev wins).
        let mut rollback: BTreeMap<&Key, Option<&Entry>> = BTreeMap::new();
        let first = self.history.partition_point(|c| c.rv <= at);
        for change in self.history.range(first..) {
            if change.res == res {
                rollback.entry(&change.key).or_insert(change.prev.as_ref());
            }
        }
        let start: Bound<Key> = match (after, namespace) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let in_scope = |k: &Key| namespace.is_none_or(|ns| k.0 == ns);
        let mut current = self.tables[res]
            .range((start.clone(), Bound::Unbounded))
            .take_while(|(k, _)| in_scope(k))
            .peekable();
        let start_ref: Bound<&Key> = match &start {
            Bound::Excluded(k) => Bound::Excluded(k),
            Bound::Included(k) => Bound::Included(k),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut rolled = rollback
            .range::<&Key, _>((start_ref, Bound::Unbounded))
            .take_while(|(k, _)| in_scope(k))
            .peekable();
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut last: Option<&Key> = None;
        loop {
            // Next key in the merged order; a rolled-back state overrides the current one.
            let next: Option<(&Key, Option<&Entry>)> = match (current.peek(), rolled.peek()) {
                (None, None) => break,
                (Some((ck, _)), Some((rk, _))) if **rk < *ck => {
                    rolled.next().map(|(k, e)| (*k, *e))
                }
                (Some((ck, _)), Some((rk, _))) if **rk == *ck => {
                    current.next();
                    rolled.next().map(|(k, e)| (*k, *e))
                }
                (Some(_), _) => current.next().map(|(k, e)| (k, Some(e))),
                (None, Some(_)) => rolled.next().map(|(k, e)| (*k, *e)),
            };
            let Some((key, entry)) = next else { break };
            let Some(entry) = entry else { continue };
            if !entry.selected(key, labels, fields) {
                continue;
            }
            if items.len() == limit {
                return Ok(Page {
                    items,
                    rv: at,
                    next: last.cloned(),
                });
            }
            items.push(entry.bytes.clone());
            last = Some(key);
        }
        Ok(Page {
            items,
            rv: at,
            next: None,
        })
    }

    /// Changes of kind `res` after resourceVersion `after`, or 410 if they are no longer kept.
    pub fn changes_after(&self, res: ResourceId, after: u64) -> Result<Vec<Arc<Change>>, ApiError> {
        if after < self.floor {
            return Err(ApiError::expired(format!(
                "too old resource version: {after} ({})",
                self.floor
            )));
        }
        let first = self.history.partition_point(|c| c.rv <= after);
        Ok(self
            .history
            .range(first..)
            .filter(|c| c.res == res)
            .cloned()
            .collect())
    }

    /// Append to a container's log.
    pub fn append_log(&mut self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.logs
            .entry((
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            ))
            .or_default()
            .push_str(text);
        self.log_seq += 1;
    }

    /// How many log appends there have been (grows with every append).
    pub fn log_seq(&self) -> u64 {
        self.log_seq
    }

    /// A container's log so far (empty if it never logged).
    pub fn log(&self, namespace: &str, pod: &str, container: &str) -> String {
        self.logs
            .get(&(
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            ))
            .cloned()
            .unwrap_or_default()
    }
}

impl Store {
    /// The entries of `kind` in `namespace` (all namespaces if `None`), in key order.
    fn scan<'s>(
        &'s self,
        kind: &str,
        namespace: Option<&'s str>,
    ) -> Box<dyn Iterator<Item = (&'s Key, &'s Entry)> + 's> {
        let Some(res) = crate::resources::by_kind(kind) else {
            return Box::new(std::iter::empty());
        };
        let table = &self.tables[res];
        match namespace {
            Some(ns) => Box::new(
                table
                    .range((ns.to_string(), String::new())..)
                    .take_while(move |(k, _)| k.0 == ns),
            ),
            None => Box::new(table.iter()),
        }
    }

    /// The entry of one object of `kind` (the namespace is ignored for cluster-scoped kinds).
    fn lookup(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&Entry> {
        let res = crate::resources::by_kind(kind)?;
        let ns = if RESOURCES[res].namespaced {
            namespace.unwrap_or("")
        } else {
            ""
        };
        self.get(res, &(ns.to_string(), name.to_string()))
    }

    /// The bytes of the objects [`World::list`](crate::world::World::list) answers with, still
    /// to be parsed (cheap to copy out from under a lock: the bytes are shared).
    pub fn list_bytes(
        &self,
        kind: &str,
        namespace: Option<&str>,
        field: Option<(&str, &str)>,
    ) -> Vec<Bytes> {
        self.scan(kind, namespace)
            .filter(|(k, e)| field.is_none_or(|(path, value)| e.field(k, path) == value))
            .map(|(_, e)| e.bytes.clone())
            .collect()
    }

    /// The bytes of one object, still to be parsed.
    pub fn get_bytes(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Bytes> {
        self.lookup(kind, namespace, name).map(|e| e.bytes.clone())
    }

    /// The index entries of the objects of `kind`, in key order.
    pub fn list_index(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Index>> {
        self.scan(kind, namespace)
            .map(|(_, e)| Arc::clone(&e.index))
            .collect()
    }

    /// The index entry of one object.
    pub fn get_index(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Arc<Index>> {
        self.lookup(kind, namespace, name)
            .map(|e| Arc::clone(&e.index))
    }
}

/// Parses stored bytes (written by the store, so valid JSON).
pub fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// The store as the controllers' read-only [`crate::world::World`]. The server's controller
/// runner uses a view that takes the lock per query instead (see `runner.rs`).
pub struct WorldView<'a>(pub &'a Store);

impl crate::world::World for WorldView<'_> {
    fn list(&self, kind: &str, namespace: Option<&str>, field: Option<(&str, &str)>) -> Vec<Value> {
        self.0
            .list_bytes(kind, namespace, field)
            .iter()
            .map(|b| parse(b))
            .collect()
    }

    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.0.get_bytes(kind, namespace, name).map(|b| parse(&b))
    }

    fn list_index(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Index>> {
        self.0.list_index(kind, namespace)
    }

    fn get_index(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Arc<Index>> {
        self.0.get_index(kind, namespace, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn pod(name: &str, node: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "x"}}, "spec": {"nodeName": node}})
    }

    fn store_with_pods(n: usize) -> (Store, ResourceId) {
        let mut s = Store::new(100);
        let ns = crate::resources::by_kind("Namespace").unwrap();
        s.create(ns, json!({"metadata": {"name": "default"}}), now(), true)
            .unwrap();
        let pods = crate::resources::by_kind("Pod").unwrap();
        for i in 0..n {
            s.create(pods, pod(&format!("p{i:02}"), "n1"), now(), true)
                .unwrap();
        }
        (s, pods)
    }

    #[test]
    fn continue_pages_see_the_snapshot_not_later_changes() {
        let (mut s, pods) = store_with_pods(6);
        let all = (LabelSelector::default(), FieldSelector::default());
        let page1 = s
            .list(pods, None, &all.0, &all.1, Some(2), None, None)
            .unwrap();
        assert_eq!(page1.items.len(), 2);
        let next = page1.next.clone().unwrap();
        // After the first page: delete a later pod and create one that sorts after the cursor.
        s.delete(
            pods,
            &("default".into(), "p04".into()),
            (None, None),
            false,
            now(),
            true,
        )
        .unwrap();
        s.create(pods, pod("p03a", "n1"), now(), true).unwrap();
        let rest = s
            .list(
                pods,
                None,
                &all.0,
                &all.1,
                None,
                Some(&next),
                Some(page1.rv),
            )
            .unwrap();
        let names: Vec<String> = rest
            .items
            .iter()
            .map(|b| {
                serde_json::from_slice::<Value>(b).unwrap()["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["p02", "p03", "p04", "p05"]);
        let now_list = s
            .list(pods, None, &all.0, &all.1, None, Some(&next), None)
            .unwrap();
        assert_eq!(
            now_list.items.len(),
            4,
            "current state has p03a and lacks p04"
        );
    }

    #[test]
    fn compacted_snapshots_expire() {
        let (mut s, pods) = store_with_pods(3);
        let old = s.rv();
        for i in 0..150 {
            s.create(pods, pod(&format!("q{i}"), "n1"), now(), true)
                .unwrap();
        }
        let err = s
            .list(
                pods,
                None,
                &LabelSelector::default(),
                &FieldSelector::default(),
                Some(1),
                None,
                Some(old),
            )
            .unwrap_err();
        assert_eq!(err.code, 410);
        assert_eq!(s.changes_after(pods, old).unwrap_err().reason, "Expired");
    }

    #[test]
    fn stale_update_conflicts_and_noop_update_commits_nothing() {
        let (mut s, pods) = store_with_pods(1);
        let stored = s
            .get(pods, &("default".into(), "p00".into()))
            .unwrap()
            .value();
        let rv = s.rv();
        assert_eq!(s.update(pods, stored.clone(), true).unwrap().rv, rv);
        let mut changed = stored.clone();
        changed["spec"]["nodeName"] = json!("n2");
        assert_eq!(s.update(pods, changed.clone(), true).unwrap().rv, rv + 1);
        assert_eq!(
            s.update(pods, changed, true).unwrap_err().reason,
            "Conflict"
        );
    }

    #[test]
    fn garbage_collection_follows_owner_references() {
        let (mut s, pods) = store_with_pods(0);
        let rs = crate::resources::by_kind("ReplicaSet").unwrap();
        let owner = s
            .create(
                rs,
                json!({"metadata": {"name": "r", "namespace": "default"}}),
                now(),
                true,
            )
            .unwrap();
        let mut child = pod("c", "n1");
        child["metadata"]["ownerReferences"] =
            json!([{"uid": &*owner.index.uid, "kind": "ReplicaSet", "name": "r"}]);
        s.create(pods, child, now(), true).unwrap();
        s.create(pods, pod("free", "n1"), now(), true).unwrap();
        s.delete(
            rs,
            &("default".into(), "r".into()),
            (None, None),
            true,
            now(),
            true,
        )
        .unwrap();
        let view = WorldView(&s);
        let left: Vec<Value> = view.list("Pod", Some("default"), None);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["metadata"]["name"], "free");
        assert_eq!(
            view.list("Pod", None, Some(("spec.nodeName", "n1"))).len(),
            1
        );
        assert_eq!(
            view.list("Pod", None, Some(("spec.nodeName", "n9"))).len(),
            0
        );
    }

    #[test]
    fn finalizers_hold_a_deletion_until_removed() {
        let (mut s, pods) = store_with_pods(0);
        let key: Key = ("default".into(), "held".into());
        let mut held = pod("held", "n1");
        held["metadata"]["finalizers"] =
            json!(["service.kubernetes.io/load-balancer-cleanup", "orphan"]);
        s.create(pods, held, now(), true).unwrap();
        let marked = s
            .delete(pods, &key, (None, None), true, now(), true)
            .unwrap();
        let marked = marked.value();
        assert!(marked.pointer("/metadata/deletionTimestamp").is_some());
        assert!(s.get(pods, &key).is_some(), "a pending finalizer keeps it");
        // A second delete changes nothing.
        s.delete(pods, &key, (None, None), true, now(), true)
            .unwrap();
        let mut released = marked.clone();
        released["metadata"]["finalizers"] = json!(["orphan"]);
        s.update(pods, released, true).unwrap();
        assert!(
            s.get(pods, &key).is_none(),
            "gone once only instant ones are left"
        );

        let plain: Key = ("default".into(), "plain".into());
        let mut protected = pod("plain", "n1");
        protected["metadata"]["finalizers"] = json!(["kubernetes.io/pv-protection"]);
        s.create(pods, protected, now(), true).unwrap();
        s.delete(pods, &plain, (None, None), true, now(), true)
            .unwrap();
        assert!(
            s.get(pods, &plain).is_none(),
            "protection finalizers never hold"
        );
    }
    #[test]
    fn an_added_finalizer_lands_on_new_objects_of_its_kind_only_and_holds_their_deletion() {
        let (mut s, pods) = store_with_pods(0);
        let initial = pod("initial", "n1");
        s.create_initial(pods, initial, now()).unwrap();
        s.add_finalizer_on_create(pods, "backup.example.com/protect".into());
        let mut own = pod("own", "n1");
        own["metadata"]["finalizers"] = json!(["example.com/x"]);
        s.create(pods, own, now(), true).unwrap();
        s.create(pods, pod("plain", "n1"), now(), true).unwrap();
        let finalizers = |s: &Store, name: &str| {
            s.get(pods, &("default".into(), name.into()))
                .map(|e| e.value()["metadata"]["finalizers"].clone())
        };
        assert_eq!(
            finalizers(&s, "own"),
            Some(json!(["example.com/x", "backup.example.com/protect"]))
        );
        assert_eq!(
            finalizers(&s, "plain"),
            Some(json!(["backup.example.com/protect"]))
        );
        assert_eq!(
            finalizers(&s, "initial"),
            Some(Value::Null),
            "initial objects"
        );
        let ns = crate::resources::by_kind("Namespace").unwrap();
        s.create(ns, json!({"metadata": {"name": "other"}}), now(), true)
            .unwrap();
        assert_eq!(
            s.get(ns, &(String::new(), "other".into()))
                .map(|e| e.value()["metadata"]["finalizers"].clone()),
            Some(Value::Null),
            "other kinds"
        );
        let key: Key = ("default".into(), "plain".into());
        s.delete(pods, &key, (None, None), true, now(), true)
            .unwrap();
        let left = s.get(pods, &key).expect("held by the added finalizer");
        assert!(
            left.value()
                .pointer("/metadata/deletionTimestamp")
                .is_some()
        );
    }
}
