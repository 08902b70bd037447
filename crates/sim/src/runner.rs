//! Runs the scenario's controllers: level-triggered, after committed changes to the kinds each
//! controller watches, applying their actions as ordinary writes until the world settles.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};

use serde_json::{Value, json};

use crate::resources::{RESOURCES, by_kind};
use crate::server::Shared;
use crate::store::{Index, Store, parse};
use crate::world::{Action, Controller, World};

/// Rounds of reconcile-and-apply after one wake-up before the runner gives up and logs it.
pub const MAX_ROUNDS: usize = 100;

/// Start the runner thread; it runs every controller once, then after each relevant change.
pub fn spawn(
    shared: Arc<Shared>,
    controllers: Vec<Box<dyn Controller>>,
    wake: Receiver<Vec<&'static str>>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("sim-controllers".into())
        .spawn(move || run(&shared, &controllers, &wake))?;
    Ok(())
}

fn run(shared: &Shared, controllers: &[Box<dyn Controller>], wake: &Receiver<Vec<&'static str>>) {
    // At start every controller looks at the initial world.
    let mut dirty: BTreeSet<&'static str> = controllers
        .iter()
        .flat_map(|c| c.watches().iter().copied())
        .collect();
    // Controllers whose own wake-up time has come (simulated processes advancing with time).
    let mut due: BTreeSet<usize> = BTreeSet::new();
    loop {
        let mut rounds = 0;
        while (!dirty.is_empty() || !due.is_empty()) && !shared.shutdown.is_cancelled() {
            if rounds == MAX_ROUNDS {
                tracing::warn!(
                    "controllers did not settle after {MAX_ROUNDS} rounds (still changing: {dirty:?}); waiting for the next change"
                );
                break;
            }
            rounds += 1;
            let now = jiff::Timestamp::now();
            for (i, controller) in controllers.iter().enumerate() {
                if !due.contains(&i) && !controller.watches().iter().any(|k| dirty.contains(k)) {
                    continue;
                }
                let actions = controller.reconcile(&SharedView(shared), now);
                if !actions.is_empty() {
                    shared.write(|s| apply(s, controller.name(), actions, now));
                }
            }
            dirty.clear();
            due.clear();
            while let Ok(kinds) = wake.try_recv() {
                dirty.extend(kinds);
            }
        }
        dirty.clear();
        due.clear();
        let next = controllers
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.wake_at().map(|at| (i, at)))
            .min_by_key(|(_, at)| *at);
        let received = match next {
            None => wake.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some((i, at)) => {
                let wait = std::time::Duration::try_from(at.duration_since(jiff::Timestamp::now()))
                    .unwrap_or(std::time::Duration::ZERO)
                    .min(std::time::Duration::from_secs(3600));
                match wake.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {
                        due.insert(i);
                        let now = jiff::Timestamp::now();
                        due.extend(
                            controllers
                                .iter()
                                .enumerate()
                                .filter(|(_, c)| c.wake_at().is_some_and(|at| at <= now))
                                .map(|(j, _)| j),
                        );
                        Ok(Vec::new())
                    }
                    other => other,
                }
            }
        };
        match received {
            Ok(kinds) => dirty.extend(kinds),
            Err(_) => return,
        }
        if shared.shutdown.is_cancelled() {
            return;
        }
    }
}

/// The store as the controllers see it. Each query takes the read lock only to copy out what
/// it needs (shared bytes, index entries); parsing and the controller's own work happen after
/// the lock is released, so API requests (and writes, which would otherwise hold back every
/// later reader) never wait behind a reconcile. Queries of one reconcile may therefore see
/// different states; controllers are level-triggered and their updates carry the
/// resourceVersion they read, so a stale view costs at most a refused write and another round.
struct SharedView<'a>(&'a Shared);

