//! Customers, purchases, rewards and ledger entries as stored, and the commands that
//! change balances.

use super::{
    ApiTokenId, BirthDate, CustomerId, LedgerEntryId, MarketingConsent, OrgId, PurchaseId, RewardId,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A customer (a `users` row with role `customer`) and their balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub id: CustomerId,
    /// Organization.
    pub organization_id: OrgId,
    /// Printed card number (12 digits).
    pub card_number: String,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// Email, lower case.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Subject at the identity provider once they have an account.
    pub identity_subject: Option<String>,
    /// `active`, `pending` or `suspended`.
    pub status: String,
    /// Current balance in points.
    pub balance: i64,
    /// Birth date (`YYYY-MM-DD`), when known.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub birth_date: Option<BirthDate>,
    /// Marketing consent, with when and where it was last answered.
    pub marketing_consent: MarketingConsent,
    /// Enrolled.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A customer to enroll, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    /// Phone in E.164.
    pub phone: Option<String>,
    /// Email, lower case.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Card number (generated).
    pub card_number: String,
    /// Subject at the identity provider, for self-registration.
    pub identity_subject: Option<String>,
    /// Who enrolled them (member id).
    pub created_by: Option<Uuid>,
}

/// How to find a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerKey {
    /// By id.
    Id(CustomerId),
    /// By E.164 phone.
    Phone(String),
    /// By email (case-insensitive).
    Email(String),
    /// By card number.
    Card(String),
    /// By identity subject.
    Subject(String),
}

/// Kind of ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TxType {
    /// Points for a purchase.
    Earned,
    /// Points spent.
    Redeemed,
    /// Points that expired.
    Expired,
    /// Manual correction by an admin.
    Adjusted,
    /// Points taken back by a refund.
    Reversed,
    /// A balance brought from before the programme (a customer file import).
    Opening,
}

