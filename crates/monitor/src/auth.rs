//! Accounts, roles and HTTP basic authentication.
//!
//! A bcrypt check at cost 12 takes a few hundred milliseconds, so checking it on every request
//! would cap the monitor at a handful of uploads per second. A successful check is therefore
//! remembered as an HMAC (random per-process key) of the presented credential, compared in
//! constant time; the memory is bounded and dropped on every reload (a new [`Directory`]).
//! Unknown users cost the same bcrypt work as known ones (a dummy hash), so response time does
//! not reveal which accounts exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Role bits as in the SCS monitor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u32);

impl Roles {
    /// May read every subject's reports.
    pub const READ_ANY: Roles = Roles(1);
    /// May post for other subjects (with delegation).
    pub const APPEND_ANY: Roles = Roles(2);
    /// Administrator: may trigger a reload.
    pub const ADMIN: Roles = Roles(4);
    /// May set approval flags (vestigial).
    pub const APPROVE: Roles = Roles(8);

    /// The bit for a bootstrap role name.
    pub fn from_name(name: &str) -> Option<Roles> {
        match name {
            "read_any" => Some(Roles::READ_ANY),
            "append_any" => Some(Roles::APPEND_ANY),
            "admin" => Some(Roles::ADMIN),
            "approve" => Some(Roles::APPROVE),
            _ => None,
        }
    }

    /// Roles from stored bits (unknown bits dropped).
    pub fn from_bits(bits: u32) -> Roles {
        Roles(bits & 0b1111)
    }

    /// The stored bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// These roles plus `other`.
    pub fn with(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    /// Whether all bits of `other` are held.
    pub fn contains(self, other: Roles) -> bool {
        self.0 & other.0 == other.0
    }
}

/// An account as the server needs it at request time.
#[derive(Debug, Clone)]
pub struct Account {
    /// Account name = subject.
    pub subject: String,
    /// Role bits.
    pub roles: Roles,
    /// Group name, if any.
    pub group: Option<String>,
    /// bcrypt hashes of its passwords.
    pub api_keys: Vec<String>,
    /// Keys that may sign its uploads.
    pub keys: Vec<ssh_key::PublicKey>,
    /// Subjects that named this account as delegate.
    pub may_post_for: BTreeSet<String>,
}

impl Account {
    /// Whether this account may read `subject`'s data (own subject or `read_any`).
    pub fn may_read(&self, subject: &str) -> bool {
        self.subject == subject || self.roles.contains(Roles::READ_ANY)
    }

    /// Whether this account may post a report for `subject`: its own, or as a delegate that
    /// also holds `append_any` (both conditions, as in the SCS monitor).
    pub fn may_post(&self, subject: &str) -> bool {
        self.subject == subject
            || (self.roles.contains(Roles::APPEND_ANY) && self.may_post_for.contains(subject))
    }
}

/// Why a request was not authenticated (always 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("Not authenticated")]
    Missing,
    /// Not `Basic base64(user:password)`.
    #[error("Invalid authentication credentials")]
    Malformed,
    /// Unknown user or wrong password (indistinguishable on purpose).
    #[error("Incorrect username or password")]
    Rejected,
}

const CACHE_LIMIT: usize = 10_000;

/// The accounts of one load of the bootstrap, with the verified-credential memory.
#[derive(Debug)]
pub struct Directory {
    accounts: HashMap<String, Arc<Account>>,
    groups: BTreeMap<String, Vec<String>>,
    dummy_hash: String,
    key: [u8; 32],
    verified: Mutex<HashMap<String, Vec<[u8; 32]>>>,
}

