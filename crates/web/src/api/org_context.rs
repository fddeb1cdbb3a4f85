//! The organization a request acts in: from the path (`/orgs/{slug}/...`), with the
//! runbook's `X-Organization` header accepted when it agrees. Looked up on every request
//! (no cache), so an organization inserted by SQL is usable at once.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use loyalty_core::ErrorCode;
use loyalty_core::domain::Organization;
use std::collections::HashMap;

/// Header naming the organization, as in the runbook's API clients.
pub const X_ORGANIZATION: &str = "x-organization";

/// An organization that exists and is active.
#[derive(Debug, Clone)]
pub struct ActiveOrg(pub Organization);

/// The organization slug a request names: the path's `{slug}`, or the runbook's
/// `X-Organization` header; both present and different is refused.
pub async fn requested_slug(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::new(ErrorCode::RequestPath, e.body_text()))?;
    let header = parts
        .headers
        .get(X_ORGANIZATION)
        .map(|v| v.to_str().unwrap_or_default().trim().to_owned());
    match (params.get("slug"), header) {
        (Some(path), Some(h)) if !h.is_empty() && &h != path => Err(ApiError::new(
            ErrorCode::OrgMismatch,
            format!(
                "the path names organization {path:?} but X-Organization names {h:?}; send one organization"
            ),
        )),
        (Some(path), _) => Ok(path.clone()),
        (None, Some(h)) if !h.is_empty() => Ok(h),
        _ => Err(ApiError::new(
            ErrorCode::OrgMissing,
            "name the organization in the path (/api/v1/orgs/{slug}/...) or the X-Organization header",
        )),
    }
}

/// 404 for an organization that does not exist (or is not visible).
pub fn org_not_found(raw: &str) -> ApiError {
    ApiError::new(ErrorCode::OrgNotFound, format!("no organization {raw:?}"))
}

impl FromRequestParts<AppState> for ActiveOrg {
    type Rejection = ApiError;

    /// A suspended organization answers 403 `org.suspended`; a half-finished
    /// onboarding is not visible at all (see [`loyalty_core::access::active_org`]).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = requested_slug(parts, state).await?;
        match loyalty_core::access::active_org(state.store.as_ref(), &raw).await {
            Ok(org) => Ok(ActiveOrg(org)),
            Err(loyalty_core::Error::NotFound(..)) => Err(org_not_found(&raw)),
            Err(e) => Err(e.into()),
        }
    }
}
