//! The time to hash and to verify a ledger of `CUSTOMERS` x `ENTRIES` entries (default
//! 1,000 x 1,000 = 1,000,000) on SQLite and PostgreSQL (docs/PERFORMANCE.md, "Verifying
//! the hash chain"). The entries are written straight in SQL without hashes, as a ledger
//! from before the chain; `migrate` then hashes them (the backfill) and
//! `verify_chains` walks them. Prints both times per backend.
//!
//! `LOYALTY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run -p loyalty-testkit --example chain_verify`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use loyalty_core::clock::Clock;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Role};
use loyalty_core::service::integrity::verify_chains;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{Kind, TestDb, fixed_clock};
use std::time::Instant;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(kind: Kind, customers: i64, entries: i64) {
    let db = TestDb::new(kind).await;
    let clock = fixed_clock();
    let input = OnboardInput {
        name: Some("Bench market".into()),
        slug: Some("bench".into()),
        admin_email: Some("admin@bench.example.com".into()),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    let org = db
        .store
        .insert_organization(
            &input.validate().expect("valid").org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .expect("org");
    let ctx = Ctx {
        store: db.store.as_ref(),
        clock: &clock,
        org: &org,
        actor: Actor {
            member_id: None,
            label: "bench".into(),
            role: "cashier".into(),
            request_id: None,
        },
        role: Role::Cashier,
    };
    for i in 0..customers {
        points::enroll(
            &ctx,
            &EnrollInput {
                phone: Some(format!("202-55{:05}", i)),
                ..EnrollInput::default()
            },
            None,
        )
        .await
        .expect("enroll");
    }
    let started = Instant::now();
    match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
            sqlx::query(
                "INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, balance_after, seq, created_at) \
                 SELECT gen_random_uuid(), u.organization_id, u.id, 10, 'earned', 10 * s, s, now() \
                 FROM users u CROSS JOIN generate_series(1, $1::bigint) s WHERE u.role = 'customer'",
            )
            .bind(entries)
            .execute(&pool)
            .await
            .expect("entries");
            sqlx::query(
                "UPDATE users SET balance = 10 * $1, ledger_seq = $1 WHERE role = 'customer'",
            )
            .bind(entries)
            .execute(&pool)
            .await
            .expect("balances");
        }
        Kind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("pool");
            sqlx::query(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1) \
                 INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, balance_after, seq, created_at) \
                 SELECT printf('%08x-0000-4000-8000-%012x', u.rowid, s.i), u.organization_id, u.id, 10, 'earned', 10 * s.i, s.i, \
                        '2026-12-01T10:00:00.000000Z' \
                 FROM users u CROSS JOIN s WHERE u.role = 'customer'",
            )
            .bind(entries)
            .execute(&pool)
            .await
            .expect("entries");
            sqlx::query(
                "UPDATE users SET balance = 10 * ?1, ledger_seq = ?1 WHERE role = 'customer'",
            )
            .bind(entries)
            .execute(&pool)
            .await
            .expect("balances");
        }
    }
    let seeded = started.elapsed();
    let started = Instant::now();
    let hashed = db.store.backfill_chain().await.expect("backfill");
    let backfill = started.elapsed();
    let started = Instant::now();
    let report = verify_chains(db.store.as_ref(), None, None)
        .await
        .expect("verify");
    let verify = started.elapsed();
    assert!(report.holds(), "{report:?}");
    println!(
        "{kind:?}: {} entries of {} customers; written in {:.1} s, hashed (backfill) in {:.1} s ({hashed}), verified in {:.1} s",
        report.entries,
        report.customers,
        seeded.as_secs_f64(),
        backfill.as_secs_f64(),
        verify.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let customers = env("CUSTOMERS", 1_000);
    let entries = env("ENTRIES", 1_000);
    run(Kind::Sqlite, customers, entries).await;
    run(Kind::Postgres, customers, entries).await;
}
