//! The till's writes: purchases (award), reversals, redemptions, adjustments. Each takes
//! an `Idempotency-Key`; a retry answers the first result with the same status.

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath, IdempotencyKeyHeader};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use loyalty_core::ErrorCode;
use loyalty_core::domain::ledger::{PointsOutcome, Purchase};
use loyalty_core::domain::{CustomerId, PurchaseId, RewardId};
use loyalty_core::service::bound;
use loyalty_core::service::points::{
    self, AdjustRequest, AwardRequest, RedeemRequest, ReverseRequest,
};
use serde::Deserialize;

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

/// A purchase to record.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AwardBody {
    /// The customer.
    customer_id: CustomerId,
    /// Amount paid.
    #[schema(schema_with = super::params::amount_schema)]
    amount: AmountValue,
    /// Currency code; when sent it must be the organization's.
    #[schema(example = "USD")]
    currency: Option<String>,
    /// Free-form details from the till (at most 4 KiB as JSON).
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

type Created = (StatusCode, Json<PointsOutcome>);

/// A recorded purchase, and whether its amount was above the shop's usual purchases.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct AwardAnswer {
    #[serde(flatten)]
    outcome: PointsOutcome,
    /// Present when the amount was above the organization's purchase bound (set by an
    /// admin, or 10 times the 95th percentile of the last 90 days' purchases, at least
    /// 500.00): the purchase is recorded and its audit record marked; check it.
    #[serde(skip_serializing_if = "Option::is_none")]
    unusual_amount: Option<UnusualAmount>,
}

/// The bound an amount was above.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct UnusualAmount {
    /// The bound, a decimal string.
    #[schema(example = "500.00")]
    bound: String,
}

api_errors!(AwardPurchaseErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    IdempotencyMissing,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
    IdempotencyMismatch,
    RequestInvalidField,
    ValidationFailed = "`amount` is not a positive amount in range with at most the currency's decimals, `currency` is not the organization's, `metadata` is over 4 KiB, or `Idempotency-Key` is not 1-255 visible ASCII characters; see `fields`",
});

/// Record a purchase and award its points
///
/// Points follow the organization's earning rule. Staff only. Idempotent by
/// `Idempotency-Key`: a retry answers the first result, with `replayed: true`.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/purchases",
    operation_id = "award_purchase",
    tag = "points",
    params(super::params::OrgPath, super::params::IdempotencyHeader, super::params::OrgHeader),
    request_body(content = AwardBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded (or replayed): the ledger entry, the purchase and the new balance; `unusual_amount` when the amount was above the shop's usual purchases", body = AwardAnswer),
        AwardPurchaseErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn award(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<AwardBody>,
) -> Result<(StatusCode, Json<AwardAnswer>), ApiError> {
    let ctx = m.ctx(&state)?;
    let req = AwardRequest {
        customer: b.customer_id,
        amount: points::parse_amount(&ctx, &b.amount.text())?,
        currency: b.currency,
        metadata: b.metadata.unwrap_or_else(|| serde_json::json!({})),
    };
    // The API accepts an unusual amount (a program sent it) and reports it.
    let o = bound::award_checked(&ctx, req, &key, true).await?;
    Ok((
        StatusCode::CREATED,
        Json(AwardAnswer {
            outcome: o.outcome,
            unusual_amount: o.unusual.map(|b| UnusualAmount {
                bound: b.to_string(),
            }),
        }),
    ))
}

api_errors!(GetPurchaseErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    PurchaseNotFound,
});

/// A purchase
///
/// With what it earned and what was refunded so far. Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/purchases/{id}",
    operation_id = "get_purchase",
    tag = "points",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The purchase", body = Purchase),
        GetPurchaseErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn purchase(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, PurchaseId)>,
) -> Result<Json<Purchase>, ApiError> {
    Ok(Json(points::purchase(&m.ctx(&state)?, id).await?))
}

/// A refund; an empty body (or `{}`) refunds the rest of the purchase.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReverseBody {
    /// Amount refunded; absent for the rest of the purchase.
    #[schema(schema_with = super::params::amount_schema)]
    amount: Option<AmountValue>,
}

api_errors!(ReversePurchaseErrors [SIGNED_IN] {
    OrgMismatch,
    IdempotencyMissing,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    PurchaseReverseTooOld = "cashiers may only reverse purchases made today; ask an admin",
    OrgNotFound,
    PurchaseNotFound,
    CustomerNotFound = "the purchase's customer is gone",
    PurchaseAlreadyReversed = "the purchase was already refunded in full",
    PointsInsufficient = "the customer no longer has the points to take back",
    IdempotencyMismatch,
    RequestInvalidField = "the body is not JSON, or has an unknown or mistyped field",
    PurchaseReverseExceeds,
    ValidationFailed = "`amount` is not a positive amount in range with at most the currency's decimals, or `Idempotency-Key` is not 1-255 visible ASCII characters; see `fields`",
});

