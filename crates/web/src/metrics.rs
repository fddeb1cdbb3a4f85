//! Prometheus metrics: one process-wide recorder, rendered by our own `/metrics` route,
//! a middleware timing every request by route pattern (never the raw URL), and the
//! gauges read from the database (active users, pool) or the disk (last backup).
//!
//! Points counters (`loyalty_points_awarded_total`, `loyalty_purchases_total`,
//! `loyalty_points_redeemed_total`, and the program's `loyalty_promotions_applied_total`,
//! `loyalty_stamps_given_total`, `loyalty_stamp_rewards_total`) are counted by the points service in `loyalty-core`,
//! the one place that sees every committed award and redemption; the tier moves and
//! birthday bonuses (`loyalty_tier_moves_total`, `loyalty_birthday_bonuses_total`) by
//! the program job's use cases (`service::tiers`).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use loyalty_core::ErrorCode;
use loyalty_core::store::{PoolStats, Store, StoreError};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use time::OffsetDateTime;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets in seconds, from 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder once per process and returns its handle.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            metrics::gauge!("loyalty_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .as_ref()
}

/// `GET /metrics` in the Prometheus text format. The pool gauges are read now (no
/// database round trip); active users come from [`refresh_active_users`], run by the
/// server every minute, so a scrape stays cheap.
pub async fn render(State(state): State<AppState>) -> Response {
    record_pool(state.store.pool_stats());
    match handle() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

/// `GET /metrics` on the public listener. The metrics name every organization and its
/// totals, so they are not anonymous there: without `metrics.token` the route answers
/// 404 (scrape the metrics listener instead); with it, only a request carrying
/// `Authorization: Bearer <token>` gets them, any other 401.
pub async fn render_public(State(state): State<AppState>, headers: HeaderMap) -> Response {
    use secrecy::ExposeSecret;
    use subtle::ConstantTimeEq;
    let configured = state.config.metrics_token.as_ref();
    let Some(token) = configured.filter(|t| !t.expose_secret().is_empty()) else {
        return ApiError::new(
            ErrorCode::RouteNotFound,
            "metrics are served on the metrics listener (metrics.listen), or here with metrics.token",
        )
        .into_response();
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(sent.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
        return render(State(state)).await;
    }
    let mut refused = ApiError::new(
        ErrorCode::AuthInvalidToken,
        "send the metrics token (metrics.token) as Authorization: Bearer",
    )
    .into_response();
    refused.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    refused
}

/// The metrics listener's whole application: `GET /metrics` without a token, nothing
/// else. It listens on `metrics.listen` (127.0.0.1:9464 by default), apart from the
/// public listener, for Prometheus on the same host or network.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .with_state(state)
}

/// Counts and times each request by method, route pattern and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("loyalty_http_requests_total", &labels).increment(1);
    metrics::histogram!("loyalty_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Sets `loyalty_db_pool_connections{state="idle"|"in_use"|"max"}`.
pub fn record_pool(stats: PoolStats) {
    for (state, n) in [
        ("idle", stats.idle),
        ("in_use", stats.in_use),
        ("max", stats.max),
    ] {
        metrics::gauge!("loyalty_db_pool_connections", "state" => state).set(f64::from(n));
    }
}

/// Counts a sign-in refused for a wrong username or password.
pub fn login_failed() {
    metrics::counter!("loyalty_login_failures_total").increment(1);
}

/// Sets `loyalty_backup_last_success_timestamp_seconds` to the newest complete backup
/// set's time; without one the gauge stays absent (the alert fires on absence too).
pub fn record_backup(latest: Option<OffsetDateTime>) {
    if let Some(at) = latest {
        // Seconds since the epoch fit an f64 exactly for any real date.
        #[allow(clippy::cast_precision_loss)]
        let seconds = at.unix_timestamp() as f64;
        metrics::gauge!("loyalty_backup_last_success_timestamp_seconds").set(seconds);
    }
}

/// The windows of `loyalty_active_users`, as label and length.
const WINDOWS: [(&str, time::Duration); 2] = [
    ("24h", time::Duration::hours(24)),
    ("30d", time::Duration::days(30)),
];

/// Label sets published by the previous refresh, so a count that fell to nobody is set to
/// 0 rather than left at its old value.
static ACTIVE_SEEN: Mutex<Vec<(String, &'static str)>> = Mutex::new(Vec::new());

/// Sets `loyalty_active_users{org,role,window}`: people with a role in the organization
/// who signed in within the last 24 hours and 30 days.
pub async fn refresh_active_users(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let since: Vec<OffsetDateTime> = WINDOWS.iter().map(|(_, d)| now - *d).collect();
    let rows = store.active_members(&since).await?;
    let mut seen: HashSet<(String, &'static str)> = HashSet::new();
    for row in &rows {
        for ((window, _), n) in WINDOWS.iter().zip(&row.counts) {
            // Head counts are far below 2^52: exact as f64.
            #[allow(clippy::cast_precision_loss)]
            let n = *n as f64;
            metrics::gauge!("loyalty_active_users", "org" => row.org.clone(), "role" => row.role.as_str(), "window" => *window)
                .set(n);
        }
        seen.insert((row.org.clone(), row.role.as_str()));
    }
    let mut previous = ACTIVE_SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (org, role) in previous.iter().filter(|k| !seen.contains(*k)) {
        for (window, _) in WINDOWS {
            metrics::gauge!("loyalty_active_users", "org" => org.clone(), "role" => *role, "window" => window)
                .set(0.0);
        }
    }
    let new: Vec<_> = seen.into_iter().filter(|k| !previous.contains(k)).collect();
    previous.extend(new);
    Ok(())
}
