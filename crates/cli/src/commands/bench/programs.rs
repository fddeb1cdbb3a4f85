//! `loyalty bench --programs`: the award rate with a full program (10 active
//! promotions, 3 tiers, 2 stamp cards) against the plain earning rule, on the same
//! server, in phases taken in turn so both see the same machine.

use loyalty_core::domain::Organization;
use loyalty_core::domain::program::{
    CardInput, ProgramInput, PromotionInput, TierInput, TierRulesInput,
};
use loyalty_core::service::points::Ctx;
use loyalty_core::service::{orgs, program};

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The program the benchmark measures: every kind the engine decides, several of
/// each matching most purchases, so each award weighs all of them.
pub(super) fn full_program() -> Vec<ProgramInput> {
    let mut changes = vec![
        ProgramInput::AddCard(CardInput {
            name: "Coffee card".into(),
            stamps_required: 10,
            min_amount: Some("3.00".into()),
            daily_limit: Some(1),
            reward: "a free coffee".into(),
            reward_points: 0,
        }),
        ProgramInput::AddCard(CardInput {
            name: "Lunch card".into(),
            stamps_required: 8,
            min_amount: Some("10.00".into()),
            daily_limit: None,
            reward: "lunch on us".into(),
            reward_points: 50,
        }),
        ProgramInput::SetTierRules(TierRulesInput {
            basis: "points".into(),
            window_months: 12,
            grace_months: 1,
        }),
    ];
    for (name, threshold, multiplier, bonus) in [
        ("Silver", "20", "1.25", 5),
        ("Gold", "60", "1.5", 10),
        ("Platinum", "150", "2", 20),
    ] {
        changes.push(ProgramInput::AddTier(TierInput {
            name: name.into(),
            threshold: threshold.into(),
            multiplier: Some(multiplier.into()),
            entry_bonus: bonus,
        }));
    }
    for i in 0..10usize {
        let (multiplier, bonus_points) = if i % 2 == 0 {
            (Some(format!("{}", 2 + i % 3)), None)
        } else {
            (None, Some(5 + i as i64))
        };
        changes.push(ProgramInput::AddPromotion(PromotionInput {
            name: format!("Promotion {}", i + 1),
            multiplier,
            bonus_points,
            // Most run every day; some only on a few days, as a shop's would.
            days: if i < 6 {
                Vec::new()
            } else {
                DAYS.iter()
                    .skip(i % 3)
                    .step_by(2)
                    .map(|d| (*d).to_owned())
                    .collect()
            },
            min_amount: (i % 4 == 1).then(|| "5.00".into()),
            per_customer_limit: (i % 5 == 3).then_some(3),
            ..PromotionInput::default()
        }));
    }
    changes
}

/// Gives the organization of `ctx` the full program, one version per change; returns
/// the organization as it then is.
pub(super) async fn set_up(ctx: &Ctx<'_>) -> anyhow::Result<Organization> {
    let mut org = ctx.org.clone();
    if !org.program.promotions.is_empty() || !org.program.stamp_cards.is_empty() {
        return Ok(org);
    }
    for change in full_program() {
        let c = Ctx {
            store: ctx.store,
            clock: ctx.clock,
            org: &org,
            actor: ctx.actor.clone(),
            role: ctx.role,
        };
        program::change(&c, change).await?;
        org = orgs::get(ctx.store, org.slug.as_str()).await?;
    }
    Ok(org)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loyalty_core::domain::program::Program;
    use uuid::Uuid;

    #[test]
    fn the_benchmarks_program_is_valid_and_as_large_as_the_issue_names() {
        let mut p = Program::default();
        for change in full_program() {
            p = change
                .parse(&p, Uuid::new_v4())
                .unwrap_or_else(|e| panic!("{change:?}: {e:?}"));
        }
        assert_eq!(p.promotions.iter().filter(|x| !x.ended).count(), 10);
        assert_eq!(p.running_tiers().len(), 3);
        assert_eq!(p.stamp_cards.len(), 2);
    }
}
