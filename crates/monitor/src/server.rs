//! The router, request metrics and logging, the SIGHUP reload task and the serve loop (with
//! header timeouts and client addresses).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::api;
use crate::state::AppState;
use crate::views;

/// Every route pattern of [`router`] with its methods: the metrics keep counters per route, and
/// a test checks that each JSON route is described in the OpenAPI document.
pub const ROUTES: &[&str] = &[
    "/",
    "/reports",
    "/reports/{uuid}",
    "/status",
    "/results",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/history/{subject}",
    "/admin/reload",
    "/badge/{subject}/{scope}",
    "/{vt}/{view}",
    "/{vt}/scope/{scope}",
    "/{vt}/{view}/{uuid}",
    "/{vt}/{view}/{subject}/{scope}",
];

/// The monitor's routes (INTEROP §4.3 plus badges, history, metrics, OpenAPI, reload).
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.body_limit;
    Router::new()
        .route("/", get(root))
        .route("/reports", post(api::post_reports).get(api::list_reports))
        .route("/reports/{uuid}", get(api::get_report))
        .route("/status", get(api::status))
        .route("/results", get(api::get_results).post(api::post_results))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/history/{subject}", get(api::history))
        .route("/admin/reload", post(api::reload))
        .route("/badge/{subject}/{scope}", get(views::badge))
        .route("/{vt}/{view}", get(views::table))
        .route("/{vt}/scope/{scope}", get(views::scope))
        .route("/{vt}/{view}/{uuid}", get(views::report))
        .route("/{vt}/{view}/{subject}/{scope}", get(views::detail))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), track))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn root(State(state): State<Arc<AppState>>) -> Response {
    Redirect::temporary(&format!("{}page/table", state.base_url)).into_response()
}

async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let route = route.as_ref().map(MatchedPath::as_str);
    state.metrics.request(route, &method, status, elapsed);
    tracing::info!(
        target: "scs_kaas_monitor::access",
        method = method.as_str(),
        route = route.unwrap_or(crate::metrics::UNMATCHED),
        status,
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Reloads on every SIGHUP, in a task (never inside the signal handler); errors keep the old
/// state and are logged.
pub fn spawn_sighup_reload(state: Arc<AppState>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if let Err(err) = state.reload().await {
                tracing::error!(error = format!("{err:#}"), "reload failed; old state kept");
            }
        }
    });
    Ok(())
}

/// Serves on `listener` until SIGINT/SIGTERM.
pub async fn serve(state: Arc<AppState>, listener: TcpListener) -> anyhow::Result<()> {
    spawn_sighup_reload(Arc::clone(&state))?;
    serve_until(state, listener, async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
    .await
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then lets open connections finish.
///
/// Each connection gets the [`Limits::header_timeout`](crate::body::Limits) for its request
/// headers (a half-sent header is dropped, not kept open), and each request learns its client
/// address ([`ClientAddr`]), which the login back-off is kept per.
pub async fn serve_until(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "monitor listening");
    let header_timeout = state.limits.header_timeout;
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let client = ClientAddr(peer.ip());
        let service =
            app.clone()
                .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(client);
                    request
                });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The address a request came from (the TCP peer; a reverse proxy's own address when behind
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    /// The address [`serve_until`] recorded; the unspecified address for requests that did not
    /// come through it (e.g. a router driven directly in a test).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}
