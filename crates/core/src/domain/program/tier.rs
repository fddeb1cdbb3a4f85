//! Tiers: levels a customer reaches by the points they earned or the amount they spent
//! in a rolling window of months. A tier multiplies the base points of every purchase
//! (through the engine, which reads the customer's tier as part of their state), may
//! give an entry bonus, and is left when the customer no longer qualifies, after an
//! optional grace period. Which tier a customer should hold is decided here
//! ([`decide`]), for one customer at a time; the recalculation job hands it every
//! customer of an organization in one read and writes the moves in one pass.

use super::{Program, RuleId};
use crate::domain::{CustomerId, Language};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The most tiers an organization may have running at once.
pub const MAX_TIERS: usize = 6;
/// The longest qualification window, in months.
pub const MAX_WINDOW_MONTHS: u32 = 36;
/// The longest grace period, in months.
pub const MAX_GRACE_MONTHS: u32 = 12;

/// What a customer qualifies with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TierBasis {
    /// Points earned on purchases in the window (less points taken back by refunds);
    /// bonuses do not count.
    #[default]
    Points,
    /// Amount spent in the window (less refunds).
    Spend,
}

impl TierBasis {
    /// The stored and written value.
    pub fn as_str(self) -> &'static str {
        match self {
            TierBasis::Points => "points",
            TierBasis::Spend => "spend",
        }
    }
}

/// How every tier of a program qualifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierRules {
    /// Points earned or amount spent.
    #[serde(default)]
    pub basis: TierBasis,
    /// The rolling window, in months (1-36).
    pub window_months: u32,
    /// Months a customer keeps a tier after they stop qualifying for it (0-12).
    #[serde(default)]
    pub grace_months: u32,
}

impl Default for TierRules {
    fn default() -> Self {
        Self {
            basis: TierBasis::Points,
            window_months: 12,
            grace_months: 0,
        }
    }
}

/// A tier: reached with `threshold` points earned (or amount spent) in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tier {
    /// Id.
    pub id: uuid::Uuid,
    /// Name ("Gold").
    pub name: String,
    /// Points (or amount) in the window that reach it.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "500"))]
    pub threshold: Decimal,
    /// The base points of a purchase times this (1 to 10): the grant is the extra
    /// `floor(base × (multiplier − 1))`.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.5"))]
    pub multiplier: Decimal,
    /// Points given each time a customer moves up into it.
    #[serde(default)]
    pub entry_bonus: i64,
    /// Ended: nobody qualifies any more; holders leave it at the next recalculation.
    #[serde(default)]
    pub ended: bool,
}

impl Program {
    /// The running tiers, lowest threshold first.
    pub fn running_tiers(&self) -> Vec<&Tier> {
        let mut tiers: Vec<&Tier> = self.tiers.iter().filter(|t| !t.ended).collect();
        tiers.sort_by(|a, b| a.threshold.cmp(&b.threshold).then(a.id.cmp(&b.id)));
        tiers
    }

    /// A tier by id.
    pub fn tier(&self, id: RuleId) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.id == id)
    }

    /// The highest running tier `value` reaches.
    pub fn tier_for(&self, value: Decimal) -> Option<&Tier> {
        self.running_tiers()
            .into_iter()
            .rfind(|t| value >= t.threshold)
    }
}

/// A customer as the recalculation sees them: their tier, since when they no longer
/// qualify for it (during a grace period), and what they earned or spent in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct TierCandidate {
    /// The customer.
    pub customer: CustomerId,
    /// Their tier now.
    pub tier: Option<RuleId>,
    /// When they were first seen below their tier (`None` while they qualify).
    pub below_since: Option<OffsetDateTime>,
    /// Points earned or amount spent in the window.
    pub value: Decimal,
}

/// A change of a customer's tier row: a move between tiers, or the start or end of a
/// grace period.
#[derive(Debug, Clone, PartialEq)]
pub struct TierChange {
    /// The customer.
    pub customer: CustomerId,
    /// Their tier before.
    pub from: Option<RuleId>,
    /// Their tier after.
    pub to: Option<RuleId>,
    /// Since when they are below their (new) tier; `None` when they qualify.
    pub below_since: Option<OffsetDateTime>,
    /// Points earned or amount spent in the window.
    pub value: Decimal,
    /// The entry bonus of the tier moved up into (0 for none).
    pub bonus: i64,
    /// The name of the tier moved into, for the bonus's note.
    pub to_name: String,
}

