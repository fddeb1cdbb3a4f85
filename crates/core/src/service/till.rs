//! The till when the shop's connection drops. The device keeps the minimum to estimate a
//! purchase's points (the earning rule, the running promotions and stamp cards: no
//! customer data) and records purchases with an idempotency key made on the device;
//! when the connection returns it sends them here one by one, oldest first, with that
//! same key, so a purchase sent twice is recorded once. Each purchase carries the
//! recorder token the server gave the till page of the person who recorded it
//! ([`recorder_token`], [`crate::domain::recorder`]): it is recorded as that person,
//! whoever is signed in when it is sent, and refused when that person is no longer
//! active staff here. `docs/till.md` says what works offline and what does not.

use super::bound::{self, CheckedAward};
use super::context::{ADMIN, Ctx, STAFF};
use super::{customers, points};
use crate::Error;
use crate::FieldError;
use crate::clock::Clock;
use crate::domain::ledger::PointsOutcome;
use crate::domain::ledger::{Actor, Customer};
use crate::domain::points::is_card_number;
use crate::domain::program::{Promotion, StampCard};
use crate::domain::recorder::{self, Recorder};
use crate::domain::{Organization, Role};
use crate::error::ErrorCode;
use crate::service::points::{AwardRequest, RedeemRequest};
use crate::store::{NewMember, Store, TillDevice, TillSync};
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
    /// Points a customer may redeem offline per day, against the balance the till last
    /// synced; 0 refuses redemptions offline.
    pub offline_redeem_limit: i64,
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
        offline_redeem_limit: org.offline_redeem_limit,
    })
}

/// Sets the points a customer may redeem offline per day at a till (admins): a whole
/// number as typed (`1.000` and `1,000` are a thousand), 0 or empty to refuse
/// redemptions offline.
pub async fn set_offline_redeem_limit(ctx: &Ctx<'_>, typed: &str) -> Result<i64, Error> {
    ctx.require(ADMIN, "change the offline redemption limit")?;
    let plain: String = typed
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' '))
        .collect();
    let limit = if plain.is_empty() {
        Some(0)
    } else {
        plain
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=crate::domain::points::MAX_POINTS).contains(n))
    };
    let Some(limit) = limit else {
        return Err(Error::field(
            "offline_redeem_limit",
            format!(
                "{typed:?} is not a number of points; write a whole number from 0 (no redemptions offline) to {}",
                crate::domain::points::MAX_POINTS
            ),
        ));
    };
    ctx.store
        .set_offline_redeem_limit(ctx.org.id, limit, &ctx.actor, ctx.clock.now())
        .await?;
    Ok(limit)
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
    /// The till that sends it: a random id the device made once and keeps.
    pub device: Uuid,
    /// The recorder token the till held when the purchase was recorded
    /// ([`recorder_token`]): who recorded it, on this till.
    pub recorder: String,
}

/// A redemption of points the till recorded without a connection, against the balance it
/// last synced for the customer.
#[derive(Debug, Clone)]
pub struct OfflineRedemption {
    /// The customer's card number.
    pub card: String,
    /// The points to redeem.
    pub points: i64,
    /// The idempotency key made on the device when it was recorded.
    pub key: String,
    /// When the device recorded it (RFC 3339).
    pub recorded_at: String,
    /// The till that sends it.
    pub device: Uuid,
    /// The recorder token the till held when it was recorded.
    pub recorder: String,
}

/// A recorder token for the person signed in on the till `device` (staff), which the
/// till keeps with each purchase it records offline; valid for
/// [`recorder::LIFETIME`]. A person whose role comes from their groups but who has no
/// member row here yet (one is written at sign-in through the identity provider and
/// when an admin adds staff) gets one now, as the sign-in would have made it; `subject`
/// is the person's identity subject. API tokens get none: they are not people.
pub async fn recorder_token(
    ctx: &Ctx<'_>,
    subject: Option<&str>,
    device: Uuid,
) -> Result<String, Error> {
    ctx.require(STAFF, "record purchases offline")?;
    let member = match (ctx.actor.member_id, subject) {
        (Some(id), _) => id,
        (None, Some(subject)) => {
            let row = NewMember {
                identity_subject: subject.to_owned(),
                role: ctx.role,
                email: None,
                name: Some(ctx.actor.label.clone()),
                created_by: None,
            };
            ctx.store
                .upsert_member(ctx.org.id, &row, ctx.clock.now())
                .await?
                .id
        }
        (None, None) => {
            return Err(Error::Forbidden(
                "only a person signed in records purchases offline".into(),
            ));
        }
    };
    let secret = ctx.store.till_recorder_secret().await?;
    recorder::issue(
        secret.as_bytes(),
        ctx.org.id,
        member,
        &ctx.actor.label,
        device,
        ctx.clock.now(),
    )
    .ok_or_else(|| Error::Unavailable("the till's recorder secret is empty".into()))
}

