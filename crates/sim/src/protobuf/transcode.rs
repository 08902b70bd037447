//! The one conversion layer between Kubernetes protobuf messages and the simulator's JSON
//! objects, driven by the field tables in [`super::schema`] (generated from `k8s-pb`).
//!
//! Field numbers and kinds come from the table, the wire primitives from `prost`. Types whose JSON
//! form differs from an object of their fields have a [`Ty`] of their own: `Time`/`MicroTime`
//! (RFC 3339 strings), `IntOrString` (number or string), `Quantity` (string), `Duration` (Go
//! duration string), `RawExtension`/`FieldsV1` (embedded JSON) and `ExtraValue` (string list).

use base64::Engine;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use serde_json::{Map, Value};

use super::schema::MESSAGES;

/// How a field is encoded.
#[derive(Debug)]
pub enum Ty {
    /// `string`.
    String,
    /// `bool`.
    Bool,
    /// `int32` / `int64` (never packed in Kubernetes' messages; packed is read too).
    Int,
    /// `double`.
    Double,
    /// `bytes`, base64 in JSON.
    Bytes,
    /// A message: index into [`MESSAGES`].
    Message(usize),
    /// A message whose fields are the parent's in JSON (a Go struct embedded `json:",inline"`).
    Inline(usize),
    /// `map<string, V>`, a JSON object.
    Map(&'static Ty),
    /// `meta.v1.Time`: RFC 3339 with seconds.
    Time,
    /// `meta.v1.MicroTime`: RFC 3339 with microseconds.
    MicroTime,
    /// `meta.v1.Duration`: Go duration string (`1h2m3s`).
    Duration,
    /// `runtime.RawExtension`, `meta.v1.FieldsV1`: embedded JSON.
    Raw,
    /// `util.intstr.IntOrString`.
    IntOrString,
    /// `api.resource.Quantity`: its string.
    Quantity,
    /// `ExtraValue`: a list of strings.
    StringList,
}

/// One field of a message.
#[derive(Debug)]
pub struct Field {
    /// Field number.
    pub tag: u32,
    /// JSON name (the protobuf field name in Kubernetes' `generated.proto`).
    pub json: &'static str,
    /// Encoding.
    pub ty: Ty,
    /// `repeated`: a JSON array.
    pub repeated: bool,
}

/// One message type.
#[derive(Debug)]
pub struct Message {
    /// Full name (`api.apps.v1.Deployment`).
    pub name: &'static str,
    /// Fields by ascending number.
    pub fields: &'static [Field],
}

/// What could not be converted, with the JSON path of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscodeError(pub String);

impl std::fmt::Display for TranscodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, TranscodeError>;

fn err(path: &str, why: impl std::fmt::Display) -> TranscodeError {
    TranscodeError(format!(
        "{}: {why}",
        if path.is_empty() { "." } else { path }
    ))
}

// ---------------------------------------------------------------- JSON → protobuf

/// Encode the JSON object `value` as message `msg`; fields the message lacks are dropped
/// (as the real server drops unknown fields).
pub fn encode(msg: usize, value: &Map<String, Value>, buf: &mut Vec<u8>) -> Result<()> {
    encode_at(msg, value, buf, "")
}

fn encode_at(msg: usize, value: &Map<String, Value>, buf: &mut Vec<u8>, path: &str) -> Result<()> {
    for field in MESSAGES[msg].fields {
        if let Ty::Inline(inner) = field.ty {
            let mut bytes = Vec::new();
            encode_at(inner, value, &mut bytes, path)?;
            if !bytes.is_empty() {
                put_len_delimited(field.tag, &bytes, buf);
            }
            continue;
        }
        let Some(v) = value.get(field.json).filter(|v| !v.is_null()) else {
            continue;
        };
        let path = format!("{path}.{}", field.json);
        if field.repeated {
            let items = v.as_array().ok_or_else(|| err(&path, "expected a list"))?;
            for (i, item) in items.iter().enumerate() {
                encode_value(field.tag, &field.ty, item, buf, &format!("{path}[{i}]"))?;
            }
        } else {
            encode_value(field.tag, &field.ty, v, buf, &path)?;
        }
    }
    Ok(())
}

/// Write a length-delimited field (strings, bytes, messages).
pub(crate) fn put_len_delimited(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    encoding::encode_key(tag, WireType::LengthDelimited, buf);
    encoding::encode_varint(bytes.len() as u64, buf);
    buf.put_slice(bytes);
}

fn put_varint(tag: u32, value: u64, buf: &mut Vec<u8>) {
    encoding::encode_key(tag, WireType::Varint, buf);
    encoding::encode_varint(value, buf);
}

fn int_of(v: &Value, path: &str) -> Result<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| err(path, format!("expected an integer, got {v}")))
}

