//! Reports of an organization for its admins: the dashboard's totals (today and the
//! last 30 days, counted in the organization's time zone) and CSV exports of balances,
//! the ledger and purchases.

use crate::Error;
use crate::domain::TimeZoneName;
use crate::service::context::require_admin;
use crate::service::points::{Ctx, day_start};
use crate::store::{ActivityTotals, BalanceTotals, HeavyEarner};
use std::fmt::Write as _;
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
    })
}

/// Which CSV to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// One row per customer with their balance.
    Balances,
    /// Every ledger entry, oldest first.
    Ledger,
    /// Every purchase, newest first.
    Purchases,
}

impl Export {
    /// Parses `balances`, `ledger` or `purchases`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "balances" => Some(Export::Balances),
            "ledger" => Some(Export::Ledger),
            "purchases" => Some(Export::Purchases),
            _ => None,
        }
    }

    /// The name used in URLs and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Export::Balances => "balances",
            Export::Ledger => "ledger",
            Export::Purchases => "purchases",
        }
    }
}

/// One CSV field, quoted when it holds the separator, a quote or a line end; a leading
/// `= + - @` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn field(out: &mut String, v: &str, sep: char) {
    let v = if v.starts_with(['=', '+', '-', '@']) && v.parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([sep, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

/// One CSV row with `sep` between fields and a CRLF line end (RFC 4180).
pub(crate) fn row_with(out: &mut String, fields: &[&str], sep: char) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        field(out, f, sep);
    }
    out.push_str("\r\n");
}

fn row(out: &mut String, fields: &[&str]) {
    row_with(out, fields, ',');
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

const PAGE: u32 = 500;

/// The whole export as CSV text (RFC 4180, CRLF line ends, a header row).
pub async fn export_csv(ctx: &Ctx<'_>, what: Export) -> Result<String, Error> {
    require_admin(ctx, "export data")?;
    let store = ctx.store;
    let org = ctx.org.id;
    let mut out = String::new();
    match what {
        Export::Balances => {
            row(
                &mut out,
                &[
                    "customer_id",
                    "card_number",
                    "name",
                    "email",
                    "phone",
                    "status",
                    "balance",
                    "enrolled_at",
                ],
            );
            let mut after = None;
            loop {
                let page = store.list_customers(org, after, PAGE).await?;
                for c in &page {
                    row(
                        &mut out,
                        &[
                            &c.id.to_string(),
                            &c.card_number,
                            c.name.as_deref().unwrap_or(""),
                            c.email.as_deref().unwrap_or(""),
                            c.phone.as_deref().unwrap_or(""),
                            &c.status,
                            &c.balance.to_string(),
                            &rfc3339(c.created_at),
                        ],
                    );
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => after = Some(last.id),
                    _ => break,
                }
            }
        }
        Export::Ledger => {
            row(
                &mut out,
                &[
                    "entry_id",
                    "customer_id",
                    "type",
                    "points",
                    "balance_after",
                    "reference_type",
                    "reference_id",
                    "notes",
                    "created_at",
                ],
            );
            let mut after = None;
            loop {
                let page = store.ledger(org, None, None, None, after, PAGE).await?;
                for e in &page {
                    row(
                        &mut out,
                        &[
                            &e.id.to_string(),
                            &e.customer_id.to_string(),
                            e.transaction_type.as_str(),
                            &e.points.to_string(),
                            &e.balance_after.to_string(),
                            e.reference_type.as_deref().unwrap_or(""),
                            &e.reference_id.map(|r| r.to_string()).unwrap_or_default(),
                            e.notes.as_deref().unwrap_or(""),
                            &rfc3339(e.created_at),
                        ],
                    );
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => {
                        after = Some((last.created_at, last.id))
                    }
                    _ => break,
                }
            }
        }
        Export::Purchases => {
            row(
                &mut out,
                &[
                    "purchase_id",
                    "customer_id",
                    "cashier_id",
                    "amount",
                    "currency",
                    "points_awarded",
                    "reversed_amount",
                    "points_reversed",
                    "created_at",
                ],
            );
            let mut before = None;
            loop {
                let page = store.list_purchases(org, None, None, before, PAGE).await?;
                for p in &page {
                    let mut amount = String::new();
                    let _ = write!(amount, "{}", p.amount);
                    row(
                        &mut out,
                        &[
                            &p.id.to_string(),
                            &p.customer_id.to_string(),
                            &p.cashier_id.map(|c| c.to_string()).unwrap_or_default(),
                            &amount,
                            &p.currency,
                            &p.points_awarded.to_string(),
                            &p.reversed_amount.to_string(),
                            &p.points_reversed.to_string(),
                            &rfc3339(p.created_at),
                        ],
                    );
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => {
                        before = Some((last.created_at, last.id))
                    }
                    _ => break,
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        row(&mut out, &["a,b", "say \"hi\"", "=SUM(A1)", "-5", "plain"]);
        assert_eq!(out, "\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),-5,plain\r\n");
    }

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