/// The most tills the admin's list shows.
pub const TILLS_SHOWN: u32 = 50;

/// Records a purchase the till made offline, as the till's award does, with the key the
/// device made: a second send of the same purchase answers the first result. The
/// customer is found by card number; an unknown card is `customer.not_found`. An amount
/// above the shop's usual purchases is refused (`purchase.unusual_amount`): nobody
/// confirmed it, so the cashier records it again at the till.
///
/// `ctx` is the person signed in on the till that sends it (staff of this
/// organization). The purchase is recorded as the person its recorder token names
/// (the ledger's actor, the till's row for the admin), with the sender in its metadata:
/// a token that is forged, older than [`recorder::LIFETIME`], or of another
/// organization or till is `till.recorder_refused`; a recorder who is no longer active
/// staff here (deactivated) is `till.recorder_inactive`.
///
/// Each answer is counted for the admin's list of tills ([`devices`]): a purchase that
/// landed (once, not its second send) or a refusal with its code.
pub async fn record_offline(
    ctx: &Ctx<'_>,
    p: &OfflinePurchase,
) -> Result<(Customer, CheckedAward), Error> {
    ctx.require(STAFF, "record purchases")?;
    let (as_recorder, who) = match recorder_ctx(ctx, p.device, &p.recorder).await {
        Ok(found) => found,
        Err((e, who)) => return counted(ctx, p.device, &who, false, Err(e), |_| false).await,
    };
    let result = record(&as_recorder, p, &ctx.actor.label).await;
    counted(ctx, p.device, &who, false, result, |(_, a)| {
        a.outcome.replayed
    })
    .await
}

/// Redeems points the till took offline for a customer, with the key the device made, as
/// the person its recorder token names (checked as for [`record_offline`]), through the
/// same guarded redemption as at the till: it is refused with `points.insufficient`
/// when the balance no longer covers it (never below zero), and with
/// `till.offline_redeem_refused` when the shop does not allow redemptions offline (its
/// limit is 0) or the points are above its daily limit. Counted for the admin's list of
/// tills like a purchase.
pub async fn redeem_offline(
    ctx: &Ctx<'_>,
    r: &OfflineRedemption,
) -> Result<(Customer, PointsOutcome), Error> {
    ctx.require(STAFF, "redeem points")?;
    let (as_recorder, who) = match recorder_ctx(ctx, r.device, &r.recorder).await {
        Ok(found) => found,
        Err((e, who)) => return counted(ctx, r.device, &who, true, Err(e), |_| false).await,
    };
    let result = redeem(&as_recorder, r).await;
    counted(ctx, r.device, &who, true, result, |(_, o)| o.replayed).await
}

async fn redeem(ctx: &Ctx<'_>, r: &OfflineRedemption) -> Result<(Customer, PointsOutcome), Error> {
    let card = checked_item(&r.card, &r.key, &r.recorded_at)?.0;
    let limit = ctx.org.offline_redeem_limit;
    if limit == 0 {
        return Err(Error::Conflict(
            ErrorCode::TillOfflineRedeemRefused,
            "this shop does not allow redemptions offline; redeem at the till with the connection"
                .into(),
        ));
    }
    if r.points < 1 {
        return Err(Error::field("points", "redeem 1 point or more"));
    }
    if r.points > limit {
        return Err(Error::Conflict(
            ErrorCode::TillOfflineRedeemRefused,
            format!(
                "{} points are above this shop's offline limit of {limit} points a day; redeem at the till with the connection",
                r.points
            ),
        ));
    }
    let customer = customers::lookup(ctx, card).await?;
    let req = RedeemRequest {
        customer: customer.id,
        reward: None,
        points: Some(r.points),
    };
    let outcome = points::redeem(ctx, req, &r.key).await?;
    Ok((customer, outcome))
}

/// The context to record a queued item with: the person its recorder token names, when
/// the token is valid here (this organization, this till, not expired) and that person
/// is still active staff here, with that person's name for the till's row. Refused:
/// the error and the name to count it under (the sender's for a bad token).
async fn recorder_ctx<'a>(
    ctx: &Ctx<'a>,
    device: Uuid,
    token: &str,
) -> Result<(Ctx<'a>, String), (Error, String)> {
    let sender = || ctx.actor.label.clone();
    let secret = ctx
        .store
        .till_recorder_secret()
        .await
        .map_err(|e| (Error::from(e), sender()))?;
    let claims = recorder::verify(
        secret.as_bytes(),
        token,
        ctx.org.id,
        device,
        ctx.clock.now(),
    )
    .map_err(|why| {
        let e = Error::Conflict(
            ErrorCode::TillRecorderRefused,
            format!(
                "the recorder token is not accepted: {}; record it again at the till",
                why.describe()
            ),
        );
        (e, sender())
    })?;
    match active_recorder(ctx, &claims).await {
        Ok(Some((actor, role))) => Ok((
            Ctx {
                store: ctx.store,
                clock: ctx.clock,
                org: ctx.org,
                actor,
                role,
            },
            claims.label,
        )),
        Ok(None) => Err((
            Error::Conflict(
                ErrorCode::TillRecorderInactive,
                format!(
                    "{} recorded this and is no longer an active cashier or admin here; it is not recorded",
                    claims.label
                ),
            ),
            claims.label,
        )),
        Err(e) => Err((e, claims.label)),
    }
}

