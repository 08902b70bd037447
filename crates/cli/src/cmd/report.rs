//! `scs-kaas report`: sign, verify and upload SCS compliance reports.
//!
//! Signatures are SSHSIG files next to the report (`REPORT.sig`), interchangeable with
//! `ssh-keygen -Y sign/verify -n report`; uploads use the monitor's framing (signature, `&`,
//! report) and basic auth (INTEROP.md §4.3, §5.2).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use scs_kaas_core::input::{self, InputKind};
use scs_kaas_core::signature::{
    self, AllowedSigners, PrivateKey, REPORT_NAMESPACE, SignatureError,
};

use crate::cmd::report_scope;
use crate::exit;

/// Environment variable holding the passphrase of an encrypted signing key.
pub const PASSPHRASE_ENV: &str = "SCS_KAAS_KEY_PASSPHRASE";

/// Largest monitor answer we read (its answers are short JSON messages).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Subcommands of `scs-kaas report`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Sign REPORT with an OpenSSH private key, writing REPORT.sig exactly as
    /// `ssh-keygen -Y sign -f KEY -n report REPORT` would.
    ///
    /// An encrypted key's passphrase is read from SCS_KAAS_KEY_PASSPHRASE, or prompted for on
    /// a terminal.
    Sign(SignArgs),
    /// Check REPORT.sig over REPORT, whether scs-kaas or ssh-keygen made it.
    ///
    /// Exit 0: valid; 1: invalid (the reason is printed); 2: usage error or unreadable input.
    Verify(VerifyArgs),
    /// Upload REPORT with REPORT.sig to a compliance monitor (POST /reports, basic auth).
    ///
    /// Exit 0: accepted; 1: the monitor refused it (the reason and fix are printed);
    /// 2: the upload could not be made (bad arguments, unreadable files, monitor unreachable).
    Upload(UploadArgs),
}

/// Arguments of `scs-kaas report sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// OpenSSH private key (ed25519, ECDSA P-256/P-384 or RSA), e.g. ~/.ssh/id_ed25519.
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The report file to sign; the signature goes to REPORT.sig.
    #[arg(value_name = "REPORT")]
    report: PathBuf,
}

/// Arguments of `scs-kaas report verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// allowed_signers file as for `ssh-keygen -Y verify -f` (needs --identity).
    #[arg(
        long,
        value_name = "FILE",
        requires = "identity",
        required_unless_present = "public_key",
        conflicts_with = "public_key"
    )]
    allowed_signers: Option<PathBuf>,
    /// Principal to verify for in the allowed_signers file (e.g. mail@csp.eu).
    #[arg(
        long,
        value_name = "PRINCIPAL",
        requires = "allowed_signers",
        conflicts_with = "public_key"
    )]
    identity: Option<String>,
    /// Public key file (one or more OpenSSH public keys, one per line); any of them may have signed.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Signature namespace to require.
    #[arg(long, value_name = "NAMESPACE", default_value = REPORT_NAMESPACE)]
    namespace: String,
    /// The signed report; its signature is read from REPORT.sig.
    #[arg(value_name = "REPORT")]
    report: PathBuf,
}

/// Arguments of `scs-kaas report upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Base URL of the compliance monitor (e.g. https://compliance.sovereignit.cloud/);
    /// the report is posted to URL/reports.
    #[arg(long, value_name = "URL")]
    monitor: String,
    /// Account name at the monitor (basic-auth user).
    #[arg(long, value_name = "SUBJECT")]
    subject: String,
    /// File holding the account's password (one trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    password_file: PathBuf,
    /// Seconds to wait for the monitor's answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    /// Send only the documents of this scope (name or uuid, as in the report's `spec`);
    /// repeat for several. Sending a part of the report needs --sign-key, because REPORT.sig
    /// covers the whole file. A scope the report does not hold is a usage error listing its scopes.
    #[arg(long = "scope", value_name = "NAME|UUID")]
    scopes: Vec<String>,
    /// Sign the bytes sent with this OpenSSH private key (the one registered at the monitor)
    /// instead of using REPORT.sig; needed with --scope when only part of the report is sent.
    /// Nothing is written to disk. An encrypted key's passphrase is read from
    /// SCS_KAAS_KEY_PASSPHRASE or asked for on a terminal.
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,
    /// The report (.yaml/.yml or .json); REPORT.sig must exist next to it unless --sign-key is given.
    #[arg(value_name = "REPORT")]
    report: PathBuf,
}

