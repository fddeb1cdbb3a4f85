//! Storage of webhook endpoints and the webhook delivery outbox.

use crate::domain::OrgId;
use crate::error::StoreError;
use crate::webhook::{ClaimedDelivery, Delivery, Endpoint, NewEvent};
use async_trait::async_trait;
use secrecy::SecretString;
use time::OffsetDateTime;
use uuid::Uuid;

/// Webhook endpoints and deliveries. Events of points changes are queued in the same
/// transaction as the change (`LedgerTx::insert_webhook_event` of the ledger rules); the
/// sender claims due deliveries under a lease, posts them and records the answer.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint with its secret.
    async fn create_webhook_endpoint(
        &self,
        org: OrgId,
        endpoint: &Endpoint,
        secret: &SecretString,
    ) -> Result<(), StoreError>;
    /// The organization's endpoints, oldest first.
    async fn list_webhook_endpoints(&self, org: OrgId) -> Result<Vec<Endpoint>, StoreError>;
    /// Replaces an endpoint's secret; the old one keeps signing until `previous_until`.
    /// `false` when there is no such endpoint in the organization.
    async fn rotate_webhook_secret(
        &self,
        org: OrgId,
        id: Uuid,
        secret: &SecretString,
        previous_until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Changes an endpoint's address and event filter (its secret stays). `false` when
    /// there is no such endpoint in the organization.
    async fn update_webhook_endpoint(
        &self,
        org: OrgId,
        id: Uuid,
        url: &str,
        events: &[String],
    ) -> Result<bool, StoreError>;
    /// Removes an endpoint with its deliveries, in one transaction. `false` when there
    /// is no such endpoint in the organization.
    async fn delete_webhook_endpoint(&self, org: OrgId, id: Uuid) -> Result<bool, StoreError>;
    /// Turns an endpoint on or off (on again: its failure streak starts afresh).
    async fn set_webhook_endpoint_active(
        &self,
        org: OrgId,
        id: Uuid,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Queues an event for the organization's active endpoints whose filter takes it,
    /// or only for `only`. Returns how many deliveries were queued (an event already
    /// queued for an endpoint is not queued again).
    async fn queue_webhook_event(
        &self,
        event: &NewEvent,
        only: Option<Uuid>,
    ) -> Result<u64, StoreError>;
    /// Claims up to `limit` due deliveries of active endpoints (not delivered, not given
    /// up, next attempt due, no live claim) until `lease_until`, counting an attempt for
    /// each. Across all organizations. Two senders never hold the same delivery.
    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records that the endpoint accepted a delivery (and that it works again).
    async fn mark_webhook_delivered(
        &self,
        id: Uuid,
        status: i32,
        latency_ms: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Records a failed attempt: retry at `retry_at`, or give up when `None`; the
    /// endpoint's failure streak starts at `now` unless it is already failing.
    #[allow(clippy::too_many_arguments)]
    async fn mark_webhook_failed(
        &self,
        id: Uuid,
        status: Option<i32>,
        error: &str,
        latency_ms: i64,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Disables the active endpoints failing since before `cutoff`; returns them.
    async fn disable_failing_webhook_endpoints(
        &self,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Endpoint>, StoreError>;
    /// The newest deliveries of one organization (or of all with `None`), newest first.
    async fn list_webhook_deliveries(
        &self,
        org: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Makes a delivery due again at `now` with a fresh count of attempts (a resend
    /// carries the same `webhook-id`). `false` when there is no such delivery in the
    /// organization (any organization with `None`).
    async fn retry_webhook_delivery(
        &self,
        org: Option<OrgId>,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