impl TxType {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            TxType::Earned => "earned",
            TxType::Redeemed => "redeemed",
            TxType::Expired => "expired",
            TxType::Adjusted => "adjusted",
            TxType::Reversed => "reversed",
            TxType::Opening => "opening",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<Self> {
        [
            TxType::Earned,
            TxType::Redeemed,
            TxType::Expired,
            TxType::Adjusted,
            TxType::Reversed,
            TxType::Opening,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One entry of the append-only ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerEntry {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub id: LedgerEntryId,
    /// The customer.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub customer_id: CustomerId,
    /// Points added (positive) or taken (negative).
    pub points: i64,
    /// Kind.
    pub transaction_type: TxType,
    /// What it refers to (purchase, reward).
    pub reference_id: Option<Uuid>,
    /// `purchase` or `reward`.
    pub reference_type: Option<String>,
    /// Balance after this entry.
    pub balance_after: i64,
    /// Notes (the reason of an adjustment).
    pub notes: Option<String>,
    /// Who made it (member id).
    pub created_by: Option<Uuid>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A purchase and what it earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Purchase {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub id: PurchaseId,
    /// The customer.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub customer_id: CustomerId,
    /// The cashier (member id).
    pub cashier_id: Option<Uuid>,
    /// Amount.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "12.50"))]
    pub amount: Decimal,
    /// Currency.
    pub currency: String,
    /// Points earned.
    pub points_awarded: i64,
    /// Amount refunded so far.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.00"))]
    pub reversed_amount: Decimal,
    /// Points taken back so far.
    pub points_reversed: i64,
    /// The program version the purchase was computed with (0: the earning rule alone).
    #[serde(default)]
    pub program_version: i64,
    /// What each rule gave (empty for a purchase of the earning rule alone, whose
    /// `points_awarded` is all base).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<super::program::Grant>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A reward of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reward {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub id: RewardId,
    /// Name.
    pub name: String,
    /// Cost in points.
    pub cost_points: i64,
    /// Whether it can be redeemed.
    pub active: bool,
    /// Units left, when counted.
    pub stock: Option<i32>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A reward to create or the new state of one.
#[derive(Debug, Clone)]
pub struct RewardInput {
    /// Name.
    pub name: String,
    /// Cost in points.
    pub cost_points: i64,
    /// Whether it can be redeemed.
    pub active: bool,
    /// Units left, when counted.
    pub stock: Option<i32>,
}

/// Who asks for a change, for the ledger and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Member id, when the actor is a member of the organization.
    pub member_id: Option<Uuid>,
    /// A label for the audit log (username, token name, `system`).
    pub label: String,
    /// Role (`admin`, `cashier`, `operator`, `system`).
    pub role: String,
    /// Request id, when from HTTP.
    pub request_id: Option<String>,
}

impl Actor {
    /// The system itself (expiry runs).
    pub fn system() -> Self {
        Self {
            member_id: None,
            label: "system".into(),
            role: "system".into(),
            request_id: None,
        }
    }

    /// An operator of the installation (console or command line), by name.
    pub fn operator(name: &str) -> Self {
        let name = name.trim();
        let name = if name.is_empty() { "operator" } else { name };
        Self {
            member_id: None,
            label: name.chars().take(200).collect(),
            role: "operator".into(),
            request_id: None,
        }
    }
}

/// A change of points, applied in one transaction. Serialised (without the time window)
/// to fingerprint a request for its idempotency key.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PointsCommand {
    /// Record a purchase and award its points.
    Award {
        /// Customer.
        customer: CustomerId,
        /// Amount.
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        /// Currency (the org's).
        currency: String,
        /// Points computed by the org's rule.
        points: i64,
        /// Free-form details from the till.
        metadata: serde_json::Value,
        /// Queue the organization's points receipt with the award (its mail settings).
        /// Not part of the request: left out of the idempotency hash.
        #[serde(skip)]
        receipt: bool,
        /// The audit record's mark of an amount above the shop's usual purchases
        /// (`service::bound`). Not part of the request: left out of the idempotency hash,
        /// so a retry matches even when the derived bound moved.
        #[serde(skip)]
        unusual: Option<serde_json::Value>,
        /// The program's stamp cards and promotions, when it has any running; read with
        /// the organization. Not part of the request: a retry after the program changed
        /// replays the first answer.
        #[serde(skip)]
        program: Option<Box<super::program::AwardProgram>>,
    },
    /// An enrollment bonus of the program (`signup` or `contact`), given once.
    Bonus {
        /// Customer.
        customer: CustomerId,
        /// `signup` or `contact`.
        kind: String,
        /// Points.
        points: i64,
    },
    /// Exchange a full stamp card for its reward.
    RedeemCard {
        /// Customer.
        customer: CustomerId,
        /// The card.
        card: super::program::RuleId,
        /// The card as the program defines it (read with the organization).
        #[serde(skip)]
        rule: Option<Box<super::program::StampCard>>,
    },
    /// Spend points on a reward or a plain number of points.
    Redeem {
        /// Customer.
        customer: CustomerId,
        /// Reward, when redeeming one from the catalog.
        reward: Option<RewardId>,
        /// Points, when redeeming a plain number.
        points: Option<i64>,
    },
    /// Refund all or part of a purchase.
    Reverse {
        /// Purchase.
        purchase: PurchaseId,
        /// Amount refunded (the rest of the purchase when absent).
        #[serde(with = "rust_decimal::serde::str_option")]
        amount: Option<Decimal>,
        /// Only purchases made at or after this instant (a cashier's "today").
        #[serde(skip)]
        not_before: Option<OffsetDateTime>,
    },
    /// Manual correction.
    Adjust {
        /// Customer.
        customer: CustomerId,
        /// Points to add (positive) or remove (negative).
        points: i64,
        /// Mandatory reason.
        reason: String,
    },
}

impl PointsCommand {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            PointsCommand::Award { .. } => "points.award",
            PointsCommand::Redeem { .. } => "points.redeem",
            PointsCommand::RedeemCard { .. } => "stamps.redeem",
            PointsCommand::Bonus { .. } => "points.bonus",
            PointsCommand::Reverse { .. } => "points.reverse",
            PointsCommand::Adjust { .. } => "points.adjust",
        }
    }
}

/// The idempotency key of a request and a hash of its body.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The client's key.
    pub key: String,
    /// SHA-256 of the operation and its canonical body.
    pub request_hash: String,
}

/// What a points command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsOutcome {
    /// The ledger entry appended.
    pub entry: LedgerEntry,
    /// The purchase recorded or refunded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purchase: Option<Purchase>,
    /// The reward redeemed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reward: Option<Reward>,
    /// Balance after.
    pub balance: i64,
    /// Stamp ledger entries written (stamps earned, redeemed or taken back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stamps: Vec<super::program::StampEntry>,
    /// True when this answer replays the first result of the same idempotency key.
    #[serde(default)]
    pub replayed: bool,
}

