//! Org administration over the API: till tokens, points settings, the audit log.

use super::auth::{OrgMember, TOKEN_PREFIX};
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath, ApiQuery, cursor, limit, parse_cursor};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use loyalty_core::ErrorCode;
use loyalty_core::domain::ledger::{ApiToken, AuditRecord, Page};
use loyalty_core::domain::{ApiTokenId, Role};
use loyalty_core::secret;
use loyalty_core::service::audit::{self, Before, Reader};
use loyalty_core::service::{points, tokens};
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/tokens", get(list_tokens).post(create_token))
        .route("/orgs/{slug}/tokens/{id}", delete(revoke_token))
        .route("/orgs/{slug}/settings/points", put(settings))
        .route("/orgs/{slug}/audit", get(audit))
}

/// A till token to make.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// Name (the till it belongs to), 1-100 characters.
    #[schema(example = "till 3")]
    name: String,
    /// `cashier` or `admin`.
    role: Role,
}

/// A new token and its secret.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedToken {
    #[serde(flatten)]
    token: ApiToken,
    /// The secret, shown this once: send it as `Authorization: Bearer lyt_...`.
    #[schema(example = "lyt_...")]
    secret: String,
}

api_errors!(CreateTokenErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
    RequestInvalidField = "a field is missing, unknown or of the wrong JSON type, or `role` is not a role",
    ValidationFailed = "`name` is empty or over 100 characters, or `role` is `customer`; see `fields`",
});

/// Make an API token for a till
///
/// The secret is in this answer only. Admins only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/tokens",
    operation_id = "create_token",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = NewToken, content_type = "application/json"),
    responses(
        (status = 201, description = "Made; the secret is shown this once", body = CreatedToken),
        CreateTokenErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn create_token(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let ctx = m.ctx(&state)?;
    let secret_value = format!("{TOKEN_PREFIX}{}", secret::random_token());
    let token = tokens::create(&ctx, &b.name, b.role, &secret::hash_token(&secret_value)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            secret: secret_value,
        }),
    ))
}

api_errors!(ListTokensErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
});

/// The organization's API tokens
///
/// Live and revoked, without their secrets. Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/tokens",
    operation_id = "list_tokens",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The tokens", body = Vec<ApiToken>),
        ListTokensErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn list_tokens(
    State(state): State<AppState>,
    m: OrgMember,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(tokens::list(&m.ctx(&state)?).await?))
}

api_errors!(RevokeTokenErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "only admins of this organization",
    OrgSuspended,
    OrgNotFound,
    TokenNotFound,
});

/// Revoke an API token
///
/// Admins only.
#[utoipa::path(
    delete,
    path = "/orgs/{slug}/tokens/{id}",
    operation_id = "revoke_token",
    tag = "admin",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 204, description = "Revoked"),
        RevokeTokenErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn revoke_token(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, ApiTokenId)>,
) -> Result<StatusCode, ApiError> {
    if tokens::revoke(&m.ctx(&state)?, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorCode::TokenNotFound,
            "no such live token in this organization",
        ))
    }
}

/// The organization's points settings.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    /// Points per unit of currency: a decimal string from 0 to 1000, at most 4 decimals.
    #[schema(example = "1.5")]
    points_per_unit: String,
    /// Smallest purchase that earns points: a decimal string, 0 or more, at most 2 decimals.
    #[schema(example = "5.00")]
    min_purchase: String,
    /// Days after which points expire, 1-3650; absent or null for never.
    expiry_days: Option<i64>,
    /// Whether people may join as customers by themselves.
    join_enabled: bool,
    /// The largest usual purchase, a decimal string above 0 with at most 2 decimals;
    /// absent or null derives it: 10 times the 95th percentile of the last 90 days'
    /// purchases, at least 500.00 (50000 without decimals, 50.000 with three). A larger
    /// purchase at the till needs a second confirmation; the API reports it.
    #[schema(example = "800.00")]
    #[serde(default)]
    purchase_bound: Option<String>,
    /// Points per customer per day above which the dashboard flags the customer;
    /// absent or null for 1000.
    #[serde(default)]
    daily_points_flag: Option<i64>,
}

/// The points settings as stored.
#[derive(Serialize, utoipa::ToSchema)]
struct SettingsView {
    /// Points per unit of currency, a decimal string.
    #[schema(example = "1.5")]
    points_per_unit: String,
    /// Smallest purchase that earns points, a decimal string.
    #[schema(example = "5.00")]
    min_purchase: String,
    /// Days after which points expire; null for never.
    expiry_days: Option<i32>,
    /// Whether people may join as customers by themselves.
    join_enabled: bool,
    /// The largest usual purchase an admin set; null when derived from recent purchases.
    purchase_bound: Option<String>,
    /// Points per customer per day above which the dashboard flags the customer; null
    /// for the default (1000).
    daily_points_flag: Option<i64>,
}

api_errors!(UpdatePointsSettingsErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "only admins change settings",
    OrgSuspended,
    OrgNotFound,
    RequestInvalidField,
    ValidationFailed = "invalid `points_per_unit`, `min_purchase`, `expiry_days`, `purchase_bound` or `daily_points_flag`; see `fields`",
});

/// Change the points settings
///
/// The earning rule, expiry and self-service joining. Admins only.
#[utoipa::path(
    put,
    path = "/orgs/{slug}/settings/points",
    operation_id = "update_points_settings",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = SettingsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The settings as now stored", body = SettingsView),
        UpdatePointsSettingsErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn settings(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(b): ApiJson<SettingsBody>,
) -> Result<Json<SettingsView>, ApiError> {
    let limits = points::Limits {
        purchase_bound: b.purchase_bound,
        daily_points_flag: b.daily_points_flag,
    };
    let s = points::update_settings_with_limits(
        &m.ctx(&state)?,
        &b.points_per_unit,
        &b.min_purchase,
        b.expiry_days,
        b.join_enabled,
        &limits,
    )
    .await?;
    Ok(Json(SettingsView {
        points_per_unit: s.earning.points_per_unit.to_string(),
        min_purchase: s.earning.min_purchase.to_string(),
        expiry_days: s.expiry_days,
        join_enabled: s.join_enabled,
        purchase_bound: s.purchase_bound.map(|d| d.to_string()),
        daily_points_flag: s.daily_points_flag,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

api_errors!(GetAuditLogErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    RequestInvalidCursor,
    AuthForbidden = "only admins and operators read the audit log",
    OrgSuspended,
    OrgNotFound,
    RequestInvalidLimit,
});

/// The organization's audit log
///
/// Newest first; readable by the org's admins and by operators.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/audit",
    operation_id = "get_audit_log",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader, AuditQuery),
    responses(
        (status = 200, description = "A page of audit records", body = Page<AuditRecord>),
        GetAuditLogErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn audit(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    let reader = Reader {
        store: state.store.as_ref(),
        org: &m.org,
        role: m.role,
        operator: m.operator,
    };
    let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let limit = limit(q.limit)?;
    let items = audit::org_log(
        &reader,
        Before {
            cursor: before,
            limit,
        },
    )
    .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|a| cursor(a.created_at, a.id)))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}
