//! The HTTPS server: start-up, the accept loop, and the handle ([`RunningSim`]) callers keep.
//!
//! ```no_run
//! # async fn demo(config: scs_kaas_sim::world::SimConfig) -> anyhow::Result<()> {
//! let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse()?).await?;
//! let yaml = sim.kubeconfig_yaml("admin");
//! // build a kube::Client from `yaml` ...
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod apply;
mod exec;
mod log_follow;
mod route;
mod scale;
mod service_accounts;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::resources::{RESOURCES, by_kind};
use crate::store::{DEFAULT_HISTORY, Store};
use crate::world::{ObjectSource, Permission, SimConfig, User};

/// State shared by all connections, watches and the controller runner.
pub struct Shared {
    store: RwLock<Store>,
    /// Scenario users.
    pub users: Vec<User>,
    /// What `/version` reports.
    pub git_version: String,
    /// Carries the latest resourceVersion; watches wait on it.
    pub rv_tx: tokio::sync::watch::Sender<u64>,
    /// Carries the count of container log appends; log followers wait on it.
    pub log_tx: tokio::sync::watch::Sender<u64>,
    /// Kinds changed by a write, for the controller runner.
    wake_tx: Option<std::sync::mpsc::Sender<Vec<&'static str>>>,
    /// Cancelled when the server stops.
    pub shutdown: CancellationToken,
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// ServiceAccount tokens issued by TokenRequest.
    pub tokens: crate::tokens::Tokens,
}

impl Shared {
    /// Read access to the store (never held across an await).
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write to the store, then wake watches and controllers if something was committed.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
        let logs_before = store.log_seq();
        let out = f(&mut store);
        let dirty = store.take_dirty();
        let rv = store.rv();
        let logs = store.log_seq();
        drop(store);
        if logs != logs_before {
            self.log_tx.send_replace(logs);
        }
        if !dirty.is_empty() {
            self.rv_tx.send_replace(rv);
            if let Some(tx) = &self.wake_tx {
                let _ = tx.send(dirty);
            }
        }
        out
    }

    /// Stop: cancel connections and watches, and wake the controller runner so it sees it.
    fn stop(&self) {
        self.shutdown.cancel();
        if let Some(tx) = &self.wake_tx {
            let _ = tx.send(Vec::new());
        }
    }
}

/// A running simulated cluster. Dropping it (or [`RunningSim::shutdown`]) stops the server.
pub struct RunningSim {
    addr: SocketAddr,
    ca_pem: String,
    name: String,
    users: Vec<User>,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Store the initial objects: the namespaces of `objects`, then everything `source` makes
/// (each object serialized and dropped as soon as it is made), then the rest of `objects`, so
/// that namespaced objects find their namespace.
fn load(
    store: &mut Store,
    objects: Vec<serde_json::Value>,
    source: Option<&dyn ObjectSource>,
) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let mut count = 0usize;
    let mut put = |obj: serde_json::Value| -> anyhow::Result<()> {
        count += 1;
        let kind = obj.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let name = obj
            .pointer("/metadata/name")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let res = by_kind(kind).with_context(|| {
            format!("initial object #{count} ({name:?}) has kind {kind:?}, which the simulator does not serve")
        })?;
        store.create_initial(res, obj, now).map_err(|e| {
            anyhow::anyhow!(
                "initial {} {name:?} is not acceptable: {}",
                RESOURCES[res].kind,
                e.message
            )
        })?;
        Ok(())
    };
    let (namespaces, others): (Vec<_>, Vec<_>) = objects
        .into_iter()
        .partition(|o| o.get("kind").and_then(|k| k.as_str()) == Some("Namespace"));
    for obj in namespaces {
        put(obj)?;
    }
    if let Some(source) = source {
        let mut failed = None;
        source.emit(&mut |obj| {
            if failed.is_none()
                && let Err(err) = put(obj)
            {
                failed = Some(err);
            }
        });
        if let Some(err) = failed {
            return Err(err);
        }
    }
    for obj in others {
        put(obj)?;
    }
    store.compact();
    store.take_dirty();
    Ok(())
}

/// Tuning knobs beyond the scenario; [`Options::default`] is what `sim serve` uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// Changes kept for watches and continue tokens; older starts get 410 Expired.
    pub history: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history: DEFAULT_HISTORY,
        }
    }
}

/// Start serving `config` over HTTPS on `listen` (port 0 picks a free port). Returns once the
/// socket is bound and the initial objects are loaded, so clients can connect right away.
pub async fn start(config: SimConfig, listen: SocketAddr) -> anyhow::Result<RunningSim> {
    start_with(config, listen, Options::default()).await
}

