//! Accounts, roles and HTTP basic authentication.
//!
//! API keys are stored as password hashes: bcrypt (`$2a$`, `$2b$`, `$2y$`, `$2x$`) and argon2
//! PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`, also argon2i/argon2d), the two formats
//! the SCS monitor's bootstrap files use. Every hash of an account is tried (no early exit).
//!
//! A bcrypt check at cost 12 takes a few hundred milliseconds and an argon2 check at the SCS
//! parameters 64 MiB and about as long, so checking on every request would cap the monitor at
//! a handful of uploads per second. A successful check is therefore remembered as an HMAC
//! (random per-process key) of the presented credential, compared in constant time; the memory
//! is bounded and dropped on every reload (a new [`Directory`]). Concurrent requests that
//! present the same credential before it is remembered share one check (single flight), so a
//! burst of first logins costs one hash check, not one per request. Unknown users cost the same
//! hash work as known ones (a dummy hash), so response time does not reveal which accounts
//! exist.
//!
//! Hash checks are expensive on purpose, so floods of bad credentials must not be (INTEROP
//! §6.3.5). Two bounds apply before any hash work:
//! - [`HashGate`]: at most one check per CPU core runs at a time (on blocking threads), and at
//!   most [`HashGate::queue`] more wait; a request beyond that is answered 503 with
//!   `Retry-After` at once.
//! - per account name (known or not) and client address ([`Origin`]): after [`FREE_FAILURES`]
//!   failed checks in a row, further checks for that name from that address are refused with
//!   429 and `Retry-After` for a back-off that doubles with every further failure, up to
//!   [`MAX_BACKOFF`]. The back-off holds only the address that failed: an outsider guessing a
//!   provider's password does not lock the provider out, neither its remembered credential nor
//!   a correct password from its own address (after a restart, too). A correct password from the
//!   failing address itself has to wait the back-off out. Behind a reverse proxy every client has
//!   the proxy's address, so the back-off then holds the account for all of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

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
    /// Password hashes (bcrypt or argon2) of its API keys.
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

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header (401).
    #[error("Not authenticated")]
    Missing,
    /// Not `Basic base64(user:password)` (401).
    #[error("Invalid authentication credentials")]
    Malformed,
    /// Unknown user or wrong password, indistinguishable on purpose (401).
    #[error("Incorrect username or password")]
    Rejected,
    /// Too many failed checks for this account name: refused without checking (429).
    #[error("Too many failed logins for this account: retry in {retry_after} s")]
    Throttled {
        /// Seconds until the next check is allowed.
        retry_after: u64,
    },
    /// Every password-check slot is taken and the queue is full (503).
    #[error("Too many logins in progress: retry in a second")]
    Busy,
}

impl AuthError {
    /// Seconds for a `Retry-After` header, when the client should come back later.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::Throttled { retry_after } => Some(*retry_after),
            AuthError::Busy => Some(1),
            _ => None,
        }
    }
}

/// Failed checks in a row after which an account name is backed off.
pub const FREE_FAILURES: u32 = 5;
/// The first back-off; it doubles with every further failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Largest argon2 memory cost (KiB) a bootstrap hash may ask for (the SCS files use 65536).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

const CACHE_LIMIT: usize = 10_000;
const FAILURE_LIMIT: usize = 10_000;

/// Bounds the expensive hash checks of all requests: at most `slots` run at once, at most
/// `queue` more wait, the rest are refused. Shared by every [`Directory`] of a server, so a
/// reload does not reset it.
#[derive(Debug)]
pub struct HashGate {
    slots: Arc<tokio::sync::Semaphore>,
    capacity: usize,
    admitted: AtomicUsize,
    checks: AtomicU64,
    /// How many callers may wait for a slot.
    pub queue: usize,
}

impl HashGate {
    /// A gate with `slots` concurrent checks and `queue` waiting callers.
    pub fn new(slots: usize, queue: usize) -> HashGate {
        let slots = slots.max(1);
        HashGate {
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            capacity: slots + queue,
            admitted: AtomicUsize::new(0),
            checks: AtomicU64::new(0),
            queue,
        }
    }

