//! The program's daily work and a customer's tier standing: the tier recalculation
//! (every customer of an organization read in one pass, [`tier::decide`] for each, the
//! changes written in one transaction), the birthday bonus, and the progress to the
//! next tier ("40 points to Gold"), computed, never stored.

use super::context::{Ctx, STAFF};
use super::points::run;
use crate::Error;
use crate::clock::Clock;
use crate::domain::ledger::{Actor, PointsCommand};
use crate::domain::program::tier::{self, months_before};
use crate::domain::program::{TierProgress, local_time};
use crate::domain::{CustomerId, Organization, Role};
use crate::store::{Store, TierPass};
use std::time::Instant;

/// What one recalculation did in an organization.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TierReport {
    /// The organization's slug.
    pub org: String,
    /// Customers looked at (those holding a tier or with anything in the window).
    pub customers: usize,
    /// Moves up.
    pub up: u64,
    /// Moves down.
    pub down: u64,
    /// Grace periods started or ended (no move).
    pub grace_changes: u64,
    /// Entry bonus points given.
    pub bonus_points: i64,
    /// How long reading every customer took, in milliseconds.
    pub read_millis: u128,
    /// How long the whole pass took, in milliseconds.
    pub millis: u128,
}

/// Changed customers written per transaction by [`recalculate`]: each batch commits its
/// customers' tier rows, moves, entry bonuses and an audit record together, so a pass
/// stopped half-way left whole customers behind (the next pass finds them in their new
/// tier and gives nothing twice), and on SQLite other writes wait for one batch, not
/// for the whole pass.
pub const TIER_BATCH: usize = 5_000;

/// Recalculates the tiers of an organization's customers at the clock's now; nothing
/// when the program never had tiers. The changes are written in batches of
/// [`TIER_BATCH`] customers, one transaction (and one `tiers.recalculate` audit record)
/// each. Counted on `/metrics` as `loyalty_tier_moves_total{org, direction}`.
pub async fn recalculate(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
) -> Result<TierReport, Error> {
    let started = Instant::now();
    let mut report = TierReport {
        org: org.slug.to_string(),
        ..TierReport::default()
    };
    let program = &org.program;
    if program.tiers.is_empty() {
        return Ok(report);
    }
    let now = clock.now();
    let since = months_before(now, program.tier_rules.window_months);
    let candidates = store
        .tier_candidates(org.id, program.tier_rules.basis, since, None)
        .await?;
    report.customers = candidates.len();
    report.read_millis = started.elapsed().as_millis();
    let mut batches: Vec<TierPass> = Vec::new();
    for c in &candidates {
        if let Some(change) = tier::decide(program, c, now) {
            if batches.last().is_none_or(|b| b.changes.len() >= TIER_BATCH) {
                batches.push(TierPass::default());
            }
            let Some(pass) = batches.last_mut() else {
                continue;
            };
            match (change.is_move(), change.is_up(program)) {
                (true, true) => pass.up += 1,
                (true, false) => pass.down += 1,
                (false, _) => report.grace_changes += 1,
            }
            if change.is_move() && change.to.is_some() {
                report.bonus_points += change.bonus;
            }
            pass.changes.push(change);
        }
    }
    let slug = org.slug.as_str().to_owned();
    for pass in &batches {
        store
            .apply_tier_changes(org.id, pass, &Actor::system(), now)
            .await?;
        report.up += pass.up;
        report.down += pass.down;
        metrics::counter!("loyalty_tier_moves_total", "org" => slug.clone(), "direction" => "up")
            .increment(pass.up);
        metrics::counter!("loyalty_tier_moves_total", "org" => slug.clone(), "direction" => "down")
            .increment(pass.down);
    }
    report.millis = started.elapsed().as_millis();
    Ok(report)
}

/// A customer's tier and progress to the next one (staff); `CustomerNotFound` for an id
/// that is no customer of the organization.
pub async fn progress(ctx: &Ctx<'_>, customer: CustomerId) -> Result<TierProgress, Error> {
    ctx.require(STAFF, "read a customer's tier")?;
    super::customers::customer(ctx, customer).await?;
    standing(ctx, customer).await
}

/// The signed-in customer's own tier and progress (the portal).
pub async fn own_progress(ctx: &Ctx<'_>, subject: Option<&str>) -> Result<TierProgress, Error> {
    let me = super::customers::own(ctx, subject).await?;
    standing(ctx, me.id).await
}

async fn standing(ctx: &Ctx<'_>, customer: CustomerId) -> Result<TierProgress, Error> {
    let program = &ctx.org.program;
    let since = months_before(ctx.clock.now(), program.tier_rules.window_months);
    let found = ctx
        .store
        .tier_candidates(ctx.org.id, program.tier_rules.basis, since, Some(customer))
        .await?;
    let (tier, value, below_since) = found
        .first()
        .map(|c| (c.tier, c.value, c.below_since))
        .unwrap_or((None, rust_decimal::Decimal::ZERO, None));
    Ok(TierProgress::of(
        program,
        tier,
        value,
        below_since,
        ctx.clock.now(),
    ))
}

/// Days back the birthday bonus looks: a birthday on a day the job did not run is
/// given on a later run within this many days.
pub const BIRTHDAY_CATCH_UP_DAYS: i64 = 6;

/// Gives the birthday bonus to the organization's customers whose birthday (their
/// `birth_date`, in the organization's time zone) is today or in the last
/// [`BIRTHDAY_CATCH_UP_DAYS`] days, once per customer and year: each grant is a points
/// command under the key `bonus-birthday-{customer}-{year}`, and customers whose ledger
/// holds that key already are not asked again. A birthday on 29 February is kept on 28
/// February in other years. Returns how many customers got it.
pub async fn birthday_bonuses(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
) -> Result<u64, Error> {
    let points = org.program.bonuses.birthday_points;
    if points <= 0 {
        return Ok(0);
    }
    let today = local_time(clock.now(), &org.timezone).date();
    let ctx = Ctx {
        store,
        clock,
        org,
        actor: Actor::system(),
        role: Role::Admin,
    };
    let mut given = 0;
    for back in (0..=BIRTHDAY_CATCH_UP_DAYS).rev() {
        let Some(day) = today.checked_sub(time::Duration::days(back)) else {
            continue;
        };
        let mut dates = vec![(u8::from(day.month()), day.day())];
        if day.month() == time::Month::February
            && day.day() == 28
            && !time::util::is_leap_year(day.year())
        {
            dates.push((2, 29));
        }
        let suffix = format!("-{}", day.year());
        for (month, d) in dates {
            for customer in store
                .birthday_customers(org.id, month, d, "bonus-birthday-", &suffix)
                .await?
            {
                let cmd = PointsCommand::Bonus {
                    customer,
                    kind: "birthday".to_owned(),
                    points,
                };
                let out = run(&ctx, &cmd, &format!("bonus-birthday-{customer}{suffix}")).await?;
                if !out.replayed {
                    given += 1;
                }
            }
        }
    }
    if given > 0 {
        metrics::counter!("loyalty_birthday_bonuses_total", "org" => org.slug.as_str().to_owned())
            .increment(given);
    }
    Ok(given)
}
