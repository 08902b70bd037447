//! `POST /reports` input: the signed body, its documents and their validation.
//!
//! The checks the SCS monitor skips (INTEROP §6.3.3–4) happen here: a known scope uuid, result
//! values in {-1, 0, 1}, a subject name of sane shape, a run uuid, and a `checked_at` that is
//! clamped to the time the server received the report, so a client cannot make its results
//! "newest" and unexpiring by dating them in the future.

use std::collections::BTreeSet;

use jiff::civil::DateTime;
use jiff::tz::Offset;
use serde_json::Value;

use scs_kaas_core::finding::Status;

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

const SEPARATOR: &[u8] = b"-----END SSH SIGNATURE-----\n&";

/// Splits `<signature>&<payload>` at the first separator (as `curl --data-binary` joins them).
pub fn split_body(body: &[u8]) -> Result<(&[u8], &[u8]), UploadError> {
    let at = body
        .windows(SEPARATOR.len())
        .position(|w| w == SEPARATOR)
        .ok_or(UploadError::MissingSignature)?;
    let sig_end = at + SEPARATOR.len() - 1;
    Ok((&body[..sig_end], &body[sig_end + 1..]))
}

/// Verifies an armored SSHSIG over `payload` in namespace `report` against any of `keys`.
pub fn verify_signature(
    keys: &[ssh_key::PublicKey],
    signature: &[u8],
    payload: &[u8],
) -> Result<(), UploadError> {
    let sig = ssh_key::SshSig::from_pem(signature)
        .map_err(|e| UploadError::Verification(format!("not an SSH signature ({e})")))?;
    if keys.is_empty() {
        return Err(UploadError::Verification(
            "the account has no public keys".into(),
        ));
    }
    if keys
        .iter()
        .any(|k| k.verify("report", payload, &sig).is_ok())
    {
        Ok(())
    } else {
        Err(UploadError::Verification(
            "no key of the account verifies the signature in namespace `report`".into(),
        ))
    }
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
    /// The document as JSON text, stored verbatim.
    pub data: String,
}

/// Parses the payload into documents (as JSON values, YAML timestamps kept as their text).
pub fn parse_documents(format: Format, payload: &[u8]) -> Result<Vec<Value>, UploadError> {
    let docs = match format {
        Format::Json => {
            let value: Value = serde_json::from_slice(payload)
                .map_err(|e| UploadError::Invalid(format!("not JSON: {e}")))?;
            if !value.is_object() {
                return Err(UploadError::Invalid(
                    "a JSON upload must be exactly one report object".into(),
                ));
            }
            vec![value]
        }
        Format::Yaml => {
            let mut docs = Vec::new();
            for (index, doc) in serde_yaml_ng::Deserializer::from_slice(payload).enumerate() {
                let value: Value = serde::Deserialize::deserialize(doc).map_err(|e| {
                    UploadError::Invalid(format!("YAML document {} is invalid: {e}", index + 1))
                })?;
                if !value.is_null() {
                    docs.push(value);
                }
            }
            docs
        }
    };
    if docs.is_empty() {
        return Err(UploadError::Empty);
    }
    Ok(docs)
}

/// Validates one document; `known_scope` says whether a scope uuid is loaded.
pub fn validate(
    doc: Value,
    received_at: DateTime,
    known_scope: impl Fn(&str) -> bool,
) -> Result<IncomingReport, UploadError> {
    let invalid = |msg: String| UploadError::Invalid(msg);
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("a report must be a mapping".into()))?;
    let subject =
        str_at(&doc, &["subject"]).ok_or_else(|| invalid("`subject` is missing".into()))?;
    check_subject(subject).map_err(|e| invalid(format!("`subject`: {e}")))?;
    let uuid =
        str_at(&doc, &["run", "uuid"]).ok_or_else(|| invalid("`run.uuid` is missing".into()))?;
    uuid::Uuid::parse_str(uuid)
        .map_err(|e| invalid(format!("`run.uuid` {uuid:?} is not a uuid: {e}")))?;
    let scope =
        str_at(&doc, &["spec", "uuid"]).ok_or_else(|| invalid("`spec.uuid` is missing".into()))?;
    if !known_scope(scope) {
        return Err(invalid(format!(
            "`spec.uuid` {scope:?} is not a scope this monitor knows"
        )));
    }
    let checked_at = match obj.get("checked_at") {
        Some(Value::String(text)) => parse_checked_at(text)
            .ok_or_else(|| invalid(format!("`checked_at` {text:?} is not a date-time")))?,
        _ => return Err(invalid("`checked_at` is missing".into())),
    };
    let checked_at = checked_at.min(received_at);

    let mut results = Vec::new();
    if let Some(versions) = obj.get("versions") {
        let versions = versions
            .as_object()
            .ok_or_else(|| invalid("legacy `versions` must be a mapping".into()))?;
        for (version, testcases) in versions {
            let testcases = testcases
                .as_object()
                .ok_or_else(|| invalid(format!("`versions.{version}` must be a mapping")))?;
            for (id, entry) in testcases {
                let value = entry.get("result").unwrap_or(&Value::Null);
                results.push((version.clone(), id.clone(), result_value(id, value)?));
            }
        }
    } else {
        let invocations = doc
            .get("run")
            .and_then(|r| r.get("invocations"))
            .ok_or_else(|| invalid("`run.invocations` is missing".into()))?;
        let invocations = invocations
            .as_object()
            .ok_or_else(|| invalid("`run.invocations` must be a mapping".into()))?;
        let mut seen = BTreeSet::new();
        for (inv, invocation) in invocations {
            let Some(map) = invocation.get("results") else {
                continue;
            };
            let map = map.as_object().ok_or_else(|| {
                invalid(format!("`run.invocations.{inv}.results` must be a mapping"))
            })?;
            for (id, value) in map {
                let status = result_value(id, value)?;
                if seen.insert(id.clone()) {
                    results.push(("*".to_string(), id.clone(), status));
                } else if let Some(slot) = results.iter_mut().find(|r| &r.1 == id) {
                    slot.2 = status; // later invocations override, as the SCS tool does
                }
            }
        }
    }
    Ok(IncomingReport {
        uuid: uuid.to_string(),
        subject: subject.to_string(),
        scope: scope.to_string(),
        checked_at,
        received_at,
        results,
        data: doc.to_string(),
    })
}

