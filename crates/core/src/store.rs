//! The storage interface. One method per transaction, the organization first for
//! tenant data. Implemented by `loyalty-store-postgres` and `loyalty-store-sqlite`, which
//! both pass the behaviour suite in `loyalty-testkit`. One trait per resource, each in
//! its own file; [`Store`] is all of them on one backend. The built-in accounts,
//! sessions and sign-in throttle stay here.

mod admin;
mod audit;
mod chain;
mod checklist;
mod console;
mod customers;
mod housekeeping;
mod ledger;
mod mail;
mod orgs;
mod programs;
mod rewards;
mod tills;
mod tokens;
mod wallet;
mod webhooks;

pub use crate::error::{Conflict, StoreError};
pub use admin::{
    ActivityTotals, AdminStore, BalanceTotals, DayActivity, HeavyEarner, PeriodSummary, RewardTotal,
};
pub use audit::{
    AuditStore, PERSONAL_AUDIT_KEYS, checklist_audit, consent_audit, customer_claimed_audit,
    customer_enrolled_audit, customer_erased_audit, customers_imported_audit, mail_settings_audit,
    member_audit, member_status_action, new_id, offline_redeem_limit_audit, org_status_audit,
    points_settings_audit, program_audit, reward_audit, support_visit_audit, tier_pass_audit,
    token_created_audit, token_revoked_audit, wallet_look_audit,
};
pub use chain::{ChainCursor, ChainStore};
pub use checklist::{ChecklistMark, ChecklistStore};
pub use console::{
    ChecksSummary, ConsoleFilter, ConsolePage, ConsoleSort, ConsoleStore, ConsoleWindows,
    OrgCheckRun, ShopFigures,
};
pub use customers::{
    CustomerKeys, CustomerStore, Erased, Erasure, ImportWritten, ImportedCustomer, erased_name,
};
pub use housekeeping::{HousekeepingStore, Sweep, TableSize};
pub use ledger::{InvariantReport, LedgerStore, PointsSettings};
pub use mail::MailStore;
pub use orgs::{Member, NewMember, OnboardingClaim, OrgStore};
pub use programs::{ProgramStore, TierPass};
pub use rewards::RewardStore;
pub use tills::{TillDevice, TillStore, TillSync};
pub use tokens::TokenStore;
pub use wallet::{
    ClaimedPush, PushKind, WalletColours, WalletLogo, WalletLook, WalletPass, WalletStore, micros,
};
pub use webhooks::WebhookStore;

use crate::domain::Role;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// Which storage backend is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// Which migrations the database has, against the ones this program knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    /// Versions applied to the database.
    pub applied: Vec<i64>,
    /// Versions this program ships.
    pub known: Vec<i64>,
}

impl SchemaStatus {
    /// Versions shipped but not applied.
    pub fn pending(&self) -> Vec<i64> {
        self.known
            .iter()
            .copied()
            .filter(|v| !self.applied.contains(v))
            .collect()
    }

    /// Versions applied that this program does not know (a newer program migrated it).
    pub fn unknown(&self) -> Vec<i64> {
        self.applied
            .iter()
            .copied()
            .filter(|v| !self.known.contains(v))
            .collect()
    }

    /// Whether the schema is exactly what this program expects.
    pub fn is_current(&self) -> bool {
        self.pending().is_empty() && self.unknown().is_empty()
    }

    /// A sentence for operators.
    pub fn describe(&self) -> String {
        if self.is_current() {
            format!(
                "schema current (version {})",
                self.known.last().copied().unwrap_or(0)
            )
        } else if !self.unknown().is_empty() {
            format!(
                "database has migrations {:?} that this program does not know: it was migrated by a newer loyalty; upgrade this binary",
                self.unknown()
            )
        } else {
            format!(
                "migrations {:?} are pending: run `loyalty migrate`",
                self.pending()
            )
        }
    }
}

/// What the database says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    /// Product and version, such as `PostgreSQL 15.19` or `SQLite 3.46.0`.
    pub version: String,
    /// The database server's clock; `None` for SQLite, which has no server of its own.
    #[serde(with = "time::serde::rfc3339::option")]
    pub now: Option<OffsetDateTime>,
}