/// Run a `report` subcommand.
pub async fn run(command: ReportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::Sign(args) => sign(args),
        ReportCommand::Verify(args) => verify(args),
        ReportCommand::Upload(args) => upload(args).await,
    }
}

/// `REPORT` → `REPORT.sig`, as ssh-keygen names it.
pub fn signature_path(report: &Path) -> PathBuf {
    let mut name = OsString::from(report.as_os_str());
    name.push(".sig");
    PathBuf::from(name)
}

/// Load a signing key, taking an encrypted key's passphrase from the environment or a prompt.
pub fn load_signing_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let passphrase = match std::env::var_os(PASSPHRASE_ENV) {
        Some(value) => Some(value.into_string().map_err(|_| {
            anyhow::anyhow!("{PASSPHRASE_ENV} is not valid UTF-8: set it to the key's passphrase")
        })?),
        None => None,
    };
    match signature::load_private_key(path, passphrase.as_deref()) {
        Err(SignatureError::PassphraseRequired { .. })
            if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() =>
        {
            let typed =
                crate::cmd::passphrase::ask(&format!("Passphrase for {}: ", path.display()))
                    .context("cannot read the passphrase from the terminal")?;
            Ok(signature::load_private_key(path, Some(&typed))?)
        }
        other => Ok(other?),
    }
}

/// Sign `report` with `key` and write `REPORT.sig` atomically (temp file + rename); returns its path.
pub fn write_signature(key: &PrivateKey, report: &Path) -> anyhow::Result<PathBuf> {
    let data = input::read_bounded(report, InputKind::Report)?;
    let armored = signature::sign_report(key, &data)?;
    let sig_path = signature_path(report);
    let dir = match sig_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| {
        format!(
            "cannot create a file in {} for the signature",
            dir.display()
        )
    })?;
    tmp.write_all(armored.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write the signature next to {}", report.display()))?;
    tmp.persist(&sig_path)
        .with_context(|| format!("cannot write {}", sig_path.display()))?;
    Ok(sig_path)
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key = load_signing_key(&args.key)?;
    let sig_path = write_signature(&key, &args.report)?;
    outln!(
        "signed {} with {} key {}: wrote {}",
        args.report.display(),
        key.algorithm(),
        key.fingerprint(signature::HashAlg::Sha256),
        sig_path.display()
    );
    Ok(ExitCode::from(exit::OK))
}

fn read(kind: InputKind, path: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(input::read_bounded(path, kind)?)
}

fn read_signature(report: &Path) -> anyhow::Result<Vec<u8>> {
    let sig_path = signature_path(report);
    input::read_bounded(&sig_path, InputKind::Key).with_context(|| {
        format!(
            "cannot read the signature {} (sign the report first: scs-kaas report sign --key KEY {})",
            sig_path.display(),
            report.display()
        )
    })
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let data = read(InputKind::Report, &args.report)?;
    let sig = read_signature(&args.report)?;
    let sig_name = signature_path(&args.report).display().to_string();
    let result = match (&args.allowed_signers, &args.identity, &args.public_key) {
        (Some(file), Some(identity), None) => {
            let text = String::from_utf8(read(InputKind::Signers, file)?)
                .with_context(|| format!("{} is not UTF-8 text", file.display()))?;
            let allowed = AllowedSigners::parse(&text, &file.display().to_string())?;
            signature::verify_with_allowed_signers(
                &sig,
                &data,
                &args.namespace,
                &allowed,
                identity,
                &jiff::Zoned::now(),
            )
            .map(|ok| (ok, format!("principal {identity:?}")))
        }
        (None, None, Some(file)) => {
            let text = String::from_utf8(read(InputKind::Key, file)?)
                .with_context(|| format!("{} is not UTF-8 text", file.display()))?;
            let keys = signature::parse_public_keys(&text, &file.display().to_string())?;
            signature::verify_with_keys(&sig, &data, &args.namespace, &keys)
                .map(|ok| (ok, format!("a key in {}", file.display())))
        }
        _ => bail!(
            "give either --allowed-signers FILE with --identity PRINCIPAL, or --public-key FILE"
        ),
    };
    match result {
        Ok((ok, whom)) => {
            outln!(
                "{sig_name}: good signature for {whom} by {} key {} ({})",
                ok.algorithm,
                ok.fingerprint,
                ok.hash
            );
            Ok(ExitCode::from(exit::OK))
        }
        Err(err) => {
            eprintln!("{sig_name}: invalid signature: {err}");
            Ok(ExitCode::from(exit::FAILED))
        }
    }
}

