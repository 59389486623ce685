//! Assembles the HTTP service: shared state, the router of docs/API.md, the middleware
//! that every request passes (metrics, request log, per-address rate limit), and serving
//! with graceful shutdown.

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    ops::Deref,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::body::Body;
use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderValue, Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use thiserror::Error;
use tokio::{net::TcpListener, sync::Notify, task::JoinHandle};
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    api::{backups, cards, demo, groups, health, log},
    auth::Authenticator,
    config::{Config, Limits},
    error::ApiError,
    limits::{RateLimiter, address_key, retry_after_seconds},
    metrics::Metrics,
    storage::{Database, Storage, StorageError},
};

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Storage(#[from] StorageError),
    /// An app public key is not a valid Ed25519 key.
    #[error("app public key: {0}")]
    AppKey(#[from] tessera_format::TokenError),
    /// Demo mode was asked for but cannot run (a listen address other than loopback
    /// without `demo_public`, or no web directory where one was named).
    #[error("{0}")]
    Demo(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What every request handler shares.
pub struct SharedState {
    /// The database.
    pub storage: Arc<dyn Storage>,
    /// Token verification.
    pub auth: Authenticator,
    /// Requests per identity, if limited.
    pub identity_limiter: Option<RateLimiter<String>>,
    /// Requests per client address, if limited.
    pub address_limiter: Option<RateLimiter<IpAddr>>,
    /// Size and batch limits.
    pub limits: Limits,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Browser origins allowed to call the API (`*`: any); empty: no CORS.
    pub cors_allowed_origins: Vec<String>,
    /// Demo mode's login key and web files; `None` (the default) when it is off.
    pub demo: Option<demo::DemoMode>,
}

/// Cheaply clonable handle on [`SharedState`], the axum state of every route.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State for `config` over an open `storage`, with demo mode's state if it is on
    /// ([`demo::DemoSettings::from_config`]).
    pub fn new(
        config: &Config,
        storage: Arc<dyn Storage>,
        demo: Option<demo::DemoMode>,
    ) -> Result<Self, StartError> {
        let limits = config.limits;
        // Demo mode accepts the tokens of its own ephemeral key and no others.
        let auth = match &demo {
            Some(demo) => Authenticator::with_keys(config, &[demo.public_key()])?,
            None => Authenticator::new(config)?,
        };
        Ok(Self(Arc::new(SharedState {
            storage,
            auth,
            identity_limiter: RateLimiter::new(
                limits.identity_requests_per_second,
                limits.identity_burst,
            ),
            address_limiter: RateLimiter::new(
                limits.address_requests_per_second,
                limits.address_burst,
            ),
            limits,
            metrics: Metrics::new(),
            trust_forwarded_for: config.trust_forwarded_for,
            cors_allowed_origins: config.cors_allowed_origins.clone(),
            demo,
        })))
    }
}

/// The complete HTTP service.
pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    let cors = cors_layer(&state.cors_allowed_origins);
    let api = Router::new()
        .route("/v1/cards", post(cards::publish))
        .route("/v1/cards/search", post(cards::search))
        .route("/v1/cards/outdated", post(cards::outdated))
        .route("/v1/cards/{id}", get(cards::get))
        .route("/v1/cards/{id}/revoke", post(cards::revoke))
        .route("/v1/identities/{identity}/cards", get(cards::history))
        .route(
            "/v1/backups/{name}",
            put(backups::put).get(backups::get).delete(backups::delete),
        )
        .route(
            "/v1/groups/{group_id}/tickets/{epoch}",
            put(groups::put_ticket).layer(DefaultBodyLimit::max(limits.max_ticket_body_bytes)),
        )
        .route("/v1/groups/{group_id}/tickets", get(groups::list_tickets))
        .route("/v1/groups/{group_id}", delete(groups::delete))
        .route("/v1/log/head", get(log::head))
        .route("/v1/log", get(log::entries))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limit_by_address,
        ));
    let service = Router::new()
        .merge(api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi));
    // Demo mode adds its routes and the web chat's files; without it they do not exist.
    let service = if state.demo.is_some() {
        let message_body_limit = demo::DemoSettings::message_body_limit(
            limits.demo_max_message_bytes,
            limits.max_body_bytes,
        );
        let demo_routes = Router::new()
            .route("/demo/login", post(demo::login))
            .route(
                "/demo/messages",
                post(demo::post_message)
                    .layer(DefaultBodyLimit::max(message_body_limit))
                    .get(demo::list_messages),
            )
            .route("/demo/messages/{id}", get(demo::get_message))
            .route("/demo/users", get(demo::users))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                limit_by_address,
            ));
        service.merge(demo_routes).fallback(demo::web_file)
    } else {
        service
            .fallback(|| async { ApiError::NotFound("no such endpoint; see /openapi.json".into()) })
    };
    let service = service
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    match cors {
        Some(cors) => service.layer(cors),
        None => service,
    }
}

