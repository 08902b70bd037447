//! The JSON API (INTEROP §4.3) plus the additions: history, reload, metrics, OpenAPI.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use scs_kaas_core::finding::Status;
use scs_kaas_core::scorecard;

use crate::auth::{Account, AuthError, Roles};
use crate::board;
use crate::body::{self, BodyError, ReadBody};
use crate::db::ApprovalItem;
use crate::error::ApiError;
use crate::server::ClientAddr;
use crate::state::AppState;
use crate::upload::{self, Format, UploadError};
use crate::writer::WriteError;

type AppResult<T> = Result<T, ApiError>;

/// Largest `limit` a list endpoint accepts.
pub const MAX_LIMIT: i64 = 1000;

/// Authenticates the request (401 on failure, 429/503 when password checks are refused).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientAddr,
) -> AppResult<Arc<Account>> {
    let snapshot = state.snapshot();
    let header = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    Ok(snapshot.directory.authenticate(header, client.0).await?)
}

/// Reads the body of an authenticated request within the server's limits (see `body.rs`).
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<ReadBody, Refusal> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    body::read(
        &state.body_budget,
        body,
        length,
        state.body_limit,
        &state.limits,
    )
    .await
    .map_err(Refusal::from)
}

/// `POST /reports`: signed report upload. The credentials and the Content-Type are checked
/// before the body is read.
pub async fn post_reports(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    request: Request,
) -> AppResult<Response> {
    let (parts, body) = request.into_parts();
    match post_reports_inner(&state, &parts.headers, client, body).await {
        Ok(n) => {
            state.metrics.accepted(n);
            Ok(Json(Value::Null).into_response())
        }
        Err(Refusal(err, reason)) => {
            state.metrics.rejected(reason);
            Err(err)
        }
    }
}

/// A refused upload: the answer and the metrics reason.
struct Refusal(ApiError, &'static str);

impl From<UploadError> for Refusal {
    fn from(err: UploadError) -> Self {
        let reason = err.reason();
        let api = match err {
            UploadError::ContentType => ApiError::UnsupportedMediaType(err.to_string()),
            // As the SCS monitor (INTEROP §4.3): an unsigned body is an authentication failure.
            UploadError::MissingSignature | UploadError::Verification(_) => {
                ApiError::Signature(err.to_string())
            }
            UploadError::Invalid(_) | UploadError::Empty => ApiError::BadRequest(err.to_string()),
        };
        Refusal(api, reason)
    }
}

impl From<BodyError> for Refusal {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::TooLarge { .. } => {
                Refusal(ApiError::PayloadTooLarge(err.to_string()), "too_large")
            }
            BodyError::Timeout(_) => Refusal(ApiError::RequestTimeout(err.to_string()), "timeout"),
            BodyError::Busy => Refusal(ApiError::Unavailable(err.to_string()), "busy"),
            BodyError::Read(_) => Refusal(ApiError::BadRequest(err.to_string()), "invalid"),
        }
    }
}

impl From<AuthError> for Refusal {
    fn from(err: AuthError) -> Self {
        let reason = match err {
            AuthError::Throttled { .. } => "throttled",
            AuthError::Busy => "busy",
            _ => "unauthenticated",
        };
        Refusal(ApiError::Auth(err), reason)
    }
}

async fn post_reports_inner(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientAddr,
    body: Body,
) -> Result<u64, Refusal> {
    let snapshot = state.snapshot();
    let header = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let account = snapshot.directory.authenticate(header, client.0).await?;
    let format =
        Format::from_content_type(headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()))?;
    let body = read_body(state, headers, body).await?;
    let (signature, payload) = upload::split_body(&body.bytes)?;
    upload::verify_signature(&account.keys, signature, payload)?;
    let docs = upload::parse_documents(format, payload)?;
    let received_at = state.clock.now_utc();
    let mut reports = Vec::with_capacity(docs.len());
    for doc in docs {
        let report =
            upload::validate(doc, received_at, |uuid| snapshot.scopes.get(uuid).is_some())?;
        if !account.may_post(&report.subject) {
            return Err(Refusal(
                ApiError::Forbidden(format!(
                    "Permission denied: account {:?} may not post reports for subject {:?} \
                     (it needs to be a delegate of that subject and hold append_any)",
                    account.subject, report.subject
                )),
                "forbidden",
            ));
        }
        reports.push(report);
    }
    let n = reports.len() as u64;
    state.writer.write(reports).await.map_err(|e| match e {
        WriteError::Duplicate(_) => Refusal(ApiError::Conflict(e.to_string()), "duplicate"),
        WriteError::Database(_) => Refusal(ApiError::Internal(anyhow::anyhow!(e)), "internal"),
    })?;
    Ok(n)
}

/// 400 when a query value contains a NUL character (no stored value can match it, and
/// PostgreSQL refuses it outright).
fn no_nul(field: &str, value: &str) -> AppResult<()> {
    if value.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "`{field}` contains a NUL character"
        )));
    }
    Ok(())
}

