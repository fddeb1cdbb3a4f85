//! The loyalty program: staff read it and preview what a purchase earns, admins add and
//! end stamp cards, promotions and tiers (each change a new version), staff read a
//! customer's tier progress, and the till exchanges a full stamp card for its reward.

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath, IdempotencyKeyHeader};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use loyalty_core::domain::CustomerId;
use loyalty_core::domain::ledger::PointsOutcome;
use loyalty_core::domain::program::{
    BonusInput, CardInput, Program, ProgramInput, PromotionInput, TierInput, TierProgress,
    TierRulesInput,
};
use loyalty_core::service::points;
use loyalty_core::service::program::{self, CardStanding, Preview};
use loyalty_core::service::tiers;
use loyalty_core::{Error, FieldError};
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/program", get(current))
        .route("/orgs/{slug}/program/versions/{version}", get(version))
        .route("/orgs/{slug}/program/stamp-cards", post(add_card))
        .route("/orgs/{slug}/program/promotions", post(add_promotion))
        .route("/orgs/{slug}/program/bonuses", put(set_bonuses))
        .route("/orgs/{slug}/program/tiers", post(add_tier))
        .route("/orgs/{slug}/program/tier-rules", put(set_tier_rules))
        .route("/orgs/{slug}/customers/{id}/tier", get(customer_tier))
        .route("/orgs/{slug}/program/rules/{id}", delete(end))
        .route("/orgs/{slug}/program/preview", post(preview))
        .route("/orgs/{slug}/customers/{id}/stamp-cards", get(cards))
        .route("/orgs/{slug}/stamp-card-redemptions", post(redeem_card))
}

api_errors!(ReadProgramErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
});

/// The loyalty program
///
/// Its stamp cards and promotions (running and ended) at the current version. Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/program",
    operation_id = "get_program",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The program at its current version", body = Program),
        ReadProgramErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn current(State(state): State<AppState>, m: OrgMember) -> Result<Json<Program>, ApiError> {
    Ok(Json(program::current(&m.ctx(&state)?)?))
}

api_errors!(ProgramVersionErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`version` is not a whole number",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    ProgramVersionNotFound,
});

/// A version of the loyalty program
///
/// What purchases of that version (`program_version` of a purchase) were computed with.
/// Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/program/versions/{version}",
    operation_id = "get_program_version",
    tag = "program",
    params(
        super::params::OrgPath,
        ("version" = i64, Path, description = "The version, from 1"),
        super::params::OrgHeader
    ),
    responses(
        (status = 200, description = "The program at that version", body = Program),
        ProgramVersionErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn version(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, v)): ApiPath<(String, i64)>,
) -> Result<Json<Program>, ApiError> {
    Ok(Json(program::version(&m.ctx(&state)?, v).await?))
}

api_errors!(ChangeProgramErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins change the program",
    OrgSuspended,
    OrgNotFound,
    ProgramChanged,
    RequestInvalidField,
    ValidationFailed = "a field of the card or promotion is out of range, or 10 are running already; see `fields`",
});