fn result_value(id: &str, value: &Value) -> Result<Status, UploadError> {
    value
        .as_i64()
        .and_then(Status::from_report_value)
        .ok_or_else(|| {
            UploadError::Invalid(format!(
                "result of testcase {id:?} is {value}: results must be -1, 0 or 1"
            ))
        })
}

fn str_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = doc;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
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

/// Parses `checked_at` as PyYAML writes it (`2026-11-22 03:33:07.637856`, naive = UTC), with a
/// `T`, with an offset (converted to UTC), or a bare date (midnight).
pub fn parse_checked_at(text: &str) -> Option<DateTime> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(Offset::UTC.to_datetime(ts));
    }
    if let Ok(dt) = text.parse::<DateTime>() {
        return Some(dt);
    }
    // Python str() of an aware datetime: `2026-11-22 03:33:07+00:00` is covered above; a space
    // before the offset is not ISO, so normalise it once.
    text.parse::<jiff::civil::Date>()
        .ok()
        .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::datetime;

    const UUID: &str = "0dad6d59-bd4c-4d2c-9d6f-2c6a9a4b8a11";

    fn doc(checked_at: &str, results: &str) -> Value {
        let yaml = format!(
            "---\nspec: {{uuid: scope-1, name: S}}\nchecked_at: {checked_at}\nsubject: acme\n\
             run:\n  uuid: {UUID}\n  invocations:\n    i1:\n      results: {results}\n"
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
        let r = validate(doc("2099-01-01 00:00:00", "{a: 1}"), now, |s| {
            s == "scope-1"
        })
        .unwrap();
        assert_eq!(r.checked_at, now);
        let r = validate(
            doc("2026-11-22 03:33:07.637856", "{a: 1, b: -1}"),
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
        let err = validate(doc("2026-11-22 03:00:00", "{a: 2}"), now, |_| true).unwrap_err();
        assert!(err.to_string().contains("\"a\" is 2"));
        let err = validate(doc("2026-11-22 03:00:00", "{a: 1}"), now, |_| false).unwrap_err();
        assert!(err.to_string().contains("scope-1"));
        let err = validate(doc("yesterday", "{a: 1}"), now, |_| true).unwrap_err();
        assert!(err.to_string().contains("checked_at"));
        assert!(check_subject("group-x").is_err());
        assert!(check_subject("<script>").is_err());
        assert!(check_subject("gx-scs.dev_1").is_ok());
    }

    #[test]
    fn accepts_offsets_and_legacy_versions() {
        assert_eq!(
            parse_checked_at("2026-11-22T05:00:00+02:00"),
            Some(datetime(2026, 11, 22, 3, 0, 0, 0))
        );
        let yaml = format!(
            "spec: {{uuid: s}}\nchecked_at: 2026-01-01\nsubject: acme\nrun: {{uuid: {UUID}}}\n\
             versions: {{v1: {{a: {{result: 0, invocation: x}}}}}}\n"
        );
        let docs = parse_documents(Format::Yaml, yaml.as_bytes()).unwrap();
        let r = validate(docs[0].clone(), datetime(2026, 2, 1, 0, 0, 0, 0), |_| true).unwrap();
        assert_eq!(r.results, vec![("v1".into(), "a".into(), Status::Abort)]);
    }

    #[test]
    fn empty_and_non_object_payloads_are_refused() {
        assert_eq!(
            parse_documents(Format::Yaml, b"").unwrap_err(),
            UploadError::Empty
        );
        assert!(matches!(
            parse_documents(Format::Json, b"[1]").unwrap_err(),
            UploadError::Invalid(_)
        ));
    }
}
