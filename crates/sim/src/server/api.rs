//! Request handling: authentication, authorization and the verbs on objects.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use futures::FutureExt;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::Shared;
use super::route::{self, Route, Target};
use crate::auth::{self, Attributes};
use crate::patch::{self, PatchType};
use crate::resources::{RESOURCES, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Key, Propagation};
use crate::watch::{self, WatchQuery};
use crate::world::{Permission, User};

/// Largest request body accepted (like the real server's 3 MiB object limit, with headroom).
const MAX_BODY: usize = 8 * 1024 * 1024;

type Result<T> = std::result::Result<T, ApiError>;

/// Answer one request; never panics (a bug becomes a 500 `Status`).
pub async fn handle<B>(shared: Arc<Shared>, req: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let outcome = AssertUnwindSafe(dispatch(shared, req)).catch_unwind().await;
    let response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => status_response(&err),
        Err(_) => status_response(&ApiError::internal(format!(
            "the simulator failed while handling {method} {path}; this is a bug"
        ))),
    };
    tracing::debug!("{method} {path} -> {}", response.status());
    response
}

fn status_response(err: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, err.to_status().to_string().into())
}

fn json_response(code: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// An object answer: protobuf when the client prefers it and the kind has a protobuf form,
/// JSON otherwise.
pub(super) fn object_response(code: StatusCode, body: Bytes, proto: bool) -> Response<Body> {
    if proto && let Some(encoded) = crate::protobuf::encode_json(&body) {
        return protobuf_response(code, encoded.into());
    }
    json_response(code, body)
}

fn protobuf_response(code: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(crate::protobuf::MEDIA_TYPE),
    );
    response
}

fn json_value(code: StatusCode, value: &Value) -> Response<Body> {
    json_response(code, value.to_string().into())
}

/// Query parameters, in order; repeated keys allowed.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter, spelled as Go's `strconv.ParseBool` accepts (the real server parses
    /// query booleans with it); absent or empty is false, anything else is a 400.
    fn flag(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid {key} {v:?}: expected true or false"
            ))),
        }
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid {key} {v:?}: expected a non-negative number"
                ))
            }),
        }
    }

    /// `dryRun=All` → true; absent → false; anything else is a 400.
    fn dry_run(&self) -> Result<bool> {
        let mut dry = false;
        for (k, v) in &self.0 {
            if k == "dryRun" {
                if v != "All" {
                    return Err(ApiError::bad_request(format!(
                        "unsupported dryRun value {v:?}: the only supported value is \"All\""
                    )));
                }
                dry = true;
            }
        }
        Ok(dry)
    }
}

async fn dispatch<B>(shared: Arc<Shared>, req: Request<B>) -> Result<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let route = route::parse(req.uri().path());
    match route {
        Route::Version => return Ok(json_value(StatusCode::OK, &version(&shared.git_version))),
        Route::Health => {
            let mut response = Response::new(Body::from("ok"));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return Ok(response);
        }
        _ => {}
    }
    let auth_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let user = super::service_accounts::authenticate(&shared, auth_header)?;
    let path = req.uri().path().to_string();
    let is_get = req.method() == Method::GET;
    let discovery = |doc: Option<Value>| -> Result<Response<Body>> {
        if !is_get {
            return Err(ApiError::method_not_allowed(format!(
                "{path} only supports GET"
            )));
        }
        doc.map(|d| json_value(StatusCode::OK, &d))
            .ok_or_else(|| ApiError::no_route(&path))
    };
    match route {
        Route::CoreVersions => discovery(Some(crate::discovery::core_versions())),
        Route::Groups => discovery(Some(crate::discovery::groups())),
        Route::Group(group) => discovery(crate::discovery::group(&group)),
        Route::Resources(group, version) => {
            discovery(crate::discovery::resources(&group, &version))
        }
        Route::OpenApiRoot => discovery(Some(crate::openapi::root())),
        Route::OpenApi(gv) => discovery(crate::openapi::group_version(&gv)),
        Route::Objects(target) => objects(shared, &user, target, req).await,
        Route::NotFound | Route::Version | Route::Health => Err(ApiError::no_route(&path)),
    }
}

