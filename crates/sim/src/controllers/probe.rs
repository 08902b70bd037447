//! The probe protocol: pods annotated `scs-kaas.io/probe` write or read a marker file on a
//! mounted claim, and their outcome follows the volume's behaviour and the node they run on.
//! Described for users (and for the real images checks use) in `docs/scenario-format.md`.
//!
//! Volume contents are kept in the PersistentVolume's `sim.scs-kaas.io/data` annotation (a JSON
//! object: path inside the volume → `{content, node}`), so they survive controller restarts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::object::{self, annotation, namespace, str_at};
use super::volume::BEHAVIOUR_ANNOTATION;
use crate::world::{Action, World};

/// Annotation that makes a pod a probe; values `write-marker` or `read-marker`.
pub const PROBE_ANNOTATION: &str = "scs-kaas.io/probe";
/// Annotation on a PersistentVolume holding the files probes wrote.
pub const DATA_ANNOTATION: &str = "sim.scs-kaas.io/data";

/// What a probe pod did.
pub struct Outcome {
    /// Exit status 0.
    pub succeeded: bool,
    /// Container log.
    pub log: String,
}

/// Volumes changed by probes in one reconcile round, written back once each.
#[derive(Default)]
pub struct Volumes {
    changed: BTreeMap<String, Value>,
}

impl Volumes {
    fn get(&self, world: &dyn World, name: &str) -> Option<Value> {
        self.changed
            .get(name)
            .cloned()
            .or_else(|| world.get("PersistentVolume", None, name))
    }

    /// The updates to send for the volumes probes wrote to.
    pub fn into_updates(self) -> Vec<Action> {
        self.changed.into_values().map(Action::Update).collect()
    }
}

fn env<'p>(container: &'p Value, key: &str) -> Option<&'p str> {
    container
        .get("env")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(key))?
        .get("value")
        .and_then(Value::as_str)
}

fn fail(log: String) -> Outcome {
    Outcome {
        succeeded: false,
        log,
    }
}

/// The volume and path inside it that `file` refers to, via the container's mounts.
fn locate(
    world: &dyn World,
    pod: &Value,
    container: &Value,
    file: &str,
) -> Result<(String, String), String> {
    let mounts = container.get("volumeMounts").and_then(Value::as_array);
    let mount = mounts
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let path = m
                .get("mountPath")
                .and_then(Value::as_str)?
                .trim_end_matches('/');
            let rest = file.strip_prefix(path)?.strip_prefix('/')?;
            Some((path.len(), m.get("name").and_then(Value::as_str)?, rest))
        })
        .max_by_key(|(len, _, _)| *len);
    let Some((_, volume_name, rest)) = mount else {
        return Err(format!("{file} is not under a mounted volume"));
    };
    let claim = object::at(pod, "spec.volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(volume_name))
        .and_then(|v| v.pointer("/persistentVolumeClaim/claimName"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!("volume {volume_name} holding {file} is not a PersistentVolumeClaim")
        })?;
    let pv = world
        .get("PersistentVolumeClaim", Some(namespace(pod)), claim)
        .and_then(|c| str_at(&c, "spec.volumeName").map(str::to_string))
        .ok_or_else(|| format!("claim {claim} holding {file} is not bound"))?;
    Ok((pv, rest.to_string()))
}

/// Runs the probe of a pod that has just started on `node`.
pub fn run(world: &dyn World, pod: &Value, node: &str, volumes: &mut Volumes) -> Outcome {
    let kind = annotation(pod, PROBE_ANNOTATION).unwrap_or("");
    let Some(container) = pod.pointer("/spec/containers/0") else {
        return fail("probe: the pod has no container\n".into());
    };
    let Some(file) = env(container, "MARKER_FILE") else {
        return fail("probe: environment variable MARKER_FILE is not set\n".into());
    };
    let marker = env(container, "MARKER");
    let (pv_name, path) = match locate(world, pod, container, file) {
        Ok(found) => found,
        Err(why) => return fail(format!("probe: {why}\n")),
    };
    let Some(mut pv) = volumes.get(world, &pv_name) else {
        return fail(format!(
            "probe: volume {pv_name} holding {file} does not exist\n"
        ));
    };
    let mut data: Map<String, Value> = annotation(&pv, DATA_ANNOTATION)
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    match kind {
        "write-marker" => {
            let Some(marker) = marker else {
                return fail("probe: environment variable MARKER is not set\n".into());
            };
            data.insert(path, json!({"content": marker, "node": node}));
            object::set_annotation(&mut pv, DATA_ANNOTATION, &Value::Object(data).to_string());
            volumes.changed.insert(pv_name, pv);
            Outcome {
                succeeded: true,
                log: format!("wrote marker to {file}\n"),
            }
        }
        "read-marker" => {
            let ephemeral = annotation(&pv, BEHAVIOUR_ANNOTATION) == Some("ephemeral");
            let entry = data
                .get(&path)
                .filter(|e| !ephemeral || e.get("node").and_then(Value::as_str) == Some(node));
            let content = entry.and_then(|e| e.get("content")).and_then(Value::as_str);
            match (content, marker) {
                (None, _) => fail(format!("marker missing: {file} does not exist\n")),
                (Some(found), Some(wanted)) if found != wanted => fail(format!(
                    "marker mismatch in {file}: found {found:?}, expected {wanted:?}\n"
                )),
                (Some(found), _) => Outcome {
                    succeeded: true,
                    log: format!("{found}\n"),
                },
            }
        }
        other => fail(format!(
            "probe: unknown probe {other:?} (use write-marker or read-marker)\n"
        )),
    }
}
