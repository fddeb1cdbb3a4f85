//! A person's data: their data package (zip) and their erasure, asked for by an admin
//! for any customer of the organization or by a signed-in customer for themselves
//! (`docs/privacy.md`).

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::{ApiJson, ApiPath};
use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use loyalty_core::domain::CustomerId;
use loyalty_core::service::erasure::{self, Erasure};
use loyalty_core::service::exports::{DataPackage, customer_package, own_package};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/customers/{id}/export", get(export_customer))
        .route("/orgs/{slug}/customers/{id}/erase", post(erase_customer))
        .route("/orgs/{slug}/me/export", get(export_me))
        .route("/orgs/{slug}/me/erase", post(erase_me))
}

/// The confirmation of an erasure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// The word `ERASE`: the erasure cannot be undone.
    #[schema(example = "ERASE")]
    confirm: String,
}

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// The customer; the row stays with its ledger and purchases.
    #[schema(value_type = uuid::Uuid)]
    customer_id: CustomerId,
    /// The name the row keeps instead of theirs.
    pseudonym: String,
    /// Sessions ended.
    sessions_ended: u64,
    /// Mails to them (queued or kept) removed.
    mails_removed: u64,
    /// Whether their built-in account was removed (kept while they are a customer of
    /// another organization).
    account_removed: bool,
    /// Whether their user at Authentik was deleted.
    directory_user_ended: bool,
}

impl From<Erasure> for Erased {
    fn from(e: Erasure) -> Self {
        Self {
            customer_id: e.customer_id,
            pseudonym: e.pseudonym,
            sessions_ended: e.erased.sessions,
            mails_removed: e.erased.mails,
            account_removed: e.erased.account_removed,
            directory_user_ended: e.directory_user_ended,
        }
    }
}

fn attachment(p: DataPackage) -> Response {
    crate::download::attachment(p.content_type(), &p.file_name, p.bytes)
}

api_errors!(ExportCustomerErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "only admins of this organization export a customer's data",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
});

/// Export a customer's data
///
/// The customer's data package: a zip with `README.txt`, `data.json` and one CSV per
/// part (profile, ledger, purchases, redemptions, audit records about them). Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/customers/{id}/export",
    operation_id = "export_customer",
    tag = "customers",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The zip, as an attachment", content((Vec<u8> = "application/zip"))),
        ExportCustomerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn export_customer(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
) -> Result<Response, ApiError> {
    Ok(attachment(customer_package(&m.ctx(&state)?, id).await?))
}

api_errors!(EraseCustomerErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    RequestMalformedJson,
    RequestInvalid,
    RequestInvalidField = "`confirm` is missing or not a string, or another field is given",
    AuthForbidden = "only admins of this organization erase a customer",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound,
    ValidationFailed = "`confirm` is not `ERASE`",
});

/// Erase a customer
///
/// Anonymises the customer: name replaced by a pseudonym, email, phone and card
/// number cleared, sessions, one-time links and mail ended, their built-in account
/// removed (with Authentik: their user deleted) unless they are a customer of
/// another organization. The ledger and purchases stay. Cannot be undone; a restore of
/// a backup erases them again. Admins only.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/customers/{id}/erase",
    operation_id = "erase_customer",
    tag = "customers",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    request_body(content = EraseBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Erased", body = Erased),
        EraseCustomerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn erase_customer(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, CustomerId)>,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<Json<Erased>, ApiError> {
    let done = erasure::erase_customer(
        &m.ctx(&state)?,
        state.directory.as_ref(),
        state.config.erasure_journal.as_deref(),
        id,
        &body.confirm,
    )
    .await?;
    Ok(Json(done.into()))
}

api_errors!(ExportMeErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "this is the customers' own view: only a person signed in as a customer of this organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound = "the signed-in person is not enrolled as a customer here",
});

/// Export my data
///
/// The signed-in customer's own data package (as `export_customer`).
#[utoipa::path(
    get,
    path = "/orgs/{slug}/me/export",
    operation_id = "export_me",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The zip, as an attachment", content((Vec<u8> = "application/zip"))),
        ExportMeErrors,
    ),
    security(("session" = []))
)]
async fn export_me(State(state): State<AppState>, m: OrgMember) -> Result<Response, ApiError> {
    Ok(attachment(
        own_package(&m.ctx(&state)?, m.subject.as_deref()).await?,
    ))
}

api_errors!(EraseMeErrors [SIGNED_IN, JSON_BODY] {
    OrgMismatch,
    RequestMalformedJson,
    RequestInvalid,
    RequestInvalidField = "`confirm` is missing or not a string, or another field is given",
    AuthForbidden = "this is the customers' own view: only a person signed in as a customer of this organization",
    OrgSuspended,
    OrgNotFound,
    CustomerNotFound = "the signed-in person is not enrolled as a customer here",
    ValidationFailed = "`confirm` is not `ERASE`",
});

/// Erase my account
///
/// The signed-in customer erases themselves (as `erase_customer`); their session ends.
#[utoipa::path(
    post,
    path = "/orgs/{slug}/me/erase",
    operation_id = "erase_me",
    tag = "customers",
    params(super::params::OrgPath, super::params::OrgHeader),
    request_body(content = EraseBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Erased", body = Erased),
        EraseMeErrors,
    ),
    security(("session" = []))
)]
async fn erase_me(
    State(state): State<AppState>,
    m: OrgMember,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<Json<Erased>, ApiError> {
    let done = erasure::erase_own(
        &m.ctx(&state)?,
        state.directory.as_ref(),
        state.config.erasure_journal.as_deref(),
        m.subject.as_deref(),
        &body.confirm,
    )
    .await?;
    Ok(Json(done.into()))
}