fn version(git_version: &str) -> Value {
    let numbers: Vec<&str> = git_version.trim_start_matches('v').split('.').collect();
    json!({
        "major": numbers.first().copied().unwrap_or(""),
        "minor": numbers.get(1).copied().unwrap_or(""),
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

async fn read_body<B>(body: B) -> Result<Bytes>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => Err(ApiError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: format!(
                "the request body could not be read (at most {MAX_BODY} bytes are accepted): {err}"
            ),
            details: None,
        }),
    }
}

fn parse_json(body: &[u8]) -> Result<Value> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

async fn objects<B>(
    shared: Arc<Shared>,
    user: &User,
    t: Target,
    req: Request<B>,
) -> Result<Response<Body>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let rt = &RESOURCES[t.res];
    let params = Params(
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
    );
    if t.sub.as_deref() == Some("exec") {
        return super::exec::handle(shared, user, &t, &params.0, req).await;
    }
    let method = req.method().clone();
    let watching = t.watch_path || params.flag("watch")?;
    let verb = match (&method, t.name.is_some()) {
        (&Method::GET, false) if watching => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) if t.watch_path => "watch",
        (&Method::GET, true) => "get",
        (&Method::POST, false) => "create",
        (&Method::POST, true) if t.sub.as_deref() == Some("token") => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on {}",
                req.uri().path()
            )));
        }
    };
    if rt.review && verb != "create" {
        return Err(ApiError::method_not_allowed(format!(
            "{} only supports create",
            rt.plural
        )));
    }
    if t.sub.as_deref() == Some("token") && verb != "create" {
        return Err(ApiError::method_not_allowed(
            "serviceaccounts/token only supports create",
        ));
    }
    if t.sub.as_deref() == Some("scale") && !matches!(verb, "get" | "update" | "patch") {
        return Err(ApiError::method_not_allowed(format!(
            "{}/scale only supports get, update and patch",
            rt.plural
        )));
    }
    if t.sub.as_deref() == Some("log") && verb != "get" {
        return Err(ApiError::method_not_allowed("pods/log only supports get"));
    }
    let resource = match &t.sub {
        Some(sub) => format!("{}/{sub}", rt.plural),
        None => rt.plural.to_string(),
    };
    // Every authenticated user may ask what it may do (upstream's system:basic-user role).
    if !rt.review {
        auth::authorize(
            user,
            &Attributes {
                verb,
                group: rt.group,
                resource,
                namespace: t.namespace.as_deref(),
                name: t.name.as_deref(),
            },
        )?;
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let as_table = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(crate::table::wanted);
    let proto = !as_table
        && crate::protobuf::preferred(
            req.headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
    let body = read_body(req.into_body()).await?;
    match verb {
        "list" => list(&shared, rt, &t, &params, as_table, proto),
        "watch" => watch_response(shared, rt, &t, &params, proto),
        "get" if t.sub.as_deref() == Some("log") => pod_log(&shared, &t, &params),
        "get" | "update" | "patch" if t.sub.as_deref() == Some("scale") => {
            let dry = params.dry_run()?;
            super::scale::handle(&shared, rt, &t, verb, dry, &content_type, &body, proto)
        }
        "get" => {
            let store = shared.read();
            let entry = store
                .get(t.res, &key(rt, &t))
                .ok_or_else(|| not_found(rt, &t))?;
            if as_table {
                let meta = json!({"resourceVersion": entry.rv.to_string()});
                let table =
                    crate::table::render(rt.kind, &[&entry.bytes], meta, jiff::Timestamp::now());
                return Ok(json_value(StatusCode::OK, &table));
            }
            Ok(object_response(StatusCode::OK, entry.bytes.clone(), proto))
        }
        "create" if rt.review => review(rt, user, &content_type, &body, proto),
        "create" if t.sub.is_some() => {
            super::service_accounts::token_request(&shared, &t, &content_type, &body, proto)
        }
        "create" => create(&shared, rt, &t, &params, &content_type, &body, proto),
        "update" => update(&shared, rt, &t, &params, &content_type, &body, proto),
        "patch" if super::apply::is_apply(&content_type) => {
            let options = super::apply::ApplyOptions {
                field_manager: params.get("fieldManager"),
                dry: params.dry_run()?,
                proto,
            };
            // `force` resolves conflicts between managers; the sim has none (see apply.rs).
            params.flag("force")?;
            super::apply::handle(&shared, rt, &t, options, &body)
        }
        "patch" => patch_object(&shared, rt, &t, &params, &content_type, &body, proto),
        "delete" => delete(&shared, rt, &t, &params, &content_type, &body, proto),
        _ => delete_collection(&shared, rt, &t, &params, &content_type, &body),
    }
}

pub(super) fn key(rt: &ResourceType, t: &Target) -> Key {
    let ns = if rt.namespaced {
        t.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    (ns, t.name.clone().unwrap_or_default())
}

pub(super) fn not_found(rt: &ResourceType, t: &Target) -> ApiError {
    ApiError::not_found(rt.group, rt.plural, t.name.as_deref().unwrap_or(""))
}

/// A create or update body: protobuf or JSON by its content type.
pub(super) fn decode_body(content_type: &str, body: &[u8]) -> Result<Value> {
    if crate::protobuf::is_protobuf(content_type) {
        crate::protobuf::decode_object(body)
    } else {
        require_json(content_type)?;
        parse_json(body)
    }
}

fn require_json(content_type: &str) -> Result<()> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.is_empty() || media == "application/json" || media == "*/*" {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(content_type))
    }
}

