//! The HTTP face of `loyalty`: [`router`] builds the whole application from an
//! [`AppState`], so tests drive exactly what `loyalty serve` serves. Handlers extract,
//! call one service function and map the result; no SQL lives here.

pub mod api;
pub mod client;
pub mod download;
pub mod error;
pub mod health;
pub mod host;
pub mod metrics;
pub mod pages;
pub mod security;
mod serve;
pub mod session;

pub use serve::serve_router;

use axum::Router;
use axum::http::{HeaderName, Request};
use loyalty_core::clock::Clock;
use loyalty_core::directory::Directory;
use loyalty_core::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Header carrying the request id, set when the client sent none.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings the web layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Public base URL of this service (for links and redirects).
    pub public_url: String,
    /// Identity-provider group whose members are operators.
    pub operators_group: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Time after which a request is answered 408.
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers before its connection is closed.
    pub header_read_timeout: Duration,
    /// Bearer token that opens `/metrics` on the public listener; without one the
    /// public listener answers `/metrics` 404 (the metrics listener serves it).
    pub metrics_token: Option<secrecy::SecretString>,
    /// Single-tenant custom domains: host (lower case, no port) -> organization slug.
    /// Requests on such a host serve only that organization (see [`host`]).
    pub host_orgs: HashMap<String, String>,
    /// Where people recover a password at the identity provider (Authentik's base URL),
    /// linked from the "Forgot your password?" page when sign-in is not built in.
    pub recovery_url: Option<String>,
    /// Whether an SMTP server is configured, so queued mail is being sent (pages say so
    /// truthfully after queuing a mail).
    pub mail_enabled: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see [`client`]).
    pub trusted_proxies: client::TrustedProxies,
    /// Folder in which each XLSX export makes its private temporary folder
    /// (`.export-{n}-{pid}`, 0700): the backup folder (`backup.dir`), where `loyalty
    /// doctor` looks for what a killed process left.
    pub scratch_dir: std::path::PathBuf,
    /// The erasure journal beside the backups (`{backup.dir}/erasure-journal.jsonl`),
    /// which a restore into a lost database reads; `None` keeps the log in the
    /// database only.
    pub erasure_journal: Option<std::path::PathBuf>,
    /// Apple Wallet passes of members' cards (`[wallet.apple]`); `None` hides "Add to
    /// Apple Wallet".
    pub apple_wallet: Option<Arc<loyalty_identity::wallet::apple::AppleWallet>>,
    /// Whether webhook endpoints may point at private, loopback and link-local
    /// addresses (`webhooks.allow_private`); off, adding or changing such an endpoint is
    /// refused with `webhook.target_refused`.
    pub webhooks_allow_private: bool,
    /// Google Wallet cards of members (`[wallet.google]`); `None` hides "Save to Google
    /// Wallet".
    pub google_wallet: Option<Arc<loyalty_identity::wallet::google::GoogleWallet>>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            operators_group: "loyalty-operators".into(),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            metrics_token: None,
            host_orgs: HashMap::new(),
            recovery_url: None,
            mail_enabled: false,
            trusted_proxies: client::TrustedProxies::default(),
            scratch_dir: "./backups".into(),
            erasure_journal: None,
            apple_wallet: None,
            webhooks_allow_private: false,
            google_wallet: None,
        }
    }
}

/// The organization slug a request's host is pinned to (see [`host`]), as a request
/// extension that pages read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedOrg(pub String);

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    /// Storage backend.
    pub store: Arc<dyn Store>,
    /// Identity provider's directory.
    pub directory: Arc<dyn Directory>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// How people sign in.
    pub identity: Identity,
    /// Settings.
    pub config: Arc<WebConfig>,
}

/// How people sign in: with a password against the built-in accounts, or through the
/// identity provider (Authentik) over OpenID Connect.
#[derive(Clone)]
pub enum Identity {
    /// The built-in accounts (sign-in with a password, password pages).
    Builtin(loyalty_identity::BuiltinDirectory),
    /// Authentik.
    Authentik {
        /// The OpenID Connect relying party (sign-in through the provider, bearer JWTs
        /// on the API); `None` where only the directory is used (benchmarks, tests of
        /// pages without sign-in).
        oidc: Option<Arc<loyalty_identity::oidc::OidcClient>>,
    },
}

impl Identity {
    /// The built-in accounts, in builtin mode.
    pub fn builtin(&self) -> Option<&loyalty_identity::BuiltinDirectory> {
        match self {
            Identity::Builtin(b) => Some(b),
            Identity::Authentik { .. } => None,
        }
    }

    /// The OpenID Connect relying party, in authentik mode when configured.
    pub fn oidc(&self) -> Option<&Arc<loyalty_identity::oidc::OidcClient>> {
        match self {
            Identity::Builtin(_) => None,
            Identity::Authentik { oidc } => oidc.as_ref(),
        }
    }
}

impl AppState {
    /// What access decisions read (see [`loyalty_core::access`]).
    pub fn access(&self) -> loyalty_core::access::Deps<'_> {
        loyalty_core::access::Deps {
            store: self.store.as_ref(),
            directory: self.directory.as_ref(),
            clock: self.clock.as_ref(),
            operators_group: &self.config.operators_group,
        }
    }
}

/// The request id of a request (set by [`router`] when the client sent none), for the
/// ledger and the audit log.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    // Installed before the first request, so no count is lost.
    let _ = metrics::handle();
    let config = state.config.clone();
    // The sign-out form ends the session at the identity provider too (authentik mode).
    let provider_logout = state
        .identity
        .oidc()
        .and_then(|o| o.end_session_url())
        .map(|u| u.to_string());
    let app = Router::new()
        .merge(health::routes())
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .merge(api::wallet::routes())
        .merge(api::openapi::routes())
        // Inside the request metrics, so answers of a pinned host are counted too.
        .layer(axum::middleware::from_fn_with_state(state.clone(), host::pin))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(pages::fallback)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(config.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panic_response))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    security::headers(app, &config.public_url, provider_logout.as_deref())
}

/// Serves the application on `listener` until `shutdown` completes, then lets requests
/// in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.config.header_read_timeout;
    serve_router(listener, router(state), header_read_timeout, shutdown).await
}
