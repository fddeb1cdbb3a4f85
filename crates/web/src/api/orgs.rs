//! Public facts about an organization, for sign-in and join pages and for checking that
//! an organization is live.

use super::error_docs::api_errors;
use super::org_context::ActiveOrg;
use crate::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{slug}", get(public_info))
}

/// What anyone may know about an active organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PublicInfo {
    /// Slug, as in the paths.
    slug: String,
    /// Display name.
    name: String,
    /// Always `active`: other organizations are not visible.
    #[schema(example = "active")]
    status: &'static str,
    /// Language tag, such as `en-US`.
    language: String,
    /// IANA time zone, such as `America/New_York`; days of ledger queries are in it.
    timezone: String,
    /// ISO 4217 currency code of amounts, such as `USD`.
    currency: String,
}

api_errors!(GetOrganizationErrors [] {
    OrgMismatch,
    OrgSuspended,
    OrgNotFound,
});

/// Public facts about an active organization
///
/// Needs no sign-in: for sign-in and join pages, and to check that an organization is live.
#[utoipa::path(
    get,
    path = "/orgs/{slug}",
    operation_id = "get_organization",
    tag = "orgs",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The organization", body = PublicInfo),
        GetOrganizationErrors,
    )
)]
async fn public_info(ActiveOrg(org): ActiveOrg) -> Json<PublicInfo> {
    Json(PublicInfo {
        slug: org.slug.to_string(),
        name: org.name,
        status: org.status.as_str(),
        language: org.language.to_string(),
        timezone: org.timezone.to_string(),
        currency: org.currency.to_string(),
    })
}
