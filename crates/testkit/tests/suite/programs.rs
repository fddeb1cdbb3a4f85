//! Loyalty programs on both backends: versions, the breakdown of an award, stamps
//! through the ledger (earned, redeemed for the card's reward, taken back by a refund),
//! promotions with their limits, retries, tenancy, and random sequences (awards, retries,
//! refunds, card redemptions, tier recalculations) that keep every invariant.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsOutcome, TxType};
use loyalty_core::domain::program::{
    BonusInput, CardInput, Grant, GrantRule, ProgramInput, PromotionInput, RuleId, StampKind,
    describe_grants,
};
use loyalty_core::domain::{CustomerId, Language, OrgStatus, Organization, PurchaseId, Role};
use loyalty_core::service::customers::{self, LedgerRange};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::program;
use loyalty_testkit::{TestDb, both_backends, fixed_clock, till};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use uuid::Uuid;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} cafe")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    db.store
        .insert_organization(
            &input.validate().expect("valid").org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .expect("org")
}

async fn reload(db: &TestDb, o: &Organization) -> Organization {
    db.store
        .organization_by_slug(&o.slug)
        .await
        .expect("read")
        .expect("org")
}

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: format!("test-{role}"),
            role: role.as_str().into(),
            request_id: None,
        },
        role,
    }
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

async fn customer(c: &Ctx<'_>, phone: &str) -> CustomerId {
    points::enroll(
        c,
        &EnrollInput {
            phone: Some(phone.into()),
            email: None,
            name: None,
        },
        None,
    )
    .await
    .expect("enroll")
    .id
}

fn coffee_card() -> CardInput {
    CardInput {
        name: "Coffee card".into(),
        stamps_required: 10,
        min_amount: Some("3.00".into()),
        daily_limit: Some(1),
        reward: "a free coffee".into(),
        reward_points: 0,
    }
}

fn thursday_double() -> PromotionInput {
    PromotionInput {
        name: "Thursday double".into(),
        multiplier: Some("2".into()),
        days: vec!["thursday".into()],
        ..PromotionInput::default()
    }
}

/// Sets up the coffee card and the Thursday double; returns the org re-read with them.
async fn coffee_shop(
    db: &TestDb,
    clock: &FixedClock,
    slug: &str,
) -> (Organization, RuleId, RuleId) {
    shop(db, clock, slug, coffee_card(), thursday_double()).await
}

async fn shop(
    db: &TestDb,
    clock: &FixedClock,
    slug: &str,
    card: CardInput,
    promotion: PromotionInput,
) -> (Organization, RuleId, RuleId) {
    let o = org(db, slug, clock).await;
    let admin = ctx(db, clock, &o, Role::Admin);
    let v1 = program::change(&admin, ProgramInput::AddCard(card))
        .await
        .expect("card");
    let o = reload(db, &o).await;
    let admin = ctx(db, clock, &o, Role::Admin);
    let v2 = program::change(&admin, ProgramInput::AddPromotion(promotion))
        .await
        .expect("promotion");
    assert_eq!((v1.version, v2.version), (1, 2));
    (
        reload(db, &o).await,
        v2.stamp_cards[0].id,
        v2.promotions[0].id,
    )
}

fn stamps_of(o: &PointsOutcome) -> i64 {
    o.stamps.iter().map(|s| s.stamps).sum()
}