impl TierChange {
    /// Whether the customer changed tier (not only a grace period's start or end).
    pub fn is_move(&self) -> bool {
        self.from != self.to
    }

    /// Whether the move is up.
    pub fn is_up(&self, program: &Program) -> bool {
        rank(program, self.to) > rank(program, self.from)
    }
}

/// The position of a tier among the running ones: 0 for none (or an ended tier).
fn rank(program: &Program, tier: Option<RuleId>) -> usize {
    tier.and_then(|id| {
        program
            .running_tiers()
            .iter()
            .position(|t| t.id == id)
            .map(|p| p + 1)
    })
    .unwrap_or(0)
}

/// `months` calendar months before `t` (the day clamped to the shorter month).
pub fn months_before(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    shift_months(t, -(i64::from(months)))
}

/// `months` calendar months after `t` (the day clamped to the shorter month).
pub fn months_after(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    shift_months(t, i64::from(months))
}

fn shift_months(t: OffsetDateTime, months: i64) -> OffsetDateTime {
    let index = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).unwrap_or(t.year());
    let month = time::Month::try_from(u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1))
        .unwrap_or(t.month());
    let day = t.day().min(month.length(year));
    time::Date::from_calendar_date(year, month, day)
        .map(|d| t.replace_date(d))
        .unwrap_or(t)
}

/// What should happen to one customer's tier at `now`, or `None` when nothing changes.
///
/// - Qualifying for a higher tier moves them up at once (with its entry bonus).
/// - Qualifying for their own tier again ends a grace period.
/// - Qualifying only for a lower one (or none): with no grace period they move down at
///   once; with one, the grace period starts, and they move down (to what they qualify
///   for then) once it has run out.
/// - A tier that ended is left at once, to what they qualify for.
pub fn decide(program: &Program, c: &TierCandidate, now: OffsetDateTime) -> Option<TierChange> {
    let target = program.tier_for(c.value);
    let target_id = target.map(|t| t.id);
    let have = rank(program, c.tier);
    let want = rank(program, target_id);
    let change = |to: Option<RuleId>, below_since, bonus| TierChange {
        customer: c.customer,
        from: c.tier,
        to,
        below_since,
        value: c.value,
        bonus,
        to_name: to
            .and_then(|id| program.tier(id))
            .map(|t| t.name.clone())
            .unwrap_or_default(),
    };
    let held_ended = c.tier.is_some() && have == 0;
    if want > have {
        let bonus = target.map(|t| t.entry_bonus).unwrap_or(0);
        return Some(change(target_id, None, if held_ended { 0 } else { bonus }));
    }
    if held_ended {
        return Some(change(target_id, None, 0));
    }
    if want == have {
        return c.below_since.map(|_| change(c.tier, None, 0));
    }
    let grace = program.tier_rules.grace_months;
    match c.below_since {
        _ if grace == 0 => Some(change(target_id, None, 0)),
        None => Some(change(c.tier, Some(now), 0)),
        Some(since) if now >= months_after(since, grace) => Some(change(target_id, None, 0)),
        Some(_) => None,
    }
}

/// How far a customer is from the next tier: computed from what they earned or spent,
/// never stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierProgress {
    /// Their tier now (its name), if any.
    pub tier: Option<String>,
    /// Points earned or amount spent in the window.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "460"))]
    pub value: Decimal,
    /// `points` or `spend`.
    pub basis: TierBasis,
    /// The next tier up, if any.
    pub next: Option<String>,
    /// What is still missing to reach it.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "40"))]
    pub missing: Option<Decimal>,
    /// When they leave their tier unless they qualify again by then: set once they no
    /// longer reach its threshold (the end of the grace period, or the next
    /// recalculation without one); `None` while they qualify.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ends_at: Option<OffsetDateTime>,
}