/// Query of `GET /reports`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    subject: Option<String>,
    limit: Option<i64>,
    skip: Option<i64>,
}

fn bounds(limit: Option<i64>, skip: Option<i64>, default: i64) -> AppResult<(i64, i64)> {
    let limit = limit.unwrap_or(default);
    let skip = skip.unwrap_or(0);
    if !(0..=MAX_LIMIT).contains(&limit) || skip < 0 {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 0 and {MAX_LIMIT} and skip must not be negative"
        )));
    }
    Ok((limit, skip))
}

/// `GET /reports`: stored reports, newest first, each as stored (keys in the order the report
/// was written).
pub async fn list_reports(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let account = authenticate(&state, &headers, client).await?;
    let (limit, skip) = bounds(q.limit, q.skip, 10)?;
    if let Some(subject) = &q.subject {
        no_nul("subject", subject)?;
    }
    let subject = match q.subject.as_deref() {
        None => Some(account.subject.clone()),
        Some("") if account.roles.contains(Roles::READ_ANY) => None,
        Some(s) if account.may_read(s) => Some(s.to_string()),
        Some(s) => {
            return Err(ApiError::Forbidden(format!(
                "Permission denied: reading reports of {s:?} needs read_any"
            )));
        }
    };
    let rows = state
        .db
        .list_reports(subject.as_deref(), limit, skip)
        .await?;
    let mut body = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(row);
    }
    body.push(']');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A stored report's JSON text indented, keys in stored order.
pub fn pretty_report(data: &str) -> String {
    match serde_json::from_str::<scs_kaas_core::report::Report>(data) {
        Ok(report) => serde_json::to_string_pretty(&report).unwrap_or_else(|_| data.to_string()),
        Err(_) => data.to_string(),
    }
}

/// `GET /reports/{uuid}`: one stored report.
pub async fn get_report(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> AppResult<Response> {
    let account = authenticate(&state, &headers, client).await?;
    let (subject, data) = state
        .db
        .get_report(&uuid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no report with uuid {uuid}")))?;
    if !account.may_read(&subject) {
        return Err(ApiError::Forbidden(
            "Permission denied: this report belongs to another subject".into(),
        ));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        pretty_report(&data),
    )
        .into_response())
}

/// Query of `GET /status`.
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    subject: Option<String>,
    scopeuuid: Option<String>,
}

