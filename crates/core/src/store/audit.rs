//! The audit log's storage, and the audit records of store changes, composed here once
//! so that every backend writes the same payload for the same change.

use super::checklist::ChecklistMark;
use super::ledger::PointsSettings;
use super::orgs::Member;
use super::wallet::WalletLook;
use crate::domain::ledger::{Actor, ApiToken, AuditRecord, Customer, Reward};
use crate::domain::{ApiTokenId, OrgId, OrgSlug, OrgStatus, Role};
use crate::error::StoreError;
use crate::mail::MailSettings;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// The audit log: read by organization (or by the operator), appended to by every
/// change in the change's own transaction, and on its own for outside events.
#[async_trait]
pub trait AuditStore: Send + Sync {
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
    /// Audit records about one customer (their target is the customer), oldest first.
    async fn customer_audit(
        &self,
        org: OrgId,
        customer: crate::domain::CustomerId,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Appends one audit record on its own, for an event that is not a change made
    /// through this store (such as a restore of a backup).
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError>;
}

/// A new row id: time-ordered (UUIDv7), so ids sort by creation like their rows. Every
/// backend takes its new ids here.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The record of a change with only an after-image, the usual shape of a store's record.
fn record(
    org: OrgId,
    actor: &Actor,
    action: &str,
    target: (&str, String),
    after: serde_json::Value,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord::new(Some(org), actor, action, target, None, Some(after), now)
}

/// The `support.view` record of an operator's read-only visit to a page of a shop's
/// admin panel, with the page's path: the shop's admins see it in their audit log.
pub fn support_visit_audit(
    org: OrgId,
    actor: &Actor,
    path: &str,
    now: OffsetDateTime,
) -> AuditRecord {
    let path: String = path.chars().take(500).collect();
    let mut r = record(
        org,
        actor,
        "support.view",
        ("page", path.clone()),
        serde_json::json!({ "path": path }),
        now,
    );
    r.reason = Some(format!("operator support visit (read-only): {path}"));
    r
}

/// The `customer.enroll` record of a customer enrolled at the till or the join page.
pub fn customer_enrolled_audit(actor: &Actor, c: &Customer, now: OffsetDateTime) -> AuditRecord {
    let after =
        serde_json::json!({"card_number": c.card_number, "phone": c.phone, "email": c.email});
    record(
        c.organization_id,
        actor,
        "customer.enroll",
        ("customer", c.id.to_string()),
        after,
        now,
    )
}

/// The `customers.import` record of one written batch of a customer file: the file
/// name and what was written, no personal data.
pub fn customers_imported_audit(
    org: OrgId,
    actor: &Actor,
    reason: &str,
    written: &crate::store::ImportWritten,
    now: OffsetDateTime,
) -> AuditRecord {
    let after = serde_json::json!({
        "file": reason,
        "created": written.created,
        "skipped": written.skipped,
        "opening_points": written.points,
    });
    record(
        org,
        actor,
        "customers.import",
        ("organization", org.to_string()),
        after,
        now,
    )
}

/// The `customer.claim` record: a customer enrolled at the till linked to an online
/// account through a claim link.
pub fn customer_claimed_audit(
    org: OrgId,
    actor: &Actor,
    customer: crate::domain::CustomerId,
    now: OffsetDateTime,
) -> AuditRecord {
    record(
        org,
        actor,
        "customer.claim",
        ("customer", customer.to_string()),
        serde_json::json!({"online_account": true}),
        now,
    )
}

/// The `customer.erase` record of an erasure: the customer's id only, no personal data.
pub fn customer_erased_audit(
    org: OrgId,
    actor: &Actor,
    customer: crate::domain::CustomerId,
    now: OffsetDateTime,
) -> AuditRecord {
    record(
        org,
        actor,
        "customer.erase",
        ("customer", customer.to_string()),
        serde_json::json!({ "erased": true }),
        now,
    )
}

/// The keys of personal values that audit payloads about a customer may hold; an
/// erasure takes them out of every record about the customer.
pub const PERSONAL_AUDIT_KEYS: &[&str] = &["name", "email", "phone", "card_number", "birth_date"];

/// The `customer.consent` record: marketing consent given or withdrawn, and where.
pub fn consent_audit(
    org: OrgId,
    actor: &Actor,
    customer: crate::domain::CustomerId,
    consent: &crate::domain::MarketingConsent,
    now: OffsetDateTime,
) -> AuditRecord {
    let after = serde_json::json!({
        "marketing_consent": consent.granted,
        "source": consent.source.map(crate::domain::ConsentSource::as_str),
    });
    record(
        org,
        actor,
        "customer.consent",
        ("customer", customer.to_string()),
        after,
        now,
    )
}

/// The `reward.create` or `reward.update` record, with the reward after the change.
pub fn reward_audit(
    org: OrgId,
    actor: &Actor,
    action: &str,
    reward: &Reward,
    now: OffsetDateTime,
) -> AuditRecord {
    let after = serde_json::to_value(reward).unwrap_or(serde_json::Value::Null);
    record(
        org,
        actor,
        action,
        ("reward", reward.id.to_string()),
        after,
        now,
    )
}

/// The `org.points_settings` record of a change to the earning rule, expiry or join page.
pub fn points_settings_audit(
    org: OrgId,
    actor: &Actor,
    s: &PointsSettings,
    now: OffsetDateTime,
) -> AuditRecord {
    let after = serde_json::json!({"earning": s.earning, "expiry_days": s.expiry_days, "join_enabled": s.join_enabled, "purchase_bound": s.purchase_bound, "daily_points_flag": s.daily_points_flag});
    record(
        org,
        actor,
        "org.points_settings",
        ("organization", org.0.to_string()),
        after,
        now,
    )
}

/// The `org.offline_redeem_limit` record of a change to the points a customer may
/// redeem offline per day.
pub fn offline_redeem_limit_audit(
    org: OrgId,
    actor: &Actor,
    limit: i64,
    now: OffsetDateTime,
) -> AuditRecord {
    record(
        org,
        actor,
        "org.offline_redeem_limit",
        ("organization", org.0.to_string()),
        serde_json::json!({ "offline_redeem_limit": limit }),
        now,
    )
}

/// The `org.program` record of a new version of an organization's program.
pub fn program_audit(
    org: OrgId,
    actor: &Actor,
    program: &crate::domain::program::Program,
    now: OffsetDateTime,
) -> AuditRecord {
    let after = serde_json::to_value(program).unwrap_or(serde_json::Value::Null);
    record(
        org,
        actor,
        "org.program",
        ("organization", org.0.to_string()),
        after,
        now,
    )
}

/// The `tiers.recalculate` record of one pass of the tier recalculation that moved
/// customers: how many moved up and down, and the entry bonus points given. Each move
/// itself is a row of `tier_moves`.
pub fn tier_pass_audit(
    org: OrgId,
    actor: &Actor,
    up: u64,
    down: u64,
    bonus_points: i64,
    now: OffsetDateTime,
) -> AuditRecord {
    record(
        org,
        actor,
        "tiers.recalculate",
        ("organization", org.0.to_string()),
        serde_json::json!({ "moved_up": up, "moved_down": down, "entry_bonus_points": bonus_points }),
        now,
    )
}

/// The `org.mail_settings` record of a change to an organization's mail settings.
pub fn mail_settings_audit(
    org: OrgId,
    actor: &Actor,
    s: &MailSettings,
    now: OffsetDateTime,
) -> AuditRecord {
    record(
        org,
        actor,
        "org.mail_settings",
        ("organization", org.0.to_string()),
        serde_json::json!(s),
        now,
    )
}

/// The `org.wallet_look` record: the cards' colours and the logo's size and digest (not
/// its bytes).
pub fn wallet_look_audit(
    org: OrgId,
    actor: &Actor,
    look: &WalletLook,
    now: OffsetDateTime,
) -> AuditRecord {
    use sha2::Digest as _;
    let logo = look.logo.as_ref().map(|l| {
        serde_json::json!({
            "bytes": l.png.len(),
            "width": l.width,
            "height": l.height,
            "sha256": hex::encode(sha2::Sha256::digest(&l.png)),
        })
    });
    let colours = look.colours.as_ref().map(|c| {
        serde_json::json!({"background": c.background, "foreground": c.foreground, "label": c.label})
    });
    record(
        org,
        actor,
        "org.wallet_look",
        ("organization", org.0.to_string()),
        serde_json::json!({"colours": colours, "logo": logo}),
        now,
    )
}

/// The `api_token.create` record: the token's name and role, never its secret.
pub fn token_created_audit(actor: &Actor, token: &ApiToken, now: OffsetDateTime) -> AuditRecord {
    record(
        token.organization_id,
        actor,
        "api_token.create",
        ("api_token", token.id.to_string()),
        serde_json::json!({"name": token.name, "role": token.role}),
        now,
    )
}

/// The `api_token.revoke` record.
pub fn token_revoked_audit(
    org: OrgId,
    actor: &Actor,
    id: ApiTokenId,
    now: OffsetDateTime,
) -> AuditRecord {
    record(
        org,
        actor,
        "api_token.revoke",
        ("api_token", id.to_string()),
        serde_json::json!({"revoked": true}),
        now,
    )
}

/// The record of an organization moving from status `before` (as stored) to `to`
/// (see [`OrgStatus::change_action`]).
pub fn org_status_audit(
    org: OrgId,
    slug: &OrgSlug,
    actor: &Actor,
    before: &str,
    to: OrgStatus,
    now: OffsetDateTime,
) -> AuditRecord {
    let action = OrgStatus::parse(before).map_or("org.status", |s| s.change_action(to));
    AuditRecord::new(
        Some(org),
        actor,
        action,
        ("organization", org.0.to_string()),
        Some(serde_json::json!({"slug": slug.as_str(), "status": before})),
        Some(serde_json::json!({"slug": slug.as_str(), "status": to.as_str()})),
        now,
    )
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
