//! Parsing a new tier and the tier rules: every check of their fields, so the API, the
//! pages and the command line refuse the same input with the same words.

use super::tier::{MAX_GRACE_MONTHS, MAX_TIERS, MAX_WINDOW_MONTHS, Tier, TierBasis, TierRules};
use super::{MAX_BONUS, MAX_MULTIPLIER, Program, RuleId};
use crate::domain::points::MAX_AMOUNT;
use crate::error::FieldError;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::str::FromStr;

/// A tier as a client writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    /// Name ("Gold"), 1-60 characters, unique among the running tiers.
    pub name: String,
    /// Points earned (or amount spent, with the `spend` basis) in the window that reach
    /// it, such as "500" or "250.00".
    pub threshold: String,
    /// The base points times this, 1 to 10 (such as "1.5"); none for 1.
    #[serde(default)]
    pub multiplier: Option<String>,
    /// Points given each time a customer moves up into it, 0-1,000,000.
    #[serde(default)]
    pub entry_bonus: i64,
}

/// The tier rules as a client writes them.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TierRulesInput {
    /// `points` (earned on purchases) or `spend` (amount spent).
    pub basis: String,
    /// The rolling window, 1-36 months.
    pub window_months: u32,
    /// Months a customer keeps a tier after they stop qualifying, 0-12.
    #[serde(default)]
    pub grace_months: u32,
}

impl TierInput {
    /// The tier, checked against the running ones of `program`, or the fields that are
    /// wrong.
    pub fn parse(&self, program: &Program, id: RuleId) -> Result<Tier, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "name",
                "must be 1-60 characters without line breaks, such as \"Gold\"",
            ));
        } else if program
            .running_tiers()
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(name))
        {
            errors.push(FieldError::new(
                "name",
                format!("a running tier is called {name:?} already; choose another name"),
            ));
        }
        let text = self.threshold.trim();
        let threshold = match Decimal::from_str(text) {
            Ok(d) if d > Decimal::ZERO && d.normalize().scale() <= 2 && d <= MAX_AMOUNT => {
                if program.running_tiers().iter().any(|t| t.threshold == d) {
                    errors.push(FieldError::new(
                        "threshold",
                        format!("a running tier starts at {text} already; tiers need different thresholds"),
                    ));
                }
                d
            }
            _ => {
                errors.push(FieldError::new(
                    "threshold",
                    format!(
                        "{text:?} is not a number above 0 and at most {MAX_AMOUNT}, such as 500"
                    ),
                ));
                Decimal::ZERO
            }
        };
        let multiplier = match self
            .multiplier
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Decimal::ONE,
            Some(m) => match Decimal::from_str(m) {
                Ok(f) if f >= Decimal::ONE && f <= MAX_MULTIPLIER && f.normalize().scale() <= 2 => {
                    f
                }
                _ => {
                    errors.push(FieldError::new(
                        "multiplier",
                        format!("{m:?} must be a number from 1 to 10, such as 1.5"),
                    ));
                    Decimal::ONE
                }
            },
        };
        if !(0..=MAX_BONUS).contains(&self.entry_bonus) {
            errors.push(FieldError::new(
                "entry_bonus",
                format!("must be a whole number from 0 (none) to {MAX_BONUS}"),
            ));
        }
        if program.running_tiers().len() >= MAX_TIERS {
            errors.push(FieldError::new(
                "tiers",
                format!("{MAX_TIERS} tiers are running already; end one first"),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Tier {
            id,
            name: name.to_owned(),
            threshold,
            multiplier,
            entry_bonus: self.entry_bonus,
            ended: false,
        })
    }
}

impl TierRulesInput {
    /// The rules, or the fields that are wrong.
    pub fn parse(&self) -> Result<TierRules, Vec<FieldError>> {
        let mut errors = Vec::new();
        let basis = match self.basis.trim().to_ascii_lowercase().as_str() {
            "points" => TierBasis::Points,
            "spend" => TierBasis::Spend,
            other => {
                errors.push(FieldError::new(
                    "basis",
                    format!("{other:?} is not a basis; write points or spend"),
                ));
                TierBasis::Points
            }
        };
        if !(1..=MAX_WINDOW_MONTHS).contains(&self.window_months) {
            errors.push(FieldError::new(
                "window_months",
                format!(
                    "must be a whole number of months from 1 to {MAX_WINDOW_MONTHS}, such as 12"
                ),
            ));
        }
        if self.grace_months > MAX_GRACE_MONTHS {
            errors.push(FieldError::new(
                "grace_months",
                format!("must be a whole number of months from 0 (none) to {MAX_GRACE_MONTHS}"),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(TierRules {
            basis,
            window_months: self.window_months,
            grace_months: self.grace_months,
        })
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
    fn tiers_are_checked_field_by_field_and_against_the_running_ones() {
        let gold = TierInput {
            name: " Gold ".into(),
            threshold: "500".into(),
            multiplier: Some("1.5".into()),
            entry_bonus: 50,
        };
        let tier = gold
            .parse(&Program::default(), Uuid::from_u128(1))
            .expect("tier");
        assert_eq!(
            (tier.name.as_str(), tier.multiplier),
            ("Gold", Decimal::new(15, 1))
        );
        let program = Program {
            tiers: vec![tier],
            ..Program::default()
        };
        assert_eq!(
            fields(gold.parse(&program, Uuid::nil()).expect_err("same")),
            ["name", "threshold"]
        );
        let bad = TierInput {
            name: String::new(),
            threshold: "-1".into(),
            multiplier: Some("11".into()),
            entry_bonus: -5,
        };
        assert_eq!(
            fields(
                bad.parse(&Program::default(), Uuid::nil())
                    .expect_err("bad")
            ),
            ["name", "threshold", "multiplier", "entry_bonus"]
        );
        let rules = TierRulesInput {
            basis: "visits".into(),
            window_months: 0,
            grace_months: 13,
        };
        assert_eq!(
            fields(rules.parse().expect_err("bad")),
            ["basis", "window_months", "grace_months"]
        );
    }
}
