//! Label and field selectors (`?labelSelector=`, `?fieldSelector=`), parsed once per request.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::status::ApiError;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<LabelReq>);

impl LabelSelector {
    /// Parse the `labelSelector` query syntax (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_label_req(part)?);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether labels (as `key → value`) satisfy the selector.
    pub fn matches<'a>(&self, labels: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|req| match req {
            LabelReq::Eq(k, v) => labels(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => labels(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => labels(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => !labels(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => labels(k).is_some(),
            LabelReq::NotExists(k) => labels(k).is_none(),
        })
    }

    /// Whether the selector is empty (matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Split on commas that are not inside `( )`.
fn split_top_level(text: &str) -> Result<Vec<&str>, ApiError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unable to parse requirement: unbalanced ')' in label selector {text:?}"
                    ))
                })?;
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ApiError::bad_request(format!(
            "unable to parse requirement: unclosed '(' in label selector {text:?}"
        )));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn bad_label(part: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: {why} in label selector requirement {part:?}"
    ))
}

fn check_key(key: &str, part: &str) -> Result<String, ApiError> {
    let ok = !key.is_empty()
        && key.len() <= 316
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        && key.matches('/').count() <= 1
        && !key.ends_with('/');
    if ok {
        Ok(key.to_string())
    } else {
        Err(bad_label(part, &format!("invalid label key {key:?}")))
    }
}

fn check_value(value: &str, part: &str) -> Result<String, ApiError> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(bad_label(part, &format!("invalid label value {value:?}")))
    }
}

fn parse_label_req(part: &str) -> Result<LabelReq, ApiError> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(LabelReq::NotExists(check_key(key.trim(), part)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(LabelReq::NotEq(
            check_key(k.trim(), part)?,
            check_value(v.trim(), part)?,
        ));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(LabelReq::Eq(
            check_key(k.trim(), part)?,
            check_value(v.trim(), part)?,
        ));
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default().trim();
    let Some(rest) = words.next().map(str::trim) else {
        return Ok(LabelReq::Exists(check_key(key, part)?));
    };
    let (op, list) = if let Some(list) = rest.strip_prefix("notin") {
        ("notin", list)
    } else if let Some(list) = rest.strip_prefix("in") {
        ("in", list)
    } else {
        return Err(bad_label(
            part,
            "expected one of '=', '==', '!=', 'in', 'notin'",
        ));
    };
    let list = list.trim();
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| {
            bad_label(
                part,
                "expected a parenthesised value list after 'in'/'notin'",
            )
        })?;
    let values = inner
        .split(',')
        .map(|v| check_value(v.trim(), part))
        .collect::<Result<Vec<_>, _>>()?;
    let key = check_key(key, part)?;
    Ok(if op == "in" {
        LabelReq::In(key, values)
    } else {
        LabelReq::NotIn(key, values)
    })
}

/// A parsed field selector: `field=value` / `field!=value` terms, all must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<(String, bool, String)>);

/// Fields every kind supports.
const COMMON_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// Extra fields per kind, like the real server's field label conversions.
fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["spec.nodeName", "status.phase"],
        "Namespace" => &["status.phase"],
        "Node" => &["spec.unschedulable"],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parse `fieldSelector` for `kind`; unknown fields are a 400 like upstream.
    pub fn parse(text: &str, kind: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector term {part:?}: expected field=value or field!=value"
                )));
            };
            let field = field.trim();
            if !COMMON_FIELDS.contains(&field) && !kind_fields(kind).contains(&field) {
                let mut known: Vec<&str> = COMMON_FIELDS.to_vec();
                known.extend(kind_fields(kind));
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field} (for {kind} the supported field selectors are {})",
                    known.join(", ")
                )));
            }
            terms.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    /// Whether an object satisfies the selector; `field` returns a field's value (`""` if absent).
    pub fn matches<S: AsRef<str>>(&self, field: impl Fn(&str) -> S) -> bool {
        self.0
            .iter()
            .all(|(name, eq, value)| (field(name).as_ref() == value) == *eq)
    }

    /// Whether the selector is empty (matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Read a dotted field path (`spec.nodeName`) from a JSON object as a selector string.
pub fn field_of(obj: &serde_json::Value, path: &str) -> String {
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Labels of an object as a map, for selector matching of parsed objects.
pub fn labels_of(obj: &serde_json::Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A `LabelSelector` object in the string form (`app=web,tier in (a,b)`) Scale reports.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return String::new();
    };
    let mut parts: Vec<(String, String)> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))))
                .collect()
        })
        .unwrap_or_default();
    for expr in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let values = values.join(",");
        let text = match expr.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({values})"),
            Some("NotIn") => format!("{key} notin ({values})"),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_string(),
        };
        parts.push((key.to_string(), text));
    }
    // Upstream orders the requirements by key.
    parts.sort();
    let texts: Vec<String> = parts.into_iter().map(|(_, t)| t).collect();
    texts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(sel: &str, labels: &[(&str, &str)]) -> bool {
        let map: BTreeMap<&str, &str> = labels.iter().copied().collect();
        LabelSelector::parse(sel)
            .unwrap()
            .matches(|k| map.get(k).copied())
    }

    #[test]
    fn label_operators() {
        let l = [("app", "web"), ("tier", "front")];
        assert!(matches("app=web", &l));
        assert!(matches("app==web,tier", &l));
        assert!(!matches("app!=web", &l));
        assert!(matches("app in (db, web)", &l));
        assert!(!matches("app notin (db,web)", &l));
        assert!(matches("app notin (db)", &l));
        assert!(matches("!zone", &l));
        assert!(!matches("!app", &l));
        assert!(!matches("zone", &l));
        assert!(matches("", &l));
    }

    #[test]
    fn bad_label_selectors_are_400() {
        for bad in ["app in (a", "app ~ b", "a b c", "=x", "app=(x"] {
            let err = LabelSelector::parse(bad).unwrap_err();
            assert_eq!(err.code, 400, "{bad}");
        }
    }

    #[test]
    fn field_selectors_know_their_fields() {
        let sel = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed", "Pod").unwrap();
        assert!(sel.matches(|f| if f == "spec.nodeName" {
            "n1"
        } else {
            "Running"
        }));
        assert!(!sel.matches(|f| if f == "spec.nodeName" {
            "n2"
        } else {
            "Running"
        }));
        assert_eq!(
            FieldSelector::parse("spec.nodeName=n1", "Service")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(FieldSelector::parse("bogus", "Pod").unwrap_err().code, 400);
    }

    #[test]
    fn label_selectors_print_like_upstream() {
        let sel = serde_json::json!({"matchLabels": {"app": "web", "a": "b"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["y", "x"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]});
        assert_eq!(
            format_label_selector(Some(&sel)),
            "a=b,app=web,!gone,tier in (x,y)"
        );
        assert_eq!(format_label_selector(None), "");
    }
}
