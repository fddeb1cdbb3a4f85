//! The organization's points settings: earning rule, minimum purchase, expiry policy and
//! whether the public join page is open (admins).

use super::context::{ADMIN, Ctx};
use crate::Error;
use crate::domain::points::EarningRule;
use crate::error::FieldError;
use crate::store::PointsSettings;
use rust_decimal::Decimal;

/// The till's sanity limits (`service::bound`), as given by an admin.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// The largest usual purchase, a plain decimal string; `None` derives it.
    pub purchase_bound: Option<String>,
    /// Points per customer per day above which the dashboard flags the customer;
    /// `None` for the default.
    pub daily_points_flag: Option<i64>,
}

/// Checks and stores the points settings, keeping the till's limits as they are.
pub async fn update_settings(
    ctx: &Ctx<'_>,
    points_per_unit: &str,
    min_purchase: &str,
    expiry_days: Option<i64>,
    join_enabled: bool,
) -> Result<PointsSettings, Error> {
    let limits = Limits {
        purchase_bound: ctx.org.purchase_bound.map(|d| d.to_string()),
        daily_points_flag: ctx.org.daily_points_flag,
    };
    update_settings_with_limits(
        ctx,
        points_per_unit,
        min_purchase,
        expiry_days,
        join_enabled,
        &limits,
    )
    .await
}

/// Checks and stores the points settings and the till's limits.
pub async fn update_settings_with_limits(
    ctx: &Ctx<'_>,
    points_per_unit: &str,
    min_purchase: &str,
    expiry_days: Option<i64>,
    join_enabled: bool,
    limits: &Limits,
) -> Result<PointsSettings, Error> {
    ctx.require(ADMIN, "change settings")?;
    let mut errors = Vec::new();
    let bound = match limits.purchase_bound.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(b) => {
            let d = b
                .parse::<Decimal>()
                .ok()
                .filter(|d| *d > Decimal::ZERO && d.scale() <= 2 && *d <= Decimal::from(1_000_000));
            if d.is_none() {
                errors.push(FieldError::new(
                    "purchase_bound",
                    "must be an amount above 0 with at most 2 decimals, up to 1000000, or empty for the derived bound",
                ));
            }
            d
        }
    };
    let daily = match limits.daily_points_flag {
        Some(p) if !(1..=crate::domain::points::MAX_POINTS).contains(&p) => {
            errors.push(FieldError::new(
                "daily_points_flag",
                format!(
                    "must be a whole number of points from 1 to {}, or empty for the default",
                    crate::domain::points::MAX_POINTS
                ),
            ));
            None
        }
        p => p,
    };
    let rate = points_per_unit
        .trim()
        .parse::<Decimal>()
        .ok()
        .filter(|d| *d >= Decimal::ZERO && *d <= Decimal::from(1000) && d.scale() <= 4);
    if rate.is_none() {
        errors.push(FieldError::new(
            "points_per_unit",
            "must be a number from 0 to 1000 with at most 4 decimals, such as 1 or 1.5",
        ));
    }
    let min = min_purchase
        .trim()
        .parse::<Decimal>()
        .ok()
        .filter(|d| *d >= Decimal::ZERO && d.scale() <= 2 && *d <= Decimal::from(1_000_000));
    if min.is_none() {
        errors.push(FieldError::new(
            "min_purchase",
            "must be an amount of 0 or more with at most 2 decimals",
        ));
    }
    let expiry = match expiry_days {
        Some(d) if !(1..=3650).contains(&d) => {
            errors.push(FieldError::new(
                "expiry_days",
                "must be from 1 to 3650 days, or absent for points that never expire",
            ));
            None
        }
        Some(d) => i32::try_from(d).ok(),
        None => None,
    };
    let (Some(points_per_unit), Some(min_purchase)) = (rate, min) else {
        return Err(Error::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let settings = PointsSettings {
        earning: EarningRule {
            points_per_unit,
            min_purchase,
        },
        expiry_days: expiry,
        join_enabled,
        purchase_bound: bound,
        daily_points_flag: daily,
    };
    ctx.store
        .update_points_settings(ctx.org.id, &settings, &ctx.actor, ctx.clock.now())
        .await?;
    Ok(settings)
}