both_backends! {
    async fn enrollment_bonuses_are_given_once(db) {
        let clock = fixed_clock();
        let o = org(&db, "beanery", &clock).await;
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let bad = program::change(&admin, ProgramInput::SetBonuses(BonusInput { signup_points: -1, contact_points: 2_000_000, birthday_points: 0 })).await.expect_err("bad");
        assert_eq!(bad.code(), "validation.failed");
        program::change(&admin, ProgramInput::SetBonuses(BonusInput { signup_points: 100, contact_points: 20, birthday_points: 0 })).await.expect("bonuses");
        let o = reload(&db, &o).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let with_email = points::enroll(&cashier, &EnrollInput { phone: None, email: Some("ann@example.com".into()), name: None }, None).await.expect("enroll");
        assert_eq!(with_email.balance, 120, "sign-up and contact");
        let phone_only = customer(&cashier, "202-555-0143").await;
        assert_eq!(points::customer(&cashier, phone_only).await.expect("read").balance, 100, "sign-up only");
        let notes: Vec<Option<String>> = db.store.ledger(o.id, Some(with_email.id), None, None, None, 10).await.expect("ledger").into_iter().map(|e| e.notes).collect();
        assert_eq!(notes, [Some("signup bonus".to_owned()), Some("contact bonus".to_owned())]);
        // Called again (a retry), nothing more is given.
        let again = program::enrollment_bonuses(&cashier, with_email.clone()).await.expect("again");
        assert_eq!(again.balance, 120);
        assert!(db.store.check_invariants(None).await.expect("check").holds());
    }

    async fn an_award_shows_its_breakdown_and_a_refund_takes_every_grant_back(db) {
        // 2025-01-23 14:05 UTC is a Thursday, 09:05 in New York.
        let clock = fixed_clock();
        let (o, card, promo) = coffee_shop(&db, &clock, "beanery", ).await;
        assert_eq!(o.program.version, 2);
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;

        let preview = program::preview(&cashier, points::parse_amount(&cashier, "25.00").expect("amount"), Some(c), None, None).await.expect("preview");
        assert_eq!(preview.summary, "25 base + 25 Thursday double + 1 stamp Coffee card (1/10)");
        assert_eq!(preview.points, 50);

        let k = key();
        let a = till::award(&cashier, c, "25.00", None, serde_json::json!({}), &k).await.expect("award");
        assert_eq!((a.entry.points, a.balance), (50, 50));
        let p = a.purchase.clone().expect("purchase");
        assert_eq!(p.program_version, 2);
        let rules: Vec<(GrantRule, i64, i64)> = p.grants.iter().map(|g| (g.rule, g.points, g.stamps)).collect();
        assert_eq!(rules, [(GrantRule::Base, 25, 0), (GrantRule::Promotion(promo), 25, 0), (GrantRule::StampCard(card), 0, 1)]);
        assert_eq!(p.grants[2].progress, Some((1, 10)));
        assert_eq!((a.stamps.len(), a.stamps[0].kind, a.stamps[0].balance_after), (1, StampKind::Earned, 1));
        assert_eq!(db.store.purchase(o.id, p.id).await.expect("read").expect("stored").grants, p.grants, "the breakdown is stored with the purchase");

        // A retry replays the first answer: no second stamp, no second promotion use.
        let again = till::award(&cashier, c, "25.00", None, serde_json::json!({}), &k).await.expect("retry");
        assert!(again.replayed);
        assert_eq!((again.balance, again.purchase.as_ref().map(|p| p.id)), (50, Some(p.id)));
        let state = db.store.customer_program_state(o.id, c, clock.now() - time::Duration::days(1)).await.expect("state");
        assert_eq!((state.stamps.get(&card), state.promotion_uses.get(&promo)), (Some(&1), Some(&1)));

        // One stamp a day: the second coffee earns points only.
        let b = till::award(&cashier, c, "4.00", None, serde_json::json!({}), &key()).await.expect("second");
        assert_eq!((b.entry.points, stamps_of(&b)), (8, 0));

        // A partial refund takes points in proportion; the rest of it takes the stamp and the use back.
        let half = till::reverse(&cashier, p.id, Some("12.50"), &key()).await.expect("half");
        assert_eq!((half.entry.points, stamps_of(&half)), (-25, 0));
        let rest = till::reverse(&cashier, p.id, None, &key()).await.expect("rest");
        assert_eq!((rest.entry.points, stamps_of(&rest), rest.balance), (-25, -1, 8));
        assert_eq!(rest.stamps[0].kind, StampKind::Reversed);
        let state = db.store.customer_program_state(o.id, c, clock.now()).await.expect("state");
        assert_eq!((state.stamps.get(&card), state.promotion_uses.get(&promo)), (Some(&0), Some(&1)), "the second coffee keeps its use");
        // The refunded purchase's stamp no longer counts against today's limit.
        let third = till::award(&cashier, c, "5.00", None, serde_json::json!({}), &key()).await.expect("third");
        assert_eq!(stamps_of(&third), 1);
        assert!(db.store.check_invariants(None).await.expect("check").holds());

        // Past versions stay readable; the other tenant sees none of it.
        assert_eq!(program::version(&cashier, 1).await.expect("v1").promotions.len(), 0);
        assert_eq!(program::version(&cashier, 9).await.expect_err("none").code(), "program.version_not_found");
        let other = org(&db, "elsewhere", &clock).await;
        assert!(db.store.customer_program_state(other.id, c, clock.now() - time::Duration::days(1)).await.expect("state").stamps.is_empty());
        assert_eq!(program::change(&cashier, ProgramInput::AddCard(coffee_card())).await.expect_err("cashier").code(), "auth.forbidden");
    }

    async fn the_history_reads_each_awards_breakdown_from_its_own_shop_only(db) {
        // 2025-01-23 is a Thursday: the double applies.
        let clock = fixed_clock();
        let (o, _, _) = coffee_shop(&db, &clock, "beanery").await;
        let (other, _, _) = coffee_shop(&db, &clock, "teahouse").await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let member = db.store.enroll_customer(o.id, &NewCustomer {
            phone: None, email: None, name: Some("Ann".into()), card_number: "400000000014".into(),
            identity_subject: Some("subject-ann".into()), created_by: None,
        }, &Actor::system(), clock.now()).await.expect("enroll");
        let a = till::award(&cashier, member.id, "25.00", None, serde_json::json!({}), &key()).await.expect("award");
        let b = till::award(&cashier, member.id, "4.00", None, serde_json::json!({}), &key()).await.expect("second");
        let (p, q) = (a.purchase.clone().expect("purchase"), b.purchase.clone().expect("purchase"));
        till::reverse(&cashier, q.id, None, &key()).await.expect("refund");
        let teller = ctx(&db, &clock, &other, Role::Cashier);
        let elsewhere = customer(&teller, "202-555-0144").await;
        let theirs = till::award(&teller, elsewhere, "10.00", None, serde_json::json!({}), &key()).await.expect("theirs").purchase.expect("purchase");

        // One read for a page of purchases, and never another shop's.
        let found: BTreeMap<PurchaseId, Vec<Grant>> = db.store.purchase_grants(o.id, &[p.id, q.id, theirs.id]).await.expect("read").into_iter().collect();
        assert_eq!(found, BTreeMap::from([(p.id, p.grants.clone()), (q.id, q.grants.clone())]));
        assert!(db.store.purchase_grants(o.id, &[]).await.expect("none").is_empty());
        assert!(db.store.purchase_grants(other.id, &[p.id]).await.expect("other").is_empty(), "tenants are isolated");
        // More ids than one query takes: every one is found, once.
        let mut many = vec![p.id, q.id];
        for _ in 0..203 {
            many.push(till::award(&cashier, member.id, "5.00", None, serde_json::json!({}), &key()).await.expect("visit").purchase.expect("purchase").id);
        }
        let read: BTreeMap<PurchaseId, Vec<Grant>> = db.store.purchase_grants(o.id, &many).await.expect("many").into_iter().collect();
        assert_eq!(read.len(), many.len());
        assert!(read.values().all(|g| g.len() >= 2), "base and the double at least");

        // The customer's own history: each award with what each rule gave; the refund without.
        let me = ctx(&db, &clock, &o, Role::Customer);
        let (_, lines) = customers::own_history(&me, Some("subject-ann"), LedgerRange::first(3)).await.expect("history");
        let kinds: Vec<TxType> = lines.iter().map(|l| l.entry.transaction_type).collect();
        assert_eq!(kinds, [TxType::Earned, TxType::Earned, TxType::Reversed]);
        let said: Vec<String> = lines.iter().map(|l| describe_grants(&l.grants, Language::PtBr)).collect();
        assert_eq!(said, ["25 base + 25 Thursday double + 1 selo Coffee card (1/10)", "4 base + 4 Thursday double", ""]);
        assert_eq!(describe_grants(&lines[0].grants, Language::En), "25 base + 25 Thursday double + 1 stamp Coffee card (1/10)");
        // Another shop's customer role reads nothing of this one.
        let stranger = ctx(&db, &clock, &other, Role::Customer);
        assert!(customers::own_history(&stranger, Some("subject-ann"), LedgerRange::first(10)).await.is_err());
    }

    async fn the_tenth_stamp_offers_the_reward_and_redeeming_empties_the_card(db) {
        let mut clock = fixed_clock();
        let (o, card, _) = coffee_shop(&db, &clock, "beanery").await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        let none = program::redeem_card(&cashier, c, card, &key()).await.expect_err("empty");
        assert_eq!(none.code(), "stamps.insufficient");
        assert_eq!(program::redeem_card(&cashier, c, Uuid::new_v4(), &key()).await.expect_err("no card").code(), "stamp_card.not_found");
        for day in 0..10 {
            let c2 = ctx(&db, &clock, &o, Role::Cashier);
            let a = till::award(&c2, c, "3.50", None, serde_json::json!({}), &key()).await.expect("award");
            assert_eq!(stamps_of(&a), 1, "day {day}");
            let moved = FixedClock::new(clock.now() + time::Duration::days(1));
            clock = moved;
        }
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let cards = program::cards(&cashier, c).await.expect("cards");
        assert_eq!((cards[0].stamps, cards[0].full, cards[0].reward.as_str()), (10, true, "a free coffee"));
        let k = key();
        let r = program::redeem_card(&cashier, c, card, &k).await.expect("redeem");
        assert_eq!((r.entry.points, r.entry.transaction_type, r.entry.notes.as_deref()), (0, TxType::Redeemed, Some("Coffee card: a free coffee")));
        assert_eq!((stamps_of(&r), r.stamps[0].balance_after), (-10, 0));
        let again = program::redeem_card(&cashier, c, card, &k).await.expect("replay");
        assert!(again.replayed);
        assert_eq!(program::cards(&cashier, c).await.expect("cards")[0].stamps, 0, "a retry does not redeem twice");
        assert!(db.store.check_invariants(None).await.expect("check").holds());
    }

    async fn promotions_respect_their_limit_and_the_program_refuses_bad_changes(db) {
        let clock = fixed_clock();
        let o = org(&db, "beanery", &clock).await;
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let once = PromotionInput { name: "Welcome".into(), bonus_points: Some(100), per_customer_limit: Some(1), ..PromotionInput::default() };
        program::change(&admin, ProgramInput::AddPromotion(once)).await.expect("promotion");
        // The admin's copy of the org is at version 0: a second change from it is refused.
        let stale = program::change(&admin, ProgramInput::AddCard(coffee_card())).await.expect_err("stale");
        assert_eq!(stale.code(), "program.changed");
        let bad = PromotionInput { name: "Huge".into(), multiplier: Some("11".into()), ..PromotionInput::default() };
        let o = reload(&db, &o).await;
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let e = program::change(&admin, ProgramInput::AddPromotion(bad)).await.expect_err("bad");
        assert_eq!(e.code(), "validation.failed");
        assert_eq!(reload(&db, &o).await.program.version, 1, "nothing was written");
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        let first = till::award(&cashier, c, "10.00", None, serde_json::json!({}), &key()).await.expect("first");
        let second = till::award(&cashier, c, "10.00", None, serde_json::json!({}), &key()).await.expect("second");
        assert_eq!((first.entry.points, second.entry.points), (110, 10));
        // Refunding the purchase that used it gives the use back.
        till::reverse(&cashier, first.purchase.expect("p").id, None, &key()).await.expect("refund");
        let third = till::award(&cashier, c, "10.00", None, serde_json::json!({}), &key()).await.expect("third");
        assert_eq!(third.entry.points, 110);
        // Ending it stops it.
        let id = o.program.promotions[0].id;
        program::change(&admin, ProgramInput::End(id)).await.expect("end");
        let o = reload(&db, &o).await;
        assert!(o.program.is_plain());
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let fourth = till::award(&cashier, c, "10.00", None, serde_json::json!({}), &key()).await.expect("fourth");
        assert_eq!((fourth.entry.points, fourth.purchase.expect("p").grants.len()), (10, 0));
    }

    async fn random_award_redeem_reverse_sequences_keep_every_invariant(db) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED_0013);
        let start = fixed_clock();
        // A short card without a daily limit and a limited bonus, so that cards fill,
        // get redeemed and uses run out within the sequence.
        let card_input = CardInput { stamps_required: 3, daily_limit: None, reward_points: 15, ..coffee_card() };
        let bonus = PromotionInput { name: "Bonus".into(), bonus_points: Some(7), per_customer_limit: Some(2), ..PromotionInput::default() };
        let (o, card, _) = shop(&db, &start, "beanery", card_input, bonus).await;
        // A tier reached with 30 points, whose entry bonus and multiplier the
        // recalculation steps bring into the sequence.
        let silver = loyalty_core::domain::program::TierInput { name: "Silver".into(), threshold: "30".into(), multiplier: Some("1.5".into()), entry_bonus: 5 };
        program::change(&ctx(&db, &start, &o, Role::Admin), ProgramInput::AddTier(silver)).await.expect("tier");
        let o = reload(&db, &o).await;
        let mut moves = 0;
        let mut redeemed = 0;
        let setup = ctx(&db, &start, &o, Role::Admin);
        let customers = [customer(&setup, "202-555-0143").await, customer(&setup, "202-555-0144").await];
        let mut purchases = Vec::new();
        let mut stamp_sum: BTreeMap<CustomerId, i64> = BTreeMap::new();
        let mut now = start.now();
        for step in 0..60 {
            let clock = FixedClock::new(now);
            let admin = ctx(&db, &clock, &o, Role::Admin);
            let c = customers[rng.random_range(0..2)];
            match rng.random_range(0..10) {
                0..=4 => {
                    let amount = format!("{}.{:02}", rng.random_range(1..40), rng.random_range(0..100));
                    let k = key();
                    let a = till::award(&admin, c, &amount, None, serde_json::json!({}), &k).await.expect("award");
                    *stamp_sum.entry(c).or_default() += stamps_of(&a);
                    if rng.random_bool(0.3) {
                        let r = till::award(&admin, c, &amount, None, serde_json::json!({}), &k).await.expect("retry");
                        assert!(r.replayed && r.entry == a.entry && r.stamps == a.stamps, "step {step}: a retry grants nothing new");
                    }
                    let p = a.purchase.expect("purchase");
                    assert_eq!(p.points_awarded, p.grants.iter().map(|g| g.points).sum::<i64>(), "step {step}");
                    purchases.push(p);
                }
                5..=6 if !purchases.is_empty() => {
                    let p = &purchases[rng.random_range(0..purchases.len())];
                    let amount = if rng.random_bool(0.5) { Some("0.50") } else { None };
                    match till::reverse(&admin, p.id, amount, &key()).await {
                        Ok(r) => *stamp_sum.entry(p.customer_id).or_default() += stamps_of(&r),
                        Err(e) => assert!(["purchase.already_reversed", "purchase.reverse_exceeds", "points.insufficient"].contains(&e.code().as_str()), "step {step}: {e:?}"),
                    }
                }
                7 => match program::redeem_card(&admin, c, card, &key()).await {
                    Ok(r) => {
                        assert_eq!(r.entry.points, 15);
                        redeemed += 1;
                        *stamp_sum.entry(c).or_default() += stamps_of(&r);
                    }
                    Err(e) => assert_eq!(e.code(), "stamps.insufficient", "step {step}"),
                },
                8 => {
                    let pass = loyalty_core::service::tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("tier pass");
                    moves += pass.up + pass.down;
                    let again = loyalty_core::service::tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("again");
                    assert_eq!((again.up, again.down, again.bonus_points), (0, 0, 0), "step {step}: a second pass grants nothing");
                }
                _ => now += time::Duration::hours(rng.random_range(1..30)),
            }
            for c in customers {
                let state = db.store.customer_program_state(o.id, c, now).await.expect("state");
                let held = state.stamps.get(&card).copied().unwrap_or(0);
                assert!(held >= 0, "step {step}: stamps never negative");
                assert_eq!(held, stamp_sum.get(&c).copied().unwrap_or(0), "step {step}: stamps = sum of stamp entries");
            }
        }
        assert!(redeemed > 0, "the sequence redeemed a full card");
        assert!(moves > 0, "the sequence moved a customer between tiers");
        assert!(db.store.check_invariants(None).await.expect("check").holds());
        // Refunding everything that is left takes back every point each rule gave.
        let clock = FixedClock::new(now);
        let admin = ctx(&db, &clock, &o, Role::Admin);
        for p in &purchases {
            match till::reverse(&admin, p.id, None, &key()).await {
                Ok(r) => *stamp_sum.entry(p.customer_id).or_default() += stamps_of(&r),
                Err(e) => assert_eq!(e.code(), "purchase.already_reversed"),
            }
        }
        for c in customers {
            let customer = points::customer(&admin, c).await.expect("customer");
            let state = db.store.customer_program_state(o.id, c, now).await.expect("state");
            let stamps = state.stamps.get(&card).copied().unwrap_or(0);
            assert_eq!(stamps, stamp_sum.get(&c).copied().unwrap_or(0));
            // What is left is what the cards' rewards gave, less what refunds could not take
            // back because the stamps were already spent: never more than the rewards.
            let entries = db.store.ledger(o.id, Some(c), None, None, None, 1000).await.expect("ledger");
            let rewards: i64 = entries.iter().filter(|e| matches!(e.reference_type.as_deref(), Some("stamp_card" | "tier"))).map(|e| e.points).sum();
            assert_eq!(customer.balance, rewards, "a full reversal of every purchase takes back every purchase point (card rewards and tier entry bonuses stay)");
            assert!(stamps >= 0);
            assert!(state.promotion_uses.is_empty(), "nor promotion uses");
        }
        assert!(db.store.check_invariants(None).await.expect("check").holds());
    }
}
