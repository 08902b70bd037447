//! Server-side apply (`PATCH` with `application/apply-patch+yaml`), approximated: the applied
//! configuration creates the object when it is absent and is otherwise merged into it like a
//! strategic merge patch; the field manager and the fields it applied are recorded in
//! `metadata.managedFields` (operation `Apply`). Fields are not owned: there are no conflicts
//! between managers (so `force` changes nothing), and a field left out of a later apply stays.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::Shared;
use super::api::{check_body, key, not_found, object_response, split_status};
use super::route::Target;
use crate::patch::{self, PatchType};
use crate::resources::ResourceType;
use crate::status::ApiError;

type Result<T> = std::result::Result<T, ApiError>;

/// The media type of an apply patch.
pub const MEDIA_TYPE: &str = "application/apply-patch+yaml";

/// Whether a request's `Content-Type` is an apply patch.
pub fn is_apply(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == MEDIA_TYPE
}

/// What the request said besides the body.
pub(super) struct ApplyOptions<'a> {
    /// `fieldManager` (required).
    pub field_manager: Option<&'a str>,
    /// `dryRun=All`.
    pub dry: bool,
    /// Answer in protobuf.
    pub proto: bool,
}

/// Apply `body` (YAML or JSON) to the object `t` names.
pub(super) fn handle(
    shared: &Shared,
    rt: &ResourceType,
    t: &Target,
    options: ApplyOptions<'_>,
    body: &[u8],
) -> Result<Response<Body>> {
    let manager = options
        .field_manager
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "PatchOptions",
                "",
                "fieldManager: Required value: is required for apply patch (kubectl sends --field-manager, default \"kubectl\")",
            )
        })?;
    let mut applied = parse(body)?;
    check_body(rt, &mut applied, t)?;
    let mut record = json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": rt.api_version(),
        "time": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(&applied, true),
    });
    // Through the status subresource only the status is applied (and recorded as such).
    if t.sub.as_deref() == Some("status") {
        let status = applied.get("status").cloned().unwrap_or(Value::Null);
        record["fieldsV1"] = json!({"f:status": fields_v1(&status, false)});
        record["subresource"] = json!("status");
    }
    let now = jiff::Timestamp::now();
    let commit = !options.dry;
    let (code, entry) = shared.write(|s| -> Result<_> {
        let Some(stored) = s.get(t.res, &key(rt, t)).map(|e| e.value()) else {
            // Only the object itself is created by an apply, not through a subresource.
            if t.sub.is_some() {
                return Err(not_found(rt, t));
            }
            let mut obj = applied;
            record_manager(&mut obj, record);
            crate::defaults::apply(rt.kind, &mut obj, None);
            return Ok((StatusCode::CREATED, s.create(t.res, obj, now, commit)?));
        };
        let mut doc = stored.clone();
        let patch = serde_json::to_vec(&applied).unwrap_or_default();
        patch::apply(&mut doc, PatchType::Strategic, &patch)?;
        check_body(rt, &mut doc, t)?;
        let mut doc = split_status(rt, t, &stored, doc);
        record_manager(&mut doc, record);
        crate::defaults::apply(rt.kind, &mut doc, Some(&stored));
        Ok((StatusCode::OK, s.update(t.res, doc, commit)?))
    })?;
    Ok(object_response(code, entry.bytes, options.proto))
}

/// The applied configuration: a YAML (or JSON) object.
fn parse(body: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the apply patch is not UTF-8 text"))?;
    scs_kaas_core::yaml_depth::check(text, "the apply patch")
        .map_err(|deep| ApiError::bad_request(deep.to_string()))?;
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        ApiError::bad_request(format!("the apply patch is not valid YAML or JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the apply patch must be an object with apiVersion, kind and metadata",
        ));
    }
    Ok(value)
}

/// Put `record` into `metadata.managedFields`, replacing the same manager's earlier apply (of
/// the same subresource).
fn record_manager(obj: &mut Value, record: Value) {
    let meta = crate::controllers::object::ensure_object(obj, "metadata");
    let mut fields: Vec<Value> = meta
        .get("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    fields.retain(|f| {
        !(f["manager"] == record["manager"]
            && f["operation"] == "Apply"
            && f.get("subresource") == record.get("subresource"))
    });
    fields.push(record);
    meta["managedFields"] = Value::Array(fields);
}

/// The set of fields in `value`, in upstream's `FieldsV1` form: `f:<field>` for object fields,
/// `k:{"name":...}` for list items with a name, `.` for a node that is itself a value.
fn fields_v1(value: &Value, top: bool) -> Value {
    let mut out = Map::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                // apiVersion, kind and the object's identity are not managed fields.
                if top && (k == "apiVersion" || k == "kind" || k == "status") {
                    continue;
                }
                let sub = if top && k == "metadata" {
                    metadata_fields(v)
                } else {
                    fields_v1(v, false)
                };
                if top && k == "metadata" && sub.as_object().is_some_and(Map::is_empty) {
                    continue;
                }
                out.insert(format!("f:{k}"), sub);
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Some(name) = item.get("name").and_then(Value::as_str) {
                    let mut sub = fields_v1(item, false);
                    sub["."] = json!({});
                    out.insert(format!("k:{}", json!({"name": name})), sub);
                }
            }
        }
        _ => {}
    }
    Value::Object(out)
}

fn metadata_fields(meta: &Value) -> Value {
    let mut kept = meta.clone();
    if let Some(map) = kept.as_object_mut() {
        for identity in [
            "name",
            "namespace",
            "resourceVersion",
            "uid",
            "managedFields",
        ] {
            map.remove(identity);
        }
    }
    fields_v1(&kept, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_v1_names_fields_and_keyed_list_items() {
        let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"a": "b"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert_eq!(
            fields_v1(&applied, true),
            json!({"f:metadata": {"f:labels": {"f:a": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
    }

    #[test]
    fn a_manager_replaces_its_own_record_only() {
        let mut obj = json!({"metadata": {"managedFields": [
            {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:a": {}}},
            {"manager": "kubectl", "operation": "Update"}]}});
        record_manager(
            &mut obj,
            json!({"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:b": {}}}),
        );
        let fields = obj["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1]["fieldsV1"], json!({"f:b": {}}));
        assert!(parse(b"- a").is_err());
        let deep = "[".repeat(100_000);
        let err = parse(deep.as_bytes()).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("nested deeper"), "{}", err.message);
        assert_eq!(parse(b"kind: X\n").unwrap()["kind"], "X");
    }

    #[test]
    fn managed_fields_survive_protobuf_answers() {
        let applied = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "b"}});
        let mut obj = applied.clone();
        record_manager(
            &mut obj,
            json!({"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(&applied, true)}),
        );
        let encoded = crate::protobuf::encode_json(obj.to_string().as_bytes()).unwrap();
        let decoded = crate::protobuf::decode_object(&encoded).unwrap();
        assert_eq!(
            decoded["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {"f:a": {}}})
        );
        assert_eq!(
            decoded["metadata"]["managedFields"][0]["manager"],
            "kubectl"
        );
    }
}
