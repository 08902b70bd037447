//! The contract between the simulated API server and the simulated world it serves.
//!
//! The server (HTTP, storage, watch, auth) and the world (scenario, controllers that give the
//! cluster life) are built separately; this file is the seam. The server owns the objects; the
//! world's controllers read them through [`World`] and answer with [`Action`]s the server applies
//! like any API write (new resourceVersion, watch events). Controllers are level-triggered: the
//! server runs them after changes to the kinds they watch until they have nothing left to do.

use std::sync::Arc;

use serde_json::Value;

pub use crate::store::{Index, OwnerRef};

/// What a scenario user may do; checked on every request (403 Forbidden `Status` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    /// Everything.
    Admin,
    /// `get`, `list`, `watch` on everything; nothing else.
    ReadOnly,
    /// Explicit rules; a request is allowed if any rule matches.
    Rules(Vec<Rule>),
    /// Rules of the Roles/ClusterRoles bound to a ServiceAccount token's holder, read from the
    /// cluster's RBAC objects at request time.
    Rbac(Vec<crate::rbac::PolicyRule>),
}

/// One RBAC-like allow rule. `"*"` matches anything in each list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Verbs: get, list, watch, create, update, patch, delete, deletecollection.
    pub verbs: Vec<String>,
    /// API groups, `""` for core.
    pub groups: Vec<String>,
    /// Resource plurals, optionally with subresource (`pods/log`).
    pub resources: Vec<String>,
    /// Namespaces the rule applies to; empty means all namespaces and cluster-scoped resources.
    pub namespaces: Vec<String>,
}

/// A user of the simulated cluster, authenticated by bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name (also the kubeconfig user and context name the server writes).
    pub name: String,
    /// Bearer token the user presents.
    pub token: String,
    /// What the user may do.
    pub permission: Permission,
}

/// A finalizer the server adds to every object of one kind created while it runs (a scenario's
/// `unreleasedFinalizers`: a mutating webhook whose controller is gone); nothing removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedFinalizer {
    /// Kind, e.g. `PersistentVolumeClaim`.
    pub kind: String,
    /// The finalizer, e.g. `backup.example.com/protect`.
    pub finalizer: String,
}

/// Everything the server needs to start: produced from a scenario file.
#[derive(Default)]
pub struct SimConfig {
    /// Scenario name, shown in logs and the kubeconfig's cluster name.
    pub name: String,
    /// What `/version` reports as `gitVersion`, e.g. `v1.35.9`.
    pub git_version: String,
    /// Users; the first admin user becomes the kubeconfig's current context.
    pub users: Vec<User>,
    /// Initial objects, each a full JSON object with `apiVersion`, `kind` and `metadata`.
    /// Objects keep their `uid` (one is made up when absent), so owner references can name it.
    pub objects: Vec<Value>,
    /// More initial objects, made one at a time while the server stores them (a scenario's:
    /// a large cluster is never held as JSON trees all at once). Loaded after the namespaces
    /// of `objects` and before its other objects.
    pub source: Option<Box<dyn ObjectSource>>,
    /// Controllers that give the cluster life (scheduler, workloads, volume provisioner, ...).
    pub controllers: Vec<Box<dyn Controller>>,
    /// Finalizers added to new objects and never released.
    pub added_finalizers: Vec<AddedFinalizer>,
}

impl SimConfig {
    /// Every initial object as JSON: `objects`, then what `source` makes. For tests and tools
    /// that look at a scenario's objects; the server streams `source` instead.
    pub fn initial_objects(&self) -> Vec<Value> {
        let mut all = self.objects.clone();
        if let Some(source) = &self.source {
            source.emit(&mut |o| all.push(o));
        }
        all
    }
}

/// Initial objects made on demand (see [`SimConfig::source`]).
pub trait ObjectSource: Send + Sync {
    /// Calls `out` with every object, each namespace before the objects in it. May be called
    /// more than once; each call makes the same objects.
    fn emit(&self, out: &mut dyn FnMut(Value));
}

/// A read-only view of the server's objects, handed to controllers.
///
/// `list` and `get` parse objects; `list_index` and `get_index` answer from what the server
/// indexed at the last write (names, labels, owners, node, phase, readiness, ...) and parse
/// nothing, so a controller can look at 50,000 pods cheaply and parse only what it changes.
pub trait World {
    /// Objects of `kind` (e.g. `"Pod"`), optionally limited to one namespace and to objects whose
    /// field (dotted path such as `spec.nodeName` or `status.phase`) equals a value (`""` matches
    /// an absent field).
    fn list(&self, kind: &str, namespace: Option<&str>, field: Option<(&str, &str)>) -> Vec<Value>;

    /// One object, if it exists.
    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value>;

    /// The index entries of the objects of `kind`, optionally in one namespace, in
    /// namespace/name order.
    fn list_index(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Index>> {
        self.list(kind, namespace, None)
            .iter()
            .map(|o| Arc::new(Index::of(o)))
            .collect()
    }

    /// The index entry of one object, if it exists.
    fn get_index(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Arc<Index>> {
        self.get(kind, namespace, name)
            .map(|o| Arc::new(Index::of(&o)))
    }

    /// Where the API server listens, so probe pods can be told apart connecting to it; `None`
    /// outside a running server (controller tests).
    fn api_address(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

/// A change a controller asks the server to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create an object (full JSON with apiVersion/kind/metadata; `generateName` allowed).
    Create(Value),
    /// Replace an object (matched by kind, namespace and name), including its status.
    Update(Value),
    /// Delete an object.
    Delete {
        /// Kind, e.g. `"Pod"`.
        kind: String,
        /// Namespace, `None` for cluster-scoped kinds.
        namespace: Option<String>,
        /// Name.
        name: String,
    },
    /// Record a core/v1 Event about an object.
    Event {
        /// Namespace of the event (the involved object's, or `default`).
        namespace: String,
        /// `{apiVersion, kind, name, namespace, uid}` of the involved object.
        involved: Value,
        /// `Normal` or `Warning`.
        event_type: String,
        /// Machine-readable reason, e.g. `FailedScheduling`.
        reason: String,
        /// Human-readable message.
        message: String,
    },
    /// Append text to a container's log, served by the `pods/log` subresource.
    AppendLog {
        /// Pod namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
        /// Text to append (include trailing newlines).
        text: String,
    },
    /// Create or replace a file in a pod's `emptyDir` volume (read back with `exec cat`).
    WriteFile {
        /// uid of the pod (files go with the pod).
        pod_uid: String,
        /// Name of the volume in `spec.volumes`.
        volume: String,
        /// Path inside the volume, e.g. `junit_01.xml`.
        path: String,
        /// The content.
        content: bytes::Bytes,
    },
}

/// A simulated controller: looks at the world and says what should change.
pub trait Controller: Send + Sync {
    /// Short name for logs, e.g. `scheduler`.
    fn name(&self) -> &'static str;

    /// Kinds whose changes should wake this controller.
    fn watches(&self) -> &'static [&'static str];

    /// Compare desired and actual state; return the actions that move towards desired.
    /// Must be idempotent: returning nothing means the world is settled for this controller.
    fn reconcile(&self, world: &dyn World, now: jiff::Timestamp) -> Vec<Action>;

    /// When this controller must run again although nothing it watches changed (a simulated
    /// process that advances with time); asked after every reconcile. `None` (the default)
    /// waits for changes only.
    fn wake_at(&self) -> Option<jiff::Timestamp> {
        None
    }
}
