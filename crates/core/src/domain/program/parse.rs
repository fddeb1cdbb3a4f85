//! Parsing a new stamp card or promotion, and the changes of a program: every check of
//! a rule's fields lives here, so the API, the pages and the command line refuse the
//! same input with the same words.

pub use super::tier_input::{TierInput, TierRulesInput};
use super::{
    MAX_ACTIVE_CARDS, MAX_ACTIVE_PROMOTIONS, MAX_BONUS, MAX_MULTIPLIER, MAX_STAMPS, Program,
    Promotion, PromotionEffect, RuleId, Schedule, StampCard,
};
use crate::domain::points::MAX_AMOUNT;
use crate::error::FieldError;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::str::FromStr;
use time::Weekday;

/// A stamp card as a client writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    /// Name ("Coffee card"), 1-60 characters.
    pub name: String,
    /// Stamps that fill the card, 2-100.
    pub stamps_required: u32,
    /// Smallest purchase that gives a stamp ("3.00"); none for any.
    #[serde(default)]
    pub min_amount: Option<String>,
    /// Stamps per customer per day; none for no limit.
    #[serde(default)]
    pub daily_limit: Option<u32>,
    /// What a full card gives ("a free coffee"), 1-100 characters.
    pub reward: String,
    /// Points a full card credits (0 for goods only).
    #[serde(default)]
    pub reward_points: i64,
}

/// A promotion as a client writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionInput {
    /// Name ("Tuesday double"), 1-60 characters.
    pub name: String,
    /// Multiply the base points by this (more than 1, at most 10), e.g. "2".
    #[serde(default)]
    pub multiplier: Option<String>,
    /// Or add this many points (1-1,000,000).
    #[serde(default)]
    pub bonus_points: Option<i64>,
    /// Days of the week (`monday` ... `sunday`); none for every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Start time of day, `HH:MM`.
    #[serde(default)]
    pub from_time: Option<String>,
    /// End time of day, `HH:MM` (exclusive; `24:00` for midnight).
    #[serde(default)]
    pub to_time: Option<String>,
    /// First day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from_date: Option<String>,
    /// Last day, `YYYY-MM-DD` (inclusive).
    #[serde(default)]
    pub to_date: Option<String>,
    /// Smallest qualifying purchase ("10.00").
    #[serde(default)]
    pub min_amount: Option<String>,
    /// Times one customer may get it.
    #[serde(default)]
    pub per_customer_limit: Option<u32>,
}

/// The enrollment bonuses as a client writes them.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BonusInput {
    /// Points for enrolling, 0-1,000,000 (0: none).
    #[serde(default)]
    pub signup_points: i64,
    /// Points for leaving an email address when enrolling, 0-1,000,000 (0: none).
    #[serde(default)]
    pub contact_points: i64,
    /// Points on the customer's birthday, once a year, 0-1,000,000 (0: none).
    #[serde(default)]
    pub birthday_points: i64,
}

/// A change of a program.
#[derive(Debug, Clone)]
pub enum ProgramInput {
    /// Add a stamp card.
    AddCard(CardInput),
    /// Add a promotion.
    AddPromotion(PromotionInput),
    /// End a card or a promotion.
    End(RuleId),
    /// Set the enrollment and birthday bonuses.
    SetBonuses(BonusInput),
    /// Add a tier.
    AddTier(TierInput),
    /// Set how tiers qualify.
    SetTierRules(TierRulesInput),
}