impl Directory {
    /// Builds the directory; hashes a dummy password at the highest cost in use (blocking work).
    pub fn new(accounts: Vec<Account>) -> Directory {
        let cost = accounts
            .iter()
            .flat_map(|a| a.api_keys.iter())
            .filter_map(|h| bcrypt_cost(h))
            .max()
            .unwrap_or(12);
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let dummy_hash =
            bcrypt::hash(hex_of(&random), cost).unwrap_or_else(|_| String::from("$2b$04$x"));
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for account in &accounts {
            if let Some(group) = &account.group {
                groups
                    .entry(group.clone())
                    .or_default()
                    .push(account.subject.clone());
            }
        }
        Directory {
            accounts: accounts
                .into_iter()
                .map(|a| (a.subject.clone(), Arc::new(a)))
                .collect(),
            groups,
            dummy_hash,
            key,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The account named `subject`.
    pub fn get(&self, subject: &str) -> Option<&Arc<Account>> {
        self.accounts.get(subject)
    }

    /// All account names, sorted.
    pub fn subjects(&self) -> Vec<String> {
        let mut s: Vec<String> = self.accounts.keys().cloned().collect();
        s.sort();
        s
    }

    /// Group name → member subjects (sorted by account order).
    pub fn groups(&self) -> &BTreeMap<String, Vec<String>> {
        &self.groups
    }

    /// Checks an `Authorization` header value. Runs bcrypt on a blocking thread when the
    /// credential is not remembered.
    pub async fn authenticate(
        self: &Arc<Self>,
        header: Option<&[u8]>,
    ) -> Result<Arc<Account>, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (user, password) = decode_basic(header).ok_or(AuthError::Malformed)?;
        let tag = self.tag(&user, &password);
        if let Some(account) = self.remembered(&user, &tag) {
            return Ok(account);
        }
        let this = Arc::clone(self);
        let user_for_check = user.clone();
        let ok = tokio::task::spawn_blocking(move || this.verify_slow(&user_for_check, &password))
            .await
            .unwrap_or(false);
        if !ok {
            return Err(AuthError::Rejected);
        }
        let account = self
            .accounts
            .get(&user)
            .cloned()
            .ok_or(AuthError::Rejected)?;
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.values().map(Vec::len).sum::<usize>() >= CACHE_LIMIT {
            verified.clear();
        }
        verified.entry(user).or_default().push(tag);
        Ok(account)
    }

    fn remembered(&self, user: &str, tag: &[u8; 32]) -> Option<Arc<Account>> {
        let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        let tags = verified.get(user)?;
        let mut hit = subtle::Choice::from(0);
        for known in tags {
            hit |= known.ct_eq(tag);
        }
        if bool::from(hit) {
            self.accounts.get(user).cloned()
        } else {
            None
        }
    }

    fn verify_slow(&self, user: &str, password: &str) -> bool {
        match self.accounts.get(user) {
            Some(account) if !account.api_keys.is_empty() => {
                // Try every hash (no early exit) so timing does not tell which one matched.
                let mut ok = false;
                for hash in &account.api_keys {
                    ok |=
                        is_supported_hash(hash) && bcrypt::verify(password, hash).unwrap_or(false);
                }
                ok
            }
            _ => {
                let _ = bcrypt::verify(password, &self.dummy_hash);
                false
            }
        }
    }

    fn tag(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Whether this monitor can verify the hash (bcrypt variants only).
pub fn is_supported_hash(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
}

fn bcrypt_cost(hash: &str) -> Option<u32> {
    if !is_supported_hash(hash) {
        return None;
    }
    hash.get(4..6)?.parse().ok()
}

fn decode_basic(header: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(header).ok()?;
    let (scheme, value) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(subject: &str, password: &str) -> Account {
        Account {
            subject: subject.into(),
            roles: Roles::default(),
            group: None,
            api_keys: vec![bcrypt::hash(password, 4).unwrap()],
            keys: vec![],
            may_post_for: BTreeSet::new(),
        }
    }

    fn basic(user: &str, password: &str) -> Vec<u8> {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {b}").into_bytes()
    }

    #[tokio::test]
    async fn accepts_right_password_and_remembers_it_and_rejects_others() {
        let dir = Arc::new(Directory::new(vec![account("a", "pw")]));
        assert_eq!(
            dir.authenticate(None).await.unwrap_err(),
            AuthError::Missing
        );
        assert_eq!(
            dir.authenticate(Some(b"Bearer x")).await.unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            dir.authenticate(Some(&basic("a", "nope")))
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
        assert_eq!(
            dir.authenticate(Some(&basic("ghost", "pw")))
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
        assert_eq!(
            dir.authenticate(Some(&basic("a", "pw")))
                .await
                .unwrap()
                .subject,
            "a"
        );
        assert!(dir.remembered("a", &dir.tag("a", "pw")).is_some());
        assert!(dir.remembered("a", &dir.tag("a", "pw2")).is_none());
        assert_eq!(
            dir.authenticate(Some(&basic("a", "pw")))
                .await
                .unwrap()
                .subject,
            "a"
        );
    }

    #[test]
    fn delegation_needs_append_any_too() {
        let mut zuul = account("zuul", "x");
        zuul.may_post_for.insert("a".into());
        assert!(!zuul.may_post("a"));
        zuul.roles = Roles::APPEND_ANY;
        assert!(zuul.may_post("a"));
        assert!(!zuul.may_post("b"));
        assert!(zuul.may_post("zuul"));
    }
}
