//! Webhooks: the events an organization's endpoints can take, their payloads (immutable
//! snapshots written to the outbox in the same transaction as the change), Standard
//! Webhooks signing (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and the
//! retry schedule. Delivery is `service::webhooks`; storage `store::WebhookStore`; the
//! guard against private targets `target`.

pub mod target;

use crate::domain::ledger::{Customer, PointsOutcome, TxType};
use crate::domain::program::StampKind;
use crate::domain::program::engine::GrantRule;
use crate::domain::{CustomerId, OrgId};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The events, by their wire name.
pub const EVENT_TYPES: &[&str] = &[
    "member.enrolled",
    "member.updated",
    "member.erased",
    "points.earned",
    "points.redeemed",
    "points.reversed",
    "points.adjusted",
    "points.expired",
    "points.expiring_soon",
    "reward.redeemed",
    "reward.stock_low",
    "stamp.earned",
    "stamp_card.completed",
    "webhook.test",
];

/// A redemption that leaves a reward with this many or fewer in stock sends
/// `reward.stock_low`.
pub const STOCK_LOW_AT: i32 = 5;
/// How far ahead `points.expiring_soon` looks when the shop set no expiry warning window
/// for its mail.
pub const EXPIRING_SOON_DAYS: u16 = 14;

/// How long delivery of one event is retried before it is marked failed.
pub const RETRY_FOR: Duration = Duration::hours(72);
/// How long an endpoint may fail every delivery before it is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);
/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// How long a claimed delivery stays reserved for one sender.
pub const CLAIM_LEASE: Duration = Duration::minutes(2);
/// Longest wait for an endpoint's answer.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// How much of an endpoint's answer is kept in the delivery log.
pub const EXCERPT_CHARS: usize = 500;

/// The wait before the next attempt after `attempts` failed ones: 30 s doubling up to
/// 4 h (about 26 attempts over 72 h).
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 16) - 1;
    Duration::seconds((30i64 << exp).min(4 * 3600))
}

/// An event queued for the organization's endpoints.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The organization.
    pub org: OrgId,
    /// `webhook-id`: stable per event (the ledger entry's id where there is one).
    pub id: String,
    /// One of [`EVENT_TYPES`].
    pub event_type: &'static str,
    /// The body sent, a JSON document: `{"type", "timestamp", "data"}`.
    pub payload: String,
    /// When it happened.
    pub created_at: OffsetDateTime,
}

impl NewEvent {
    /// An event with its standard envelope around `data`.
    pub fn new(
        org: OrgId,
        id: String,
        event_type: &'static str,
        data: serde_json::Value,
        at: OffsetDateTime,
    ) -> Self {
        let stamp = at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let payload = serde_json::json!({
            "type": event_type,
            "timestamp": stamp,
            "data": data,
        })
        .to_string();
        Self {
            org,
            id,
            event_type,
            payload,
            created_at: at,
        }
    }

    /// The event of a points change: its type from the ledger entry, the entry with
    /// `balance_after`, and the purchase or reward it refers to.
    pub fn points(org: OrgId, outcome: &PointsOutcome) -> Self {
        let e = &outcome.entry;
        let event_type = match e.transaction_type {
            TxType::Earned => "points.earned",
            TxType::Redeemed => "points.redeemed",
            TxType::Reversed => "points.reversed",
            TxType::Adjusted => "points.adjusted",
            TxType::Expired => "points.expired",
            // Opening balances come from a customer file import, which sends no events
            // (docs/webhooks.md); named for completeness.
            TxType::Opening => "points.opening",
        };
        let mut data = serde_json::json!({
            "entry_id": e.id.to_string(),
            "customer_id": e.customer_id.to_string(),
            "points": e.points,
            "balance_after": e.balance_after,
            "notes": e.notes,
        });
        if let serde_json::Value::Object(map) = &mut data {
            if let Some(p) = &outcome.purchase {
                map.insert(
                    "purchase".into(),
                    serde_json::json!({
                        "id": p.id.to_string(),
                        "amount": p.amount.to_string(),
                        "currency": p.currency,
                    }),
                );
            }
            if let Some(r) = &outcome.reward {
                map.insert(
                    "reward".into(),
                    serde_json::json!({"id": r.id.to_string(), "name": r.name}),
                );
            }
        }
        Self::new(org, e.id.to_string(), event_type, data, e.created_at)
    }

