//! `POST /reports` input: the signed body, its documents and their validation.
//!
//! The checks the SCS monitor skips (INTEROP §6.3.3–4) happen here: a known scope uuid, result
//! values in {-1, 0, 1}, a subject name of sane shape, a run uuid, no NUL character in any
//! string (PostgreSQL cannot store one in text, SQLite can: both refuse it alike), and a
//! `checked_at` that is clamped to the time the server received the report, so a client cannot
//! make its results "newest" and unexpiring by dating them in the future.

use jiff::civil::DateTime;

use scs_kaas_core::finding::Status;
use scs_kaas_core::report::{self, Report};
use scs_kaas_core::signature::{REPORT_NAMESPACE, SPLIT_MARKER};

/// Why an upload was refused; `reason()` labels the rejection metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Content-Type missing or not one of the two signed types.
    #[error("Content-Type must be exactly application/x-signed-yaml or application/x-signed-json")]
    ContentType,
    /// No `-----END SSH SIGNATURE-----\n&` separator.
    #[error("missing signature: the body must be <armored SSH signature>&<report>")]
    MissingSignature,
    /// The signature does not verify against any key of the authenticated account.
    #[error("verification failed: {0}")]
    Verification(String),
    /// The body is not a valid report document (or stream).
    #[error("invalid report: {0}")]
    Invalid(String),
    /// No documents.
    #[error("empty reports: the body contains no report document")]
    Empty,
}

impl UploadError {
    /// Short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            UploadError::ContentType => "content_type",
            UploadError::MissingSignature => "missing_signature",
            UploadError::Verification(_) => "signature",
            UploadError::Invalid(_) => "invalid",
            UploadError::Empty => "empty",
        }
    }
}

/// The serialisation of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One or more YAML documents.
    Yaml,
    /// Exactly one JSON object.
    Json,
}

impl Format {
    /// The format for an exact Content-Type value.
    pub fn from_content_type(value: Option<&[u8]>) -> Result<Format, UploadError> {
        match value {
            Some(b"application/x-signed-yaml") => Ok(Format::Yaml),
            Some(b"application/x-signed-json") => Ok(Format::Json),
            _ => Err(UploadError::ContentType),
        }
    }
}

/// Splits `<signature>&<payload>` at the first separator (as `curl --data-binary` joins them);
/// the signature keeps its final newline.
pub fn split_body(body: &[u8]) -> Result<(&[u8], &[u8]), UploadError> {
    let at = memchr::memmem::find(body, SPLIT_MARKER).ok_or(UploadError::MissingSignature)?;
    let sig_end = at + SPLIT_MARKER.len() - 1;
    Ok((&body[..sig_end], &body[sig_end + 1..]))
}

/// Verifies an armored SSHSIG over `payload` in namespace `report` against any of `keys`.
pub fn verify_signature(
    keys: &[ssh_key::PublicKey],
    sig: &[u8],
    payload: &[u8],
) -> Result<(), UploadError> {
    let failed = UploadError::Verification;
    if keys.is_empty() {
        return Err(failed(
            "the account has no public keys in the bootstrap file".into(),
        ));
    }
    let end = sig
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let sig = ssh_key::SshSig::from_pem(&sig[..end]).map_err(|e| {
        failed(format!(
            "the signature is not an armored SSH signature: {e}"
        ))
    })?;
    if sig.namespace() != REPORT_NAMESPACE {
        return Err(failed(format!(
            "the signature is for namespace {:?}, reports are signed with -n {REPORT_NAMESPACE}",
            sig.namespace()
        )));
    }
    let Some(key) = keys.iter().find(|k| k.key_data() == sig.public_key()) else {
        let signer = ssh_key::PublicKey::new(sig.public_key().clone(), "");
        return Err(failed(format!(
            "the report was signed by key {}, which is not one of the account's {} key(s)",
            signer.fingerprint(ssh_key::HashAlg::Sha256),
            keys.len()
        )));
    };
    key.verify(REPORT_NAMESPACE, payload, &sig).map_err(|_| {
        failed("the signature does not match the report (changed after signing?)".into())
    })
}

