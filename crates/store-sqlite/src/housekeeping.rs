//! Housekeeping on SQLite: batched removal of rows past their retention (one short
//! write transaction of at most `batch` rows per call, so the ledger's writer waits at
//! most for one batch), exact row counts, and `PRAGMA incremental_vacuum` when the
//! file was set up for it.

use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::store::{HousekeepingStore, StoreError, Sweep, TableSize};
use time::OffsetDateTime;

/// The rows of a kind past `?1` (the cutoff), as `FROM ... WHERE ...` of its table.
fn candidates(kind: Sweep) -> &'static str {
    match kind {
        Sweep::IdempotencyKeys => "FROM idempotency_keys WHERE created_at < ?1",
        Sweep::Sessions => "FROM sessions WHERE expires_at < ?1",
        Sweep::LoginFlows => "FROM login_flows WHERE expires_at < ?1",
        Sweep::AccountTokens => "FROM account_tokens WHERE expires_at < ?1",
        Sweep::MailBodies => {
            "FROM mail_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
             AND COALESCE(sent_at, failed_at) < ?1 AND (body_text <> '' OR body_html IS NOT NULL)"
        }
        Sweep::MailRows => {
            "FROM mail_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
             AND COALESCE(sent_at, failed_at) < ?1"
        }
        Sweep::LoginThrottle => "FROM login_throttle WHERE last_failure_at < ?1",
        Sweep::JobLeases => "FROM job_leases WHERE expires_at < ?1",
        Sweep::WalletLinks => "FROM wallet_links WHERE expires_at < ?1",
        Sweep::WebhookDeliveries => {
            "FROM webhook_deliveries WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) \
             AND COALESCE(delivered_at, failed_at) < ?1"
        }
    }
}

/// One batch: `?1` the cutoff, `?2` the batch size.
fn batch_statement(kind: Sweep) -> String {
    let pick = format!("SELECT rowid {} LIMIT ?2", candidates(kind));
    match kind {
        Sweep::MailBodies => format!(
            "UPDATE mail_outbox SET body_text = '', body_html = NULL WHERE rowid IN ({pick})"
        ),
        other => format!("DELETE FROM {} WHERE rowid IN ({pick})", other.table()),
    }
}

/// Tables whose sizes are reported: those housekeeping looks after, then those it never touches.
const TABLES: [&str; 12] = [
    "idempotency_keys",
    "sessions",
    "login_flows",
    "account_tokens",
    "mail_outbox",
    "login_throttle",
    "job_leases",
    "webhook_deliveries",
    "wallet_links",
    "points_transactions",
    "purchases",
    "audit_log",
];

#[async_trait]
impl HousekeepingStore for SqliteStore {
    async fn sweep_candidates(
        &self,
        kind: Sweep,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) {}",
            candidates(kind)
        )))
        .bind(ts(cutoff))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn sweep(
        &self,
        kind: Sweep,
        cutoff: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(batch_statement(kind)))
            .bind(ts(cutoff))
            .bind(i64::from(batch))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn table_sizes(&self) -> Result<Vec<TableSize>, StoreError> {
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?;
            out.push(TableSize {
                table: table.to_owned(),
                rows: u64::try_from(rows).unwrap_or(0),
                bytes: None,
            });
        }
        Ok(out)
    }

    async fn reclaim_space(&self) -> Result<Option<String>, StoreError> {
        // One connection throughout; reading the schema first makes it read the file's
        // header again, so a mode switched by another connection shows.
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
        if mode == 2 {
            sqlx::query("PRAGMA incremental_vacuum")
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
            return Ok(Some(format!(
                "incremental vacuum gave {free} free pages back to the file system"
            )));
        }
        Ok(Some(format!(
            "{free} free pages are reused by new rows; the file shrinks only with an offline VACUUM (see docs/housekeeping.md)"
        )))
    }
}
