//! SQLite implementation of the `loyalty` store: one file, WAL with full durability,
//! foreign keys on, a busy timeout, and a lock file so only one server writes to it.
//! Types are portable: UUIDs and timestamps are text (timestamps in a fixed-width UTC
//! format, so they sort as text), JSON is text, booleans are integers.

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
mod mail;
mod orgs;
mod programs;
mod rewards;
mod rows;
mod sessions;
mod sql;
mod sync_tx;
mod tills;
mod tokens;
mod wallet;
mod webhooks;
mod writer;

use async_trait::async_trait;
use loyalty_core::store::{
    ActiveMembers, Backend, ChainStore, Conflict, PoolStats, SchemaStatus, ServerInfo, Store,
    StoreError,
};
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The migrations, in order, numbered like their PostgreSQL twins.
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

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Long reads of a whole organization, page after page (the exports' ledger,
    /// customers and purchases): two connections with a small page cache, so a
    /// million-row export does not fill the 64 MiB cache of every pooled connection it
    /// happens to use with pages the shop's lookups never need again.
    scan: SqlitePool,
    path: Option<PathBuf>,
    writer: writer::Writer,
}

/// Holds the single-writer lock on a database file until dropped.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    path: PathBuf,
}

impl WriterLock {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SqliteStore {
    /// Opens (creating when missing, with its folder) the database at `url`
    /// (`sqlite://./data/loyalty.db` or `sqlite:relative/path.db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB of page cache per connection: the customers' and ledger's indexes
            // stay in memory instead of being re-read through the OS on every lookup.
            .pragma("cache_size", "-65536");
        let path = options.get_filename().to_path_buf();
        let path = (path.as_os_str() != ":memory:").then_some(path);
        if let Some(dir) = path
            .as_ref()
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(
                    format!(
                        "cannot create folder {} for the SQLite database: {e}",
                        dir.display()
                    )
                    .into(),
                )
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::backend)?;
        let scan = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone().pragma("cache_size", "-2048"))
            .await
            .map_err(StoreError::backend)?;
        let Some(file) = path.as_deref() else {
            return Err(StoreError::Backend(
                "an in-memory SQLite database is not supported: give a file, such as sqlite://./data/loyalty.db".into(),
            ));
        };
        let writer = writer::start(file)?;
        Ok(Self {
            pool,
            scan,
            path,
            writer,
        })
    }

    /// The pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file, unless in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Takes the single-writer lock (`<db>.lock`), so a second `serve` on the same file
    /// refuses to start instead of competing for writes.
    pub fn lock_writer(&self) -> Result<Option<WriterLock>, StoreError> {
        let Some(db) = &self.path else {
            return Ok(None);
        };
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                StoreError::Backend(format!("cannot open lock file {}: {e}", path.display()).into())
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(WriterLock { _file: file, path })),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(format!(
                "another loyalty server is already using {} (lock {} is held); SQLite allows one server per file: stop the other one, or use PostgreSQL to run several",
                db.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Backend(
                format!("cannot lock {}: {e}", path.display()).into(),
            )),
        }
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

