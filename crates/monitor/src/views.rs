//! The human views: `/{page|fragment|markdown}/{table,table_full,detail,detail_full,scope,
//! report,report_full}` and the SVG badges.
//!
//! Everything is rendered by minijinja with HTML autoescaping (stored XSS is the SCS monitor's
//! worst defect, INTEROP §6.3.1): report content only ever reaches a page as escaped text, never
//! as markup. The HTML views are written as HTML directly (no markdown-to-HTML step), so no raw
//! HTML can slip through a markdown renderer; the `markdown` views escape markdown and HTML
//! metacharacters in every value. Pages need no JavaScript.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::DateTime;
use minijinja::{AutoEscape, Environment, Value as Jv, context};
use serde_json::{Value, json};

use scs_kaas_core::finding::Status;
use scs_kaas_core::report::Report;
use scs_kaas_core::scorecard::{Colour, Summary};

use crate::api::authenticate;
use crate::board;
use crate::error::ApiError;
use crate::scopes::ScopeInfo;
use crate::state::AppState;

/// The compiled templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("page.html", include_str!("../templates/page.html")),
    ("table.html", include_str!("../templates/table.html")),
    ("detail.html", include_str!("../templates/detail.html")),
    ("scope.html", include_str!("../templates/scope.html")),
    ("report.html", include_str!("../templates/report.html")),
    ("table.md", include_str!("../templates/table.md")),
    ("detail.md", include_str!("../templates/detail.md")),
    ("scope.md", include_str!("../templates/scope.md")),
    ("report.md", include_str!("../templates/report.md")),
    ("badge.svg", include_str!("../templates/badge.svg")),
];

impl Templates {
    /// Compiles the embedded templates.
    pub fn new() -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") || name.ends_with(".svg") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_filter("md", md_escape);
        env.add_filter("mdurl", md_url);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Templates { env })
    }

    fn render(&self, name: &str, ctx: Jv) -> Result<String, ApiError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("template {name}: {e:#}")))
    }
}

/// Escapes markdown and HTML metacharacters so report text stays text in any renderer.
fn md_escape(value: String) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A link target for a markdown view: only `http`, `https` or scheme-less (relative) targets
/// are kept (anything else, such as `javascript:`, becomes `#`), and every character that could
/// end the target or the link — spaces, brackets, parentheses, quotes, backslashes, controls,
/// non-ASCII — is percent-encoded.
fn md_url(value: String) -> String {
    let value = value.trim();
    let scheme = value
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|s| !s.contains(['/', '?', '#']));
    if let Some(scheme) = scheme
        && !scheme.eq_ignore_ascii_case("http")
        && !scheme.eq_ignore_ascii_case("https")
    {
        return "#".to_string();
    }
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~:/?#@!$&*+,;=%".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `value` percent-encoded as one URL path segment (or fragment): only unreserved characters
/// stay as they are, so a subject or group name can never end or redirect a link.
fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The three view types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewType {
    Page,
    Fragment,
    Markdown,
}

fn view_type(vt: &str) -> Result<ViewType, ApiError> {
    match vt {
        "page" => Ok(ViewType::Page),
        "fragment" => Ok(ViewType::Fragment),
        "markdown" => Ok(ViewType::Markdown),
        other => Err(ApiError::NotFound(format!(
            "unknown view type {other:?}: use page, fragment or markdown"
        ))),
    }
}

fn respond(
    state: &AppState,
    vt: ViewType,
    name: &str,
    title: &str,
    ctx: Jv,
) -> Result<Response, ApiError> {
    match vt {
        ViewType::Markdown => {
            let text = state.templates.render(&format!("{name}.md"), ctx)?;
            Ok((
                [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
                text,
            )
                .into_response())
        }
        ViewType::Fragment => {
            let html = state.templates.render(&format!("{name}.html"), ctx)?;
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
        ViewType::Page => {
            let html = state.templates.render(&format!("{name}.html"), ctx)?;
            let page = state.templates.render(
                "page.html",
                context! { title => title, base => state.base_url, content => Jv::from_safe_string(html) },
            )?;
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
        }
    }
}

fn colour_class(colour: Colour) -> &'static str {
    match colour {
        Colour::Red => "red",
        Colour::Orange => "orange",
        Colour::GreenStar => "greenstar",
        Colour::Green => "green",
        Colour::Draft => "draft",
    }
}

fn summary_json(summary: &Summary) -> Value {
    json!({
        "label": summary.label(),
        "symbol": summary.colour.symbol(),
        "text": summary.text,
        "class": colour_class(summary.colour),
    })
}

fn fmt_time(at: DateTime) -> String {
    at.strftime("%Y-%m-%d %H:%M").to_string()
}

/// "3 h", "2 d" — how long ago (or `in …` for the future).
fn age(from: DateTime, to: DateTime) -> String {
    let secs = to.duration_since(from).as_secs();
    let (future, secs) = if secs < 0 {
        (true, -secs)
    } else {
        (false, secs)
    };
    let text = if secs < 3600 {
        format!("{} min", secs / 60)
    } else if secs < 48 * 3600 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} d", secs / 86400)
    };
    if future { format!("in {text}") } else { text }
}