/// Check a request body against the URL: kind and apiVersion must match (422), the namespace
/// defaults from the URL and must agree with it (400), the name must match the URL's (422).
pub(super) fn check_body(rt: &ResourceType, obj: &mut Value, t: &Target) -> Result<()> {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind.is_empty() || api_version.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' or 'apiVersion' is missing in the request body; expected kind {:?} and apiVersion {:?}",
            rt.kind,
            rt.api_version()
        )));
    }
    if kind != rt.kind || api_version != rt.api_version() {
        return Err(ApiError::invalid(
            rt.kind,
            &name,
            format!(
                "the body has kind {kind:?} apiVersion {api_version:?} but the URL addresses {} {}",
                rt.api_version(),
                rt.plural
            ),
        ));
    }
    if !obj.get("metadata").is_none_or(Value::is_object) {
        return Err(ApiError::invalid(
            rt.kind,
            &name,
            "metadata: must be an object",
        ));
    }
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    if rt.namespaced {
        let body_ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match (&t.namespace, body_ns.is_empty()) {
            (Some(url_ns), true) => obj["metadata"]["namespace"] = json!(url_ns),
            (Some(url_ns), false) if *url_ns != body_ns => {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({url_ns})"
                )));
            }
            _ => {}
        }
    }
    if let Some(url_name) = &t.name {
        if name.is_empty() {
            return Err(ApiError::invalid(
                rt.kind,
                url_name,
                "metadata.name: Required value",
            ));
        }
        if name != *url_name {
            return Err(ApiError::invalid(
                rt.kind,
                &name,
                format!(
                    "metadata.name: Invalid value: {name:?}: does not match the name in the URL ({url_name})"
                ),
            ));
        }
    }
    Ok(())
}

