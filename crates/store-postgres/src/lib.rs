//! PostgreSQL implementation of the `loyalty` store: native types (uuid, timestamptz,
//! numeric, jsonb), embedded append-only migrations, row mapping by hand (no sqlx
//! macros, so the build stays lean).

mod accounts;
mod admin;
mod mail;
mod orgs;
mod points;
mod sessions;

use async_trait::async_trait;
use loyalty_core::store::{Backend, SchemaStatus, Store, StoreError};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, SqlSafeStr};
use std::str::FromStr;
use std::time::Duration;

/// The migrations, in order. Applied ones are never edited: add a new file instead,
/// with the same version number as its SQLite twin.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/0001_foundation.sql"),
    ),
    (2, "points", include_str!("../migrations/0002_points.sql")),
    (
        3,
        "row level security",
        include_str!("../migrations/0003_row_level_security.sql"),
    ),
    (
        4,
        "login throttle",
        include_str!("../migrations/0004_login_throttle.sql"),
    ),
    (
        5,
        "oidc sessions",
        include_str!("../migrations/0005_oidc_sessions.sql"),
    ),
    (
        6,
        "mail outbox",
        include_str!("../migrations/0006_mail_outbox.sql"),
    ),
];

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`).
    pub async fn connect(url: &str, settings: &PgSettings) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .application_name("loyalty")
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        Ok(Self { pool })
    }

    /// The pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn migrator() -> Migrator {
        Migrator::with_migrations(
            MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        (*description).into(),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        )
    }
}

/// Maps a sqlx error: constraint violations become `Conflict` with the constraint name.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && (db.is_unique_violation() || db.is_check_violation() || db.is_foreign_key_violation())
    {
        return StoreError::Conflict(db.constraint().unwrap_or("constraint").to_owned());
    }
    StoreError::backend(e)
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<SchemaStatus, StoreError> {
        Self::migrator()
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Schema(e.to_string()))?;
        self.schema_status().await
    }

    async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let known = MIGRATIONS.iter().map(|m| m.0).collect();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let applied = if exists {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
        } else {
            Vec::new()
        };
        Ok(SchemaStatus { applied, known })
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at \
             WHERE job_leases.holder = EXCLUDED.holder OR job_leases.expires_at <= $3 RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(until)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
