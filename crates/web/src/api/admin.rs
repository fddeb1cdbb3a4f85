//! Org administration over the API: till tokens, points settings, the audit log.

use super::auth::{OrgMember, TOKEN_PREFIX};
use super::extract::{ApiJson, ApiPath, cursor, limit, parse_cursor};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{ApiToken, AuditRecord, Page};
use loyalty_core::secret;
use loyalty_core::service::points;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/tokens", get(list_tokens).post(create_token))
        .route("/orgs/{slug}/tokens/{id}", delete(revoke_token))
        .route("/orgs/{slug}/settings/points", put(settings))
        .route("/orgs/{slug}/audit", get(audit))
}

fn admin_only(m: &OrgMember) -> Result<(), ApiError> {
    if m.role == Some(Role::Admin) {
        Ok(())
    } else {
        Err(
            loyalty_core::Error::Forbidden("only admins of this organization can do this".into())
                .into(),
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
}

#[derive(Serialize)]
struct CreatedToken {
    #[serde(flatten)]
    token: ApiToken,
    /// The secret, shown this once.
    secret: String,
}

async fn create_token(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    admin_only(&m)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(loyalty_core::Error::field(
            "name",
            "is required (1-100 characters), such as \"till 3\"",
        )
        .into());
    }
    if b.role == Role::Customer {
        return Err(loyalty_core::Error::field("role", "must be cashier or admin").into());
    }
    let secret_value = format!("{TOKEN_PREFIX}{}", secret::random_token());
    let token = state
        .store
        .insert_api_token(
            m.org.id,
            name,
            b.role,
            &secret::hash_token(&secret_value),
            &m.actor,
            state.clock.now(),
        )
        .await
        .map_err(loyalty_core::Error::from)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            secret: secret_value,
        }),
    ))
}

async fn list_tokens(
    State(state): State<AppState>,
    m: OrgMember,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    admin_only(&m)?;
    Ok(Json(
        state
            .store
            .list_api_tokens(m.org.id)
            .await
            .map_err(loyalty_core::Error::from)?,
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    admin_only(&m)?;
    if state
        .store
        .revoke_api_token(m.org.id, id, &m.actor, state.clock.now())
        .await
        .map_err(loyalty_core::Error::from)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "token.not_found",
            "no such live token in this organization",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    points_per_unit: String,
    min_purchase: String,
    expiry_days: Option<i64>,
    join_enabled: bool,
}

#[derive(Serialize)]
struct SettingsView {
    points_per_unit: String,
    min_purchase: String,
    expiry_days: Option<i32>,
    join_enabled: bool,
}

async fn settings(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<SettingsBody>,
) -> Result<Json<SettingsView>, ApiError> {
    let s = points::update_settings(
        &m.ctx(&state)?,
        &b.points_per_unit,
        &b.min_purchase,
        b.expiry_days,
        b.join_enabled,
    )
    .await?;
    Ok(Json(SettingsView {
        points_per_unit: s.earning.points_per_unit.to_string(),
        min_purchase: s.earning.min_purchase.to_string(),
        expiry_days: s.expiry_days,
        join_enabled: s.join_enabled,
    }))
}

#[derive(Deserialize)]
struct AuditQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Newest first; readable by the org's admins and by operators.
async fn audit(
    State(state): State<AppState>,
    m: OrgMember,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    if m.role != Some(Role::Admin) && !m.operator {
        return Err(loyalty_core::Error::Forbidden(
            "only admins and operators read the audit log".into(),
        )
        .into());
    }
    let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let limit = limit(q.limit)?;
    let items = state
        .store
        .audit_log(m.org.id, before, limit)
        .await
        .map_err(loyalty_core::Error::from)?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|a| cursor(a.created_at, a.id)))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}