    /// `reward.redeemed` for a redemption of a catalog reward (`webhook-id`: the ledger
    /// entry's id with `.reward`); `None` for a redemption of bare points.
    pub fn reward(org: OrgId, outcome: &PointsOutcome) -> Option<Self> {
        let r = outcome.reward.as_ref()?;
        let e = &outcome.entry;
        let data = serde_json::json!({
            "entry_id": e.id.to_string(),
            "customer_id": e.customer_id.to_string(),
            "reward": {"id": r.id.to_string(), "name": r.name, "cost_points": r.cost_points, "stock_left": r.stock},
            "balance_after": e.balance_after,
        });
        Some(Self::new(
            org,
            format!("{}.reward", e.id),
            "reward.redeemed",
            data,
            e.created_at,
        ))
    }

    /// `reward.stock_low` when a redemption leaves a catalog reward with
    /// [`STOCK_LOW_AT`] or fewer in stock (`webhook-id`: the ledger entry's id with
    /// `.stock_low`); `None` otherwise.
    pub fn stock_low(org: OrgId, outcome: &PointsOutcome) -> Option<Self> {
        let r = outcome.reward.as_ref()?;
        let left = r.stock?;
        if left > STOCK_LOW_AT || outcome.entry.transaction_type != TxType::Redeemed {
            return None;
        }
        let e = &outcome.entry;
        let data = serde_json::json!({
            "entry_id": e.id.to_string(),
            "reward": {"id": r.id.to_string(), "name": r.name, "cost_points": r.cost_points},
            "stock_left": left,
            "threshold": STOCK_LOW_AT,
        });
        Some(Self::new(
            org,
            format!("{}.stock_low", e.id),
            "reward.stock_low",
            data,
            e.created_at,
        ))
    }

    /// The program events of an award: `stamp.earned` for each stamp entry earned
    /// (`webhook-id`: the stamp entry's id) and `stamp_card.completed` when it fills
    /// the card (`webhook-id`: the stamp entry's id with `.completed`).
    pub fn stamps(org: OrgId, outcome: &PointsOutcome) -> Vec<Self> {
        let Some(purchase) = &outcome.purchase else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for s in outcome
            .stamps
            .iter()
            .filter(|s| s.kind == StampKind::Earned && s.stamps > 0)
        {
            let grant = purchase
                .grants
                .iter()
                .find(|g| g.rule == GrantRule::StampCard(s.card_id));
            let name = grant.map(|g| g.name.clone()).unwrap_or_default();
            let required = grant
                .and_then(|g| g.progress)
                .map(|(_, need)| i64::from(need));
            let data = serde_json::json!({
                "stamp_entry_id": s.id.to_string(),
                "customer_id": s.customer_id.to_string(),
                "card": {"id": s.card_id.to_string(), "name": name, "stamps_required": required},
                "stamps": s.stamps,
                "stamps_after": s.balance_after,
                "purchase_id": purchase.id.to_string(),
                "balance_after": outcome.balance,
            });
            events.push(Self::new(
                org,
                s.id.to_string(),
                "stamp.earned",
                data.clone(),
                s.created_at,
            ));
            if let Some(need) = required
                && need > 0
                && s.balance_after >= need
                && s.balance_after - s.stamps < need
            {
                events.push(Self::new(
                    org,
                    format!("{}.completed", s.id),
                    "stamp_card.completed",
                    data,
                    s.created_at,
                ));
            }
        }
        events
    }

    /// `member.updated` for a change of a customer's profile or consent: which fields
    /// changed and their new values (`webhook-id`: a fresh id, written once).
    pub fn member_updated(
        org: OrgId,
        customer: CustomerId,
        changes: serde_json::Value,
        at: OffsetDateTime,
    ) -> Self {
        let data = serde_json::json!({
            "customer_id": customer.to_string(),
            "changes": changes,
        });
        Self::new(
            org,
            format!("{}.updated.{}", customer, Uuid::now_v7().simple()),
            "member.updated",
            data,
            at,
        )
    }

    /// `member.updated` for a change of a customer's marketing consent.
    pub fn consent_changed(
        org: OrgId,
        customer: CustomerId,
        consent: &crate::domain::MarketingConsent,
        at: OffsetDateTime,
    ) -> Self {
        Self::member_updated(
            org,
            customer,
            serde_json::json!({ "marketing_consent": consent }),
            at,
        )
    }

