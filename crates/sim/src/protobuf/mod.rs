//! Kubernetes' protobuf wire format for request and response bodies
//! (`application/vnd.kubernetes.protobuf`), as kubectl and client-go use by default.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` whose `typeMeta` names the kind
//! and whose `raw` is the object's message. Objects stay JSON inside the simulator; the
//! conversion in both directions is [`transcode`], walking the field tables of [`schema`]
//! (generated from the `k8s-pb` crate by `examples/protobuf_schema.rs`). Kinds without a
//! protobuf form (custom resources) are JSON only, as on a real server. Watch streams are
//! frames of a 4-byte big-endian length and a `meta.v1.WatchEvent` whose object is an enveloped
//! message.

#[rustfmt::skip]
pub mod schema;
pub mod transcode;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value, json};

use crate::status::ApiError;
use transcode::{TranscodeError, put_len_delimited};

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Content type of a protobuf watch stream.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

const MAGIC: &[u8] = b"k8s\0";

/// Whether `content_type` (a `Content-Type` value) is protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == MEDIA_TYPE
}

/// Whether a request's `Accept` header prefers protobuf: the first media range the server can
/// produce (protobuf, JSON or a wildcard) is protobuf. `q` weights are not weighed (clients list
/// their preference first).
pub fn preferred(accept: Option<&str>) -> bool {
    for range in accept.unwrap_or("").split(',') {
        let media = range.split(';').next().unwrap_or("").trim();
        match media {
            MEDIA_TYPE => return true,
            "application/json" | "*/*" | "application/*" => return false,
            _ => {}
        }
    }
    false
}

/// `(message, list message)` of the kind `api_version`/`kind`, if it has a protobuf form.
fn messages_of(api_version: &str, kind: &str) -> Option<(usize, Option<usize>)> {
    schema::KINDS
        .iter()
        .find(|(a, k, _, _)| *a == api_version && *k == kind)
        .map(|(_, _, msg, list)| (*msg, *list))
}

/// Whether objects of this kind can be sent and answered in protobuf.
pub fn has_protobuf(api_version: &str, kind: &str) -> bool {
    messages_of(api_version, kind).is_some()
}

fn malformed(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("the protobuf request body is malformed: {why}"))
}

/// Decode an enveloped body into `(apiVersion, kind, raw message)`.
fn open_envelope(body: &[u8]) -> Result<(String, String, Vec<u8>), TranscodeError> {
    let inner = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| TranscodeError("missing the k8s protobuf magic prefix".into()))?;
    let unknown = transcode::decode(schema::UNKNOWN, inner)?;
    let text = |ptr: &str| {
        unknown
            .get("typeMeta")
            .and_then(|t| t.pointer(ptr))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let raw = match unknown.get("raw").and_then(Value::as_str) {
        Some(b64) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| TranscodeError(format!("raw: {e}")))?
        }
        None => Vec::new(),
    };
    Ok((text("/apiVersion"), text("/kind"), raw))
}

/// Decode an enveloped object of any kind with a protobuf form into JSON.
pub(crate) fn decode_envelope(body: &[u8]) -> Result<Value, TranscodeError> {
    let (api_version, kind, raw) = open_envelope(body)?;
    let (msg, _) = messages_of(&api_version, &kind).ok_or_else(|| {
        TranscodeError(format!(
            "{kind:?} of {api_version:?} has no protobuf form here"
        ))
    })?;
    let fields = transcode::decode(msg, &raw)?;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    obj.extend(fields);
    Ok(Value::Object(obj))
}

/// Decode a protobuf request body (create, update) into the object's JSON form: 400 naming the
/// broken field when malformed, 415 when the kind has no protobuf form (send it as JSON).
pub fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let (api_version, kind, _) = open_envelope(body).map_err(|e| malformed(e.0))?;
    if !has_protobuf(&api_version, &kind) {
        return Err(ApiError::unsupported_media_type(&format!(
            "{MEDIA_TYPE} ({kind:?} of {api_version:?} has no protobuf form; send it as JSON)"
        )));
    }
    decode_envelope(body).map_err(|e| malformed(e.0))
}

