//! Bearer tokens issued by `serviceaccounts/<name>/token` (TokenRequest), like the real
//! server's bound service account tokens: valid until they expire or the ServiceAccount they
//! were issued for (same uid) is gone.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use rand::RngCore;

/// Shortest and longest `expirationSeconds` accepted (upstream: at least 10 minutes; the sim
/// caps at 48 h, as upstream's default maximum for extended tokens is about that long).
pub const MIN_SECONDS: i64 = 600;
/// See [`MIN_SECONDS`].
pub const MAX_SECONDS: i64 = 48 * 3600;
/// Lifetime when the request names none (upstream's default).
pub const DEFAULT_SECONDS: i64 = 3600;

/// Who a token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// ServiceAccount namespace.
    pub namespace: String,
    /// ServiceAccount name.
    pub name: String,
    /// ServiceAccount uid at issue time.
    pub uid: String,
    /// End of validity.
    pub expires: jiff::Timestamp,
}

/// The tokens issued so far (kept in memory for the server's lifetime).
#[derive(Debug, Default)]
pub struct Tokens {
    issued: Mutex<HashMap<String, Issued>>,
}

impl Tokens {
    /// Issue a new random token for `issued`; returns the token text. Tokens expired at `now`
    /// are forgotten.
    pub fn issue(&self, issued: Issued, now: jiff::Timestamp) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!(
            "sim-sa.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let mut map = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, i| i.expires > now);
        map.insert(token.clone(), issued);
        token
    }

    /// The holder of `token` if it is known and not expired at `now`.
    pub fn lookup(&self, token: &str, now: jiff::Timestamp) -> Option<Issued> {
        let map = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        map.get(token).filter(|i| i.expires > now).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire() {
        let tokens = Tokens::default();
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let issued = Issued {
            namespace: "n".into(),
            name: "sa".into(),
            uid: "u".into(),
            expires: now + jiff::SignedDuration::from_secs(600),
        };
        let token = tokens.issue(issued.clone(), now);
        assert_eq!(tokens.lookup(&token, now), Some(issued));
        assert_eq!(tokens.lookup("other", now), None);
        assert_eq!(
            tokens.lookup(&token, now + jiff::SignedDuration::from_secs(600)),
            None
        );
    }
}