impl World for SharedView<'_> {
    fn list(&self, kind: &str, namespace: Option<&str>, field: Option<(&str, &str)>) -> Vec<Value> {
        let bytes = self.0.read().list_bytes(kind, namespace, field);
        bytes.iter().map(|b| parse(b)).collect()
    }

    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let bytes = self.0.read().get_bytes(kind, namespace, name);
        bytes.map(|b| parse(&b))
    }

    fn list_index(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Index>> {
        self.0.read().list_index(kind, namespace)
    }

    fn get_index(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Arc<Index>> {
        self.0.read().get_index(kind, namespace, name)
    }

    fn api_address(&self) -> Option<std::net::SocketAddr> {
        Some(self.0.addr)
    }
}

fn kind_of(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// Apply a controller's actions; failures are logged (the next round sees the real state).
pub fn apply(store: &mut Store, controller: &str, actions: Vec<Action>, now: jiff::Timestamp) {
    for action in actions {
        let result = match action {
            Action::Create(obj) => match by_kind(kind_of(&obj)) {
                Some(res) => store.create(res, obj, now, true).map(drop),
                None => Err(unknown_kind(kind_of(&obj))),
            },
            Action::Update(obj) => match by_kind(kind_of(&obj)) {
                Some(res) => store.update(res, obj, true).map(drop),
                None => Err(unknown_kind(kind_of(&obj))),
            },
            Action::Delete {
                kind,
                namespace,
                name,
            } => match by_kind(&kind) {
                Some(res) => {
                    let ns = if RESOURCES[res].namespaced {
                        namespace.unwrap_or_default()
                    } else {
                        String::new()
                    };
                    let key = (ns, name);
                    let deleted = store.delete(res, &key, (None, None), true, now, true);
                    if kind == "Namespace" && deleted.is_ok() {
                        // A namespace is cluster-scoped: its own name says what to empty.
                        store.finish_namespace(&key.1);
                    }
                    deleted.map(drop)
                }
                None => Err(unknown_kind(&kind)),
            },
            Action::Event {
                namespace,
                involved,
                event_type,
                reason,
                message,
            } => {
                let stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
                let object = involved
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("object");
                let event = json!({
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"generateName": format!("{object}."), "namespace": namespace},
                    "involvedObject": involved,
                    "type": event_type,
                    "reason": reason,
                    "message": message,
                    "count": 1,
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "source": {"component": controller},
                    "reportingComponent": controller,
                });
                match by_kind("Event") {
                    Some(res) => store.create(res, event, now, true).map(drop),
                    None => Err(unknown_kind("Event")),
                }
            }
            Action::AppendLog {
                namespace,
                pod,
                container,
                text,
            } => {
                store.append_log(&namespace, &pod, &container, &text);
                Ok(())
            }
            Action::WriteFile {
                pod_uid,
                volume,
                path,
                content,
            } => {
                store.files.write(&pod_uid, &volume, &path, content);
                Ok(())
            }
        };
        if let Err(err) = result {
            tracing::debug!("controller {controller}: action not applied: {err}");
        }
    }
}

fn unknown_kind(kind: &str) -> crate::status::ApiError {
    crate::status::ApiError::bad_request(format!("kind {kind:?} is not served by the simulator"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_a_controller_deletes_is_emptied_and_removed_like_one_deleted_through_the_api() {
        let mut store = Store::new(100);
        let now = jiff::Timestamp::now();
        let ns = by_kind("Namespace").unwrap();
        let maps = by_kind("ConfigMap").unwrap();
        store
            .create(ns, json!({"metadata": {"name": "doomed"}}), now, true)
            .unwrap();
        store
            .create(
                maps,
                json!({"metadata": {"name": "content", "namespace": "doomed"}}),
                now,
                true,
            )
            .unwrap();
        apply(
            &mut store,
            "test-controller",
            vec![Action::Delete {
                kind: "Namespace".into(),
                namespace: None,
                name: "doomed".into(),
            }],
            now,
        );
        assert!(
            store
                .get(maps, &("doomed".into(), "content".into()))
                .is_none(),
            "its content goes"
        );
        assert!(
            store.get(ns, &(String::new(), "doomed".into())).is_none(),
            "the empty namespace goes"
        );
    }
}
