//! Storage of an organization's customers: enrolment, look-up, listing, and erasure
//! with its log.

use crate::domain::ledger::{Actor, Customer, CustomerKey, NewCustomer};
use crate::domain::{CustomerId, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// One line of the erasure log: which customer of which organization was erased, and
/// when. It holds no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Id of the line.
    pub id: Uuid,
    /// Organization.
    pub organization_id: OrgId,
    /// The erased customer (the row stays, with its ledger and purchases).
    pub customer_id: CustomerId,
    /// When.
    pub erased_at: OffsetDateTime,
    /// The role of who asked (`admin`, `customer`, `operator`).
    pub actor_role: String,
}

/// What an erasure ended besides the customer's own row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Sessions ended.
    pub sessions: u64,
    /// Mails (queued or kept) removed.
    pub mails: u64,
    /// Whether the built-in account was removed (it is kept while the person is a
    /// member of another organization).
    pub account_removed: bool,
    /// Whether another organization's member row still uses the person's subject at
    /// the identity provider (their directory user is then kept).
    pub subject_in_use: bool,
}

/// The name an erased customer keeps: a pseudonym made from the row's id only.
pub fn erased_name(customer: CustomerId) -> String {
    let id = customer.0.simple().to_string();
    format!("erased-{}", &id[id.len().saturating_sub(12)..])
}

/// The customers of an organization. Every method takes the organization first and
/// touches only its rows.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Enrolls a customer; `Conflict` when the phone, email or card is taken in the org.
    async fn enroll_customer(
        &self,
        org: OrgId,
        new: &NewCustomer,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Customer, StoreError>;
    /// Enrolls many customers in one transaction (seeding, imports); no audit records.
    async fn bulk_enroll(
        &self,
        org: OrgId,
        customers: &[NewCustomer],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Finds a customer.
    async fn find_customer(
        &self,
        org: OrgId,
        key: &CustomerKey,
    ) -> Result<Option<Customer>, StoreError>;
    /// Customers by id order, after `after`.
    async fn list_customers(
        &self,
        org: OrgId,
        after: Option<CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError>;
    /// Erases a customer in one transaction: their personal columns cleared (the name
    /// replaced by [`erased_name`]), their sessions, one-time links and mail removed,
    /// their built-in account removed unless another organization's member row uses
    /// it, personal values taken out of the audit log, a line in the erasure log and
    /// the `audit` record written. The ledger and purchases stay. `None` when no such
    /// customer; erasing again clears again and keeps the first log line.
    async fn erase_customer(
        &self,
        org: OrgId,
        customer: CustomerId,
        audit: &crate::domain::ledger::AuditRecord,
        now: OffsetDateTime,
    ) -> Result<Option<Erased>, StoreError>;
    /// The erasure log line of a customer, if erased.
    async fn erasure(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<Erasure>, StoreError>;
    /// The erasure log of every organization, oldest first (read before a restore).
    async fn erasure_log(&self) -> Result<Vec<Erasure>, StoreError>;
    /// After a restore: writes the lines of `log` the database lacks and clears each
    /// customer again (each in its own transaction); returns how many were cleared.
    /// Lines whose organization or customer the database does not hold are skipped.
    async fn replay_erasures(&self, log: &[Erasure]) -> Result<u64, StoreError>;
}