/// The monitor's content type for a report file: JSON by `.json` extension (or, for other
/// extensions, a leading `{`), YAML otherwise.
pub fn content_type(report: &Path, data: &[u8]) -> &'static str {
    let ext = report
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let json = match ext.as_deref() {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    };
    if json {
        "application/x-signed-json"
    } else {
        "application/x-signed-yaml"
    }
}

fn reports_endpoint(monitor: &str) -> anyhow::Result<http::Uri> {
    let url = format!("{}/reports", monitor.trim_end_matches('/'));
    let uri: http::Uri = url.parse().with_context(|| {
        format!("--monitor {monitor:?} is not a URL: give e.g. https://compliance.example.org/")
    })?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => bail!("--monitor {monitor:?} must be an http:// or https:// URL with a host"),
    }
}

fn read_password(path: &Path) -> anyhow::Result<String> {
    let raw = read(InputKind::Password, path)?;
    let mut text = String::from_utf8(raw)
        .with_context(|| format!("password file {} is not UTF-8", path.display()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        bail!(
            "password file {} is empty: put the monitor account's password in it",
            path.display()
        );
    }
    if text.contains('\n') {
        bail!(
            "password file {} has more than one line: keep only the password",
            path.display()
        );
    }
    Ok(text)
}

fn https_connector(
    endpoint: &http::Uri,
) -> anyhow::Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>
{
    let builder = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(builder) => builder,
        Err(_) if endpoint.scheme_str() == Some("http") => {
            // Plain http needs no trust roots; don't fail just because the system has none.
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
        Err(err) => bail!("cannot load the system's CA certificates for https: {err}"),
    };
    Ok(builder.https_or_http().enable_http1().build())
}

/// What `report upload` sends: the payload and the scopes of the documents left out.
struct Payload {
    data: Vec<u8>,
    not_sent: Vec<String>,
}

/// The bytes to send: the whole report, or with `--scope` its documents of those scopes.
fn payload(args: &UploadArgs, data: Vec<u8>) -> anyhow::Result<Payload> {
    if args.scopes.is_empty() {
        return Ok(Payload {
            data,
            not_sent: Vec::new(),
        });
    }
    let report = args.report.display();
    let text = std::str::from_utf8(&data)
        .with_context(|| format!("report {report} is not UTF-8, so --scope cannot split it"))?;
    let json = content_type(&args.report, &data) == "application/x-signed-json";
    let docs = report_scope::documents(text, json);
    let selected = report_scope::select(&docs, &args.scopes)?;
    if selected.len() == docs.len() {
        return Ok(Payload {
            data,
            not_sent: Vec::new(),
        });
    }
    let not_sent = docs
        .iter()
        .filter(|d| !selected.contains(d))
        .map(report_scope::ScopeDocument::label)
        .collect();
    if args.sign_key.is_none() {
        bail!(
            "--scope selects {} of the {} documents of {report}, and {report}.sig covers the whole \
             file, so the documents sent must be signed again: add --sign-key KEY (the private key \
             registered at the monitor)",
            selected.len(),
            docs.len()
        );
    }
    Ok(Payload {
        data: selected
            .iter()
            .map(|d| d.text)
            .collect::<String>()
            .into_bytes(),
        not_sent,
    })
}

async fn upload(args: UploadArgs) -> anyhow::Result<ExitCode> {
    let payload = payload(&args, read(InputKind::Report, &args.report)?)?;
    let data = payload.data;
    let sig = match &args.sign_key {
        Some(key) => signature::sign_report(&load_signing_key(key)?, &data)?.into_bytes(),
        None => read_signature(&args.report)?,
    };
    let body = signature::join_upload(&sig, &data).with_context(|| {
        format!(
            "{} cannot be sent (re-create it with scs-kaas report sign)",
            signature_path(&args.report).display()
        )
    })?;
    let password = read_password(&args.password_file)?;
    let endpoint = reports_endpoint(&args.monitor)?;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", args.subject, password));
    let request = http::Request::post(endpoint.clone())
        .header(
            http::header::CONTENT_TYPE,
            content_type(&args.report, &data),
        )
        .header(http::header::AUTHORIZATION, format!("Basic {credentials}"))
        .header(
            http::header::USER_AGENT,
            concat!("scs-kaas/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(bytes::Bytes::from(body)))
        .context("cannot build the upload request")?;
    let client = Client::builder(TokioExecutor::new()).build(https_connector(&endpoint)?);
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|err| anyhow::anyhow!("reading the answer: {err}"))?
            .to_bytes();
        anyhow::Ok((status, bytes))
    };
    let (status, answer) = tokio::time::timeout(Duration::from_secs(args.timeout), exchange)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the monitor at {endpoint} did not answer within {}s (raise --timeout?)",
                args.timeout
            )
        })?
        .with_context(|| format!("cannot reach the monitor at {endpoint}"))?;
    if status == http::StatusCode::OK {
        outln!(
            "uploaded {} ({}) to {endpoint} as {}",
            args.report.display(),
            scopes_sent(&String::from_utf8_lossy(&data)),
            args.subject
        );
        if !payload.not_sent.is_empty() {
            println!("not sent: {}", payload.not_sent.join(", "));
        }
        return Ok(ExitCode::from(exit::OK));
    }
    let message = server_message(&answer);
    eprintln!("error: {}", explain_refusal(status, &message, &args));
    Ok(ExitCode::from(exit::FAILED))
}