    /// One slot per CPU core and 16 waiting callers per slot (at bcrypt cost 12, about four
    /// seconds of queue).
    pub fn for_this_machine() -> HashGate {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        HashGate::new(cores, 16 * cores)
    }

    /// Hash checks run so far (each may try several hashes of one account).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}

/// A caller admitted through a [`HashGate`] (waiting for or holding a slot); leaves on drop,
/// also when the request is cancelled.
struct Admission(Arc<HashGate>);

impl Admission {
    fn enter(gate: &Arc<HashGate>) -> Result<Admission, AuthError> {
        if gate.admitted.fetch_add(1, Ordering::AcqRel) >= gate.capacity {
            gate.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Busy);
        }
        Ok(Admission(Arc::clone(gate)))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where failed logins are counted from: the client's IPv4 address, or the /64 network of its
/// IPv6 address (one host usually holds a whole /64, so single IPv6 addresses would let it
/// dodge the back-off by changing address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin(IpAddr);

impl Origin {
    /// The origin of a request from `client`.
    pub fn of(client: IpAddr) -> Origin {
        match client {
            IpAddr::V4(v4) => Origin(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Origin(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !((1u128 << 64) - 1);
                    Origin(IpAddr::V6(network.into()))
                }
            },
        }
    }
}

/// A failure streak of one account name from one [`Origin`].
#[derive(Debug, Clone, Copy)]
struct Streak {
    failures: u32,
    blocked_until: Option<Instant>,
}

/// The check of one credential (by its tag) that concurrent requests wait for together: the
/// first caller runs it, the others share its outcome. A caller that gives up (Busy, or the
/// request was cancelled) leaves it unset, and the next waiter runs it instead.
type Flight = tokio::sync::OnceCell<bool>;

/// The accounts of one load of the bootstrap, with the verified-credential memory.
#[derive(Debug)]
pub struct Directory {
    accounts: HashMap<String, Arc<Account>>,
    groups: BTreeMap<String, Vec<String>>,
    dummy_hashes: Vec<String>,
    key: [u8; 32],
    verified: RwLock<HashMap<String, Vec<[u8; 32]>>>,
    streaks: Mutex<HashMap<(String, Origin), Streak>>,
    flights: Mutex<HashMap<[u8; 32], Arc<Flight>>>,
    gate: Arc<HashGate>,
}

impl Directory {
    /// Builds the directory; makes a dummy hash like the ones in use (blocking work).
    pub fn new(accounts: Vec<Account>, gate: Arc<HashGate>) -> Directory {
        let dummy_hashes = dummy_hashes(&accounts);
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
            dummy_hashes,
            key,
            verified: RwLock::new(HashMap::new()),
            streaks: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            gate,
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

    /// Checks an `Authorization` header value. A remembered credential costs one HMAC; any
    /// other passes the account's back-off and the [`HashGate`], then runs the hash checks on a
    /// blocking thread, once for all concurrent requests that present it (single flight).
    pub async fn authenticate(
        self: &Arc<Self>,
        header: Option<&[u8]>,
        client: IpAddr,
    ) -> Result<Arc<Account>, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (user, password) = decode_basic(header).ok_or(AuthError::Malformed)?;
        let tag = self.tag(&user, &password);
        if let Some(account) = self.remembered(&user, &tag) {
            return Ok(account);
        }
        let origin = Origin::of(client);
        self.check_backoff(&user, origin, Instant::now())?;
        // Single flight: concurrent requests with the same credential share one check.
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(flights.entry(tag).or_default())
        };
        let outcome = flight
            .get_or_try_init(|| self.verify_once(&user, password, tag, origin))
            .await
            .copied();
        {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            if flights.get(&tag).is_some_and(|f| Arc::ptr_eq(f, &flight)) && flight.initialized() {
                flights.remove(&tag);
            }
        }
        if !outcome? {
            return Err(AuthError::Rejected);
        }
        self.accounts.get(&user).cloned().ok_or(AuthError::Rejected)
    }

