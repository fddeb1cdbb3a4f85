//! The organization's signed ledger checkpoints over the API (`docs/integrity.md`): the
//! list, and each one as the file `loyalty points checkpoint --out` writes, with the
//! installation's public key inside, so an auditor can keep it and check it
//! (`loyalty points verify --from-checkpoint FILE`). The admin panel's download link
//! sends the same file through [`file_response`].

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::ApiPath;
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use loyalty_core::domain::chain::Checkpoint;
use loyalty_core::service::integrity::{self, CheckpointSummary};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/checkpoints", get(list))
        .route("/orgs/{slug}/checkpoints/{id}", get(file))
}

api_errors!(ListCheckpointsErrors [SIGNED_IN] {
    OrgMismatch,
    AuthForbidden = "only admins of this organization download its checkpoints",
    OrgSuspended,
    OrgNotFound,
});

/// The organization's ledger checkpoints
///
/// The signed checkpoints of this organization's ledger, newest first (at most 100):
/// when each was taken, what it covers, its root and the public key that signed it.
/// Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/checkpoints",
    operation_id = "list_checkpoints",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The checkpoints, newest first", body = Vec<CheckpointSummary>),
        ListCheckpointsErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn list(
    State(state): State<AppState>,
    m: OrgMember,
) -> Result<Json<Vec<CheckpointSummary>>, ApiError> {
    Ok(Json(integrity::list_checkpoints(&m.ctx(&state)?).await?))
}

api_errors!(CheckpointFileErrors [SIGNED_IN] {
    OrgMismatch,
    RequestPath = "`id` is not a UUID",
    AuthForbidden = "only admins of this organization download its checkpoints",
    OrgSuspended,
    OrgNotFound,
    CheckpointNotFound,
});

/// Download a ledger checkpoint
///
/// One signed checkpoint as a JSON file (an attachment): every customer's chain head
/// then, their root and counts, the installation's Ed25519 public key (`public_key`)
/// and the signature. `loyalty points verify --from-checkpoint FILE` proves with it
/// that no entry it covers changed since. Admins only; another organization's
/// checkpoint is not found.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/checkpoints/{id}",
    operation_id = "download_checkpoint",
    tag = "admin",
    params(super::params::OrgIdPath, super::params::OrgHeader),
    responses(
        (status = 200, description = "The checkpoint file, as an attachment", body = Checkpoint),
        CheckpointFileErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn file(
    State(state): State<AppState>,
    m: OrgMember,
    ApiPath((_, id)): ApiPath<(String, uuid::Uuid)>,
) -> Result<Response, ApiError> {
    let cp = integrity::checkpoint_file(&m.ctx(&state)?, id).await?;
    Ok(file_response(m.org.slug.as_str(), &cp))
}

/// The checkpoint file as an attachment named after the organization and the day it
/// was taken.
pub(crate) fn file_response(slug: &str, cp: &Checkpoint) -> Response {
    let name = format!("{slug}-checkpoint-{}.json", cp.created_at.date());
    crate::download::attachment("application/json", &name, cp.to_file())
}
