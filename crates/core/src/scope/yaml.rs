//! A YAML node tree that remembers where every node came from, so scope errors can point at
//! `file:line:column` instead of saying "syntax problems" like the reference tool.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::ScopeError;

/// A 1-based line and column in the scope file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column number.
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML value with its position.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The YAML value kinds a scope file can contain.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order; the parser rejects duplicate keys.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What the user would call this kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The key text of a mapping key (keys that are not strings are rendered as YAML would).
    pub fn key_text(&self) -> String {
        match &self.value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".into(),
            other => other.kind().into(),
        }
    }
}

/// Deserialization target carrying the value only; [`SpannedValue`] adds the position.
struct RawValue(Value);

struct SpannedValue(Node);

impl<'de> Deserialize<'de> for SpannedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawValue>::deserialize(d)?;
        Ok(SpannedValue(Node {
            pos: Pos {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
            value: spanned.value.0,
        }))
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(RawValue)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(SpannedValue(node)) = seq.next_element()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(SpannedValue(key)) = map.next_key()? {
            let SpannedValue(value) = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// Parse one YAML document into a positioned node tree.
pub(crate) fn load(file: &str, text: &str) -> Result<Node, ScopeError> {
    if let Err(deep) = crate::yaml_depth::check(text, file) {
        return Err(ScopeError::new(
            file,
            Pos {
                line: deep.line as u64,
                column: 1,
            },
            format!(
                "YAML nested deeper than {} levels; a scope file nests a few levels",
                crate::yaml_depth::MAX_DEPTH
            ),
        ));
    }
    // YAML 1.2 booleans only: `n`, `y`, `no`, `on` stay strings (PyYAML also reads `y`/`n` as strings).
    let options = serde_saphyr::options! { strict_booleans: true };
    match serde_saphyr::from_str_with_options::<SpannedValue>(text, options) {
        Ok(SpannedValue(node)) => Ok(node),
        Err(err) => {
            let pos = err
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    column: l.column(),
                })
                .unwrap_or_default();
            Err(ScopeError::new(
                file,
                pos,
                format!("not valid YAML: {}", first_line(&err.to_string())),
            ))
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
