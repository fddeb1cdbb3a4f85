//! An organization's loyalty program beyond the earning rule: stamp cards and
//! promotions, versioned (a change makes a new version; a purchase keeps the version
//! and the breakdown it was computed with). The types are built by parsing
//! ([`ProgramInput::parse`]); the pure engine ([`engine::evaluate`]) turns a purchase
//! into grants. `docs/programs.md` describes each kind and how they combine.

pub mod engine;
mod parse;
pub mod tier;
mod tier_input;

pub use engine::{
    CustomerState, Grant, GrantRule, PurchaseFacts, describe_grants, evaluate, explains,
};
pub use parse::{BonusInput, CardInput, ProgramInput, PromotionInput, TierInput, TierRulesInput};
pub use tier::{Tier, TierBasis, TierCandidate, TierChange, TierProgress, TierRules};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Weekday};
use uuid::Uuid;

/// The most promotions an organization may have running (not ended) at once.
pub const MAX_ACTIVE_PROMOTIONS: usize = 10;
/// The most stamp cards an organization may have running at once.
pub const MAX_ACTIVE_CARDS: usize = 10;
/// The largest promotion multiplier.
pub const MAX_MULTIPLIER: Decimal = Decimal::from_parts(10, 0, 0, false, 0);
/// The largest fixed promotion bonus, and the most points a full stamp card gives.
pub const MAX_BONUS: i64 = 1_000_000;
/// The most stamps a card may need.
pub const MAX_STAMPS: u32 = 100;

/// A stamp card's or promotion's id, kept across versions.
pub type RuleId = Uuid;

/// The stamp cards and promotions of an organization at one version. Version 0 is the
/// program of a shop that never set one: nothing but the earning rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Program {
    /// Version: 0 before the first change, then one more per change.
    #[serde(default)]
    pub version: i64,
    /// Stamp cards, running and ended (an ended card keeps its stamps redeemable).
    #[serde(default)]
    pub stamp_cards: Vec<StampCard>,
    /// Promotions, running and ended.
    #[serde(default)]
    pub promotions: Vec<Promotion>,
    /// Points given once per customer when they enroll.
    #[serde(default)]
    pub bonuses: Bonuses,
    /// Tiers, running and ended.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// How every tier qualifies (basis, window, grace period).
    #[serde(default)]
    pub tier_rules: TierRules,
}

/// Points given once per customer, right after they enroll (at the till, through the
/// API or the join page); 0 turns a bonus off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bonuses {
    /// For enrolling.
    #[serde(default)]
    pub signup_points: i64,
    /// For leaving an email address when enrolling.
    #[serde(default)]
    pub contact_points: i64,
    /// On the customer's birthday (their `birth_date`), once a year, given by the daily
    /// job in the organization's time zone.
    #[serde(default)]
    pub birthday_points: i64,
}

impl Program {
    /// Whether a purchase can earn more than the earning rule gives: when not, the award
    /// path reads no customer state and writes nothing but the points entry.
    pub fn is_plain(&self) -> bool {
        self.stamp_cards.iter().all(|c| c.ended)
            && self.promotions.iter().all(|p| p.ended)
            && self.tiers.iter().all(|t| t.ended)
    }

    /// A stamp card by id.
    pub fn card(&self, id: RuleId) -> Option<&StampCard> {
        self.stamp_cards.iter().find(|c| c.id == id)
    }

    /// A promotion by id.
    pub fn promotion(&self, id: RuleId) -> Option<&Promotion> {
        self.promotions.iter().find(|p| p.id == id)
    }
}

/// A stamp card: one stamp per qualifying visit; `stamps_required` stamps are
/// exchanged for the reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StampCard {
    /// Id.
    pub id: Uuid,
    /// Name shown to the cashier and the customer ("Coffee card").
    pub name: String,
    /// Stamps that fill the card (2-100).
    pub stamps_required: u32,
    /// Purchases below this give no stamp.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "3.00"))]
    pub min_amount: Decimal,
    /// Stamps per customer per day (the org's time zone); `None` for no limit.
    pub daily_limit: Option<u32>,
    /// What a full card gives, as the till says it ("a free coffee").
    pub reward: String,
    /// Points credited when a full card is redeemed (0 when the reward is goods).
    pub reward_points: i64,
    /// Ended: gives no more stamps.
    #[serde(default)]
    pub ended: bool,
}

/// What a promotion adds to the earning rule's points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PromotionEffect {
    /// The base points times `factor` (more than 1, at most 10): the grant is the extra
    /// `floor(base × (factor − 1))`.
    Multiplier {
        /// The factor.
        #[serde(with = "rust_decimal::serde::str")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2"))]
        factor: Decimal,
    },
    /// A fixed number of points.
    Bonus {
        /// Points.
        points: i64,
    },
}

/// When a promotion runs, in the organization's time zone. Empty parts do not restrict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    /// Days of the week (`monday` ... `sunday`); empty for every day.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub days: Vec<Weekday>,
    /// Minute of the day it starts (0-1439), inclusive.
    pub from_minute: Option<u16>,
    /// Minute of the day it stops (1-1440), exclusive.
    pub to_minute: Option<u16>,
    /// First day, inclusive.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub from_date: Option<Date>,
    /// Last day, inclusive.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub to_date: Option<Date>,
}

