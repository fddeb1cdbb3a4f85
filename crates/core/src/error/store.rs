//! The errors of a storage backend, and the typed conflicts each store maps its own
//! constraint names to, so that services never read a database's message.

/// Errors of a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or check constraint refused the write; says which.
    #[error("conflict with existing data ({0})")]
    Conflict(Conflict),
    /// Another process holds the database's single-writer lock (a second server on
    /// one SQLite file); says who and what to do.
    #[error("database error: {0}")]
    Locked(String),
    /// The database cannot be reached now: the connection was lost or refused, or no
    /// connection came free in time. Worth retrying shortly; says what happened.
    #[error("database unavailable: {0}")]
    Unavailable(String),
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

    /// The stable code of this failure: a typed conflict, the database out of reach
    /// (`unavailable`, 503), or any other failure of the store.
    pub fn code(&self) -> crate::ErrorCode {
        match self {
            StoreError::Conflict(_) => crate::ErrorCode::StoreConflict,
            StoreError::Unavailable(_) => crate::ErrorCode::Unavailable,
            StoreError::Locked(_) | StoreError::Schema(_) | StoreError::Backend(_) => {
                crate::ErrorCode::InternalStore
            }
        }
    }
}

/// Which rule of the schema refused a write. Each store maps the names of its own
/// unique indexes and checks (see its migrations) to one of these; a service decides
/// what a conflict means to the person (retry, or tell them what is taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// An organization with this slug exists (`organizations_slug_key`).
    OrgSlug,
    /// Another organization uses this custom domain (`organizations_custom_domain_key`).
    OrgCustomDomain,
    /// The person already has a row in this organization (`users_org_subject_key`).
    MemberSubject,
    /// A built-in account with this subject exists (`accounts_uid_key`).
    AccountUid,
    /// The username is taken, in any letter case (`accounts_username_key`).
    Username,
    /// A group with this name exists (`account_groups_name_key`).
    GroupName,
    /// The card number is taken in the organization (`users_org_card_key`).
    CustomerCard,
    /// A customer with this phone is enrolled in the organization
    /// (`users_org_customer_phone_key`).
    CustomerPhone,
    /// A customer with this email is enrolled in the organization, in any letter case
    /// (`users_org_customer_email_key`).
    CustomerEmail,
    /// A reward with this name exists in the organization, in any letter case
    /// (`rewards_org_name_key`).
    RewardName,
    /// Two ledger entries took the same place in a customer's chain
    /// (`points_transactions_org_user_seq_key`).
    LedgerSeq,
    /// An API token with this hash exists (`api_tokens_hash_key`).
    TokenHash,
    /// A mail with this dedupe key is queued (`mail_outbox_dedupe_key`).
    MailDedupe,
    /// A balance would go below zero (`users_balance_nonnegative`).
    NegativeBalance,
    /// Another constraint (a check, a foreign key, a primary key) without a variant of
    /// its own; carries the constraint's name or the database's words.
    Other(String),
}

impl Conflict {
    /// Every named conflict (all but [`Conflict::Other`]), so a store can check that its
    /// table of constraint names covers them.
    pub const NAMED: [Conflict; 14] = [
        Conflict::OrgSlug,
        Conflict::OrgCustomDomain,
        Conflict::MemberSubject,
        Conflict::AccountUid,
        Conflict::Username,
        Conflict::GroupName,
        Conflict::CustomerCard,
        Conflict::CustomerPhone,
        Conflict::CustomerEmail,
        Conflict::RewardName,
        Conflict::LedgerSeq,
        Conflict::TokenHash,
        Conflict::MailDedupe,
        Conflict::NegativeBalance,
    ];

    /// What is taken or refused, in words for logs and operators.
    pub fn describe(&self) -> &str {
        match self {
            Conflict::OrgSlug => "organization slug",
            Conflict::OrgCustomDomain => "organization custom domain",
            Conflict::MemberSubject => "member of the organization",
            Conflict::AccountUid => "account subject",
            Conflict::Username => "username",
            Conflict::GroupName => "group name",
            Conflict::CustomerCard => "customer card number",
            Conflict::CustomerPhone => "customer phone",
            Conflict::CustomerEmail => "customer email",
            Conflict::RewardName => "reward name",
            Conflict::LedgerSeq => "ledger sequence",
            Conflict::TokenHash => "API token",
            Conflict::MailDedupe => "mail dedupe key",
            Conflict::NegativeBalance => "negative balance",
            Conflict::Other(what) => what,
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}
