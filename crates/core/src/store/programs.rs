//! Storage of an organization's loyalty program (stamp cards, promotions) and the reads
//! of a customer's standing in it. The stamps themselves move only inside the points
//! ledger's transactions (`ledger_tx::ProgramTx`).

use crate::domain::ledger::Actor;
use crate::domain::program::{CustomerState, Program};
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
}