    /// One hash check of `user`'s `password` through the [`HashGate`], with its bookkeeping:
    /// the failure streak and, on success, the remembered tag.
    async fn verify_once(
        self: &Arc<Self>,
        user: &str,
        password: String,
        tag: [u8; 32],
        origin: Origin,
    ) -> Result<bool, AuthError> {
        let admission = Admission::enter(&self.gate)?;
        let permit = Arc::clone(&self.gate.slots)
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Busy)?;
        self.gate.checks.fetch_add(1, Ordering::Relaxed);
        let this = Arc::clone(self);
        let name = user.to_string();
        // The slot and the admission move into the blocking task: a cancelled request does not
        // free them before the hash work it started is done.
        let ok = tokio::task::spawn_blocking(move || {
            let _held = (permit, admission);
            this.verify_slow(&name, &password)
        })
        .await
        .unwrap_or(false);
        if !ok || !self.accounts.contains_key(user) {
            self.record_failure(user, origin, Instant::now());
            return Ok(false);
        }
        self.record_success(user, origin);
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.values().map(Vec::len).sum::<usize>() >= CACHE_LIMIT {
            verified.clear();
        }
        verified.entry(user.to_string()).or_default().push(tag);
        Ok(true)
    }

    fn remembered(&self, user: &str, tag: &[u8; 32]) -> Option<Arc<Account>> {
        let verified = self.verified.read().unwrap_or_else(|e| e.into_inner());
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

    /// 429 while `user` is backed off for `origin` at `now`.
    fn check_backoff(&self, user: &str, origin: Origin, now: Instant) -> Result<(), AuthError> {
        let streaks = self.streaks.lock().unwrap_or_else(|e| e.into_inner());
        match streaks
            .get(&(user.to_string(), origin))
            .and_then(|s| s.blocked_until)
        {
            Some(until) if until > now => {
                let left = until - now;
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                Err(AuthError::Throttled {
                    retry_after: secs.max(1),
                })
            }
            _ => Ok(()),
        }
    }

    fn record_failure(&self, user: &str, origin: Origin, now: Instant) {
        let key = (user.to_string(), origin);
        let mut streaks = self.streaks.lock().unwrap_or_else(|e| e.into_inner());
        if streaks.len() >= FAILURE_LIMIT && !streaks.contains_key(&key) {
            // Forget the streaks that no longer block anything; if all still do, start over.
            streaks.retain(|_, s| s.blocked_until.is_some_and(|t| t > now));
            if streaks.len() >= FAILURE_LIMIT {
                streaks.clear();
            }
        }
        let streak = streaks.entry(key).or_insert(Streak {
            failures: 0,
            blocked_until: None,
        });
        streak.failures = streak.failures.saturating_add(1);
        if streak.failures >= FREE_FAILURES {
            let doublings = (streak.failures - FREE_FAILURES).min(16);
            let backoff = FIRST_BACKOFF
                .saturating_mul(1u32 << doublings)
                .min(MAX_BACKOFF);
            streak.blocked_until = Some(now + backoff);
        }
    }

    fn record_success(&self, user: &str, origin: Origin) {
        self.streaks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(user.to_string(), origin));
    }

