//! Webhook use cases: an organization's endpoints (add with the secret shown once,
//! rotate, send a test event, the delivery log and resend), and delivering the outbox
//! through a [`WebhookTransport`] (HTTP in the `loyalty` binary) with backoff for up to
//! [`RETRY_FOR`], disabling endpoints that fail for [`DISABLE_AFTER`].

use crate::clock::Clock;
use crate::domain::ledger::AuditRecord;
use crate::domain::{OrgStatus, Organization};
use crate::service::context::{Ctx, require_admin};
use crate::store::{Store, new_id};
use crate::webhook::{
    self, CLAIM_LEASE, ClaimedDelivery, DISABLE_AFTER, Delivery, EVENT_TYPES, EXPIRING_SOON_DAYS,
    Endpoint, NewEvent, RETRY_FOR, ROTATION_OVERLAP, target,
};
use crate::{Error, ErrorCode};
use async_trait::async_trait;
use secrecy::SecretString;
use uuid::Uuid;

/// Most endpoints one organization may have.
pub const MAX_ENDPOINTS: usize = 10;

/// Checks an endpoint's URL and event filter as typed: an `http` or `https` URL with a
/// host, and event types from [`EVENT_TYPES`] (none or `*`: all).
pub fn parse_endpoint(url: &str, events: &[String]) -> Result<(String, Vec<String>), Error> {
    let url = url.trim();
    let mut errors = Vec::new();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    if url.len() > 2000
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
        || host.is_none_or(|h| h.is_empty() || h.contains('@'))
    {
        errors.push(crate::FieldError::new(
            "url",
            "must be an http or https address with a host, such as https://shop.example.com/hooks/loyalty",
        ));
    }
    let mut chosen: Vec<String> = events
        .iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    if let Some(bad) = chosen
        .iter()
        .find(|e| *e != "*" && !EVENT_TYPES.contains(&e.as_str()))
    {
        errors.push(crate::FieldError::new(
            "events",
            format!(
                "{bad:?} is not an event; choose from {} or * for all",
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    chosen.sort();
    chosen.dedup();
    if chosen.is_empty() || chosen.iter().any(|e| e == "*") {
        chosen = vec!["*".into()];
    }
    Ok((url.to_owned(), chosen))
}

/// Whether endpoints may point at private, loopback and link-local addresses: the
/// operator's `webhooks.allow_private`, passed by whoever runs the use case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Allow internal addresses (a receiver on the server's own network).
    pub allow_private: bool,
}

/// Checks a typed address against [`target::check_target`], the guard the sender runs
/// again before each post.
async fn guard(url: &str, policy: TargetPolicy) -> Result<(), Error> {
    target::check_target(url, policy.allow_private)
        .await
        .map(|_| ())
        .map_err(|e| Error::Conflict(ErrorCode::WebhookTargetRefused, e.to_string()))
}

/// The audit record of a change to an endpoint: its address and filter, never its
/// secret.
fn endpoint_audit(ctx: &Ctx<'_>, action: &str, id: Uuid, after: serde_json::Value) -> AuditRecord {
    AuditRecord::new(
        Some(ctx.org.id),
        &ctx.actor,
        action,
        ("webhook_endpoint", id.to_string()),
        None,
        Some(after),
        ctx.clock.now(),
    )
}

/// Adds an endpoint (admins only). Its address must pass the guard against private
/// targets. The secret is returned here and never shown again.
pub async fn create_endpoint(
    ctx: &Ctx<'_>,
    url: &str,
    events: &[String],
    policy: TargetPolicy,
) -> Result<(Endpoint, SecretString), Error> {
    require_admin(ctx, "add webhook endpoints")?;
    let (url, events) = parse_endpoint(url, events)?;
    if ctx.store.list_webhook_endpoints(ctx.org.id).await?.len() >= MAX_ENDPOINTS {
        return Err(Error::field(
            "url",
            format!("an organization has at most {MAX_ENDPOINTS} endpoints; remove one first"),
        ));
    }
    guard(&url, policy).await?;
    let endpoint = Endpoint {
        id: new_id(),
        organization_id: ctx.org.id,
        url,
        events,
        active: true,
        failing_since: None,
        created_at: ctx.clock.now(),
    };
    let secret = webhook::new_secret();
    ctx.store
        .create_webhook_endpoint(ctx.org.id, &endpoint, &secret)
        .await?;
    ctx.store
        .append_audit(&endpoint_audit(
            ctx,
            "webhook.create",
            endpoint.id,
            serde_json::json!({"url": endpoint.url, "events": endpoint.events}),
        ))
        .await?;
    Ok((endpoint, secret))
}

/// Changes an endpoint's address and event filter (admins only); the new address must
/// pass the guard against private targets. The secret stays.
pub async fn update_endpoint(
    ctx: &Ctx<'_>,
    id: Uuid,
    url: &str,
    events: &[String],
    policy: TargetPolicy,
) -> Result<Endpoint, Error> {
    require_admin(ctx, "change webhook endpoints")?;
    let (url, events) = parse_endpoint(url, events)?;
    guard(&url, policy).await?;
    if !ctx
        .store
        .update_webhook_endpoint(ctx.org.id, id, &url, &events)
        .await?
    {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "webhook endpoint".into(),
        ));
    }
    ctx.store
        .append_audit(&endpoint_audit(
            ctx,
            "webhook.update",
            id,
            serde_json::json!({"url": url, "events": events}),
        ))
        .await?;
    ctx.store
        .list_webhook_endpoints(ctx.org.id)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| Error::NotFound(ErrorCode::WebhookNotFound, "webhook endpoint".into()))
}

