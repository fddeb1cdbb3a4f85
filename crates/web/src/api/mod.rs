//! JSON API, version 1, under `/api/v1`.

pub mod org_context;
mod orgs;

use crate::AppState;
use axum::Router;

/// Every `/api/v1` route.
pub fn routes() -> Router<AppState> {
    Router::new().merge(orgs::routes())
}