fn encode_continue(rv: u64, key: &Key) -> String {
    let token = json!({"rv": rv, "ns": key.0, "name": key.1}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
}

fn decode_continue(token: &str) -> Result<(u64, Key)> {
    let bad = || {
        ApiError::bad_request(format!(
            "invalid continue token {token:?}: start a new list without it"
        ))
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = value.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let ns = value.get("ns").and_then(Value::as_str).ok_or_else(bad)?;
    let name = value.get("name").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

fn selectors(rt: &ResourceType, params: &Params) -> Result<(LabelSelector, FieldSelector)> {
    Ok((
        LabelSelector::parse(params.get("labelSelector").unwrap_or(""))?,
        FieldSelector::parse(params.get("fieldSelector").unwrap_or(""), rt.kind)?,
    ))
}

fn list(
    shared: &Shared,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    as_table: bool,
    proto: bool,
) -> Result<Response<Body>> {
    let (labels, fields) = selectors(rt, params)?;
    let limit: Option<usize> = params.number("limit")?;
    let cont = params
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(decode_continue)
        .transpose()?;
    let mut at = cont.as_ref().map(|(rv, _)| *rv);
    if at.is_none() && params.get("resourceVersionMatch") == Some("Exact") {
        at = params.number("resourceVersion")?;
    }
    let page = shared.read().list(
        t.res,
        if rt.namespaced {
            t.namespace.as_deref()
        } else {
            None
        },
        &labels,
        &fields,
        limit,
        cont.as_ref().map(|(_, k)| k),
        at,
    )?;
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some(next) = &page.next {
        meta["continue"] = json!(encode_continue(page.rv, next));
    }
    if as_table {
        let items: Vec<&[u8]> = page.items.iter().map(|b| &b[..]).collect();
        let table = crate::table::render(rt.kind, &items, meta, jiff::Timestamp::now());
        return Ok(json_value(StatusCode::OK, &table));
    }
    if proto
        && let Some(encoded) =
            crate::protobuf::encode_list(&rt.api_version(), rt.kind, &meta, &page.items)
    {
        return Ok(protobuf_response(StatusCode::OK, encoded.into()));
    }
    let size: usize = page.items.iter().map(|i| i.len() + 1).sum();
    let mut out = BytesMut::with_capacity(size + 256);
    out.put_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{meta},\"items\":[",
            rt.kind,
            rt.api_version()
        )
        .as_bytes(),
    );
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(item);
    }
    out.put_slice(b"]}");
    Ok(json_response(StatusCode::OK, out.freeze()))
}