/// An account of the built-in identity provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Integer key, like Authentik's user pk.
    pub pk: i64,
    /// Stable subject (hex), like Authentik's `uid`.
    pub uid: String,
    /// Sign-in name (lower case).
    pub username: String,
    /// Display name.
    pub name: String,
    /// Email (lower case).
    pub email: Option<String>,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// argon2id PHC string, when a password is set.
    pub password_hash: Option<String>,
    /// Whether the password must be changed at next sign-in.
    pub must_change_password: bool,
    /// Free-form attributes (who created the account ...).
    pub attributes: serde_json::Value,
}

/// A new built-in account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Subject to give the account.
    pub uid: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Attributes.
    pub attributes: serde_json::Value,
}

/// A group of the built-in identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGroup {
    /// UUID key, like Authentik's group pk.
    pub pk: Uuid,
    /// Unique name.
    pub name: String,
}

/// Storage of the built-in identity provider: accounts, groups, memberships and
/// one-time tokens. Global, like an identity provider's directory.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account; `Conflict` when the username is taken.
    async fn insert_account(
        &self,
        new: &NewAccount,
        now: OffsetDateTime,
    ) -> Result<Account, StoreError>;
    /// Account by key.
    async fn account_by_pk(&self, pk: i64) -> Result<Option<Account>, StoreError>;
    /// Account by username (case-insensitive).
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError>;
    /// Accounts with this email (case-insensitive), oldest first.
    async fn accounts_by_email(&self, email: &str) -> Result<Vec<Account>, StoreError>;
    /// Sets the password hash and whether it must be changed, and in the same
    /// transaction ends every session of the account but the one whose token hashes to
    /// `keep_session` (all of them without one). `false` for an unknown account.
    async fn set_account_password(
        &self,
        pk: i64,
        hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Activates or deactivates an account.
    async fn set_account_active(
        &self,
        pk: i64,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Deletes an account with its group memberships, sessions and one-time tokens (a
    /// person's erasure). `false` for an unknown account.
    async fn delete_account(&self, pk: i64) -> Result<bool, StoreError>;
    /// Creates a group; `Conflict` when the name is taken.
    async fn insert_group(
        &self,
        name: &str,
        attributes: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<AccountGroup, StoreError>;
    /// Group by exact name.
    async fn group_by_name(&self, name: &str) -> Result<Option<AccountGroup>, StoreError>;
    /// Adds an account to a group; adding twice is not an error. `false` if either is missing.
    async fn add_group_member(&self, group: Uuid, account: i64) -> Result<bool, StoreError>;
    /// Removes an account from a group; removing twice is not an error.
    async fn remove_group_member(&self, group: Uuid, account: i64) -> Result<(), StoreError>;
    /// Accounts in a group, by username.
    async fn group_members(&self, group: Uuid) -> Result<Vec<Account>, StoreError>;
    /// Names of the groups an account is in, sorted.
    async fn account_groups(&self, account: i64) -> Result<Vec<String>, StoreError>;
    /// Stores a one-time token hash for an account, revoking earlier unused tokens of the
    /// same purpose for that account.
    async fn insert_account_token(
        &self,
        token_hash: &str,
        account: i64,
        purpose: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Marks a token used and returns its account, if it exists, is unused, unexpired and
    /// of this purpose. Exactly one caller can consume a token.
    async fn consume_account_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError>;
}

/// Who a session belongs to: the variant is read from the session row (an account key or
/// a provider subject), so no stand-in account is ever made.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionPrincipal {
    /// A built-in account, read with the session (only active accounts have live
    /// sessions).
    Account(Account),
    /// A subject of the identity provider, with the snapshot it signed in with.
    Subject(ExternalSubject),
}

impl SessionPrincipal {
    /// The stable subject (the account's `uid` or the provider's `sub`), as kept in
    /// `users.identity_subject`.
    pub fn subject(&self) -> &str {
        match self {
            SessionPrincipal::Account(a) => &a.uid,
            SessionPrincipal::Subject(s) => &s.subject,
        }
    }

    /// The sign-in name, for the audit log.
    pub fn username(&self) -> &str {
        match self {
            SessionPrincipal::Account(a) => &a.username,
            SessionPrincipal::Subject(s) => &s.username,
        }
    }

    /// The display name, for the page header.
    pub fn name(&self) -> &str {
        match self {
            SessionPrincipal::Account(a) => &a.name,
            SessionPrincipal::Subject(s) => &s.name,
        }
    }

    /// Whether the person must set a new password before anything else (built-in
    /// accounts only; the provider handles its own).
    pub fn must_change_password(&self) -> bool {
        matches!(self, SessionPrincipal::Account(a) if a.must_change_password)
    }
}

/// A signed-in session of a built-in account or of an external (OpenID Connect) subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Whose session it is.
    pub principal: SessionPrincipal,
    /// The session's anti-forgery token for forms.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: OffsetDateTime,
}

/// Sessions of built-in accounts, kept in the database so any instance serves any request.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session (by the hash of its cookie token) and notes the sign-in on
    /// the account and on the person's member rows (`last_seen_at`, which
    /// [`Store::active_members`] counts).
    async fn insert_session(
        &self,
        token_hash: &str,
        account: i64,
        csrf_token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The live session with this token hash and its account, if unexpired and active.
    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Stores a new session of an external subject with its snapshot, and notes the
    /// sign-in on the subject's member rows.
    async fn insert_external_session(
        &self,
        token_hash: &str,
        subject: &ExternalSubject,
        csrf_token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Keeps the server side of a starting OpenID Connect sign-in (by the hash of the
    /// random key in the browser's short-lived cookie).
    async fn insert_login_flow(
        &self,
        key_hash: &str,
        flow: &LoginFlow,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Takes (deletes and returns) an unexpired sign-in flow; exactly one caller gets it.
    /// Also removes expired flows.
    async fn take_login_flow(
        &self,
        key_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginFlow>, StoreError>;
}

/// Who signed in through OpenID Connect: the snapshot a session keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSubject {
    /// Subject (`sub`).
    pub subject: String,
    /// Username at the provider.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Group names.
    pub groups: Vec<String>,
}

/// The server side of a starting OpenID Connect sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFlow {
    /// Expected `state`.
    pub state: String,
    /// Expected `nonce`.
    pub nonce: String,
    /// PKCE code verifier.
    pub pkce_verifier: String,
}

/// Everything `loyalty` stores, on one backend.
#[async_trait]
pub trait Store:
    OrgStore
    + AccountStore
    + SessionStore
    + CustomerStore
    + LedgerStore
    + RewardStore
    + ProgramStore
    + TokenStore
    + AuditStore
    + LoginThrottleStore
    + AdminStore
    + ChecklistStore
    + ChainStore
    + ConsoleStore
    + MailStore
    + WebhookStore
    + WalletStore
    + HousekeepingStore
    + TillStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<SchemaStatus, StoreError>;
    /// Compares applied and shipped migrations.
    async fn schema_status(&self) -> Result<SchemaStatus, StoreError>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The database server's product, version and clock (read-only, for diagnostics).
    async fn server_info(&self) -> Result<ServerInfo, StoreError>;
    /// The connection pool's connections now (for `/metrics`).
    fn pool_stats(&self) -> PoolStats;
    /// People with a role in each organization who signed in at or after each of
    /// `since` (one count per element, in order), per organization and role. Across
    /// organizations: an operator's view, never shown to a tenant. Organizations and roles
    /// with nobody signed in are absent.
    async fn active_members(
        &self,
        since: &[OffsetDateTime],
    ) -> Result<Vec<ActiveMembers>, StoreError>;
    /// Takes (or renews) the lease on job `name` for `holder` until `until`, unless
    /// another holder's lease is still running at `now`. Returns whether `holder` has it.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// Connections of a database pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Open connections waiting for work.
    pub idle: u32,
    /// Open connections lent out.
    pub in_use: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

/// How many people of one role in one organization signed in within some windows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActiveMembers {
    /// The organization's slug.
    pub org: String,
    /// The role.
    pub role: Role,
    /// One count per window asked for, in the same order.
    pub counts: Vec<i64>,
}

/// Failed sign-ins counted per key (`user:<name>` or `addr:<ip>`), and self-service
/// password-reset requests (`reset:account:<pk>`, `reset:unknown:<hash>`,
/// `reset:addr:<ip>`), in the database so that several instances share the counters.
/// Not tenant data: keys name accounts and addresses.
#[async_trait]
pub trait LoginThrottleStore: Send + Sync {
    /// Failures of `key` since `since` (0 when its window started earlier).
    async fn login_failures(&self, key: &str, since: OffsetDateTime) -> Result<i64, StoreError>;
    /// Counts one failure of `key` at `now`; a window that started before `since` starts
    /// again. Returns the failures in the current window.
    async fn record_login_failure(
        &self,
        key: &str,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError>;
    /// Forgets the failures of `key` (after a successful sign-in).
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
}
