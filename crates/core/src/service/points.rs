//! The operations on points: award, redeem, reverse, adjust, expire, and reading
//! purchases. Requests arrive parsed (ids, amounts in the organization's currency);
//! the ledger rules run in one store transaction (see `ledger_tx`). Customers, rewards, settings and the acting context have their own
//! modules, re-exported here so `points::enroll`, `points::Ctx` and the like keep their
//! paths.

pub use super::context::Ctx;
pub use super::customers::{EnrollInput, customer, enroll, lookup};
pub use super::rewards::{create_reward, reward_input, update_reward};
pub use super::settings::{Limits, update_settings, update_settings_with_limits};

use super::context::{ADMIN, STAFF};
use crate::Error;
use crate::clock::Clock;
use crate::domain::ledger::{IdempotencyKey, PointsCommand, PointsError, PointsOutcome, Purchase};
use crate::domain::points::{Amount, MAX_POINTS};
use crate::domain::program::GrantRule;
use crate::domain::{CustomerId, Organization, PurchaseId, RewardId, Role, TimeZoneName};
use crate::error::FieldError;
use crate::store::{Store, StoreError};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Checks an `Idempotency-Key` header value and fingerprints the command with it.
pub fn idempotency_key(key: &str, cmd: &PointsCommand) -> Result<IdempotencyKey, Error> {
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::field(
            "Idempotency-Key",
            "must be 1-255 visible ASCII characters; send a new random value (a UUID) per operation and the same one on retries",
        ));
    }
    let body = serde_json::to_vec(cmd).map_err(|e| Error::Store(StoreError::backend(e)))?;
    Ok(IdempotencyKey {
        key: key.to_owned(),
        request_hash: hex::encode(Sha256::digest(&body)),
    })
}

/// A purchase to record, parsed at the edge: the amount already has at most the
/// organization's currency digits (see [`parse_amount`]).
#[derive(Debug, Clone)]
pub struct AwardRequest {
    /// The customer.
    pub customer: CustomerId,
    /// Amount paid.
    pub amount: Amount,
    /// The currency the client named, if any; it must be the organization's.
    pub currency: Option<String>,
    /// Free-form details from the till (at most 4 KiB as JSON).
    pub metadata: serde_json::Value,
}

/// A redemption: a reward of the catalog or a plain number of points, not both.
#[derive(Debug, Clone, Copy)]
pub struct RedeemRequest {
    /// The customer.
    pub customer: CustomerId,
    /// A reward of the catalog.
    pub reward: Option<RewardId>,
    /// A plain number of points.
    pub points: Option<i64>,
}

/// A refund of a purchase; no amount refunds the rest of it.
#[derive(Debug, Clone, Copy)]
pub struct ReverseRequest {
    /// The purchase.
    pub purchase: PurchaseId,
    /// Amount refunded, parsed with the organization's currency digits.
    pub amount: Option<Amount>,
}

/// A manual correction of a balance.
#[derive(Debug, Clone)]
pub struct AdjustRequest {
    /// The customer.
    pub customer: CustomerId,
    /// Points to add (positive) or remove (negative).
    pub points: i64,
    /// Why the balance is corrected.
    pub reason: String,
}

/// Parses an amount in the organization's currency (at most its minor digits), as the
/// edge does before calling [`award`] or [`reverse`]. Only staff record amounts: the
/// role is checked first, so a caller who may not record purchases is refused as such
/// whatever the amount says.
pub fn parse_amount(ctx: &Ctx<'_>, text: &str) -> Result<Amount, Error> {
    ctx.require(STAFF, "record purchases")?;
    Amount::parse(text, ctx.org.currency.minor_digits()).map_err(|e| Error::Validation(vec![e]))
}

/// A purchase by id (staff); `PurchaseNotFound` when this organization has none.
pub async fn purchase(ctx: &Ctx<'_>, id: PurchaseId) -> Result<Purchase, Error> {
    ctx.require(STAFF, "read purchases by id")?;
    ctx.store
        .purchase(ctx.org.id, id)
        .await?
        .ok_or(Error::Points(PointsError::PurchaseNotFound))
}

/// A customer's purchases made today in the organization's time zone, newest first, at
/// most `limit` (staff): what the till offers to reverse.
pub async fn todays_purchases(
    ctx: &Ctx<'_>,
    customer: CustomerId,
    limit: u32,
) -> Result<Vec<Purchase>, Error> {
    ctx.require(STAFF, "read purchases")?;
    let today = start_of_day(ctx.clock.now(), &ctx.org.timezone);
    Ok(ctx
        .store
        .list_purchases(ctx.org.id, Some(customer), Some(today), None, limit)
        .await?)
}

