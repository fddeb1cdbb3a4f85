//! The rewards catalog: everyone in the org reads it, admins change it.

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use loyalty_core::domain::RewardId;
use loyalty_core::domain::ledger::Reward;
use loyalty_core::service::{points, rewards};
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/rewards", get(list).post(create))
        .route("/orgs/{slug}/rewards/{id}", put(update))
}

api_errors!(ListRewardsErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
});

/// The rewards catalog
///
/// Everyone with a role in the organization (customers too) may read it.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/rewards",
    operation_id = "list_rewards",
    tag = "rewards",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "Every reward of the organization", body = Vec<Reward>),
        ListRewardsErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn list(State(state): State<AppState>, m: OrgMember) -> Result<Json<Vec<Reward>>, ApiError> {
    Ok(Json(rewards::list(&m.ctx(&state)?).await?))
}

/// A reward to create, or the new state of one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RewardBody {
    /// Name, 1-120 characters, unique in the organization.
    #[schema(example = "Free coffee")]
    name: String,
    /// Cost in points, from 1.
    #[schema(minimum = 1)]
    cost_points: i64,
    /// Whether it can be redeemed (default true).
    #[serde(default = "yes")]
    #[schema(default = true)]
    active: bool,
    /// Units left, 0 or more; absent for unlimited.
    #[schema(minimum = 0)]
    stock: Option<i64>,
}

fn yes() -> bool {
    true
}

api_errors!(CreateRewardErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins manage rewards",
    OrgSuspended,
    OrgNotFound,
    RewardExists,
    RequestInvalidField,
    ValidationFailed = "invalid `name`, `cost_points` or `stock`; see `fields`",
});

/// Create a reward
///
/// Admins only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/rewards",
    operation_id = "create_reward",
    tag = "rewards",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = RewardBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Reward),
        CreateRewardErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn create(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<RewardBody>,
) -> Result<(StatusCode, Json<Reward>), ApiError> {
    let input = points::reward_input(&b.name, b.cost_points, b.active, b.stock)?;
    Ok((
        StatusCode::CREATED,
        Json(points::create_reward(&m.ctx(&state)?, &input).await?),
    ))
}

api_errors!(UpdateRewardErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins manage rewards",
    OrgSuspended,
    OrgNotFound,
    RewardNotFound,
    RewardExists = "another reward has this name",
    RequestInvalidField,
    ValidationFailed = "invalid `name`, `cost_points` or `stock`; see `fields`",
});

/// Replace a reward
///
/// Admins only.
#[utoipa::path(
    put,
    path = "/orgs/{slug}/rewards/{id}",
    operation_id = "update_reward",
    tag = "rewards",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    request_body(content = RewardBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The reward as now stored", body = Reward),
        UpdateRewardErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn update(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, RewardId)>,
    ApiJson(b): ApiJson<RewardBody>,
) -> Result<Json<Reward>, ApiError> {
    let input = points::reward_input(&b.name, b.cost_points, b.active, b.stock)?;
    Ok(Json(
        points::update_reward(&m.ctx(&state)?, id, &input).await?,
    ))
}
