//! PostgreSQL implementation of the `loyalty` store: native types (uuid, timestamptz,
//! numeric, jsonb), embedded append-only migrations, row mapping by hand (no sqlx
//! macros, so the build stays lean).

mod accounts;
mod admin;
mod audit;
mod chain;
mod checklist;
mod console;
mod customers;
mod erasure;
mod housekeeping;
mod ledger;
mod ledger_tx;
mod mail;
mod orgs;
mod programs;
mod rewards;
mod sessions;
mod tills;
mod tokens;
mod wallet;
mod webhooks;

use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::store::{
    ActiveMembers, Backend, ChainStore, Conflict, PoolStats, SchemaStatus, ServerInfo, Store,
    StoreError,
};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection, SqlSafeStr};
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
    (
        7,
        "org checklist",
        include_str!("../migrations/0007_org_checklist.sql"),
    ),
    (
        8,
        "active users index",
        include_str!("../migrations/0008_active_users_index.sql"),
    ),
    (
        9,
        "housekeeping",
        include_str!("../migrations/0009_housekeeping.sql"),
    ),
    (
        10,
        "purchase bound",
        include_str!("../migrations/0010_purchase_bound.sql"),
    ),
    (
        11,
        "onboarding claim",
        include_str!("../migrations/0011_onboarding_claim.sql"),
    ),
    (
        12,
        "organization check runs",
        include_str!("../migrations/0012_org_check_runs.sql"),
    ),
    (
        16,
        "programs",
        include_str!("../migrations/0016_programs.sql"),
    ),
    (
        18,
        "member data",
        include_str!("../migrations/0018_member_data.sql"),
    ),
    (
        19,
        "erasure log",
        include_str!("../migrations/0019_erasures.sql"),
    ),
    (
        20,
        "webhooks",
        include_str!("../migrations/0020_webhooks.sql"),
    ),
    (
        21,
        "ledger chain",
        include_str!("../migrations/0021_ledger_chain.sql"),
    ),
    (
        22,
        "ledger checkpoints",
        include_str!("../migrations/0022_ledger_checkpoints.sql"),
    ),
    (23, "tiers", include_str!("../migrations/0023_tiers.sql")),
    (
        25,
        "webhook delivery retention and erasure",
        include_str!("../migrations/0025_webhook_delivery_retention.sql"),
    ),
    (
        29,
        "till devices",
        include_str!("../migrations/0029_till_devices.sql"),
    ),
    (
        31,
        "wallet passes",
        include_str!("../migrations/0031_wallet_passes.sql"),
    ),
    (
        32,
        "wallet pushes",
        include_str!("../migrations/0032_wallet_pushes.sql"),
    ),
    (
        33,
        "backend moves",
        include_str!("../migrations/0033_backend_moves.sql"),
    ),
    (
        36,
        "wallet looks and till links",
        include_str!("../migrations/0036_wallet_looks.sql"),
    ),
    (
        37,
        "till offline",
        include_str!("../migrations/0037_till_offline.sql"),
    ),
];

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
    /// `application_name` of every connection, as `pg_stat_activity` shows it.
    /// `loyalty serve` uses [`SERVE_APPLICATION_NAME`], so a restore can tell that a
    /// server is running against the database.
    pub application_name: String,
}

/// The `application_name` of a running server's connections.
pub const SERVE_APPLICATION_NAME: &str = "loyalty-serve";

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            application_name: "loyalty".into(),
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
            .application_name(&settings.application_name)
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(map_err)?;
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

/// The named constraints of the migrations (unique indexes and checks) and the
/// conflict each one means. PostgreSQL reports the constraint's name with the error.
const CONFLICTS: &[(&str, Conflict)] = &[
    ("organizations_slug_key", Conflict::OrgSlug),
    ("organizations_custom_domain_key", Conflict::OrgCustomDomain),
    ("users_org_subject_key", Conflict::MemberSubject),
    ("accounts_uid_key", Conflict::AccountUid),
    ("accounts_username_key", Conflict::Username),
    ("account_groups_name_key", Conflict::GroupName),
    ("users_org_card_key", Conflict::CustomerCard),
    ("users_org_customer_phone_key", Conflict::CustomerPhone),
    ("users_org_customer_email_key", Conflict::CustomerEmail),
    ("rewards_org_name_key", Conflict::RewardName),
    ("points_transactions_org_user_seq_key", Conflict::LedgerSeq),
    ("api_tokens_hash_key", Conflict::TokenHash),
    ("mail_outbox_dedupe_key", Conflict::MailDedupe),
    ("users_balance_nonnegative", Conflict::NegativeBalance),
];

/// The conflict of the constraint named `name`; [`Conflict::Other`] with the name for
/// a constraint without a variant of its own.
fn conflict(name: &str) -> Conflict {
    CONFLICTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| Conflict::Other(name.to_owned()), |(_, c)| c.clone())
}

