//! Storage of each organization's post-handoff checklist (runbook step 7.4).

use crate::domain::OrgId;
use crate::domain::ledger::Actor;
use crate::error::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

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