/// Records a purchase and awards its points.
pub async fn award(
    ctx: &Ctx<'_>,
    req: AwardRequest,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    award_marked(ctx, req, idempotency, None).await
}

/// [`award`], with the audit record's mark of an unusual amount (`service::bound`).
pub(crate) async fn award_marked(
    ctx: &Ctx<'_>,
    req: AwardRequest,
    idempotency: &str,
    unusual: Option<serde_json::Value>,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "record purchases")?;
    let org_currency = &ctx.org.currency;
    if let Some(c) = req
        .currency
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.eq_ignore_ascii_case(org_currency.as_str()))
    {
        return Err(Error::field(
            "currency",
            format!("{c:?} is not this organization's currency; amounts are in {org_currency}"),
        ));
    }
    if req.metadata.to_string().len() > 4096 {
        return Err(Error::field(
            "metadata",
            "is larger than 4 KiB; keep till details short",
        ));
    }
    let cmd = PointsCommand::Award {
        customer: req.customer,
        amount: req.amount.value(),
        currency: org_currency.as_str().to_owned(),
        points: ctx.org.earning.points_for(req.amount),
        metadata: req.metadata,
        receipt: ctx.org.points_receipts,
        unusual,
        program: super::program::award_program(ctx.org, req.amount, ctx.clock.now()),
    };
    run(ctx, &cmd, idempotency).await
}

/// Spends points on a reward or a plain number of points.
pub async fn redeem(
    ctx: &Ctx<'_>,
    req: RedeemRequest,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "redeem points")?;
    match (req.reward, req.points) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(Error::field(
                "reward_id",
                "give either reward_id or points, not both",
            ));
        }
        (None, Some(p)) if !(1..=MAX_POINTS).contains(&p) => {
            return Err(Error::field(
                "points",
                format!("must be a whole number from 1 to {MAX_POINTS}"),
            ));
        }
        _ => {}
    }
    run(
        ctx,
        &PointsCommand::Redeem {
            customer: req.customer,
            reward: req.reward,
            points: req.points,
        },
        idempotency,
    )
    .await
}

/// Refunds all or part of a purchase. Cashiers may only reverse today's purchases
/// (today in the organization's time zone); admins any.
pub async fn reverse(
    ctx: &Ctx<'_>,
    req: ReverseRequest,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "reverse purchases")?;
    let not_before = if ctx.role == Role::Cashier {
        Some(start_of_day(ctx.clock.now(), &ctx.org.timezone))
    } else {
        None
    };
    run(
        ctx,
        &PointsCommand::Reverse {
            purchase: req.purchase,
            amount: req.amount.map(Amount::value),
            not_before,
        },
        idempotency,
    )
    .await
}

