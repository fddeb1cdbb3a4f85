//! The ledger's hash chain on both backends: every kind of entry chains, the backfill
//! gives old entries the same hashes, and an entry changed, deleted or inserted
//! directly in the database (balances made consistent by hand) is named by verify.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::chain::Failure;
use loyalty_core::domain::ledger::{Actor, LedgerEntry};
use loyalty_core::domain::{CustomerId, OrgStatus, Organization, Role};
use loyalty_core::service::integrity::{ChainReport, verify_chains};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{Kind, TestDb, both_backends, fixed_clock};
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
            request_id: None,
        },
        role,
    }
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

/// An organization with one customer holding four entries (awards of 10, 20, 30, 40),
/// and a second organization with its own customer and entries.
async fn ledger(db: &TestDb) -> (Organization, Organization, CustomerId, Vec<LedgerEntry>) {
    let clock = fixed_clock();
    let a = org(db, "nextdoor", &clock).await;
    let b = org(db, "elsewhere", &clock).await;
    let in_a = ctx(db, &clock, &a, Role::Cashier);
    let in_b = ctx(db, &clock, &b, Role::Cashier);
    let c = points::enroll(
        &in_a,
        &EnrollInput {
            phone: Some("202-555-0143".into()),
            ..EnrollInput::default()
        },
        None,
    )
    .await
    .expect("enroll")
    .id;
    let other = points::enroll(
        &in_b,
        &EnrollInput {
            phone: Some("202-555-0199".into()),
            ..EnrollInput::default()
        },
        None,
    )
    .await
    .expect("enroll")
    .id;
    for amount in ["10", "20", "30", "40"] {
        loyalty_testkit::till::award(&in_a, c, amount, None, serde_json::json!({}), &key())
            .await
            .expect("award");
        loyalty_testkit::till::award(&in_b, other, amount, None, serde_json::json!({}), &key())
            .await
            .expect("award");
    }
    let entries = db
        .store
        .ledger(a.id, Some(c), None, None, None, 100)
        .await
        .expect("ledger");
    assert_eq!(
        entries.iter().map(|e| e.points).collect::<Vec<_>>(),
        [10, 20, 30, 40]
    );
    (a, b, c, entries)
}

