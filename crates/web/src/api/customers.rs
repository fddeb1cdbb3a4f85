//! Customers: enroll, look up, list, get, and their ledger; a customer's own view.

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath, ApiQuery, cursor, limit, parse_cursor};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use loyalty_core::ErrorCode;
use loyalty_core::domain::CustomerId;
use loyalty_core::domain::ledger::{Customer, LedgerEntry, Page, PointsError};
use loyalty_core::service::customers::{self, LedgerRange};
use loyalty_core::service::points::{self, EnrollInput, day_start};
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/customers", get(list_or_lookup).post(enroll))
        .route("/orgs/{slug}/customers/{id}", get(one))
        .route(
            "/orgs/{slug}/customers/{id}/consent",
            axum::routing::put(set_consent),
        )
        .route("/orgs/{slug}/customers/{id}/balance", get(balance))
        .route("/orgs/{slug}/customers/{id}/ledger", get(customer_ledger))
        .route("/orgs/{slug}/ledger", get(org_ledger))
        .route("/orgs/{slug}/me", get(me))
        .route("/orgs/{slug}/me/ledger", get(my_ledger))
}

api_errors!(EnrollCustomerErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch = "`X-Organization` names another organization",
    RequestMalformedJson,
    RequestInvalid,
    AuthForbidden = "customers, and callers without a role in the organization, cannot enroll",
    OrgSuspended,
    OrgNotFound,
    CustomerExists,
    CustomerCardCollision,
    RequestInvalidField = "a field has the wrong JSON type, or is not one of `phone`, `email`, `name`",
    ValidationFailed = "invalid `phone`, `email` or `name`, or neither phone nor email given; see `fields`",
});

/// Enroll a customer
///
/// By phone, email or both; the customer gets a new 12-digit card number. Staff only
/// (admins and cashiers).
#[utoipa::path(
    post,
    path = "/orgs/{slug}/customers",
    operation_id = "enroll_customer",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = super::params::EnrollBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Enrolled", body = Customer),
        EnrollCustomerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn enroll(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(body): ApiJson<super::params::EnrollBody>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    let c = points::enroll(&m.ctx(&state)?, &EnrollInput::from(body), None).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Look one customer up by phone (E.164, or national in the organization's country),
    /// email or 12-digit card number; the answer is then that customer, not a page.
    q: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// With `q`, the customer found; without, a page of customers.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum ListOrOne {
    One(Customer),
    Page(Page<Customer>),
}

api_errors!(ListOrLookupCustomersErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    RequestInvalidCursor,
    AuthForbidden = "customers, and callers without a role in the organization, cannot list or look up customers",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound = "with `q`: no customer matches",
    ValidationFailed = "`q` is neither an email address, a card number nor a phone number; field `q`",
    RequestInvalidLimit,
});

/// List customers, or look one up
///
/// With `q`: the one customer with that phone, email or card number. Without: a page of
/// the organization's customers. Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers",
    operation_id = "list_or_lookup_customers",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader, ListQuery),
    responses(
        (status = 200, description = "With `q`: the customer (a `Customer`); without: a page of customers (a `Page`)", body = ListOrOne),
        ListOrLookupCustomersErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn list_or_lookup(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ListOrOne>, ApiError> {
    let ctx = m.ctx(&state)?;
    if let Some(query) = q.q.as_deref().filter(|s| !s.trim().is_empty()) {
        return Ok(Json(ListOrOne::One(points::lookup(&ctx, query).await?)));
    }
    let limit = limit(q.limit)?;
    let after = match q.cursor.as_deref() {
        Some(c) => Some(c.parse::<CustomerId>().map_err(|_| {
            ApiError::new(
                ErrorCode::RequestInvalidCursor,
                "cursor is not one this server gave out",
            )
        })?),
        None => None,
    };
    let items = customers::list(&ctx, after, limit).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|c| c.id.0.simple().to_string()))
        .flatten();
    Ok(Json(ListOrOne::Page(Page { items, next_cursor })))
}

api_errors!(GetCustomerErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
});

/// A customer
///
/// Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers/{id}",
    operation_id = "get_customer",
    tag = "customers",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The customer", body = Customer),
        GetCustomerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn one(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(points::customer(&m.ctx(&state)?, id).await?))
}

/// A customer's answer about marketing mail.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// Whether the customer asked for news and offers by email.
    granted: bool,
}

api_errors!(SetConsentErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    RequestMalformedJson,
    RequestInvalid,
    RequestInvalidField = "`granted` is missing or not a boolean, or another field is given",
    AuthForbidden = "customers (who change theirs in the portal), and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
});

/// Record a customer's marketing consent
///
/// The answer the customer gave the shop (in person or on the phone), recorded with the
/// time and the source `staff` and audited. Marketing mail goes only to customers whose
/// answer is yes; receipts and sign-in links are not marketing. Staff only.
#[utoipa::path(
    put,
    path = "/orgs/{slug}/customers/{id}/consent",
    operation_id = "set_customer_consent",
    tag = "customers",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    request_body(content = ConsentBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The customer, with the answer recorded", body = Customer),
        SetConsentErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn set_consent(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
    ApiJson(body): ApiJson<ConsentBody>,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(
        customers::set_marketing_consent(&m.ctx(&state)?, id, body.granted).await?,
    ))
}

/// A customer's balance.
#[derive(Serialize, utoipa::ToSchema)]
struct Balance {
    /// The customer.
    #[schema(value_type = Uuid)]
    customer_id: CustomerId,
    /// Current balance in points.
    balance: i64,
}