fn watch_response(
    shared: Arc<Shared>,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    proto: bool,
) -> Result<Response<Body>> {
    let (labels, mut fields) = selectors(rt, params)?;
    if let Some(name) = &t.name {
        fields.0.push(("metadata.name".into(), true, name.clone()));
    }
    let timeout: Option<u64> = params.number("timeoutSeconds")?;
    let query = WatchQuery {
        res: t.res,
        namespace: if rt.namespaced {
            t.namespace.clone()
        } else {
            None
        },
        labels,
        fields,
        after: watch::parse_start(params.get("resourceVersion"))?,
        bookmarks: params.flag("allowWatchBookmarks")?,
        initial_events_end: params.flag("sendInitialEvents")?,
        timeout: timeout.map(Duration::from_secs),
        protobuf: proto && crate::protobuf::has_protobuf(&rt.api_version(), rt.kind),
    };
    let content_type = if query.protobuf {
        crate::protobuf::WATCH_MEDIA_TYPE
    } else {
        "application/json"
    };
    let mut response = Response::new(Body::from_stream(watch::stream(shared, query)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    Ok(response)
}

fn pod_log(shared: &Arc<Shared>, t: &Target, params: &Params) -> Result<Response<Body>> {
    let rt = &RESOURCES[t.res];
    let store = shared.read();
    let entry = store
        .get(t.res, &key(rt, t))
        .ok_or_else(|| not_found(rt, t))?;
    let pod = entry.value();
    let pod_name = t.name.clone().unwrap_or_default();
    let containers: Vec<String> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
        .collect();
    let container = match params.get("container") {
        Some(c) if containers.iter().any(|x| x == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {pod_name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    if let Some(reason) = super::log_follow::waiting_reason(&pod, &container) {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        )));
    }
    let mut text = store.log(t.namespace.as_deref().unwrap_or(""), &pod_name, &container);
    if params.flag("follow")? {
        let uid = entry.index.uid().to_string();
        let total = text.len();
        let skip = match params.number::<usize>("tailLines")? {
            Some(tail) => total - super::log_follow::tail_len(&text, tail),
            None => 0,
        };
        drop(store);
        let body = super::log_follow::stream(
            Arc::clone(shared),
            t.namespace.as_deref().unwrap_or(""),
            &pod_name,
            &uid,
            &container,
            skip,
        );
        let mut response = Response::new(Body::from_stream(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        return Ok(response);
    }
    if let Some(tail) = params.number::<usize>("tailLines")? {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(tail);
        text = lines[start..].iter().map(|l| format!("{l}\n")).collect();
    }
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

fn create(
    shared: &Shared,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>> {
    let dry = params.dry_run()?;
    let mut obj = decode_body(content_type, body)?;
    check_body(rt, &mut obj, t)?;
    if rt.namespaced && t.namespace.is_none() && obj.pointer("/metadata/namespace").is_none() {
        return Err(ApiError::bad_request(format!(
            "{} are namespaced: POST to /.../namespaces/<namespace>/{} or set metadata.namespace",
            rt.plural, rt.plural
        )));
    }
    crate::defaults::apply(rt.kind, &mut obj, None);
    let now = jiff::Timestamp::now();
    let entry = shared.write(|s| s.create(t.res, obj, now, !dry))?;
    Ok(object_response(StatusCode::CREATED, entry.bytes, proto))
}

/// For a main-resource write keep the stored status; for a `status` write keep everything but
/// the status (like the real server's status subresource strategy).
pub(super) fn split_status(rt: &ResourceType, t: &Target, stored: &Value, mut new: Value) -> Value {
    if t.sub.as_deref() == Some("status") {
        let mut merged = stored.clone();
        merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
        if let Some(rv) = new.pointer("/metadata/resourceVersion") {
            merged["metadata"]["resourceVersion"] = rv.clone();
        }
        return merged;
    }
    if rt.has_subresource("status") {
        match stored.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    new
}

fn update(
    shared: &Shared,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>> {
    let dry = params.dry_run()?;
    let mut obj = decode_body(content_type, body)?;
    check_body(rt, &mut obj, t)?;
    let entry = shared.write(|s| {
        let stored = s
            .get(t.res, &key(rt, t))
            .ok_or_else(|| not_found(rt, t))?
            .value();
        let mut obj = split_status(rt, t, &stored, obj);
        crate::defaults::apply(rt.kind, &mut obj, Some(&stored));
        s.update(t.res, obj, !dry)
    })?;
    Ok(object_response(StatusCode::OK, entry.bytes, proto))
}

fn patch_object(
    shared: &Shared,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>> {
    let patch_type = PatchType::from_content_type(content_type)?;
    let dry = params.dry_run()?;
    let entry = shared.write(|s| {
        let stored = s
            .get(t.res, &key(rt, t))
            .ok_or_else(|| not_found(rt, t))?
            .value();
        let mut doc = stored.clone();
        patch::apply(&mut doc, patch_type, body)?;
        if !doc.is_object() {
            return Err(ApiError::invalid(
                rt.kind,
                t.name.as_deref().unwrap_or(""),
                "the patched object is not a JSON object",
            ));
        }
        check_body(rt, &mut doc, t)?;
        let mut doc = split_status(rt, t, &stored, doc);
        crate::defaults::apply(rt.kind, &mut doc, Some(&stored));
        s.update(t.res, doc, !dry)
    })?;
    Ok(object_response(StatusCode::OK, entry.bytes, proto))
}

/// `DeleteOptions` from the body (JSON, or protobuf by its content type) and query: (dry run,
/// propagation, uid and resourceVersion preconditions).
fn delete_options(
    params: &Params,
    content_type: &str,
    body: &[u8],
) -> Result<(bool, Propagation, Option<String>, Option<String>)> {
    let mut dry = params.dry_run()?;
    let mut policy = params.get("propagationPolicy").map(String::from);
    let mut orphan = match params.get("orphanDependents") {
        None => None,
        Some(_) => Some(params.flag("orphanDependents")?),
    };
    let (mut uid, mut rv) = (None, None);
    let options = if crate::protobuf::is_protobuf(content_type) {
        Some(crate::protobuf::decode_delete_options(body)?)
    } else if !body.iter().all(u8::is_ascii_whitespace) {
        require_json(content_type)?;
        Some(parse_json(body)?)
    } else {
        None
    };
    if let Some(options) = options {
        if let Some(p) = options.get("propagationPolicy").and_then(Value::as_str) {
            policy = Some(p.to_string());
        }
        if let Some(o) = options.get("orphanDependents").and_then(Value::as_bool) {
            orphan = Some(o);
        }
        if let Some(list) = options.get("dryRun").and_then(Value::as_array) {
            for v in list {
                if v.as_str() != Some("All") {
                    return Err(ApiError::bad_request(format!(
                        "unsupported dryRun value {v}: the only supported value is \"All\""
                    )));
                }
                dry = true;
            }
        }
        uid = options
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from);
        rv = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from);
    }
    // The deprecated `orphanDependents`, as upstream: not together with a propagation policy.
    if let Some(orphan) = orphan {
        if let Some(p) = &policy {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "",
                format!(
                    "propagationPolicy: Invalid value: {p:?}: orphanDependents and propagationPolicy cannot be both set; drop orphanDependents"
                ),
            ));
        }
        return Ok((dry, Propagation::from(!orphan), uid, rv));
    }
    let cascade = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported propagationPolicy {other:?}: use Orphan, Background or Foreground"
            )));
        }
    };
    Ok((dry, cascade, uid, rv))
}