/// Why a points command was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum PointsError {
    /// No such customer in this organization.
    #[error("customer not found")]
    CustomerNotFound,
    /// No such purchase in this organization.
    #[error("purchase not found")]
    PurchaseNotFound,
    /// No such reward in this organization.
    #[error("reward not found")]
    RewardNotFound,
    /// The reward is switched off.
    #[error("reward {0:?} is not active")]
    RewardInactive(String),
    /// The reward has no stock left.
    #[error("reward {0:?} is out of stock")]
    OutOfStock(String),
    /// The balance would go below zero.
    #[error("not enough points: the balance is {balance}, this needs {needed}")]
    Insufficient {
        /// Current balance.
        balance: i64,
        /// Points needed.
        needed: i64,
    },
    /// The purchase was already refunded in full.
    #[error("purchase already fully reversed")]
    AlreadyReversed,
    /// The refund is larger than what is left of the purchase.
    #[error("refund {requested} is more than the {remaining} left of this purchase")]
    ReverseTooMuch {
        /// Requested.
        requested: Decimal,
        /// Left.
        remaining: Decimal,
    },
    /// A cashier may only reverse purchases of the same day.
    #[error("only purchases made today can be reversed at the till; ask an admin")]
    ReverseTooOld,
    /// No such stamp card in the organization's program.
    #[error("stamp card not found")]
    CardNotFound,
    /// The card does not hold enough stamps for its reward.
    #[error("the card holds {have} stamps; its reward needs {need}")]
    StampsInsufficient {
        /// Stamps held.
        have: i64,
        /// Stamps needed.
        need: u32,
    },
    /// The same idempotency key came with a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyMismatch,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::error::StoreError),
}

impl PointsError {
    /// Stable code, from the catalogue.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            PointsError::CustomerNotFound => ErrorCode::CustomerNotFound,
            PointsError::PurchaseNotFound => ErrorCode::PurchaseNotFound,
            PointsError::RewardNotFound => ErrorCode::RewardNotFound,
            PointsError::RewardInactive(_) => ErrorCode::RewardInactive,
            PointsError::OutOfStock(_) => ErrorCode::RewardOutOfStock,
            PointsError::Insufficient { .. } => ErrorCode::PointsInsufficient,
            PointsError::AlreadyReversed => ErrorCode::PurchaseAlreadyReversed,
            PointsError::ReverseTooMuch { .. } => ErrorCode::PurchaseReverseExceeds,
            PointsError::ReverseTooOld => ErrorCode::PurchaseReverseTooOld,
            PointsError::IdempotencyMismatch => ErrorCode::IdempotencyMismatch,
            PointsError::CardNotFound => ErrorCode::StampCardNotFound,
            PointsError::StampsInsufficient { .. } => ErrorCode::StampsInsufficient,
            PointsError::Store(e) => e.code(),
        }
    }
}

/// An org-scoped API token, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// Id.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub id: ApiTokenId,
    /// Organization.
    pub organization_id: OrgId,
    /// Name (the till it belongs to).
    pub name: String,
    /// `admin` or `cashier`.
    pub role: super::Role,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Revoked, if so.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Id.
    pub id: Uuid,
    /// Organization, when the change was inside one.
    pub organization_id: Option<OrgId>,
    /// Who.
    pub actor: String,
    /// In which role.
    pub actor_role: String,
    /// What (`points.award`).
    pub action: String,
    /// Kind of target.
    pub target_type: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// State before.
    pub before: Option<serde_json::Value>,
    /// State after.
    pub after: Option<serde_json::Value>,
    /// Reason given.
    pub reason: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl AuditRecord {
    /// A record of `actor` doing `action` to `target` (kind, id) at `now`, inside `org`
    /// or, with `None`, to the whole installation.
    pub fn new(
        org: Option<OrgId>,
        actor: &Actor,
        action: &str,
        target: (&str, String),
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            organization_id: org,
            actor: actor.label.clone(),
            actor_role: actor.role.clone(),
            action: action.to_owned(),
            target_type: Some(target.0.to_owned()),
            target_id: Some(target.1),
            before,
            after,
            reason: None,
            request_id: actor.request_id.clone(),
            created_at: now,
        }
    }
}

/// A page of results and the cursor for the next.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last.
    pub next_cursor: Option<String>,
}
