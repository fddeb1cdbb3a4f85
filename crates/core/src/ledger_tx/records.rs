//! The ledger entries and audit records a points command writes, composed the same
//! way for every command and every backend.

use crate::domain::ledger::{Actor, AuditRecord, LedgerEntry, TxType};
use crate::domain::program::{StampEntry, StampKind};
use crate::domain::{CustomerId, LedgerEntryId, OrgId, PurchaseId, RewardId};
use crate::store::new_id;
use time::OffsetDateTime;
use uuid::Uuid;

/// The audit record of a balance change: the balance before and after.
#[allow(clippy::too_many_arguments)]
pub(super) fn audit(
    org: OrgId,
    actor: &Actor,
    action: &str,
    target: (&str, String),
    before: i64,
    after: i64,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord {
        id: new_id(),
        organization_id: Some(org),
        actor: actor.label.clone(),
        actor_role: actor.role.clone(),
        action: action.to_owned(),
        target_type: Some(target.0.to_owned()),
        target_id: Some(target.1),
        before: Some(serde_json::json!({ "balance": before })),
        after: Some(serde_json::json!({ "balance": after })),
        reason: reason.map(str::to_owned),
        request_id: actor.request_id.clone(),
        created_at: now,
    }
}

/// What a ledger entry refers to: stored as its id and `reference_type`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reference {
    /// The purchase that earned or gave back the points.
    Purchase(PurchaseId),
    /// The reward redeemed.
    Reward(RewardId),
    /// The stamp card exchanged for its reward.
    StampCard(Uuid),
    /// The tier whose entry bonus it is.
    Tier(Uuid),
}

impl Reference {
    fn id_and_type(self) -> (Uuid, &'static str) {
        match self {
            Reference::Purchase(id) => (id.into(), "purchase"),
            Reference::Reward(id) => (id.into(), "reward"),
            Reference::StampCard(id) => (id, "stamp_card"),
            Reference::Tier(id) => (id, "tier"),
        }
    }
}

/// A ledger entry of `points` for `customer`, leaving `balance_after`.
#[allow(clippy::too_many_arguments)]
pub(super) fn entry(
    customer: CustomerId,
    points: i64,
    kind: TxType,
    reference: Option<Reference>,
    balance_after: i64,
    notes: Option<String>,
    actor: &Actor,
    now: OffsetDateTime,
) -> LedgerEntry {
    let reference = reference.map(Reference::id_and_type);
    LedgerEntry {
        id: LedgerEntryId(new_id()),
        customer_id: customer,
        points,
        transaction_type: kind,
        reference_id: reference.map(|r| r.0),
        reference_type: reference.map(|r| r.1.to_owned()),
        balance_after,
        notes,
        created_by: actor.member_id,
        created_at: now,
    }
}

/// A stamp ledger entry of `stamps` on `card` for `customer`, leaving `balance_after`.
#[allow(clippy::too_many_arguments)]
pub(super) fn stamp_entry(
    customer: CustomerId,
    card: Uuid,
    stamps: i64,
    kind: StampKind,
    purchase: Option<PurchaseId>,
    balance_after: i64,
    actor: &Actor,
    now: OffsetDateTime,
) -> StampEntry {
    StampEntry {
        id: new_id(),
        customer_id: customer,
        card_id: card,
        stamps,
        kind,
        purchase_id: purchase,
        balance_after,
        created_by: actor.member_id,
        created_at: now,
    }
}