/// A validated report ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingReport {
    /// `run.uuid`.
    pub uuid: String,
    /// `subject`.
    pub subject: String,
    /// `spec.uuid`.
    pub scope: String,
    /// `checked_at`, clamped to `received_at`.
    pub checked_at: DateTime,
    /// When the server received the body (UTC).
    pub received_at: DateTime,
    /// (version column, testcase id, result): `*` for current reports.
    pub results: Vec<(String, String, Status)>,
    /// The document as JSON text (the report model's canonical form).
    pub data: String,
}

/// Parses the payload with the shared report model (YAML stream or one JSON object).
pub fn parse_documents(format: Format, payload: &[u8]) -> Result<Vec<Report>, UploadError> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| UploadError::Invalid(format!("the report is not UTF-8: {e}")))?;
    let has_content = text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#') && l != "---" && l != "..."
    });
    if !has_content {
        return Err(UploadError::Empty);
    }
    match format {
        Format::Json => report::parse_json(text)
            .map(|r| vec![r])
            .map_err(|e| UploadError::Invalid(e.to_string())),
        Format::Yaml => report::parse_stream(text).map_err(|e| UploadError::Invalid(e.to_string())),
    }
}

/// Validates one report; `known_scope` says whether a scope uuid is loaded.
pub fn validate(
    report: Report,
    received_at: DateTime,
    known_scope: impl Fn(&str) -> bool,
) -> Result<IncomingReport, UploadError> {
    let invalid = UploadError::Invalid;
    check_subject(&report.subject).map_err(|e| invalid(format!("`subject`: {e}")))?;
    let uuid = &report.run.uuid;
    uuid::Uuid::parse_str(uuid)
        .map_err(|e| invalid(format!("`run.uuid` {uuid:?} is not a uuid: {e}")))?;
    let scope = &report.spec.uuid;
    if !known_scope(scope) {
        return Err(invalid(format!(
            "`spec.uuid` {scope:?} is not a scope this monitor knows"
        )));
    }
    if let Some(field) = nul_field(&report) {
        return Err(invalid(format!(
            "`{field}` contains a NUL character, which cannot be stored: remove it"
        )));
    }
    let checked_at = report.checked_at.min(received_at);
    let results: Vec<(String, String, Status)> = match &report.versions {
        Some(versions) => versions
            .iter()
            .flat_map(|(v, tcs)| {
                tcs.iter()
                    .map(move |(id, r)| (v.clone(), id.clone(), r.result.0))
            })
            .collect(),
        None => report
            .results()
            .into_iter()
            .map(|(id, status)| ("*".to_string(), id, status))
            .collect(),
    };
    let data = serde_json::to_string(&report)
        .map_err(|e| invalid(format!("cannot serialise the report: {e}")))?;
    let Report {
        subject, spec, run, ..
    } = report;
    Ok(IncomingReport {
        uuid: run.uuid,
        subject,
        scope: spec.uuid,
        checked_at,
        received_at,
        results,
        data,
    })
}