/// Maps a sqlx error: constraint violations become a typed `Conflict`; a lost or
/// refused connection (and no free connection in time) becomes `Unavailable`.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && (db.is_unique_violation() || db.is_check_violation() || db.is_foreign_key_violation())
    {
        return StoreError::Conflict(conflict(db.constraint().unwrap_or("constraint")));
    }
    if connection_lost(&e) {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::backend(e)
}

/// Whether `e` says the server cannot be reached now rather than that the statement
/// failed: a broken or refused connection, the pool out of connections for the acquire
/// timeout, or the server's own words for it: a FATAL error (the server ended the
/// session: terminated, shutting down, the database not accepting connections),
/// SQLSTATE class 08 (connection exception), 57P01-57P03 or 53300 (too many connections).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let fatal = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|pg| {
                    matches!(
                        pg.severity(),
                        sqlx::postgres::PgSeverity::Fatal | sqlx::postgres::PgSeverity::Panic
                    )
                });
            fatal
                || db.code().is_some_and(|c| {
                    c.starts_with("08")
                        || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                })
        }
        _ => false,
    }
}

/// A text column parsed into a domain type once, when the row is read: text that does
/// not parse (a row written by hand with SQL) is a decode error naming the column.
pub(crate) fn parsed<T>(
    row: &sqlx::postgres::PgRow,
    col: &str,
    parse: impl FnOnce(&str) -> Result<T, loyalty_core::FieldError>,
) -> Result<T, sqlx::Error> {
    let text: String = sqlx::Row::try_get(row, col)?;
    decode_field(col, parse(&text))
}

/// A parse result of column `col`, its error as a decode error naming the column.
pub(crate) fn decode_field<T>(
    col: &str,
    r: Result<T, loyalty_core::FieldError>,
) -> Result<T, sqlx::Error> {
    r.map_err(|e| sqlx::Error::Decode(format!("column {col}: {}", e.message).into()))
}

/// An error decoding a column whose text is not one this program knows.
pub(crate) fn decode_err(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what}").into())
}

/// Makes the open transaction a tenant transaction of `org`: the role `loyalty_tenant`
/// and the setting `loyalty.org_id`, both until the transaction ends. Row-level
/// security then hides and refuses every other organization's rows.
pub(crate) async fn enter_tenant(conn: &mut PgConnection, org: OrgId) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT set_config('role', 'loyalty_tenant', true), set_config('loyalty.org_id', $1, true)",
    )
    .bind(org.0.to_string())
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
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
        // Entries older than the chain (migration 21) get their hashes once.
        self.backfill_chain().await?;
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

    async fn server_info(&self) -> Result<ServerInfo, StoreError> {
        let (version, now): (String, time::OffsetDateTime) =
            sqlx::query_as("SELECT current_setting('server_version'), now()")
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        // `15.19 (Debian 15.19-1.pgdg120+1)`: the number is enough.
        let number = version.split_whitespace().next().unwrap_or("?");
        Ok(ServerInfo {
            version: format!("PostgreSQL {number}"),
            now: Some(now),
        })
    }

    fn pool_stats(&self) -> PoolStats {
        pool_stats(&self.pool)
    }

    async fn active_members(
        &self,
        since: &[time::OffsetDateTime],
    ) -> Result<Vec<ActiveMembers>, StoreError> {
        let mut out: Vec<ActiveMembers> = Vec::new();
        for (i, t) in since.iter().enumerate() {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT o.slug, u.role, count(*) FROM users u JOIN organizations o ON o.id = u.organization_id \
                 WHERE o.deleted_at IS NULL AND u.status = 'active' AND u.last_seen_at >= $1 \
                 GROUP BY o.slug, u.role ORDER BY o.slug, u.role",
            )
            .bind(*t)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
            for (org, role, n) in rows {
                let Some(role) = loyalty_core::domain::Role::parse(&role) else {
                    continue;
                };
                match out.iter_mut().find(|a| a.org == org && a.role == role) {
                    Some(a) => a.counts[i] = n,
                    None => {
                        let mut counts = vec![0; since.len()];
                        counts[i] = n;
                        out.push(ActiveMembers { org, role, counts });
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Idle, lent-out and most connections of `pool`.
fn pool_stats(pool: &PgPool) -> PoolStats {
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    PoolStats {
        idle,
        in_use: size - idle,
        max: pool.options().get_max_connections(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_conflict_has_its_constraint() {
        for c in Conflict::NAMED {
            assert!(CONFLICTS.iter().any(|(_, k)| *k == c), "{c:?}");
        }
        assert_eq!(conflict("users_org_card_key"), Conflict::CustomerCard);
        assert_eq!(
            conflict("rewards_cost_points_check"),
            Conflict::Other("rewards_cost_points_check".into())
        );
    }
}