/// Adds or removes points by hand, with a mandatory reason.
pub async fn adjust(
    ctx: &Ctx<'_>,
    req: AdjustRequest,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(ADMIN, "adjust points")?;
    let mut errors = Vec::new();
    if req.points == 0 || req.points.abs() > MAX_POINTS {
        errors.push(FieldError::new(
            "points",
            format!("must be a non-zero whole number between -{MAX_POINTS} and {MAX_POINTS}"),
        ));
    }
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(FieldError::new(
            "reason",
            "is required (1-500 characters): say why the balance is corrected",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    run(
        ctx,
        &PointsCommand::Adjust {
            customer: req.customer,
            points: req.points,
            reason: reason.to_owned(),
        },
        idempotency,
    )
    .await
}

pub(crate) async fn run(
    ctx: &Ctx<'_>,
    cmd: &PointsCommand,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    let key = idempotency_key(idempotency, cmd)?;
    let outcome = ctx
        .store
        .apply_points(ctx.org.id, cmd, &ctx.actor, Some(&key), ctx.clock.now())
        .await?;
    count(ctx.org, cmd, &outcome);
    Ok(outcome)
}

/// Counts a committed award or redemption for `/metrics`; a replay of an earlier
/// result was counted when it first happened.
fn count(org: &Organization, cmd: &PointsCommand, outcome: &PointsOutcome) {
    if outcome.replayed {
        return;
    }
    let slug = org.slug.as_str().to_owned();
    match cmd {
        PointsCommand::Award { .. } => {
            metrics::counter!("loyalty_purchases_total", "org" => slug.clone()).increment(1);
            metrics::counter!("loyalty_points_awarded_total", "org" => slug.clone())
                .increment(outcome.entry.points.max(0).unsigned_abs());
            let grants = outcome.purchase.iter().flat_map(|p| &p.grants);
            for g in grants {
                match g.rule {
                    GrantRule::Promotion(_) => {
                        metrics::counter!("loyalty_promotions_applied_total", "org" => slug.clone())
                            .increment(1);
                    }
                    GrantRule::StampCard(_) => {
                        metrics::counter!("loyalty_stamps_given_total", "org" => slug.clone())
                            .increment(g.stamps.max(0).unsigned_abs());
                    }
                    GrantRule::Base | GrantRule::Tier(_) => {}
                }
            }
        }
        PointsCommand::Redeem { .. } => {
            metrics::counter!("loyalty_points_redeemed_total", "org" => slug)
                .increment(outcome.entry.points.unsigned_abs());
        }
        PointsCommand::RedeemCard { .. } => {
            metrics::counter!("loyalty_stamp_rewards_total", "org" => slug).increment(1);
        }
        _ => {}
    }
}

/// What an expiry run did in one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpiryReport {
    /// Organization slug.
    pub org: String,
    /// Customers who lost points.
    pub customers: u64,
    /// Points expired.
    pub points: i64,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Expires points older than the org's policy, oldest first. Safe to run any number of
/// times and from several instances: each customer is handled in its own transaction
/// under its row lock, and points already expired count as spent.
pub async fn expire(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
    dry_run: bool,
) -> Result<ExpiryReport, Error> {
    let mut report = ExpiryReport {
        org: org.slug.to_string(),
        dry_run,
        ..ExpiryReport::default()
    };
    let Some(days) = org.expiry_days else {
        return Ok(report);
    };
    let now = clock.now();
    let cutoff = now - time::Duration::days(i64::from(days));
    for customer in store.expiry_candidates(org.id, cutoff).await? {
        let expired = store
            .expire_customer(org.id, customer, cutoff, now, dry_run)
            .await?;
        if expired > 0 {
            report.customers += 1;
            report.points += expired;
        }
    }
    Ok(report)
}

/// The instant a calendar day starts in an organization's time zone.
pub fn day_start(date: time::Date, tz: &TimeZoneName) -> OffsetDateTime {
    let zone = tz.zone();
    let civil = jiff::civil::date(
        date.year() as i16,
        u8::from(date.month()) as i8,
        date.day() as i8,
    );
    civil
        .to_zoned_datetime(zone)
        .ok()
        .and_then(|z| OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or_else(|| date.midnight().assume_utc())
}

/// The start of the day containing `now` in an organization's time zone.
pub fn start_of_day(now: OffsetDateTime, tz: &TimeZoneName) -> OffsetDateTime {
    let zone = tz.zone();
    jiff::Timestamp::from_second(now.unix_timestamp())
        .ok()
        .map(|t| t.to_zoned_datetime(zone))
        .and_then(|z| z.start_of_day().ok())
        .and_then(|z| OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};
    use uuid::Uuid;

    fn tz(name: &str) -> TimeZoneName {
        TimeZoneName::parse(name).expect("zone")
    }

    #[test]
    fn days_start_at_local_midnight() {
        assert_eq!(
            day_start(date!(2025 - 01 - 23), &tz("America/New_York")),
            datetime!(2025-01-23 05:00 UTC)
        );
        assert_eq!(
            day_start(date!(2025 - 07 - 01), &tz("America/Sao_Paulo")),
            datetime!(2025-07-01 03:00 UTC)
        );
        assert_eq!(
            start_of_day(datetime!(2025-01-23 03:00 UTC), &tz("America/New_York")),
            datetime!(2025-01-22 05:00 UTC)
        );
        assert_eq!(
            day_start(date!(2025 - 01 - 23), &TimeZoneName::utc()),
            datetime!(2025-01-23 00:00 UTC)
        );
    }

    #[test]
    fn idempotency_keys_fingerprint_the_request() {
        let a = PointsCommand::Adjust {
            customer: CustomerId(Uuid::nil()),
            points: 5,
            reason: "x".into(),
        };
        let b = PointsCommand::Adjust {
            customer: CustomerId(Uuid::nil()),
            points: 6,
            reason: "x".into(),
        };
        let ka = idempotency_key("k1", &a).expect("ok");
        assert_eq!(
            ka.request_hash,
            idempotency_key("k1", &a).expect("ok").request_hash
        );
        assert_ne!(
            ka.request_hash,
            idempotency_key("k1", &b).expect("ok").request_hash
        );
        assert!(idempotency_key("", &a).is_err());
        assert!(idempotency_key("has space", &a).is_err());
        assert!(idempotency_key(&"k".repeat(256), &a).is_err());
    }
}
