//! Tiers and the birthday bonus on both backends: the recalculation moves customers up
//! (with the entry bonus, once) and down (at once, or after the grace period), the tier
//! multiplies the base points of an award, moves are rows of `tier_moves` and one audit
//! record per pass, a second pass changes nothing, one organization's pass leaves
//! another's customers alone; the birthday bonus comes once per customer and year; and
//! 100,000 customers go through one pass (its time printed, not asserted).

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::program::{
    BonusInput, GrantRule, ProgramInput, TierInput, TierRulesInput,
};
use loyalty_core::domain::{CustomerId, Language, OrgStatus, Organization, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::{program, tiers};
use loyalty_testkit::{Kind, TestDb, both_backends, fixed_clock, till};
use rust_decimal::Decimal;
use std::time::Instant;
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

fn key() -> String {
    Uuid::new_v4().to_string()
}

/// Silver at 100 points (x1.5), Gold at 500 (x2, 50 points to enter), on a 12-month
/// window with `grace` months of grace.
async fn tiered_shop(db: &TestDb, clock: &FixedClock, slug: &str, grace: u32) -> Organization {
    let mut o = org(db, slug, clock).await;
    let changes = [
        ProgramInput::SetTierRules(TierRulesInput {
            basis: "points".into(),
            window_months: 12,
            grace_months: grace,
        }),
        ProgramInput::AddTier(TierInput {
            name: "Silver".into(),
            threshold: "100".into(),
            multiplier: Some("1.5".into()),
            entry_bonus: 0,
        }),
        ProgramInput::AddTier(TierInput {
            name: "Gold".into(),
            threshold: "500".into(),
            multiplier: Some("2".into()),
            entry_bonus: 50,
        }),
    ];
    for change in changes {
        program::change(&ctx(db, clock, &o, Role::Admin), change)
            .await
            .expect("program change");
        o = reload(db, &o).await;
    }
    o
}

fn tier_named(o: &Organization, name: &str) -> Uuid {
    o.program
        .tiers
        .iter()
        .find(|t| t.name == name)
        .expect("tier")
        .id
}

both_backends! {
    async fn the_recalculation_moves_customers_up_once_and_the_tier_multiplies_the_base(db) {
        let clock = fixed_clock();
        let o = tiered_shop(&db, &clock, "beanery", 0).await;
        let other = tiered_shop(&db, &clock, "teahouse", 0).await;
        let (silver, gold) = (tier_named(&o, "Silver"), tier_named(&o, "Gold"));
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let ann = customer(&cashier, "202-555-0143").await;
        let bob = customer(&cashier, "202-555-0144").await;
        let cy = customer(&cashier, "202-555-0145").await;
        till::award(&cashier, ann, "600.00", None, serde_json::json!({}), &key()).await.expect("ann");
        till::award(&cashier, bob, "150.00", None, serde_json::json!({}), &key()).await.expect("bob");
        till::award(&cashier, cy, "20.00", None, serde_json::json!({}), &key()).await.expect("cy");
        let teacher = ctx(&db, &clock, &other, Role::Cashier);
        let dee = customer(&teacher, "202-555-0146").await;
        till::award(&teacher, dee, "700.00", None, serde_json::json!({}), &key()).await.expect("dee");

        let progress = tiers::progress(&cashier, bob).await.expect("progress");
        assert_eq!((progress.tier.as_deref(), progress.value), (None, Decimal::from(150)));
        assert_eq!(progress.describe(Language::En, "USD").as_deref(), Some("350 points to Gold"));

        let r = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("pass");
        println!("{:?}: recalculation of 3 customers took {} ms", db.kind, r.millis);
        assert_eq!((r.customers, r.up, r.down, r.bonus_points), (3, 2, 0, 50));
        let ann_now = points::customer(&cashier, ann).await.expect("ann");
        assert_eq!(ann_now.balance, 650, "600 earned and Gold's entry bonus");
        let notes: Vec<Option<String>> = db.store.ledger(o.id, Some(ann), None, None, None, 10).await.expect("ledger").into_iter().map(|e| e.notes).collect();
        assert!(notes.contains(&Some("Gold entry bonus".to_owned())), "{notes:?}");
        assert_eq!(tiers::progress(&cashier, bob).await.expect("bob").tier.as_deref(), Some("Silver"));
        let mut dist = db.store.tier_distribution(o.id).await.expect("distribution");
        dist.sort();
        let mut want = vec![(None, 1), (Some(silver), 1), (Some(gold), 1)];
        want.sort();
        assert_eq!(dist, want);
        let dashboard = loyalty_core::service::reports::dashboard(&ctx(&db, &clock, &o, Role::Admin)).await.expect("dashboard");
        assert_eq!(dashboard.tiers, [(String::new(), 1), ("Silver".to_owned(), 1), ("Gold".to_owned(), 1)], "customers per tier, lowest first");
        // The other shop's customers were not looked at.
        let teahouse = db.store.tier_distribution(other.id).await.expect("other");
        assert_eq!(teahouse, [(None, 1)]);
        assert!(db.store.customer_program_state(other.id, ann, clock.now()).await.expect("state").tier.is_none(), "one org cannot see another's tier");

        // A second pass (a retry, or another instance) changes nothing and gives nothing.
        let again = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("again");
        assert_eq!((again.up, again.down, again.bonus_points), (0, 0, 0));
        assert_eq!(points::customer(&cashier, ann).await.expect("ann").balance, 650);

        // Gold doubles the base: 10 base + 10 Gold.
        let a = till::award(&cashier, ann, "10.00", None, serde_json::json!({}), &key()).await.expect("gold award");
        let rules: Vec<(GrantRule, i64)> = a.purchase.as_ref().expect("purchase").grants.iter().map(|g| (g.rule, g.points)).collect();
        assert_eq!(rules, [(GrantRule::Base, 10), (GrantRule::Tier(gold), 10)]);
        let b = till::award(&cashier, bob, "10.00", None, serde_json::json!({}), &key()).await.expect("silver award");
        assert_eq!(b.entry.points, 15, "Silver's 1.5");
        let audit = db.store.audit_log(o.id, None, 100).await.expect("audit");
        assert_eq!(audit.iter().filter(|a| a.action == "tiers.recalculate").count(), 1, "one record per pass that moved someone");
        assert!(db.store.check_invariants(None).await.expect("check").holds());

        // A year later nothing is left in the window: everyone moves down at once.
        clock.advance(time::Duration::days(400));
        let later = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("later");
        assert_eq!((later.up, later.down), (0, 2));
        assert_eq!(db.store.tier_distribution(o.id).await.expect("dist"), [(None, 3)]);
    }

    async fn a_grace_period_keeps_the_tier_until_it_runs_out(db) {
        let clock = fixed_clock();
        let o = tiered_shop(&db, &clock, "beanery", 2).await;
        let gold = tier_named(&o, "Gold");
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let ann = customer(&cashier, "202-555-0143").await;
        till::award(&cashier, ann, "520.00", None, serde_json::json!({}), &key()).await.expect("ann");
        tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("up");
        // Half of it refunded: 260 points in the window, below Gold. The grace period starts.
        let p = db.store.ledger(o.id, Some(ann), None, None, None, 10).await.expect("ledger").into_iter().find_map(|e| e.reference_id.filter(|_| e.reference_type.as_deref() == Some("purchase"))).expect("purchase");
        till::reverse(&cashier, loyalty_core::domain::PurchaseId(p), Some("260.00"), &key()).await.expect("refund");
        let start = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("grace");
        assert_eq!((start.up, start.down, start.grace_changes), (0, 0, 1));
        let seen = db.store.tier_candidates(o.id, o.program.tier_rules.basis, clock.now() - time::Duration::days(365), Some(ann)).await.expect("candidate");
        assert_eq!(seen.first().map(|c| (c.tier, c.below_since, c.value)), Some((Some(gold), Some(clock.now()), Decimal::from(260))), "in the grace period since now");
        assert_eq!(db.store.customer_program_state(o.id, ann, clock.now()).await.expect("state").tier, Some(gold));
        clock.advance(time::Duration::days(31));
        let during = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("during");
        assert_eq!((during.down, during.grace_changes), (0, 0));
        clock.advance(time::Duration::days(31));
        let over = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("over");
        assert_eq!(over.down, 1);
        let state = db.store.customer_program_state(o.id, ann, clock.now()).await.expect("state");
        assert_eq!(state.tier, Some(tier_named(&o, "Silver")), "down to what 260 points reach");
    }

    async fn the_birthday_bonus_comes_once_a_year(db) {
        // 2025-01-23 14:05 UTC: 09:05 on 23 January in New York.
        let clock = fixed_clock();
        let o = org(&db, "beanery", &clock).await;
        let other = org(&db, "teahouse", &clock).await;
        for shop in [&o, &other] {
            program::change(&ctx(&db, &clock, shop, Role::Admin), ProgramInput::SetBonuses(BonusInput { signup_points: 0, contact_points: 0, birthday_points: 25 })).await.expect("bonus");
        }
        let o = reload(&db, &o).await;
        let other = reload(&db, &other).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let ann = customer(&cashier, "202-555-0143").await;
        let bob = customer(&cashier, "202-555-0144").await;
        let leap = customer(&cashier, "202-555-0145").await;
        let dee = customer(&ctx(&db, &clock, &other, Role::Cashier), "202-555-0146").await;
        for (id, born) in [(ann, "1990-01-23"), (bob, "1990-03-01"), (leap, "1992-02-29"), (dee, "1980-01-20")] {
            db.execute(&format!("UPDATE users SET birth_date = '{born}' WHERE id = '{id}'")).await;
        }
        assert_eq!(tiers::birthday_bonuses(db.store.as_ref(), &clock, &o).await.expect("today"), 1, "ann's birthday is today");
        assert_eq!(tiers::birthday_bonuses(db.store.as_ref(), &clock, &o).await.expect("again"), 0, "once");
        assert_eq!(points::customer(&cashier, ann).await.expect("ann").balance, 25);
        assert_eq!(points::customer(&cashier, bob).await.expect("bob").balance, 0);
        // Two days later ann is not given it again; the other shop's customer (born on
        // the 20th, three days back) gets theirs from their own shop's run only.
        clock.advance(time::Duration::days(2));
        assert_eq!(tiers::birthday_bonuses(db.store.as_ref(), &clock, &o).await.expect("later"), 0);
        assert_eq!(tiers::birthday_bonuses(db.store.as_ref(), &clock, &other).await.expect("other"), 1, "a birthday within the catch-up days");
        // 28 February 2025 (no 29th): the leap-day customer gets it.
        clock.advance(time::Duration::days(34));
        assert_eq!(tiers::birthday_bonuses(db.store.as_ref(), &clock, &o).await.expect("leap"), 1);
        assert_eq!(points::customer(&cashier, leap).await.expect("leap").balance, 25);
        // The next year, again.
        clock.advance(time::Duration::days(330));
        assert_eq!(tiers::birthday_bonuses(db.store.as_ref(), &clock, &o).await.expect("next year"), 1);
        assert_eq!(points::customer(&cashier, ann).await.expect("ann").balance, 50);
        assert!(db.store.check_invariants(None).await.expect("check").holds());
    }

    async fn one_pass_moves_100000_customers(db) {
        let clock = fixed_clock();
        let o = tiered_shop(&db, &clock, "bigshop", 0).await;
        let org_id = o.id.0;
        let at = "2025-01-20T10:00:00.000000Z";
        // customer n earned n % 1000 points on one purchase three days ago.
        let setup = match db.kind {
            Kind::Sqlite => format!(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100000) \
                 INSERT INTO users (id, organization_id, role, status, phone, balance, ledger_seq, created_at, updated_at) \
                 SELECT printf('00000000-0000-4000-8000-%012d', n), '{org_id}', 'customer', 'active', printf('+1202%07d', n), n % 1000, 1, '{at}', '{at}' FROM s; \
                 WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100000) \
                 INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, reference_type, balance_after, seq, created_at) \
                 SELECT printf('00000000-0000-4000-9000-%012d', n), '{org_id}', printf('00000000-0000-4000-8000-%012d', n), n % 1000, 'earned', \
                        printf('00000000-0000-4000-a000-%012d', n), 'purchase', n % 1000, 1, '{at}' FROM s;"
            ),
            Kind::Postgres => format!(
                "INSERT INTO users (id, organization_id, role, status, phone, balance, ledger_seq, created_at, updated_at) \
                 SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, '{org_id}', 'customer', 'active', '+1202' || lpad(n::text, 7, '0'), n % 1000, 1, '{at}', '{at}' \
                 FROM generate_series(1, 100000) n; \
                 INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, reference_type, balance_after, seq, created_at) \
                 SELECT ('00000000-0000-4000-9000-' || lpad(n::text, 12, '0'))::uuid, '{org_id}', ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, n % 1000, 'earned', \
                        ('00000000-0000-4000-a000-' || lpad(n::text, 12, '0'))::uuid, 'purchase', n % 1000, 1, '{at}' FROM generate_series(1, 100000) n; \
                 ANALYZE users; ANALYZE points_transactions;"
            ),
        };
        db.execute(&setup).await;
        // The entries written in SQL have no chain hash: hashed as `loyalty migrate` does.
        assert_eq!(db.store.backfill_chain().await.expect("backfill"), 100_000);
        let started = Instant::now();
        let r = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("pass");
        let took = started.elapsed();
        println!("{:?}: tier recalculation of 100,000 customers ({} up, {} entry bonuses) took {:.2} s (reading {:.2} s)", db.kind, r.up, r.bonus_points / 50, took.as_secs_f64(), r.read_millis as f64 / 1000.0);
        // n % 1000 in 100..=499 is Silver (40 per 100 customers), 500..=999 Gold (50 per 100).
        assert_eq!((r.customers, r.up, r.down), (99_900, 90_000, 0));
        assert_eq!(r.bonus_points, 50 * 50_000);
        let mut dist = db.store.tier_distribution(o.id).await.expect("dist");
        dist.sort();
        let mut want = vec![(None, 10_000), (Some(tier_named(&o, "Silver")), 40_000), (Some(tier_named(&o, "Gold")), 50_000)];
        want.sort();
        assert_eq!(dist, want);
        // Written in batches, each with its audit record; the chains and the balances hold.
        let audit = db.store.audit_log(o.id, None, 100).await.expect("audit");
        assert_eq!(audit.iter().filter(|a| a.action == "tiers.recalculate").count(), 90_000 / tiers::TIER_BATCH);
        assert!(db.store.check_invariants(Some(o.id)).await.expect("check").holds());
        let chains = loyalty_core::service::integrity::verify_chains(db.store.as_ref(), Some(o.id), None).await.expect("chains");
        assert!(chains.holds(), "{chains:?}");
        assert_eq!(chains.entries, 150_000);
        let started = Instant::now();
        let again = tiers::recalculate(db.store.as_ref(), &clock, &o).await.expect("again");
        println!("{:?}: a second pass over 100,000 customers with nothing to move took {:.2} s", db.kind, started.elapsed().as_secs_f64());
        assert_eq!((again.up, again.down, again.bonus_points), (0, 0, 0));
    }
}