/// Reverse (refund) all or part of a purchase
///
/// Takes back the points of the refunded share. Staff only; cashiers may only reverse
/// purchases made today (in the organization's time zone), admins any. The body is
/// optional. Idempotent by `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/purchases/{id}/reverse",
    operation_id = "reverse_purchase",
    tag = "points",
    params(super::params::OrgIdPath, super::params::IdempotencyHeader, super::params::OrgHeader),
    request_body(content = Option<ReverseBody>, content_type = "application/json", description = "Optional; no body (or `{}`) refunds the rest of the purchase. Read as JSON whatever the `Content-Type`."),
    responses(
        (status = 201, description = "Reversed (or replayed): the ledger entry, the purchase as now refunded and the new balance", body = PointsOutcome),
        ReversePurchaseErrors,
        (status = 413, description = "The body is larger than the configured limit (64 KiB by default); this answer has a plain-text body, not `ErrorBody`."),
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn reverse(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiPath((_, id)): ApiPath<(String, PurchaseId)>,
    body: axum::body::Bytes,
) -> Result<Created, ApiError> {
    // The body is optional: none (or `{}`) reverses the rest of the purchase.
    let body: ReverseBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReverseBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::RequestInvalidField, e.to_string()))?
    };
    let ctx = m.ctx(&state)?;
    let amount = match body.amount {
        Some(a) => Some(points::parse_amount(&ctx, &a.text())?),
        None => None,
    };
    let req = ReverseRequest {
        purchase: id,
        amount,
    };
    let o = points::reverse(&ctx, req, &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

/// A redemption: a reward of the catalog or a plain number of points, not both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    /// The customer.
    customer_id: CustomerId,
    /// A reward of the catalog; it costs its `cost_points`.
    reward_id: Option<RewardId>,
    /// A plain number of points, from 1.
    #[schema(minimum = 1)]
    points: Option<i64>,
}

api_errors!(RedeemPointsErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    IdempotencyMissing,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
    RewardNotFound,
    RewardInactive,
    RewardOutOfStock = "no units left",
    PointsInsufficient = "the balance is lower than the cost",
    IdempotencyMismatch,
    RequestInvalidField,
    ValidationFailed = "both or neither of `reward_id` and `points`, `points` out of range, or `Idempotency-Key` is not 1-255 visible ASCII characters; see `fields`",
});

/// Redeem points
///
/// On a reward of the catalog (which takes one unit of its stock, when counted) or a
/// plain number of points. Staff only. Idempotent by `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/redemptions",
    operation_id = "redeem_points",
    tag = "points",
    params(super::params::OrgPath, super::params::IdempotencyHeader, super::params::OrgHeader),
    request_body(content = RedeemBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Redeemed (or replayed): the ledger entry, the reward and the new balance", body = PointsOutcome),
        RedeemPointsErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn redeem(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<RedeemBody>,
) -> Result<Created, ApiError> {
    let req = RedeemRequest {
        customer: b.customer_id,
        reward: b.reward_id,
        points: b.points,
    };
    let o = points::redeem(&m.ctx(&state)?, req, &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

/// A manual correction of a balance.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    /// The customer.
    customer_id: CustomerId,
    /// Points to add (positive) or remove (negative); not zero.
    points: i64,
    /// Why the balance is corrected (1-500 characters).
    reason: String,
}

api_errors!(AdjustPointsErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    IdempotencyMissing,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins adjust points",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
    PointsInsufficient = "removing the points would take the balance below zero",
    IdempotencyMismatch,
    RequestInvalidField,
    ValidationFailed = "`points` is zero or out of range, `reason` is empty or over 500 characters, or `Idempotency-Key` is not 1-255 visible ASCII characters; see `fields`",
});

/// Adjust a balance by hand
///
/// Adds or removes points with a mandatory reason. Admins only. Idempotent by
/// `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/adjustments",
    operation_id = "adjust_points",
    tag = "points",
    params(super::params::OrgPath, super::params::IdempotencyHeader, super::params::OrgHeader),
    request_body(content = AdjustBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Adjusted (or replayed): the ledger entry and the new balance", body = PointsOutcome),
        AdjustPointsErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn adjust(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<AdjustBody>,
) -> Result<Created, ApiError> {
    let req = AdjustRequest {
        customer: b.customer_id,
        points: b.points,
        reason: b.reason,
    };
    let o = points::adjust(&m.ctx(&state)?, req, &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}