/// The path of the first string (value or key) of `report` that contains a NUL character.
pub fn nul_field(report: &Report) -> Option<String> {
    fn nul(s: &str) -> bool {
        s.as_bytes().contains(&0)
    }
    fn in_json(path: String, v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) => nul(s).then_some(path),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| in_json(format!("{path}[{i}]"), item)),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
                if nul(k) {
                    Some(format!("{path} (a key)"))
                } else {
                    in_json(format!("{path}.{k}"), item)
                }
            }),
            _ => None,
        }
    }
    let list = |path: &str, items: &[String]| {
        items
            .iter()
            .position(|s| nul(s))
            .map(|i| format!("{path}[{i}]"))
    };
    let fields = [
        ("spec.uuid", &report.spec.uuid),
        ("spec.name", &report.spec.name),
        ("spec.url", &report.spec.url),
        ("subject", &report.subject),
        ("run.uuid", &report.run.uuid),
    ];
    if let Some((name, _)) = fields.iter().find(|(_, v)| nul(v)) {
        return Some((*name).to_string());
    }
    let run = &report.run;
    if let Some(f) = list("run.argv", &run.argv) {
        return Some(f);
    }
    if let Some(f) = run
        .sections
        .as_deref()
        .and_then(|s| list("run.sections", s))
    {
        return Some(f);
    }
    for (name, value) in [
        ("run.forced_version", &run.forced_version),
        ("run.forced_tests", &run.forced_tests),
    ] {
        if value.as_deref().is_some_and(nul) {
            return Some(name.to_string());
        }
    }
    for (k, v) in run.assignment.iter() {
        if nul(k) {
            return Some("run.assignment (a key)".into());
        }
        if nul(v) {
            return Some(format!("run.assignment.{k}"));
        }
    }
    for (key, inv) in run.invocations.iter() {
        if nul(key) {
            return Some("run.invocations (a key)".into());
        }
        let at = format!("run.invocations.{key}");
        if nul(&inv.id) {
            return Some(format!("{at}.id"));
        }
        if nul(&inv.cmd) {
            return Some(format!("{at}.cmd"));
        }
        if inv.results.keys().any(|k| nul(k)) {
            return Some(format!("{at}.results (a testcase id)"));
        }
        if let Some(f) = list(&format!("{at}.stdout"), &inv.stdout) {
            return Some(f);
        }
        if let Some(f) = list(&format!("{at}.stderr"), &inv.stderr) {
            return Some(f);
        }
    }
    for (version, results) in report.versions.iter().flatten() {
        if nul(version) {
            return Some("versions (a version name)".into());
        }
        for (id, r) in results {
            let at = format!("versions.{version}.{id}");
            if nul(id) {
                return Some(format!("versions.{version} (a testcase id)"));
            }
            if r.invocation.as_deref().is_some_and(nul) {
                return Some(format!("{at}.invocation"));
            }
            for (i, v) in r.runnerups.iter().flatten().enumerate() {
                if let Some(f) = in_json(format!("{at}.runnerups[{i}]"), v) {
                    return Some(f);
                }
            }
        }
    }
    None
}

