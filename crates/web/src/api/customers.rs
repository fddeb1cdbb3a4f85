//! Customers: enroll, look up, list, get, and their ledger; a customer's own view.

use super::auth::OrgMember;
use super::extract::{ApiJson, ApiPath, cursor, limit, parse_cursor};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{Customer, CustomerKey, LedgerEntry, Page};
use loyalty_core::service::points::{self, EnrollInput, day_start};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/customers", get(list_or_lookup).post(enroll))
        .route("/orgs/{slug}/customers/{id}", get(one))
        .route("/orgs/{slug}/customers/{id}/balance", get(balance))
        .route("/orgs/{slug}/customers/{id}/ledger", get(customer_ledger))
        .route("/orgs/{slug}/ledger", get(org_ledger))
        .route("/orgs/{slug}/me", get(me))
        .route("/orgs/{slug}/me/ledger", get(my_ledger))
}

async fn enroll(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(input): ApiJson<EnrollInput>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let c = points::enroll(&m.ctx(&state)?, &input, None).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ListOrOne {
    One(Customer),
    Page(Page<Customer>),
}

async fn list_or_lookup(
    State(state): State<AppState>,
    m: OrgMember,
    Query(q): Query<ListQuery>,
) -> Result<Json<ListOrOne>, ApiError> {
    let ctx = m.ctx(&state)?;
    if let Some(query) = q.q.as_deref().filter(|s| !s.trim().is_empty()) {
        return Ok(Json(ListOrOne::One(points::lookup(&ctx, query).await?)));
    }
    if ctx.role == Role::Customer {
        return Err(
            loyalty_core::Error::Forbidden("a customer cannot list customers".into()).into(),
        );
    }
    let limit = limit(q.limit)?;
    let after = match q.cursor.as_deref() {
        Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.invalid_cursor",
                "cursor is not one this server gave out",
            )
        })?),
        None => None,
    };
    let items = state
        .store
        .list_customers(m.org.id, after, limit)
        .await
        .map_err(loyalty_core::Error::from)?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|c| c.id.simple().to_string()))
        .flatten();
    Ok(Json(ListOrOne::Page(Page { items, next_cursor })))
}

async fn one(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(points::customer(&m.ctx(&state)?, id).await?))
}

#[derive(Serialize)]
struct Balance {
    customer_id: Uuid,
    balance: i64,
}

async fn balance(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<Balance>, ApiError> {
    let c = points::customer(&m.ctx(&state)?, id).await?;
    Ok(Json(Balance {
        customer_id: c.id,
        balance: c.balance,
    }))
}

#[derive(Deserialize)]
struct LedgerQuery {
    /// First day, `YYYY-MM-DD`, in the organization's time zone.
    from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`, in the organization's time zone.
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn ledger_page(
    state: &AppState,
    m: &OrgMember,
    customer: Option<Uuid>,
    q: &LedgerQuery,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    let date = |field: &'static str, v: &Option<String>| -> Result<Option<time::Date>, ApiError> {
        v.as_deref()
            .map(|s| {
                time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                    .map_err(|_| {
                        loyalty_core::Error::field(
                            field,
                            format!("{s:?} is not a date; write YYYY-MM-DD"),
                        )
                        .into()
                    })
            })
            .transpose()
    };
    let tz = &m.org.timezone;
    let from = date("from", &q.from)?.map(|d| day_start(d, tz));
    let to = date("to", &q.to)?.map(|d| day_start(d.next_day().unwrap_or(d), tz));
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let limit = limit(q.limit)?;
    let items = state
        .store
        .ledger(m.org.id, customer, from, to, after, limit)
        .await
        .map_err(loyalty_core::Error::from)?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|e| cursor(e.created_at, e.id)))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

async fn customer_ledger(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, Uuid)>,
    Query(q): Query<LedgerQuery>,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    points::customer(&m.ctx(&state)?, id).await?;
    ledger_page(&state, &m, Some(id), &q).await
}

async fn org_ledger(
    State(state): State<AppState>,
    m: OrgMember,
    Query(q): Query<LedgerQuery>,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    if m.role != Some(Role::Admin) {
        return Err(
            loyalty_core::Error::Forbidden("only admins read the whole ledger".into()).into(),
        );
    }
    ledger_page(&state, &m, None, &q).await
}

async fn own_customer(state: &AppState, m: &OrgMember) -> Result<Customer, ApiError> {
    let subject = m
        .subject
        .clone()
        .filter(|_| m.role == Some(Role::Customer))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "auth.forbidden",
                "this is the customers' own view; sign in as a customer of this organization",
            )
        })?;
    state
        .store
        .find_customer(m.org.id, &CustomerKey::Subject(subject))
        .await
        .map_err(loyalty_core::Error::from)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "customer.not_found",
                "you are not enrolled as a customer here yet",
            )
        })
}

async fn me(State(state): State<AppState>, m: OrgMember) -> Result<Json<Customer>, ApiError> {
    Ok(Json(own_customer(&state, &m).await?))
}

async fn my_ledger(
    State(state): State<AppState>,
    m: OrgMember,
    Query(q): Query<LedgerQuery>,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    let c = own_customer(&state, &m).await?;
    ledger_page(&state, &m, Some(c.id), &q).await
}
