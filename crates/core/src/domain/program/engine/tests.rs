//! The engine's worked examples and its invariants over random programs.

use super::*;
use crate::domain::program::{Promotion, Schedule, StampCard};
use proptest::prelude::*;
use std::str::FromStr;
use time::macros::datetime;
use time::{PrimitiveDateTime, Weekday};
use uuid::Uuid;

fn amount(s: &str) -> Amount {
    Amount::parse(s, 2).expect("amount")
}

fn card(n: u128, min: &str, daily: Option<u32>) -> StampCard {
    StampCard {
        id: Uuid::from_u128(n),
        name: "Coffee card".into(),
        stamps_required: 10,
        min_amount: Decimal::from_str(min).expect("min"),
        daily_limit: daily,
        reward: "a free coffee".into(),
        reward_points: 0,
        ended: false,
    }
}

fn promo(n: u128, effect: PromotionEffect, days: Vec<Weekday>, version: i64) -> Promotion {
    Promotion {
        id: Uuid::from_u128(n),
        name: format!("promo {n}"),
        effect,
        schedule: Schedule {
            days,
            ..Schedule::default()
        },
        min_amount: Decimal::ZERO,
        per_customer_limit: None,
        since_version: version,
        ended: false,
    }
}

fn double() -> PromotionEffect {
    PromotionEffect::Multiplier {
        factor: Decimal::TWO,
    }
}

const TUESDAY: PrimitiveDateTime = datetime!(2026-12-01 17:00);
const WEDNESDAY: PrimitiveDateTime = datetime!(2026-12-02 17:00);

#[test]
fn a_tuesday_coffee_earns_base_double_and_a_stamp() {
    let mut program = Program {
        version: 2,
        bonuses: Default::default(),
        tiers: Vec::new(),
        tier_rules: Default::default(),
        stamp_cards: vec![card(1, "3.00", Some(1))],
        promotions: vec![promo(2, double(), vec![Weekday::Tuesday], 2)],
    };
    let mut state = CustomerState::default();
    state.stamps.insert(Uuid::from_u128(1), 6);
    let facts = PurchaseFacts {
        amount: amount("25.00"),
        local_time: TUESDAY,
    };
    let grants = evaluate(&EarningRule::default(), &program, &state, &facts);
    let said: Vec<String> = grants.iter().map(|g| g.describe(Language::En)).collect();
    assert_eq!(
        said,
        ["25 base", "25 promo 2", "1 stamp Coffee card (7/10)"],
        "{grants:?}"
    );
    assert_eq!(total_points(&grants), 50);

    let wednesday = PurchaseFacts {
        local_time: WEDNESDAY,
        ..facts
    };
    let grants = evaluate(&EarningRule::default(), &program, &state, &wednesday);
    assert_eq!(
        total_points(&grants),
        25,
        "the promotion runs on Tuesdays only"
    );

    state.stamps_today.insert(Uuid::from_u128(1), 1);
    let grants = evaluate(&EarningRule::default(), &program, &state, &facts);
    assert!(
        grants.iter().all(|g| g.stamps == 0),
        "one stamp a day: {grants:?}"
    );

    program.promotions[0].ended = true;
    program.stamp_cards[0].ended = true;
    assert!(program.is_plain());
    let grants = evaluate(&EarningRule::default(), &program, &state, &facts);
    assert_eq!(grants.len(), 1);
}