/// Removes an endpoint with its delivery log (admins only).
pub async fn remove_endpoint(ctx: &Ctx<'_>, id: Uuid) -> Result<(), Error> {
    require_admin(ctx, "remove webhook endpoints")?;
    let Some(endpoint) = ctx
        .store
        .list_webhook_endpoints(ctx.org.id)
        .await?
        .into_iter()
        .find(|e| e.id == id)
    else {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "webhook endpoint".into(),
        ));
    };
    if !ctx.store.delete_webhook_endpoint(ctx.org.id, id).await? {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "webhook endpoint".into(),
        ));
    }
    ctx.store
        .append_audit(&endpoint_audit(
            ctx,
            "webhook.remove",
            id,
            serde_json::json!({"url": endpoint.url, "events": endpoint.events}),
        ))
        .await?;
    Ok(())
}

/// The organization's endpoints (admins only).
pub async fn endpoints(ctx: &Ctx<'_>) -> Result<Vec<Endpoint>, Error> {
    require_admin(ctx, "see webhook endpoints")?;
    Ok(ctx.store.list_webhook_endpoints(ctx.org.id).await?)
}

/// A new secret for an endpoint (admins only); the old one keeps signing for
/// [`ROTATION_OVERLAP`], so receivers can switch without losing an event.
pub async fn rotate_secret(ctx: &Ctx<'_>, id: Uuid) -> Result<SecretString, Error> {
    require_admin(ctx, "rotate webhook secrets")?;
    let secret = webhook::new_secret();
    if !ctx
        .store
        .rotate_webhook_secret(ctx.org.id, id, &secret, ctx.clock.now() + ROTATION_OVERLAP)
        .await?
    {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "webhook endpoint".into(),
        ));
    }
    ctx.store
        .append_audit(&endpoint_audit(
            ctx,
            "webhook.rotate",
            id,
            serde_json::json!({
                "previous_secret_signs_until": (ctx.clock.now() + ROTATION_OVERLAP)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            }),
        ))
        .await?;
    Ok(secret)
}

