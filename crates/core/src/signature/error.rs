//! Everything that can go wrong while signing, verifying or framing a report.

/// Why a signing, verification or framing step failed, phrased so the user knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// A key file is missing, unreadable or larger than a key can be.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// The private key file is not in the OpenSSH private-key format.
    #[error(
        "{source_name} is not an OpenSSH private key ({detail}); give the private key file \
         written by ssh-keygen (e.g. ~/.ssh/id_ed25519, not the .pub file); convert PEM keys \
         with `ssh-keygen -p -f KEY`"
    )]
    PrivateKeyFormat {
        /// Where the key came from (file name).
        source_name: String,
        /// What the parser said.
        detail: String,
    },
    /// The private key is encrypted and no passphrase was given.
    #[error(
        "private key {source_name} is encrypted: give its passphrase in the environment variable \
         SCS_KAAS_KEY_PASSPHRASE or run on a terminal to be prompted"
    )]
    PassphraseRequired {
        /// Where the key came from (file name).
        source_name: String,
    },
    /// The passphrase did not decrypt the private key.
    #[error(
        "wrong passphrase for private key {source_name}: check SCS_KAAS_KEY_PASSPHRASE or the \
         passphrase you typed"
    )]
    WrongPassphrase {
        /// Where the key came from (file name).
        source_name: String,
    },
    /// The key's algorithm cannot sign SSH signatures here.
    #[error(
        "cannot sign with a {algorithm} key: {detail}; use an ed25519 (recommended), \
         ECDSA P-256/P-384 or RSA key (`ssh-keygen -t ed25519`)"
    )]
    UnsupportedKey {
        /// The key algorithm name.
        algorithm: String,
        /// What the library said.
        detail: String,
    },
    /// The signature text is not an armored SSHSIG.
    #[error(
        "not a valid SSH signature ({detail}); expected the armored text between \
         `-----BEGIN SSH SIGNATURE-----` and `-----END SSH SIGNATURE-----` as written by \
         `ssh-keygen -Y sign` or `scs-kaas report sign`"
    )]
    SignatureFormat {
        /// What the parser said.
        detail: String,
    },
    /// The signature was made for another purpose (namespace).
    #[error(
        "the signature was made for namespace {found:?}, expected {expected:?}: sign again with \
         `scs-kaas report sign` (or `ssh-keygen -Y sign -n {expected}`)"
    )]
    WrongNamespace {
        /// The namespace in the signature.
        found: String,
        /// The namespace the verifier requires.
        expected: String,
    },
    /// The signing key is not among the accepted public keys.
    #[error(
        "the signature was made by key {fingerprint}, which is not among the {count} accepted \
         public key(s): sign with a registered key or register this one"
    )]
    UnknownSigner {
        /// SHA256 fingerprint of the signing key.
        fingerprint: String,
        /// How many keys were accepted.
        count: usize,
    },
    /// The allowed-signers file has no line for the identity.
    #[error(
        "{source_name} has no entry for principal {identity:?}: add a line \
         `{identity} <key type> <base64 key>` or pass the right --identity"
    )]
    NoSuchPrincipal {
        /// The allowed-signers file.
        source_name: String,
        /// The principal that was asked for.
        identity: String,
    },
    /// The allowed-signers file lists the identity, but not with the signing key.
    #[error(
        "the signature was made by key {fingerprint}, which {source_name} does not list for \
         principal {identity:?}: add that key for the principal or sign with a listed key"
    )]
    KeyNotAllowed {
        /// The allowed-signers file.
        source_name: String,
        /// The principal that was asked for.
        identity: String,
        /// SHA256 fingerprint of the signing key.
        fingerprint: String,
    },
    /// The allowed-signers entry restricts namespaces and the signature's is not among them.
    #[error(
        "{source_name}:{line}: the entry for {identity:?} allows namespaces=\"{allowed}\", not \
         {namespace:?}: add {namespace} to its namespaces option"
    )]
    NamespaceNotAllowed {
        /// The allowed-signers file.
        source_name: String,
        /// Line of the entry.
        line: usize,
        /// The principal.
        identity: String,
        /// The namespace patterns of the entry.
        allowed: String,
        /// The namespace of the signature.
        namespace: String,
    },
    /// The allowed-signers entry is outside its validity window.
    #[error(
        "{source_name}:{line}: the key for {identity:?} is {problem}: adjust valid-after / \
         valid-before or use a currently valid key"
    )]
    KeyNotValidNow {
        /// The allowed-signers file.
        source_name: String,
        /// Line of the entry.
        line: usize,
        /// The principal.
        identity: String,
        /// "not valid before …" or "expired at …".
        problem: String,
    },
    /// A line of the allowed-signers file is malformed.
    #[error("{source_name}:{line}: {problem}")]
    AllowedSignersSyntax {
        /// The allowed-signers file.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The allowed-signers file uses `cert-authority`, which we do not support.
    #[error(
        "{source_name}:{line}: cert-authority entries are not supported: scs-kaas verifies \
         signatures by plain public keys only; list the signer's public key instead"
    )]
    CertAuthorityUnsupported {
        /// The allowed-signers file.
        source_name: String,
        /// 1-based line number.
        line: usize,
    },
    /// A public-key file line is malformed.
    #[error(
        "{source_name}:{line}: not an OpenSSH public key ({detail}); expected \
         `<key type> <base64 key> [comment]` as in a .pub file"
    )]
    PublicKeyFormat {
        /// The public-key file.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What the parser said.
        detail: String,
    },
    /// A public-key file holds no key at all.
    #[error("{source_name} contains no public key: give a .pub file written by ssh-keygen")]
    NoPublicKeys {
        /// The public-key file.
        source_name: String,
    },
    /// The cryptographic check failed: data and signature do not belong together.
    #[error(
        "the signature does not match the data: the report was changed after signing, or the \
         signature belongs to another file; sign the report again"
    )]
    BadSignature,
    /// Creating the signature failed inside the crypto library.
    #[error("signing failed: {detail}")]
    Sign {
        /// What the library said.
        detail: String,
    },
    /// The upload body holds no armored signature followed by `&`.
    #[error(
        "the body carries no signature: `-----END SSH SIGNATURE-----` followed by a newline and \
         `&` was not found; send the armored signature, `&`, then the report"
    )]
    MissingSignature,
}