/// [`start`] with explicit [`Options`] (tests use a short history to reach 410 Expired).
pub async fn start_with(
    config: SimConfig,
    listen: SocketAddr,
    options: Options,
) -> anyhow::Result<RunningSim> {
    let tls = crate::tls::generate(&config.name).context("cannot generate the TLS certificates")?;
    let mut store = Store::new(options.history);
    let SimConfig {
        name,
        git_version,
        users,
        objects,
        source,
        controllers,
        added_finalizers,
    } = config;
    load(&mut store, objects, source.as_deref())?;
    for added in added_finalizers {
        let res = crate::resources::by_kind(&added.kind)
            .with_context(|| format!("kind {:?} is not served by the simulator", added.kind))?;
        store.add_finalizer_on_create(res, added.finalizer);
    }
    drop(source);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let (rv_tx, _) = tokio::sync::watch::channel(store.rv());
    let (log_tx, _) = tokio::sync::watch::channel(store.log_seq());
    let (wake_tx, wake_rx) = if controllers.is_empty() {
        (None, None)
    } else {
        let (tx, rx) = std::sync::mpsc::channel();
        (Some(tx), Some(rx))
    };
    let shared = Arc::new(Shared {
        store: RwLock::new(store),
        users: users.clone(),
        git_version,
        rv_tx,
        log_tx,
        wake_tx,
        shutdown: CancellationToken::new(),
        addr,
        tokens: Default::default(),
    });
    if let Some(rx) = wake_rx {
        crate::runner::spawn(Arc::clone(&shared), controllers, rx)?;
    }
    let acceptor = TlsAcceptor::from(tls.config);
    let task = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&shared)));
    tracing::info!("simulated cluster {name:?} serving on https://{addr}");
    Ok(RunningSim {
        addr,
        ca_pem: tls.ca_pem,
        name,
        users,
        shared,
        task: Some(task),
    })
}

/// Accept one connection, with `TCP_NODELAY` set as the Go runtime (and so kube-apiserver)
/// does: the end of a response must not wait in Nagle's algorithm for the client's (delayed)
/// acknowledgement of the previous segment, a stall of up to 40 ms per request-response round
/// trip, e.g. per page of a paged list.
async fn accept(listener: &TcpListener) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    let (tcp, peer) = listener.accept().await?;
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY on the connection from {peer}: {err}");
    }
    Ok((tcp, peer))
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = accept(&listener) => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let token = shared.shutdown.clone();
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(err)) => {
                        tracing::debug!("TLS handshake with {peer} failed: {err}");
                        return;
                    }
                    Err(_) => return,
                };
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, std::convert::Infallible>(api::handle(shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades();
            tokio::select! {
                _ = token.cancelled() => {}
                result = conn => {
                    if let Err(err) = result {
                        tracing::debug!("connection from {peer} ended: {err}");
                    }
                }
            }
        });
    }
}

impl RunningSim {
    /// The bound address (with the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>`: what clients connect to.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig with a context per scenario user, `user`'s being current.
    pub fn kubeconfig_yaml(&self, user: &str) -> String {
        let users: Vec<&User> = self.users.iter().collect();
        crate::kubeconfig::render(&self.name, &self.url(), &self.ca_pem, &users, user)
    }

    /// The first admin user's name (the kubeconfig's default context), if any.
    pub fn first_admin(&self) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.permission == Permission::Admin)
            .or(self.users.first())
            .map(|u| u.name.as_str())
    }

    /// Write the kubeconfig (current context: the first admin) as a secret file (it holds
    /// bearer tokens): mode 0600, atomically, never through a symbolic link
    /// ([`scs_kaas_core::secret_file`]).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        self.write_kubeconfig_for(path, self.first_admin().unwrap_or(""))
    }

    /// [`RunningSim::write_kubeconfig`] with `user`'s context as the current one.
    pub fn write_kubeconfig_for(&self, path: &Path, user: &str) -> std::io::Result<()> {
        let yaml = self.kubeconfig_yaml(user);
        scs_kaas_core::secret_file::write(path, yaml.as_bytes())?;
        Ok(())
    }

    /// Number of objects of `kind` currently stored (for demos and benchmarks).
    pub fn count(&self, kind: &str) -> usize {
        by_kind(kind)
            .map(|res| self.shared.read().table(res).len())
            .unwrap_or(0)
    }

    /// Kinds served, as `(apiVersion, kind)`, for showing what the sim offers.
    pub fn served_kinds() -> Vec<(String, &'static str)> {
        RESOURCES
            .iter()
            .map(|r| (r.api_version(), r.kind))
            .collect()
    }

    /// Stop serving and wait for the accept loop to end.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_send_without_nagle_delay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(!client.nodelay().unwrap(), "sockets start with Nagle on");
        let (tcp, peer) = accept(&listener).await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(tcp.nodelay().unwrap());
    }
}
