//! ServiceAccount identities: TokenRequest (`serviceaccounts/<name>/token`) issues bearer
//! tokens, and a request carrying one is authorized by the RBAC objects in the store.

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::Shared;
use super::route::Target;
use crate::rbac::{Objects, Subject};
use crate::resources::{RESOURCES, by_kind};
use crate::status::ApiError;
use crate::tokens::{DEFAULT_SECONDS, Issued, MAX_SECONDS, MIN_SECONDS};
use crate::world::{Permission, User};

/// The user presenting `header`: a scenario user, or the ServiceAccount a still valid issued
/// token belongs to (with the rules bound to it now), or 401.
pub fn authenticate(shared: &Shared, header: Option<&str>) -> Result<User, ApiError> {
    match crate::auth::authenticate(&shared.users, header) {
        Ok(user) => return Ok(user.clone()),
        Err(err) if err.code != 401 => return Err(err),
        Err(_) => {}
    }
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    let issued = shared
        .tokens
        .lookup(token, jiff::Timestamp::now())
        .ok_or_else(ApiError::unauthorized)?;
    let store = shared.read();
    let sa = by_kind("ServiceAccount").expect("served");
    let alive = store
        .get(sa, &(issued.namespace.clone(), issued.name.clone()))
        .is_some_and(|e| e.index.uid() == issued.uid);
    if !alive {
        return Err(ApiError::unauthorized());
    }
    let all = |kind: &str| -> Vec<Value> {
        by_kind(kind)
            .map(|res| store.table(res).values().map(|e| e.value()).collect())
            .unwrap_or_default()
    };
    let objects = Objects {
        roles: all("Role"),
        cluster_roles: all("ClusterRole"),
        role_bindings: all("RoleBinding"),
        cluster_role_bindings: all("ClusterRoleBinding"),
    };
    let subject = Subject::service_account(&issued.namespace, &issued.name);
    Ok(User {
        permission: Permission::Rbac(crate::rbac::rules_for(&subject, &objects)),
        name: subject.user,
        token: token.to_string(),
    })
}

/// POST `serviceaccounts/<name>/token`: a TokenRequest answered with a new token.
pub fn token_request(
    shared: &Shared,
    t: &Target,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>, ApiError> {
    let rt = &RESOURCES[t.res];
    let namespace = t.namespace.clone().unwrap_or_default();
    let name = t.name.clone().unwrap_or_default();
    let mut request = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        super::api::decode_body(content_type, body)?
    };
    let kind = request.get("kind").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != "TokenRequest" {
        return Err(ApiError::bad_request(format!(
            "the body has kind {kind:?}; serviceaccounts/token takes a TokenRequest (authentication.k8s.io/v1)"
        )));
    }
    let seconds = match request.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::invalid(
                "TokenRequest",
                &name,
                "spec.expirationSeconds: must be a number",
            )
        })?,
    };
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(ApiError::invalid(
            "TokenRequest",
            &name,
            format!(
                "spec.expirationSeconds: Invalid value: {seconds}: must be between {MIN_SECONDS} (10 minutes) and {MAX_SECONDS} (48 hours)"
            ),
        ));
    }
    let uid = {
        let store = shared.read();
        let entry = store
            .get(t.res, &(namespace.clone(), name.clone()))
            .ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &name))?;
        entry.index.uid().to_string()
    };
    let now = jiff::Timestamp::now();
    let expires = now + jiff::SignedDuration::from_secs(seconds);
    let token = shared.tokens.issue(
        Issued {
            namespace: namespace.clone(),
            name: name.clone(),
            uid,
            expires,
        },
        now,
    );
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({"name": name, "namespace": namespace,
        "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
    request["spec"]["expirationSeconds"] = json!(seconds);
    if request.pointer("/spec/audiences").is_none() {
        request["spec"]["audiences"] = json!(["https://kubernetes.default.svc.cluster.local"]);
    }
    request["status"] = json!({
        "token": token,
        "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    Ok(super::api::object_response(
        StatusCode::CREATED,
        request.to_string().into(),
        proto,
    ))
}