/// The recorder of a token as the ledger's actor, when their member row here is still an
/// active cashier or admin, with that role; `None` once deactivated (or gone).
async fn active_recorder(ctx: &Ctx<'_>, claims: &Recorder) -> Result<Option<(Actor, Role)>, Error> {
    for role in [Role::Admin, Role::Cashier] {
        let members = ctx.store.list_members(ctx.org.id, Some(role)).await?;
        if let Some(m) = members.into_iter().find(|m| m.id == claims.member) {
            if m.status != "active" {
                return Ok(None);
            }
            let actor = Actor {
                member_id: Some(m.id),
                label: claims.label.clone(),
                role: m.role.as_str().into(),
                request_id: ctx.actor.request_id.clone(),
            };
            return Ok(Some((actor, m.role)));
        }
    }
    Ok(None)
}

/// Counts one send for the till's row of `cashier` (landed, or refused with its code),
/// except a second send of a recorded item (`replayed`) and the server's own failures
/// (the till sends those again later), and passes the result on.
async fn counted<T>(
    ctx: &Ctx<'_>,
    device: Uuid,
    cashier: &str,
    redemption: bool,
    result: Result<T, Error>,
    replayed: impl Fn(&T) -> bool,
) -> Result<T, Error> {
    let refused = match &result {
        Ok(done) if replayed(done) => return result,
        Ok(_) => None,
        Err(e) if e.code().status() >= 500 => return result,
        Err(e) => Some(e.code().as_str().to_owned()),
    };
    let sync = TillSync {
        device,
        cashier: cashier.to_owned(),
        at: ctx.clock.now(),
        refused,
        redemption,
    };
    ctx.store.record_till_sync(ctx.org.id, &sync).await?;
    result
}

/// The card, key and time of a queued item, checked: the card number trimmed, the time
/// parsed.
fn checked_item<'p>(
    card: &'p str,
    key: &str,
    recorded_at: &str,
) -> Result<(&'p str, time::OffsetDateTime), Error> {
    let card = card.trim();
    if !is_card_number(card) {
        return Err(Error::Validation(vec![FieldError::new(
            "card",
            format!("{card:?} is not a card number; type the 12 digits on the member card"),
        )]));
    }
    if Uuid::parse_str(key).is_err() {
        return Err(Error::Validation(vec![FieldError::new(
            "key",
            "the key is not a UUID; record it again",
        )]));
    }
    let at =
        time::OffsetDateTime::parse(recorded_at, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                Error::Validation(vec![FieldError::new(
                    "recorded_at",
                    "write when it was recorded as RFC 3339 (2026-12-05T14:30:00Z)",
                )])
            })?;
    Ok((card, at))
}

async fn record(
    ctx: &Ctx<'_>,
    p: &OfflinePurchase,
    sent_by: &str,
) -> Result<(Customer, CheckedAward), Error> {
    let (card, recorded_at) = checked_item(&p.card, &p.key, &p.recorded_at)?;
    let amount = points::parse_amount(ctx, &p.amount)?;
    let customer = customers::lookup(ctx, card).await?;
    let req = AwardRequest {
        customer: customer.id,
        amount,
        currency: None,
        metadata: serde_json::json!({
            "channel": "till-offline",
            "sent_by": sent_by,
            "recorded_at": recorded_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }),
    };
    let award = bound::award_checked(ctx, req, &p.key, false).await?;
    Ok((customer, award))
}

/// Counts, for the admin, a send refused because the person signed in on the till may no
/// longer act in the organization (a deactivated cashier): the purchase is not recorded,
/// and the till keeps it. Only a person who is or was a member of this organization is
/// counted, so nobody else can write to its list.
pub async fn refused_person(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
    subject: &str,
    label: &str,
    device: Uuid,
) -> Result<(), Error> {
    if store.member_by_subject(org.id, subject).await?.is_none() {
        return Ok(());
    }
    let sync = TillSync {
        device,
        cashier: label.to_owned(),
        at: clock.now(),
        refused: Some(crate::ErrorCode::AuthForbidden.as_str().to_owned()),
        redemption: false,
    };
    Ok(store.record_till_sync(org.id, &sync).await?)
}

/// The organization's tills with what they sent of the purchases recorded offline, the
/// most recently sending first (admins).
pub async fn devices(ctx: &Ctx<'_>) -> Result<Vec<TillDevice>, Error> {
    ctx.require(ADMIN, "see the tills")?;
    Ok(ctx.store.till_devices(ctx.org.id, TILLS_SHOWN).await?)
}
