//! Telling wallets that a member's card changed: the wallet outbox's rows (queued with the
//! points change, `LedgerTx::wallet_pass_changed`) sent one by one, with the webhooks'
//! retry schedule: an Apple device through a [`PushTransport`] (APNs over HTTP/2,
//! `loyalty_ops::wallet`), after which it asks the web service which passes changed and
//! fetches them ([`super::updates`]); Google Wallet through a [`GoogleTransport`] (a PATCH
//! of the member's loyalty object with the new balance).

use crate::Error;
use crate::clock::Clock;
use crate::domain::CustomerId;
use crate::domain::ledger::CustomerKey;
use crate::store::{ClaimedPush, PushKind, Store};
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

/// Something that updates members' loyalty objects through the Google Wallet REST API.
#[async_trait]
pub trait GoogleTransport: Send + Sync {
    /// The issuer whose objects these are.
    fn issuer(&self) -> &super::google::GoogleIssuer;
    /// PATCHes object `object_id` with `update`. `Gone` when Google has no such object
    /// (the member never saved the card): nothing to update.
    async fn update_object(&self, object_id: &str, update: &serde_json::Value) -> PushAnswer;
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

/// Claims due rows and sends each through its transport (`apns`, `google`), recording
/// each answer right after it. A row whose transport is not configured is given up.
pub async fn send_due(
    store: &dyn Store,
    clock: &dyn Clock,
    apns: Option<&dyn PushTransport>,
    google: Option<&dyn GoogleTransport>,
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
            let answer = match p.kind {
                PushKind::Apns => match apns {
                    Some(t) => t.push(&p.target).await,
                    None => PushAnswer::Gone(0, "APNs is not configured".into()),
                },
                PushKind::Google => match google {
                    Some(t) => google_update(store, t, &p).await?,
                    None => PushAnswer::Gone(0, "Google Wallet is not configured".into()),
                },
            };
            record(store, clock, &p, answer, &mut report).await?;
        }
        if done {
            return Ok(report);
        }
    }
}

/// The PATCH of a member's Google Wallet object: the balance, and the state (inactive
/// once the member is erased or the shop suspended).
async fn google_update(
    store: &dyn Store,
    transport: &dyn GoogleTransport,
    p: &ClaimedPush,
) -> Result<PushAnswer, Error> {
    let Ok(id) = p.target.parse::<uuid::Uuid>() else {
        return Ok(PushAnswer::Gone(0, "not a customer id".into()));
    };
    let id = CustomerId(id);
    let Some(customer) = store.find_customer(p.org, &CustomerKey::Id(id)).await? else {
        return Ok(PushAnswer::Gone(0, "no such member".into()));
    };
    let erased = store.erasure(p.org, id).await?.is_some();
    let mut update = super::google::object_update(&customer, p.org_active && !erased);
    // An erased member's pseudonym replaces the name and card number Google holds.
    if erased {
        let pseudonym = crate::store::erased_name(customer.id);
        update["accountName"] = serde_json::json!(pseudonym);
        update["accountId"] = serde_json::json!(pseudonym);
        update["barcode"] = serde_json::json!({"type": "QR_CODE", "value": pseudonym});
    }
    let object = super::google::object_id(transport.issuer(), &customer);
    Ok(transport.update_object(&object, &update).await)
}

async fn record(
    store: &dyn Store,
    clock: &dyn Clock,
    p: &ClaimedPush,
    answer: PushAnswer,
    report: &mut PushReport,
) -> Result<(), Error> {
    match answer {
        PushAnswer::Sent(status) => {
            store
                .mark_wallet_push_sent(p.id, i32::from(status), clock.now())
                .await?;
            report.sent += 1;
            tracing::info!(push = %p.id, kind = p.kind.as_str(), attempts = p.attempts, "wallet card update sent");
        }
        PushAnswer::Gone(status, reason) => {
            // A real answer of APNs (not "not configured") says the device is gone.
            let ended = if p.kind == PushKind::Apns && status != 0 {
                store.forget_wallet_push_token(p.org, &p.target).await?
            } else {
                0
            };
            store
                .mark_wallet_push_failed(p.id, Some(i32::from(status)), &reason, None, clock.now())
                .await?;
            report.given_up += 1;
            tracing::info!(push = %p.id, kind = p.kind.as_str(), status, %reason, registrations = ended, "wallet card update given up: nothing there to update");
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
            tracing::warn!(push = %p.id, kind = p.kind.as_str(), attempts = p.attempts, status, %reason, "wallet card update failed");
        }
    }
    Ok(())
}
