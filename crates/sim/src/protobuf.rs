//! Just enough of Kubernetes' protobuf encoding to read access reviews.
//!
//! kubectl's typed commands (`auth can-i`, `create namespace`) post protobuf
//! (`application/vnd.kubernetes.protobuf`) and accept JSON back. This module decodes the kinds
//! they send (access reviews and namespaces, metadata only) into their JSON form; every other
//! protobuf body is answered with 415 naming the kind, so the client can send JSON instead.

use serde_json::{Map, Value, json};

use crate::status::ApiError;

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

fn bad(why: &str) -> ApiError {
    ApiError::bad_request(format!("the protobuf request body is malformed: {why}"))
}

/// Length-delimited fields of a message as `(field number, bytes)`; other wire types skipped.
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, &[u8])>, ApiError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(&mut buf)?;
            }
            1 => buf = buf.get(8..).ok_or_else(|| bad("truncated 64-bit field"))?,
            5 => buf = buf.get(4..).ok_or_else(|| bad("truncated 32-bit field"))?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| bad("length overflow"))?;
                let value = buf.get(..len).ok_or_else(|| bad("truncated field"))?;
                out.push((field, value));
                buf = &buf[len..];
            }
            _ => return Err(bad("unsupported wire type")),
        }
    }
    Ok(out)
}

fn varint(buf: &mut &[u8]) -> Result<u64, ApiError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or_else(|| bad("truncated varint"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("varint too long"))
}

fn string_fields(msg: &[u8], names: &[(u64, &str)]) -> Result<Value, ApiError> {
    let mut map = Map::new();
    for (field, bytes) in fields(msg)? {
        if let Some((_, name)) = names.iter().find(|(n, _)| *n == field) {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("string field is not UTF-8"))?;
            map.insert((*name).to_string(), json!(text));
        }
    }
    Ok(Value::Object(map))
}

/// ObjectMeta: name, generateName, namespace, labels, annotations.
fn object_meta(msg: &[u8]) -> Result<Value, ApiError> {
    let mut meta = string_fields(msg, &[(1, "name"), (2, "generateName"), (3, "namespace")])?;
    for (field, bytes) in fields(msg)? {
        let map = match field {
            11 => "labels",
            12 => "annotations",
            _ => continue,
        };
        let entry = string_fields(bytes, &[(1, "key"), (2, "value")])?;
        let key = entry
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let value = entry.get("value").cloned().unwrap_or(json!(""));
        if !meta.get(map).is_some_and(Value::is_object) {
            meta[map] = json!({});
        }
        meta[map][key] = value;
    }
    Ok(meta)
}

/// Decode a protobuf SelfSubjectAccessReview, SelfSubjectRulesReview or Namespace into JSON.
pub fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("missing the k8s protobuf magic prefix"))?;
    let mut type_meta = Value::Null;
    let mut raw: &[u8] = &[];
    for (field, bytes) in fields(envelope)? {
        match field {
            1 => type_meta = string_fields(bytes, &[(1, "apiVersion"), (2, "kind")])?,
            2 => raw = bytes,
            _ => {}
        }
    }
    let kind = type_meta
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut spec = Map::new();
    let mut metadata = json!({});
    for (field, bytes) in fields(raw)? {
        if field == 1 {
            metadata = object_meta(bytes)?;
        }
        if field != 2 {
            continue;
        }
        for (sub, sub_bytes) in fields(bytes)? {
            match (kind.as_str(), sub) {
                ("SelfSubjectAccessReview", 1) => {
                    let names = [
                        (1, "namespace"),
                        (2, "verb"),
                        (3, "group"),
                        (4, "version"),
                        (5, "resource"),
                        (6, "subresource"),
                        (7, "name"),
                    ];
                    spec.insert(
                        "resourceAttributes".into(),
                        string_fields(sub_bytes, &names)?,
                    );
                }
                ("SelfSubjectAccessReview", 2) => {
                    spec.insert(
                        "nonResourceAttributes".into(),
                        string_fields(sub_bytes, &[(1, "path"), (2, "verb")])?,
                    );
                }
                ("SelfSubjectRulesReview", 1) => {
                    let ns = std::str::from_utf8(sub_bytes)
                        .map_err(|_| bad("namespace is not UTF-8"))?;
                    spec.insert("namespace".into(), json!(ns));
                }
                _ => {}
            }
        }
    }
    match kind.as_str() {
        "SelfSubjectAccessReview" | "SelfSubjectRulesReview" => Ok(
            json!({"apiVersion": type_meta["apiVersion"], "kind": kind, "metadata": {}, "spec": spec}),
        ),
        "Namespace" => {
            Ok(json!({"apiVersion": type_meta["apiVersion"], "kind": kind, "metadata": metadata}))
        }
        _ => Err(ApiError::unsupported_media_type(&format!(
            "{MEDIA_TYPE} (only access reviews and namespaces are accepted in protobuf; send {kind:?} as JSON)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_an_access_review_like_kubectl_sends() {
        let attrs = [
            field(1, b"ns"),
            field(2, b"create"),
            field(3, b""),
            field(5, b"pods"),
        ]
        .concat();
        let spec = field(1, &attrs);
        let object = [field(1, b""), field(2, &spec), field(3, b"")].concat();
        let type_meta = [
            field(1, b"authorization.k8s.io/v1"),
            field(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &object)].concat();
        let review = decode_object(&body).unwrap();
        assert_eq!(review["spec"]["resourceAttributes"]["verb"], "create");
        assert_eq!(review["spec"]["resourceAttributes"]["resource"], "pods");
        assert_eq!(review["spec"]["resourceAttributes"]["namespace"], "ns");
    }

    #[test]
    fn decodes_a_namespace_with_labels() {
        let label = [field(1, b"team"), field(2, b"a")].concat();
        let meta = [field(1, b"ns1"), field(11, &label)].concat();
        let type_meta = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let body = [
            MAGIC.to_vec(),
            field(1, &type_meta),
            field(2, &field(1, &meta)),
        ]
        .concat();
        let ns = decode_object(&body).unwrap();
        assert_eq!(ns["metadata"]["name"], "ns1");
        assert_eq!(ns["metadata"]["labels"]["team"], "a");
    }

    #[test]
    fn garbage_is_rejected_not_a_crash() {
        assert_eq!(decode_object(b"nope").unwrap_err().code, 400);
        assert_eq!(decode_object(b"k8s\0\x0a\xff").unwrap_err().code, 400);
        let other = [MAGIC.to_vec(), field(1, &field(2, b"Pod"))].concat();
        assert_eq!(decode_object(&other).unwrap_err().code, 415);
    }
}
