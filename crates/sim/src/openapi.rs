//! An OpenAPI v3 document per group-version: paths and operations, and the kinds' schemas
//! ([`schemas`], what `kubectl explain` reads).
//!
//! `kubectl apply` validates on the server when the OpenAPI v3 document says the PATCH operation
//! of the kind accepts `fieldValidation`; without it, kubectl demands the full v2 schema for
//! client-side validation. Serving the operations (not the schemas) lets plain `kubectl apply -f`
//! work. The server keeps unknown fields (it does not enforce `fieldValidation=Strict`).

use serde_json::{Map, Value, json};

use crate::resources::{RESOURCES, group_versions};

mod schemas;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group-version's document is.
pub fn root() -> Value {
    let mut paths = Map::new();
    for (group, version) in group_versions() {
        let path = gv_path(group, version);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash=scs-kaas-sim-1")}),
        );
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/<api|apis/group>/<version>`: the operations served, if any.
pub fn group_version(path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", version] => (String::new(), (*version).to_string()),
        ["apis", group, version] => ((*group).to_string(), (*version).to_string()),
        _ => return None,
    };
    let mut paths = Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version && !r.review)
    {
        let base = format!("/{}", gv_path(r.group, r.version));
        let collection = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{base}/{}", r.plural)
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = |action: &str| {
            json!({
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "OK"}},
            })
        };
        paths.insert(
            collection.clone(),
            json!({"post": op("post"), "get": op("list")}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (scs-kaas sim)", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas::of(&group, &version)},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_declare_field_validation() {
        let doc = group_version("apis/apps/v1").unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            root()["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1")
        );
        assert!(group_version("apis/nope").is_none());
    }
}
