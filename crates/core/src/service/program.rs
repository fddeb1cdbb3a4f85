//! The loyalty program's use cases: reading it, changing it (a new version per change),
//! previewing what a purchase would earn, a customer's stamp cards, and exchanging a
//! full card for its reward. The rules themselves are `domain::program`.

use super::context::{ADMIN, Ctx, STAFF};
use super::points::{run, start_of_day};
use crate::Error;
use crate::domain::Organization;
use crate::domain::ledger::{LedgerEntry, PointsCommand, PointsOutcome, TxType};
use crate::domain::points::Amount;
use crate::domain::program::{
    AwardProgram, CustomerState, Grant, Program, ProgramInput, PurchaseFacts, RuleId, engine,
    local_time,
};
use crate::domain::{CustomerId, Language, LedgerEntryId, PurchaseId};
use crate::error::ErrorCode;
use crate::store::new_id;
use std::collections::HashMap;
use time::OffsetDateTime;

/// What the award path hands the ledger for a purchase of `amount` at `now`: `None` when
/// the program has no running stamp card or promotion, so a plain shop's award reads
/// nothing more than before.
pub fn award_program(
    org: &Organization,
    amount: Amount,
    now: OffsetDateTime,
) -> Option<Box<AwardProgram>> {
    if org.program.is_plain() {
        return None;
    }
    Some(Box::new(AwardProgram {
        earning: org.earning,
        program: org.program.clone(),
        facts: PurchaseFacts {
            amount,
            local_time: local_time(now, &org.timezone),
        },
        day_start: start_of_day(now, &org.timezone),
    }))
}

/// The organization's program at its current version (staff).
pub fn current(ctx: &Ctx<'_>) -> Result<Program, Error> {
    ctx.require(STAFF, "read the loyalty program")?;
    Ok(ctx.org.program.clone())
}

/// A version of the program, past or current (staff): what a purchase of that version
/// was computed with.
pub async fn version(ctx: &Ctx<'_>, version: i64) -> Result<Program, Error> {
    ctx.require(STAFF, "read the loyalty program")?;
    if version == ctx.org.program.version {
        return Ok(ctx.org.program.clone());
    }
    ctx.store
        .program_version(ctx.org.id, version)
        .await?
        .ok_or_else(|| {
            Error::NotFound(
                ErrorCode::ProgramVersionNotFound,
                format!("version {version} of the program"),
            )
        })
}

/// Adds a stamp card or a promotion, or ends one (admins): the program's next version.
pub async fn change(ctx: &Ctx<'_>, input: ProgramInput) -> Result<Program, Error> {
    ctx.require(ADMIN, "change the loyalty program")?;
    let next = input
        .parse(&ctx.org.program, new_id())
        .map_err(Error::Validation)?;
    if !ctx
        .store
        .save_program(ctx.org.id, &next, &ctx.actor, ctx.clock.now())
        .await?
    {
        return Err(Error::Conflict(
            ErrorCode::ProgramChanged,
            format!(
                "the program is no longer at version {}; read it again",
                ctx.org.program.version
            ),
        ));
    }
    Ok(next)
}

/// What a purchase would earn: the grants and how the till says them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    /// Program version used.
    pub program_version: i64,
    /// Each rule's part.
    pub grants: Vec<Grant>,
    /// Points in all.
    pub points: i64,
    /// `25 base + 25 Tuesday double + 1 stamp Coffee card (7/10)`, in English.
    pub summary: String,
}

/// What a purchase of `amount` at `at` (now when absent) would earn (staff): for a
/// customer, with their stamps, promotion uses and tier; without one, as a new
/// customer. `as_tier` puts the customer in that tier instead of their own (the
/// calculator's "by a Gold member"). Nothing is written: the till shows it before the
/// cashier confirms, the admin's calculator to try a program.
pub async fn preview(
    ctx: &Ctx<'_>,
    amount: Amount,
    customer: Option<CustomerId>,
    at: Option<OffsetDateTime>,
    as_tier: Option<RuleId>,
) -> Result<Preview, Error> {
    ctx.require(STAFF, "preview an award")?;
    let at = at.unwrap_or_else(|| ctx.clock.now());
    let tz = &ctx.org.timezone;
    let state = match customer {
        Some(c) if !ctx.org.program.is_plain() => {
            ctx.store
                .customer_program_state(ctx.org.id, c, start_of_day(at, tz))
                .await?
        }
        _ => CustomerState::default(),
    };
    let mut state = state;
    if let Some(tier) = as_tier {
        if ctx.org.program.tier(tier).is_none() {
            return Err(Error::Validation(vec![crate::FieldError::new(
                "tier_id",
                format!("{tier} is no tier of this program; read GET .../program for the tiers"),
            )]));
        }
        state.tier = Some(tier);
    }
    let facts = PurchaseFacts {
        amount,
        local_time: local_time(at, tz),
    };
    let grants = engine::evaluate(&ctx.org.earning, &ctx.org.program, &state, &facts);
    Ok(Preview {
        program_version: ctx.org.program.version,
        points: engine::total_points(&grants),
        summary: engine::describe_grants(&grants, Language::En),
        grants,
    })
}

