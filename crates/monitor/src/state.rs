//! The server state: database, clock, the swappable snapshot of accounts and scopes, the result
//! cache, the writer and the metrics.
//!
//! A reload (SIGHUP or `POST /admin/reload`) builds a complete new snapshot first and swaps it in
//! only when every step succeeded, so a broken bootstrap or scope file leaves the running state
//! untouched. It runs in an ordinary task, never inside a signal handler (INTEROP §6.4.5).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;

use crate::auth::{Directory, HashGate};
use crate::body::{BodyBudget, Limits};
use crate::bootstrap::{self, Bootstrap};
use crate::clock::Clock;
use crate::db::Db;
use crate::latest::Latest;
use crate::metrics::Metrics;
use crate::scopes::{Catalogue, ScopeInfo};
use crate::views::Templates;
use crate::writer::Writer;

/// Loads the scopes to evaluate against (called at start-up and on every reload).
pub type ScopeLoader = Arc<dyn Fn() -> anyhow::Result<Vec<ScopeInfo>> + Send + Sync>;

/// How to start the monitor.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://FILE` or `postgres://…`.
    pub db_url: String,
    /// The bootstrap YAML.
    pub bootstrap: PathBuf,
    /// Prefix for generated links, ending in `/`.
    pub base_url: String,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Header/body timeouts and the memory of bodies in flight.
    pub limits: Limits,
    /// Scope source.
    pub scopes: ScopeLoader,
    /// Time source.
    pub clock: Arc<dyn Clock>,
}

/// Accounts and scopes of one (re)load.
#[derive(Debug)]
pub struct Snapshot {
    /// Accounts and the credential memory.
    pub directory: Arc<Directory>,
    /// Loaded scopes.
    pub scopes: Arc<Catalogue>,
}

/// Everything a request handler needs.
pub struct AppState {
    /// The database.
    pub db: Db,
    /// "Now".
    pub clock: Arc<dyn Clock>,
    /// Newest results (see `latest.rs`).
    pub latest: Arc<Latest>,
    /// The writer task.
    pub writer: Writer,
    /// Counters.
    pub metrics: Metrics,
    /// Compiled templates.
    pub templates: Templates,
    /// Link prefix ending in `/`.
    pub base_url: String,
    /// Body limit in bytes.
    pub body_limit: usize,
    /// Header/body timeouts and the memory of bodies in flight.
    pub limits: Limits,
    /// The memory request bodies in flight share (see `body.rs`).
    pub body_budget: BodyBudget,
    /// Bounds the password-hash checks of all requests (survives reloads).
    pub hash_gate: Arc<HashGate>,
    snapshot: RwLock<Arc<Snapshot>>,
    bootstrap_path: PathBuf,
    loader: ScopeLoader,
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Connects, migrates, imports the bootstrap, loads scopes and the result cache.
    pub async fn start(config: Config) -> anyhow::Result<Arc<AppState>> {
        let db = Db::connect(&config.db_url).await?;
        let hash_gate = Arc::new(HashGate::for_this_machine());
        let snapshot = build_snapshot(&db, &config.bootstrap, &config.scopes, &hash_gate).await?;
        let since = config
            .clock
            .now_utc()
            .saturating_sub(jiff::Span::new().days(800));
        let latest = Arc::new(Latest::default());
        db.latest_results(since, |record| latest.offer_record(&record))
            .await?;
        let writer = Writer::spawn(&db, Arc::clone(&latest))?;
        db.spawn_checkpointer(writer.commit_counter());
        let mut base_url = config.base_url.clone();
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        Ok(Arc::new(AppState {
            db,
            clock: config.clock,
            latest,
            writer,
            metrics: Metrics::new(crate::server::ROUTES),
            templates: Templates::new()?,
            base_url,
            body_limit: config.body_limit,
            limits: config.limits,
            body_budget: BodyBudget::new(config.limits.body_memory),
            hash_gate,
            snapshot: RwLock::new(Arc::new(snapshot)),
            bootstrap_path: config.bootstrap,
            loader: config.scopes,
            reload_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The current accounts and scopes.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Re-reads the bootstrap file and the scopes; swaps them in only if all succeeded.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _guard = self.reload_lock.lock().await;
        let snapshot = build_snapshot(
            &self.db,
            &self.bootstrap_path,
            &self.loader,
            &self.hash_gate,
        )
        .await?;
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        tracing::info!("reloaded bootstrap and scopes");
        Ok(())
    }
}

async fn build_snapshot(
    db: &Db,
    bootstrap_path: &std::path::Path,
    loader: &ScopeLoader,
    gate: &Arc<HashGate>,
) -> anyhow::Result<Snapshot> {
    let loader = Arc::clone(loader);
    let scopes = tokio::task::spawn_blocking(move || loader())
        .await
        .context("the scope loader panicked")?
        .context("cannot load the scopes")?;
    let scopes = Catalogue::new(scopes)?;
    let boot = Bootstrap::load(bootstrap_path)?;
    bootstrap::import(db, &boot).await?;
    let accounts = bootstrap::load_accounts(db).await?;
    let gate = Arc::clone(gate);
    let directory = tokio::task::spawn_blocking(move || Directory::new(accounts, gate))
        .await
        .context("building the account directory panicked")?;
    Ok(Snapshot {
        directory: Arc::new(directory),
        scopes: Arc::new(scopes),
    })
}