api_errors!(GetCustomerBalanceErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
});

/// A customer's balance
///
/// Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers/{id}/balance",
    operation_id = "get_customer_balance",
    tag = "customers",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The balance", body = Balance),
        GetCustomerBalanceErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn balance(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
) -> Result<Json<Balance>, ApiError> {
    let c = points::customer(&m.ctx(&state)?, id).await?;
    Ok(Json(Balance {
        customer_id: c.id,
        balance: c.balance,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LedgerQuery {
    /// First day, `YYYY-MM-DD`, in the organization's time zone.
    from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`, in the organization's time zone.
    to: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// The entries a ledger query asks for, as parsed from its parameters.
fn ledger_range(m: &OrgMember, q: &LedgerQuery) -> Result<LedgerRange, ApiError> {
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
    Ok(LedgerRange {
        from,
        to,
        after,
        limit,
    })
}

/// A page of ledger entries, with the cursor of the next one when this one is full.
fn ledger_page(items: Vec<LedgerEntry>, range: LedgerRange) -> Json<Page<LedgerEntry>> {
    let next_cursor = (items.len() == range.limit as usize)
        .then(|| items.last().map(|e| cursor(e.created_at, e.id)))
        .flatten();
    Json(Page { items, next_cursor })
}

api_errors!(GetCustomerLedgerErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    RequestInvalidCursor,
    AuthForbidden = "customers, and callers without a role in the organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
    ValidationFailed = "`from` or `to` is not a date `YYYY-MM-DD`; see `fields`",
    RequestInvalidLimit,
});

/// A customer's ledger
///
/// Entries oldest first, optionally between two days of the organization's time zone.
/// Staff only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers/{id}/ledger",
    operation_id = "get_customer_ledger",
    tag = "customers",
    params(super::params::OrgIdPath, super::params::OrgHeader, LedgerQuery),
    responses(
        (status = 200, description = "A page of ledger entries", body = Page<LedgerEntry>),
        GetCustomerLedgerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn customer_ledger(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    let ctx = m.ctx(&state)?;
    points::customer(&ctx, id).await?;
    let range = ledger_range(&m, &q)?;
    let items = customers::ledger(&ctx, Some(id), range).await?;
    Ok(ledger_page(items, range))
}

api_errors!(GetOrgLedgerErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    RequestInvalidCursor,
    AuthForbidden = "only admins read the whole ledger",
    OrgSuspended,
    OrgNotFound,
    ValidationFailed = "`from` or `to` is not a date `YYYY-MM-DD`; see `fields`",
    RequestInvalidLimit,
});

/// The organization's ledger
///
/// Every customer's entries, oldest first, optionally between two days of the
/// organization's time zone. Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/ledger",
    operation_id = "get_org_ledger",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader, LedgerQuery),
    responses(
        (status = 200, description = "A page of ledger entries", body = Page<LedgerEntry>),
        GetOrgLedgerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn org_ledger(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    let ctx = m.ctx(&state)?;
    let range = ledger_range(&m, &q)?;
    let items = customers::ledger(&ctx, None, range).await?;
    Ok(ledger_page(items, range))
}

/// A customer's own view refused because they have not enrolled here yet.
fn not_enrolled(e: loyalty_core::Error) -> ApiError {
    match e {
        loyalty_core::Error::Points(PointsError::CustomerNotFound) => ApiError::new(
            ErrorCode::CustomerNotFound,
            "you are not enrolled as a customer here yet",
        ),
        e => e.into(),
    }
}

api_errors!(GetMeErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "this is the customers' own view: only a person signed in as a customer of this organization; API tokens and staff are refused",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound = "the signed-in person is not enrolled as a customer here yet",
});

/// The signed-in customer
///
/// The customers' own view: needs a session of a person with the customer role here.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/me",
    operation_id = "get_me",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The caller as a customer", body = Customer),
        GetMeErrors,
    ),
    security(("session" = []))
)]
async fn me(State(state): State<AppState>, m: OrgMember) -> Result<Json<Customer>, ApiError> {
    let ctx = m.ctx(&state)?;
    Ok(Json(
        customers::own(&ctx, m.subject.as_deref())
            .await
            .map_err(not_enrolled)?,
    ))
}

api_errors!(GetMyLedgerErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    RequestInvalidCursor,
    AuthForbidden = "this is the customers' own view: only a person signed in as a customer of this organization; API tokens and staff are refused",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound = "the signed-in person is not enrolled as a customer here yet",
    ValidationFailed = "`from` or `to` is not a date `YYYY-MM-DD`; see `fields`",
    RequestInvalidLimit,
});

/// The signed-in customer's ledger
///
/// Entries oldest first, optionally between two days of the organization's time zone.
/// Needs a session of a person with the customer role here.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/me/ledger",
    operation_id = "get_my_ledger",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader, LedgerQuery),
    responses(
        (status = 200, description = "A page of the caller's ledger entries", body = Page<LedgerEntry>),
        GetMyLedgerErrors,
    ),
    security(("session" = []))
)]
async fn my_ledger(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> Result<Json<Page<LedgerEntry>>, ApiError> {
    let ctx = m.ctx(&state)?;
    let range = ledger_range(&m, &q)?;
    let (_, items) = customers::own_ledger(&ctx, m.subject.as_deref(), range)
        .await
        .map_err(not_enrolled)?;
    Ok(ledger_page(items, range))
}
