//! SSH signatures over reports (SSHSIG, as `ssh-keygen -Y sign/verify` make and check them),
//! and the monitor's upload framing.
//!
//! Signing writes exactly what `ssh-keygen -Y sign -f KEY -n report FILE` writes (hash
//! sha512, armored, LF line endings, final newline); for ed25519 the bytes are identical.
//! Verification accepts sha256 and sha512 signatures, against either an allowed-signers file
//! plus identity (like `ssh-keygen -Y verify`) or a list of public keys (the monitor checks an
//! upload against every key of the uploading account).
//!
//! Pure apart from [`load_private_key`], which reads one file for the caller's convenience.

mod allowed_signers;
mod error;
mod framing;
mod pattern;
mod rsa_signer;

use std::path::Path;

use jiff::Zoned;
use ssh_key::{LineEnding, SshSig};

pub use allowed_signers::{AllowedSigner, AllowedSigners, Validity};
pub use error::SignatureError;
pub use framing::{SPLIT_MARKER, join_upload, split_upload};
pub use ssh_key::{HashAlg, PrivateKey, PublicKey};

/// The SSHSIG namespace of SCS compliance reports; the monitor verifies with `-n report`.
pub const REPORT_NAMESPACE: &str = "report";

/// Who made a signature that verified: enough to tell the user which key it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// SHA256 fingerprint of the signing key (`SHA256:…`), as `ssh-keygen -l` shows it.
    pub fingerprint: String,
    /// Key algorithm, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// Hash algorithm inside the signature (`sha256` or `sha512`).
    pub hash: String,
    /// Index of the matching key in the list given to [`verify_with_keys`] (0 for allowed signers).
    pub key_index: usize,
    /// Line of the matching allowed-signers entry, when verified against a file.
    pub allowed_signers_line: Option<usize>,
}

/// Parse an OpenSSH private key, decrypting it with `passphrase` when it is encrypted.
///
/// `source_name` names the key in errors (usually its path).
pub fn parse_private_key(
    text: &[u8],
    passphrase: Option<&[u8]>,
    source_name: &str,
) -> Result<PrivateKey, SignatureError> {
    let key = PrivateKey::from_openssh(text).map_err(|err| SignatureError::PrivateKeyFormat {
        source_name: source_name.to_owned(),
        detail: err.to_string(),
    })?;
    if !key.is_encrypted() {
        return Ok(key);
    }
    let Some(passphrase) = passphrase else {
        return Err(SignatureError::PassphraseRequired {
            source_name: source_name.to_owned(),
        });
    };
    key.decrypt(passphrase)
        .map_err(|_| SignatureError::WrongPassphrase {
            source_name: source_name.to_owned(),
        })
}

/// Read and parse the private key file at `path` (see [`parse_private_key`]).
pub fn load_private_key(
    path: &Path,
    passphrase: Option<&str>,
) -> Result<PrivateKey, SignatureError> {
    let text = crate::input::read_bounded(path, crate::input::InputKind::Key)?;
    parse_private_key(
        &text,
        passphrase.map(str::as_bytes),
        &path.display().to_string(),
    )
}

/// Sign `data` in `namespace`; returns the armored signature ending in a newline.
pub fn sign(key: &PrivateKey, namespace: &str, data: &[u8]) -> Result<String, SignatureError> {
    let signed = match key.key_data() {
        ssh_key::private::KeypairData::Rsa(keypair) => {
            rsa_signer::sign(keypair, namespace, data)
                .map_err(|detail| SignatureError::Sign { detail })?
        }
        _ => {
            key.sign(namespace, HashAlg::Sha512, data)
                .map_err(|err| match err {
                    ssh_key::Error::AlgorithmUnsupported { .. }
                    | ssh_key::Error::AlgorithmUnknown => SignatureError::UnsupportedKey {
                        algorithm: key.algorithm().to_string(),
                        detail: err.to_string(),
                    },
                    other => SignatureError::Sign {
                        detail: other.to_string(),
                    },
                })?
        }
    };
    signed
        .to_pem(LineEnding::LF)
        .map_err(|err| SignatureError::Sign {
            detail: err.to_string(),
        })
}

