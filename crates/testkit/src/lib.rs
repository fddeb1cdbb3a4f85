//! Test support: a fresh database per test on either backend (a temporary SQLite file,
//! or a PostgreSQL database created for the test and dropped after it), a built-in
//! directory on top, and [`both_backends!`] to run one test body on both.
//!
//! PostgreSQL is found at `LOYALTY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached the tests
//! fail, naming the URL; `LOYALTY_TEST_SKIP=postgres` leaves them out on purpose (see
//! [`tools`], the rule for every tool the suite needs; CI never sets it).

// Test support: failing loudly, with the reason, is the point here.
#![allow(clippy::panic)]

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::store::Store;
use loyalty_identity::BuiltinDirectory;
use loyalty_store_postgres::{PgSettings, PgStore};
use loyalty_store_sqlite::SqliteStore;
use sqlx::Connection;
use std::sync::Arc;

pub use loyalty_core;

pub mod till;
pub mod tools;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// The PostgreSQL server tests use, as a URL to its maintenance database.
pub fn postgres_admin_url() -> String {
    std::env::var("LOYALTY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether the PostgreSQL half of the suite is left out on purpose
/// (`LOYALTY_TEST_SKIP=postgres`).
pub fn skip_postgres() -> bool {
    tools::left_out("postgres")
}

/// A database that lives as long as this value.
pub struct TestDb {
    /// Backend.
    pub kind: Kind,
    /// URL to give `loyalty` (`DATABASE_URL`).
    pub url: String,
    /// The migrated store.
    pub store: Arc<dyn Store>,
    pg_name: Option<String>,
    sqlite: Option<SqliteStore>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, migrated database of the given kind.
    pub async fn new(kind: Kind) -> Self {
        let db = Self::empty(kind).await;
        db.store.migrate().await.expect("migrations apply");
        db
    }

    /// A fresh database with no schema.
    pub async fn empty(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("loyalty.db").display());
                let store = SqliteStore::connect(&url).await.expect("sqlite opens");
                Self {
                    kind,
                    url,
                    store: Arc::new(store.clone()),
                    pg_name: None,
                    sqlite: Some(store),
                    _dir: Some(dir),
                }
            }
            Kind::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("loyalty_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin}: {e}. Start it, point LOYALTY_TEST_POSTGRES_URL at one, \
                         or leave the PostgreSQL half of the suite out on purpose with LOYALTY_TEST_SKIP=postgres"
                    )
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = with_database(&admin, &name);
                let store = PgStore::connect(
                    &url,
                    &PgSettings {
                        max_connections: 8,
                        ..PgSettings::default()
                    },
                )
                .await
                .expect("postgres connects");
                Self {
                    kind,
                    url,
                    store: Arc::new(store),
                    pg_name: Some(name),
                    sqlite: None,
                    _dir: None,
                }
            }
        }
    }

    /// Takes the database away from [`TestDb::store`], as a database server that goes
    /// down does. PostgreSQL: the database stops accepting connections and the server
    /// ends every session on it (`pg_terminate_backend`). SQLite: the store's connection
    /// pool is closed. [`TestDb::restore_connection`] lets PostgreSQL in again (and the
    /// test database be dropped).
    pub async fn lose_connection(&self) {
        if let Some(sqlite) = &self.sqlite {
            sqlite.pool().close().await;
        }
        if let Some(name) = &self.pg_name {
            let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
                .await
                .expect("admin connection");
            for sql in [
                format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .expect("taking the database away");
            }
        }
    }

    /// Lets PostgreSQL accept connections to the test database again after
    /// [`TestDb::lose_connection`].
    pub async fn restore_connection(&self) {
        if let Some(name) = &self.pg_name {
            let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
                .await
                .expect("admin connection");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
            )))
            .execute(&mut conn)
            .await
            .expect("giving the database back");
        }
    }

    /// Runs SQL straight on the test database, around the store: for setups too large
    /// to make through the store's methods (a million ledger rows).
    pub async fn execute(&self, sql: &str) {
        match &self.sqlite {
            Some(sqlite) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(sqlite.pool())
                    .await
                    .expect("SQL runs on SQLite");
            }
            None => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect to the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .expect("SQL runs on PostgreSQL");
            }
        }
    }

    /// Every row of every table as text, `(table, row)`: each column cast to text and
    /// joined, read afresh as the database's owner (around row-level security). For
    /// checking that a value appears nowhere.
    pub async fn all_text(&self) -> Vec<(String, String)> {
        use sqlx::Row;
        let mut out = Vec::new();
        match &self.sqlite {
            Some(_) => {
                // A connection of its own: a restore replaces the file under the pool.
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("open the test database");
                let pool = &mut conn;
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(&mut *pool)
                .await
                .expect("tables");
                for t in tables {
                    let cols: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT name FROM pragma_table_info('{t}')"
                    )))
                    .fetch_all(&mut *pool)
                    .await
                    .expect("columns");
                    let expr = cols
                        .iter()
                        .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '')"))
                        .collect::<Vec<_>>()
                        .join(" || char(31) || ");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT CAST({expr} AS BLOB) AS row FROM \"{t}\""
                    )))
                    .fetch_all(&mut *pool)
                    .await
                    .expect("rows");
                    for r in rows {
                        let bytes = r.try_get::<Vec<u8>, _>("row").expect("bytes");
                        out.push((t.clone(), String::from_utf8_lossy(&bytes).into_owned()));
                    }
                }
            }
            None => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect to the test database");
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .expect("tables");
                for t in tables {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT x::text AS row FROM \"{t}\" x"
                    )))
                    .fetch_all(&mut conn)
                    .await
                    .expect("rows");
                    for r in rows {
                        out.push((t.clone(), r.try_get::<String, _>("row").expect("text")));
                    }
                }
            }
        }
        out
    }

    /// A built-in directory on this database.
    pub fn directory(&self, clock: Arc<dyn Clock>) -> BuiltinDirectory {
        BuiltinDirectory::new(
            self.store.clone(),
            clock,
            "http://127.0.0.1:8080",
            time::Duration::hours(72),
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // Drop runs outside async: use a small runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A clock fixed at 2025-01-23 14:05:30 UTC, the runbook's backup example.
pub fn fixed_clock() -> FixedClock {
    FixedClock::new(time::macros::datetime!(2025-01-23 14:05:30 UTC))
}

/// Runs each test body on SQLite and on PostgreSQL: `both_backends! { async fn name(db) { ... } }`
/// makes `name::sqlite` and `name::postgres`, each with its own fresh [`TestDb`] as `db`.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let $db = $crate::TestDb::new($crate::Kind::Sqlite).await;
                    $body
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::skip_postgres() {
                        eprintln!("LEFT OUT (LOYALTY_TEST_SKIP names postgres)");
                        return;
                    }
                    let $db = $crate::TestDb::new($crate::Kind::Postgres).await;
                    $body
                }
            }
        )*
    };
}

/// The instant [`fixed_clock`] starts at.
pub fn fixed_clock_now() -> time::OffsetDateTime {
    time::macros::datetime!(2025-01-23 14:05:30 UTC)
}
