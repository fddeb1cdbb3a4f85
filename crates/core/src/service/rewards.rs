//! The rewards catalog: checking reward input, creating and changing rewards (admins),
//! and reading the catalog (everyone with a role in the organization).

use super::context::{ADMIN, Ctx};
use crate::Error;
use crate::domain::ledger::{PointsError, Reward, RewardInput};
use crate::domain::points::MAX_POINTS;
use crate::domain::{RewardId, Role};
use crate::error::{ErrorCode, FieldError};
use crate::store::StoreError;

/// Everyone with a role here reads the catalog: staff at the till, customers in the portal.
const ANY_ROLE: &[Role] = &[Role::Admin, Role::Cashier, Role::Customer];

/// Every reward, by name.
pub async fn list(ctx: &Ctx<'_>) -> Result<Vec<Reward>, Error> {
    ctx.require(ANY_ROLE, "see rewards")?;
    Ok(ctx.store.list_rewards(ctx.org.id).await?)
}

/// One reward; `RewardNotFound` when this organization has none with this id.
pub async fn get(ctx: &Ctx<'_>, id: RewardId) -> Result<Reward, Error> {
    ctx.require(ANY_ROLE, "see rewards")?;
    ctx.store
        .reward(ctx.org.id, id)
        .await?
        .ok_or(Error::Points(PointsError::RewardNotFound))
}

/// Checks reward input.
pub fn reward_input(
    name: &str,
    cost_points: i64,
    active: bool,
    stock: Option<i64>,
) -> Result<RewardInput, Error> {
    let mut errors = Vec::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push(FieldError::new(
            "name",
            "is required (1-120 characters), such as \"Free coffee\"",
        ));
    }
    if !(1..=MAX_POINTS).contains(&cost_points) {
        errors.push(FieldError::new(
            "cost_points",
            format!("must be a whole number from 1 to {MAX_POINTS}"),
        ));
    }
    let stock = match stock {
        Some(s) if !(0..=i64::from(i32::MAX)).contains(&s) => {
            errors.push(FieldError::new(
                "stock",
                "must be 0 or more, or absent for unlimited",
            ));
            None
        }
        Some(s) => i32::try_from(s).ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(RewardInput {
        name: name.to_owned(),
        cost_points,
        active,
        stock,
    })
}

/// Creates a reward.
pub async fn create_reward(ctx: &Ctx<'_>, input: &RewardInput) -> Result<Reward, Error> {
    ctx.require(ADMIN, "manage rewards")?;
    ctx.store
        .create_reward(ctx.org.id, input, &ctx.actor, ctx.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(
                ErrorCode::RewardExists,
                format!("a reward named {:?} already exists", input.name),
            ),
            e => e.into(),
        })
}

/// Replaces a reward.
pub async fn update_reward(
    ctx: &Ctx<'_>,
    id: RewardId,
    input: &RewardInput,
) -> Result<Reward, Error> {
    ctx.require(ADMIN, "manage rewards")?;
    ctx.store
        .update_reward(ctx.org.id, id, input, &ctx.actor, ctx.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(
                ErrorCode::RewardExists,
                format!("a reward named {:?} already exists", input.name),
            ),
            e => e.into(),
        })?
        .ok_or(Error::Points(PointsError::RewardNotFound))
}
