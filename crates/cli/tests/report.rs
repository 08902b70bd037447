//! `scs-kaas report sign|verify|upload` end to end: the real binary, the real `ssh-keygen`,
//! and a loopback monitor stand-in that records what it receives.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::process::Command;

const SUBJECT: &str = "mail@csp.eu";
const REPORT: &str = "---\nspec:\n  uuid: 1fffebe6-fd4b-44d3-a36c-fc58b4bb0180\n  name: SCS-compatible KaaS\nsubject: demo\nchecked_at: 2026-11-22 06:00:00.000000\nrun:\n  uuid: 8a4c3f2e-0000-4000-8000-000000000001\n";

/// A temp dir with an ssh-keygen key pair, a report and an allowed_signers file.
struct Fixture {
    dir: tempfile::TempDir,
    /// Private key path.
    key: String,
    /// Public key path.
    public: String,
    /// allowed_signers path.
    signers: String,
    /// report.yaml path.
    report_path: String,
}

impl Fixture {
    fn new(passphrase: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        let out = std::process::Command::new("/usr/bin/ssh-keygen")
            .args([
                "-q", "-t", "ed25519", "-a", "1", "-C", "ci", "-N", passphrase, "-f",
            ])
            .arg(&key)
            .output()
            .expect("these tests need ssh-keygen: apt-get install openssh-client");
        assert!(out.status.success(), "{out:?}");
        let public = std::fs::read_to_string(dir.path().join("id.pub")).unwrap();
        std::fs::write(
            dir.path().join("allowed_signers"),
            format!("{SUBJECT} {public}"),
        )
        .unwrap();
        std::fs::write(dir.path().join("report.yaml"), REPORT).unwrap();
        std::fs::write(dir.path().join("password"), "s3cret\n").unwrap();
        let text = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        Fixture {
            key: text("id"),
            public: text("id.pub"),
            signers: text("allowed_signers"),
            report_path: text("report.yaml"),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn report(&self) -> PathBuf {
        self.path("report.yaml")
    }
}

async fn scs_kaas(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scs-kaas"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("SCS_KAAS_KEY_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ssh_keygen_verifies(fx: &Fixture, report: &Path) -> bool {
    let out = std::process::Command::new("/usr/bin/ssh-keygen")
        .args(["-Y", "verify", "-n", "report", "-I", SUBJECT, "-f"])
        .arg(fx.path("allowed_signers"))
        .arg("-s")
        .arg(format!("{}.sig", report.display()))
        .stdin(std::fs::File::open(report).unwrap())
        .output()
        .unwrap();
    out.status.success()
}

async fn sign(fx: &Fixture) {
    let out = scs_kaas(&["report", "sign", "--key", &fx.key, &fx.report_path], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn sign_verifies_with_ssh_keygen_and_ours_and_tampering_fails_both() {
    let fx = Fixture::new("");
    let out = scs_kaas(&["report", "sign", "--key", &fx.key, &fx.report_path], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("wrote"), "{}", stdout(&out));
    let sig = std::fs::read_to_string(fx.path("report.yaml.sig")).unwrap();
    assert!(
        sig.starts_with("-----BEGIN SSH SIGNATURE-----\n")
            && sig.ends_with("-----END SSH SIGNATURE-----\n")
    );
    assert!(ssh_keygen_verifies(&fx, &fx.report()));

    let by_file = [
        "report",
        "verify",
        "--allowed-signers",
        &fx.signers,
        "--identity",
        SUBJECT,
        &fx.report_path,
    ];
    let out = scs_kaas(&by_file, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("good signature"), "{}", stdout(&out));
    let by_key = [
        "report",
        "verify",
        "--public-key",
        &fx.public,
        &fx.report_path,
    ];
    let out = scs_kaas(&by_key, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    std::fs::write(fx.report(), REPORT.replace("demo", "dem0")).unwrap();
    assert!(!ssh_keygen_verifies(&fx, &fx.report()));
    for args in [&by_file[..], &by_key[..]] {
        let out = scs_kaas(args, &[]).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("invalid signature: the signature does not match the data"),
            "{}",
            stderr(&out)
        );
    }
}

#[tokio::test]
async fn ssh_keygen_signature_verifies_with_ours() {
    let fx = Fixture::new("");
    let out = std::process::Command::new("/usr/bin/ssh-keygen")
        .args(["-Y", "sign", "-n", "report", "-f"])
        .arg(fx.path("id"))
        .arg(fx.report())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--allowed-signers",
            &fx.signers,
            "--identity",
            SUBJECT,
            &fx.report_path,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Same signature, other principal: not listed.
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--allowed-signers",
            &fx.signers,
            "--identity",
            "x@y",
            &fx.report_path,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no entry for principal \"x@y\""),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn wrong_namespace_and_wrong_key_are_invalid() {
    let fx = Fixture::new("");
    let other = Fixture::new("");
    let out = std::process::Command::new("/usr/bin/ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(fx.path("id"))
        .arg(fx.report())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--public-key",
            &fx.public,
            &fx.report_path,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("namespace \"file\", expected \"report\""),
        "{}",
        stderr(&out)
    );

    sign(&fx).await;
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--public-key",
            &other.public,
            &fx.report_path,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not among the 1 accepted public key"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn encrypted_key_takes_the_passphrase_from_the_environment() {
    let fx = Fixture::new("open sesame");
    let args = ["report", "sign", "--key", &fx.key, &fx.report_path];
    let out = scs_kaas(&args, &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is encrypted") && stderr(&out).contains("SCS_KAAS_KEY_PASSPHRASE"),
        "{}",
        stderr(&out)
    );
    assert!(!fx.path("report.yaml.sig").exists());
    let out = scs_kaas(&args, &[("SCS_KAAS_KEY_PASSPHRASE", "wrong")]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("wrong passphrase"),
        "{}",
        stderr(&out)
    );
    let out = scs_kaas(&args, &[("SCS_KAAS_KEY_PASSPHRASE", "open sesame")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ssh_keygen_verifies(&fx, &fx.report()));
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let fx = Fixture::new("");
    // No signature yet.
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--public-key",
            &fx.public,
            &fx.report_path,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("sign the report first"),
        "{}",
        stderr(&out)
    );
    // Both ways of naming signers at once.
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--identity",
            "x",
            "--public-key",
            "k",
            "r",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    // A broken allowed_signers file is a configuration error, not an invalid signature.
    sign(&fx).await;
    std::fs::write(
        fx.path("bad_signers"),
        "mail@csp.eu cert-authority ssh-ed25519 AAAA\n",
    )
    .unwrap();
    let out = scs_kaas(
        &[
            "report",
            "verify",
            "--allowed-signers",
            s(&fx.path("bad_signers")),
            "--identity",
            SUBJECT,
            &fx.report_path,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad_signers:1:"), "{}", stderr(&out));
}

/// What the stand-in monitor saw.
#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

/// Start a loopback monitor stand-in answering POST /reports with `status` and `{"detail": detail}`.
async fn monitor(status: StatusCode, detail: &'static str) -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/base/reports",
            post(
                move |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                    seen.requests.lock().unwrap().push((headers, body));
                    let answer = if status == StatusCode::OK {
                        "null".to_owned()
                    } else {
                        serde_json::json!({ "detail": detail }).to_string()
                    };
                    (status, [("content-type", "application/json")], answer)
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/base/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn upload(fx: &Fixture, url: &str, report: &Path) -> Output {
    scs_kaas(
        &[
            "report",
            "upload",
            "--monitor",
            url,
            "--subject",
            SUBJECT,
            "--password-file",
            s(&fx.path("password")),
            s(report),
        ],
        &[],
    )
    .await
}

#[tokio::test]
async fn upload_sends_signature_ampersand_report_with_auth_and_content_type() {
    let fx = Fixture::new("");
    sign(&fx).await;
    let (url, seen) = monitor(StatusCode::OK, "").await;
    let out = upload(&fx, &url, &fx.report()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("uploaded"), "{}", stdout(&out));
    // It says which scopes the report holds (all of them were sent).
    assert!(
        stdout(&out)
            .contains("(scope: SCS-compatible KaaS (1fffebe6-fd4b-44d3-a36c-fc58b4bb0180))"),
        "{}",
        stdout(&out)
    );
    let requests = seen.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (headers, body) = &requests[0];
    let mut want = std::fs::read(fx.path("report.yaml.sig")).unwrap();
    want.push(b'&');
    want.extend_from_slice(REPORT.as_bytes());
    assert_eq!(body.as_ref(), want.as_slice());
    assert_eq!(headers["content-type"], "application/x-signed-yaml");
    // base64("mail@csp.eu:s3cret"): the password file's trailing newline is not part of it.
    assert_eq!(headers["authorization"], "Basic bWFpbEBjc3AuZXU6czNjcmV0");
    // The stand-in's view of the body splits and verifies like the monitor's.
    let (sig, report) = scs_kaas_core::signature::split_upload(body).unwrap();
    let key = scs_kaas_core::signature::PublicKey::read_openssh_file(&fx.path("id.pub")).unwrap();
    scs_kaas_core::signature::verify_with_keys(sig, report, "report", &[key]).unwrap();
}

#[tokio::test]
async fn upload_of_json_report_uses_signed_json() {
    let fx = Fixture::new("");
    std::fs::write(fx.path("report.json"), "{\"subject\": \"demo\"}").unwrap();
    let out = scs_kaas(
        &[
            "report",
            "sign",
            "--key",
            &fx.key,
            s(&fx.path("report.json")),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (url, seen) = monitor(StatusCode::OK, "").await;
    let out = upload(&fx, &url, &fx.path("report.json")).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        seen.requests.lock().unwrap()[0].0["content-type"],
        "application/x-signed-json"
    );
}

#[tokio::test]
async fn upload_refusals_are_explained_in_one_line() {
    let fx = Fixture::new("");
    sign(&fx).await;
    let cases = [
        (
            StatusCode::UNAUTHORIZED,
            "verification failed",
            "not made by an SSH key registered for account mail@csp.eu",
        ),
        (
            StatusCode::UNAUTHORIZED,
            "missing signature",
            "found no signature in the upload",
        ),
        (
            StatusCode::UNAUTHORIZED,
            "Permission denied",
            "may not upload reports for the subject",
        ),
        (
            StatusCode::UNAUTHORIZED,
            "Incorrect username or password",
            "check --subject mail@csp.eu and the password in",
        ),
        (
            StatusCode::FORBIDDEN,
            "Forbidden",
            "ask its operator for upload rights",
        ),
        // What an scs-kaas monitor answers where the SCS monitor says 401 "Permission denied".
        (
            StatusCode::FORBIDDEN,
            "Permission denied: account \"mail@csp.eu\" may not post reports for subject \"demo\"",
            "may not upload reports for the subject named in",
        ),
        (
            StatusCode::BAD_REQUEST,
            "invalid report: `spec.name` contains a NUL character, which cannot be stored: remove it",
            "refused the content of",
        ),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than this monitor's limit of 1024 bytes",
            "larger than the monitor accepts",
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins for this account: retry in 4 s",
            "wait as long as the message says",
        ),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many logins in progress: retry in a second",
            "busy checking passwords",
        ),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no healthy upstream",
            "HTTP 503 Service Unavailable: no healthy upstream",
        ),
        (
            StatusCode::CONFLICT,
            "Conflict: report already present",
            "do not send it again",
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "name the report .yaml or .json",
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad report",
            "could not process",
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "database down",
            "HTTP 500 Internal Server Error: database down",
        ),
    ];
    for (status, detail, want) in cases {
        let (url, seen) = monitor(status, detail).await;
        let out = upload(&fx, &url, &fx.report()).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{status}: {err}");
        assert_eq!(seen.requests.lock().unwrap().len(), 1);
        assert_eq!(err.trim_end().lines().count(), 1, "{status}: {err}");
        assert!(err.contains(want), "{status}: {err}");
        assert!(
            err.contains(detail),
            "{status}: server message missing: {err}"
        );
    }
}

#[tokio::test]
async fn upload_that_cannot_be_made_exits_2() {
    let fx = Fixture::new("");
    // Unsigned report.
    let (url, seen) = monitor(StatusCode::OK, "").await;
    let out = upload(&fx, &url, &fx.report()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("sign the report first"),
        "{}",
        stderr(&out)
    );
    assert!(seen.requests.lock().unwrap().is_empty());
    // Nobody listening.
    sign(&fx).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let out = upload(&fx, &format!("http://{closed}/"), &fx.report()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach the monitor"),
        "{}",
        stderr(&out)
    );
    // Empty password file.
    std::fs::write(fx.path("password"), "\n").unwrap();
    let out = upload(&fx, &url, &fx.report()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
}

/// Without `SCS_KAAS_KEY_PASSPHRASE`, on a terminal, the passphrase is asked for.
#[tokio::test]
async fn encrypted_key_asks_for_the_passphrase_on_a_terminal() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fx = Fixture::new("open sesame");
    let command = [
        env!("CARGO_BIN_EXE_scs-kaas"),
        "report",
        "sign",
        "--key",
        &fx.key,
        &fx.report_path,
    ]
    .iter()
    .map(|a| format!("'{a}'"))
    .collect::<Vec<_>>()
    .join(" ");
    let mut child = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env_remove("SCS_KAAS_KEY_PASSPHRASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("this test needs `script` (Debian bsdutils)");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Answer only once the prompt is there: switching off echo may flush earlier input.
    let mut seen = Vec::new();
    let prompt = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("Passphrase for ") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(
        prompt.is_ok(),
        "no prompt within 60 s: {}",
        String::from_utf8_lossy(&seen)
    );
    stdin.write_all(b"open sesame\n").await.unwrap();
    stdin.flush().await.unwrap();
    // Close our end so `script` cannot wait on more input once the signer is done.
    drop(stdin);
    let mut rest = Vec::new();
    let finished = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        stdout.read_to_end(&mut rest).await.unwrap();
        child.wait().await.unwrap()
    })
    .await;
    let Ok(status) = finished else {
        panic!(
            "the signer did not finish within 60 s after the passphrase: {}",
            String::from_utf8_lossy(&rest)
        );
    };
    assert_eq!(status.code(), Some(0), "{}", String::from_utf8_lossy(&rest));
    assert!(
        !String::from_utf8_lossy(&rest).contains("open sesame"),
        "the passphrase was echoed"
    );
    assert!(ssh_keygen_verifies(&fx, &fx.report()));
}

/// A report of two scopes, as `demo`/`check` write it with several `--scope`s.
const TWO_SCOPES: &str = "---\nspec:\n  uuid: 1fffebe6-fd4b-44d3-a36c-fc58b4bb0180\n  name: SCS-compatible KaaS\nsubject: demo\nchecked_at: 2026-11-22 06:00:00.000000\nrun:\n  uuid: 8a4c3f2e-0000-4000-8000-000000000001\n---\nspec:\n  uuid: 5a3bd0bc-0000-4000-8000-0000000000e1\n  name: scs-kaas extended KaaS\nsubject: demo\nchecked_at: 2026-11-22 06:00:00.000000\nrun:\n  uuid: 8a4c3f2e-0000-4000-8000-000000000002\n";

async fn upload_with(fx: &Fixture, url: &str, extra: &[&str]) -> Output {
    let password = fx.path("password");
    let report = fx.path("two.yaml");
    let mut args = vec![
        "report",
        "upload",
        "--monitor",
        url,
        "--subject",
        SUBJECT,
        "--password-file",
        s(&password),
    ];
    args.extend_from_slice(extra);
    args.push(s(&report));
    scs_kaas(&args, &[]).await
}

fn two_scope_fixture() -> Fixture {
    let fx = Fixture::new("");
    std::fs::write(fx.path("two.yaml"), TWO_SCOPES).unwrap();
    fx
}

#[tokio::test]
async fn upload_scope_sends_only_that_document_signed_with_the_given_key() {
    let fx = two_scope_fixture();
    let (url, seen) = monitor(StatusCode::OK, "").await;
    let out = upload_with(
        &fx,
        &url,
        &["--scope", "scs-kaas extended KaaS", "--sign-key", &fx.key],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("(scope: scs-kaas extended KaaS (5a3bd0bc-0000-4000-8000-0000000000e1))"),
        "{said}"
    );
    assert!(
        said.contains("not sent: SCS-compatible KaaS (1fffebe6-fd4b-44d3-a36c-fc58b4bb0180)"),
        "{said}"
    );
    let requests = seen.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (sig, report) = scs_kaas_core::signature::split_upload(&requests[0].1).unwrap();
    let second = &TWO_SCOPES[TWO_SCOPES.rfind("---\n").unwrap()..];
    assert_eq!(
        report,
        second.as_bytes(),
        "the document is sent byte for byte"
    );
    let key = scs_kaas_core::signature::PublicKey::read_openssh_file(&fx.path("id.pub")).unwrap();
    scs_kaas_core::signature::verify_with_keys(sig, report, "report", &[key]).unwrap();
    // No signature file was written for the part.
    assert!(!fx.path("two.yaml.sig").exists());
}

#[tokio::test]
async fn upload_scope_by_uuid_of_every_document_uses_the_reports_signature() {
    let fx = two_scope_fixture();
    let sig = scs_kaas(
        &["report", "sign", "--key", &fx.key, s(&fx.path("two.yaml"))],
        &[],
    )
    .await;
    assert_eq!(sig.status.code(), Some(0), "{}", stderr(&sig));
    let (url, seen) = monitor(StatusCode::OK, "").await;
    let out = upload_with(
        &fx,
        &url,
        &[
            "--scope",
            "1fffebe6-fd4b-44d3-a36c-fc58b4bb0180",
            "--scope",
            "5a3bd0bc-0000-4000-8000-0000000000e1",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("not sent"), "{}", stdout(&out));
    let mut want = std::fs::read(fx.path("two.yaml.sig")).unwrap();
    want.push(b'&');
    want.extend_from_slice(TWO_SCOPES.as_bytes());
    assert_eq!(seen.requests.lock().unwrap()[0].1.as_ref(), want.as_slice());
}

#[tokio::test]
async fn upload_scope_of_part_without_key_and_unknown_scope_exit_2_sending_nothing() {
    let fx = two_scope_fixture();
    let (url, seen) = monitor(StatusCode::OK, "").await;
    let out = upload_with(&fx, &url, &["--scope", "SCS-compatible KaaS"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--scope selects 1 of the 2 documents")
            && stderr(&out).contains("add --sign-key KEY"),
        "{}",
        stderr(&out)
    );
    let out = upload_with(
        &fx,
        &url,
        &["--scope", "SCS-compatible IaaS", "--sign-key", &fx.key],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "--scope SCS-compatible IaaS: the report has no document for this scope; its scopes are: \
             SCS-compatible KaaS (1fffebe6-fd4b-44d3-a36c-fc58b4bb0180), \
             scs-kaas extended KaaS (5a3bd0bc-0000-4000-8000-0000000000e1)"
        ),
        "{}",
        stderr(&out)
    );
    assert!(seen.requests.lock().unwrap().is_empty());
}