fn str_of<'v>(v: &'v Value, path: &str) -> Result<&'v str> {
    v.as_str()
        .ok_or_else(|| err(path, format!("expected a string, got {v}")))
}

fn encode_value(tag: u32, ty: &Ty, v: &Value, buf: &mut Vec<u8>, path: &str) -> Result<()> {
    match ty {
        Ty::String => put_len_delimited(tag, str_of(v, path)?.as_bytes(), buf),
        Ty::Bool => {
            let b = v
                .as_bool()
                .ok_or_else(|| err(path, format!("expected true or false, got {v}")))?;
            put_varint(tag, u64::from(b), buf);
        }
        Ty::Int => put_varint(tag, int_of(v, path)? as u64, buf),
        Ty::Double => {
            let f = v
                .as_f64()
                .ok_or_else(|| err(path, format!("expected a number, got {v}")))?;
            encoding::encode_key(tag, WireType::SixtyFourBit, buf);
            buf.put_f64_le(f);
        }
        Ty::Bytes => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(str_of(v, path)?)
                .map_err(|e| err(path, format!("not base64: {e}")))?;
            put_len_delimited(tag, &bytes, buf);
        }
        Ty::Inline(msg) | Ty::Message(msg) => {
            let obj = v
                .as_object()
                .ok_or_else(|| err(path, format!("expected an object, got {v}")))?;
            let mut inner = Vec::new();
            encode_at(*msg, obj, &mut inner, path)?;
            put_len_delimited(tag, &inner, buf);
        }
        Ty::Map(value_ty) => {
            let obj = v
                .as_object()
                .ok_or_else(|| err(path, format!("expected an object, got {v}")))?;
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort();
            for key in keys {
                let mut entry = Vec::new();
                put_len_delimited(1, key.as_bytes(), &mut entry);
                if !obj[key].is_null() {
                    encode_value(2, value_ty, &obj[key], &mut entry, &format!("{path}.{key}"))?;
                }
                put_len_delimited(tag, &entry, buf);
            }
        }
        Ty::Time | Ty::MicroTime => {
            let text = str_of(v, path)?;
            let ts: jiff::Timestamp = text
                .parse()
                .map_err(|e| err(path, format!("not an RFC 3339 time: {e}")))?;
            let mut inner = Vec::new();
            put_varint(1, ts.as_second() as u64, &mut inner);
            if ts.subsec_nanosecond() != 0 {
                put_varint(2, ts.subsec_nanosecond() as u64, &mut inner);
            }
            put_len_delimited(tag, &inner, buf);
        }
        Ty::Duration => {
            let nanos = parse_duration(str_of(v, path)?)
                .ok_or_else(|| err(path, format!("not a duration like 1h2m3s: {v}")))?;
            let mut inner = Vec::new();
            put_varint(1, nanos as u64, &mut inner);
            put_len_delimited(tag, &inner, buf);
        }
        Ty::Raw => {
            let mut inner = Vec::new();
            put_len_delimited(1, v.to_string().as_bytes(), &mut inner);
            put_len_delimited(tag, &inner, buf);
        }
        Ty::IntOrString => {
            let mut inner = Vec::new();
            match v {
                Value::String(s) => {
                    put_varint(1, 1, &mut inner);
                    put_len_delimited(3, s.as_bytes(), &mut inner);
                }
                other => {
                    put_varint(1, 0, &mut inner);
                    put_varint(2, int_of(other, path)? as u64, &mut inner);
                }
            }
            put_len_delimited(tag, &inner, buf);
        }
        Ty::Quantity => {
            let text = match v {
                Value::Number(n) => n.to_string(),
                other => str_of(other, path)?.to_string(),
            };
            let mut inner = Vec::new();
            put_len_delimited(1, text.as_bytes(), &mut inner);
            put_len_delimited(tag, &inner, buf);
        }
        Ty::StringList => {
            let items = v.as_array().ok_or_else(|| err(path, "expected a list"))?;
            let mut inner = Vec::new();
            for item in items {
                put_len_delimited(1, str_of(item, path)?.as_bytes(), &mut inner);
            }
            put_len_delimited(tag, &inner, buf);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- protobuf → JSON

/// Decode message `msg` into its JSON object. Unknown fields are skipped; empty singular strings
/// and zero times are left out (Go writes them for non-pointer fields; JSON omits them).
pub fn decode(msg: usize, mut buf: &[u8]) -> Result<Map<String, Value>> {
    decode_at(msg, &mut buf, MESSAGES[msg].name)
}

fn decode_at(msg: usize, buf: &mut &[u8], path: &str) -> Result<Map<String, Value>> {
    let message = &MESSAGES[msg];
    let mut out = Map::new();
    while buf.has_remaining() {
        let (tag, wire) = encoding::decode_key(buf).map_err(|e| err(path, e))?;
        let Some(field) = message.fields.iter().find(|f| f.tag == tag) else {
            encoding::skip_field(wire, tag, buf, DecodeContext::default())
                .map_err(|e| err(path, e))?;
            continue;
        };
        let path = format!("{path}.{}", field.json);
        // Packed repeated integers (accepted, never written).
        if field.repeated && matches!(field.ty, Ty::Int) && wire == WireType::LengthDelimited {
            let mut packed = length_delimited(buf, &path)?;
            let list = out
                .entry(field.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            while packed.has_remaining() {
                let n = encoding::decode_varint(&mut packed).map_err(|e| err(&path, e))?;
                if let Value::Array(items) = list {
                    items.push(Value::from(n as i64));
                }
            }
            continue;
        }
        if let Ty::Inline(inner) = field.ty {
            expect(wire, WireType::LengthDelimited, &path)?;
            let mut bytes = length_delimited(buf, &path)?;
            out.extend(decode_at(inner, &mut bytes, &path)?);
            continue;
        }
        let value = decode_value(&field.ty, wire, buf, &path)?;
        if field.repeated {
            let list = out
                .entry(field.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.push(value);
            }
        } else if matches!(field.ty, Ty::Map(_)) {
            let Value::Array(pair) = value else {
                unreachable!("map entries decode to pairs")
            };
            let map = out
                .entry(field.json)
                .or_insert_with(|| Value::Object(Map::new()));
            if let (Value::Object(map), [Value::String(k), v]) = (map, pair.as_slice()) {
                map.insert(k.clone(), v.clone());
            }
        } else if value.is_null() || value.as_str() == Some("") {
            out.remove(field.json);
        } else {
            out.insert(field.json.to_string(), value);
        }
    }
    Ok(out)
}

fn length_delimited<'b>(buf: &mut &'b [u8], path: &str) -> Result<&'b [u8]> {
    let len = encoding::decode_varint(buf).map_err(|e| err(path, e))?;
    let len = usize::try_from(len).map_err(|_| err(path, "length overflows"))?;
    if buf.len() < len {
        return Err(err(path, "truncated field"));
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Ok(head)
}

fn expect(wire: WireType, want: WireType, path: &str) -> Result<()> {
    if wire == want {
        Ok(())
    } else {
        Err(err(path, format!("wire type {wire:?}, expected {want:?}")))
    }
}

fn utf8(bytes: &[u8], path: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| err(path, "string is not UTF-8"))
}

/// The scalar fields of a small special message, by number.
fn small_fields(mut bytes: &[u8], path: &str) -> Result<Vec<(u32, Value)>> {
    let mut out = Vec::new();
    let buf = &mut bytes;
    while buf.has_remaining() {
        let (tag, wire) = encoding::decode_key(buf).map_err(|e| err(path, e))?;
        let value = match wire {
            WireType::Varint => {
                Value::from(encoding::decode_varint(buf).map_err(|e| err(path, e))? as i64)
            }
            WireType::LengthDelimited => {
                let raw = length_delimited(buf, path)?;
                Value::Array(raw.iter().map(|b| Value::from(*b)).collect())
            }
            other => {
                encoding::skip_field(other, tag, buf, DecodeContext::default())
                    .map_err(|e| err(path, e))?;
                continue;
            }
        };
        out.push((tag, value));
    }
    Ok(out)
}

fn field_bytes(fields: &[(u32, Value)], tag: u32) -> Vec<u8> {
    fields
        .iter()
        .filter(|(t, _)| *t == tag)
        .filter_map(|(_, v)| v.as_array())
        .next_back()
        .map(|a| {
            a.iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect()
        })
        .unwrap_or_default()
}

fn field_int(fields: &[(u32, Value)], tag: u32) -> i64 {
    fields
        .iter()
        .filter(|(t, _)| *t == tag)
        .filter_map(|(_, v)| v.as_i64())
        .next_back()
        .unwrap_or(0)
}

fn decode_value(ty: &Ty, wire: WireType, buf: &mut &[u8], path: &str) -> Result<Value> {
    let scalar_varint = |buf: &mut &[u8]| -> Result<u64> {
        expect(wire, WireType::Varint, path)?;
        encoding::decode_varint(buf).map_err(|e| err(path, e))
    };
    Ok(match ty {
        Ty::Bool => Value::Bool(scalar_varint(buf)? != 0),
        Ty::Int => Value::from(scalar_varint(buf)? as i64),
        Ty::Double => {
            expect(wire, WireType::SixtyFourBit, path)?;
            if buf.len() < 8 {
                return Err(err(path, "truncated double"));
            }
            Value::from(buf.get_f64_le())
        }
        _ => {
            expect(wire, WireType::LengthDelimited, path)?;
            let bytes = length_delimited(buf, path)?;
            decode_delimited(ty, bytes, path)?
        }
    })
}

fn decode_delimited(ty: &Ty, bytes: &[u8], path: &str) -> Result<Value> {
    Ok(match ty {
        Ty::String => Value::String(utf8(bytes, path)?),
        Ty::Bytes => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Ty::Message(msg) => Value::Object(decode_at(*msg, &mut &bytes[..], path)?),
        Ty::Map(value_ty) => {
            let mut entry = bytes;
            let (mut key, mut value) = (String::new(), None);
            while entry.has_remaining() {
                let (tag, wire) = encoding::decode_key(&mut entry).map_err(|e| err(path, e))?;
                match tag {
                    1 => {
                        expect(wire, WireType::LengthDelimited, path)?;
                        key = utf8(length_delimited(&mut entry, path)?, path)?;
                    }
                    2 => value = Some(decode_value(value_ty, wire, &mut entry, path)?),
                    _ => encoding::skip_field(wire, tag, &mut entry, DecodeContext::default())
                        .map_err(|e| err(path, e))?,
                }
            }
            let value = match (value, value_ty) {
                (Some(v), _) => v,
                (None, Ty::String | Ty::Bytes | Ty::Quantity) => Value::String(String::new()),
                (None, _) => Value::Object(Map::new()),
            };
            Value::Array(vec![Value::String(key), value])
        }
        Ty::Time | Ty::MicroTime => {
            let fields = small_fields(bytes, path)?;
            if fields.is_empty() {
                return Ok(Value::Null);
            }
            let ts = jiff::Timestamp::new(field_int(&fields, 1), field_int(&fields, 2) as i32)
                .map_err(|e| err(path, e))?;
            let text = if matches!(ty, Ty::Time) {
                ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                ts.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
            };
            Value::String(text)
        }
        Ty::Duration => {
            let fields = small_fields(bytes, path)?;
            Value::String(format_duration(field_int(&fields, 1)))
        }
        Ty::Raw => {
            let raw = field_bytes(&small_fields(bytes, path)?, 1);
            if raw.is_empty() {
                return Ok(Value::Null);
            }
            if raw.starts_with(super::MAGIC) {
                return super::decode_envelope(&raw)
                    .map_err(|e| err(path, format!("embedded object: {}", e.0)));
            }
            serde_json::from_slice(&raw)
                .map_err(|e| err(path, format!("embedded object is not JSON: {e}")))?
        }
        Ty::IntOrString => {
            let fields = small_fields(bytes, path)?;
            if field_int(&fields, 1) == 1 {
                Value::String(utf8(&field_bytes(&fields, 3), path)?)
            } else {
                Value::from(field_int(&fields, 2) as i32)
            }
        }
        Ty::Quantity => Value::String(utf8(&field_bytes(&small_fields(bytes, path)?, 1), path)?),
        Ty::StringList => {
            let mut items = Vec::new();
            let mut rest = bytes;
            while rest.has_remaining() {
                let (tag, wire) = encoding::decode_key(&mut rest).map_err(|e| err(path, e))?;
                if tag == 1 && wire == WireType::LengthDelimited {
                    items.push(Value::String(utf8(
                        length_delimited(&mut rest, path)?,
                        path,
                    )?));
                } else {
                    encoding::skip_field(wire, tag, &mut rest, DecodeContext::default())
                        .map_err(|e| err(path, e))?;
                }
            }
            Value::Array(items)
        }
        Ty::Bool | Ty::Int | Ty::Double | Ty::Inline(_) => {
            unreachable!("scalars and inline messages are handled by the caller")
        }
    })
}

/// Nanoseconds of a Go duration string (`1h2m3.5s`, `300ms`, `-2s`, `0`).
fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    let nanos = total.round() as i64;
    Some(if negative { -nanos } else { nanos })
}

/// A Go duration string for `nanos` (`1h2m3s`, `1.5s`, `0s`).
fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (h, m) = (n / 3_600_000_000_000, (n / 60_000_000_000) % 60);
    let (s, frac) = ((n / 1_000_000_000) % 60, n % 1_000_000_000);
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let digits = format!("{frac:09}");
        out.push_str(&format!("{s}.{}s", digits.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_round_trip() {
        for text in ["1h2m3s", "1.5s", "0s", "-2m0s", "5m0s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("1x"), None);
    }
}