/// The scopes of the documents in an upload, e.g. `scopes: SCS-compatible KaaS
/// (1fffebe6-…), …`, so the user sees what a multi-scope report sent.
fn scopes_sent(data: &str) -> String {
    // Only `spec` is read: the monitor, not this message, judges the rest of the documents.
    let docs: Vec<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(data)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .collect();
    let names: Vec<String> = docs
        .iter()
        .filter_map(|d| {
            let spec = d.get("spec")?;
            let uuid = spec.get("uuid")?.as_str()?;
            let name = spec.get("name").and_then(|n| n.as_str()).unwrap_or("?");
            Some(format!("{name} ({uuid})"))
        })
        .collect();
    match names.len() {
        0 => "scopes: not readable here, the monitor judged the file".to_owned(),
        1 => format!("scope: {}", names[0]),
        _ => format!("scopes: {}", names.join(", ")),
    }
}

/// The monitor's own words: FastAPI's `{"detail": …}` or the first line of the body.
fn server_message(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(detail) = json.get("detail")
    {
        return match detail {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut line: String = line.chars().take(300).collect();
    if line.is_empty() {
        line = "no message".to_owned();
    }
    line
}

/// One line: what the monitor refused, in its words, and what to do about it.
fn explain_refusal(status: http::StatusCode, message: &str, args: &UploadArgs) -> String {
    let report = args.report.display();
    let subject = &args.subject;
    let code = status.as_u16();
    let fix = match code {
        401 if message.contains("verification failed") => format!(
            "{report}.sig was not made by an SSH key registered for account {subject}, or {report} changed after signing: \
             sign it with a registered key (scs-kaas report sign --key KEY {report})"
        ),
        401 if message.contains("missing signature") => format!(
            "the monitor found no signature in the upload: re-create {report}.sig with scs-kaas report sign"
        ),
        401 if message.contains("Permission denied") || message.contains("delegation") => format!(
            "account {subject} may not upload reports for the subject named in {report}: upload as that subject, \
             or have it delegate to {subject}"
        ),
        401 => format!(
            "the monitor did not accept the credentials: check --subject {subject} and the password in {}",
            args.password_file.display()
        ),
        // scs-kaas monitors answer 403 where the SCS monitor answers 401 "Permission denied".
        403 if message.contains("Permission denied") || message.contains("delegat") => format!(
            "account {subject} may not upload reports for the subject named in {report}: upload as that subject, \
             or have it name {subject} as a delegate (and give {subject} the append_any role)"
        ),
        403 => format!(
            "account {subject} is not allowed to upload to this monitor: ask its operator for upload rights"
        ),
        400 => format!(
            "the monitor refused the content of {report}: fix what the message names (or re-create the report \
             with scs-kaas check), then sign and upload it again"
        ),
        413 => format!(
            "{report} is larger than the monitor accepts: ask its operator to raise --body-limit, or upload fewer \
             reports at once"
        ),
        429 => format!(
            "too many failed logins for account {subject}: wait as long as the message says, then check --subject \
             {subject} and the password in {}",
            args.password_file.display()
        ),
        503 if message.contains("in progress") => {
            "the monitor is busy checking passwords: retry in a few seconds".to_owned()
        }
        409 => format!(
            "the monitor already holds a report with this run uuid: {report} is uploaded, do not send it again \
             (run scs-kaas check for a new report)"
        ),
        415 => "the monitor accepts only Content-Type application/x-signed-yaml or application/x-signed-json: \
                name the report .yaml or .json"
            .to_owned(),
        422 => format!(
            "the monitor could not process {report}: upload an unmodified SCS report written by scs-kaas check, \
             and point --monitor at the monitor's base URL"
        ),
        _ => return format!("the monitor answered HTTP {status}: {message}"),
    };
    format!("upload refused (HTTP {status}: {message}): {fix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_by_extension_then_content() {
        assert_eq!(
            content_type(Path::new("r.json"), b"---"),
            "application/x-signed-json"
        );
        assert_eq!(
            content_type(Path::new("r.JSON"), b""),
            "application/x-signed-json"
        );
        assert_eq!(
            content_type(Path::new("r.yaml"), b"{}"),
            "application/x-signed-yaml"
        );
        assert_eq!(
            content_type(Path::new("r.yml"), b"{}"),
            "application/x-signed-yaml"
        );
        assert_eq!(
            content_type(Path::new("report"), b"  {\"a\":1}"),
            "application/x-signed-json"
        );
        assert_eq!(
            content_type(Path::new("report"), b"---\na: 1"),
            "application/x-signed-yaml"
        );
    }

    #[test]
    fn endpoint_appends_reports_once() {
        let cases = [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/reports"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/reports"),
            ("https://m.example/base/", "https://m.example/base/reports"),
        ];
        for (given, want) in cases {
            assert_eq!(reports_endpoint(given).unwrap().to_string(), want);
        }
        for bad in ["ftp://x/", "not a url", "/reports", ""] {
            assert!(reports_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_message_prefers_fastapi_detail() {
        assert_eq!(
            server_message(br#"{"detail":"verification failed"}"#),
            "verification failed"
        );
        assert_eq!(
            server_message(br#"{"detail":[{"loc":1}]}"#),
            r#"[{"loc":1}]"#
        );
        assert_eq!(server_message(b"\n  Bad Gateway\nmore"), "Bad Gateway");
        assert_eq!(server_message(b""), "no message");
    }

    #[test]
    fn signature_path_appends_sig() {
        assert_eq!(
            signature_path(Path::new("a/r.yaml")),
            PathBuf::from("a/r.yaml.sig")
        );
    }
}
