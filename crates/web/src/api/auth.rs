//! Who is calling and what they may do in the organization named by the request.
//!
//! Two ways in: a till device's org-scoped API token (`Authorization: Bearer lyt_...`,
//! stored hashed, role cashier or admin) or a signed-in person's session cookie, whose
//! identity-provider groups give their roles. The organization comes from the path (or
//! `X-Organization`) and is checked against the token's org or the person's groups, so
//! nobody reaches an organization they have no role in.

use super::org_context::{ActiveOrg, requested_slug, require_active};
use crate::AppState;
use crate::error::ApiError;
use crate::session;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use loyalty_core::ErrorCode;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{Organization, Role, resolve_memberships};
use loyalty_core::secret;
use loyalty_core::service::points::Ctx;
use uuid::Uuid;

/// Prefix of API tokens, so they are recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "lyt_";

/// A caller with a role in the active organization of the request.
#[derive(Debug, Clone)]
pub struct OrgMember {
    /// The organization.
    pub org: Organization,
    /// The caller's role there (`None` for an operator without a role in it).
    pub role: Option<Role>,
    /// Whether the caller is an operator of the installation.
    pub operator: bool,
    /// For the ledger and audit log.
    pub actor: Actor,
    /// The caller's identity subject (sessions only).
    pub subject: Option<String>,
}

impl OrgMember {
    /// A use-case context, for callers with a role in the organization.
    pub fn ctx<'a>(&'a self, state: &'a AppState) -> Result<Ctx<'a>, ApiError> {
        let role = self.role.ok_or_else(forbidden)?;
        Ok(Ctx {
            store: state.store.as_ref(),
            clock: state.clock.as_ref(),
            org: &self.org,
            actor: self.actor.clone(),
            role,
        })
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

fn request_id(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(crate::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "authenticating a request");
    ApiError::internal()
}

impl FromRequestParts<AppState> for OrgMember {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = state.clock.now();
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .map(str::to_owned);
        if let Some(token) = bearer {
            // One read finds the token and its organization (the hot path of a till).
            let raw = requested_slug(parts, state).await?;
            if !token.starts_with(TOKEN_PREFIX) {
                let Some(oidc) = &state.oidc else {
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
                let label = identity
                    .preferred_username
                    .clone()
                    .or_else(|| identity.email.clone())
                    .unwrap_or_else(|| identity.subject.clone());
                return member_of(state, parts, org, &identity.groups, identity.subject, label)
                    .await;
            }
            let found = state
                .store
                .api_token_with_org(&secret::hash_token(&token))
                .await
                .map_err(internal)?;
            let Some((t, token_org)) = found else {
                return Err(unauthorized(
                    ErrorCode::AuthInvalidToken,
                    "the bearer token is unknown or revoked",
                ));
            };
            if token_org.slug != raw {
                // A token of another organization: do not tell whether `raw` exists.
                return Err(forbidden());
            }
            let org = require_active(Some(token_org), &raw)?;
            let actor = Actor {
                member_id: None,
                label: format!("token:{}", t.name),
                role: t.role.as_str().into(),
                request_id: request_id(parts),
            };
            return Ok(OrgMember {
                org,
                role: Some(t.role),
                operator: false,
                actor,
                subject: None,
            });
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
            .session(&secret::hash_token(&token), now)
            .await
            .map_err(internal)?
        else {
            return Err(unauthorized(
                ErrorCode::AuthRequired,
                "your session has ended; sign in again",
            ));
        };
        let groups = session::session_groups(state, &session)
            .await
            .map_err(internal)?;
        member_of(
            state,
            parts,
            org,
            &groups,
            session.account.uid.clone(),
            session.account.username.clone(),
        )
        .await
    }
}

/// The caller's role in `org` from `groups` (operators may enter without one).
async fn member_of(
    state: &AppState,
    parts: &Parts,
    org: Organization,
    groups: &[String],
    subject: String,
    label: String,
) -> Result<OrgMember, ApiError> {
    let operator = groups.iter().any(|g| *g == state.config.operators_group);
    let role = resolve_memberships(groups)
        .into_iter()
        .filter(|m| m.prefix == org.group_prefix)
        .map(|m| m.role)
        .min();
    if role.is_none() && !operator {
        return Err(forbidden());
    }
    let member_id: Option<Uuid> = match role {
        Some(_) => state
            .store
            .member_by_subject(org.id, &subject)
            .await
            .map_err(internal)?
            .map(|m| m.id),
        None => None,
    };
    let actor = Actor {
        member_id,
        label,
        role: role.map_or("operator", Role::as_str).into(),
        request_id: request_id(parts),
    };
    Ok(OrgMember {
        org,
        role,
        operator,
        actor,
        subject: Some(subject),
    })
}