impl ProgramInput {
    /// The next version of `program` with this change, given the new rule's id; or the
    /// fields that are wrong.
    pub fn parse(&self, program: &Program, new_id: RuleId) -> Result<Program, Vec<FieldError>> {
        let mut next = program.clone();
        next.version = program.version + 1;
        match self {
            ProgramInput::AddCard(input) => {
                let card = input.parse(new_id)?;
                if program.stamp_cards.iter().filter(|c| !c.ended).count() >= MAX_ACTIVE_CARDS {
                    return Err(vec![FieldError::new(
                        "stamp_cards",
                        format!("{MAX_ACTIVE_CARDS} cards are running already; end one first"),
                    )]);
                }
                next.stamp_cards.push(card);
            }
            ProgramInput::AddPromotion(input) => {
                let promotion = input.parse(new_id, next.version)?;
                if program.promotions.iter().filter(|p| !p.ended).count() >= MAX_ACTIVE_PROMOTIONS {
                    return Err(vec![FieldError::new(
                        "promotions",
                        format!(
                            "{MAX_ACTIVE_PROMOTIONS} promotions are running already; end one first"
                        ),
                    )]);
                }
                next.promotions.push(promotion);
            }
            ProgramInput::SetBonuses(b) => {
                let mut errors = Vec::new();
                for (field, points) in [
                    ("signup_points", b.signup_points),
                    ("contact_points", b.contact_points),
                    ("birthday_points", b.birthday_points),
                ] {
                    if !(0..=MAX_BONUS).contains(&points) {
                        errors.push(FieldError::new(
                            field,
                            format!("must be a whole number from 0 (none) to {MAX_BONUS}"),
                        ));
                    }
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                next.bonuses = super::Bonuses {
                    signup_points: b.signup_points,
                    contact_points: b.contact_points,
                    birthday_points: b.birthday_points,
                };
            }
            ProgramInput::AddTier(input) => next.tiers.push(input.parse(program, new_id)?),
            ProgramInput::SetTierRules(input) => next.tier_rules = input.parse()?,
            ProgramInput::End(id) => {
                let card = next
                    .stamp_cards
                    .iter_mut()
                    .find(|c| c.id == *id && !c.ended);
                let promotion = next.promotions.iter_mut().find(|p| p.id == *id && !p.ended);
                let tier = next.tiers.iter_mut().find(|t| t.id == *id && !t.ended);
                match (card, promotion, tier) {
                    (Some(c), _, _) => c.ended = true,
                    (_, Some(p), _) => p.ended = true,
                    (_, _, Some(t)) => t.ended = true,
                    _ => {
                        return Err(vec![FieldError::new(
                            "id",
                            format!(
                                "{id} is no running stamp card, promotion or tier of this program"
                            ),
                        )]);
                    }
                }
            }
        }
        Ok(next)
    }
}

fn name(field: &'static str, input: &str, max: usize, example: &str) -> Result<String, FieldError> {
    let s = input.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be 1-{max} characters without line breaks, such as {example:?}"),
        ));
    }
    Ok(s.to_owned())
}

fn min_amount(input: Option<&str>) -> Result<Decimal, FieldError> {
    let Some(text) = input.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Decimal::ZERO);
    };
    match Decimal::from_str(text) {
        Ok(d) if d >= Decimal::ZERO && d.normalize().scale() <= 2 && d <= MAX_AMOUNT => Ok(d),
        _ => Err(FieldError::new(
            "min_amount",
            format!("{text:?} is not an amount from 0 to {MAX_AMOUNT}; write it like 10.00"),
        )),
    }
}

impl CardInput {
    /// The card, or the fields that are wrong.
    pub fn parse(&self, id: RuleId) -> Result<StampCard, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = name("name", &self.name, 60, "Coffee card").map_err(|e| errors.push(e));
        let reward = name_reward(&self.reward).map_err(|e| errors.push(e));
        let min = min_amount(self.min_amount.as_deref()).map_err(|e| errors.push(e));
        if !(2..=MAX_STAMPS).contains(&self.stamps_required) {
            errors.push(FieldError::new(
                "stamps_required",
                format!("must be a whole number from 2 to {MAX_STAMPS}, such as 10"),
            ));
        }
        if self.daily_limit == Some(0) {
            errors.push(FieldError::new(
                "daily_limit",
                "must be at least 1; leave it out for no limit",
            ));
        }
        if !(0..=MAX_BONUS).contains(&self.reward_points) {
            errors.push(FieldError::new(
                "reward_points",
                format!("must be a whole number from 0 to {MAX_BONUS}"),
            ));
        }
        match (name, reward, min) {
            (Ok(name), Ok(reward), Ok(min_amount)) if errors.is_empty() => Ok(StampCard {
                id,
                name,
                stamps_required: self.stamps_required,
                min_amount,
                daily_limit: self.daily_limit,
                reward,
                reward_points: self.reward_points,
                ended: false,
            }),
            _ => Err(errors),
        }
    }
}

fn name_reward(input: &str) -> Result<String, FieldError> {
    name("reward", input, 100, "a free coffee")
}

fn weekday(input: &str) -> Option<Weekday> {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let s = input.trim().to_ascii_lowercase();
    days.into_iter()
        .find(|d| d.to_string().to_ascii_lowercase() == s)
}

