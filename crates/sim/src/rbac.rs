//! RBAC as the real API server's authorizer evaluates it: the rules of the Roles and
//! ClusterRoles bound to a user (by RoleBinding or ClusterRoleBinding, as user, group or
//! ServiceAccount subject), ClusterRole aggregation included. Pure: the caller gathers the
//! objects from the store.

use serde_json::Value;

use crate::auth::Attributes;

/// One allow rule from a Role or ClusterRole, with the namespace its binding limits it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// `verbs` (`*` for all).
    pub verbs: Vec<String>,
    /// `apiGroups` (`""` core, `*` all).
    pub groups: Vec<String>,
    /// `resources` (`pods`, `pods/log`, `*`, `*/status`).
    pub resources: Vec<String>,
    /// `resourceNames`; empty for every name.
    pub names: Vec<String>,
    /// `nonResourceURLs` (`/healthz`, `/api/*`).
    pub non_resource_urls: Vec<String>,
    /// `Some(ns)` when granted by a RoleBinding in `ns`; `None` cluster-wide.
    pub namespace: Option<String>,
}

/// Who asks: user name and groups (a ServiceAccount is
/// `system:serviceaccount:<ns>:<name>` in `system:serviceaccounts[:<ns>]`).
#[derive(Debug, Clone)]
pub struct Subject {
    /// User name.
    pub user: String,
    /// Group names.
    pub groups: Vec<String>,
}

impl Subject {
    /// The identity of ServiceAccount `namespace/name`, as upstream names it.
    pub fn service_account(namespace: &str, name: &str) -> Subject {
        Subject {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }
}

/// The RBAC objects of the cluster, as stored JSON.
#[derive(Debug, Default)]
pub struct Objects {
    /// Roles (namespaced).
    pub roles: Vec<Value>,
    /// ClusterRoles.
    pub cluster_roles: Vec<Value>,
    /// RoleBindings (namespaced).
    pub role_bindings: Vec<Value>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<Value>,
}

fn text<'v>(v: &'v Value, ptr: &str) -> &'v str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn binds(binding: &Value, who: &Subject) -> bool {
    let binding_ns = text(binding, "/metadata/namespace");
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            let name = text(s, "/name");
            match text(s, "/kind") {
                "User" => name == who.user,
                "Group" => who.groups.iter().any(|g| g == name),
                "ServiceAccount" => {
                    let ns = match text(s, "/namespace") {
                        "" => binding_ns,
                        ns => ns,
                    };
                    who.user == format!("system:serviceaccount:{ns}:{name}")
                }
                _ => false,
            }
        })
}