impl TierProgress {
    /// The progress at `now` of a customer holding `tier` with `value` in the window,
    /// below their tier's threshold since `below_since` (a grace period in progress).
    pub fn of(
        program: &Program,
        tier: Option<RuleId>,
        value: Decimal,
        below_since: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Self {
        let have = rank(program, tier);
        let tiers = program.running_tiers();
        let next = tiers
            .iter()
            .enumerate()
            .find(|(i, t)| i + 1 > have && t.threshold > value)
            .map(|(_, t)| *t);
        let held = tier.and_then(|id| program.tier(id));
        // Below the held tier's threshold: it ends when the grace period (counted from
        // when the recalculation first saw them below, else from now) runs out.
        let ends_at = held
            .filter(|t| !t.ended && value < t.threshold)
            .map(|_| months_after(below_since.unwrap_or(now), program.tier_rules.grace_months));
        Self {
            tier: held.map(|t| t.name.clone()),
            value,
            basis: program.tier_rules.basis,
            next: next.map(|t| t.name.clone()),
            missing: next.map(|t| t.threshold - value),
            ends_at,
        }
    }

    /// As the till and the portal say it, in `lang`: `40 points to Gold`, `R$ 120,00
    /// to Gold` (`40 pontos para Gold`); `None` at the top tier.
    pub fn describe(&self, lang: Language, currency: &str) -> Option<String> {
        let (next, missing) = (self.next.as_ref()?, self.missing?);
        let to = match lang {
            Language::En => "to",
            Language::PtBr => "para",
        };
        Some(match self.basis {
            TierBasis::Points => {
                // Points in the window are whole; a fraction cannot be missing.
                let points = missing.ceil().try_into().unwrap_or(i64::MAX);
                let unit = match (lang, points) {
                    (Language::En, 1) => "point",
                    (Language::En, _) => "points",
                    (Language::PtBr, 1) => "ponto",
                    (Language::PtBr, _) => "pontos",
                };
                format!("{} {unit} {to} {next}", lang.int(points))
            }
            TierBasis::Spend => format!("{} {to} {next}", lang.money(missing, currency)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    fn tier(n: u128, name: &str, threshold: i64, bonus: i64) -> Tier {
        Tier {
            id: Uuid::from_u128(n),
            name: name.into(),
            threshold: Decimal::from(threshold),
            multiplier: Decimal::new(15, 1),
            entry_bonus: bonus,
            ended: false,
        }
    }

    fn program(grace: u32) -> Program {
        Program {
            tiers: vec![tier(2, "Gold", 500, 50), tier(1, "Silver", 100, 10)],
            tier_rules: TierRules {
                grace_months: grace,
                ..TierRules::default()
            },
            ..Program::default()
        }
    }

    fn cand(tier: Option<u128>, value: i64, below: Option<OffsetDateTime>) -> TierCandidate {
        TierCandidate {
            customer: CustomerId(Uuid::from_u128(9)),
            tier: tier.map(Uuid::from_u128),
            below_since: below,
            value: Decimal::from(value),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-12-05 03:00 UTC);

    #[test]
    fn customers_move_up_at_once_with_the_entry_bonus() {
        let p = program(0);
        let up = decide(&p, &cand(None, 520, None), NOW).expect("move");
        assert_eq!(up.to, Some(Uuid::from_u128(2)));
        assert_eq!((up.bonus, up.to_name.as_str()), (50, "Gold"));
        assert!(up.is_move() && up.is_up(&p));
        assert_eq!(decide(&p, &cand(Some(2), 520, None), NOW), None);
        assert_eq!(decide(&p, &cand(None, 99, None), NOW), None);
    }

    #[test]
    fn without_grace_a_customer_below_their_tier_moves_down_at_once() {
        let p = program(0);
        let down = decide(&p, &cand(Some(2), 150, None), NOW).expect("move");
        assert_eq!((down.to, down.bonus), (Some(Uuid::from_u128(1)), 0));
        assert!(!down.is_up(&p));
        let out = decide(&p, &cand(Some(1), 0, None), NOW).expect("move");
        assert_eq!(out.to, None);
    }

    #[test]
    fn a_grace_period_starts_runs_and_ends() {
        let p = program(2);
        let start = decide(&p, &cand(Some(2), 150, None), NOW).expect("grace starts");
        assert_eq!(
            (start.to, start.below_since),
            (Some(Uuid::from_u128(2)), Some(NOW))
        );
        assert!(!start.is_move());
        let month_later = datetime!(2027-01-05 03:00 UTC);
        assert_eq!(
            decide(&p, &cand(Some(2), 150, Some(NOW)), month_later),
            None
        );
        let back = decide(&p, &cand(Some(2), 600, Some(NOW)), month_later).expect("qualifies");
        assert_eq!(
            (back.to, back.below_since),
            (Some(Uuid::from_u128(2)), None)
        );
        let over = datetime!(2027-02-05 03:00 UTC);
        let down = decide(&p, &cand(Some(2), 150, Some(NOW)), over).expect("down");
        assert_eq!(
            (down.to, down.below_since),
            (Some(Uuid::from_u128(1)), None)
        );
    }

    #[test]
    fn an_ended_tier_is_left_without_a_new_bonus() {
        let mut p = program(3);
        p.tiers[0].ended = true;
        let left = decide(&p, &cand(Some(2), 600, None), NOW).expect("left");
        assert_eq!((left.to, left.bonus), (Some(Uuid::from_u128(1)), 0));
    }

    #[test]
    fn progress_names_the_next_tier_and_what_is_missing() {
        let p = program(0);
        let now = datetime!(2026-12-05 10:00 UTC);
        let pr = TierProgress::of(&p, Some(Uuid::from_u128(1)), Decimal::from(460), None, now);
        assert_eq!(
            pr.describe(Language::En, "USD").as_deref(),
            Some("40 points to Gold")
        );
        assert_eq!(
            pr.describe(Language::PtBr, "BRL").as_deref(),
            Some("40 pontos para Gold")
        );
        assert_eq!(pr.ends_at, None, "Silver holds while they qualify");
        let top = TierProgress::of(&p, Some(Uuid::from_u128(2)), Decimal::from(900), None, now);
        assert_eq!(
            (top.next.clone(), top.describe(Language::En, "USD")),
            (None, None)
        );
    }

    #[test]
    fn progress_on_spend_is_money_and_a_grace_period_has_an_end_date() {
        let mut p = program(2);
        p.tier_rules.basis = TierBasis::Spend;
        let now = datetime!(2026-12-05 10:00 UTC);
        let silver = Some(Uuid::from_u128(1));
        let pr = TierProgress::of(&p, silver, Decimal::new(38_000, 2), None, now);
        assert_eq!(
            pr.describe(Language::PtBr, "BRL").as_deref(),
            Some("R$ 120,00 para Gold")
        );
        assert_eq!(
            pr.describe(Language::En, "USD").as_deref(),
            Some("$120.00 to Gold")
        );
        // Gold held at 260 since 1 October, two months' grace: it ends on 1 December...
        let gold = Some(Uuid::from_u128(2));
        let since = datetime!(2026-10-01 03:00 UTC);
        let pr = TierProgress::of(&p, gold, Decimal::from(260), Some(since), now);
        assert_eq!(pr.ends_at, Some(datetime!(2026-12-01 03:00 UTC)));
        // ...and a customer the recalculation has not seen below yet has the full grace.
        let pr = TierProgress::of(&p, gold, Decimal::from(260), None, now);
        assert_eq!(pr.ends_at, Some(datetime!(2027-02-05 10:00 UTC)));
    }

    #[test]
    fn months_are_calendar_months_clamped_to_short_ones() {
        assert_eq!(
            months_before(datetime!(2026-03-31 10:00 UTC), 1),
            datetime!(2026-02-28 10:00 UTC)
        );
        assert_eq!(
            months_after(datetime!(2026-11-30 10:00 UTC), 3),
            datetime!(2027-02-28 10:00 UTC)
        );
        assert_eq!(
            months_before(datetime!(2026-12-05 10:00 UTC), 12),
            datetime!(2025-12-05 10:00 UTC)
        );
    }
}
