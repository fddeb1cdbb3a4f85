//! The till's sanity check on purchase amounts: an amount far above what the shop
//! usually sees (a coffee typed as 2.550,00) asks the cashier for a second, explicit
//! confirmation and marks the award's audit record; the API accepts it and reports it.
//!
//! The bound is the organization's `purchase_bound` when an admin set one. Otherwise it
//! is derived: 10 times the 95th percentile of the organization's purchases of the last
//! 90 days, and never below a floor of 500.00 in the currency (50,000 in a currency
//! without decimals such as JPY, 50.000 in one with three such as KWD); with fewer than
//! 20 purchases in the window the floor alone applies. Amounts at or below the floor
//! never need the percentile, so an ordinary award costs no extra query.

use super::context::{Ctx, STAFF};
use super::points::AwardRequest;
use crate::Error;
use crate::domain::ledger::PointsOutcome;
use crate::error::ErrorCode;
use rust_decimal::Decimal;

/// Days of purchases the derived bound looks at.
pub const WINDOW_DAYS: i64 = 90;
/// Purchases needed in the window before the percentile counts.
pub const MIN_PURCHASES: i64 = 20;
/// Points per customer per day above which the dashboard flags the customer, when the
/// organization set no other amount.
pub const DEFAULT_DAILY_POINTS: i64 = 1000;

/// The smallest derived bound: 500.00 in a currency with two decimals, scaled so it is
/// worth about as much in one with none (50,000) or three (50.000).
pub fn floor(minor_digits: u32) -> Decimal {
    match minor_digits {
        0 => Decimal::from(50_000),
        3 => Decimal::from(50),
        _ => Decimal::from(500),
    }
}

fn minor_digits(ctx: &Ctx<'_>) -> u32 {
    ctx.org.currency.minor_digits()
}

/// The organization's bound: the one an admin set, else the derived one.
pub async fn purchase_bound(ctx: &Ctx<'_>) -> Result<Decimal, Error> {
    if let Some(b) = ctx.org.purchase_bound {
        return Ok(b);
    }
    let floor = floor(minor_digits(ctx));
    let since = ctx.clock.now() - time::Duration::days(WINDOW_DAYS);
    let (n, p95) = ctx
        .store
        .purchase_percentile(ctx.org.id, since, 950)
        .await?;
    Ok(match p95 {
        Some(p) if n >= MIN_PURCHASES => (p * Decimal::TEN).max(floor),
        _ => floor,
    })
}

/// The bound `amount` exceeds, or `None` when it is usual. Reads recent purchases only
/// when the amount is above the floor and the organization set no bound.
pub async fn unusual(ctx: &Ctx<'_>, amount: Decimal) -> Result<Option<Decimal>, Error> {
    if ctx.org.purchase_bound.is_none() && amount <= floor(minor_digits(ctx)) {
        return Ok(None);
    }
    let bound = purchase_bound(ctx).await?;
    Ok((amount > bound).then_some(bound))
}

/// An award and the bound its amount exceeded, if it did.
#[derive(Debug)]
pub struct CheckedAward {
    /// The award.
    pub outcome: PointsOutcome,
    /// The bound the amount was above, when it was.
    pub unusual: Option<Decimal>,
}

/// Records a purchase like `points::award`, checking its amount against the bound. An
/// amount above it is refused with `purchase.unusual_amount` unless `confirmed` (the
/// till's second confirmation; the API always confirms); when recorded, the award's
/// audit record carries `unusual_amount: {bound, confirmed}` (outside the idempotency
/// fingerprint, so a retry matches even when the derived bound moved).
pub async fn award_checked(
    ctx: &Ctx<'_>,
    req: AwardRequest,
    idempotency: &str,
    confirmed: bool,
) -> Result<CheckedAward, Error> {
    ctx.require(STAFF, "record purchases")?;
    let amount = req.amount.value();
    let over = unusual(ctx, amount).await?;
    if let Some(bound) = over
        && !confirmed
    {
        return Err(Error::Conflict(
            ErrorCode::PurchaseUnusualAmount,
            format!(
                "{amount} is above this shop's usual purchases ({bound}); confirm it to record it"
            ),
        ));
    }
    let mark = over.map(|b| serde_json::json!({"bound": b.to_string(), "confirmed": true}));
    let outcome = super::points::award_marked(ctx, req, idempotency, mark).await?;
    Ok(CheckedAward {
        outcome,
        unusual: over,
    })
}
