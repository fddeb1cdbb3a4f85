//! The till when the shop's connection drops. The device keeps the minimum to estimate a
//! purchase's points (the earning rule, the running promotions and stamp cards: no
//! customer data) and records purchases with an idempotency key made on the device;
//! when the connection returns it sends them here one by one, oldest first, with that
//! same key, so a purchase sent twice is recorded once. `docs/till.md` says what works
//! offline and what does not.

use super::bound::{self, CheckedAward};
use super::context::{Ctx, STAFF};
use super::{customers, points};
use crate::Error;
use crate::FieldError;
use crate::domain::ledger::Customer;
use crate::domain::points::is_card_number;
use crate::domain::program::{Promotion, StampCard};
use crate::service::points::AwardRequest;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// What the till keeps on the device to estimate points offline: the earning rule and
/// the program's running promotions and stamp cards, as last synced.
#[derive(Debug, Clone, Serialize)]
pub struct TillProgram {
    /// The organization's currency (`BRL`).
    pub currency: String,
    /// Its decimals (2 for BRL).
    pub minor_digits: u32,
    /// The organization's time zone, in which promotions run.
    pub timezone: String,
    /// Points per whole unit of currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub points_per_unit: Decimal,
    /// Purchases below this earn nothing.
    #[serde(with = "rust_decimal::serde::str")]
    pub min_purchase: Decimal,
    /// The program's version.
    pub version: i64,
    /// Running promotions.
    pub promotions: Vec<Promotion>,
    /// Running stamp cards.
    pub stamp_cards: Vec<TillCard>,
}

/// A running stamp card as the till estimates it: its name, size and minimum.
#[derive(Debug, Clone, Serialize)]
pub struct TillCard {
    /// Name ("Coffee card").
    pub name: String,
    /// Stamps that fill it.
    pub stamps_required: u32,
    /// Purchases below this give no stamp.
    #[serde(with = "rust_decimal::serde::str")]
    pub min_amount: Decimal,
}

impl From<&StampCard> for TillCard {
    fn from(c: &StampCard) -> Self {
        TillCard {
            name: c.name.clone(),
            stamps_required: c.stamps_required,
            min_amount: c.min_amount,
        }
    }
}

/// The program as the till keeps it (staff).
pub fn program(ctx: &Ctx<'_>) -> Result<TillProgram, Error> {
    ctx.require(STAFF, "read the program for the till")?;
    let org = ctx.org;
    Ok(TillProgram {
        currency: org.currency.to_string(),
        minor_digits: org.currency.minor_digits(),
        timezone: org.timezone.to_string(),
        points_per_unit: org.earning.points_per_unit.normalize(),
        min_purchase: org.earning.min_purchase.normalize(),
        version: org.program.version,
        promotions: org
            .program
            .promotions
            .iter()
            .filter(|p| !p.ended)
            .cloned()
            .collect(),
        stamp_cards: org
            .program
            .stamp_cards
            .iter()
            .filter(|c| !c.ended)
            .map(TillCard::from)
            .collect(),
    })
}

/// A purchase the till recorded without a connection.
#[derive(Debug, Clone)]
pub struct OfflinePurchase {
    /// The customer's card number (typed, or read from the member QR).
    pub card: String,
    /// The amount, a plain decimal (`25.50`).
    pub amount: String,
    /// The idempotency key made on the device when the purchase was recorded.
    pub key: String,
    /// When the device recorded it (its own clock, RFC 3339), kept with the purchase.
    pub recorded_at: String,
}

/// Records a purchase the till made offline, as the till's award does, with the key the
/// device made: a second send of the same purchase answers the first result. The
/// customer is found by card number; an unknown card is `customer.not_found`. An amount
/// above the shop's usual purchases is refused (`purchase.unusual_amount`): nobody
/// confirmed it, so the cashier records it again at the till.
pub async fn record_offline(
    ctx: &Ctx<'_>,
    p: &OfflinePurchase,
) -> Result<(Customer, CheckedAward), Error> {
    ctx.require(STAFF, "record purchases")?;
    let card = p.card.trim();
    if !is_card_number(card) {
        return Err(Error::Validation(vec![FieldError::new(
            "card",
            format!("{card:?} is not a card number; type the 12 digits on the member card"),
        )]));
    }
    if Uuid::parse_str(&p.key).is_err() {
        return Err(Error::Validation(vec![FieldError::new(
            "key",
            "the purchase's key is not a UUID; record the purchase again",
        )]));
    }
    let recorded_at = time::OffsetDateTime::parse(
        &p.recorded_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| {
        Error::Validation(vec![FieldError::new(
            "recorded_at",
            "write when the purchase was recorded as RFC 3339 (2026-12-05T14:30:00Z)",
        )])
    })?;
    let amount = points::parse_amount(ctx, &p.amount)?;
    let customer = customers::lookup(ctx, card).await?;
    let req = AwardRequest {
        customer: customer.id,
        amount,
        currency: None,
        metadata: serde_json::json!({
            "channel": "till-offline",
            "recorded_at": recorded_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }),
    };
    let award = bound::award_checked(ctx, req, &p.key, false).await?;
    Ok((customer, award))
}