/// Sign report bytes in the `report` namespace, as the monitor expects.
pub fn sign_report(key: &PrivateKey, report: &[u8]) -> Result<String, SignatureError> {
    sign(key, REPORT_NAMESPACE, report)
}

/// Parse an armored SSHSIG (trailing whitespace tolerated).
pub fn parse_signature(armored: &[u8]) -> Result<SshSig, SignatureError> {
    let end = armored
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    SshSig::from_pem(&armored[..end]).map_err(|err| SignatureError::SignatureFormat {
        detail: err.to_string(),
    })
}

/// Verify `signature` over `data` in `namespace` against any of `keys`.
pub fn verify_with_keys(
    signature: &[u8],
    data: &[u8],
    namespace: &str,
    keys: &[PublicKey],
) -> Result<Verified, SignatureError> {
    let sig = parse_checked(signature, namespace)?;
    let Some(key_index) = keys
        .iter()
        .position(|key| key.key_data() == sig.public_key())
    else {
        return Err(SignatureError::UnknownSigner {
            fingerprint: signer_of(&sig).fingerprint(HashAlg::Sha256).to_string(),
            count: keys.len(),
        });
    };
    check_crypto(&keys[key_index], namespace, data, &sig)?;
    Ok(verified(&sig, key_index, None))
}

/// Verify `signature` over `data` in `namespace` for `identity` against an allowed-signers
/// file, as `ssh-keygen -Y verify -f FILE -I IDENTITY -n NAMESPACE` does; `now` decides
/// `valid-after`/`valid-before` (times without `Z` are read in `now`'s time zone).
pub fn verify_with_allowed_signers(
    signature: &[u8],
    data: &[u8],
    namespace: &str,
    allowed: &AllowedSigners,
    identity: &str,
    now: &Zoned,
) -> Result<Verified, SignatureError> {
    let sig = parse_checked(signature, namespace)?;
    let signer = signer_of(&sig);
    let entry = allowed.authorize(identity, &signer, namespace, now)?;
    check_crypto(&entry.key, namespace, data, &sig)?;
    Ok(verified(&sig, 0, Some(entry.line)))
}

/// Parse a public-key file: one OpenSSH public key per line (`type base64 [comment]`),
/// blank lines and `#` comments allowed; at least one key required.
pub fn parse_public_keys(text: &str, source_name: &str) -> Result<Vec<PublicKey>, SignatureError> {
    let mut keys = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = PublicKey::from_openssh(line).map_err(|err| SignatureError::PublicKeyFormat {
            source_name: source_name.to_owned(),
            line: index + 1,
            detail: err.to_string(),
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(SignatureError::NoPublicKeys {
            source_name: source_name.to_owned(),
        });
    }
    Ok(keys)
}

fn parse_checked(signature: &[u8], namespace: &str) -> Result<SshSig, SignatureError> {
    let sig = parse_signature(signature)?;
    if sig.namespace() != namespace {
        return Err(SignatureError::WrongNamespace {
            found: sig.namespace().to_owned(),
            expected: namespace.to_owned(),
        });
    }
    Ok(sig)
}

fn signer_of(sig: &SshSig) -> PublicKey {
    PublicKey::new(sig.public_key().clone(), "")
}

fn check_crypto(
    key: &PublicKey,
    namespace: &str,
    data: &[u8],
    sig: &SshSig,
) -> Result<(), SignatureError> {
    key.verify(namespace, data, sig).map_err(|err| match err {
        ssh_key::Error::AlgorithmUnsupported { .. } | ssh_key::Error::AlgorithmUnknown => {
            SignatureError::SignatureFormat {
                detail: format!("cannot verify this signature type here: {err}"),
            }
        }
        _ => SignatureError::BadSignature,
    })
}

fn verified(sig: &SshSig, key_index: usize, allowed_signers_line: Option<usize>) -> Verified {
    let signer = signer_of(sig);
    Verified {
        fingerprint: signer.fingerprint(HashAlg::Sha256).to_string(),
        algorithm: signer.algorithm().to_string(),
        hash: sig.hash_alg().as_str().to_owned(),
        key_index,
        allowed_signers_line,
    }
}
