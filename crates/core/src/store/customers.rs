//! Storage of an organization's customers: enrolment, look-up, listing, and erasure
//! with its log.

use crate::domain::ledger::{Actor, Customer, CustomerKey, NewCustomer};
use crate::domain::{BirthDate, CustomerId, MarketingConsent, OrgId};
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// One line of the erasure log: which customer of which organization was erased, and
/// when. It holds no personal data. As JSON it is a line of the erasure journal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erasure {
    /// Id of the line.
    pub id: Uuid,
    /// Organization.
    pub organization_id: OrgId,
    /// The erased customer (the row stays, with its ledger and purchases).
    pub customer_id: CustomerId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
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
