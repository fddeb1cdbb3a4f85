//! The program engine: a pure function from (earning rule, program version, customer
//! state, purchase, local time) to the grants the purchase earns, each naming its rule.
//! Decided here once; the ledger (`ledger_tx`) stores what it returns.
//!
//! How the kinds combine:
//! - the earning rule gives the base points (nothing below its minimum purchase);
//! - the customer's tier (a running one) adds `floor(base × (multiplier − 1))`;
//! - at most one promotion applies per purchase: of those running now that the
//!   purchase qualifies for and the customer has not used up, the one that gives the
//!   most points; on a tie the newest (highest `since_version`, then id);
//! - every running stamp card gives one stamp when the purchase reaches its minimum and
//!   the customer is under its daily limit.

use super::{Program, PromotionEffect, RuleId};
use crate::domain::Language;
use crate::domain::points::{Amount, EarningRule, MAX_POINTS};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the engine needs to know of the customer, read in the award's transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerState {
    /// Stamps held now, per card.
    pub stamps: BTreeMap<RuleId, i64>,
    /// Stamps kept from today's purchases (the org's time zone; a refunded purchase's
    /// stamp no longer counts), per card.
    pub stamps_today: BTreeMap<RuleId, i64>,
    /// Purchases that got each promotion (less those fully refunded).
    pub promotion_uses: BTreeMap<RuleId, i64>,
    /// The customer's tier, as the last recalculation left it.
    pub tier: Option<RuleId>,
}

/// The purchase being awarded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchaseFacts {
    /// Amount paid.
    pub amount: Amount,
    /// When, in the organization's time zone.
    pub local_time: time::PrimitiveDateTime,
}

/// Which rule gave a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", content = "id", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GrantRule {
    /// The earning rule.
    Base,
    /// A promotion.
    Promotion(uuid::Uuid),
    /// A stamp card.
    StampCard(uuid::Uuid),
    /// The customer's tier's multiplier.
    Tier(uuid::Uuid),
}

/// One part of what a purchase earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    /// The rule.
    #[serde(flatten)]
    pub rule: GrantRule,
    /// The rule's name (empty for the earning rule).
    pub name: String,
    /// Points given.
    pub points: i64,
    /// Stamps given (stamp cards only).
    pub stamps: i64,
    /// For a stamp: the card's stamps after it, and how many fill it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<(i64, u32)>,
}

impl Grant {
    /// The grant as the till reads it, in `lang`: `25 base`, `25 Tuesday double`,
    /// `1 stamp Coffee card (7/10)` (`1 selo Coffee card (7/10)` in Portuguese).
    pub fn describe(&self, lang: Language) -> String {
        match (self.rule, self.progress) {
            (GrantRule::Base, _) => format!("{} base", lang.int(self.points)),
            (GrantRule::StampCard(_), Some((have, need))) => {
                let stamp = match (lang, self.stamps) {
                    (Language::PtBr, 1) => "selo",
                    (Language::PtBr, _) => "selos",
                    (Language::En, 1) => "stamp",
                    (Language::En, _) => "stamps",
                };
                format!("{} {stamp} {} ({have}/{need})", self.stamps, self.name)
            }
            _ => format!("{} {}", lang.int(self.points), self.name),
        }
    }
}

/// What each rule of a purchase gave, as the customer and the cashier read it in
/// `lang`: `25 base + 25 Tuesday double + 1 stamp Coffee card (7/10)`. The one way a
/// breakdown is written: the till's confirmation, the admin's calculator, the API's
/// `summary`, the customer portal's history, the receipt mail and the exports.
pub fn describe_grants(grants: &[Grant], lang: Language) -> String {
    grants
        .iter()
        .map(|g| g.describe(lang))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Whether a breakdown says more than the points total: more than one rule gave, or a
/// stamp was given. The till and the portal show it only then; a purchase that earned
/// only its base points reads the same without it.
pub fn explains(grants: &[Grant]) -> bool {
    grants.len() > 1 || grants.iter().any(|g| g.stamps > 0)
}

/// Total points of a list of grants.
pub fn total_points(grants: &[Grant]) -> i64 {
    grants
        .iter()
        .map(|g| g.points)
        .sum::<i64>()
        .clamp(0, MAX_POINTS)
}

/// The grants a purchase earns. Grants of zero points and zero stamps are left out, so
/// a purchase below every minimum earns an empty list.
pub fn evaluate(
    earning: &EarningRule,
    program: &Program,
    state: &CustomerState,
    purchase: &PurchaseFacts,
) -> Vec<Grant> {
    let amount = purchase.amount.value();
    let base = earning.points_for(purchase.amount);
    let mut grants = Vec::new();
    if base > 0 {
        grants.push(Grant {
            rule: GrantRule::Base,
            name: String::new(),
            points: base,
            stamps: 0,
            progress: None,
        });
    }
    if let Some(tier) = state
        .tier
        .and_then(|id| program.tier(id))
        .filter(|t| !t.ended)
    {
        let points = promotion_points(
            PromotionEffect::Multiplier {
                factor: tier.multiplier,
            },
            base,
        );
        if points > 0 {
            grants.push(Grant {
                rule: GrantRule::Tier(tier.id),
                name: tier.name.clone(),
                points: points.min(MAX_POINTS - base),
                stamps: 0,
                progress: None,
            });
        }
    }
    let given: i64 = grants.iter().map(|g| g.points).sum();
    let best = program
        .promotions
        .iter()
        .filter(|p| {
            !p.ended
                && amount >= p.min_amount
                && p.schedule.contains(purchase.local_time)
                && p.per_customer_limit.is_none_or(|limit| {
                    state.promotion_uses.get(&p.id).copied().unwrap_or(0) < i64::from(limit)
                })
        })
        .map(|p| (promotion_points(p.effect, base), p))
        .filter(|(points, _)| *points > 0)
        .max_by_key(|(points, p)| (*points, p.since_version, p.id));
    if let Some((points, p)) = best {
        grants.push(Grant {
            rule: GrantRule::Promotion(p.id),
            name: p.name.clone(),
            points: points.min(MAX_POINTS - given),
            stamps: 0,
            progress: None,
        });
    }
    for card in program.stamp_cards.iter().filter(|c| !c.ended) {
        let today = state.stamps_today.get(&card.id).copied().unwrap_or(0);
        if amount < card.min_amount || card.daily_limit.is_some_and(|l| today >= i64::from(l)) {
            continue;
        }
        let have = state.stamps.get(&card.id).copied().unwrap_or(0) + 1;
        grants.push(Grant {
            rule: GrantRule::StampCard(card.id),
            name: card.name.clone(),
            points: 0,
            stamps: 1,
            progress: Some((have, card.stamps_required)),
        });
    }
    grants
}

/// Points a promotion adds to `base`.
pub fn promotion_points(effect: PromotionEffect, base: i64) -> i64 {
    match effect {
        PromotionEffect::Multiplier { factor } => (Decimal::from(base) * (factor - Decimal::ONE))
            .floor()
            .to_i64()
            .unwrap_or(0)
            .clamp(0, MAX_POINTS),
        PromotionEffect::Bonus { points } => points.clamp(0, MAX_POINTS),
    }
}

#[cfg(test)]
mod tests;