/// Runs SQL as the database's owner, with the append-only triggers out of the way (as
/// someone with direct access could).
async fn tamper(db: &TestDb, statements: &[String]) {
    match db.kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
            let mut all = vec![
                "ALTER TABLE points_transactions DISABLE TRIGGER points_transactions_no_update"
                    .to_owned(),
            ];
            all.extend(statements.iter().cloned());
            all.push(
                "ALTER TABLE points_transactions ENABLE TRIGGER points_transactions_no_update"
                    .to_owned(),
            );
            for s in all {
                sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
        Kind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("pool");
            let mut all = vec![
                "DROP TRIGGER IF EXISTS points_transactions_no_update".to_owned(),
                "DROP TRIGGER IF EXISTS points_transactions_no_delete".to_owned(),
            ];
            all.extend(statements.iter().cloned());
            for s in all {
                sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    }
}

/// A uuid literal in the backend's SQL.
fn uuid(db: &TestDb, id: impl std::fmt::Display) -> String {
    match db.kind {
        Kind::Postgres => format!("'{id}'::uuid"),
        Kind::Sqlite => format!("'{id}'"),
    }
}

async fn verify(db: &TestDb, org: Option<&Organization>) -> ChainReport {
    let invariants = db
        .store
        .check_invariants(org.map(|o| o.id))
        .await
        .expect("invariants");
    assert!(
        invariants.holds(),
        "balances are consistent: {invariants:?}"
    );
    verify_chains(db.store.as_ref(), org.map(|o| o.id), None)
        .await
        .expect("verify")
}

both_backends! {
    async fn every_kind_of_entry_chains_and_a_clean_ledger_verifies(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let c = points::enroll(&cashier, &EnrollInput { phone: Some("202-555-0143".into()), ..EnrollInput::default() }, None).await.expect("enroll").id;
        let a = loyalty_testkit::till::award(&cashier, c, "50", None, serde_json::json!({}), &key()).await.expect("award");
        loyalty_testkit::till::redeem(&cashier, c, None, Some(5), &key()).await.expect("redeem");
        loyalty_testkit::till::adjust(&admin, c, 3, "goodwill", &key()).await.expect("adjust");
        let purchase = a.purchase.expect("purchase").id;
        loyalty_testkit::till::reverse(&admin, purchase, Some("10"), &key()).await.expect("reverse");
        let report = verify(&db, None).await;
        assert_eq!((report.customers, report.entries, report.first_failure), (1, 4, None));
    }

    async fn the_backfill_gives_entries_older_than_the_chain_the_same_hashes(db) {
        let (a, _, c, _) = ledger(&db).await;
        let before = db.store.chain_page(None, None, 100).await.expect("page");
        assert!(before.iter().all(|e| e.hash.is_some()));
        let heads = db.store.chain_heads(Some(a.id)).await.expect("heads");
        // As before migration 21: no hashes, no heads.
        tamper(&db, &["UPDATE points_transactions SET chain_hash = NULL".to_owned(), "UPDATE users SET chain_head = NULL".to_owned()]).await;
        assert_eq!(verify(&db, None).await.first_failure.map(|b| b.seq), Some(1));
        db.store.migrate().await.expect("migrate");
        let after = db.store.chain_page(None, None, 100).await.expect("page");
        assert_eq!(before.iter().map(|e| e.hash).collect::<Vec<_>>(), after.iter().map(|e| e.hash).collect::<Vec<_>>());
        assert_eq!(heads, db.store.chain_heads(Some(a.id)).await.expect("heads"));
        assert!(heads.iter().any(|h| h.customer == c && h.seq == 4));
        assert!(verify(&db, None).await.holds());
        // A second run finds nothing to do.
        assert_eq!(db.store.backfill_chain().await.expect("again"), 0);
    }

    async fn an_entry_changed_in_the_database_is_named(db) {
        let (a, b, c, e) = ledger(&db).await;
        tamper(&db, &[
            format!("UPDATE points_transactions SET points = points + 5 WHERE id = {}", uuid(&db, e[1].id)),
            format!("UPDATE points_transactions SET balance_after = balance_after + 5 WHERE user_id = {} AND seq >= 2", uuid(&db, c)),
            format!("UPDATE users SET balance = balance + 5 WHERE id = {}", uuid(&db, c)),
        ]).await;
        let broken = verify(&db, None).await.first_failure.expect("caught");
        assert_eq!((broken.org, broken.customer, broken.entry, broken.seq, broken.failure), (a.id, c, Some(e[1].id), 2, Failure::Changed));
        // The other organization's chains still hold.
        assert!(verify(&db, Some(&b)).await.holds());
    }

    async fn an_entry_deleted_in_the_database_is_named(db) {
        let (a, b, c, e) = ledger(&db).await;
        // The second entry goes; the later entries are renumbered and their balances
        // lowered to match, so the balance invariants all hold.
        tamper(&db, &[
            format!("DELETE FROM points_transactions WHERE id = {}", uuid(&db, e[1].id)),
            format!("UPDATE points_transactions SET balance_after = balance_after - 20, seq = seq - 1 WHERE user_id = {} AND seq > 2", uuid(&db, c)),
            format!("UPDATE users SET balance = balance - 20, ledger_seq = 3 WHERE id = {}", uuid(&db, c)),
        ]).await;
        // The first entry after the hole no longer matches its hash at its new place.
        let broken = verify(&db, Some(&a)).await.first_failure.expect("caught");
        assert_eq!((broken.customer, broken.entry, broken.seq, broken.failure), (c, Some(e[2].id), 2, Failure::Changed));
        assert!(verify(&db, Some(&b)).await.holds());
    }

    async fn the_last_entry_deleted_in_the_database_is_caught_at_the_head(db) {
        let (a, _, c, e) = ledger(&db).await;
        tamper(&db, &[
            format!("DELETE FROM points_transactions WHERE id = {}", uuid(&db, e[3].id)),
            format!("UPDATE users SET balance = balance - 40, ledger_seq = 3 WHERE id = {}", uuid(&db, c)),
        ]).await;
        let broken = verify(&db, Some(&a)).await.first_failure.expect("caught");
        assert_eq!((broken.entry, broken.seq, broken.failure), (Some(e[2].id), 3, Failure::DeletedAfter));
    }

    async fn an_entry_inserted_in_the_database_is_named(db) {
        let (a, b, c, e) = ledger(&db).await;
        let forged = Uuid::new_v4();
        tamper(&db, &[
            format!(
                "INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, balance_after, seq, created_at, chain_hash) \
                 SELECT {}, organization_id, user_id, 7, 'adjusted', balance_after + 7, 5, created_at, chain_hash FROM points_transactions WHERE id = {}",
                uuid(&db, forged), uuid(&db, e[3].id)
            ),
            format!("UPDATE users SET balance = balance + 7, ledger_seq = 5 WHERE id = {}", uuid(&db, c)),
        ]).await;
        let report = verify(&db, None).await;
        let broken = report.first_failure.expect("caught");
        assert_eq!((broken.org, broken.entry.map(|id| id.0), broken.seq, broken.failure), (a.id, Some(forged), 5, Failure::Inserted));
        assert_eq!(report.broken_customers, 1);
        assert!(verify(&db, Some(&b)).await.holds());
    }
}