/// Decode a protobuf `DeleteOptions` body (DELETE and deletecollection, as client-go sends it)
/// into its JSON form, through the same field tables as objects; 400 naming what is wrong when
/// it is not an enveloped `DeleteOptions` (its `apiVersion` may be any group's, as upstream
/// registers `DeleteOptions` in every group version).
pub fn decode_delete_options(body: &[u8]) -> Result<Value, ApiError> {
    let (_, kind, raw) = open_envelope(body).map_err(|e| malformed(e.0))?;
    if kind != "DeleteOptions" {
        return Err(ApiError::bad_request(format!(
            "the protobuf body of a delete request must be a DeleteOptions, not {kind:?}"
        )));
    }
    let fields = transcode::decode(schema::DELETE_OPTIONS, &raw).map_err(|e| malformed(e.0))?;
    Ok(Value::Object(fields))
}

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    put_len_delimited(1, api_version.as_bytes(), &mut type_meta);
    put_len_delimited(2, kind.as_bytes(), &mut type_meta);
    let mut out = Vec::with_capacity(raw.len() + type_meta.len() + 16);
    out.extend_from_slice(MAGIC);
    put_len_delimited(1, &type_meta, &mut out);
    put_len_delimited(2, raw, &mut out);
    put_len_delimited(3, b"", &mut out);
    put_len_delimited(4, b"", &mut out);
    out
}

/// The enveloped protobuf form of a JSON object, `None` when its kind has no protobuf form or
/// a value does not fit its field (the caller answers in JSON then).
pub fn encode_object(obj: &Value) -> Option<Vec<u8>> {
    let api_version = obj.get("apiVersion")?.as_str()?;
    let kind = obj.get("kind")?.as_str()?;
    let (msg, _) = messages_of(api_version, kind)?;
    let mut raw = Vec::new();
    match transcode::encode(msg, obj.as_object()?, &mut raw) {
        Ok(()) => Some(envelope(api_version, kind, &raw)),
        Err(e) => {
            tracing::debug!("cannot encode {kind} as protobuf ({e}); answering in JSON");
            None
        }
    }
}

/// [`encode_object`] of stored JSON bytes.
pub fn encode_json(bytes: &[u8]) -> Option<Vec<u8>> {
    encode_object(&serde_json::from_slice(bytes).ok()?)
}

/// The enveloped `<Kind>List` of stored JSON `items` with list metadata `meta`.
pub fn encode_list(
    api_version: &str,
    kind: &str,
    meta: &Value,
    items: &[Bytes],
) -> Option<Vec<u8>> {
    let (msg, list) = messages_of(api_version, kind)?;
    let list = list?;
    let mut raw = Vec::new();
    let mut meta_bytes = Vec::new();
    transcode::encode(list_meta_index(list)?, meta.as_object()?, &mut meta_bytes).ok()?;
    put_len_delimited(1, &meta_bytes, &mut raw);
    for item in items {
        let value: Value = serde_json::from_slice(item).ok()?;
        let mut bytes = Vec::new();
        if let Err(e) = transcode::encode(msg, value.as_object()?, &mut bytes) {
            tracing::debug!("cannot encode a {kind} as protobuf ({e}); answering in JSON");
            return None;
        }
        put_len_delimited(2, &bytes, &mut raw);
    }
    Some(envelope(api_version, &format!("{kind}List"), &raw))
}

/// The ListMeta message a list message's field 1 refers to.
fn list_meta_index(list: usize) -> Option<usize> {
    schema::MESSAGES[list]
        .fields
        .iter()
        .find(|f| f.tag == 1)
        .and_then(|f| match f.ty {
            transcode::Ty::Message(i) => Some(i),
            _ => None,
        })
}

/// One protobuf watch frame: length prefix and a WatchEvent carrying the enveloped `object`.
pub fn watch_frame(out: &mut BytesMut, event_type: &str, object: &[u8]) {
    let mut raw_ext = Vec::new();
    put_len_delimited(1, object, &mut raw_ext);
    let mut event = Vec::new();
    put_len_delimited(1, event_type.as_bytes(), &mut event);
    put_len_delimited(2, &raw_ext, &mut event);
    out.put_u32(event.len() as u32);
    out.put_slice(&event);
}

/// A `Status` (from an error) in protobuf, for watch ERROR frames.
pub fn encode_status(status: &Value) -> Vec<u8> {
    let mut raw = Vec::new();
    if let Some(obj) = status.as_object() {
        let _ = transcode::encode(schema::STATUS, obj, &mut raw);
    }
    envelope("v1", "Status", &raw)
}

#[cfg(test)]
mod tests;
