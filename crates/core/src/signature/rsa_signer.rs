//! RSA signing done here instead of in `ssh-key` 0.6, whose RSA signer builds the private key
//! from the prime `p` twice (instead of `p` and `q`) and so always fails with "cryptographic
//! error". Same algorithm as ssh-keygen's SSHSIG default: `rsa-sha2-512` (PKCS#1 v1.5, SHA-512).

use rsa::signature::{SignatureEncoding, Signer};
use ssh_key::private::RsaKeypair;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, Mpint, SshSig};

/// Sign `msg` in `namespace` with an RSA key pair, producing the same SSHSIG ssh-keygen makes.
pub(super) fn sign(keypair: &RsaKeypair, namespace: &str, msg: &[u8]) -> Result<SshSig, String> {
    let big =
        |m: &Mpint| rsa::BigUint::try_from(m).map_err(|err| format!("RSA key component: {err}"));
    let key = rsa::RsaPrivateKey::from_components(
        big(&keypair.public.n)?,
        big(&keypair.public.e)?,
        big(&keypair.private.d)?,
        vec![big(&keypair.private.p)?, big(&keypair.private.q)?],
    )
    .map_err(|err| format!("RSA key is inconsistent: {err}"))?;
    let signed_data =
        SshSig::signed_data(namespace, HashAlg::Sha512, msg).map_err(|err| err.to_string())?;
    let raw = rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(key)
        .try_sign(&signed_data)
        .map_err(|err| format!("RSA signing: {err}"))?;
    let signature = ssh_key::Signature::new(
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        raw.to_vec(),
    )
    .map_err(|err| err.to_string())?;
    SshSig::new(
        KeyData::Rsa(keypair.public.clone()),
        namespace,
        HashAlg::Sha512,
        signature,
    )
    .map_err(|err| err.to_string())
}
