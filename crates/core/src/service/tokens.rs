//! Org-scoped API tokens for till devices (admins): issue one (the caller makes the
//! secret and hands in its hash), list them, revoke one.

use super::context::{ADMIN, Ctx};
use crate::Error;
use crate::domain::ledger::ApiToken;
use crate::domain::{ApiTokenId, Role};
use crate::error::FieldError;

/// Stores a new token with the hash of its secret, for a cashier or admin role.
pub async fn create(
    ctx: &Ctx<'_>,
    name: &str,
    role: Role,
    token_hash: &str,
) -> Result<ApiToken, Error> {
    ctx.require(ADMIN, "manage API tokens")?;
    let mut errors = Vec::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new(
            "name",
            "is required (1-100 characters), such as \"till 3\"",
        ));
    }
    if role == Role::Customer {
        errors.push(FieldError::new("role", "must be cashier or admin"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(ctx
        .store
        .insert_api_token(
            ctx.org.id,
            name,
            role,
            token_hash,
            &ctx.actor,
            ctx.clock.now(),
        )
        .await?)
}

/// The organization's tokens, live and revoked, without their secrets.
pub async fn list(ctx: &Ctx<'_>) -> Result<Vec<ApiToken>, Error> {
    ctx.require(ADMIN, "manage API tokens")?;
    Ok(ctx.store.list_api_tokens(ctx.org.id).await?)
}

/// Revokes a live token; `false` when this organization has no live token with this id.
pub async fn revoke(ctx: &Ctx<'_>, id: ApiTokenId) -> Result<bool, Error> {
    ctx.require(ADMIN, "manage API tokens")?;
    Ok(ctx
        .store
        .revoke_api_token(ctx.org.id, id, &ctx.actor, ctx.clock.now())
        .await?)
}