fn labels_match(obj: &Value, selector: &Value) -> bool {
    let labels = obj.pointer("/metadata/labels");
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let by_value = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    let by_expression = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| {
            let values = strings(e, "values");
            let value = label(text(e, "/key"));
            match text(e, "/operator") {
                "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
                "NotIn" => !value.is_some_and(|v| values.iter().any(|x| x == v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        });
    by_value && by_expression
}

/// The rules of a role object; for an aggregated ClusterRole also those of the ClusterRoles its
/// `aggregationRule` selects (as the aggregation controller would have copied them).
fn role_rules(role: &Value, cluster_roles: &[Value]) -> Vec<Value> {
    let mut rules: Vec<Value> = role
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(selectors) = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
    {
        for other in cluster_roles {
            if text(other, "/metadata/name") != text(role, "/metadata/name")
                && selectors.iter().any(|s| labels_match(other, s))
                && let Some(more) = other.get("rules").and_then(Value::as_array)
            {
                rules.extend(more.iter().cloned());
            }
        }
    }
    rules
}

fn policy(rule: &Value, namespace: Option<&str>) -> PolicyRule {
    PolicyRule {
        verbs: strings(rule, "verbs"),
        groups: strings(rule, "apiGroups"),
        resources: strings(rule, "resources"),
        names: strings(rule, "resourceNames"),
        non_resource_urls: strings(rule, "nonResourceURLs"),
        namespace: namespace.map(String::from),
    }
}

/// Every rule granted to `who` by the bindings in `objects`. A binding to a role that does not
/// exist grants nothing (as upstream).
pub fn rules_for(who: &Subject, objects: &Objects) -> Vec<PolicyRule> {
    let cluster_role = |name: &str| {
        objects
            .cluster_roles
            .iter()
            .find(|r| text(r, "/metadata/name") == name)
    };
    let mut out = Vec::new();
    for binding in &objects.cluster_role_bindings {
        if text(binding, "/roleRef/kind") == "ClusterRole"
            && binds(binding, who)
            && let Some(role) = cluster_role(text(binding, "/roleRef/name"))
        {
            out.extend(
                role_rules(role, &objects.cluster_roles)
                    .iter()
                    .map(|r| policy(r, None)),
            );
        }
    }
    for binding in &objects.role_bindings {
        if !binds(binding, who) {
            continue;
        }
        let ns = text(binding, "/metadata/namespace");
        let name = text(binding, "/roleRef/name");
        let role = match text(binding, "/roleRef/kind") {
            "ClusterRole" => cluster_role(name),
            "Role" => objects.roles.iter().find(|r| {
                text(r, "/metadata/name") == name && text(r, "/metadata/namespace") == ns
            }),
            _ => None,
        };
        if let Some(role) = role {
            out.extend(
                role_rules(role, &objects.cluster_roles)
                    .iter()
                    .map(|r| policy(r, Some(ns))),
            );
        }
    }
    out
}

fn resource_matches(patterns: &[String], resource: &str) -> bool {
    let (base, sub) = match resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (resource, None),
    };
    patterns.iter().any(|p| {
        p == "*"
            || p == resource
            || match (p.split_once('/'), sub) {
                (Some(("*", psub)), Some(s)) => psub == s,
                (Some((pbase, "*")), Some(_)) => pbase == base,
                _ => false,
            }
    })
}

/// Whether `rules` allow the request described by `attrs`.
pub fn allows(rules: &[PolicyRule], attrs: &Attributes<'_>) -> bool {
    let any = |list: &[String], value: &str| list.iter().any(|x| x == "*" || x == value);
    rules.iter().any(|rule| {
        any(&rule.verbs, attrs.verb)
            && any(&rule.groups, attrs.group)
            && resource_matches(&rule.resources, &attrs.resource)
            && (rule.names.is_empty()
                || attrs
                    .name
                    .is_some_and(|n| rule.names.iter().any(|x| x == n)))
            && match &rule.namespace {
                None => true,
                Some(ns) => attrs.namespace == Some(ns.as_str()),
            }
    })
}

/// Whether `rules` allow `verb` on the non-resource `path` (`/version`, `/api/*`).
pub fn allows_path(rules: &[PolicyRule], verb: &str, path: &str) -> bool {
    rules.iter().any(|rule| {
        rule.namespace.is_none()
            && rule.verbs.iter().any(|v| v == "*" || v == verb)
            && rule.non_resource_urls.iter().any(|u| {
                u == "*"
                    || u == path
                    || u.strip_suffix('*')
                        .is_some_and(|prefix| path.starts_with(prefix))
            })
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn attrs<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &str,
        ns: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            group,
            resource: resource.into(),
            namespace: ns,
            name,
        }
    }

    fn objects() -> Objects {
        Objects {
            cluster_roles: vec![
                json!({"metadata": {"name": "reader"}, "rules": [
                    {"apiGroups": [""], "resources": ["nodes", "pods/log"], "verbs": ["list", "get"]}]}),
                json!({"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [
                    {"matchLabels": {"rbac.example/aggregate": "true"}}]}}),
                json!({"metadata": {"name": "piece", "labels": {"rbac.example/aggregate": "true"}},
                    "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["watch"]}]}),
            ],
            roles: vec![
                json!({"metadata": {"name": "cm", "namespace": "a"}, "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["one"]}]}),
            ],
            cluster_role_bindings: vec![
                json!({"metadata": {"name": "b1"}, "roleRef": {"kind": "ClusterRole", "name": "reader"},
                    "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "x"}]}),
                json!({"metadata": {"name": "b2"}, "roleRef": {"kind": "ClusterRole", "name": "agg"},
                    "subjects": [{"kind": "Group", "name": "system:serviceaccounts:x"}]}),
            ],
            role_bindings: vec![json!({"metadata": {"name": "rb", "namespace": "a"},
                "roleRef": {"kind": "Role", "name": "cm"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "x"}]})],
        }
    }

    #[test]
    fn bound_rules_allow_and_unbound_requests_are_denied() {
        let sa = Subject::service_account("x", "sa");
        let rules = rules_for(&sa, &objects());
        assert!(allows(&rules, &attrs("list", "", "nodes", None, None)));
        assert!(allows(
            &rules,
            &attrs("get", "", "pods/log", Some("q"), Some("p"))
        ));
        assert!(!allows(
            &rules,
            &attrs("delete", "", "nodes", None, Some("n"))
        ));
        assert!(!allows(&rules, &attrs("list", "", "pods", Some("q"), None)));
        // Aggregated through the group binding.
        assert!(allows(
            &rules,
            &attrs("watch", "apps", "deployments", Some("q"), None)
        ));
        // The RoleBinding grants only in its namespace and only the named object.
        assert!(allows(
            &rules,
            &attrs("get", "", "configmaps", Some("a"), Some("one"))
        ));
        assert!(!allows(
            &rules,
            &attrs("get", "", "configmaps", Some("a"), Some("two"))
        ));
        assert!(!allows(
            &rules,
            &attrs("get", "", "configmaps", Some("b"), Some("one"))
        ));
        // Another ServiceAccount of the same name elsewhere gets nothing.
        let other = rules_for(&Subject::service_account("y", "sa"), &objects());
        assert!(other.is_empty());
    }

    #[test]
    fn wildcards_and_subresource_patterns() {
        let rule = PolicyRule {
            verbs: vec!["*".into()],
            groups: vec!["*".into()],
            resources: vec!["*/status".into(), "pods/*".into()],
            names: vec![],
            non_resource_urls: vec!["/api/*".into()],
            namespace: None,
        };
        let rules = [rule];
        assert!(allows(
            &rules,
            &attrs("update", "apps", "deployments/status", Some("n"), None)
        ));
        assert!(allows(
            &rules,
            &attrs("get", "", "pods/log", Some("n"), None)
        ));
        assert!(!allows(&rules, &attrs("get", "", "pods", Some("n"), None)));
        assert!(allows_path(&rules, "get", "/api/v1"));
        assert!(!allows_path(&rules, "get", "/version"));
    }
}