/// `GET /status`: the evaluated status of every subject and scope (drafts excluded).
pub async fn status(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> AppResult<Json<Value>> {
    if let Some(accept) = headers.get(header::ACCEPT) {
        let accept = accept.to_str().unwrap_or("");
        if !accept.contains("application/json") && !accept.contains("*/*") {
            return Err(ApiError::NotAcceptable(
                "this endpoint only produces application/json".into(),
            ));
        }
    }
    for (field, value) in [("subject", &q.subject), ("scopeuuid", &q.scopeuuid)] {
        if let Some(value) = value {
            no_nul(field, value)?;
        }
    }
    let snapshot = state.snapshot();
    let now = state.clock.now_utc();
    let subjects = match &q.subject {
        Some(s) => vec![s.clone()],
        None => state.latest.subjects(),
    };
    let mut out = serde_json::Map::new();
    for subject in subjects {
        let mut per_scope = serde_json::Map::new();
        for scope in snapshot.scopes.iter() {
            if q.scopeuuid.as_ref().is_some_and(|u| *u != scope.card.uuid) {
                continue;
            }
            if let Some(cell) = board::cell(scope, &state.latest, &subject, now, false) {
                per_scope.insert(scope.card.uuid.clone(), status_json(scope, &cell));
            }
        }
        if !per_scope.is_empty() {
            out.insert(subject, Value::Object(per_scope));
        }
    }
    Ok(Json(Value::Object(out)))
}

fn result_json(result: Option<Status>) -> Value {
    result.map_or(Value::Null, |s| json!(s.report_value()))
}

fn status_json(scope: &crate::scopes::ScopeInfo, cell: &board::Cell) -> Value {
    let eval = &cell.eval;
    let mut buckets: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for id in &eval.testcases {
        let key = match cell.results.get(id).map(|r| r.result) {
            Some(Status::Fail) => "-1",
            None => "null",
            Some(Status::Abort) => "0",
            Some(Status::Pass) => "1",
        };
        buckets.entry(key).or_default().push(id);
    }
    let versions: serde_json::Map<String, Value> = eval
        .versions
        .iter()
        .filter(|v| v.validity != scorecard::Validity::Draft)
        .map(|v| {
            let targets: serde_json::Map<String, Value> = v
                .targets
                .iter()
                .map(|(name, t)| {
                    (
                        name.clone(),
                        json!({ "testcases": t.testcases, "result": result_json(t.result) }),
                    )
                })
                .collect();
            let tc_target = scope.tc_target.get(&v.name).cloned().unwrap_or_default();
            (
                v.name.clone(),
                json!({
                    "_idx": v.idx,
                    "result": result_json(v.result),
                    "targets": targets,
                    "tc_target": tc_target,
                    "validity": v.validity.as_str(),
                }),
            )
        })
        .collect();
    let results: serde_json::Map<String, Value> = cell
        .results
        .iter()
        .map(|(id, r)| {
            (
                id.clone(),
                json!({
                    "result": r.result.report_value(),
                    "checked_at": r.checked_at.to_string(),
                    "expires_at": r.expires_at.to_string(),
                    "report": r.report,
                }),
            )
        })
        .collect();
    json!({
        "name": scope.card.name,
        "testcases": scope.card.testcases,
        "results": results,
        "buckets": buckets,
        "versions": versions,
        "relevant": eval.relevant,
        "result": result_json(eval.result),
        "passed": eval.passed,
        "passed_str": eval.passed_str,
        "best_passed": eval.best_passed,
        "validity": eval.validity.as_str(),
    })
}

/// Query of `GET /results`.
#[derive(Debug, Deserialize)]
pub struct ResultsQuery {
    approved: Option<bool>,
    limit: Option<i64>,
    skip: Option<i64>,
}

/// `GET /results`: raw result rows of the last 7 days, newest first (needs read_any).
pub async fn get_results(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    headers: HeaderMap,
    Query(q): Query<ResultsQuery>,
) -> AppResult<Json<Value>> {
    let account = authenticate(&state, &headers, client).await?;
    if !account.roles.contains(Roles::READ_ANY) {
        return Err(ApiError::Forbidden(
            "Permission denied: needs read_any".into(),
        ));
    }
    let (limit, skip) = bounds(q.limit, q.skip, 10)?;
    let since = state
        .clock
        .now_utc()
        .saturating_sub(jiff::Span::new().days(7));
    let rows = state
        .db
        .results_since(since, q.approved, limit, skip)
        .await?;
    Ok(Json(
        serde_json::to_value(rows).map_err(anyhow::Error::from)?,
    ))
}

/// `POST /results`: set approval flags (needs approve; vestigial in SCS too).
pub async fn post_results(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    request: Request,
) -> AppResult<Json<Value>> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let account = authenticate(&state, &headers, client).await?;
    if !account.roles.contains(Roles::APPROVE) {
        return Err(ApiError::Forbidden(
            "Permission denied: needs approve".into(),
        ));
    }
    if headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()) != Some(b"application/json") {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        ));
    }
    let body = read_body(&state, &headers, body).await.map_err(|r| r.0)?;
    let value: Value = serde_json::from_slice(&body.bytes)
        .map_err(|e| ApiError::BadRequest(format!("not JSON: {e}")))?;
    let items: Vec<ApprovalItem> = match value {
        Value::Array(_) => serde_json::from_value(value),
        _ => serde_json::from_value(value).map(|one| vec![one]),
    }
    .map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{reportuuid, scopeuuid, version, check, approval}} or a list of them: {e}"
        ))
    })?;
    if let Some(index) = state.db.set_approvals(&items).await? {
        return Err(ApiError::NotFound(format!(
            "item {index} matches no stored result; nothing was changed"
        )));
    }
    Ok(Json(Value::Null))
}

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.db.ping().await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// `GET /history/{subject}`: the subject's uploads, newest first (public, like the pages).
pub async fn history(
    State(state): State<Arc<AppState>>,
    Path(subject): Path<String>,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    no_nul("subject", &subject)?;
    let (limit, _) = bounds(q.limit, None, 100)?;
    let rows = state.db.history(&subject, limit).await?;
    Ok(Json(json!({ "subject": subject, "reports": rows })))
}

/// `POST /admin/reload`: re-read bootstrap and scopes (needs admin).
pub async fn reload(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    headers: HeaderMap,
) -> AppResult<Json<Value>> {
    let account = authenticate(&state, &headers, client).await?;
    if !account.roles.contains(Roles::ADMIN) {
        return Err(ApiError::Forbidden("Permission denied: needs admin".into()));
    }
    state
        .reload()
        .await
        .map_err(|e| ApiError::BadRequest(format!("reload failed, old state kept: {e:#}")))?;
    Ok(Json(json!({ "reloaded": true })))
}

/// `GET /metrics`: Prometheus exposition.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let snapshot = state.snapshot();
    let now = state.clock.now_utc();
    let mut cells: BTreeMap<(String, String), u64> = BTreeMap::new();
    for subject in state.latest.subjects() {
        for scope in snapshot.scopes.iter() {
            let summary = board::summary(&snapshot, scope, &state.latest, &subject, now, false);
            let colour = serde_json::to_value(summary.colour)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *cells.entry((scope.card.name.clone(), colour)).or_default() += 1;
        }
    }
    let mut text = state.metrics.render(&cells);
    text.push_str(
        "# HELP scs_monitor_db_commits_total Transactions the writer committed (one per batch \
         of concurrent uploads).\n# TYPE scs_monitor_db_commits_total counter\n",
    );
    text.push_str(&format!(
        "scs_monitor_db_commits_total {}\n",
        state.writer.commits()
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /openapi.json`: the hand-written description of the JSON endpoints.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}