/// Subject names: 1–64 characters of `A-Z a-z 0-9 . _ -`, starting alphanumeric, not `group-…`.
pub fn check_subject(subject: &str) -> anyhow::Result<()> {
    let ok_chars = subject
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let starts_ok = subject
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if subject.is_empty() || subject.len() > 64 || !ok_chars || !starts_ok {
        anyhow::bail!(
            "{subject:?} is not a valid subject name: use 1-64 characters A-Z a-z 0-9 . _ -, \
             starting with a letter or digit"
        );
    }
    if subject.starts_with("group-") {
        anyhow::bail!("{subject:?}: names starting with `group-` are reserved for groups");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::datetime;

    const UUID: &str = "0dad6d59-bd4c-4d2c-9d6f-2c6a9a4b8a11";

    fn doc(checked_at: &str, subject: &str, results: &str) -> Report {
        let yaml = format!(
            "---\nspec: {{uuid: scope-1, name: S, url: ''}}\nchecked_at: {checked_at}\n\
             reference_date: 2026-11-22\nsubject: {subject}\n\
             run:\n  uuid: {UUID}\n  invocations:\n    i1:\n      id: i1\n      cmd: x\n      rc: 0\n      results: {results}\n"
        );
        parse_documents(Format::Yaml, yaml.as_bytes())
            .unwrap()
            .remove(0)
    }

    #[test]
    fn splits_at_first_separator() {
        let body = b"-----BEGIN SSH SIGNATURE-----\nx\n-----END SSH SIGNATURE-----\n&payload&more";
        let (sig, payload) = split_body(body).unwrap();
        assert!(sig.ends_with(b"-----END SSH SIGNATURE-----\n"));
        assert_eq!(payload, b"payload&more");
        assert_eq!(
            split_body(b"-----END SSH SIGNATURE-----\npayload").unwrap_err(),
            UploadError::MissingSignature
        );
    }

    #[test]
    fn clamps_future_checked_at_and_keeps_past() {
        let now = datetime(2026, 11, 22, 6, 0, 0, 0);
        let r = validate(doc("2099-01-01 00:00:00", "acme", "{a: 1}"), now, |s| {
            s == "scope-1"
        })
        .unwrap();
        assert_eq!(r.checked_at, now);
        let r = validate(
            doc("2026-11-22 03:33:07.637856", "acme", "{a: 1, b: -1}"),
            now,
            |_| true,
        )
        .unwrap();
        assert_eq!(r.checked_at, datetime(2026, 11, 22, 3, 33, 7, 637_856_000));
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[0], ("*".into(), "a".into(), Status::Pass));
    }

    #[test]
    fn rejects_bad_values_with_named_reason() {
        let now = datetime(2026, 11, 22, 6, 0, 0, 0);
        let yaml = "spec: {uuid: s, name: S}\nchecked_at: 2026-11-22 03:00:00\nreference_date: 2026-11-22\n\
                    subject: acme\nrun: {uuid: x, invocations: {i: {id: i, cmd: c, rc: 0, results: {a: 2}}}}\n";
        let err = parse_documents(Format::Yaml, yaml.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("result value 2"), "{err}");
        let err =
            validate(doc("2026-11-22 03:00:00", "acme", "{a: 1}"), now, |_| false).unwrap_err();
        assert!(err.to_string().contains("scope-1"));
        let err = validate(doc("2026-11-22 03:00:00", "'<b>x'", "{a: 1}"), now, |_| {
            true
        })
        .unwrap_err();
        assert!(err.to_string().contains("not a valid subject"));
        assert!(check_subject("group-x").is_err());
        assert!(check_subject("gx-scs.dev_1").is_ok());
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let now = datetime(2026, 11, 22, 6, 0, 0, 0);
        let mut r = doc("2026-11-22 03:00:00", "acme", "{a: 1}");
        assert_eq!(nul_field(&r), None);
        r.run.invocations = r
            .run
            .invocations
            .iter()
            .map(|(k, inv)| {
                let mut inv = inv.clone();
                inv.stderr = vec!["fine".into(), "bad\0line".into()];
                (k.clone(), inv)
            })
            .collect();
        assert_eq!(
            nul_field(&r).as_deref(),
            Some("run.invocations.i1.stderr[1]")
        );
        let err = validate(r, now, |_| true).unwrap_err();
        assert!(
            err.to_string()
                .contains("`run.invocations.i1.stderr[1]` contains a NUL"),
            "{err}"
        );
        let mut r = doc("2026-11-22 03:00:00", "acme", "{a: 1}");
        r.spec.name = "x\0".into();
        assert_eq!(nul_field(&r).as_deref(), Some("spec.name"));
        let mut r = doc("2026-11-22 03:00:00", "acme", "{a: 1}");
        r.run.assignment.insert("k", "v\0".to_string());
        assert_eq!(nul_field(&r).as_deref(), Some("run.assignment.k"));
    }

    #[test]
    fn empty_payloads_are_refused() {
        assert_eq!(
            parse_documents(Format::Yaml, b"").unwrap_err(),
            UploadError::Empty
        );
        assert_eq!(
            parse_documents(Format::Yaml, b"---\n# c\n").unwrap_err(),
            UploadError::Empty
        );
        assert!(matches!(
            parse_documents(Format::Json, b"[1]").unwrap_err(),
            UploadError::Invalid(_)
        ));
    }
}
