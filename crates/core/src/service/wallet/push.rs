//! Telling devices that a pass changed: the wallet outbox's rows (queued with the points
//! change, `LedgerTx::wallet_pass_changed`) sent one by one through a [`PushTransport`]
//! (APNs over HTTP/2, `loyalty_ops::wallet`), with the webhooks' retry schedule. The
//! device then asks the web service which passes changed and fetches them
//! ([`super::updates`]).

use crate::Error;
use crate::clock::Clock;
use crate::store::{ClaimedPush, Store};
use crate::webhook::{CLAIM_LEASE, RETRY_FOR, backoff};
use async_trait::async_trait;

/// What APNs answered to one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAnswer {
    /// Accepted (200).
    Sent(u16),
    /// The device no longer takes pushes for this topic (410 `Unregistered`, or 400
    /// `BadDeviceToken`): its registrations end and the push is given up.
    Gone(u16, String),
    /// Refused or failed (status when there was an answer, the reason); retried later.
    Failed(Option<u16>, String),
}

/// Something that sends an empty push to a device's push token.
#[async_trait]
pub trait PushTransport: Send + Sync {
    /// Sends one push for the passes of the operator's Pass Type ID.
    async fn push(&self, push_token: &str) -> PushAnswer;
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    /// Accepted by APNs.
    pub sent: u64,
    /// Failed; will be retried.
    pub retrying: u64,
    /// Given up (device gone, or past the retry window).
    pub given_up: u64,
}

/// Claims due pushes and sends them, recording each answer right after it.
pub async fn send_due(
    store: &dyn Store,
    clock: &dyn Clock,
    transport: &dyn PushTransport,
    batch: u32,
) -> Result<PushReport, Error> {
    let mut report = PushReport::default();
    loop {
        let now = clock.now();
        let lease_until = now + CLAIM_LEASE;
        let claimed = store.claim_wallet_pushes(now, lease_until, batch).await?;
        let done = claimed.len() < batch as usize;
        for p in claimed {
            if clock.now() + CLAIM_LEASE / 4 > lease_until {
                return Ok(report);
            }
            send_one(store, clock, transport, &p, &mut report).await?;
        }
        if done {
            return Ok(report);
        }
    }
}

async fn send_one(
    store: &dyn Store,
    clock: &dyn Clock,
    transport: &dyn PushTransport,
    p: &ClaimedPush,
    report: &mut PushReport,
) -> Result<(), Error> {
    match transport.push(&p.push_token).await {
        PushAnswer::Sent(status) => {
            store
                .mark_wallet_push_sent(p.id, i32::from(status), clock.now())
                .await?;
            report.sent += 1;
            tracing::info!(push = %p.id, attempts = p.attempts, "wallet pass update pushed");
        }
        PushAnswer::Gone(status, reason) => {
            let ended = store.forget_wallet_push_token(p.org, &p.push_token).await?;
            store
                .mark_wallet_push_failed(p.id, Some(i32::from(status)), &reason, None, clock.now())
                .await?;
            report.given_up += 1;
            tracing::info!(push = %p.id, status, %reason, registrations = ended, "device no longer takes wallet pushes; its registrations end");
        }
        PushAnswer::Failed(status, reason) => {
            let give_up = clock.now() >= p.created_at + RETRY_FOR;
            let retry_at = (!give_up).then(|| clock.now() + backoff(p.attempts));
            store
                .mark_wallet_push_failed(
                    p.id,
                    status.map(i32::from),
                    &reason,
                    retry_at,
                    clock.now(),
                )
                .await?;
            if give_up {
                report.given_up += 1;
            } else {
                report.retrying += 1;
            }
            tracing::warn!(push = %p.id, attempts = p.attempts, status, %reason, "wallet push failed");
        }
    }
    Ok(())
}
