//! Signing interop with the real OpenSSH `ssh-keygen` (Debian `openssh-client`), both ways.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jiff::Zoned;
use scs_kaas_core::signature::{
    self, AllowedSigners, PublicKey, SignatureError, load_private_key, sign_report,
    verify_with_allowed_signers, verify_with_keys,
};

const SUBJECT: &str = "mail@csp.eu";
const REPORT: &[u8] = b"---\nspec:\n  uuid: 1fffebe6-fd4b-44d3-a36c-fc58b4bb0180\nsubject: demo\nchecked_at: 2026-11-22 06:00:00.000000\n";

fn ssh_keygen() -> Command {
    let path = Path::new("/usr/bin/ssh-keygen");
    assert!(
        path.exists(),
        "these tests need ssh-keygen: apt-get install openssh-client"
    );
    Command::new(path)
}

/// A fresh key pair made by ssh-keygen in its own temp dir.
struct Key {
    _dir: tempfile::TempDir,
    private: PathBuf,
    public_line: String,
}

fn keygen(kind: &str, bits: Option<&str>, passphrase: &str) -> Key {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("id");
    let mut cmd = ssh_keygen();
    cmd.args([
        "-q", "-t", kind, "-N", passphrase, "-C", "test", "-a", "1", "-f",
    ])
    .arg(&private);
    if let Some(bits) = bits {
        cmd.args(["-b", bits]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "ssh-keygen -t {kind}: {out:?}");
    let public_line = std::fs::read_to_string(private.with_extension("pub")).unwrap();
    Key {
        _dir: dir,
        private,
        public_line: public_line.trim().to_owned(),
    }
}

fn allowed_signers_line(key: &Key) -> String {
    format!("{SUBJECT} {}\n", key.public_line)
}

/// `ssh-keygen -Y sign -n NAMESPACE [extra]` over `data`; returns the armored signature.
fn keygen_sign(key: &Key, namespace: &str, extra: &[&str], data: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.yaml");
    std::fs::write(&file, data).unwrap();
    let out = ssh_keygen()
        .args(["-Y", "sign", "-n", namespace])
        .args(extra)
        .arg("-f")
        .arg(&key.private)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -Y sign: {out:?}");
    std::fs::read(dir.path().join("report.yaml.sig")).unwrap()
}

/// Whether `ssh-keygen -Y verify` accepts `sig` over `data` for SUBJECT in namespace `report`.
fn keygen_verifies(allowed: &str, sig: &[u8], data: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let allowed_path = dir.path().join("allowed_signers");
    let sig_path = dir.path().join("report.yaml.sig");
    std::fs::write(&allowed_path, allowed).unwrap();
    std::fs::write(&sig_path, sig).unwrap();
    let mut child = ssh_keygen()
        .args(["-Y", "verify", "-I", SUBJECT, "-n", "report", "-f"])
        .arg(&allowed_path)
        .arg("-s")
        .arg(&sig_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().status.success()
}

fn ours_verifies(
    allowed: &str,
    sig: &[u8],
    data: &[u8],
) -> Result<signature::Verified, SignatureError> {
    let signers = AllowedSigners::parse(allowed, "allowed_signers")?;
    verify_with_allowed_signers(sig, data, "report", &signers, SUBJECT, &Zoned::now())
}

fn public(key: &Key) -> PublicKey {
    PublicKey::from_openssh(&key.public_line).unwrap()
}

fn tampered() -> Vec<u8> {
    let mut data = REPORT.to_vec();
    data[REPORT.len() - 2] ^= 1;
    data
}

fn both_ways(kind: &str, bits: Option<&str>) {
    let key = keygen(kind, bits, "");
    let allowed = allowed_signers_line(&key);
    let private = load_private_key(&key.private, None).unwrap();

    let ours = sign_report(&private, REPORT).unwrap();
    assert!(
        ours.starts_with("-----BEGIN SSH SIGNATURE-----\n"),
        "{ours}"
    );
    assert!(ours.ends_with("\n-----END SSH SIGNATURE-----\n"), "{ours}");
    assert!(
        keygen_verifies(&allowed, ours.as_bytes(), REPORT),
        "ssh-keygen rejects our {kind} signature"
    );
    assert!(
        !keygen_verifies(&allowed, ours.as_bytes(), &tampered()),
        "ssh-keygen accepts tampered data"
    );
    ours_verifies(&allowed, ours.as_bytes(), REPORT).unwrap();

    let theirs = keygen_sign(&key, "report", &[], REPORT);
    let verified = ours_verifies(&allowed, &theirs, REPORT).unwrap();
    assert_eq!(verified.hash, "sha512");
    assert_eq!(verified.allowed_signers_line, Some(1));
    verify_with_keys(&theirs, REPORT, "report", &[public(&key)]).unwrap();
    let err = ours_verifies(&allowed, &theirs, &tampered()).unwrap_err();
    assert!(matches!(err, SignatureError::BadSignature), "{err}");
    let err = ours_verifies(&allowed, ours.as_bytes(), &tampered()).unwrap_err();
    assert!(matches!(err, SignatureError::BadSignature), "{err}");
}

#[test]
fn ed25519_both_ways() {
    both_ways("ed25519", None);
}

#[test]
fn ecdsa_p256_both_ways() {
    both_ways("ecdsa", Some("256"));
}

#[test]
fn ecdsa_p384_both_ways() {
    both_ways("ecdsa", Some("384"));
}

#[test]
fn rsa_both_ways() {
    both_ways("rsa", Some("2048"));
}

#[test]
fn ed25519_signature_is_byte_identical_to_ssh_keygen() {
    // ed25519 is deterministic, so "exactly as ssh-keygen writes" can be checked byte for byte.
    let key = keygen("ed25519", None, "");
    let private = load_private_key(&key.private, None).unwrap();
    let ours = sign_report(&private, REPORT).unwrap();
    let theirs = keygen_sign(&key, "report", &[], REPORT);
    assert_eq!(ours.as_bytes(), theirs.as_slice());
}

#[test]
fn sha256_signature_from_ssh_keygen_verifies() {
    let key = keygen("ed25519", None, "");
    let theirs = keygen_sign(&key, "report", &["-O", "hashalg=sha256"], REPORT);
    let verified = verify_with_keys(&theirs, REPORT, "report", &[public(&key)]).unwrap();
    assert_eq!(verified.hash, "sha256");
    assert_eq!(verified.algorithm, "ssh-ed25519");
    let err = verify_with_keys(&theirs, &tampered(), "report", &[public(&key)]).unwrap_err();
    assert!(matches!(err, SignatureError::BadSignature), "{err}");
}

#[test]
fn wrong_namespace_fails() {
    let key = keygen("ed25519", None, "");
    let theirs = keygen_sign(&key, "file", &[], REPORT);
    let err = ours_verifies(&allowed_signers_line(&key), &theirs, REPORT).unwrap_err();
    assert!(
        matches!(&err, SignatureError::WrongNamespace { found, expected } if found == "file" && expected == "report"),
        "{err}"
    );
    let err = verify_with_keys(&theirs, REPORT, "report", &[public(&key)]).unwrap_err();
    assert!(
        matches!(err, SignatureError::WrongNamespace { .. }),
        "{err}"
    );
}

#[test]
fn wrong_key_fails() {
    let signer = keygen("ed25519", None, "");
    let other = keygen("ed25519", None, "");
    let theirs = keygen_sign(&signer, "report", &[], REPORT);
    let err = ours_verifies(&allowed_signers_line(&other), &theirs, REPORT).unwrap_err();
    assert!(matches!(err, SignatureError::KeyNotAllowed { .. }), "{err}");
    let err = verify_with_keys(&theirs, REPORT, "report", &[public(&other)]).unwrap_err();
    assert!(
        matches!(err, SignatureError::UnknownSigner { count: 1, .. }),
        "{err}"
    );
    // The monitor tries every key of the account: the signer's key second in the list matches.
    let ok = verify_with_keys(
        &theirs,
        REPORT,
        "report",
        &[public(&other), public(&signer)],
    )
    .unwrap();
    assert_eq!(ok.key_index, 1);
    // Ours, made with the other key, is refused by ssh-keygen for the signer's entry.
    let ours = sign_report(&load_private_key(&other.private, None).unwrap(), REPORT).unwrap();
    assert!(!keygen_verifies(
        &allowed_signers_line(&signer),
        ours.as_bytes(),
        REPORT
    ));
}

#[test]
fn encrypted_key_needs_the_right_passphrase() {
    let key = keygen("ed25519", None, "correct horse");
    let err = load_private_key(&key.private, None).unwrap_err();
    assert!(
        matches!(err, SignatureError::PassphraseRequired { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SCS_KAAS_KEY_PASSPHRASE"), "{err}");
    let err = load_private_key(&key.private, Some("wrong")).unwrap_err();
    assert!(
        matches!(err, SignatureError::WrongPassphrase { .. }),
        "{err}"
    );
    let private = load_private_key(&key.private, Some("correct horse")).unwrap();
    let ours = sign_report(&private, REPORT).unwrap();
    assert!(keygen_verifies(
        &allowed_signers_line(&key),
        ours.as_bytes(),
        REPORT
    ));
}

#[test]
fn public_key_file_is_not_a_private_key() {
    let key = keygen("ed25519", None, "");
    let err = load_private_key(&key.private.with_extension("pub"), None).unwrap_err();
    assert!(
        matches!(err, SignatureError::PrivateKeyFormat { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not the .pub file"), "{err}");
    let err = load_private_key(&key.private.with_extension("missing"), None).unwrap_err();
    assert!(matches!(err, SignatureError::Input(_)), "{err}");
}

#[test]
fn garbage_signature_is_a_format_error() {
    let key = keygen("ed25519", None, "");
    for garbage in [
        &b""[..],
        b"hello",
        b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n",
    ] {
        let err = verify_with_keys(garbage, REPORT, "report", &[public(&key)]).unwrap_err();
        assert!(
            matches!(err, SignatureError::SignatureFormat { .. }),
            "{err}"
        );
    }
}

#[test]
fn signed_upload_body_splits_back_and_verifies() {
    let key = keygen("ed25519", None, "");
    let ours = sign_report(&load_private_key(&key.private, None).unwrap(), REPORT).unwrap();
    let body = signature::join_upload(ours.as_bytes(), REPORT).unwrap();
    let (sig, report) = signature::split_upload(&body).unwrap();
    assert_eq!(report, REPORT);
    verify_with_keys(sig, report, "report", &[public(&key)]).unwrap();
}
