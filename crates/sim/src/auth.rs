//! Bearer-token authentication and permission checks against the scenario's users.

use subtle_free::constant_time_eq;

use crate::status::ApiError;
use crate::world::{Permission, User};

/// What a request wants to do, in RBAC terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'a str,
    /// API group, `""` for core.
    pub group: &'a str,
    /// Resource plural, with `/subresource` if any.
    pub resource: String,
    /// Namespace, `None` for cluster scope.
    pub namespace: Option<&'a str>,
    /// Object name, if the request is about one object.
    pub name: Option<&'a str>,
}

/// The user presenting `header` (`Authorization` value), or 401.
pub fn authenticate<'u>(users: &'u [User], header: Option<&str>) -> Result<&'u User, ApiError> {
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::unauthorized)?;
    users
        .iter()
        .find(|u| constant_time_eq(u.token.as_bytes(), token.as_bytes()))
        .ok_or_else(ApiError::unauthorized)
}

/// Whether `permission` allows the request.
pub fn allows(permission: &Permission, attrs: &Attributes<'_>) -> bool {
    match permission {
        Permission::Admin => true,
        Permission::ReadOnly => matches!(attrs.verb, "get" | "list" | "watch"),
        Permission::Rbac(rules) => crate::rbac::allows(rules, attrs),
        Permission::Rules(rules) => rules.iter().any(|rule| {
            let any = |list: &[String], value: &str| list.iter().any(|x| x == "*" || x == value);
            any(&rule.verbs, attrs.verb)
                && any(&rule.groups, attrs.group)
                && any(&rule.resources, &attrs.resource)
                && (rule.namespaces.is_empty()
                    || attrs
                        .namespace
                        .is_some_and(|ns| rule.namespaces.iter().any(|x| x == "*" || x == ns)))
        }),
    }
}

/// 403 unless `user` may do it, with the real API server's message wording.
pub fn authorize(user: &User, attrs: &Attributes<'_>) -> Result<(), ApiError> {
    if allows(&user.permission, attrs) {
        return Ok(());
    }
    let what = match attrs.name {
        Some(name) => format!(
            "{} \"{name}\"",
            crate::status::qualified(attrs.group, &attrs.resource)
        ),
        None => crate::status::qualified(attrs.group, &attrs.resource),
    };
    let scope = match attrs.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    Err(ApiError::forbidden(format!(
        "{what} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        user.name, attrs.verb, attrs.resource, attrs.group
    ))
    .with_details(attrs.name.unwrap_or(""), attrs.group, &attrs.resource))
}

/// Constant-time comparison, so token checks do not leak prefixes through timing.
mod subtle_free {
    /// Whether `a == b`, in time independent of where they differ.
    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Rule;

    fn attrs<'a>(verb: &'a str, resource: &str, ns: Option<&'a str>) -> Attributes<'a> {
        Attributes {
            verb,
            group: "",
            resource: resource.into(),
            namespace: ns,
            name: None,
        }
    }

    #[test]
    fn tokens_authenticate_users() {
        let users = vec![User {
            name: "a".into(),
            token: "t1".into(),
            permission: Permission::Admin,
        }];
        assert_eq!(authenticate(&users, Some("Bearer t1")).unwrap().name, "a");
        assert_eq!(
            authenticate(&users, Some("Bearer t2")).unwrap_err().code,
            401
        );
        assert_eq!(authenticate(&users, None).unwrap_err().code, 401);
    }

    #[test]
    fn read_only_and_rules() {
        assert!(allows(&Permission::ReadOnly, &attrs("list", "pods", None)));
        assert!(!allows(
            &Permission::ReadOnly,
            &attrs("create", "pods", Some("x"))
        ));
        let rules = Permission::Rules(vec![Rule {
            verbs: vec!["get".into()],
            groups: vec!["".into()],
            resources: vec!["pods/log".into()],
            namespaces: vec!["x".into()],
        }]);
        assert!(allows(&rules, &attrs("get", "pods/log", Some("x"))));
        assert!(!allows(&rules, &attrs("get", "pods/log", Some("y"))));
        assert!(!allows(&rules, &attrs("get", "pods", Some("x"))));
    }

    #[test]
    fn forbidden_message_matches_upstream_wording() {
        let user = User {
            name: "viewer".into(),
            token: "t".into(),
            permission: Permission::ReadOnly,
        };
        let err = authorize(&user, &attrs("create", "pods", Some("x"))).unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "pods is forbidden: User \"viewer\" cannot create resource \"pods\" in API group \"\" in the namespace \"x\""
        );
    }
}
