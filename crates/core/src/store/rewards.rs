//! Storage of an organization's rewards catalogue.

use crate::domain::ledger::{Actor, Reward, RewardInput};
use crate::domain::{OrgId, RewardId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The rewards of an organization. Every method takes the organization first and touches
/// only its rows.
#[async_trait]
pub trait RewardStore: Send + Sync {
    /// Creates a reward; `Conflict` on a duplicate name.
    async fn create_reward(
        &self,
        org: OrgId,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Reward, StoreError>;
    /// Replaces a reward's fields.
    async fn update_reward(
        &self,
        org: OrgId,
        id: RewardId,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Reward>, StoreError>;
    /// A reward.
    async fn reward(&self, org: OrgId, id: RewardId) -> Result<Option<Reward>, StoreError>;
    /// Every reward, by name.
    async fn list_rewards(&self, org: OrgId) -> Result<Vec<Reward>, StoreError>;
}