    fn verify_slow(&self, user: &str, password: &str) -> bool {
        match self.accounts.get(user) {
            Some(account) if !account.api_keys.is_empty() => {
                // Try every hash (no early exit) so timing does not tell which one matched.
                let mut ok = false;
                for hash in &account.api_keys {
                    ok |= verify_hash(password, hash);
                }
                ok
            }
            _ => {
                for hash in &self.dummy_hashes {
                    let _ = verify_hash(password, hash);
                }
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

/// The kind of an API-key hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// `$2a$`, `$2b$`, `$2y$`, `$2x$`.
    Bcrypt,
    /// `$argon2id$`, `$argon2i$`, `$argon2d$` PHC strings.
    Argon2,
}

/// The kind of `hash`, or `None` for a format this monitor cannot verify.
pub fn hash_kind(hash: &str) -> Option<HashKind> {
    if ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
    {
        Some(HashKind::Bcrypt)
    } else if ["$argon2id$", "$argon2i$", "$argon2d$"]
        .iter()
        .any(|p| hash.starts_with(p))
    {
        Some(HashKind::Argon2)
    } else {
        None
    }
}

/// Whether this monitor can verify the hash (bcrypt or argon2).
pub fn is_supported_hash(hash: &str) -> bool {
    hash_kind(hash).is_some()
}

/// Checks that an API-key hash can be verified here; the message says what is wrong.
pub fn check_hash(hash: &str) -> Result<(), String> {
    match hash_kind(hash) {
        Some(HashKind::Bcrypt) => bcrypt_cost(hash).map(|_| ()).ok_or_else(|| {
            "a bcrypt hash must look like $2b$12$ followed by 53 characters".to_string()
        }),
        Some(HashKind::Argon2) => {
            let params = argon2_params(hash)?;
            if params.m_cost() > MAX_ARGON2_MEMORY_KIB {
                return Err(format!(
                    "the argon2 hash asks for {} KiB of memory per check; this monitor allows at \
                     most {MAX_ARGON2_MEMORY_KIB} KiB (re-hash with m=65536)",
                    params.m_cost()
                ));
            }
            Ok(())
        }
        None => Err(
            "unsupported password hash format: use bcrypt ($2b$…) or argon2 ($argon2id$…)".into(),
        ),
    }
}

fn argon2_params(hash: &str) -> Result<argon2::Params, String> {
    let parsed = argon2::PasswordHash::new(hash)
        .map_err(|e| format!("not a valid argon2 PHC string: {e}"))?;
    argon2::Params::try_from(&parsed).map_err(|e| format!("invalid argon2 parameters: {e}"))
}

/// Whether `password` matches `hash` (false for malformed or unsupported hashes).
pub fn verify_hash(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier as _;
    match hash_kind(hash) {
        Some(HashKind::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        Some(HashKind::Argon2) => {
            let within_limit =
                argon2_params(hash).is_ok_and(|p| p.m_cost() <= MAX_ARGON2_MEMORY_KIB);
            within_limit
                && argon2::Argon2::default()
                    .verify_password(password.as_bytes(), hash)
                    .is_ok()
        }
        None => false,
    }
}

/// The dummy hashes an unknown user is checked against: one of the kind most accounts use, as
/// expensive as the most expensive hash of that kind in use (bcrypt cost 12 without accounts).
fn dummy_hashes(accounts: &[Account]) -> Vec<String> {
    let hashes: Vec<&String> = accounts.iter().flat_map(|a| a.api_keys.iter()).collect();
    let argon = hashes
        .iter()
        .filter(|h| hash_kind(h) == Some(HashKind::Argon2))
        .count();
    let bcrypt_count = hashes
        .iter()
        .filter(|h| hash_kind(h) == Some(HashKind::Bcrypt))
        .count();
    let mut random = [0u8; 32];
    rand::fill(&mut random);
    let secret = hex_of(&random);
    if argon > bcrypt_count {
        let params = hashes
            .iter()
            .filter_map(|h| argon2_params(h).ok())
            .filter(|p| p.m_cost() <= MAX_ARGON2_MEMORY_KIB)
            .max_by_key(|p| u64::from(p.m_cost()) * u64::from(p.t_cost()));
        if let Some(params) = params {
            use argon2::PasswordHasher as _;
            let mut salt = [0u8; 16];
            rand::fill(&mut salt);
            let hasher =
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            if let Ok(hash) = hasher.hash_password_with_salt(secret.as_bytes(), &salt) {
                return vec![hash.to_string()];
            }
        }
    }
    let cost = hashes
        .iter()
        .filter_map(|h| bcrypt_cost(h))
        .max()
        .unwrap_or(12);
    vec![bcrypt::hash(&secret, cost).unwrap_or_else(|_| String::from("$2b$04$x"))]
}

fn bcrypt_cost(hash: &str) -> Option<u32> {
    if hash_kind(hash) != Some(HashKind::Bcrypt) || hash.len() != 60 {
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
    let mut decoded = String::from_utf8(decoded).ok()?;
    let colon = decoded.find(':')?;
    let password = decoded.split_off(colon + 1);
    decoded.truncate(colon);
    Some((decoded, password))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

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

    fn gate() -> Arc<HashGate> {
        Arc::new(HashGate::new(2, 8))
    }

    fn basic(user: &str, password: &str) -> Vec<u8> {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {b}").into_bytes()
    }

    /// An argon2id PHC string made here, with small parameters (the format passlib writes).
    fn argon2_hash(password: &str) -> String {
        use argon2::PasswordHasher as _;
        let params = argon2::Params::new(256, 2, 1, None).unwrap();
        let hasher =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        hasher
            .hash_password_with_salt(password.as_bytes(), b"0123456789abcdef")
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn accepts_right_password_and_remembers_it_and_rejects_others() {
        let dir = Arc::new(Directory::new(vec![account("a", "pw")], gate()));
        assert_eq!(
            dir.authenticate(None, HERE).await.unwrap_err(),
            AuthError::Missing
        );
        assert_eq!(
            dir.authenticate(Some(b"Bearer x"), HERE).await.unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            dir.authenticate(Some(&basic("a", "nope")), HERE)
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
        assert_eq!(
            dir.authenticate(Some(&basic("ghost", "pw")), HERE)
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
        assert_eq!(
            dir.authenticate(Some(&basic("a", "pw")), HERE)
                .await
                .unwrap()
                .subject,
            "a"
        );
        assert!(dir.remembered("a", &dir.tag("a", "pw")).is_some());
        assert!(dir.remembered("a", &dir.tag("a", "pw2")).is_none());
        let checks = dir.gate.checks();
        assert_eq!(
            dir.authenticate(Some(&basic("a", "pw")), HERE)
                .await
                .unwrap()
                .subject,
            "a"
        );
        assert_eq!(
            dir.gate.checks(),
            checks,
            "a remembered login costs no hash check"
        );
    }

    #[tokio::test]
    async fn argon2_hashes_verify_like_bcrypt_ones() {
        let hash = argon2_hash("s3cret");
        assert!(hash.starts_with("$argon2id$v=19$m=256,t=2,p=1$"), "{hash}");
        assert_eq!(hash_kind(&hash), Some(HashKind::Argon2));
        check_hash(&hash).unwrap();
        assert!(verify_hash("s3cret", &hash));
        assert!(!verify_hash("s3cret!", &hash));
        // An account with one bcrypt and one argon2 key logs in with either password.
        let mut both = account("b", "old");
        both.api_keys.push(hash);
        let dir = Arc::new(Directory::new(vec![both], gate()));
        for password in ["old", "s3cret"] {
            let who = dir
                .authenticate(Some(&basic("b", password)), HERE)
                .await
                .unwrap();
            assert_eq!(who.subject, "b");
        }
        assert_eq!(
            dir.authenticate(Some(&basic("b", "neither")), HERE)
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
        // Mostly argon2 accounts: unknown users are checked against an argon2 dummy.
        let mut c = account("c", "x");
        c.api_keys = vec![argon2_hash("x")];
        let dummies = dummy_hashes(&[c]);
        assert_eq!(
            hash_kind(&dummies[0]),
            Some(HashKind::Argon2),
            "{dummies:?}"
        );
        assert!(dummies[0].contains("m=256,t=2,p=1"), "{dummies:?}");
    }

    #[test]
    fn unusable_hashes_are_named() {
        assert!(
            check_hash("$1$abc$def")
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(check_hash("plaintext").unwrap_err().contains("unsupported"));
        assert!(check_hash("$2b$12$short").unwrap_err().contains("bcrypt"));
        assert!(
            check_hash("$argon2id$v=19$garbage")
                .unwrap_err()
                .contains("argon2")
        );
        let huge = "$argon2id$v=19$m=4194304,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$\
                    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(
            check_hash(huge).unwrap_err().contains("KiB"),
            "{:?}",
            check_hash(huge)
        );
        assert!(!verify_hash("x", huge));
    }

    #[tokio::test]
    async fn repeated_failures_back_off_without_hash_work() {
        let dir = Arc::new(Directory::new(vec![account("a", "pw")], gate()));
        // Remember the right password first: it must keep working during the back-off.
        dir.authenticate(Some(&basic("a", "pw")), HERE)
            .await
            .unwrap();
        for _ in 0..FREE_FAILURES {
            assert_eq!(
                dir.authenticate(Some(&basic("a", "guess")), HERE)
                    .await
                    .unwrap_err(),
                AuthError::Rejected
            );
        }
        let checks = dir.gate.checks();
        let err = dir
            .authenticate(Some(&basic("a", "guess")), HERE)
            .await
            .unwrap_err();
        assert_eq!(err, AuthError::Throttled { retry_after: 1 });
        assert_eq!(err.retry_after(), Some(1));
        assert_eq!(
            dir.gate.checks(),
            checks,
            "a backed-off name costs no hash check"
        );
        assert!(
            dir.authenticate(Some(&basic("a", "pw")), HERE)
                .await
                .is_ok()
        );
        // Unknown names back off too; other names are unaffected.
        for _ in 0..FREE_FAILURES {
            let _ = dir.authenticate(Some(&basic("ghost", "x")), HERE).await;
        }
        assert!(matches!(
            dir.authenticate(Some(&basic("ghost", "x")), HERE).await,
            Err(AuthError::Throttled { .. })
        ));
        assert_eq!(
            dir.authenticate(Some(&basic("ghost2", "x")), HERE)
                .await
                .unwrap_err(),
            AuthError::Rejected
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_limit_and_expires() {
        let dir = Directory::new(vec![], gate());
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(dir.check_backoff("a", Origin::of(HERE), t0).is_ok());
            dir.record_failure("a", Origin::of(HERE), t0);
        }
        assert_eq!(
            dir.check_backoff("a", Origin::of(HERE), t0),
            Err(AuthError::Throttled { retry_after: 1 })
        );
        assert!(
            dir.check_backoff("a", Origin::of(HERE), t0 + FIRST_BACKOFF)
                .is_ok()
        );
        dir.record_failure("a", Origin::of(HERE), t0);
        assert_eq!(
            dir.check_backoff("a", Origin::of(HERE), t0),
            Err(AuthError::Throttled { retry_after: 2 })
        );
        for _ in 0..40 {
            dir.record_failure("a", Origin::of(HERE), t0);
        }
        assert_eq!(
            dir.check_backoff("a", Origin::of(HERE), t0),
            Err(AuthError::Throttled {
                retry_after: MAX_BACKOFF.as_secs()
            })
        );
        assert!(
            dir.check_backoff("a", Origin::of(HERE), t0 + MAX_BACKOFF)
                .is_ok()
        );
        dir.record_success("a", Origin::of(HERE));
        assert!(dir.check_backoff("a", Origin::of(HERE), t0).is_ok());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let gate = Arc::new(HashGate::new(1, 2));
        let dir = Arc::new(Directory::new(vec![account("a", "pw")], Arc::clone(&gate)));
        // Occupy the only slot, so callers queue behind it.
        let held = gate.slots.acquire().await.unwrap();
        let headers: Vec<Vec<u8>> = (0..5).map(|i| basic(&format!("u{i}"), "x")).collect();
        let calls = headers.iter().map(|h| dir.authenticate(Some(h), HERE));
        let waiting = futures_join_all(calls, held);
        let results = waiting.await;
        let busy = results
            .iter()
            .filter(|r| **r == Err(AuthError::Busy))
            .count();
        let rejected = results
            .iter()
            .filter(|r| **r == Err(AuthError::Rejected))
            .count();
        // One slot + two queue places: three were admitted (and rejected after their check),
        // two were refused without any hash work.
        assert_eq!((busy, rejected), (2, 3), "{results:?}");
        assert_eq!(gate.checks(), 3);
        assert_eq!(gate.admitted.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn failures_back_off_only_the_address_they_came_from() {
        let dir = Arc::new(Directory::new(vec![account("a", "pw")], gate()));
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            let r = dir.authenticate(Some(&basic("a", "guess")), outsider).await;
            assert_eq!(r.unwrap_err(), AuthError::Rejected);
        }
        // The outsider is held back, even with the right password ...
        let r = dir.authenticate(Some(&basic("a", "pw")), outsider).await;
        assert!(matches!(r, Err(AuthError::Throttled { .. })), "{r:?}");
        // ... the provider's own address is not, although its password was never remembered.
        let who = dir
            .authenticate(Some(&basic("a", "pw")), HERE)
            .await
            .unwrap();
        assert_eq!(who.subject, "a");
        // One IPv6 host holds a /64: its addresses share one streak; IPv4-mapped is IPv4.
        let v6 = |s: &str| Origin::of(s.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2::1"), v6("2001:db8:1:2:ffff::9"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        assert_eq!(v6("::ffff:203.0.113.9"), Origin::of(outsider));
    }

    #[tokio::test]
    async fn a_burst_with_one_new_credential_checks_it_once() {
        let gate = Arc::new(HashGate::new(1, 32));
        let dir = Arc::new(Directory::new(
            vec![account("a", "pw"), account("b", "pw")],
            Arc::clone(&gate),
        ));
        // Hold the only slot, so all 16 requests are in flight together before any check runs.
        let held = gate.slots.acquire().await.unwrap();
        let right = basic("a", "pw");
        let results =
            futures_join_all((0..16).map(|_| dir.authenticate(Some(&right), HERE)), held).await;
        assert!(
            results.iter().all(|r| r.as_deref() == Ok("a")),
            "{results:?}"
        );
        assert_eq!(gate.checks(), 1, "the waiters shared the first check");
        // A burst of one wrong password is one check and one failure, not sixteen.
        let held = gate.slots.acquire().await.unwrap();
        let wrong = basic("b", "guess");
        let results =
            futures_join_all((0..16).map(|_| dir.authenticate(Some(&wrong), HERE)), held).await;
        assert!(
            results.iter().all(|r| *r == Err(AuthError::Rejected)),
            "{results:?}"
        );
        assert_eq!(gate.checks(), 2);
        // Different credentials are not merged: each is checked.
        let held = gate.slots.acquire().await.unwrap();
        let other = basic("b", "pw");
        let calls = [&right, &other, &wrong].map(|h| dir.authenticate(Some(h), HERE));
        let results = futures_join_all(calls.into_iter(), held).await;
        assert_eq!(results[0].as_deref(), Ok("a"), "remembered: no check");
        assert_eq!(results[1].as_deref(), Ok("b"));
        assert_eq!(results[2], Err(AuthError::Rejected));
        assert_eq!(gate.checks(), 4);
        assert!(
            dir.flights.lock().unwrap().is_empty(),
            "finished flights are dropped"
        );
    }

    /// Polls every call once (so the admitted ones queue and the rest are refused), then frees
    /// the held slot and drives them all to completion.
    async fn futures_join_all<'a, F>(
        calls: impl Iterator<Item = F>,
        held: tokio::sync::SemaphorePermit<'a>,
    ) -> Vec<Result<String, AuthError>>
    where
        F: std::future::Future<Output = Result<Arc<Account>, AuthError>>,
    {
        let mut calls: Vec<std::pin::Pin<Box<F>>> = calls.map(Box::pin).collect();
        let mut done: Vec<Option<Result<String, AuthError>>> = vec![None; calls.len()];
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        for (i, call) in calls.iter_mut().enumerate() {
            if let std::task::Poll::Ready(r) = call.as_mut().poll(&mut cx) {
                done[i] = Some(r.map(|a| a.subject.clone()));
            }
        }
        drop(held);
        for (i, call) in calls.into_iter().enumerate() {
            if done[i].is_none() {
                done[i] = Some(call.await.map(|a| a.subject.clone()));
            }
        }
        done.into_iter().map(Option::unwrap).collect()
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
