//! JSON API, version 1, under `/api/v1`. Every organization's resources live under
//! `/orgs/{slug}/...`; the runbook's `X-Organization` header is accepted when it agrees.

mod admin;
pub mod auth;
pub(crate) mod checkpoints;
mod customers;
mod error_docs;
pub mod exports;
pub mod extract;
pub mod openapi;
pub mod org_context;
mod orgs;
pub mod params;
mod points;
mod privacy;
mod programs;
mod rewards;
pub mod wallet;
mod webhooks;

use crate::AppState;
use axum::Router;

/// Every `/api/v1` route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(orgs::routes())
        .merge(customers::routes())
        .merge(points::routes())
        .merge(rewards::routes())
        .merge(programs::routes())
        .merge(admin::routes())
        .merge(exports::routes())
        .merge(checkpoints::routes())
        .merge(privacy::routes())
        .merge(webhooks::routes())
}
