//! The till and admin operations on points: enroll and find customers, award, redeem,
//! reverse, adjust, expire, rewards and settings. Input is parsed here; the ledger rules
//! run in one store transaction (see `ledger_tx`).

use crate::clock::Clock;
use crate::domain::ledger::{
    Actor, Customer, CustomerKey, IdempotencyKey, NewCustomer, PointsCommand, PointsError,
    PointsOutcome, Reward, RewardInput,
};
use crate::domain::points::{
    Amount, EarningRule, MAX_POINTS, is_card_number, new_card_number, normalize_phone,
};
use crate::domain::{CurrencyCode, Email, OrgStatus, Organization, Role};
use crate::error::{Error, ErrorCode, FieldError};
use crate::store::{Conflict, PointsSettings, Store, StoreError};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// Who is acting, in which organization, with which role.
pub struct Ctx<'a> {
    /// Storage.
    pub store: &'a dyn Store,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// The organization (must be active).
    pub org: &'a Organization,
    /// The actor.
    pub actor: Actor,
    /// The actor's role in the organization.
    pub role: Role,
}

impl Ctx<'_> {
    fn require(&self, allowed: &[Role], what: &str) -> Result<(), Error> {
        if self.org.status != OrgStatus::Active {
            return Err(Error::OrgSuspended(self.org.slug.clone()));
        }
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("a {} cannot {what}", self.role)))
        }
    }
}

const STAFF: &[Role] = &[Role::Admin, Role::Cashier];
const ADMIN: &[Role] = &[Role::Admin];

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

/// Input for enrolling a customer.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EnrollInput {
    /// Phone, in any common notation; read in the org's country without `+`.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
}

/// Enrolls a customer by phone, email or both, with a new card number.
pub async fn enroll(
    ctx: &Ctx<'_>,
    input: &EnrollInput,
    subject: Option<String>,
) -> Result<Customer, Error> {
    if subject.is_none() {
        ctx.require(STAFF, "enroll customers")?;
    }
    let mut errors = Vec::new();
    let phone = match input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(p) => normalize_phone(p, ctx.org.country.as_deref())
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    let email = match input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(e) => Email::parse(e)
            .map(|e| e.as_str().to_owned())
            .map_err(|e| errors.push(e))
            .ok(),
        None => None,
    };
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 255 || n.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "name",
            "must be at most 255 characters without line breaks",
        ));
    }
    if errors.is_empty() && phone.is_none() && email.is_none() {
        errors.push(FieldError::new(
            "phone",
            "give a phone number, an email address, or both",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    for _ in 0..5 {
        let new = NewCustomer {
            phone: phone.clone(),
            email: email.clone(),
            name: name.clone(),
            card_number: new_card_number(),
            identity_subject: subject.clone(),
            created_by: ctx.actor.member_id,
        };
        match ctx
            .store
            .enroll_customer(ctx.org.id, &new, &ctx.actor, ctx.clock.now())
            .await
        {
            Ok(c) => return Ok(c),
            // A fresh random card number taken by chance: draw another.
            Err(StoreError::Conflict(Conflict::CustomerCard)) => continue,
            Err(StoreError::Conflict(c)) => {
                let what = match c {
                    Conflict::CustomerPhone => "phone number",
                    Conflict::MemberSubject => "account",
                    _ => "email address",
                };
                return Err(Error::Conflict(
                    ErrorCode::CustomerExists,
                    format!(
                        "a customer with this {what} is already enrolled; look them up instead"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict(
        ErrorCode::CustomerCardCollision,
        "could not allocate a card number; try again".into(),
    ))
}

/// Finds a customer by phone, email or card number, told apart by their shape.
pub async fn lookup(ctx: &Ctx<'_>, query: &str) -> Result<Customer, Error> {
    ctx.require(STAFF, "look up customers")?;
    let q = query.trim();
    let key = if q.contains('@') {
        CustomerKey::Email(
            Email::parse(q)
                .map_err(|e| Error::Validation(vec![e.renamed("q")]))?
                .as_str()
                .to_owned(),
        )
    } else if is_card_number(q) {
        CustomerKey::Card(q.to_owned())
    } else {
        CustomerKey::Phone(
            normalize_phone(q, ctx.org.country.as_deref())
                .map_err(|e| Error::Validation(vec![e.renamed("q")]))?,
        )
    };
    ctx.store
        .find_customer(ctx.org.id, &key)
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))
}

/// A customer by id.
pub async fn customer(ctx: &Ctx<'_>, id: Uuid) -> Result<Customer, Error> {
    ctx.require(STAFF, "see customers")?;
    ctx.store
        .find_customer(ctx.org.id, &CustomerKey::Id(id))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))
}

/// Records a purchase and awards its points.
pub async fn award(
    ctx: &Ctx<'_>,
    customer: Uuid,
    amount: &str,
    currency: Option<&str>,
    metadata: serde_json::Value,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "record purchases")?;
    let org_currency =
        CurrencyCode::parse(&ctx.org.currency).map_err(|e| Error::Validation(vec![e]))?;
    let amount = Amount::parse(amount, org_currency.minor_digits())
        .map_err(|e| Error::Validation(vec![e]))?;
    if let Some(c) = currency
        .map(str::trim)
        .filter(|c| !c.eq_ignore_ascii_case(org_currency.as_str()))
    {
        return Err(Error::field(
            "currency",
            format!("{c:?} is not this organization's currency; amounts are in {org_currency}"),
        ));
    }
    if metadata.to_string().len() > 4096 {
        return Err(Error::field(
            "metadata",
            "is larger than 4 KiB; keep till details short",
        ));
    }
    let cmd = PointsCommand::Award {
        customer,
        amount: amount.value(),
        currency: org_currency.as_str().to_owned(),
        points: ctx.org.earning.points_for(amount),
        metadata,
        receipt: ctx.org.points_receipts,
    };
    run(ctx, &cmd, idempotency).await
}

/// Spends points on a reward or a plain number of points.
pub async fn redeem(
    ctx: &Ctx<'_>,
    customer: Uuid,
    reward: Option<Uuid>,
    points: Option<i64>,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "redeem points")?;
    match (reward, points) {
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
            customer,
            reward,
            points,
        },
        idempotency,
    )
    .await
}

