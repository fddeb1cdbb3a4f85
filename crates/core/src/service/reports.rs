//! Reports of an organization for its admins: the dashboard's totals (today and the
//! last 30 days, counted in the organization's time zone). The exports are in
//! `exports/`.

use crate::Error;
use crate::domain::TimeZoneName;
use crate::service::context::require_admin;
use crate::service::points::{Ctx, day_start};
use crate::store::{ActivityTotals, BalanceTotals, HeavyEarner};
use time::OffsetDateTime;

/// The admin dashboard's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dashboard {
    /// Since midnight today, in the organization's time zone.
    pub today: ActivityTotals,
    /// The last 30 days, today included.
    pub last_30_days: ActivityTotals,
    /// Customers and outstanding points now.
    pub balances: BalanceTotals,
    /// Points per customer per day above which a customer is flagged (the
    /// organization's `daily_points_flag`, else `bound::DEFAULT_DAILY_POINTS`).
    pub daily_points_flag: i64,
    /// Customers who earned more than that today, most first (at most 50).
    pub flagged_today: Vec<HeavyEarner>,
    /// Customers per tier, lowest first, those without a tier first (an empty name);
    /// empty when the program has no tiers.
    pub tiers: Vec<(String, i64)>,
}

/// The local calendar date of `now` in an IANA time zone (UTC when unknown).
pub fn local_date(now: OffsetDateTime, tz: &TimeZoneName) -> time::Date {
    let zone = tz.zone();
    jiff::Timestamp::from_second(now.unix_timestamp())
        .ok()
        .map(|t| t.to_zoned_datetime(zone).date())
        .and_then(|d| {
            let month = time::Month::try_from(u8::try_from(d.month()).ok()?).ok()?;
            time::Date::from_calendar_date(i32::from(d.year()), month, u8::try_from(d.day()).ok()?)
                .ok()
        })
        .unwrap_or_else(|| now.date())
}

/// One local day of the trend charts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrendDay {
    /// The day, in the organization's time zone.
    pub date: time::Date,
    /// Points earned by purchases.
    pub issued: i64,
    /// Points spent.
    pub redeemed: i64,
    /// Customers enrolled.
    pub new_customers: i64,
    /// Customers who earned or redeemed points.
    pub active_customers: i64,
}

/// The dashboard's trends over the last `days` days (today included).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trends {
    /// Oldest day first.
    pub days: Vec<TrendDay>,
    /// Redemptions by reward in the whole period, most first (at most ten).
    pub rewards: Vec<crate::store::RewardTotal>,
}

/// The periods the charts offer.
pub const TREND_PERIODS: [u16; 2] = [30, 90];

/// Points issued and redeemed, new and active customers per local day over the last
/// `days` days (30 or 90), and redemptions by reward (admins only).
pub async fn trends(ctx: &Ctx<'_>, days: u16) -> Result<Trends, Error> {
    require_admin(ctx, "read reports")?;
    org_trends(ctx.store, ctx.clock, ctx.org, days).await
}

/// The trends of one organization, for a caller already allowed to read them (the
/// operator console, after its operator check).
pub async fn org_trends(
    store: &dyn crate::store::Store,
    clock: &dyn crate::clock::Clock,
    organization: &crate::domain::Organization,
    days: u16,
) -> Result<Trends, Error> {
    let days = if TREND_PERIODS.contains(&days) {
        days
    } else {
        30
    };
    let tz = &organization.timezone;
    let org = organization.id;
    let today = local_date(clock.now(), tz);
    let first = today - time::Duration::days(i64::from(days) - 1);
    // Each local midnight from the first day to the end of today: one grouped read of
    // the ledger and one of enrolments, whatever the number of days.
    let mut dates = Vec::with_capacity(usize::from(days));
    let mut date = first;
    while date <= today {
        dates.push(date);
        match date.next_day() {
            Some(next) => date = next,
            None => break,
        }
    }
    let bounds: Vec<OffsetDateTime> = dates
        .iter()
        .map(|d| day_start(*d, tz))
        .chain(std::iter::once(day_start(
            today.next_day().unwrap_or(today),
            tz,
        )))
        .collect();
    let activity = store.daily_activity(org, &bounds).await?;
    let out = dates
        .iter()
        .zip(activity)
        .map(|(date, a)| TrendDay {
            date: *date,
            issued: a.issued,
            redeemed: a.redeemed,
            new_customers: a.new_customers,
            active_customers: a.active_customers,
        })
        .collect();
    let end = day_start(today.next_day().unwrap_or(today), tz);
    let summary = store
        .period_summary(org, day_start(first, tz), end, 10)
        .await?;
    Ok(Trends {
        days: out,
        rewards: summary.top_rewards,
    })
}

/// Computes the dashboard.
pub async fn dashboard(ctx: &Ctx<'_>) -> Result<Dashboard, Error> {
    require_admin(ctx, "read reports")?;
    let now = ctx.clock.now();
    let tz = &ctx.org.timezone;
    let today = local_date(now, tz);
    let start = day_start(today, tz);
    let end = day_start(today.next_day().unwrap_or(today), tz);
    let month_start = day_start(today - time::Duration::days(29), tz);
    let org = ctx.org.id;
    let flag = ctx
        .org
        .daily_points_flag
        .unwrap_or(crate::service::bound::DEFAULT_DAILY_POINTS);
    Ok(Dashboard {
        today: ctx.store.activity_totals(org, start, end).await?,
        last_30_days: ctx.store.activity_totals(org, month_start, end).await?,
        balances: ctx.store.balance_totals(org).await?,
        daily_points_flag: flag,
        flagged_today: ctx.store.heavy_earners(org, start, end, flag, 50).await?,
        tiers: tier_distribution(ctx).await?,
    })
}

/// Customers per tier for the dashboard: no tier first, then the tiers by threshold
/// (ended ones that still have holders after the running ones).
async fn tier_distribution(ctx: &Ctx<'_>) -> Result<Vec<(String, i64)>, Error> {
    let program = &ctx.org.program;
    if program.tiers.is_empty() {
        return Ok(Vec::new());
    }
    let counts = ctx.store.tier_distribution(ctx.org.id).await?;
    let count = |id: Option<uuid::Uuid>| {
        counts
            .iter()
            .filter(|(t, _)| *t == id)
            .map(|(_, n)| *n)
            .sum::<i64>()
    };
    let mut out = vec![(String::new(), count(None))];
    let mut tiers: Vec<_> = program.tiers.iter().collect();
    tiers.sort_by_key(|t| (t.ended, t.threshold));
    for t in tiers {
        let n = count(Some(t.id));
        if !t.ended || n > 0 {
            out.push((t.name.clone(), n));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_follow_the_time_zone() {
        let t = time::macros::datetime!(2025-01-23 03:00 UTC);
        assert_eq!(
            local_date(t, &TimeZoneName::parse("America/New_York").expect("zone")),
            time::macros::date!(2025 - 01 - 22)
        );
        assert_eq!(
            local_date(t, &TimeZoneName::utc()),
            time::macros::date!(2025 - 01 - 23)
        );
    }
}
