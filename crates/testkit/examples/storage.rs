//! Storage per award before and after a housekeeping pass, on SQLite and PostgreSQL
//! (docs/PERFORMANCE.md, "Storage per award"). A day of steady awards (`AWARDS`,
//! default 20,000, spread over 24 hours of a fixed clock), then the clock moves 8 days
//! on and one pass runs with the default retention. Prints each table's bytes (with
//! its indexes) before, after the pass, and after the database has given the space
//! back (PostgreSQL `VACUUM FULL`, SQLite `VACUUM`: what steady state holds, since
//! freed pages are reused by new rows).
//!
//! `LOYALTY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run -p loyalty-testkit --example storage`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use loyalty_core::clock::Clock;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Role};
use loyalty_core::service::housekeeping::{self, Retention};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{Kind, TestDb, fixed_clock};
use sqlx::Connection;
use std::collections::BTreeMap;

const TABLES: [&str; 4] = [
    "idempotency_keys",
    "points_transactions",
    "purchases",
    "audit_log",
];

/// Bytes per table, indexes included.
async fn sizes(db: &TestDb) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    match db.kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            for t in TABLES {
                let n: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
                    .bind(t)
                    .fetch_one(&mut conn)
                    .await
                    .expect("size");
                out.insert(t.to_owned(), n);
            }
            let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&mut conn)
                .await
                .expect("db size");
            out.insert("(database)".into(), n);
        }
        Kind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            for t in TABLES {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(sum(pgsize), 0) FROM dbstat WHERE name IN \
                     (SELECT name FROM sqlite_master WHERE tbl_name = ?1)",
                )
                .bind(t)
                .fetch_one(&mut conn)
                .await
                .expect("dbstat");
                out.insert(t.to_owned(), n);
            }
            let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(&mut conn)
                .await
                .expect("pages");
            let size: i64 = sqlx::query_scalar("PRAGMA page_size")
                .fetch_one(&mut conn)
                .await
                .expect("page size");
            out.insert("(database)".into(), pages * size);
        }
    }
    out
}

async fn compact(db: &TestDb) {
    match db.kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query("VACUUM FULL")
                .execute(&mut conn)
                .await
                .expect("vacuum full");
        }
        Kind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .expect("checkpoint");
            sqlx::query("VACUUM")
                .execute(&mut conn)
                .await
                .expect("vacuum");
        }
    }
}

async fn plain_vacuum(db: &TestDb) {
    if db.kind == Kind::Postgres {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
        sqlx::query("VACUUM ANALYZE")
            .execute(&mut conn)
            .await
            .expect("vacuum");
    }
}

async fn measure(kind: Kind, awards: u32) {
    let db = TestDb::new(kind).await;
    let clock = fixed_clock();
    let input = OnboardInput {
        name: Some("Nextdoor market".into()),
        slug: Some("nextdoor".into()),
        admin_email: Some("admin@nextdoor.example.com".into()),
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
            label: "till-1".into(),
            role: "cashier".into(),
            request_id: Some("req".into()),
        },
        role: Role::Cashier,
    };
    let mut customers = Vec::new();
    for i in 0..200 {
        let phone = format!("202-555-{:04}", 1000 + i);
        customers.push(
            points::enroll(
                &ctx,
                &EnrollInput {
                    phone: Some(phone),
                    ..EnrollInput::default()
                },
                None,
            )
            .await
            .expect("enroll")
            .id,
        );
    }
    let step = time::Duration::seconds(86_400) / awards;
    let started = std::time::Instant::now();
    for i in 0..awards {
        let customer = customers[i as usize % customers.len()];
        let key = uuid::Uuid::new_v4().to_string();
        loyalty_testkit::till::award(
            &ctx,
            customer,
            "12.34",
            None,
            serde_json::json!({"till": 3}),
            &key,
        )
        .await
        .expect("award");
        clock.advance(step);
    }
    let took = started.elapsed();
    plain_vacuum(&db).await;
    let before = sizes(&db).await;
    clock.advance(time::Duration::days(8));
    // Throughput of awards alone, then of awards while the pass runs beside them.
    let probe = awards / 10;
    let award_run = |n: u32| {
        let ctx = &ctx;
        let customers = &customers;
        async move {
            let t = std::time::Instant::now();
            for i in 0..n {
                let key = uuid::Uuid::new_v4().to_string();
                let customer = customers[i as usize % customers.len()];
                loyalty_testkit::till::award(
                    ctx,
                    customer,
                    "12.34",
                    None,
                    serde_json::json!({"till": 3}),
                    &key,
                )
                .await
                .expect("award");
            }
            t.elapsed()
        }
    };
    let alone = award_run(probe).await;
    let pass = async {
        let t = std::time::Instant::now();
        let r = housekeeping::run(
            db.store.as_ref(),
            &clock,
            &Retention::default(),
            &housekeeping::FullSpeed,
            false,
        )
        .await
        .expect("pass");
        (r, t.elapsed())
    };
    let (beside, (report, pass_took)) = tokio::join!(award_run(probe), pass);
    plain_vacuum(&db).await;
    let after = sizes(&db).await;
    compact(&db).await;
    let compacted = sizes(&db).await;
    let total = awards + 2 * probe;
    println!(
        "\n{kind:?}: {awards} awards in {:.1} s; pass removed {} rows in {:.2} s; {probe} awards alone {:.0}/s, beside the pass {:.0}/s",
        took.as_secs_f64(),
        report.total(),
        pass_took.as_secs_f64(),
        f64::from(probe) / alone.as_secs_f64(),
        f64::from(probe) / beside.as_secs_f64()
    );
    println!(
        "| table | before ({awards} awards) | after pass | after compaction ({total} awards) | bytes/award before | bytes/award after compaction |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (t, b) in &before {
        let a = after.get(t).copied().unwrap_or(0);
        let c = compacted.get(t).copied().unwrap_or(0);
        println!(
            "| {t} | {b} | {a} | {c} | {:.0} | {:.0} |",
            *b as f64 / f64::from(awards),
            c as f64 / f64::from(total)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let awards: u32 = std::env::var("AWARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    measure(Kind::Sqlite, awards).await;
    if !loyalty_testkit::skip_postgres() {
        measure(Kind::Postgres, awards).await;
    }
}
