//! Storage behind the admin pages' reports and staff management: activity and balance
//! totals, purchase lists, member status and staff rows.

use super::orgs::{Member, NewMember};
use crate::domain::ledger::{Actor, Purchase};
use crate::domain::{CustomerId, OrgId, PurchaseId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// Totals of an organization's activity in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ActivityTotals {
    /// Purchases recorded.
    pub purchases: i64,
    /// Points earned by purchases.
    pub points_issued: i64,
    /// Points spent (a positive number).
    pub points_redeemed: i64,
    /// Customers who earned or redeemed points.
    pub active_customers: i64,
}

/// Totals over an organization's customers now.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BalanceTotals {
    /// Customers enrolled.
    pub customers: i64,
    /// Points held by all customers (outstanding liability).
    pub outstanding: i64,
}

/// An organization's figures for a period, for the exports' summary: every number is
/// an aggregate the store computes, no entry is read into memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PeriodSummary {
    /// Points earned by purchases in the period.
    pub points_issued: i64,
    /// Points spent on rewards (a positive number).
    pub points_redeemed: i64,
    /// Points expired (a positive number).
    pub points_expired: i64,
    /// Net points of adjustments and reversals (negative when more were taken).
    pub points_adjusted: i64,
    /// Points held by all customers at the end of the period (every entry before it).
    pub points_outstanding: i64,
    /// Purchases recorded in the period.
    pub purchases: i64,
    /// Their amounts added up.
    pub purchases_amount: rust_decimal::Decimal,
    /// Of that, the amount refunded so far.
    pub purchases_refunded: rust_decimal::Decimal,
    /// Customers enrolled in the period.
    pub new_customers: i64,
    /// Customers who earned or redeemed points in the period.
    pub active_customers: i64,
    /// The rewards redeemed most in the period, most first (at most five).
    pub top_rewards: Vec<RewardTotal>,
}

/// The activity of one day of the trend charts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayActivity {
    /// Points earned by purchases.
    pub issued: i64,
    /// Points spent.
    pub redeemed: i64,
    /// Customers who earned or redeemed points.
    pub active_customers: i64,
    /// Customers enrolled.
    pub new_customers: i64,
}

/// How often one reward was redeemed in a period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RewardTotal {
    /// The reward's name (its id when it no longer exists).
    pub name: String,
    /// Redemptions.
    pub redemptions: i64,
    /// Points spent on it (a positive number).
    pub points: i64,
}

/// A customer and the points they earned in a period, for the dashboard's flags.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeavyEarner {
    /// The customer.
    pub customer_id: CustomerId,
    /// Their name, if known.
    pub name: Option<String>,
    /// Their card number.
    pub card_number: Option<String>,
    /// Points earned by purchases in the period.
    pub points: i64,
}

/// Reads and small writes of the admin pages and the till. Organization first.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Activity in `[from, to)`.
    async fn activity_totals(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<ActivityTotals, StoreError>;
    /// Customers who earned more than `over` points by purchases in `[from, to)`, most
    /// first, at most `limit`.
    async fn heavy_earners(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        over: i64,
        limit: u32,
    ) -> Result<Vec<HeavyEarner>, StoreError>;
    /// The figures of `[from, to)`; `top` rewards at most.
    async fn period_summary(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        top: u32,
    ) -> Result<PeriodSummary, StoreError>;
    /// Activity per day for consecutive days: day `i` is `[bounds[i], bounds[i + 1])`
    /// (the caller gives each local midnight in the organization's time zone, so days
    /// of 23 or 25 hours count right). One query groups the ledger by day and one the
    /// enrolments, however many days; the answer has `bounds.len() - 1` entries.
    async fn daily_activity(
        &self,
        org: OrgId,
        bounds: &[OffsetDateTime],
    ) -> Result<Vec<DayActivity>, StoreError>;
    /// Customers enrolled in `[from, to)`.
    async fn customers_enrolled(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<i64, StoreError>;
    /// Customers and outstanding points now.
    async fn balance_totals(&self, org: OrgId) -> Result<BalanceTotals, StoreError>;
    /// Purchases, newest first, of one customer or all, made at or after `since`,
    /// before the cursor `(created_at, id)`.
    async fn list_purchases(
        &self,
        org: OrgId,
        customer: Option<CustomerId>,
        since: Option<OffsetDateTime>,
        before: Option<(OffsetDateTime, PurchaseId)>,
        limit: u32,
    ) -> Result<Vec<Purchase>, StoreError>;
    /// Sets a member's status (`active` or `suspended`) with an audit record of `actor`
    /// in the same transaction when it changes (`staff.deactivate`, `staff.reactivate`,
    /// or `customer.suspend`, `customer.activate`); `None` when no such member.
    async fn set_member_status(
        &self,
        org: OrgId,
        member: Uuid,
        status: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Member>, StoreError>;
    /// Creates the active row of a cashier or admin for (org, subject), or updates its
    /// role, email and name and makes it active again, with an audit record of `actor`
    /// in the same transaction (`staff.create`, `staff.reactivate` for a suspended row,
    /// `staff.update` otherwise).
    async fn upsert_staff(
        &self,
        org: OrgId,
        member: &NewMember,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError>;
}