/// Turns an endpoint on again after it was disabled, or off (admins only).
pub async fn set_active(ctx: &Ctx<'_>, id: Uuid, active: bool) -> Result<(), Error> {
    require_admin(ctx, "turn webhook endpoints on or off")?;
    if !ctx
        .store
        .set_webhook_endpoint_active(ctx.org.id, id, active, ctx.clock.now())
        .await?
    {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "webhook endpoint".into(),
        ));
    }
    ctx.store
        .append_audit(&endpoint_audit(
            ctx,
            if active {
                "webhook.enable"
            } else {
                "webhook.disable"
            },
            id,
            serde_json::json!({"active": active}),
        ))
        .await?;
    Ok(())
}

/// Queues a `webhook.test` event for one endpoint (admins only); returns its id.
pub async fn send_test(ctx: &Ctx<'_>, id: Uuid) -> Result<String, Error> {
    require_admin(ctx, "send webhook test events")?;
    let event_id = format!("test_{}", new_id().simple());
    let event = NewEvent::new(
        ctx.org.id,
        event_id.clone(),
        "webhook.test",
        serde_json::json!({"organization": ctx.org.slug.as_str(), "endpoint_id": id.to_string()}),
        ctx.clock.now(),
    );
    if ctx.store.queue_webhook_event(&event, Some(id)).await? == 0 {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "active webhook endpoint".into(),
        ));
    }
    Ok(event_id)
}

/// The organization's newest deliveries, newest first (admins only).
pub async fn deliveries(ctx: &Ctx<'_>, limit: u32) -> Result<Vec<Delivery>, Error> {
    require_admin(ctx, "see the webhook delivery log")?;
    Ok(ctx
        .store
        .list_webhook_deliveries(Some(ctx.org.id), limit.clamp(1, 500))
        .await?)
}

/// Sends a delivery again, with the same `webhook-id` (admins only).
pub async fn resend(ctx: &Ctx<'_>, id: Uuid) -> Result<(), Error> {
    require_admin(ctx, "resend webhook deliveries")?;
    if !ctx
        .store
        .retry_webhook_delivery(Some(ctx.org.id), id, ctx.clock.now())
        .await?
    {
        return Err(Error::NotFound(
            ErrorCode::WebhookNotFound,
            "webhook delivery".into(),
        ));
    }
    let mut record = endpoint_audit(ctx, "webhook.resend", id, serde_json::json!({}));
    record.target_type = Some("webhook_delivery".into());
    ctx.store.append_audit(&record).await?;
    Ok(())
}

/// Queues `points.expiring_soon` for an organization with points expiry: one event per
/// customer per expiry batch (the `webhook-id` names the customer and the instant their
/// oldest unspent points expire), for points expiring within the shop's expiry warning
/// window (its mail setting, or [`EXPIRING_SOON_DAYS`]). Safe to run any number of
/// times and on several instances: an event already queued is not queued again.
/// Returns deliveries queued now.
pub async fn queue_expiring_soon(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
) -> Result<u64, Error> {
    let Some(expiry_days) = org.expiry_days else {
        return Ok(0);
    };
    if org.status != OrgStatus::Active
        || !store
            .list_webhook_endpoints(org.id)
            .await?
            .iter()
            .any(|e| e.active)
    {
        return Ok(0);
    }
    let warn_days = store
        .mail_settings(org.id)
        .await?
        .expiry_warning_days
        .map_or(i64::from(EXPIRING_SOON_DAYS), i64::from);
    let now = clock.now();
    let expiry = time::Duration::days(i64::from(expiry_days));
    // Points earned at or before this instant expire within the window.
    let cutoff = now + time::Duration::days(warn_days) - expiry;
    let mut queued = 0;
    for target in store.expiry_targets(org.id, cutoff, false).await? {
        let Some(oldest) = target.oldest_unspent else {
            continue;
        };
        let expires_at = oldest + expiry;
        // Already due: the expiry job takes them.
        if target.expiring() <= 0 || expires_at <= now {
            continue;
        }
        let event = NewEvent::expiring_soon(
            org.id,
            target.customer,
            target.expiring(),
            target.balance,
            expires_at,
            now,
        );
        queued += store.queue_webhook_event(&event, None).await?;
    }
    Ok(queued)
}

