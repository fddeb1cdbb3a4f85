//! Who is calling and what they may do in the organization named by the request.
//!
//! Two ways in: a till device's org-scoped API token (`Authorization: Bearer lyt_...`,
//! stored hashed, role cashier or admin) or a signed-in person's session cookie, whose
//! identity-provider groups give their roles. The organization comes from the path (or
//! `X-Organization`). This file only reads the request into a principal;
//! `loyalty_core::access::enter` decides (token bound to its organization, roles from
//! the person's groups), so nobody reaches an organization they have no role in.

use super::org_context::{ActiveOrg, org_not_found, requested_slug};
use crate::AppState;
use crate::error::ApiError;
use crate::session;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use loyalty_core::ErrorCode;
use loyalty_core::access::{self, Access, Principal};
use loyalty_core::secret;
use loyalty_core::service::points::Ctx;
use loyalty_core::store::ExternalSubject;

/// Prefix of API tokens, so they are recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "lyt_";

/// A caller with a role in the active organization of the request, as
/// [`access::enter`] decided (its fields read through: `org`, `role`, `operator`,
/// `actor`, `subject`).
#[derive(Debug, Clone)]
pub struct OrgMember(pub Access);

impl std::ops::Deref for OrgMember {
    type Target = Access;

    fn deref(&self) -> &Access {
        &self.0
    }
}

impl OrgMember {
    /// A use-case context, for callers with a role in the organization.
    pub fn ctx<'a>(&'a self, state: &'a AppState) -> Result<Ctx<'a>, ApiError> {
        Ok(self.0.ctx(state.access())?)
    }
}

fn unauthorized(code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(code, message)
}

fn forbidden() -> ApiError {
    ApiError::new(
        ErrorCode::AuthForbidden,
        "you have no role in this organization that allows this",
    )
}

/// A failure of the store while authenticating: `internal`, or `unavailable` when the
/// database cannot be reached (logged once, by the conversion).
fn internal(e: impl Into<loyalty_core::Error>) -> ApiError {
    ApiError::from(e.into())
}

/// The API answer for a refused [`access::enter`]: an organization that is not there
/// is named as the request named it.
fn refused(e: loyalty_core::Error, raw: &str) -> ApiError {
    match e {
        loyalty_core::Error::NotFound(..) => org_not_found(raw),
        e => e.into(),
    }
}

/// The bearer token of the request, if any.
fn bearer(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned)
}

impl FromRequestParts<AppState> for OrgMember {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = crate::request_id(&parts.headers);
        if let Some(token) = bearer(parts) {
            // One read finds the token and its organization (the hot path of a till).
            let raw = requested_slug(parts, state).await?;
            if !token.starts_with(TOKEN_PREFIX) {
                let Some(oidc) = state.identity.oidc() else {
                    return Err(unauthorized(
                        ErrorCode::AuthInvalidToken,
                        "the bearer token is not valid here",
                    ));
                };
                let identity = oidc.verify_bearer(&token).await.map_err(|e| {
                    tracing::info!(error = %e, "bearer token refused");
                    unauthorized(
                        ErrorCode::AuthInvalidToken,
                        "the bearer token is invalid or expired",
                    )
                })?;
                let ActiveOrg(org) = ActiveOrg::from_request_parts(parts, state).await?;
                let subject = ExternalSubject {
                    username: identity
                        .preferred_username
                        .clone()
                        .or_else(|| identity.email.clone())
                        .unwrap_or_else(|| identity.subject.clone()),
                    name: identity.name.clone().unwrap_or_default(),
                    email: identity.email.clone(),
                    groups: identity.groups,
                    subject: identity.subject,
                };
                return access::enter(state.access(), org, Principal::Subject(subject), request_id)
                    .await
                    .map(OrgMember)
                    .map_err(|e| refused(e, &raw));
            }
            let found = access::api_token(state.store.as_ref(), &token)
                .await
                .map_err(internal)?;
            let Some(found) = found else {
                return Err(unauthorized(
                    ErrorCode::AuthInvalidToken,
                    "the bearer token is unknown or revoked",
                ));
            };
            if found.org.slug.as_str() != raw {
                // A token of another organization: do not tell whether `raw` exists.
                return Err(forbidden());
            }
            let org = found.org.clone();
            let principal = Principal::Token(Box::new(found));
            return access::enter(state.access(), org, principal, request_id)
                .await
                .map(OrgMember)
                .map_err(|e| refused(e, &raw));
        }
        let ActiveOrg(org) = ActiveOrg::from_request_parts(parts, state).await?;
        let Some(token) = session::token_from(&parts.headers) else {
            return Err(unauthorized(
                ErrorCode::AuthRequired,
                "sign in, or send an API token as Authorization: Bearer",
            ));
        };
        let Some(session) = state
            .store
            .session(&secret::hash_token(&token), state.clock.now())
            .await
            .map_err(internal)?
        else {
            return Err(unauthorized(
                ErrorCode::AuthRequired,
                "your session has ended; sign in again",
            ));
        };
        let raw = org.slug.to_string();
        access::enter(state.access(), org, session.principal.into(), request_id)
            .await
            .map(OrgMember)
            .map_err(|e| refused(e, &raw))
    }
}
