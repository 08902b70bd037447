//! Applying PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and an
//! approximation of Kubernetes strategic merge patch.
//!
//! Strategic merge patch is approximated without per-field schemas: objects merge like a merge
//! patch; a list whose elements are objects with a `name` merges element-wise by `name` (how
//! containers, env, volumes and ports-with-names merge upstream), elements marked
//! `{"$patch": "delete"}` are removed; other lists are replaced. Directives
//! (`$setElementOrder/...`, `$retainKeys`, `$deleteFromPrimitiveList/...`) are honoured where
//! they remove values and otherwise dropped. This is enough for `kubectl apply`, `label`,
//! `annotate`, `scale` and `rollout`.

use serde_json::{Map, Value};

use crate::status::ApiError;

/// The patch formats the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

impl PatchType {
    /// The patch type for a request's `Content-Type`, or 415.
    pub fn from_content_type(content_type: &str) -> Result<PatchType, ApiError> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            _ => Err(ApiError::unsupported_media_type(content_type)),
        }
    }
}

/// Apply `patch` (raw body) to `doc`.
pub fn apply(doc: &mut Value, patch_type: PatchType, patch: &[u8]) -> Result<(), ApiError> {
    let body: Value = serde_json::from_slice(patch)
        .map_err(|e| ApiError::bad_request(format!("the patch body is not valid JSON: {e}")))?;
    match patch_type {
        PatchType::Merge => {
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(doc, &body);
            Ok(())
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(body)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is malformed: {e}")))?;
            json_patch::patch(doc, &ops).map_err(|e| {
                let name = doc
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let kind = doc
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                ApiError::invalid(
                    &kind,
                    &name,
                    format!("the JSON patch cannot be applied: {e}"),
                )
            })
        }
        PatchType::Strategic => {
            let Value::Object(patch) = body else {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            };
            if !doc.is_object() {
                *doc = Value::Object(Map::new());
            }
            if let Value::Object(target) = doc {
                strategic_merge(target, patch);
            }
            Ok(())
        }
    }
}

fn strategic_merge(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(remove)) =
                (target.get_mut(list), &value)
            {
                items.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(sub) => {
                if sub.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(&key);
                    continue;
                }
                let replace = sub.get("$patch").and_then(Value::as_str) == Some("replace");
                let slot = target
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if replace || !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(inner) = slot {
                    strategic_merge(inner, sub);
                }
            }
            Value::Array(items) => {
                let by_name = !items.is_empty()
                    && items
                        .iter()
                        .all(|i| i.get("name").and_then(Value::as_str).is_some());
                match target.get_mut(&key) {
                    Some(Value::Array(existing)) if by_name => merge_list_by_name(existing, items),
                    _ => {
                        let cleaned = items
                            .into_iter()
                            .filter(|i| i.get("$patch").is_none())
                            .map(strip_directives)
                            .collect();
                        target.insert(key, Value::Array(cleaned));
                    }
                }
            }
            other => {
                target.insert(key, other);
            }
        }
    }
}

fn merge_list_by_name(existing: &mut Vec<Value>, items: Vec<Value>) {
    for item in items {
        let Value::Object(mut item) = item else {
            continue;
        };
        let name = item.get("name").cloned();
        let pos = existing.iter().position(|e| e.get("name") == name.as_ref());
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        item.remove("$patch");
        match (pos, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                if let Value::Object(target) = &mut existing[i] {
                    strategic_merge(target, item);
                }
            }
            (None, false) => existing.push(strip_directives(Value::Object(item))),
        }
    }
}

fn strip_directives(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_directives).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name_and_drops_directives() {
        let mut doc = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "b:1"}
        ]}, "metadata": {"labels": {"x": "1", "y": "2"}}});
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}, {"name": "b", "$patch": "delete"}]},
            "metadata": {"labels": {"y": null, "z": "3"}}});
        apply(&mut doc, PatchType::Strategic, patch.to_string().as_bytes()).unwrap();
        assert_eq!(
            doc["spec"]["containers"],
            json!([{"name": "a", "image": "a:2", "ports": [{"containerPort": 80}]}])
        );
        assert_eq!(doc["metadata"]["labels"], json!({"x": "1", "z": "3"}));
    }

    #[test]
    fn merge_and_json_patch() {
        let mut doc = json!({"a": 1, "b": [1, 2]});
        apply(&mut doc, PatchType::Merge, br#"{"a": null, "b": [3]}"#).unwrap();
        assert_eq!(doc, json!({"b": [3]}));
        apply(
            &mut doc,
            PatchType::Json,
            br#"[{"op": "add", "path": "/c", "value": 1}]"#,
        )
        .unwrap();
        assert_eq!(doc["c"], 1);
        let err = apply(
            &mut doc,
            PatchType::Json,
            br#"[{"op": "test", "path": "/c", "value": 2}]"#,
        )
        .unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            apply(&mut doc, PatchType::Json, b"{").unwrap_err().code,
            400
        );
        assert_eq!(
            apply(&mut doc, PatchType::Json, br#"[{"op": "fly"}]"#)
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml")
                .unwrap_err()
                .code,
            415
        );
    }
}