/// CORS for browser apps served from other origins (docs/SERVER.md): preflights are
/// answered for the configured origins, with the methods and request headers the client
/// SDKs send; no cookies are involved (tokens travel in `Authorization`). `None` when no
/// origin is configured: then the server sends no CORS headers at all.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Origins were checked when the configuration was loaded.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
            ])
            .expose_headers([header::ETAG, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// Metrics and the request log. Logs the route template, never the concrete path (which
/// holds identities and names), and never headers or bodies.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    state.metrics.request_started();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .request_finished(method.as_str(), &route, status, elapsed);
    tracing::debug!(
        method = %method,
        route = %route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// The client's address: the TCP peer, or behind a trusted proxy the last
/// `X-Forwarded-For` entry (the one the proxy itself appended).
fn client_address(request: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .last()
            .and_then(|last| last.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

async fn limit_by_address(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(limiter) = &state.address_limiter
        && let Some(address) = client_address(&request, state.trust_forwarded_for)
        && let Err(wait) = limiter.check(address_key(address))
    {
        state.metrics.count_rate_limited("address");
        return ApiError::RateLimited {
            retry_after_seconds: retry_after_seconds(wait),
        }
        .into_response();
    }
    next.run(request).await
}

/// A server started by [`spawn`].
pub struct RunningServer {
    /// The address it listens on (useful with port 0).
    pub local_addr: SocketAddr,
    stop: Arc<Notify>,
    task: JoinHandle<Result<(), std::io::Error>>,
}

impl RunningServer {
    /// Asks the server to stop accepting connections and waits until in-flight requests
    /// are answered (or the grace period ends) and the database is closed.
    pub async fn shutdown(self) -> Result<(), std::io::Error> {
        self.stop.notify_one();
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }
}

/// Opens the database, binds `config.listen` and serves in a background task.
pub async fn spawn(config: &Config) -> Result<RunningServer, StartError> {
    let stop = Arc::new(Notify::new());
    let signal = {
        let stop = stop.clone();
        async move { stop.notified().await }
    };
    let (listener, state) = prepare(config).await?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Listen {
        address: config.listen,
        source,
    })?;
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let task = tokio::spawn(serve(listener, state, signal, grace));
    Ok(RunningServer {
        local_addr,
        stop,
        task,
    })
}

/// Opens the database and binds the listen address.
pub async fn prepare(config: &Config) -> Result<(TcpListener, AppState), StartError> {
    // Demo mode's settings are checked first: a refused start leaves the database untouched.
    let demo = demo::DemoSettings::from_config(config)?;
    let database = Database::open(
        &config.database_url,
        config.database_max_connections,
        config.search_cache_capacity,
    )
    .await?;
    let demo = demo.map(|settings| demo::DemoMode::new(settings, database.demo_relay()));
    let state = AppState::new(config, database.storage(), demo)?;
    if state.demo.is_some() {
        tracing::warn!(
            "DEMO MODE IS ON: POST /demo/login gives anyone a token for any identity. \
             Insecure by design; never use it in production. Its tokens are signed with an \
             app key that exists only in this process, and only they are accepted"
        );
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            address: config.listen,
            source,
        })?;
    Ok((listener, state))
}

/// Serves until `shutdown` completes, then stops accepting connections, lets in-flight
/// requests finish for up to `grace`, and closes the database.
///
/// Each connection must send a request's complete header within
/// `limits.header_read_timeout_seconds`, so half-sent requests cannot hold connections
/// open.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), std::io::Error> {
    let storage = state.storage.clone();
    let header_read_timeout = Duration::from_secs(state.limits.header_read_timeout_seconds);
    let router = router(state);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out mid-request ends its connection; that
            // is not the server's error.
            let _ = connection.await;
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_seconds = grace.as_secs(), "grace period over; closing remaining connections");
        }
    }
    storage.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn termination_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
