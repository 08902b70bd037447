//! Small helpers for reading and shaping Kubernetes JSON objects, shared by the controllers and
//! the scenario loader (which must produce exactly what the controllers would).

use serde_json::{Map, Value, json};

/// The string at a dotted path (`metadata.name`), if present.
pub fn str_at<'v>(value: &'v Value, path: &str) -> Option<&'v str> {
    at(value, path).and_then(Value::as_str)
}

/// The value at a dotted path, if present.
pub fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// The integer at a dotted path, if present.
pub fn i64_at(value: &Value, path: &str) -> Option<i64> {
    at(value, path).and_then(Value::as_i64)
}

/// `metadata.name`, or `""`.
pub fn name(value: &Value) -> &str {
    str_at(value, "metadata.name").unwrap_or("")
}

/// `metadata.namespace`, or `""`.
pub fn namespace(value: &Value) -> &str {
    str_at(value, "metadata.namespace").unwrap_or("")
}

/// `metadata.uid`, or `""`.
pub fn uid(value: &Value) -> &str {
    str_at(value, "metadata.uid").unwrap_or("")
}

/// A label value.
pub fn label<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// An annotation value.
pub fn annotation<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Sets an annotation, creating the map when needed.
pub fn set_annotation(value: &mut Value, key: &str, text: &str) {
    let meta = ensure_object(value, "metadata");
    let annotations = ensure_object(meta, "annotations");
    annotations[key] = Value::String(text.to_string());
}

/// `obj[key]` as an object, created empty when absent or not an object.
pub fn ensure_object<'v>(value: &'v mut Value, key: &str) -> &'v mut Value {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    let slot = value
        .as_object_mut()
        .map(|m| m.entry(key).or_insert_with(|| Value::Object(Map::new())))
        .expect("value is an object");
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot
}

/// Whether the object is being deleted.
pub fn is_terminating(value: &Value) -> bool {
    at(value, "metadata.deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// Identifies an owner: kind, namespace (`""` when cluster-scoped) and name.
pub type OwnerKey = (String, String, String);

/// The key of an object as an owner.
pub fn owner_key(value: &Value) -> OwnerKey {
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

/// The owner that controls this object, if any, by kind and name in the object's namespace.
///
/// The controllers match owners by kind and name (a name is unique per kind and namespace), a
/// simplification of upstream's uid match; the uids line up as well (the server keeps the
/// uids the scenario loader wrote, and its cascading deletion goes by uid).
pub fn controller_of(value: &Value) -> Option<OwnerKey> {
    let r = at(value, "metadata.ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    Some((
        r.get("kind")?.as_str()?.to_string(),
        namespace(value).to_string(),
        r.get("name")?.as_str()?.to_string(),
    ))
}

/// An `ownerReferences` entry naming `owner` as controller.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The `status` condition of `kind`, if present.
pub fn condition<'v>(value: &'v Value, kind: &str) -> Option<&'v Value> {
    at(value, "status.conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// Whether condition `kind` has status `"True"`.
pub fn condition_true(value: &Value, kind: &str) -> bool {
    condition(value, kind)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

/// FNV-1a: a stable hash (std's hasher may change between Rust versions).
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Upstream's alphabet for generated name suffixes (no vowels, no confusable characters).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `len` characters of the upstream suffix alphabet derived from `seed`.
pub fn suffix(seed: &str, len: usize) -> String {
    let mut h = stable_hash(seed);
    (0..len)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            if h == 0 {
                h = stable_hash(&format!("{seed}/{len}"));
            }
            c
        })
        .collect()
}

/// `pod-template-hash` of a pod template, as the Deployment controller and the loader compute it.
///
/// Zero values (`false`, `0`, `""`, `null`, empty objects and lists) do not count: upstream
/// hashes the decoded Go struct, where an absent field and its zero value are the same, and
/// clients send the same template both ways (a protobuf body carries `stdin: false`, the JSON
/// patch of `kubectl rollout undo` leaves it out).
pub fn template_hash(template: &Value) -> String {
    let normal = without_zero_values(template).unwrap_or(Value::Null);
    suffix(&normal.to_string(), 10)
}

/// `value` without its zero values, or `None` if nothing else is left.
fn without_zero_values(value: &Value) -> Option<Value> {
    match value {
        Value::Null | Value::Bool(false) => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| without_zero_values(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|v| without_zero_values(v).unwrap_or(Value::Null))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// An IPv4 address in 10.128.0.0/9 derived from `seed`, for pods created at run time.
pub fn pod_ip(seed: &str) -> String {
    let h = stable_hash(seed);
    format!(
        "10.{}.{}.{}",
        128 + (h % 128),
        (h >> 8) % 256,
        (h >> 16) % 254 + 1
    )
}

/// The `InternalIP` of a node, if it has one.
pub fn node_ip(node: &Value) -> Option<&str> {
    at(node, "status.addresses")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
        .and_then(|a| a.get("address"))
        .and_then(Value::as_str)
}

/// The `{apiVersion, kind, name, namespace, uid}` reference events use.
pub fn involved(value: &Value) -> Value {
    let mut r = json!({
        "apiVersion": value.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": value.get("kind").cloned().unwrap_or(Value::Null),
        "name": name(value),
        "uid": uid(value),
    });
    if !namespace(value).is_empty() {
        r["namespace"] = json!(namespace(value));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_stable_and_sized() {
        assert_eq!(suffix("a", 5), suffix("a", 5));
        assert_ne!(suffix("a", 5), suffix("b", 5));
        assert_eq!(suffix("x", 10).len(), 10);
        assert!(suffix("x", 10).bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn reads_paths_and_conditions() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"conditions": [
            {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "False"}]}});
        assert_eq!(name(&pod), "p");
        assert!(condition_true(&pod, "Ready"));
        assert!(!condition_true(&pod, "PodScheduled"));
        assert!(!condition_true(&pod, "Missing"));
    }
}