fn minute(field: &'static str, input: Option<&str>, max: u16) -> Result<Option<u16>, FieldError> {
    let Some(text) = input.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let parsed = text
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u16>().ok()?, m.parse::<u16>().ok()?)))
        .filter(|(h, m)| text.len() == 5 && *m < 60 && h * 60 + m <= max);
    parsed.map(|(h, m)| Some(h * 60 + m)).ok_or_else(|| {
        FieldError::new(
            field,
            format!("{text:?} is not a time of day; write it as HH:MM, such as 17:00"),
        )
    })
}

fn date(field: &'static str, input: Option<&str>) -> Result<Option<time::Date>, FieldError> {
    let Some(text) = input.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).map(Some).map_err(|_| {
        FieldError::new(
            field,
            format!("{text:?} is not a date; write it as YYYY-MM-DD, such as 2026-12-31"),
        )
    })
}

impl PromotionInput {
    /// The promotion, created at program version `version`, or the fields that are wrong.
    pub fn parse(&self, id: RuleId, version: i64) -> Result<Promotion, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = name("name", &self.name, 60, "Tuesday double")
            .map_err(|e| errors.push(e))
            .ok();
        let effect = match (self.multiplier.as_deref().map(str::trim), self.bonus_points) {
            (Some(m), None) => match Decimal::from_str(m) {
                Ok(f) if f > Decimal::ONE && f <= MAX_MULTIPLIER && f.normalize().scale() <= 2 => {
                    Some(PromotionEffect::Multiplier { factor: f })
                }
                _ => {
                    errors.push(FieldError::new(
                        "multiplier",
                        format!("{m:?} must be a number above 1 and at most 10, such as 2 or 1.5"),
                    ));
                    None
                }
            },
            (None, Some(p)) if (1..=MAX_BONUS).contains(&p) => {
                Some(PromotionEffect::Bonus { points: p })
            }
            (None, Some(_)) => {
                errors.push(FieldError::new(
                    "bonus_points",
                    format!("must be a whole number from 1 to {MAX_BONUS}"),
                ));
                None
            }
            _ => {
                errors.push(FieldError::new(
                    "multiplier",
                    "give either multiplier (such as 2) or bonus_points (such as 50), not both",
                ));
                None
            }
        };
        let mut days = Vec::new();
        for d in &self.days {
            match weekday(d) {
                Some(day) if !days.contains(&day) => days.push(day),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    "days",
                    format!("{d:?} is not a day of the week; write monday ... sunday"),
                )),
            }
        }
        let from_minute = minute("from_time", self.from_time.as_deref(), 1439)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let to_minute = minute("to_time", self.to_time.as_deref(), 1440)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        if let (Some(f), Some(t)) = (from_minute, to_minute)
            && f >= t
        {
            errors.push(FieldError::new(
                "to_time",
                "must be after from_time on the same day, such as 17:00 to 20:00",
            ));
        }
        let from_date = date("from_date", self.from_date.as_deref())
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let to_date = date("to_date", self.to_date.as_deref())
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        if let (Some(f), Some(t)) = (from_date, to_date)
            && f > t
        {
            errors.push(FieldError::new("to_date", "must be on or after from_date"));
        }
        let min = min_amount(self.min_amount.as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        if self.per_customer_limit == Some(0) {
            errors.push(FieldError::new(
                "per_customer_limit",
                "must be at least 1; leave it out for no limit",
            ));
        }
        match (name, effect, min) {
            (Some(name), Some(effect), Some(min_amount)) if errors.is_empty() => Ok(Promotion {
                id,
                name,
                effect,
                schedule: Schedule {
                    days,
                    from_minute,
                    to_minute,
                    from_date,
                    to_date,
                },
                min_amount,
                per_customer_limit: self.per_customer_limit,
                since_version: version,
                ended: false,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn fields(e: Vec<FieldError>) -> Vec<String> {
        e.into_iter().map(|e| e.field.to_string()).collect()
    }

    #[test]
    fn cards_and_promotions_are_checked_field_by_field() {
        let card = CardInput {
            name: " Coffee card ".into(),
            stamps_required: 10,
            min_amount: Some("3.00".into()),
            daily_limit: Some(1),
            reward: "a free coffee".into(),
            reward_points: 0,
        };
        let program = ProgramInput::AddCard(card.clone())
            .parse(&Program::default(), Uuid::from_u128(1))
            .expect("card");
        assert_eq!(program.version, 1);
        assert_eq!(program.stamp_cards[0].name, "Coffee card");
        let bad = CardInput {
            name: String::new(),
            stamps_required: 1,
            min_amount: Some("-1".into()),
            daily_limit: Some(0),
            reward: String::new(),
            reward_points: -1,
        };
        assert_eq!(
            fields(bad.parse(Uuid::nil()).expect_err("bad")),
            [
                "name",
                "reward",
                "min_amount",
                "stamps_required",
                "daily_limit",
                "reward_points"
            ]
        );
        let promo = PromotionInput {
            name: "Tuesday double".into(),
            multiplier: Some("2".into()),
            days: vec!["Tuesday".into()],
            from_time: Some("17:00".into()),
            to_time: Some("24:00".into()),
            ..PromotionInput::default()
        };
        let p = promo.parse(Uuid::nil(), 3).expect("promotion");
        assert_eq!(p.schedule.from_minute, Some(1020));
        assert_eq!(p.schedule.to_minute, Some(1440));
        let too_much = PromotionInput {
            multiplier: Some("11".into()),
            days: vec!["funday".into()],
            from_time: Some("18:00".into()),
            to_time: Some("17:00".into()),
            from_date: Some("2026-12-31".into()),
            to_date: Some("2026-12-01".into()),
            per_customer_limit: Some(0),
            ..promo.clone()
        };
        assert_eq!(
            fields(too_much.parse(Uuid::nil(), 1).expect_err("bad")),
            [
                "multiplier",
                "days",
                "to_time",
                "to_date",
                "per_customer_limit"
            ]
        );
        let both = PromotionInput {
            bonus_points: Some(5),
            ..promo.clone()
        };
        assert_eq!(
            fields(both.parse(Uuid::nil(), 1).expect_err("both")),
            ["multiplier"]
        );
    }

    #[test]
    fn at_most_ten_promotions_run_and_ending_one_makes_room() {
        let promo = PromotionInput {
            name: "Bonus".into(),
            bonus_points: Some(5),
            ..PromotionInput::default()
        };
        let mut program = Program::default();
        for i in 0..MAX_ACTIVE_PROMOTIONS {
            program = ProgramInput::AddPromotion(promo.clone())
                .parse(&program, Uuid::from_u128(i as u128))
                .expect("room");
        }
        let full = ProgramInput::AddPromotion(promo.clone()).parse(&program, Uuid::from_u128(99));
        assert_eq!(fields(full.expect_err("full")), ["promotions"]);
        let ended = ProgramInput::End(Uuid::from_u128(0))
            .parse(&program, Uuid::nil())
            .expect("end");
        assert!(ended.promotions[0].ended);
        assert_eq!(ended.version, MAX_ACTIVE_PROMOTIONS as i64 + 1);
        assert!(
            ProgramInput::AddPromotion(promo)
                .parse(&ended, Uuid::from_u128(99))
                .is_ok()
        );
        assert_eq!(
            fields(
                ProgramInput::End(Uuid::from_u128(0))
                    .parse(&ended, Uuid::nil())
                    .expect_err("twice")
            ),
            ["id"]
        );
    }

    #[test]
    fn programs_and_grants_survive_json() {
        let program = ProgramInput::AddPromotion(PromotionInput {
            name: "Tuesday double".into(),
            multiplier: Some("2".into()),
            days: vec!["tuesday".into()],
            from_date: Some("2026-12-01".into()),
            ..PromotionInput::default()
        })
        .parse(&Program::default(), Uuid::from_u128(5))
        .expect("promotion");
        let json = serde_json::to_value(&program).expect("json");
        assert_eq!(
            serde_json::from_value::<Program>(json).expect("back"),
            program
        );
        let grants = vec![
            super::super::Grant {
                rule: super::super::GrantRule::Base,
                name: String::new(),
                points: 25,
                stamps: 0,
                progress: None,
            },
            super::super::Grant {
                rule: super::super::GrantRule::StampCard(Uuid::from_u128(1)),
                name: "Coffee".into(),
                points: 0,
                stamps: 1,
                progress: Some((7, 10)),
            },
        ];
        let json = serde_json::to_value(&grants).expect("json");
        assert_eq!(json[0]["rule"], "base");
        assert_eq!(
            serde_json::from_value::<Vec<super::super::Grant>>(json).expect("back"),
            grants
        );
    }
}
