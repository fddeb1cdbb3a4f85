//! Public facts about an organization, for sign-in and join pages and for checking that
//! an organization is live.

use super::org_context::ActiveOrg;
use crate::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{slug}", get(public_info))
}

/// What anyone may know about an active organization.
#[derive(Debug, Serialize)]
struct PublicInfo {
    slug: String,
    name: String,
    status: &'static str,
    language: String,
    timezone: String,
    currency: String,
}

async fn public_info(ActiveOrg(org): ActiveOrg) -> Json<PublicInfo> {
    Json(PublicInfo {
        slug: org.slug,
        name: org.name,
        status: org.status.as_str(),
        language: org.language,
        timezone: org.timezone,
        currency: org.currency,
    })
}
