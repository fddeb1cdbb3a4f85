//! The storage interface. One method per transaction, the organization first for
//! tenant data. Implemented by `loyalty-store-postgres` and `loyalty-store-sqlite`, which
//! both pass the behaviour suite in `loyalty-testkit`.

use crate::domain::ledger::{
    Actor, ApiToken, AuditRecord, Customer, CustomerKey, IdempotencyKey, LedgerEntry, NewCustomer,
    PointsCommand, PointsError, PointsOutcome, Purchase, Reward, RewardInput,
};
use crate::domain::points::EarningRule;
use crate::domain::{
    NewOrganization, OrgId, OrgSlug, OrgStatus, Organization, OrganizationSummary, Role,
};
use crate::mail::{ExpiryTarget, MailSettings, NewMail, OutboxMail, OutboxStatus};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// Errors of a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or check constraint refused the write; carries the constraint name.
    #[error("conflict with existing data ({0})")]
    Conflict(String),
    /// The database schema is older or newer than this program.
    #[error("database schema is not current: {0}")]
    Schema(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

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

/// A person's row in one organization (the `users` table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Member {
    /// Row id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: OrgId,
    /// Subject at the identity provider (built-in uid or Authentik `sub`); none for a
    /// customer enrolled at the till who has no account yet.
    pub identity_subject: Option<String>,
    /// Role in the organization.
    pub role: Role,
    /// `active`, `pending` or `suspended`.
    pub status: String,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A new or updated member row.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Subject at the identity provider.
    pub identity_subject: String,
    /// Role.
    pub role: Role,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Who created the row (member id), if a person did.
    pub created_by: Option<Uuid>,
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

/// Storage of organizations and their members.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates an organization; `StoreError::Conflict` when the slug is taken.
    async fn insert_organization(
        &self,
        new: &NewOrganization,
        status: OrgStatus,
        now: OffsetDateTime,
    ) -> Result<Organization, StoreError>;

    /// The organization with this slug, whatever its status (deleted ones excluded).
    async fn organization_by_slug(
        &self,
        slug: &OrgSlug,
    ) -> Result<Option<Organization>, StoreError>;

    /// The organizations whose group prefix is one of `prefixes`, by slug.
    async fn organizations_by_group_prefix(
        &self,
        prefixes: &[String],
    ) -> Result<Vec<Organization>, StoreError>;

    /// Every organization with member counts, by slug.
    async fn list_organizations(&self) -> Result<Vec<OrganizationSummary>, StoreError>;

    /// Moves an organization from one of `from` to `to`, with an audit record of `actor`
    /// (see [`OrgStatus::change_action`]) in the same transaction; returns the row after
    /// the change, or the unchanged row (and no record) when its status was not in
    /// `from`, or `None`.
    async fn set_organization_status(
        &self,
        slug: &OrgSlug,
        from: &[OrgStatus],
        to: OrgStatus,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Organization>, StoreError>;

    /// Creates the member row for (org, subject) or updates its role, email and name.
    async fn upsert_member(
        &self,
        org: OrgId,
        member: &NewMember,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError>;

    /// The member row of a subject in an organization.
    async fn member_by_subject(
        &self,
        org: OrgId,
        subject: &str,
    ) -> Result<Option<Member>, StoreError>;

    /// Members of an organization, optionally of one role, oldest first.
    async fn list_members(&self, org: OrgId, role: Option<Role>)
    -> Result<Vec<Member>, StoreError>;
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
    /// Sets the password hash and whether it must be changed.
    async fn set_account_password(
        &self,
        pk: i64,
        hash: &str,
        must_change: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Activates or deactivates an account.
    async fn set_account_active(
        &self,
        pk: i64,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
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
}

/// Customers, the ledger, rewards, tokens and the audit log. Every method takes the
/// organization first and touches only its rows.
#[async_trait]
pub trait PointsStore: Send + Sync {
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
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError>;
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
    async fn purchase(&self, org: OrgId, id: Uuid) -> Result<Option<Purchase>, StoreError>;
    /// Ledger entries, oldest first, of one customer or the whole org, in `[from, to)`,
    /// after the cursor `(created_at, id)`.
    async fn ledger(
        &self,
        org: OrgId,
        customer: Option<Uuid>,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Customers holding points earned before `cutoff` (candidates for expiry).
    async fn expiry_candidates(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError>;
    /// Expires, oldest first, the points a customer earned before `cutoff` and has not
    /// spent; returns the points expired (0 for none). With `dry_run`, writes nothing.
    async fn expire_customer(
        &self,
        org: OrgId,
        customer: Uuid,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<i64, StoreError>;
    /// Creates a reward; `Conflict` on a duplicate name.
    async fn create_reward(
        &self,
        org: OrgId,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Reward, StoreError>;
    /// Replaces a reward's fields.
    async fn update_reward(
        &self,
        org: OrgId,
        id: Uuid,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Reward>, StoreError>;
    /// A reward.
    async fn reward(&self, org: OrgId, id: Uuid) -> Result<Option<Reward>, StoreError>;
    /// Every reward, by name.
    async fn list_rewards(&self, org: OrgId) -> Result<Vec<Reward>, StoreError>;
    /// Changes the points settings.
    async fn update_points_settings(
        &self,
        org: OrgId,
        settings: &PointsSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Stores a new API token (by hash).
    async fn insert_api_token(
        &self,
        org: OrgId,
        name: &str,
        role: Role,
        token_hash: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ApiToken, StoreError>;
    /// The live token with this hash, in any organization.
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;
    /// The live token with this hash and its organization, in one read (the hot path of
    /// every till request).
    async fn api_token_with_org(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, Organization)>, StoreError>;
    /// Revokes a token; `false` if unknown in this org.
    async fn revoke_api_token(
        &self,
        org: OrgId,
        id: Uuid,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Tokens of an org.
    async fn list_api_tokens(&self, org: OrgId) -> Result<Vec<ApiToken>, StoreError>;
    /// Audit records of an org, newest first, before the cursor.
    async fn audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Audit records of an org and of the whole installation (records with no
    /// organization, such as a restore), newest first, before the cursor: the operator's
    /// view of an organization, never shown to a tenant.
    async fn operator_audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Appends one audit record on its own, for an event that is not a change made
    /// through this store (such as a restore of a backup).
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError>;
    /// Checks balance == sum of entries, balance >= 0, and the `balance_after` chain,
    /// for one org or all.
    async fn check_invariants(&self, org: Option<OrgId>) -> Result<InvariantReport, StoreError>;
}

/// Everything `loyalty` stores, on one backend.
#[async_trait]
pub trait Store:
    OrgStore
    + AccountStore
    + SessionStore
    + PointsStore
    + LoginThrottleStore
    + AdminStore
    + ChecklistStore
    + MailStore
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
    /// Customers and outstanding points now.
    async fn balance_totals(&self, org: OrgId) -> Result<BalanceTotals, StoreError>;
    /// Purchases, newest first, of one customer or all, made at or after `since`,
    /// before the cursor `(created_at, id)`.
    async fn list_purchases(
        &self,
        org: OrgId,
        customer: Option<Uuid>,
        since: Option<OffsetDateTime>,
        before: Option<(OffsetDateTime, Uuid)>,
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

/// One ticked item of an organization's post-handoff checklist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChecklistMark {
    /// The item's key, such as `first-cashier`.
    pub item: String,
    /// When it was ticked.
    #[serde(with = "time::serde::rfc3339")]
    pub done_at: OffsetDateTime,
    /// Who ticked it: an operator's name, or `loyalty` when the system saw it happen.
    pub done_by: String,
    /// A note, such as where the guide was sent.
    pub note: Option<String>,
}

/// The audit record of ticking (`checklist.tick`) or unticking (`checklist.untick`) a
/// checklist item, with the mark before and after; the same on every backend.
pub fn checklist_audit(
    org: OrgId,
    actor: &Actor,
    action: &str,
    item: &str,
    before: Option<&ChecklistMark>,
    after: Option<&ChecklistMark>,
    now: OffsetDateTime,
) -> AuditRecord {
    let json = |m: &ChecklistMark| serde_json::to_value(m).unwrap_or(serde_json::Value::Null);
    AuditRecord::new(
        Some(org),
        actor,
        action,
        ("checklist_item", item.to_owned()),
        before.map(json),
        after.map(json),
        now,
    )
}

/// The audit record of a change to a member row (`staff.create`, `staff.deactivate`
/// ...), with the row before and after; the same on every backend.
pub fn member_audit(
    actor: &Actor,
    action: &str,
    before: Option<&Member>,
    after: &Member,
    now: OffsetDateTime,
) -> AuditRecord {
    let json = |m: &Member| {
        serde_json::json!({
            "role": m.role.as_str(),
            "status": m.status,
            "email": m.email,
            "name": m.name,
        })
    };
    AuditRecord::new(
        Some(after.organization_id),
        actor,
        action,
        (
            if after.role == Role::Customer {
                "customer"
            } else {
                "member"
            },
            after.id.to_string(),
        ),
        before.map(json),
        Some(json(after)),
        now,
    )
}

/// The audit action of moving a member row from status `before` to `after`:
/// `staff.deactivate` / `staff.reactivate` for cashiers and admins,
/// `customer.suspend` / `customer.activate` for customers.
pub fn member_status_action(role: Role, after: &str) -> &'static str {
    match (role == Role::Customer, after == "active") {
        (false, false) => "staff.deactivate",
        (false, true) => "staff.reactivate",
        (true, false) => "customer.suspend",
        (true, true) => "customer.activate",
    }
}

/// The post-handoff checklist of each organization (runbook step 7.4). Organization first.
#[async_trait]
pub trait ChecklistStore: Send + Sync {
    /// The ticked items of an organization, by item key.
    async fn checklist_marks(&self, org: OrgId) -> Result<Vec<ChecklistMark>, StoreError>;
    /// Ticks an item, or replaces who, when and the note of an item already ticked; who
    /// is `actor`'s label. With a `checklist.tick` audit record in the same transaction.
    async fn mark_checklist_item(
        &self,
        org: OrgId,
        item: &str,
        actor: &Actor,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ChecklistMark, StoreError>;
    /// Ticks an item only if it is not ticked yet; returns whether it ticked it. A tick
    /// comes with a `checklist.tick` audit record of the system (`done_by`), in the
    /// same transaction.
    async fn mark_checklist_item_once(
        &self,
        org: OrgId,
        item: &str,
        done_by: &str,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Unticks an item, with a `checklist.untick` audit record of `actor` in the same
    /// transaction; `false` (and no record) when it was not ticked.
    async fn unmark_checklist_item(
        &self,
        org: OrgId,
        item: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// The mail outbox and per-organization mail settings. Mails are queued in the same
/// transaction as the change that causes them (points receipts through
/// [`crate::ledger_tx::LedgerTx::insert_mail`]) or by a job whose queuing is idempotent
/// (the dedupe key); the sender claims, sends and marks them.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Queues a mail; `false` (and nothing written) when its dedupe key is already queued.
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<bool, StoreError>;
    /// Claims up to `limit` due mails (unsent, not given up, next attempt due, no live
    /// claim) for one sender until `lease_until`, counting an attempt for each. Across all
    /// organizations: the sender serves the whole installation. Two senders never claim
    /// the same mail while a claim is live.
    async fn claim_mails(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError>;
    /// Records that the SMTP server accepted a mail; with `erase_body`, replaces its body
    /// (which held a one-time link). `false` when it was already marked sent.
    async fn mark_mail_sent(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        erase_body: bool,
    ) -> Result<bool, StoreError>;
    /// Records a failed attempt: retry at `retry_at`, or give up (kept as failed) when
    /// `None`.
    async fn mark_mail_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Withdraws the unsent link mails (sign-in and reset) to `to_address` in `org`, once
    /// a newer link makes theirs useless: they are kept as failed with the reason.
    /// A mail under a live claim (being sent right now) is left alone. Returns how many.
    async fn withdraw_link_mails(
        &self,
        org: Option<OrgId>,
        to_address: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Makes every pending and failed mail due at `now` again with a fresh count of
    /// attempts (after SMTP is fixed), except withdrawn link mails. Returns how many.
    async fn retry_mails(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Counts over the outbox.
    async fn mail_status(&self) -> Result<OutboxStatus, StoreError>;
    /// The newest mails of one organization (or operator mail with `None`), newest first.
    async fn list_mails(
        &self,
        org: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError>;
    /// An organization's mail settings.
    async fn mail_settings(&self, org: OrgId) -> Result<MailSettings, StoreError>;
    /// Changes an organization's mail settings, with an audit record.
    async fn update_mail_settings(
        &self,
        org: OrgId,
        settings: &MailSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Active customers with an email whose points earned at or before `cutoff` are not
    /// all spent, read in one statement.
    async fn expiry_targets(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<ExpiryTarget>, StoreError>;
}
