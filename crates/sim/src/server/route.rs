//! Mapping a request path to what it addresses, like the real API server's URL layout.

use crate::resources::{RESOURCES, ResourceId, find};

/// A path under `/api/v1/...` or `/apis/<group>/<version>/...` addressing objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The kind addressed.
    pub res: ResourceId,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name, `None` for the collection.
    pub name: Option<String>,
    /// Subresource (`status`, `log`).
    pub sub: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub watch_path: bool,
}

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/readyz`, `/livez` (and their sub-checks).
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`.
    Resources(String, String),
    /// `/openapi/v3`.
    OpenApiRoot,
    /// `/openapi/v3/<api|apis/group>/<version>`.
    OpenApi(String),
    /// Objects.
    Objects(Target),
    /// Nothing served here.
    NotFound,
}

/// Resolve a request path.
pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["openapi", "v3"] => Route::OpenApiRoot,
        ["openapi", "v3", rest @ ..] => Route::OpenApi(rest.join("/")),
        ["api", "v1"] => Route::Resources(String::new(), "v1".into()),
        ["api", "v1", rest @ ..] => objects("", "v1", rest),
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group((*group).into()),
        ["apis", group, version] => Route::Resources((*group).into(), (*version).into()),
        ["apis", group, version, rest @ ..] => objects(group, version, rest),
        _ => Route::NotFound,
    }
}

fn objects(group: &str, version: &str, rest: &[&str]) -> Route {
    let (watch_path, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    // `namespaces/<ns>/<plural>/...` unless `<plural>` is not a namespaced kind, in which case
    // the path is about the namespace object itself (`namespaces/<ns>/status`).
    if let ["namespaces", ns, plural, tail @ ..] = rest
        && let Some(res) = find(group, version, plural).filter(|r| RESOURCES[*r].namespaced)
    {
        return target(res, Some(ns), tail, watch_path);
    }
    match rest {
        [plural, tail @ ..] => match find(group, version, plural) {
            Some(res) => target(res, None, tail, watch_path),
            None => Route::NotFound,
        },
        [] => Route::NotFound,
    }
}

fn target(res: ResourceId, namespace: Option<&str>, tail: &[&str], watch_path: bool) -> Route {
    let (name, sub) = match tail {
        [] => (None, None),
        [name] => (Some(*name), None),
        [name, sub] if RESOURCES[res].has_subresource(sub) => (Some(*name), Some(*sub)),
        _ => return Route::NotFound,
    };
    if namespace.is_none() && name.is_some() && RESOURCES[res].namespaced {
        return Route::NotFound;
    }
    Route::Objects(Target {
        res,
        namespace: namespace.map(String::from),
        name: name.map(String::from),
        sub: sub.map(String::from),
        watch_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;

    fn obj(path: &str) -> Target {
        match parse(path) {
            Route::Objects(t) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_resolve_like_the_real_server() {
        let t = obj("/api/v1/namespaces/x/pods/p/log");
        assert_eq!(
            (
                t.res,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.sub.as_deref()
            ),
            (by_kind("Pod").unwrap(), Some("x"), Some("p"), Some("log"))
        );
        let t = obj("/api/v1/namespaces/x");
        assert_eq!(
            (t.res, t.name.as_deref()),
            (by_kind("Namespace").unwrap(), Some("x"))
        );
        let t = obj("/api/v1/namespaces/x/status");
        assert_eq!(
            (t.name.as_deref(), t.sub.as_deref()),
            (Some("x"), Some("status"))
        );
        let t = obj("/apis/apps/v1/watch/namespaces/x/deployments");
        assert!(t.watch_path && t.name.is_none());
        assert_eq!(obj("/api/v1/pods").namespace, None);
        assert_eq!(parse("/api/v1/pods/p"), Route::NotFound);
        assert_eq!(parse("/api/v1/widgets"), Route::NotFound);
        assert_eq!(
            obj("/api/v1/namespaces/x/pods/p/exec").sub.as_deref(),
            Some("exec")
        );
        assert_eq!(parse("/api/v1/namespaces/x/pods/p/attach"), Route::NotFound);
        assert_eq!(
            parse("/apis/apps/v1"),
            Route::Resources("apps".into(), "v1".into())
        );
    }
}
