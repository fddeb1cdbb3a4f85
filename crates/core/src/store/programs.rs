//! Storage of an organization's loyalty program (stamp cards, promotions) and the reads
//! of a customer's standing in it. The stamps themselves move only inside the points
//! ledger's transactions (`ledger_tx::ProgramTx`).

use crate::domain::ledger::Actor;
use crate::domain::program::{
    CustomerState, Program, RuleId, TierBasis, TierCandidate, TierChange,
};
use crate::domain::{CustomerId, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The program of an organization. Every method takes the organization first and
/// touches only its rows.
#[async_trait]
pub trait ProgramStore: Send + Sync {
    /// Stores `program` as the organization's current program and in its history, with
    /// an audit record, when the current version is `program.version - 1`; `false` (and
    /// nothing written) when someone saved another version meanwhile.
    async fn save_program(
        &self,
        org: OrgId,
        program: &Program,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// A past or current version of the program.
    async fn program_version(
        &self,
        org: OrgId,
        version: i64,
    ) -> Result<Option<Program>, StoreError>;
    /// A customer's stamps per card, stamps given since `day_start`, and promotion uses.
    async fn customer_program_state(
        &self,
        org: OrgId,
        customer: CustomerId,
        day_start: OffsetDateTime,
    ) -> Result<CustomerState, StoreError>;
    /// Every customer of the organization who holds a tier or earned (or spent) anything
    /// since `since`, with their tier, grace start and what they earned or spent on
    /// `basis` since then, in one read; only `customer` when given.
    async fn tier_candidates(
        &self,
        org: OrgId,
        basis: TierBasis,
        since: OffsetDateTime,
        customer: Option<CustomerId>,
    ) -> Result<Vec<TierCandidate>, StoreError>;
    /// Writes one batch of a recalculation's changes in one transaction: the customers'
    /// tier rows, a `tier_moves` row per move, the entry bonuses through the ledger (an
    /// `earned` entry each) and one `tiers.recalculate` audit record.
    async fn apply_tier_changes(
        &self,
        org: OrgId,
        pass: &TierPass,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Customers per tier (`None`: no tier), for the dashboard.
    async fn tier_distribution(&self, org: OrgId)
    -> Result<Vec<(Option<RuleId>, i64)>, StoreError>;
    /// Active customers born on `month`/`day` who have no ledger entry under
    /// `idempotency_key(customer)` yet (the birthday bonus of that year).
    async fn birthday_customers(
        &self,
        org: OrgId,
        month: u8,
        day: u8,
        key_prefix: &str,
        key_suffix: &str,
    ) -> Result<Vec<CustomerId>, StoreError>;
}

/// One recalculation's changes, as the store writes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierPass {
    /// Every changed customer row.
    pub changes: Vec<TierChange>,
    /// Moves up.
    pub up: u64,
    /// Moves down.
    pub down: u64,
}
