//! Storage of the mail outbox and of each organization's mail settings.

use crate::domain::OrgId;
use crate::domain::ledger::Actor;
use crate::error::StoreError;
use crate::mail::{ExpiryTarget, MailSettings, NewMail, OutboxMail, OutboxStatus};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// The mail outbox and per-organization mail settings. Mails are queued in the same
/// transaction as the change that causes them (points receipts through
/// `LedgerTx::insert_mail` of the ledger rules) or by a job whose queuing is idempotent
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
    /// Active customers (with an email, when `email_only`; `email` is empty for one
    /// without) whose points earned at or before `cutoff` are not all spent, read in one
    /// statement.
    async fn expiry_targets(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
        email_only: bool,
    ) -> Result<Vec<ExpiryTarget>, StoreError>;
}