#[test]
fn the_most_valuable_promotion_wins_and_the_newest_breaks_a_tie() {
    let program = Program {
        version: 3,
        bonuses: Default::default(),
        tiers: Vec::new(),
        tier_rules: Default::default(),
        stamp_cards: vec![],
        promotions: vec![
            promo(1, double(), vec![], 1),
            promo(2, PromotionEffect::Bonus { points: 30 }, vec![], 2),
            promo(3, PromotionEffect::Bonus { points: 25 }, vec![], 3),
        ],
    };
    let facts = PurchaseFacts {
        amount: amount("25.00"),
        local_time: TUESDAY,
    };
    let grants = evaluate(
        &EarningRule::default(),
        &program,
        &CustomerState::default(),
        &facts,
    );
    assert_eq!(grants[1].rule, GrantRule::Promotion(Uuid::from_u128(2)));
    let small = PurchaseFacts {
        amount: amount("30.00"),
        ..facts
    };
    // double gives 30, the bonus 30: the newer bonus wins.
    let grants = evaluate(
        &EarningRule::default(),
        &program,
        &CustomerState::default(),
        &small,
    );
    assert_eq!(grants[1].rule, GrantRule::Promotion(Uuid::from_u128(2)));
    let mut used = CustomerState::default();
    let mut limited = program.clone();
    limited.promotions[1].per_customer_limit = Some(1);
    used.promotion_uses.insert(Uuid::from_u128(2), 1);
    let grants = evaluate(&EarningRule::default(), &limited, &used, &small);
    assert_eq!(
        grants[1].rule,
        GrantRule::Promotion(Uuid::from_u128(1)),
        "a promotion used up gives way to the next"
    );
}

#[test]
fn a_purchase_below_every_minimum_earns_nothing() {
    let program = Program {
        version: 1,
        bonuses: Default::default(),
        tiers: Vec::new(),
        tier_rules: Default::default(),
        stamp_cards: vec![card(1, "3.00", None)],
        promotions: vec![promo(2, PromotionEffect::Bonus { points: 5 }, vec![], 1)],
    };
    let mut program = program;
    program.promotions[0].min_amount = Decimal::from(3);
    let rule = EarningRule {
        points_per_unit: Decimal::ONE,
        min_purchase: Decimal::from(5),
    };
    let facts = PurchaseFacts {
        amount: amount("2.99"),
        local_time: TUESDAY,
    };
    assert!(evaluate(&rule, &program, &CustomerState::default(), &facts).is_empty());
}

fn arb_effect() -> impl Strategy<Value = PromotionEffect> {
    prop_oneof![
        (101i64..=1000).prop_map(|f| PromotionEffect::Multiplier {
            factor: Decimal::new(f, 2)
        }),
        (1i64..=MAX_POINTS / 1000).prop_map(|points| PromotionEffect::Bonus { points }),
    ]
}

