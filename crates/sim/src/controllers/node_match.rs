//! Matching pods against nodes: node selectors, node selector terms (pod and PV affinity),
//! taints and tolerations. Pure functions, shared by the scheduler and the loader.

use serde_json::Value;

use super::object::{at, name};

/// The node's labels as a JSON object (or null).
fn labels(node: &Value) -> Option<&serde_json::Map<String, Value>> {
    at(node, "metadata.labels").and_then(Value::as_object)
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether every `nodeSelector` label of the pod is on the node with the same value.
pub fn selector_matches(pod: &Value, node: &Value) -> bool {
    let Some(selector) = at(pod, "spec.nodeSelector").and_then(Value::as_object) else {
        return true;
    };
    let labels = labels(node);
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether one `matchExpressions` entry (or `matchFields` when `field` is set) holds.
fn requirement_matches(req: &Value, node: &Value, field: bool) -> bool {
    let key = req.get("key").and_then(Value::as_str).unwrap_or("");
    let actual: Option<&str> = if field {
        (key == "metadata.name").then(|| name(node))
    } else {
        labels(node)
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    let values = strings(req.get("values"));
    match req.get("operator").and_then(Value::as_str).unwrap_or("") {
        "In" => actual.is_some_and(|a| values.contains(&a)),
        "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
        "Exists" => actual.is_some(),
        "DoesNotExist" => actual.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(a), Some(v)) = (
                actual.and_then(|a| a.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if op == "Gt" { a > v } else { a < v }
        }
        _ => false,
    }
}

/// Whether `nodeSelectorTerms` match the node: any term, each term all of its requirements.
/// An empty list or an empty term matches nothing, as upstream.
pub fn terms_match(terms: &Value, node: &Value) -> bool {
    let Some(terms) = terms.as_array() else {
        return false;
    };
    terms.iter().any(|term| {
        let exprs = term.get("matchExpressions").and_then(Value::as_array);
        let fields = term.get("matchFields").and_then(Value::as_array);
        let count = exprs.map_or(0, Vec::len) + fields.map_or(0, Vec::len);
        count > 0
            && exprs.is_none_or(|e| e.iter().all(|r| requirement_matches(r, node, false)))
            && fields.is_none_or(|f| f.iter().all(|r| requirement_matches(r, node, true)))
    })
}

/// Whether the pod's required node affinity (if any) matches the node.
pub fn affinity_matches(pod: &Value, node: &Value) -> bool {
    match pod.pointer(
        "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    ) {
        None | Some(Value::Null) => true,
        Some(terms) => terms_match(terms, node),
    }
}

/// Whether a PersistentVolume's node affinity (if any) allows the node.
pub fn volume_allows(pv: &Value, node: &Value) -> bool {
    match pv.pointer("/spec/nodeAffinity/required/nodeSelectorTerms") {
        None | Some(Value::Null) => true,
        Some(terms) => terms_match(terms, node),
    }
}

fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let effect = field(toleration, "effect");
    if !effect.is_empty() && effect != field(taint, "effect") {
        return false;
    }
    let key = field(toleration, "key");
    let exists = field(toleration, "operator") == "Exists";
    if key.is_empty() {
        return exists;
    }
    key == field(taint, "key") && (exists || field(toleration, "value") == field(taint, "value"))
}

/// The first `NoSchedule`/`NoExecute` taint of the node the pod does not tolerate.
pub fn untolerated_taint<'n>(pod: &Value, node: &'n Value) -> Option<&'n Value> {
    let tolerations = at(pod, "spec.tolerations").and_then(Value::as_array);
    at(node, "spec.taints")?.as_array()?.iter().find(|taint| {
        let effect = taint.get("effect").and_then(Value::as_str).unwrap_or("");
        matches!(effect, "NoSchedule" | "NoExecute")
            && !tolerations.is_some_and(|ts| ts.iter().any(|t| tolerates(t, taint)))
    })
}

/// Whether the node's Ready condition is True.
pub fn node_ready(node: &Value) -> bool {
    super::object::condition_true(node, "Ready")
}

/// Whether the node is cordoned.
pub fn node_unschedulable(node: &Value) -> bool {
    at(node, "spec.unschedulable").and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node() -> Value {
        json!({"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "a", "gen": "5"}},
               "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                                   {"key": "soft", "effect": "PreferNoSchedule"}]}})
    }

    fn term(op: &str, values: &[&str]) -> Value {
        json!([{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": op, "values": values}]}])
    }

    #[test]
    fn operators_pass_and_fail() {
        let n = node();
        assert!(terms_match(&term("In", &["a", "b"]), &n));
        assert!(!terms_match(&term("In", &["b"]), &n));
        assert!(terms_match(&term("NotIn", &["b"]), &n));
        assert!(!terms_match(&term("NotIn", &["a"]), &n));
        assert!(terms_match(&term("Exists", &[]), &n));
        assert!(!terms_match(&term("DoesNotExist", &[]), &n));
        let gt = json!([{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]);
        assert!(terms_match(&gt, &n));
        let lt = json!([{"matchExpressions": [{"key": "gen", "operator": "Lt", "values": ["4"]}]}]);
        assert!(!terms_match(&lt, &n));
        let by_name = json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]);
        assert!(terms_match(&by_name, &n));
        assert!(
            !terms_match(&json!([]), &n),
            "empty term list matches nothing"
        );
        assert!(!terms_match(&json!([{}]), &n), "empty term matches nothing");
    }

    #[test]
    fn tolerations_cover_only_matching_taints() {
        let n = node();
        let none = json!({"spec": {}});
        assert_eq!(
            untolerated_taint(&none, &n).and_then(|t| t["key"].as_str()),
            Some("dedicated")
        );
        let equal = json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]}});
        assert!(untolerated_taint(&equal, &n).is_none());
        let wrong_value = json!({"spec": {"tolerations": [{"key": "dedicated", "value": "web"}]}});
        assert!(untolerated_taint(&wrong_value, &n).is_some());
        let wrong_effect = json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]}});
        assert!(untolerated_taint(&wrong_effect, &n).is_some());
        let all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert!(untolerated_taint(&all, &n).is_none());
    }
}
