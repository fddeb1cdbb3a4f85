//! Storage of an organization's customers: enrolment, look-up and listing.

use crate::domain::ledger::{Actor, Customer, CustomerKey, NewCustomer};
use crate::domain::{CustomerId, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

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
}