fn arb_program() -> impl Strategy<Value = Program> {
    let promos = proptest::collection::vec(
        (
            arb_effect(),
            proptest::collection::vec(0u8..7, 0..3),
            0i64..5000,
            proptest::option::of(1u32..3),
            any::<bool>(),
        ),
        0..12,
    );
    let cards = proptest::collection::vec(
        (0i64..5000, proptest::option::of(1u32..3), any::<bool>()),
        0..4,
    );
    let tiers = proptest::collection::vec((10i64..=100, any::<bool>()), 0..4);
    (promos, cards, tiers).prop_map(|(promos, cards, tiers)| Program {
        version: 7,
        bonuses: Default::default(),
        tier_rules: Default::default(),
        tiers: tiers
            .into_iter()
            .enumerate()
            .map(|(i, (tenths, ended))| crate::domain::program::Tier {
                id: Uuid::from_u128(200 + i as u128),
                name: format!("t{i}"),
                threshold: Decimal::from(100 * i as i64),
                multiplier: Decimal::new(tenths, 1),
                entry_bonus: 0,
                ended,
            })
            .collect(),
        promotions: promos
            .into_iter()
            .enumerate()
            .map(|(i, (effect, days, min, limit, ended))| Promotion {
                id: Uuid::from_u128(100 + i as u128),
                name: format!("p{i}"),
                effect,
                schedule: Schedule {
                    days: days
                        .into_iter()
                        .map(|d| Weekday::Monday.nth_next(d))
                        .collect(),
                    ..Schedule::default()
                },
                min_amount: Decimal::new(min, 2),
                per_customer_limit: limit,
                since_version: i as i64,
                ended,
            })
            .collect(),
        stamp_cards: cards
            .into_iter()
            .enumerate()
            .map(|(i, (min, daily, ended))| StampCard {
                id: Uuid::from_u128(i as u128 + 1),
                name: format!("c{i}"),
                stamps_required: 10,
                min_amount: Decimal::new(min, 2),
                daily_limit: daily,
                reward: "r".into(),
                reward_points: 0,
                ended,
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn grants_keep_the_engine_invariants(
        program in arb_program(),
        cents in 1i64..10_000_000,
        rate_tenths in 0i64..50,
        min_cents in 0i64..5000,
        day in 0u8..7,
        uses in proptest::collection::vec(0i64..4, 12),
        today in proptest::collection::vec(0i64..4, 4),
        tier in 0u128..5,
    ) {
        let rule = EarningRule {
            points_per_unit: Decimal::new(rate_tenths, 1),
            min_purchase: Decimal::new(min_cents, 2),
        };
        let a = Amount::from_decimal(Decimal::new(cents, 2), 2).expect("amount");
        let local = datetime!(2026-11-30 12:00) + time::Duration::days(i64::from(day));
        let mut state = CustomerState::default();
        for (i, n) in uses.iter().enumerate() {
            state.promotion_uses.insert(Uuid::from_u128(100 + i as u128), *n);
        }
        for (i, n) in today.iter().enumerate() {
            state.stamps_today.insert(Uuid::from_u128(i as u128 + 1), *n);
        }
        state.tier = (tier < 4).then(|| Uuid::from_u128(200 + tier));
        let facts = PurchaseFacts { amount: a, local_time: local };
        let grants = evaluate(&rule, &program, &state, &facts);
        prop_assert_eq!(&grants, &evaluate(&rule, &program, &state, &facts), "deterministic");
        // The tier's part is its multiplier on the base, only while the tier runs.
        let tier_given: i64 = grants.iter().filter(|g| matches!(g.rule, GrantRule::Tier(_))).map(|g| g.points).sum();
        let tier_due = state.tier.and_then(|id| program.tier(id)).filter(|t| !t.ended)
            .map_or(0, |t| promotion_points(PromotionEffect::Multiplier { factor: t.multiplier }, rule.points_for(a)));
        prop_assert_eq!(tier_given, tier_due);
        let base = rule.points_for(a);
        prop_assert!(grants.iter().all(|g| g.points >= 0 && (g.points > 0 || g.stamps > 0)));
        // The base grant is exactly the earning rule's points.
        let base_given: i64 = grants.iter().filter(|g| g.rule == GrantRule::Base).map(|g| g.points).sum();
        prop_assert_eq!(base_given, base);
        // At most one promotion; it is running, qualifies, is not used up, and is the most valuable.
        let promos: Vec<&Grant> = grants.iter().filter(|g| matches!(g.rule, GrantRule::Promotion(_))).collect();
        prop_assert!(promos.len() <= 1);
        let eligible: Vec<i64> = program.promotions.iter().filter(|p| {
            !p.ended && a.value() >= p.min_amount && p.schedule.contains(local)
                && p.per_customer_limit.is_none_or(|l| state.promotion_uses.get(&p.id).copied().unwrap_or(0) < i64::from(l))
        }).map(|p| promotion_points(p.effect, base)).collect();
        let best = eligible.iter().copied().max().unwrap_or(0);
        prop_assert_eq!(promos.first().map_or(0, |g| g.points), best);
        if let Some(GrantRule::Promotion(id)) = promos.first().map(|g| g.rule) {
            let p = program.promotion(id).expect("named promotion exists");
            if let PromotionEffect::Multiplier { .. } = p.effect {
                prop_assert!(promos[0].points <= 9 * base, "a multiplier is at most 10x");
            }
        }
        // At most one stamp per running card, only above its minimum and under its daily limit.
        for card in &program.stamp_cards {
            let stamps: i64 = grants.iter().filter(|g| g.rule == GrantRule::StampCard(card.id)).map(|g| g.stamps).sum();
            let qualifies = !card.ended && a.value() >= card.min_amount
                && card.daily_limit.is_none_or(|l| state.stamps_today.get(&card.id).copied().unwrap_or(0) < i64::from(l));
            prop_assert_eq!(stamps, i64::from(qualifies));
        }
        prop_assert!(total_points(&grants) <= MAX_POINTS);
        if program.is_plain() {
            prop_assert!(grants.len() <= 1, "a plain program gives only the base");
        }
    }
}