/// Refunds all or part of a purchase. Cashiers may only reverse today's purchases
/// (today in the organization's time zone); admins any.
pub async fn reverse(
    ctx: &Ctx<'_>,
    purchase: Uuid,
    amount: Option<&str>,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(STAFF, "reverse purchases")?;
    let minor = CurrencyCode::parse(&ctx.org.currency)
        .map(|c| c.minor_digits())
        .unwrap_or(2);
    let amount = match amount {
        Some(a) => Some(
            Amount::parse(a, minor)
                .map_err(|e| Error::Validation(vec![e]))?
                .value(),
        ),
        None => None,
    };
    let not_before = if ctx.role == Role::Cashier {
        Some(start_of_day(ctx.clock.now(), &ctx.org.timezone))
    } else {
        None
    };
    run(
        ctx,
        &PointsCommand::Reverse {
            purchase,
            amount,
            not_before,
        },
        idempotency,
    )
    .await
}

/// Adds or removes points by hand, with a mandatory reason.
pub async fn adjust(
    ctx: &Ctx<'_>,
    customer: Uuid,
    points: i64,
    reason: &str,
    idempotency: &str,
) -> Result<PointsOutcome, Error> {
    ctx.require(ADMIN, "adjust points")?;
    let mut errors = Vec::new();
    if points == 0 || points.abs() > MAX_POINTS {
        errors.push(FieldError::new(
            "points",
            format!("must be a non-zero whole number between -{MAX_POINTS} and {MAX_POINTS}"),
        ));
    }
    let reason = reason.trim();
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
            customer,
            points,
            reason: reason.to_owned(),
        },
        idempotency,
    )
    .await
}

