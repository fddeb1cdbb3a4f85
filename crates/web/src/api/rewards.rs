//! The rewards catalog: everyone in the org reads it, admins change it.

use super::auth::OrgMember;
use super::extract::{ApiJson, ApiPath};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use loyalty_core::domain::ledger::Reward;
use loyalty_core::service::points;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/rewards", get(list).post(create))
        .route("/orgs/{slug}/rewards/{id}", put(update))
}

async fn list(State(state): State<AppState>, m: OrgMember) -> Result<Json<Vec<Reward>>, ApiError> {
    m.ctx(&state)?;
    Ok(Json(
        state
            .store
            .list_rewards(m.org.id)
            .await
            .map_err(loyalty_core::Error::from)?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RewardBody {
    name: String,
    cost_points: i64,
    #[serde(default = "yes")]
    active: bool,
    stock: Option<i64>,
}

fn yes() -> bool {
    true
}

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

async fn update(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
    ApiJson(b): ApiJson<RewardBody>,
) -> Result<Json<Reward>, ApiError> {
    let input = points::reward_input(&b.name, b.cost_points, b.active, b.stock)?;
    Ok(Json(
        points::update_reward(&m.ctx(&state)?, id, &input).await?,
    ))
}