/// The messages SQLite gives when a named constraint of the migrations refuses a
/// write, and the conflict each means. SQLite names the columns of a plain unique
/// index, the index itself only when it indexes an expression (such as `lower(email)`),
/// and the expression of an unnamed check.
const CONFLICTS: &[(&str, Conflict)] = &[
    (
        "UNIQUE constraint failed: organizations.slug",
        Conflict::OrgSlug,
    ),
    (
        "UNIQUE constraint failed: index 'organizations_custom_domain_key'",
        Conflict::OrgCustomDomain,
    ),
    (
        "UNIQUE constraint failed: users.organization_id, users.identity_subject",
        Conflict::MemberSubject,
    ),
    (
        "UNIQUE constraint failed: accounts.uid",
        Conflict::AccountUid,
    ),
    (
        "UNIQUE constraint failed: index 'accounts_username_key'",
        Conflict::Username,
    ),
    (
        "UNIQUE constraint failed: account_groups.name",
        Conflict::GroupName,
    ),
    (
        "UNIQUE constraint failed: users.organization_id, users.card_number",
        Conflict::CustomerCard,
    ),
    (
        "UNIQUE constraint failed: users.organization_id, users.phone",
        Conflict::CustomerPhone,
    ),
    (
        "UNIQUE constraint failed: index 'users_org_customer_email_key'",
        Conflict::CustomerEmail,
    ),
    (
        "UNIQUE constraint failed: index 'rewards_org_name_key'",
        Conflict::RewardName,
    ),
    (
        "UNIQUE constraint failed: points_transactions.organization_id, points_transactions.user_id, points_transactions.seq",
        Conflict::LedgerSeq,
    ),
    (
        "UNIQUE constraint failed: api_tokens.token_hash",
        Conflict::TokenHash,
    ),
    (
        "UNIQUE constraint failed: mail_outbox.dedupe_key",
        Conflict::MailDedupe,
    ),
    (
        "CHECK constraint failed: balance >= 0",
        Conflict::NegativeBalance,
    ),
];

/// The conflict of a constraint violation with SQLite's `message` (the same through
/// sqlx and rusqlite); [`Conflict::Other`] with the message for the others.
pub(crate) fn conflict(message: &str) -> Conflict {
    CONFLICTS
        .iter()
        .find(|(m, _)| *m == message)
        .map_or_else(|| Conflict::Other(message.to_owned()), |(_, c)| c.clone())
}

/// Maps a sqlx error: constraint violations become a typed `Conflict`.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && (db.is_unique_violation() || db.is_check_violation() || db.is_foreign_key_violation())
    {
        return StoreError::Conflict(conflict(db.message()));
    }
    if matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    ) {
        // The database file cannot be opened or no connection came free in time.
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::backend(e)
}

/// A timestamp as stored: UTC, microseconds, fixed width, so text order is time order.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Parses a stored timestamp (ours, or any RFC 3339 text written by hand).
pub(crate) fn parse_ts(s: &str) -> Result<OffsetDateTime, sqlx::Error> {
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{}Z", s.replace(' ', "T")), &Rfc3339))
        .map_err(|e| sqlx::Error::Decode(format!("bad timestamp {s:?}: {e}").into()))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
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
        let exists: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let applied = if exists > 0 {
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
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO job_leases (name, holder, expires_at) VALUES (?1, ?2, ?4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ?3 RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(ts(now))
        .bind(ts(until))
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
        let version: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(ServerInfo {
            version: format!("SQLite {version}"),
            now: None,
        })
    }

    fn pool_stats(&self) -> PoolStats {
        pool_stats(&self.pool)
    }

    async fn active_members(
        &self,
        since: &[OffsetDateTime],
    ) -> Result<Vec<ActiveMembers>, StoreError> {
        let mut out: Vec<ActiveMembers> = Vec::new();
        for (i, t) in since.iter().enumerate() {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT o.slug, u.role, count(*) FROM users u JOIN organizations o ON o.id = u.organization_id \
                 WHERE o.deleted_at IS NULL AND u.status = 'active' AND u.last_seen_at >= ?1 \
                 GROUP BY o.slug, u.role ORDER BY o.slug, u.role",
            )
            .bind(ts(*t))
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
fn pool_stats(pool: &SqlitePool) -> PoolStats {
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
    fn every_named_conflict_has_its_message() {
        for c in Conflict::NAMED {
            assert!(CONFLICTS.iter().any(|(_, k)| *k == c), "{c:?}");
        }
        assert_eq!(
            conflict("CHECK constraint failed: cost_points > 0"),
            Conflict::Other("CHECK constraint failed: cost_points > 0".into())
        );
    }

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let a = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("valid");
        let b = a + time::Duration::microseconds(1);
        assert!(ts(a) < ts(b));
        assert_eq!(parse_ts(&ts(b)).ok(), Some(b));
        assert!(parse_ts("2025-01-23 14:05:30").is_ok());
    }
}