fn finish_namespaces_later(shared: &Arc<Shared>, names: Vec<String>) {
    if names.is_empty() {
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        for name in names {
            shared.write(|s| s.finish_namespace(&name));
        }
    });
}

fn delete(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>> {
    let (dry, cascade, uid, rv) = delete_options(params, content_type, body)?;
    let now = jiff::Timestamp::now();
    let entry = shared.write(|s| {
        s.delete(
            t.res,
            &key(rt, t),
            (uid.as_deref(), rv.as_deref()),
            cascade,
            now,
            !dry,
        )
    })?;
    if rt.kind == "Namespace" && !dry {
        finish_namespaces_later(shared, vec![t.name.clone().unwrap_or_default()]);
    }
    Ok(object_response(StatusCode::OK, entry.bytes, proto))
}

fn delete_collection(
    shared: &Arc<Shared>,
    rt: &ResourceType,
    t: &Target,
    params: &Params,
    content_type: &str,
    body: &[u8],
) -> Result<Response<Body>> {
    let (labels, fields) = selectors(rt, params)?;
    // Preconditions apply to each object, as upstream (a mismatch refuses the request).
    let (dry, cascade, uid, rv) = delete_options(params, content_type, body)?;
    let now = jiff::Timestamp::now();
    let namespace = if rt.namespaced {
        t.namespace.as_deref()
    } else {
        None
    };
    let deleted = shared.write(|s| -> Result<Vec<Bytes>> {
        let page = s.list(t.res, namespace, &labels, &fields, None, None, None)?;
        let mut deleted = Vec::new();
        for item in page.items {
            let obj: Value = serde_json::from_slice(&item).unwrap_or(Value::Null);
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let key = (
                if rt.namespaced {
                    ns.to_string()
                } else {
                    String::new()
                },
                name.to_string(),
            );
            deleted.push(
                s.delete(
                    t.res,
                    &key,
                    (uid.as_deref(), rv.as_deref()),
                    cascade,
                    now,
                    !dry,
                )?
                .bytes,
            );
        }
        Ok(deleted)
    })?;
    if rt.kind == "Namespace" && !dry {
        let names = deleted
            .iter()
            .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
            .filter_map(|v| {
                v.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect();
        finish_namespaces_later(shared, names);
    }
    let items: Vec<Value> = deleted
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    Ok(json_value(
        StatusCode::OK,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {}, "items": items}),
    ))
}

/// SelfSubjectAccessReview / SelfSubjectRulesReview: answered from the user's permission.
fn review(
    rt: &ResourceType,
    user: &User,
    content_type: &str,
    body: &[u8],
    proto: bool,
) -> Result<Response<Body>> {
    let mut obj = decode_body(content_type, body)?;
    let name = String::new();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != rt.kind {
        return Err(ApiError::invalid(
            rt.kind,
            &name,
            format!("the body has kind {kind:?}, expected {}", rt.kind),
        ));
    }
    obj["kind"] = json!(rt.kind);
    obj["apiVersion"] = json!(rt.api_version());
    if rt.kind == "SelfSubjectRulesReview" {
        let namespace = obj
            .pointer("/spec/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        obj["status"] = rules_review(&user.permission, &namespace);
        return Ok(object_response(
            StatusCode::CREATED,
            obj.to_string().into(),
            proto,
        ));
    }
    let allowed = if let Some(attrs) = obj.pointer("/spec/resourceAttributes") {
        let text = |f: &str| {
            attrs
                .get(f)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (verb, group, resource, sub, ns, obj_name) = (
            text("verb"),
            text("group"),
            text("resource"),
            text("subresource"),
            text("namespace"),
            text("name"),
        );
        if verb.is_empty() {
            return Err(ApiError::invalid(
                rt.kind,
                &name,
                "spec.resourceAttributes.verb: Required value",
            ));
        }
        let resource = if sub.is_empty() {
            resource
        } else {
            format!("{resource}/{sub}")
        };
        auth::allows(
            &user.permission,
            &Attributes {
                verb: &verb,
                group: &group,
                resource,
                namespace: (!ns.is_empty()).then_some(ns.as_str()),
                name: (!obj_name.is_empty()).then_some(obj_name.as_str()),
            },
        )
    } else if let Some(attrs) = obj.pointer("/spec/nonResourceAttributes") {
        let verb = attrs.get("verb").and_then(Value::as_str).unwrap_or("");
        let path = attrs.get("path").and_then(Value::as_str).unwrap_or("");
        match &user.permission {
            Permission::Admin => true,
            Permission::Rbac(rules) => verb == "get" || crate::rbac::allows_path(rules, verb, path),
            _ => verb == "get",
        }
    } else {
        return Err(ApiError::invalid(
            rt.kind,
            &name,
            "spec: Invalid value: exactly one of resourceAttributes or nonResourceAttributes must be set",
        ));
    };
    let reason = if !allowed {
        ""
    } else if matches!(user.permission, Permission::Rbac(_)) {
        "allowed by RBAC (a Role or ClusterRole bound to this user)"
    } else {
        "allowed by the scenario's permission for this user"
    };
    obj["status"] = json!({"allowed": allowed, "reason": reason});
    Ok(object_response(
        StatusCode::CREATED,
        obj.to_string().into(),
        proto,
    ))
}

fn rules_review(permission: &Permission, namespace: &str) -> Value {
    let rules: Vec<Value> = match permission {
        Permission::Admin => vec![json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})],
        Permission::ReadOnly => {
            vec![json!({"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]})]
        }
        Permission::Rules(rules) => rules
            .iter()
            .filter(|r| {
                r.namespaces.is_empty() || r.namespaces.iter().any(|n| n == "*" || n == namespace)
            })
            .map(|r| json!({"verbs": r.verbs, "apiGroups": r.groups, "resources": r.resources}))
            .collect(),
        Permission::Rbac(rules) => rules
            .iter()
            .filter(|r| {
                !r.resources.is_empty() && r.namespace.as_deref().is_none_or(|n| n == namespace)
            })
            .map(|r| {
                let mut rule =
                    json!({"verbs": r.verbs, "apiGroups": r.groups, "resources": r.resources});
                if !r.names.is_empty() {
                    rule["resourceNames"] = json!(r.names);
                }
                rule
            })
            .collect(),
    };
    let non_resource = match permission {
        Permission::Admin => json!([{"verbs": ["*"], "nonResourceURLs": ["*"]}]),
        _ => {
            json!([{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version", "/healthz", "/readyz", "/livez"]}])
        }
    };
    json!({"resourceRules": rules, "nonResourceRules": non_resource, "incomplete": false})
}