/// Add a stamp card
///
/// One stamp per qualifying purchase; `stamps_required` stamps are exchanged for the
/// reward. Makes the program's next version. Admins only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/program/stamp-cards",
    operation_id = "add_stamp_card",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = CardInput, content_type = "application/json"),
    responses(
        (status = 201, description = "The program's new version", body = Program),
        ChangeProgramErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn add_card(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<CardInput>,
) -> Result<(StatusCode, Json<Program>), ApiError> {
    let p = program::change(&m.ctx(&state)?, ProgramInput::AddCard(b)).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Add a promotion
///
/// A multiplier (above 1, at most 10) or fixed bonus points, on a schedule in the
/// organization's time zone; at most 10 running. One promotion per purchase: the most
/// valuable. Makes the program's next version. Admins only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/program/promotions",
    operation_id = "add_promotion",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = PromotionInput, content_type = "application/json"),
    responses(
        (status = 201, description = "The program's new version", body = Program),
        ChangeProgramErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn add_promotion(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<PromotionInput>,
) -> Result<(StatusCode, Json<Program>), ApiError> {
    let p = program::change(&m.ctx(&state)?, ProgramInput::AddPromotion(b)).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Set the enrollment bonuses
///
/// Points given once to each customer right after they enroll (till, API or join page):
/// `signup_points`, and `contact_points` when they leave an email address; 0 for none.
/// Makes the program's next version. Admins only.
#[utoipa::path(
    put,
    path = "/orgs/{slug}/program/bonuses",
    operation_id = "set_program_bonuses",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = BonusInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The program's new version", body = Program),
        ChangeProgramErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn set_bonuses(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<BonusInput>,
) -> Result<Json<Program>, ApiError> {
    Ok(Json(
        program::change(&m.ctx(&state)?, ProgramInput::SetBonuses(b)).await?,
    ))
}

/// Add a tier
///
/// Reached with `threshold` points earned (or amount spent, with the `spend` basis) in
/// the rolling window; multiplies the base points of every purchase by `multiplier`
/// and gives `entry_bonus` points on each move up into it. At most 6 running. Customers
/// move between tiers at the daily recalculation. Makes the program's next version.
/// Admins only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/program/tiers",
    operation_id = "add_tier",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = TierInput, content_type = "application/json"),
    responses(
        (status = 201, description = "The program's new version", body = Program),
        ChangeProgramErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn add_tier(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<TierInput>,
) -> Result<(StatusCode, Json<Program>), ApiError> {
    let p = program::change(&m.ctx(&state)?, ProgramInput::AddTier(b)).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Set how tiers qualify
///
/// The basis (`points` earned on purchases or `spend`), the rolling window in months
/// (1-36) and the grace period in months (0-12) a customer keeps a tier after they stop
/// qualifying. Makes the program's next version. Admins only.
#[utoipa::path(
    put,
    path = "/orgs/{slug}/program/tier-rules",
    operation_id = "set_tier_rules",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = TierRulesInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The program's new version", body = Program),
        ChangeProgramErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn set_tier_rules(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<TierRulesInput>,
) -> Result<Json<Program>, ApiError> {
    Ok(Json(
        program::change(&m.ctx(&state)?, ProgramInput::SetTierRules(b)).await?,
    ))
}

api_errors!(CustomerTierErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound = "`id` is no customer of this organization",
});

/// A customer's tier
///
/// Their tier (as the last recalculation left it), what they earned or spent in the
/// window, what is missing to the next tier and, once they no longer reach their
/// tier's threshold, when they leave it (`ends_at`), computed now. Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers/{id}/tier",
    operation_id = "customer_tier",
    tag = "program",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The customer's tier and progress", body = TierProgress),
        CustomerTierErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn customer_tier(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
) -> Result<Json<TierProgress>, ApiError> {
    Ok(Json(tiers::progress(&m.ctx(&state)?, id).await?))
}

api_errors!(EndRuleErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "only admins change the program",
    OrgSuspended,
    OrgNotFound,
    ProgramChanged,
    ValidationFailed = "`id` names no running stamp card, promotion or tier; see `fields`",
});

/// End a stamp card, a promotion or a tier
///
/// It gives nothing from now on; stamps already on an ended card stay redeemable, and
/// the holders of an ended tier leave it at the next recalculation. Makes the
/// program's next version. Admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{slug}/program/rules/{id}",
    operation_id = "end_program_rule",
    tag = "program",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The program's new version", body = Program),
        EndRuleErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn end(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<Program>, ApiError> {
    Ok(Json(
        program::change(&m.ctx(&state)?, ProgramInput::End(id)).await?,
    ))
}

/// A purchase to preview.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    /// Amount, as a decimal string.
    #[schema(example = "25.00")]
    amount: String,
    /// The customer, for their stamps and promotion uses; absent for a new customer.
    customer_id: Option<CustomerId>,
    /// When (RFC 3339); absent for now.
    #[schema(example = "2026-12-01T17:00:00-03:00")]
    at: Option<String>,
    /// Preview as a member of this tier (instead of the customer's own).
    tier_id: Option<Uuid>,
}

api_errors!(PreviewErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    RequestInvalidField,
    ValidationFailed = "`amount` is not a positive amount, `at` is not an RFC 3339 time, or `tier_id` names no tier; see `fields`",
});

/// Preview what a purchase earns
///
/// Each rule's part (base points, the tier's multiplier, the promotion that applies, a
/// stamp per card) and the
/// summary the till shows, without writing anything. Staff only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/program/preview",
    operation_id = "preview_award",
    tag = "program",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = PreviewBody, content_type = "application/json"),
    responses(
        (status = 200, description = "What the purchase would earn", body = Preview),
        PreviewErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn preview(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<PreviewBody>,
) -> Result<Json<Preview>, ApiError> {
    let ctx = m.ctx(&state)?;
    let amount = points::parse_amount(&ctx, &b.amount)?;
    let at = match b.at.as_deref() {
        Some(text) => Some(
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    Error::Validation(vec![FieldError::new(
                        "at",
                        format!("{text:?} is not a time; write it as 2026-12-01T17:00:00-03:00"),
                    )])
                })?,
        ),
        None => None,
    };
    Ok(Json(
        program::preview(&ctx, amount, b.customer_id, at, b.tier_id).await?,
    ))
}

api_errors!(CustomerCardsErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
});

/// A customer's stamp cards
///
/// Stamps held on each running card (and on ended cards that still hold stamps), and
/// whether the card is full. Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers/{id}/stamp-cards",
    operation_id = "customer_stamp_cards",
    tag = "program",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The customer's cards", body = Vec<CardStanding>),
        CustomerCardsErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn cards(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
) -> Result<Json<Vec<CardStanding>>, ApiError> {
    Ok(Json(program::cards(&m.ctx(&state)?, id).await?))
}

/// A full stamp card to exchange for its reward.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RedeemCardBody {
    /// The customer.
    customer_id: CustomerId,
    /// The stamp card.
    card_id: Uuid,
}

api_errors!(RedeemCardErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    IdempotencyMissing,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
    StampCardNotFound,
    StampsInsufficient,
    IdempotencyMismatch,
    RequestInvalidField,
    ValidationFailed = "`Idempotency-Key` is not 1-255 visible ASCII characters; see `fields`",
});

/// Exchange a full stamp card for its reward
///
/// Takes the card's `stamps_required` stamps and records the reward in the ledger (its
/// `reward_points`, or 0 points for goods). Staff only. Idempotent by `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/stamp-card-redemptions",
    operation_id = "redeem_stamp_card",
    tag = "program",
    params(super::params::OrgPath, super::params::IdempotencyHeader, super::params::OrgHeader),
    request_body(content = RedeemCardBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Redeemed (or replayed): the ledger entry, the stamp entry and the new balance", body = PointsOutcome),
        RedeemCardErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn redeem_card(
    State(state): State<AppState>,
    m: OrgMember,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(b): ApiJson<RedeemCardBody>,
) -> Result<(StatusCode, Json<PointsOutcome>), ApiError> {
    let o = program::redeem_card(&m.ctx(&state)?, b.customer_id, b.card_id, &key).await?;
    Ok((StatusCode::CREATED, Json(o)))
}