async fn run(
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
            metrics::counter!("loyalty_points_awarded_total", "org" => slug)
                .increment(outcome.entry.points.max(0).unsigned_abs());
        }
        PointsCommand::Redeem { .. } => {
            metrics::counter!("loyalty_points_redeemed_total", "org" => slug)
                .increment(outcome.entry.points.unsigned_abs());
        }
        _ => {}
    }
}

/// Checks reward input.
pub fn reward_input(
    name: &str,
    cost_points: i64,
    active: bool,
    stock: Option<i64>,
) -> Result<RewardInput, Error> {
    let mut errors = Vec::new();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push(FieldError::new(
            "name",
            "is required (1-120 characters), such as \"Free coffee\"",
        ));
    }
    if !(1..=MAX_POINTS).contains(&cost_points) {
        errors.push(FieldError::new(
            "cost_points",
            format!("must be a whole number from 1 to {MAX_POINTS}"),
        ));
    }
    let stock = match stock {
        Some(s) if !(0..=i64::from(i32::MAX)).contains(&s) => {
            errors.push(FieldError::new(
                "stock",
                "must be 0 or more, or absent for unlimited",
            ));
            None
        }
        Some(s) => i32::try_from(s).ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(RewardInput {
        name: name.to_owned(),
        cost_points,
        active,
        stock,
    })
}

/// Creates a reward.
pub async fn create_reward(ctx: &Ctx<'_>, input: &RewardInput) -> Result<Reward, Error> {
    ctx.require(ADMIN, "manage rewards")?;
    ctx.store
        .create_reward(ctx.org.id, input, &ctx.actor, ctx.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(
                ErrorCode::RewardExists,
                format!("a reward named {:?} already exists", input.name),
            ),
            e => e.into(),
        })
}

/// Replaces a reward.
pub async fn update_reward(ctx: &Ctx<'_>, id: Uuid, input: &RewardInput) -> Result<Reward, Error> {
    ctx.require(ADMIN, "manage rewards")?;
    ctx.store
        .update_reward(ctx.org.id, id, input, &ctx.actor, ctx.clock.now())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(
                ErrorCode::RewardExists,
                format!("a reward named {:?} already exists", input.name),
            ),
            e => e.into(),
        })?
        .ok_or(Error::Points(PointsError::RewardNotFound))
}

/// Checks and stores the points settings.
pub async fn update_settings(
    ctx: &Ctx<'_>,
    points_per_unit: &str,
    min_purchase: &str,
    expiry_days: Option<i64>,
    join_enabled: bool,
) -> Result<PointsSettings, Error> {
    ctx.require(ADMIN, "change settings")?;
    let mut errors = Vec::new();
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
    };
    ctx.store
        .update_points_settings(ctx.org.id, &settings, &ctx.actor, ctx.clock.now())
        .await?;
    Ok(settings)
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
        org: org.slug.clone(),
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

/// The instant a calendar day starts in an IANA time zone (UTC if unknown).
pub fn day_start(date: time::Date, tz: &str) -> OffsetDateTime {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
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

/// The start of the day containing `now` in an IANA time zone.
pub fn start_of_day(now: OffsetDateTime, tz: &str) -> OffsetDateTime {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
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

    #[test]
    fn days_start_at_local_midnight() {
        assert_eq!(
            day_start(date!(2025 - 01 - 23), "America/New_York"),
            datetime!(2025-01-23 05:00 UTC)
        );
        assert_eq!(
            day_start(date!(2025 - 07 - 01), "America/Sao_Paulo"),
            datetime!(2025-07-01 03:00 UTC)
        );
        assert_eq!(
            start_of_day(datetime!(2025-01-23 03:00 UTC), "America/New_York"),
            datetime!(2025-01-22 05:00 UTC)
        );
        assert_eq!(
            day_start(date!(2025 - 01 - 23), "Nowhere/Else"),
            datetime!(2025-01-23 00:00 UTC)
        );
    }

    #[test]
    fn idempotency_keys_fingerprint_the_request() {
        let a = PointsCommand::Adjust {
            customer: Uuid::nil(),
            points: 5,
            reason: "x".into(),
        };
        let b = PointsCommand::Adjust {
            customer: Uuid::nil(),
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
