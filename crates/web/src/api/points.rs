//! The till's writes: purchases (award), reversals, redemptions, adjustments. Each takes
//! an `Idempotency-Key`; a retry answers the first result with the same status.

use super::auth::OrgMember;
use super::extract::{ApiJson, ApiPath, IdempotencyKeyHeader};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use loyalty_core::domain::ledger::{PointsOutcome, Purchase};
use loyalty_core::service::points;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/purchases", post(award))
        .route("/orgs/{slug}/purchases/{id}", get(purchase))
        .route("/orgs/{slug}/purchases/{id}/reverse", post(reverse))
        .route("/orgs/{slug}/redemptions", post(redeem))
        .route("/orgs/{slug}/adjustments", post(adjust))
}

/// An amount as a JSON string (`"12.50"`) or number (`12.5`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AmountValue {
    Text(String),
    Number(serde_json::Number),
}

impl AmountValue {
    fn text(&self) -> String {
        match self {
            AmountValue::Text(s) => s.clone(),
            AmountValue::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AwardBody {
    customer_id: Uuid,
    amount: AmountValue,
    currency: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

type Created = (StatusCode, Json<PointsOutcome>);

async fn award(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<AwardBody>,
) -> Result<Created, ApiError> {
    let metadata = b.metadata.unwrap_or_else(|| serde_json::json!({}));
    let o = points::award(
        &m.ctx(&state)?,
        b.customer_id,
        &b.amount.text(),
        b.currency.as_deref(),
        metadata,
        &key,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(o)))
}

async fn purchase(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<Purchase>, ApiError> {
    let ctx = m.ctx(&state)?;
    if ctx.role == loyalty_core::domain::Role::Customer {
        return Err(loyalty_core::Error::Forbidden(
            "a customer cannot read purchases by id".into(),
        )
        .into());
    }
    state
        .store
        .purchase(m.org.id, id)
        .await
        .map_err(loyalty_core::Error::from)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "purchase.not_found",
                "no such purchase in this organization",
            )
        })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReverseBody {
    amount: Option<AmountValue>,
}

async fn reverse(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
    body: axum::body::Bytes,
) -> Result<Created, ApiError> {
    // The body is optional: none (or `{}`) reverses the rest of the purchase.
    let body: ReverseBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReverseBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "request.invalid_field",
                e.to_string(),
            )
        })?
    };
    let amount = body.amount.map(|a| a.text());
    let o = points::reverse(&m.ctx(&state)?, id, amount.as_deref(), &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    customer_id: Uuid,
    reward_id: Option<Uuid>,
    points: Option<i64>,
}

async fn redeem(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<RedeemBody>,
) -> Result<Created, ApiError> {
    let o = points::redeem(&m.ctx(&state)?, b.customer_id, b.reward_id, b.points, &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    customer_id: Uuid,
    points: i64,
    reason: String,
}

async fn adjust(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<AdjustBody>,
) -> Result<Created, ApiError> {
    let o = points::adjust(&m.ctx(&state)?, b.customer_id, b.points, &b.reason, &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}
