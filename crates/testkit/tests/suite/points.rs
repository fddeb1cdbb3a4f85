//! The ledger on both backends: every operation, its arithmetic, idempotency,
//! concurrency, expiry, tenancy and the invariants.

use loyalty_core::Error;
use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, PointsError, TxType};
use loyalty_core::domain::{CustomerId, OrgStatus, Organization, RewardId, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::sync::Arc;
use uuid::Uuid;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
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

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: format!("test-{role}"),
            role: role.as_str().into(),
            request_id: Some("req-1".into()),
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
            name: Some("Carla".into()),
        },
        None,
    )
    .await
    .expect("enroll")
    .id
}

async fn assert_invariants(db: &TestDb) {
    let report = db.store.check_invariants(None).await.expect("check");
    assert!(report.holds(), "invariants broken: {report:?}");
}

fn points_error(e: Error) -> PointsError {
    match e {
        Error::Points(p) => p,
        other => panic!("expected a points error, got {other:?}"),
    }
}

both_backends! {
    async fn award_redeem_adjust_and_look_up_by_phone_email_and_card(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = points::enroll(&cashier, &EnrollInput { phone: Some("(202) 555-0143".into()), email: Some("Carla@Example.com".into()), name: None }, None).await.expect("enroll");
        assert_eq!(c.phone.as_deref(), Some("+12025550143"));
        assert_eq!(c.balance, 0);
        assert_eq!(points::lookup(&cashier, "+1 202 555 0143").await.expect("phone").id, c.id);
        assert_eq!(points::lookup(&cashier, "carla@example.COM").await.expect("email").id, c.id);
        assert_eq!(points::lookup(&cashier, &c.card_number).await.expect("card").id, c.id);
        let dup = points::enroll(&cashier, &EnrollInput { phone: Some("202-555-0143".into()), ..EnrollInput::default() }, None).await.expect_err("dup");
        assert_eq!(dup.code(), "customer.exists");

        let a = loyalty_testkit::till::award(&cashier, c.id, "42.99", Some("usd"), serde_json::json!({"till": 3}), &key()).await.expect("award");
        assert_eq!((a.entry.points, a.balance, a.entry.transaction_type), (42, 42, TxType::Earned));
        assert_eq!(a.purchase.as_ref().map(|p| p.amount.to_string()), Some("42.99".into()));
        let r = loyalty_testkit::till::redeem(&cashier, c.id, None, Some(40), &key()).await.expect("redeem");
        assert_eq!((r.entry.points, r.balance), (-40, 2));
        let e = points_error(loyalty_testkit::till::redeem(&cashier, c.id, None, Some(3), &key()).await.expect_err("insufficient"));
        assert!(matches!(e, PointsError::Insufficient { balance: 2, needed: 3 }), "{e:?}");
        assert_eq!(loyalty_testkit::till::adjust(&cashier, c.id, 5, "goodwill", &key()).await.expect_err("cashier").code(), "auth.forbidden");
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let adj = loyalty_testkit::till::adjust(&admin, c.id, 10, "birthday bonus", &key()).await.expect("adjust");
        assert_eq!((adj.balance, adj.entry.notes.as_deref()), (12, Some("birthday bonus")));
        assert_eq!(loyalty_testkit::till::adjust(&admin, c.id, -13, "oops", &key()).await.expect_err("below zero").code(), "points.insufficient");
        assert_eq!(loyalty_testkit::till::adjust(&admin, c.id, 1, "  ", &key()).await.expect_err("reason").code(), "validation.failed");

        let ledger = db.store.ledger(o.id, Some(c.id), None, None, None, 100).await.expect("ledger");
        let kinds: Vec<(TxType, i64, i64)> = ledger.iter().map(|e| (e.transaction_type, e.points, e.balance_after)).collect();
        assert_eq!(kinds, [(TxType::Earned, 42, 42), (TxType::Redeemed, -40, 2), (TxType::Adjusted, 10, 12)]);
        let audit = db.store.audit_log(o.id, None, 100).await.expect("audit");
        assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["points.adjust", "points.redeem", "points.award", "customer.enroll"]);
        assert_eq!(audit[0].reason.as_deref(), Some("birthday bonus"));
        assert_eq!(audit[0].request_id.as_deref(), Some("req-1"));
        assert_invariants(&db).await;
    }

    async fn bad_input_is_refused_with_the_field_and_writes_nothing(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        for (amount, currency) in [("0", None), ("-5", None), ("12.345", None), ("1000000.01", None), ("abc", None), ("10", Some("BRL"))] {
            let e = loyalty_testkit::till::award(&cashier, c, amount, currency, serde_json::json!({}), &key()).await.expect_err(amount);
            assert_eq!(e.code(), "validation.failed", "{amount}");
        }
        assert_eq!(loyalty_testkit::till::award(&cashier, CustomerId(Uuid::new_v4()), "10", None, serde_json::json!({}), &key()).await.expect_err("unknown").code(), "customer.not_found");
        assert_eq!(loyalty_testkit::till::redeem(&cashier, c, None, None, &key()).await.expect_err("nothing").code(), "validation.failed");
        assert_eq!(loyalty_testkit::till::redeem(&cashier, c, None, Some(0), &key()).await.expect_err("zero").code(), "validation.failed");
        assert_eq!(loyalty_testkit::till::award(&cashier, c, "10", None, serde_json::json!({}), "").await.expect_err("key").code(), "validation.failed");
        assert!(db.store.ledger(o.id, None, None, None, None, 10).await.expect("ledger").is_empty());
        assert!(points::enroll(&cashier, &EnrollInput::default(), None).await.is_err());
        assert!(points::enroll(&cashier, &EnrollInput { phone: Some("12".into()), ..EnrollInput::default() }, None).await.is_err());
    }

    async fn a_retry_with_the_same_key_returns_the_first_result_and_a_changed_body_is_refused(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        let k = key();
        let first = loyalty_testkit::till::award(&cashier, c, "10.00", None, serde_json::json!({}), &k).await.expect("first");
        let again = loyalty_testkit::till::award(&cashier, c, "10.00", None, serde_json::json!({}), &k).await.expect("retry");
        assert!(again.replayed && !first.replayed);
        assert_eq!(again.entry, first.entry);
        assert_eq!(again.balance, 10);
        let other = loyalty_testkit::till::award(&cashier, c, "11.00", None, serde_json::json!({}), &k).await.expect_err("changed");
        assert_eq!(other.code(), "idempotency.mismatch");
        assert_eq!(db.store.ledger(o.id, None, None, None, None, 10).await.expect("ledger").len(), 1);
    }

    async fn reversals_take_back_points_in_proportion_once(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        let p = loyalty_testkit::till::award(&cashier, c, "100.00", None, serde_json::json!({}), &key()).await.expect("award").purchase.expect("purchase");
        let r1 = loyalty_testkit::till::reverse(&cashier, p.id, Some("33.33"), &key()).await.expect("partial");
        assert_eq!((r1.entry.points, r1.balance, r1.entry.transaction_type), (-33, 67, TxType::Reversed));
        let too_much = loyalty_testkit::till::reverse(&cashier, p.id, Some("70.00"), &key()).await.expect_err("exceeds");
        assert_eq!(too_much.code(), "purchase.reverse_exceeds");
        let rest = loyalty_testkit::till::reverse(&cashier, p.id, None, &key()).await.expect("rest");
        assert_eq!((rest.entry.points, rest.balance), (-67, 0));
        let stored = rest.purchase.expect("purchase");
        assert_eq!((stored.reversed_amount.to_string(), stored.points_reversed), ("100.00".into(), 100));
        assert_eq!(loyalty_testkit::till::reverse(&cashier, p.id, None, &key()).await.expect_err("twice").code(), "purchase.already_reversed");

        // A cashier may reverse only today's purchases; an admin may reverse older ones.
        let p2 = loyalty_testkit::till::award(&cashier, c, "10.00", None, serde_json::json!({}), &key()).await.expect("award").purchase.expect("p");
        clock.advance(time::Duration::days(1));
        assert_eq!(loyalty_testkit::till::reverse(&cashier, p2.id, None, &key()).await.expect_err("old").code(), "purchase.reverse_too_old");
        let admin = ctx(&db, &clock, &o, Role::Admin);
        assert_eq!(loyalty_testkit::till::reverse(&admin, p2.id, None, &key()).await.expect("admin").balance, 0);
        // Points already spent cannot be reversed below zero.
        let p3 = loyalty_testkit::till::award(&cashier, c, "50.00", None, serde_json::json!({}), &key()).await.expect("award").purchase.expect("p");
        loyalty_testkit::till::redeem(&cashier, c, None, Some(30), &key()).await.expect("spend");
        assert_eq!(loyalty_testkit::till::reverse(&cashier, p3.id, None, &key()).await.expect_err("spent").code(), "points.insufficient");
        assert_invariants(&db).await;
    }

    async fn rewards_cost_their_points_and_run_out_of_stock(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let coffee = points::create_reward(&admin, &points::reward_input("Free coffee", 25, true, Some(1)).expect("input")).await.expect("reward");
        assert_eq!(points::create_reward(&admin, &points::reward_input("free COFFEE", 5, true, None).expect("input")).await.expect_err("dup").code(), "reward.exists");
        assert_eq!(points::create_reward(&cashier, &points::reward_input("Tea", 5, true, None).expect("input")).await.expect_err("cashier").code(), "auth.forbidden");
        let c = customer(&cashier, "202-555-0143").await;
        loyalty_testkit::till::award(&cashier, c, "100", None, serde_json::json!({}), &key()).await.expect("award");
        let r = loyalty_testkit::till::redeem(&cashier, c, Some(coffee.id), None, &key()).await.expect("redeem");
        assert_eq!((r.balance, r.reward.as_ref().and_then(|r| r.stock)), (75, Some(0)));
        assert_eq!(loyalty_testkit::till::redeem(&cashier, c, Some(coffee.id), None, &key()).await.expect_err("stock").code(), "reward.out_of_stock");
        let off = points::update_reward(&admin, coffee.id, &points::reward_input("Free coffee", 25, false, Some(5)).expect("input")).await.expect("update");
        assert!(!off.active);
        assert_eq!(loyalty_testkit::till::redeem(&cashier, c, Some(coffee.id), None, &key()).await.expect_err("inactive").code(), "reward.inactive");
        assert_eq!(loyalty_testkit::till::redeem(&cashier, c, Some(RewardId(Uuid::new_v4())), None, &key()).await.expect_err("unknown").code(), "reward.not_found");
        assert_invariants(&db).await;
    }

    async fn expiry_takes_the_oldest_unspent_points_and_is_safe_to_repeat(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let admin = ctx(&db, &clock, &o, Role::Admin);
        points::update_settings(&admin, "1", "0", Some(30), true).await.expect("settings");
        let o = loyalty_core::service::orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        assert_eq!(o.expiry_days, Some(30));
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        loyalty_testkit::till::award(&cashier, c, "100", None, serde_json::json!({}), &key()).await.expect("day 0");
        clock.advance(time::Duration::days(20));
        loyalty_testkit::till::award(&cashier, c, "50", None, serde_json::json!({}), &key()).await.expect("day 20");
        loyalty_testkit::till::redeem(&cashier, c, None, Some(30), &key()).await.expect("spend 30 (from the oldest)");
        clock.advance(time::Duration::days(11));
        let dry = points::expire(db.store.as_ref(), &clock, &o, true).await.expect("dry run");
        assert_eq!((dry.customers, dry.points), (1, 70));
        assert_eq!(db.store.find_customer(o.id, &loyalty_core::domain::ledger::CustomerKey::Id(c)).await.expect("c").expect("c").balance, 120);
        let run = points::expire(db.store.as_ref(), &clock, &o, false).await.expect("run");
        assert_eq!((run.customers, run.points), (1, 70));
        let again = points::expire(db.store.as_ref(), &clock, &o, false).await.expect("again");
        assert_eq!(again.points, 0, "a second run expires nothing more");
        clock.advance(time::Duration::days(20));
        assert_eq!(points::expire(db.store.as_ref(), &clock, &o, false).await.expect("later").points, 50);
        assert_invariants(&db).await;
    }

    async fn nothing_crosses_organizations(db) {
        let clock = fixed_clock();
        let a = org(&db, "alpha", &clock).await;
        let b = org(&db, "beta", &clock).await;
        let in_a = ctx(&db, &clock, &a, Role::Admin);
        let in_b = ctx(&db, &clock, &b, Role::Admin);
        let c = customer(&in_a, "202-555-0143").await;
        let p = loyalty_testkit::till::award(&in_a, c, "10", None, serde_json::json!({}), &key()).await.expect("award").purchase.expect("p");
        let reward = points::create_reward(&in_a, &points::reward_input("Mug", 1, true, None).expect("i")).await.expect("r");
        assert_eq!(loyalty_testkit::till::award(&in_b, c, "10", None, serde_json::json!({}), &key()).await.expect_err("b").code(), "customer.not_found");
        assert_eq!(loyalty_testkit::till::reverse(&in_b, p.id, None, &key()).await.expect_err("b").code(), "purchase.not_found");
        assert_eq!(loyalty_testkit::till::redeem(&in_b, c, Some(reward.id), None, &key()).await.expect_err("b").code(), "reward.not_found");
        assert_eq!(points::customer(&in_b, c).await.expect_err("b").code(), "customer.not_found");
        assert!(db.store.ledger(b.id, None, None, None, None, 10).await.expect("l").is_empty());
        assert!(db.store.audit_log(b.id, None, 10).await.expect("a").is_empty());
        // The same phone can be a separate member in another organization.
        let c_b = customer(&in_b, "202-555-0143").await;
        assert_ne!(c, c_b);
        // An idempotency key used in one org is independent in another.
        let k = key();
        loyalty_testkit::till::award(&in_a, c, "1", None, serde_json::json!({}), &k).await.expect("a");
        assert!(!loyalty_testkit::till::award(&in_b, c_b, "1", None, serde_json::json!({}), &k).await.expect("b").replayed);
    }

    async fn the_ledger_refuses_updates_and_deletes(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "202-555-0143").await;
        loyalty_testkit::till::award(&cashier, c, "10", None, serde_json::json!({}), &key()).await.expect("award");
        let (update, delete) = match db.kind {
            loyalty_testkit::Kind::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
                (sqlx::query("UPDATE points_transactions SET points = 1000").execute(&pool).await.is_err(),
                 sqlx::query("DELETE FROM points_transactions").execute(&pool).await.is_err())
            }
            loyalty_testkit::Kind::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.expect("pool");
                (sqlx::query("UPDATE points_transactions SET points = 1000").execute(&pool).await.is_err(),
                 sqlx::query("DELETE FROM points_transactions").execute(&pool).await.is_err())
            }
        };
        assert!(update && delete, "append-only");
    }

    async fn sixty_four_concurrent_redemptions_never_overdraw(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let c = customer(&ctx(&db, &clock, &o, Role::Cashier), "202-555-0143").await;
        loyalty_testkit::till::award(&ctx(&db, &clock, &o, Role::Cashier), c, "100", None, serde_json::json!({}), &key()).await.expect("award");
        let db = Arc::new(db);
        let o = Arc::new(o);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (db, o, clock) = (db.clone(), o.clone(), clock.clone());
                tokio::spawn(async move {
                    let cashier = ctx(&db, &clock, &o, Role::Cashier);
                    loyalty_testkit::till::redeem(&cashier, c, None, Some(10), &key()).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(e.code(), "points.insufficient"),
            }
        }
        assert_eq!(ok, 10);
        let entries = db.store.ledger(o.id, Some(c), None, None, None, 1000).await.expect("ledger");
        assert_eq!(entries.iter().filter(|e| e.transaction_type == TxType::Redeemed).count(), 10);
        assert_eq!(entries.last().map(|e| e.balance_after), Some(0));
        assert_invariants(&db).await;
    }

    async fn a_thousand_awards_each_sent_three_times_at_once_are_recorded_once(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let customers = [customer(&cashier, "202-555-0143").await, customer(&cashier, "202-555-0144").await, customer(&cashier, "202-555-0145").await];
        let db = Arc::new(db);
        let o = Arc::new(o);
        let sem = Arc::new(tokio::sync::Semaphore::new(64));
        let mut tasks = Vec::new();
        for i in 0..1000usize {
            let k = key();
            for _ in 0..3 {
                let (db, o, clock, k, sem) = (db.clone(), o.clone(), clock.clone(), k.clone(), sem.clone());
                let c = customers[i % 3];
                tasks.push(tokio::spawn(async move {
                    let _permit = sem.acquire().await.expect("permit");
                    let cashier = ctx(&db, &clock, &o, Role::Cashier);
                    loyalty_testkit::till::award(&cashier, c, "1.00", None, serde_json::json!({}), &k).await
                }));
            }
        }
        let mut replays = 0;
        for t in tasks {
            if t.await.expect("task").expect("every attempt answers").replayed {
                replays += 1;
            }
        }
        assert_eq!(replays, 2000);
        let entries = db.store.ledger(o.id, None, None, None, None, 10_000).await.expect("ledger");
        assert_eq!(entries.len(), 1000);
        assert_invariants(&db).await;
    }

    async fn random_sequences_of_operations_keep_every_invariant(db) {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Admin);
        let customers = [customer(&cashier, "202-555-0143").await, customer(&cashier, "202-555-0144").await];
        points::update_settings(&cashier, "1.5", "0", Some(7), true).await.expect("settings");
        let o = loyalty_core::service::orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let op = prop_oneof![
            (0usize..2, 1i64..50_000).prop_map(|(c, cents)| (0u8, c, cents)),
            (0usize..2, 1i64..200).prop_map(|(c, p)| (1u8, c, p)),
            (0usize..2, 1i64..100).prop_map(|(c, pct)| (2u8, c, pct)),
            (0usize..2, -100i64..100).prop_map(|(c, p)| (3u8, c, p)),
            (0usize..2, 1i64..10).prop_map(|(c, d)| (4u8, c, d)),
        ];
        let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
        let handle = tokio::runtime::Handle::current();
        let result = runner.run(&proptest::collection::vec(op, 1..25), |ops| {
            let outcome = tokio::task::block_in_place(|| handle.block_on(async {
                let admin = ctx(&db, &clock, &o, Role::Admin);
                let mut purchases = Vec::new();
                for (kind, ci, n) in ops {
                    let c = customers[ci];
                    let r = match kind {
                        0 => loyalty_testkit::till::award(&admin, c, &rust_decimal::Decimal::new(n, 2).to_string(), None, serde_json::json!({}), &key()).await.map(|o| { if let Some(p) = o.purchase { purchases.push(p.id) } }),
                        1 => loyalty_testkit::till::redeem(&admin, c, None, Some(n), &key()).await.map(|_| ()),
                        2 => match purchases.last() { Some(p) => loyalty_testkit::till::reverse(&admin, *p, None, &key()).await.map(|_| ()), None => Ok(()) },
                        3 if n != 0 => loyalty_testkit::till::adjust(&admin, c, n, "property test", &key()).await.map(|_| ()),
                        4 => { clock.advance(time::Duration::days(n)); points::expire(db.store.as_ref(), &clock, &o, false).await.map(|_| ()) }
                        _ => Ok(()),
                    };
                    if let Err(e) = r {
                        assert!(e.is_user_error(), "unexpected failure {e:?}");
                    }
                }
                db.store.check_invariants(None).await.expect("check")
            }));
            prop_assert!(outcome.holds(), "{outcome:?}");
            Ok(())
        });
        result.expect("invariants hold for every sequence");
    }
}
