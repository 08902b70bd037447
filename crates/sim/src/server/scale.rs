//! The `scale` subresource (`autoscaling/v1` `Scale`) of Deployments, ReplicaSets and
//! StatefulSets: what `kubectl scale` and autoscalers read and write instead of the whole
//! object. A Scale is a view: writing it changes only the parent's `spec.replicas`.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::Shared;
use super::api::{decode_body, key, not_found, object_response};
use super::route::Target;
use crate::patch::{self, PatchType};
use crate::resources::ResourceType;
use crate::scenario::limits::MAX_REPLICAS;
use crate::status::ApiError;
use crate::store::Entry;

type Result<T> = std::result::Result<T, ApiError>;

/// Answer `get`, `update` or `patch` on `<kind>/<name>/scale`.
#[allow(clippy::too_many_arguments)]
pub(super) fn handle(
    shared: &Shared,
    rt: &ResourceType,
    t: &Target,
    verb: &str,
    dry: bool,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>> {
    if verb == "get" {
        let store = shared.read();
        let entry = store
            .get(t.res, &key(rt, t))
            .ok_or_else(|| not_found(rt, t))?;
        return Ok(scale_response(&scale_of(entry), proto));
    }
    let entry = shared.write(|s| -> Result<Entry> {
        let stored = s
            .get(t.res, &key(rt, t))
            .ok_or_else(|| not_found(rt, t))?
            .clone();
        let wanted = if verb == "patch" {
            let mut doc = scale_of(&stored);
            patch::apply(&mut doc, PatchType::from_content_type(content_type)?, body)?;
            doc
        } else {
            decode_body(content_type, body)?
        };
        let replicas = requested_replicas(rt, t, &wanted)?;
        let given_rv = wanted
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !given_rv.is_empty() && given_rv != stored.rv.to_string() {
            return Err(ApiError::conflict(
                rt.group,
                rt.plural,
                t.name.as_deref().unwrap_or(""),
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut obj = stored.value();
        obj["spec"]["replicas"] = json!(replicas);
        s.update(t.res, obj, !dry)
    })?;
    Ok(scale_response(&scale_of(&entry), proto))
}

/// `spec.replicas` of a Scale body: present, a whole number, not negative (422 otherwise).
fn requested_replicas(rt: &ResourceType, t: &Target, scale: &Value) -> Result<i64> {
    let name = t.name.as_deref().unwrap_or("");
    let kind = scale.get("kind").and_then(Value::as_str).unwrap_or("Scale");
    if kind != "Scale" {
        return Err(ApiError::invalid(
            rt.kind,
            name,
            format!(
                "the body has kind {kind:?}; the scale subresource takes an autoscaling/v1 Scale"
            ),
        ));
    }
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) if n > i64::from(MAX_REPLICAS) => Err(ApiError::invalid(
                "Scale",
                name,
                format!(
                    "spec.replicas: Invalid value: {n}: the simulator runs at most {MAX_REPLICAS} replicas per workload"
                ),
            )),
            Some(n) if n >= 0 => Ok(n),
            _ => Err(ApiError::invalid(
                "Scale",
                name,
                format!("spec.replicas: Invalid value: {v}: must be greater than or equal to 0"),
            )),
        },
    }
}

fn scale_response(scale: &Value, proto: bool) -> Response<Body> {
    object_response(StatusCode::OK, scale.to_string().into(), proto)
}

/// The Scale view of a stored object.
fn scale_of(entry: &Entry) -> Value {
    let obj = entry.value();
    let meta = |f: &str| obj.pointer(&format!("/metadata/{f}")).cloned();
    let mut metadata = json!({"resourceVersion": entry.rv.to_string()});
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        if let Some(v) = meta(field) {
            metadata[field] = v;
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": crate::selector::format_label_selector(obj.pointer("/spec/selector")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{ResourceId, find};

    fn target() -> (ResourceId, Target) {
        let res = find("apps", "v1", "deployments").unwrap();
        let t = Target {
            res,
            namespace: Some("default".into()),
            name: Some("web".into()),
            sub: Some("scale".into()),
            watch_path: false,
        };
        (res, t)
    }

    #[test]
    fn replicas_must_be_a_count_the_simulator_runs() {
        let (res, t) = target();
        let rt = &crate::resources::RESOURCES[res];
        let scale = |r: Value| json!({"kind": "Scale", "spec": {"replicas": r}});
        assert_eq!(requested_replicas(rt, &t, &scale(json!(3))).unwrap(), 3);
        assert_eq!(
            requested_replicas(rt, &t, &scale(json!(-1)))
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(
            requested_replicas(rt, &t, &scale(json!("3")))
                .unwrap_err()
                .code,
            422
        );
        let err = requested_replicas(rt, &t, &scale(json!(1_000_000_000))).unwrap_err();
        assert!(err.message.contains("at most"), "{}", err.message);
        let other = json!({"kind": "Deployment", "spec": {"replicas": 1}});
        assert_eq!(requested_replicas(rt, &t, &other).unwrap_err().code, 422);
    }
}