    /// `member.erased` for an erased customer: the id only, no personal data
    /// (`webhook-id`: the customer's id with `.erased`, so erasing again sends nothing
    /// new).
    pub fn erased(org: OrgId, customer: CustomerId, at: OffsetDateTime) -> Self {
        Self::new(
            org,
            format!("{customer}.erased"),
            "member.erased",
            serde_json::json!({"customer_id": customer.to_string()}),
            at,
        )
    }

    /// The body a `member.enrolled` delivery keeps after its customer is erased.
    pub fn enrolled_erased_payload(customer: CustomerId) -> String {
        serde_json::json!({
            "type": "member.enrolled",
            "data": {"customer_id": customer.to_string(), "erased": true},
        })
        .to_string()
    }

    /// `points.expiring_soon`: `points` of the customer expire at `expires_at`
    /// (`webhook-id`: the customer's id with the expiry instant, so one per customer per
    /// expiry batch however often the daily pass runs).
    pub fn expiring_soon(
        org: OrgId,
        customer: CustomerId,
        points: i64,
        balance: i64,
        expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Self {
        let stamp = expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let data = serde_json::json!({
            "customer_id": customer.to_string(),
            "points": points,
            "expires_at": stamp,
            "balance_after": balance,
        });
        Self::new(
            org,
            format!("{customer}.expiring.{}", expires_at.unix_timestamp()),
            "points.expiring_soon",
            data,
            at,
        )
    }

    /// `member.enrolled` for a new customer (`webhook-id`: the customer's id).
    pub fn enrolled(org: OrgId, c: &Customer, at: OffsetDateTime) -> Self {
        let data = serde_json::json!({
            "customer_id": c.id.to_string(),
            "card_number": c.card_number,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "balance_after": 0,
        });
        Self::new(
            org,
            format!("{}.enrolled", c.id),
            "member.enrolled",
            data,
            at,
        )
    }
}

/// An endpoint as shown to its organization (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Endpoint {
    /// Id.
    pub id: Uuid,
    /// The organization.
    #[serde(skip)]
    pub organization_id: OrgId,
    /// Where events are posted.
    pub url: String,
    /// The event types it takes, or `["*"]` for all.
    pub events: Vec<String>,
    /// False once disabled (failing for days, or by an admin).
    pub active: bool,
    /// Since when every delivery has failed, if they do.
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Endpoint {
    /// The stored form of an event filter.
    pub fn events_text(events: &[String]) -> String {
        events.join(",")
    }

    /// The filter read back from its stored form.
    pub fn parse_events(text: &str) -> Vec<String> {
        text.split(',').map(str::to_owned).collect()
    }
}

/// One delivery of one event to one endpoint, as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// Id.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// `webhook-id`.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// The body sent.
    pub payload: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The endpoint's last HTTP status.
    pub last_status: Option<i32>,
    /// The last error, or an excerpt of the endpoint's last answer.
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub latency_ms: Option<i64>,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the next attempt is due (pending only).
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// When the endpoint accepted it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was given up.
    #[serde(with = "time::serde::rfc3339::option")]
    pub failed_at: Option<OffsetDateTime>,
}

impl Delivery {
    /// `delivered`, `failed` or `pending`.
    pub fn status(&self) -> &'static str {
        match (self.delivered_at, self.failed_at) {
            (Some(_), _) => "delivered",
            (None, Some(_)) => "failed",
            (None, None) => "pending",
        }
    }
}

/// A delivery claimed for sending, with where and how to sign it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// The organization.
    pub organization_id: OrgId,
    /// The endpoint's URL.
    pub url: String,
    /// The secrets that sign: the current one, and the previous one during a rotation.
    pub secrets: Vec<SecretString>,
}

/// A fresh endpoint secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    SecretString::from(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// One `v1,<base64>` signature of `id.timestamp.body` with one `whsec_` secret; `None`
/// when the secret is not one.
pub fn sign(secret: &SecretString, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = secret.expose_secret().strip_prefix("whsec_")?;
    let key = STANDARD.decode(key).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(secrets: &[SecretString], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn backoff_retries_for_three_days() {
        let total: i64 = (1..=26).map(|a| backoff(a).whole_seconds()).sum();
        assert!(total >= RETRY_FOR.whole_seconds(), "{total}");
        assert_eq!(backoff(1), Duration::seconds(30));
    }

    #[test]
    fn new_secrets_sign() {
        let s = new_secret();
        assert!(s.expose_secret().starts_with("whsec_"));
        assert!(sign(&s, "a", 1, "{}").is_some());
    }
}