/// The endpoint's answer to one delivery.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The start of the body.
    pub excerpt: String,
}

/// Why a delivery did not reach the endpoint.
#[derive(Debug, Clone)]
pub struct PostError {
    /// What went wrong.
    pub message: String,
    /// Never worth retrying (the address is refused).
    pub permanent: bool,
}

/// Something that posts a signed delivery to an endpoint.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// Posts `body` to `url` with `headers`; any answer is `Ok`.
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<Answer, PostError>;
}

/// The Standard Webhooks headers of one delivery, signed at `timestamp`.
pub fn headers(d: &ClaimedDelivery, timestamp: i64) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", d.delivery.event_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            webhook::signature_header(
                &d.secrets,
                &d.delivery.event_id,
                timestamp,
                &d.delivery.payload,
            ),
        ),
        ("content-type", "application/json".into()),
    ]
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Accepted by their endpoint (2xx).
    pub delivered: u64,
    /// Failed; will be retried.
    pub retrying: u64,
    /// Given up (past the retry window or refused).
    pub given_up: u64,
    /// Endpoints disabled for failing too long.
    pub disabled: u64,
}

/// Claims due deliveries and posts them one by one, recording each answer right after
/// it. Only if the process dies between the post and the record is a delivery posted
/// again (with the same `webhook-id`) once its claim lapses.
pub async fn deliver_due(
    store: &dyn Store,
    clock: &dyn Clock,
    transport: &dyn WebhookTransport,
    batch: u32,
) -> Result<DeliveryReport, Error> {
    let mut report = DeliveryReport::default();
    loop {
        let now = clock.now();
        let lease_until = now + CLAIM_LEASE;
        let claimed = store
            .claim_webhook_deliveries(now, lease_until, batch)
            .await?;
        let done = claimed.len() < batch as usize;
        for d in claimed {
            let id = d.delivery.id;
            if clock.now() + CLAIM_LEASE / 4 > lease_until {
                // Left for the next pass once the claim lapses.
                return Ok(report);
            }
            let started = std::time::Instant::now();
            let sent_at = clock.now();
            let result = transport
                .post(
                    &d.url,
                    &headers(&d, sent_at.unix_timestamp()),
                    &d.delivery.payload,
                )
                .await;
            let latency = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let (status, message, permanent) = match result {
                Ok(a) if (200..300).contains(&a.status) => {
                    store
                        .mark_webhook_delivered(id, i32::from(a.status), latency, clock.now())
                        .await?;
                    report.delivered += 1;
                    tracing::info!(delivery = %id, event = %d.delivery.event_id, attempts = d.delivery.attempts, "webhook delivered");
                    continue;
                }
                Ok(a) => (Some(i32::from(a.status)), a.excerpt, false),
                Err(e) => (None, e.message, e.permanent),
            };
            let give_up = permanent || clock.now() >= d.delivery.created_at + RETRY_FOR;
            let retry_at = (!give_up).then(|| clock.now() + webhook::backoff(d.delivery.attempts));
            store
                .mark_webhook_failed(id, status, &message, latency, retry_at, clock.now())
                .await?;
            if give_up {
                report.given_up += 1;
            } else {
                report.retrying += 1;
            }
            tracing::warn!(delivery = %id, event = %d.delivery.event_id, attempts = d.delivery.attempts, status, error = %message, "webhook delivery failed");
        }
        if done {
            break;
        }
    }
    let disabled = store
        .disable_failing_webhook_endpoints(clock.now() - DISABLE_AFTER, clock.now())
        .await?;
    for e in &disabled {
        tracing::warn!(endpoint = %e.id, "webhook endpoint disabled after failing for days");
        if let Err(err) = crate::service::mail::queue_webhook_disabled(store, clock, e).await {
            tracing::warn!(endpoint = %e.id, error = %err, "cannot queue the mail about a disabled webhook endpoint");
        }
    }
    report.disabled = disabled.len() as u64;
    Ok(report)
}
