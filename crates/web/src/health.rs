//! Liveness, readiness and metrics endpoints.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

/// `/health`, `/ready`, and `/metrics` behind its bearer token (the metrics listener
/// serves it without one: [`crate::metrics::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(crate::metrics::render_public))
}

/// Liveness: the process answers.
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Readiness: the database answers and its schema is what this build expects.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = match state.store.ping().await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            Err("unreachable".to_owned())
        }
    };
    let schema = match &database {
        Ok(()) => match state.store.schema_status().await {
            Ok(s) if s.is_current() => Ok(()),
            Ok(s) => Err(s.describe()),
            Err(e) => Err(e.to_string()),
        },
        Err(_) => Err("unknown".to_owned()),
    };
    let ready = database.is_ok() && schema.is_ok();
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": database.err().unwrap_or_else(|| "ok".into()),
            "schema": schema.err().unwrap_or_else(|| "ok".into()),
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