impl Schedule {
    /// Whether a local date and time falls in the schedule.
    pub fn contains(&self, local: time::PrimitiveDateTime) -> bool {
        let date = local.date();
        let minute = u16::from(local.hour()) * 60 + u16::from(local.minute());
        (self.days.is_empty() || self.days.contains(&date.weekday()))
            && self.from_minute.is_none_or(|m| minute >= m)
            && self.to_minute.is_none_or(|m| minute < m)
            && self.from_date.is_none_or(|d| date >= d)
            && self.to_date.is_none_or(|d| date <= d)
    }
}

/// A promotion: extra points on purchases that match its schedule and minimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Promotion {
    /// Id.
    pub id: Uuid,
    /// Name shown at the till ("Tuesday double").
    pub name: String,
    /// Multiplier or fixed bonus.
    pub effect: PromotionEffect,
    /// When it runs.
    #[serde(default)]
    pub schedule: Schedule,
    /// Purchases below this do not qualify.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0"))]
    pub min_amount: Decimal,
    /// Times one customer may get it; `None` for no limit.
    pub per_customer_limit: Option<u32>,
    /// The program version that created it: among equally valuable promotions the newest
    /// wins.
    pub since_version: i64,
    /// Ended: applies no more.
    #[serde(default)]
    pub ended: bool,
}

/// What moved stamps on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StampKind {
    /// Given by a purchase.
    Earned,
    /// Exchanged for the card's reward.
    Redeemed,
    /// Taken back by a refund.
    Reversed,
}

impl StampKind {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            StampKind::Earned => "earned",
            StampKind::Redeemed => "redeemed",
            StampKind::Reversed => "reversed",
        }
    }
}

/// One entry of the stamp ledger: stamps added to or taken from a customer's card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StampEntry {
    /// Id.
    pub id: Uuid,
    /// The customer.
    #[cfg_attr(feature = "openapi", schema(value_type = Uuid))]
    pub customer_id: super::CustomerId,
    /// The card.
    pub card_id: uuid::Uuid,
    /// Stamps added (positive) or taken (negative).
    pub stamps: i64,
    /// Why.
    pub kind: StampKind,
    /// The purchase that gave or took them.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Uuid>))]
    pub purchase_id: Option<super::PurchaseId>,
    /// The card's stamps after this entry.
    pub balance_after: i64,
    /// Who made it (member id).
    pub created_by: Option<Uuid>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// What the award path needs of the program, handed to the ledger with the command when
/// the program has running stamp cards or promotions (`None` otherwise: the plain path).
#[derive(Debug, Clone, PartialEq)]
pub struct AwardProgram {
    /// The earning rule.
    pub earning: crate::domain::points::EarningRule,
    /// The program at its current version.
    pub program: Program,
    /// The purchase: its amount and local date and time in the organization's time zone.
    pub facts: PurchaseFacts,
    /// The start of that local day, for daily limits.
    pub day_start: time::OffsetDateTime,
}

/// The local date and time of an instant in a time zone.
pub fn local_time(now: time::OffsetDateTime, tz: &super::TimeZoneName) -> time::PrimitiveDateTime {
    let offset = jiff::Timestamp::from_second(now.unix_timestamp())
        .ok()
        .map(|t| tz.zone().to_offset(t).seconds())
        .and_then(|s| time::UtcOffset::from_whole_seconds(s).ok())
        .unwrap_or(time::UtcOffset::UTC);
    let local = now.to_offset(offset);
    time::PrimitiveDateTime::new(local.date(), local.time())
}

/// The instant a local date and time of day happen in a time zone (the earlier one when
/// the clock is turned back; the time after the gap when it is turned forward).
pub fn instant_of(
    local: time::PrimitiveDateTime,
    tz: &super::TimeZoneName,
) -> time::OffsetDateTime {
    let civil = jiff::civil::datetime(
        local.year() as i16,
        u8::from(local.month()) as i8,
        local.day() as i8,
        local.hour() as i8,
        local.minute() as i8,
        0,
        0,
    );
    civil
        .to_zoned_datetime(tz.zone())
        .ok()
        .and_then(|z| time::OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or_else(|| local.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn local_time_follows_the_zone() {
        let tz = super::super::TimeZoneName::parse("America/Sao_Paulo").expect("zone");
        assert_eq!(
            local_time(datetime!(2026-12-01 02:30 UTC), &tz),
            datetime!(2026-11-30 23:30)
        );
        assert_eq!(
            instant_of(datetime!(2026-11-30 23:30), &tz),
            datetime!(2026-12-01 02:30 UTC)
        );
    }

    #[test]
    fn schedules_check_day_hours_and_dates() {
        let s = Schedule {
            days: vec![Weekday::Tuesday],
            from_minute: Some(17 * 60),
            to_minute: Some(20 * 60),
            from_date: Some(date!(2026 - 12 - 01)),
            to_date: Some(date!(2026 - 12 - 31)),
        };
        assert!(s.contains(datetime!(2026-12-01 17:00)), "a Tuesday at five");
        assert!(
            !s.contains(datetime!(2026-12-01 20:00)),
            "the end is exclusive"
        );
        assert!(!s.contains(datetime!(2026-12-02 18:00)), "a Wednesday");
        assert!(!s.contains(datetime!(2027-01-05 18:00)), "after the range");
        assert!(Schedule::default().contains(datetime!(2026-12-02 03:00)));
    }
}