fn resolve_scope(state: &AppState, key: &str) -> Result<Arc<ScopeInfo>, ApiError> {
    state
        .snapshot()
        .scopes
        .resolve(key)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("unknown scope {key:?}")))
}

/// `/{vt}/table` and `/{vt}/table_full`.
pub async fn table(
    State(state): State<Arc<AppState>>,
    Path((vt, view)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let vt = view_type(&vt)?;
    let full = match view.as_str() {
        "table" => false,
        "table_full" => true,
        other => return Err(ApiError::NotFound(format!("unknown view {other:?}"))),
    };
    let snapshot = state.snapshot();
    let now = state.clock.now_utc();
    let base = &state.base_url;
    let detail = if full { "detail_full" } else { "detail" };
    let scopes: Vec<Value> = snapshot
        .scopes
        .iter()
        .map(|s| json!({ "uuid": s.card.uuid, "name": s.card.name, "url": format!("{base}page/scope/{}", segment(&s.card.uuid)) }))
        .collect();
    let mut rows = Vec::new();
    for subject in board::table_subjects(&snapshot, &state.latest) {
        let members = board::members(&snapshot, &subject).unwrap_or_default();
        let mut cells = Vec::new();
        for scope in snapshot.scopes.iter() {
            // Each member is evaluated once; the group summary is the worst member's.
            let evaluated: Vec<Option<board::Cell>> = members
                .iter()
                .map(|m| board::cell(scope, &state.latest, m, now, full))
                .collect();
            let summary = board::scope_summary(
                scope,
                now,
                full,
                evaluated.iter().map(|c| c.as_ref().map(|c| &c.eval)),
            );
            let member_cells: Vec<board::Cell> = evaluated.into_iter().flatten().collect();
            let expiry = member_cells.iter().filter_map(|c| c.next_expiry()).min();
            let validity = if member_cells.is_empty() {
                None
            } else {
                member_cells.first().map(|c| c.eval.validity.as_str())
            };
            cells.push(json!({
                "summary": summary_json(&summary),
                "validity": validity,
                "expires": expiry.map(fmt_time),
                "expires_in": expiry.map(|e| age(e, now).trim_start_matches("in ").to_string()),
                "detail_url": format!("{base}page/{detail}/{}/{}", segment(&subject), segment(&scope.card.uuid)),
                "badge_url": format!("{base}badge/{}/{}.svg", segment(&subject), segment(&scope.card.uuid)),
            }));
        }
        rows.push(json!({
            "subject": subject,
            "is_group": subject.starts_with("group-"),
            "members": if subject.starts_with("group-") { members } else { Vec::new() },
            "cells": cells,
        }));
    }
    let title = if full {
        "SCS compliance overview (including drafts)"
    } else {
        "SCS compliance overview"
    };
    let ctx = context! {
        title => title, full => full, scopes => scopes, rows => rows,
        now => fmt_time(now), base => base,
    };
    respond(&state, vt, "table", title, ctx)
}

/// `/{vt}/detail/{subject}/{scope}` and `/{vt}/detail_full/…`.
pub async fn detail(
    State(state): State<Arc<AppState>>,
    Path((vt, view, subject, scope_key)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let vt = view_type(&vt)?;
    let full = match view.as_str() {
        "detail" => false,
        "detail_full" => true,
        other => return Err(ApiError::NotFound(format!("unknown view {other:?}"))),
    };
    let snapshot = state.snapshot();
    let scope = resolve_scope(&state, &scope_key)?;
    let members = board::members(&snapshot, &subject)
        .ok_or_else(|| ApiError::NotFound(format!("unknown group {subject:?}")))?;
    let now = state.clock.now_utc();
    let base = &state.base_url;
    let mut report_cache: BTreeMap<String, Option<Report>> = BTreeMap::new();
    let mut subjects = Vec::new();
    for member in &members {
        let cell = board::cell(&scope, &state.latest, member, now, full);
        let summary = board::scope_summary(&scope, now, full, [cell.as_ref().map(|c| &c.eval)]);
        let mut rows = Vec::new();
        let mut versions: Vec<String> = Vec::new();
        if let Some(cell) = &cell {
            versions = cell.eval.relevant.clone();
            for id in &cell.eval.testcases {
                let tc = scope.card.testcases.get(id);
                let attn = tc.map_or(0, |t| t.attn);
                let result = cell.results.get(id);
                let (label, class) = match result.map(|r| r.result) {
                    Some(Status::Fail) if attn > 0 => ("🛑 FAIL", "red"),
                    Some(Status::Fail) => ("🟧 FAIL", "orange"),
                    None => ("❓ MISSING", "missing"),
                    Some(Status::Abort) => ("❔ DNF", "greenstar"),
                    Some(Status::Pass) => ("✅ PASS", "green"),
                };
                let in_versions: Vec<bool> = versions
                    .iter()
                    .map(|name| {
                        cell.eval
                            .versions
                            .iter()
                            .find(|v| &v.name == name)
                            .and_then(|v| v.targets.get("main"))
                            .is_some_and(|t| t.testcases.contains(id))
                    })
                    .collect();
                let mut reasons = Vec::new();
                if let Some(r) = result {
                    if !report_cache.contains_key(&r.report) {
                        let data = state
                            .db
                            .get_report(&r.report)
                            .await?
                            .and_then(|(_, d)| serde_json::from_str::<Report>(&d).ok());
                        report_cache.insert(r.report.clone(), data);
                    }
                    if let Some(Some(data)) = report_cache.get(&r.report) {
                        reasons = reason_lines(data, id);
                    }
                }
                rows.push(json!({
                    "id": id,
                    "url": tc.and_then(|t| t.url.clone()),
                    "description": tc.map(|t| t.description.clone()).unwrap_or_default(),
                    "label": label,
                    "class": class,
                    "checked_at": result.map(|r| fmt_time(r.checked_at)),
                    "age": result.map(|r| age(r.checked_at, now)),
                    "expires": result.map(|r| fmt_time(r.expires_at)),
                    "expires_in": result.map(|r| age(r.expires_at, now).trim_start_matches("in ").to_string()),
                    "report_url": result.map(|r| format!("{base}page/report/{}#{}", segment(&r.report), segment(id))),
                    "in_versions": in_versions,
                    "reasons": reasons,
                }));
            }
        }
        subjects.push(json!({
            "subject": member,
            "summary": summary_json(&summary),
            "versions": versions,
            "rows": rows,
            "history_url": format!("{base}history/{}", segment(member)),
        }));
    }
    let title = format!("{} — {}", subject, scope.card.name);
    let ctx = context! {
        title => title, full => full, subject => subject, subjects => subjects,
        scope => json!({ "name": scope.card.name, "uuid": scope.card.uuid,
                         "url": format!("{base}page/scope/{}", segment(&scope.card.uuid)) }),
        legend => [("", "effective"), ("*", "draft"), ("†", "warn"), ("††", "deprecated")],
        now => fmt_time(now), base => base,
    };
    respond(&state, vt, "detail", &title, ctx)
}

/// The reason lines shown under a testcase: the invocation's warning and error lines (the same
/// selection the public report view keeps), at most 8, each at most 300 characters.
fn reason_lines(report: &Report, testcase: &str) -> Vec<String> {
    report
        .run
        .invocations
        .iter()
        .map(|(_, inv)| inv)
        .find(|inv| inv.results.get(testcase).is_some())
        .map(|inv| {
            inv.stderr
                .iter()
                .filter(|l| keep_stderr(l))
                .map(|l| l.chars().take(300).collect())
                .take(8)
                .collect()
        })
        .unwrap_or_default()
}

/// `checked_at` as the report wrote it (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
fn report_time(at: DateTime) -> String {
    let base = at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    match at.subsec_nanosecond() / 1000 {
        0 => base,
        micros => format!("{base}.{micros:06}"),
    }
}

fn keep_stderr(line: &str) -> bool {
    line.starts_with("WARNING:") || line.starts_with("ERROR:")
}

fn keep_stdout(line: &str) -> bool {
    match line.rsplit_once(": ") {
        Some((id, verdict)) => {
            matches!(verdict, "PASS" | "ABORT" | "FAIL")
                && !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }
        None => false,
    }
}

/// `/{vt}/scope/{scope}`.
pub async fn scope(
    State(state): State<Arc<AppState>>,
    Path((vt, scope_key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let vt = view_type(&vt)?;
    let scope = resolve_scope(&state, &scope_key)?;
    let today = state.clock.now_utc().date();
    let versions: Vec<(&scs_kaas_core::scorecard::CardVersion, &str)> = scope
        .card
        .versions
        .iter()
        .filter_map(|v| {
            scope
                .card
                .explicit_validity(&v.name, today)
                .map(|val| (v, val.as_str()))
        })
        .collect();
    let mut module_ids: Vec<(String, String, Option<String>)> = Vec::new();
    for (v, _) in &versions {
        for m in scope.modules.get(&v.name).into_iter().flatten() {
            if !module_ids.iter().any(|(id, _, _)| id == &m.id) {
                module_ids.push((m.id.clone(), m.name.clone(), m.url.clone()));
            }
        }
    }
    module_ids.sort();
    let modules: Vec<Value> = module_ids
        .iter()
        .map(|(id, name, url)| {
            let cells: Vec<Value> = versions
                .iter()
                .map(|(v, _)| {
                    let m = scope
                        .modules
                        .get(&v.name)
                        .and_then(|ms| ms.iter().find(|m| &m.id == id));
                    json!({ "included": m.is_some(), "parameters": m.map(|m| &m.parameters) })
                })
                .collect();
            json!({ "id": id, "name": name, "url": url, "cells": cells })
        })
        .collect();
    let versions_json: Vec<Value> = versions
        .iter()
        .map(|(v, validity)| {
            json!({
                "name": v.name,
                "validity": capitalise(validity),
                "stabilized_at": v.stabilized_at.map(|d| d.to_string()),
            })
        })
        .collect();
    let title = scope.card.name.clone();
    let ctx = context! {
        title => title, name => scope.card.name, uuid => scope.card.uuid, url => scope.card.url,
        versions => versions_json, modules => modules, base => state.base_url,
    };
    respond(&state, vt, "scope", &title, ctx)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `/{vt}/report/{uuid}` (public, redacted) and `/{vt}/report_full/{uuid}` (own or read_any).
pub async fn report(
    State(state): State<Arc<AppState>>,
    client: crate::server::ClientAddr,
    headers: HeaderMap,
    Path((vt, view, uuid)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let vt = view_type(&vt)?;
    let full = match view.as_str() {
        "report" => false,
        "report_full" => true,
        other => return Err(ApiError::NotFound(format!("unknown view {other:?}"))),
    };
    let account = if full {
        Some(authenticate(&state, &headers, client).await?)
    } else {
        None
    };
    let (subject, data) = state
        .db
        .get_report(&uuid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no report with uuid {uuid}")))?;
    if let Some(account) = &account
        && !account.may_read(&subject)
    {
        return Err(ApiError::Forbidden(
            "Permission denied: this report belongs to another subject".into(),
        ));
    }
    let doc: Report = serde_json::from_str(&data)
        .map_err(|e| anyhow::anyhow!("stored report {uuid} does not parse: {e}"))?;
    let base = &state.base_url;
    let scope_uuid = doc.spec.uuid.as_str();
    let scope_name = if doc.spec.name.is_empty() {
        scope_uuid
    } else {
        doc.spec.name.as_str()
    };
    let mut redacted = false;
    let mut invocations = Vec::new();
    // Invocations in run order (the stored text keeps it; the SCS monitor's jsonb does not).
    for (id, inv) in doc.run.invocations.iter() {
        let mut stdout: Vec<&String> = inv.stdout.iter().collect();
        let mut stderr: Vec<&String> = inv.stderr.iter().collect();
        if !full {
            let before = stdout.len() + stderr.len();
            stdout.retain(|l| keep_stdout(l));
            stderr.retain(|l| keep_stderr(l));
            redacted |= stdout.len() + stderr.len() != before;
        }
        let results: Vec<Value> = inv
            .results
            .iter()
            .map(|(tc, v)| {
                let value = v.0.report_value();
                let (symbol, class) = match value {
                    1 => ("✔", "green"),
                    -1 => ("✘", "red"),
                    _ => ("⚠", "orange"),
                };
                json!({ "id": tc, "symbol": symbol, "class": class, "value": value.to_string() })
            })
            .collect();
        let stderr: Vec<Value> = stderr
            .iter()
            .map(|l| {
                let head = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                json!({ "text": l, "bold": matches!(head.as_str(), "warning" | "error" | "critical") })
            })
            .collect();
        invocations.push(json!({
            "id": id,
            "cmd": if full { Some(inv.cmd.as_str()) } else { None },
            "rc": inv.rc.to_string(),
            "critical": inv.critical,
            "error": inv.error,
            "warning": inv.warning,
            "open": inv.critical + inv.error + inv.warning > 0,
            "results": results,
            "stdout": stdout,
            "stderr": stderr,
        }));
    }
    let assignment: Vec<(&String, &String)> = if full {
        doc.run.assignment.iter().collect()
    } else {
        Vec::new()
    };
    let title = format!("Report {uuid}");
    let ctx = context! {
        title => title, full => full, redacted => redacted || !full, uuid => uuid, subject => subject,
        scope => json!({ "name": scope_name, "url": format!("{base}page/scope/{}", segment(scope_uuid)) }),
        checked_at => report_time(doc.checked_at),
        assignment => assignment, invocations => invocations,
        download_url => format!("{base}reports/{}", segment(&uuid)),
        full_url => format!("{base}page/report_full/{}", segment(&uuid)),
        base => base,
    };
    respond(&state, vt, "report", &title, ctx)
}

/// `/badge/{subject}/{scope}.svg`: a shields-style badge with the table cell's verdict.
pub async fn badge(
    State(state): State<Arc<AppState>>,
    Path((subject, scope_file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let key = scope_file.strip_suffix(".svg").unwrap_or(&scope_file);
    let scope = resolve_scope(&state, key)?;
    let snapshot = state.snapshot();
    let now = state.clock.now_utc();
    let summary = board::summary(&snapshot, &scope, &state.latest, &subject, now, false);
    let colour = match summary.colour {
        Colour::Red => "#cf222e",
        Colour::Orange => "#d4731b",
        Colour::GreenStar => "#57a64a",
        Colour::Green => "#2da44e",
        Colour::Draft => "#8c959f",
    };
    let word = match summary.colour {
        Colour::Red => "not compliant",
        Colour::Orange => "incomplete",
        Colour::GreenStar | Colour::Green => "compliant",
        Colour::Draft => "draft",
    };
    let left = scope.card.name.clone();
    let right = if summary.text == "–" || summary.colour == Colour::Draft {
        word.to_string()
    } else {
        format!("{word} {}", summary.text)
    };
    let lw = 10 + 7 * left.chars().count();
    let rw = 10 + 7 * right.chars().count();
    let svg = state.templates.render(
        "badge.svg",
        context! { left => left, right => right, colour => colour, lw => lw, rw => rw, width => lw + rw,
                   lx => lw / 2, rx => lw + rw / 2 },
    )?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        svg,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_link_targets_are_encoded_and_only_web_links() {
        assert_eq!(md_url("javascript:alert(1)".into()), "#");
        assert_eq!(md_url(" JavaScript:alert(1)".into()), "#");
        assert_eq!(md_url("data:text/html,x".into()), "#");
        assert_eq!(
            md_url("https://example.org/a b(c)[d]".into()),
            "https://example.org/a%20b%28c%29%5Bd%5D"
        );
        assert_eq!(
            md_url("/page/detail/a%20b/u".into()),
            "/page/detail/a%20b/u"
        );
        assert_eq!(
            segment("group-x) [click](javascript:alert(1)) ("),
            "group-x%29%20%5Bclick%5D%28javascript%3Aalert%281%29%29%20%28"
        );
        assert_eq!(segment("ä/b"), "%C3%A4%2Fb");
    }

    #[test]
    fn markdown_escaping_neutralises_markup() {
        assert_eq!(
            md_escape("<b>x</b>|[a](b)".into()),
            "&lt;b&gt;x&lt;/b&gt;\\|\\[a\\](b)"
        );
    }

    #[test]
    fn redaction_keeps_only_verdict_and_warning_lines() {
        assert!(keep_stdout("scs-0210-v2: PASS"));
        assert!(!keep_stdout("my secret token is x: PASS"));
        assert!(!keep_stdout("INFO: hello"));
        assert!(keep_stderr("ERROR: version too old"));
        assert!(!keep_stderr("CRITICAL: traceback"));
        assert!(!keep_stderr("INFO: fine"));
    }
}
