//! Storage of an organization's customers: enrolment, look-up and listing.

use crate::domain::ledger::{Actor, Customer, CustomerKey, NewCustomer};
use crate::domain::{BirthDate, CustomerId, MarketingConsent, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// One customer of an import file, validated: written once, under its row key.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedCustomer {
    /// The row key: importing a row whose key is already stored changes nothing.
    pub key: String,
    /// The customer's fields (card number given or generated).
    pub new: NewCustomer,
    /// Birth date.
    pub birth_date: Option<BirthDate>,
    /// Marketing consent as the file gives it.
    pub consent: MarketingConsent,
    /// Points brought from before the programme (0 for none).
    pub opening_balance: i64,
}

/// What one batch of an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportWritten {
    /// Customers created.
    pub created: u64,
    /// Rows whose key was already imported (nothing written for them).
    pub skipped: u64,
    /// Points of the opening balances written.
    pub points: i64,
}

/// The identifying values of one stored customer, for checking a file against them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerKeys {
    /// Email, lower case.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Card number.
    pub card_number: Option<String>,
    /// The import row key it was created under.
    pub import_key: Option<String>,
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
    /// Writes one batch of an import in one transaction: each customer whose row key is
    /// new, with its opening balance as an `opening` ledger entry (through
    /// `ledger_tx::open_balances`, `reason` its note), and one `customers.import` audit
    /// record; rows whose key is stored are skipped. `Conflict` when a phone, email or
    /// card is taken (nothing of the batch is written).
    async fn import_customers(
        &self,
        org: OrgId,
        rows: &[ImportedCustomer],
        reason: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ImportWritten, StoreError>;
    /// The email, phone, card number and import key of every customer of the
    /// organization (an import checks its file against them before writing).
    async fn customer_keys(&self, org: OrgId) -> Result<Vec<CustomerKeys>, StoreError>;
    /// Records a customer's marketing consent (given or withdrawn, when, where), with
    /// its audit record; `false` when there is no such customer.
    async fn set_marketing_consent(
        &self,
        org: OrgId,
        customer: CustomerId,
        consent: &MarketingConsent,
        actor: &Actor,
    ) -> Result<bool, StoreError>;
    /// Stores a claim link (by the hash of its token) for a customer without an online
    /// account; earlier unused links of that customer stop working.
    async fn create_claim_link(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The customer an unused, unexpired claim link names.
    async fn claim_link_customer(
        &self,
        org: OrgId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Customer>, StoreError>;
    /// Uses a claim link: in one transaction marks it used and gives its customer the
    /// identity subject (only while they have none), with an audit record. `None` when
    /// the link is unknown, used or expired, or the customer was claimed meanwhile;
    /// `Conflict(MemberSubject)` when the subject already is a customer here.
    async fn use_claim_link(
        &self,
        org: OrgId,
        token_hash: &str,
        subject: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Customer>, StoreError>;
}
