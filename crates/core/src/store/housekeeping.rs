//! Storage side of housekeeping: removing rows that have served their purpose
//! (idempotency records, expired sessions and sign-in flows, finished mail, old
//! throttle windows, finished job leases, finished webhook deliveries, expired wallet links), one small batch per call, and the sizes
//! of those tables. The ledger, purchases and the audit log have no sweep here.

use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// One kind of row housekeeping removes (or, for mail bodies, empties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sweep {
    /// Idempotency records (`idempotency_keys`) created before the cutoff.
    IdempotencyKeys,
    /// Sessions (`sessions`) that expired before the cutoff.
    Sessions,
    /// OpenID Connect sign-in flows (`login_flows`) that expired before the cutoff.
    LoginFlows,
    /// One-time account tokens (`account_tokens`, password links) that expired before the cutoff.
    AccountTokens,
    /// Bodies of mail sent or given up before the cutoff (the row stays, its text is emptied).
    MailBodies,
    /// Mail rows (`mail_outbox`) sent or given up before the cutoff; unsent mail is never removed.
    MailRows,
    /// Sign-in throttle windows (`login_throttle`) whose last failure is before the cutoff.
    LoginThrottle,
    /// Job leases (`job_leases`) that ran out before the cutoff.
    JobLeases,
    /// Webhook deliveries (`webhook_deliveries`) delivered or given up before the
    /// cutoff; pending ones are never removed.
    WebhookDeliveries,
    /// The till's one-time wallet links (`wallet_links`) that expired before the cutoff.
    WalletLinks,
}

impl Sweep {
    /// Every kind, in the order a pass runs them (mail bodies before mail rows).
    pub const ALL: [Sweep; 10] = [
        Sweep::IdempotencyKeys,
        Sweep::Sessions,
        Sweep::LoginFlows,
        Sweep::AccountTokens,
        Sweep::MailBodies,
        Sweep::MailRows,
        Sweep::LoginThrottle,
        Sweep::JobLeases,
        Sweep::WebhookDeliveries,
        Sweep::WalletLinks,
    ];

    /// The name used in reports and as the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Sweep::IdempotencyKeys => "idempotency_keys",
            Sweep::Sessions => "sessions",
            Sweep::LoginFlows => "login_flows",
            Sweep::AccountTokens => "account_tokens",
            Sweep::MailBodies => "mail_bodies",
            Sweep::MailRows => "mail_rows",
            Sweep::LoginThrottle => "login_throttle",
            Sweep::JobLeases => "job_leases",
            Sweep::WebhookDeliveries => "webhook_deliveries",
            Sweep::WalletLinks => "wallet_links",
        }
    }

    /// The table the kind lives in.
    pub fn table(self) -> &'static str {
        match self {
            Sweep::MailBodies | Sweep::MailRows => "mail_outbox",
            other => other.as_str(),
        }
    }
}

/// The size of one table, for gauges and `loyalty housekeeping`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableSize {
    /// The table, such as `idempotency_keys`.
    pub table: String,
    /// Rows (PostgreSQL: the planner's estimate, refreshed by (auto)vacuum and analyze;
    /// SQLite: an exact count).
    pub rows: u64,
    /// Bytes on disk with indexes, when the database tells cheaply (PostgreSQL).
    pub bytes: Option<u64>,
}

/// Removing rows that have served their purpose. Operator work across organizations,
/// never on a request path. Each call is one short transaction.
#[async_trait]
pub trait HousekeepingStore: Send + Sync {
    /// Rows of `kind` that [`HousekeepingStore::sweep`] would remove (or, for mail
    /// bodies, empty) for this cutoff.
    async fn sweep_candidates(
        &self,
        kind: Sweep,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Removes (mail bodies: empties) at most `batch` rows of `kind` past `cutoff`, in
    /// one transaction; returns how many. Call again until it returns less than `batch`.
    async fn sweep(
        &self,
        kind: Sweep,
        cutoff: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError>;
    /// Sizes of the tables housekeeping looks after, plus the ledger, purchases and the
    /// audit log for comparison.
    async fn table_sizes(&self) -> Result<Vec<TableSize>, StoreError>;
    /// Gives freed pages back to the file system where the database needs a step for it
    /// (SQLite with `auto_vacuum = INCREMENTAL`: `PRAGMA incremental_vacuum`). Returns
    /// what was done, for the report; `None` when nothing applies.
    async fn reclaim_space(&self) -> Result<Option<String>, StoreError>;
}