/// A customer's standing on one stamp card.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardStanding {
    /// The card.
    pub card_id: uuid::Uuid,
    /// Its name.
    pub name: String,
    /// Stamps held.
    pub stamps: i64,
    /// Stamps that fill it.
    pub stamps_required: u32,
    /// What a full card gives.
    pub reward: String,
    /// Whether the card is full: the till offers the reward.
    pub full: bool,
    /// Whether the card still gives stamps.
    pub running: bool,
}

/// A customer's stamp cards: every running card, and ended ones they still hold stamps
/// on (staff).
pub async fn cards(ctx: &Ctx<'_>, customer: CustomerId) -> Result<Vec<CardStanding>, Error> {
    ctx.require(STAFF, "read stamp cards")?;
    standings(ctx, customer).await
}

/// The signed-in customer's own stamp cards (the portal).
pub async fn own_cards(ctx: &Ctx<'_>, subject: Option<&str>) -> Result<Vec<CardStanding>, Error> {
    let me = super::customers::own(ctx, subject).await?;
    standings(ctx, me.id).await
}

async fn standings(ctx: &Ctx<'_>, customer: CustomerId) -> Result<Vec<CardStanding>, Error> {
    if ctx.org.program.stamp_cards.is_empty() {
        return Ok(Vec::new());
    }
    let now = ctx.clock.now();
    let state = ctx
        .store
        .customer_program_state(ctx.org.id, customer, start_of_day(now, &ctx.org.timezone))
        .await?;
    Ok(ctx
        .org
        .program
        .stamp_cards
        .iter()
        .map(|c| {
            let stamps = state.stamps.get(&c.id).copied().unwrap_or(0);
            CardStanding {
                card_id: c.id,
                name: c.name.clone(),
                stamps,
                stamps_required: c.stamps_required,
                reward: c.reward.clone(),
                full: stamps >= i64::from(c.stamps_required),
                running: !c.ended,
            }
        })
        .filter(|c| c.running || c.stamps > 0)
        .collect())
}

/// Exchanges a customer's full stamp card for its reward (staff), under an idempotency
/// key like every points command.
pub async fn redeem_card(
    ctx: &Ctx<'_>,
    customer: CustomerId,
    card: RuleId,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "redeem a stamp card")?;
    let rule = ctx.org.program.card(card).cloned().map(Box::new);
    run(
        ctx,
        &PointsCommand::RedeemCard {
            customer,
            card,
            rule,
        },
        idempotency,
    )
    .await
}

/// Gives a customer who just enrolled the program's enrollment bonuses: `signup_points`,
/// and `contact_points` when they left an email address. Each is a points command under
/// an idempotency key made from the customer's id, so it is given at most once whatever
/// calls this again. Returns the customer with the balance after.
pub async fn enrollment_bonuses(
    ctx: &Ctx<'_>,
    mut customer: crate::domain::ledger::Customer,
) -> Result<crate::domain::ledger::Customer, Error> {
    let b = ctx.org.program.bonuses;
    let due = [
        ("signup", b.signup_points),
        (
            "contact",
            if customer.email.is_some() {
                b.contact_points
            } else {
                0
            },
        ),
    ];
    for (kind, points) in due.into_iter().filter(|(_, p)| *p > 0) {
        let cmd = PointsCommand::Bonus {
            customer: customer.id,
            kind: kind.to_owned(),
            points,
        };
        let out = run(ctx, &cmd, &format!("bonus-{kind}-{}", customer.id)).await?;
        customer.balance = out.balance;
    }
    Ok(customer)
}

/// The grants of the purchases that awards among `entries` recorded, by entry: an
/// award's `earned` entry names its purchase. Entries of other kinds and purchases
/// without grants (a plain program) are left out. One read for the whole page, for the
/// portal's history and the ledger export.
pub(crate) async fn award_grants(
    store: &dyn crate::store::Store,
    org: crate::domain::OrgId,
    entries: &[LedgerEntry],
) -> Result<HashMap<LedgerEntryId, Vec<Grant>>, crate::store::StoreError> {
    let awards: Vec<(LedgerEntryId, PurchaseId)> = entries
        .iter()
        .filter(|e| {
            e.transaction_type == TxType::Earned && e.reference_type.as_deref() == Some("purchase")
        })
        .filter_map(|e| e.reference_id.map(|r| (e.id, PurchaseId(r))))
        .collect();
    if awards.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<PurchaseId> = awards.iter().map(|(_, p)| *p).collect();
    let mut grants: HashMap<PurchaseId, Vec<Grant>> = store
        .purchase_grants(org, &ids)
        .await?
        .into_iter()
        .filter(|(_, g)| !g.is_empty())
        .collect();
    Ok(awards
        .into_iter()
        .filter_map(|(entry, purchase)| grants.remove(&purchase).map(|g| (entry, g)))
        .collect())
}
