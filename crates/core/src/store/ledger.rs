//! Storage of the points ledger: points commands, purchases, entries, expiry, the
//! points settings that drive earning, and the invariant check over balances.

use crate::domain::ledger::{
    Actor, IdempotencyKey, LedgerEntry, PointsCommand, PointsError, PointsOutcome, Purchase,
};
use crate::domain::points::EarningRule;
use crate::domain::program::Grant;
use crate::domain::{CustomerId, LedgerEntryId, OrgId, PurchaseId};
use crate::error::StoreError;
use async_trait::async_trait;
use rust_decimal::Decimal;
use time::OffsetDateTime;

/// The result of checking the ledger invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InvariantReport {
    /// Customers checked.
    pub customers: i64,
    /// Ledger entries checked.
    pub entries: i64,
    /// Customers whose balance differs from the sum of their entries.
    pub balance_mismatches: i64,
    /// Customers with a negative balance.
    pub negative_balances: i64,
    /// Entries whose `balance_after` is not the previous one plus their points.
    pub broken_chains: i64,
}

impl InvariantReport {
    /// Whether every invariant holds.
    pub fn holds(&self) -> bool {
        self.balance_mismatches == 0 && self.negative_balances == 0 && self.broken_chains == 0
    }
}

/// Points settings of an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsSettings {
    /// Earning rule.
    pub earning: EarningRule,
    /// Days after earning when points expire; `None` for never.
    pub expiry_days: Option<i32>,
    /// Whether the public join page is open.
    pub join_enabled: bool,
    /// The largest usual purchase; `None` derives it from recent purchases.
    pub purchase_bound: Option<Decimal>,
    /// Points per customer per day above which the dashboard flags the customer.
    pub daily_points_flag: Option<i64>,
}

/// The points ledger of an organization. Every method takes the organization first and
/// touches only its rows (the invariant check may cover every organization).
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Applies a points command in one transaction, with its ledger entry, audit record
    /// and idempotency record; a known key replays the first result.
    async fn apply_points(
        &self,
        org: OrgId,
        cmd: &PointsCommand,
        actor: &Actor,
        idem: Option<&IdempotencyKey>,
        now: OffsetDateTime,
    ) -> Result<PointsOutcome, PointsError>;
    /// A purchase.
    async fn purchase(&self, org: OrgId, id: PurchaseId) -> Result<Option<Purchase>, StoreError>;
    /// The breakdowns (grants) of the purchases among `ids` that the organization holds
    /// and that were computed under a program, in no particular order: a page of ledger
    /// entries reads its awards' breakdowns in one query. Purchases without grants are
    /// left out.
    async fn purchase_grants(
        &self,
        org: OrgId,
        ids: &[PurchaseId],
    ) -> Result<Vec<(PurchaseId, Vec<Grant>)>, StoreError>;
    /// Ledger entries, oldest first, of one customer or the whole org, in `[from, to)`,
    /// after the cursor `(created_at, id)`.
    async fn ledger(
        &self,
        org: OrgId,
        customer: Option<CustomerId>,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, LedgerEntryId)>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Customers holding points earned before `cutoff` (candidates for expiry).
    async fn expiry_candidates(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<CustomerId>, StoreError>;
    /// Expires, oldest first, the points a customer earned before `cutoff` and has not
    /// spent; returns the points expired (0 for none). With `dry_run`, writes nothing.
    async fn expire_customer(
        &self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<i64, StoreError>;
    /// Changes the points settings.
    async fn update_points_settings(
        &self,
        org: OrgId,
        settings: &PointsSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Purchases of the organization since `since`: how many, and the amount at the
    /// `permille`th thousandth (950 for the 95th percentile, nearest rank); `None` when
    /// there are none.
    async fn purchase_percentile(
        &self,
        org: OrgId,
        since: OffsetDateTime,
        permille: u32,
    ) -> Result<(i64, Option<Decimal>), StoreError>;
    /// Checks balance == sum of entries, balance >= 0, and the `balance_after` chain,
    /// for one org or all.
    async fn check_invariants(&self, org: Option<OrgId>) -> Result<InvariantReport, StoreError>;
}
