//! Housekeeping on PostgreSQL: batched removal of rows past their retention (one
//! statement of at most `batch` rows per call, picked through an index and locked
//! with `SKIP LOCKED` so that nothing waits on a row a request holds), table sizes
//! from the catalogue. Runs as the owner role, across organizations.

use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::store::{HousekeepingStore, StoreError, Sweep, TableSize};
use sqlx::Row;
use time::OffsetDateTime;

/// The rows of a kind past `$1` (the cutoff), as `FROM ... WHERE ...` of its table.
fn candidates(kind: Sweep) -> &'static str {
    match kind {
        Sweep::IdempotencyKeys => "FROM idempotency_keys WHERE created_at < $1",
        Sweep::Sessions => "FROM sessions WHERE expires_at < $1",
        Sweep::LoginFlows => "FROM login_flows WHERE expires_at < $1",
        Sweep::AccountTokens => "FROM account_tokens WHERE expires_at < $1",
        Sweep::MailBodies => {
            "FROM mail_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
             AND COALESCE(sent_at, failed_at) < $1 AND (body_text <> '' OR body_html IS NOT NULL)"
        }
        // The first condition is the partial index's, so the planner may use it.
        Sweep::MailRows => {
            "FROM mail_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) \
             AND COALESCE(sent_at, failed_at) < $1"
        }
        Sweep::LoginThrottle => "FROM login_throttle WHERE last_failure_at < $1",
        Sweep::JobLeases => "FROM job_leases WHERE expires_at < $1",
        Sweep::WalletLinks => "FROM wallet_links WHERE expires_at < $1",
        Sweep::WebhookDeliveries => {
            "FROM webhook_deliveries WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) \
             AND COALESCE(delivered_at, failed_at) < $1"
        }
    }
}

/// One batch: `$1` the cutoff, `$2` the batch size.
fn batch_statement(kind: Sweep) -> String {
    let pick = |key: &str| {
        format!(
            "SELECT {key} {} LIMIT $2 FOR UPDATE SKIP LOCKED",
            candidates(kind)
        )
    };
    match kind {
        Sweep::IdempotencyKeys => format!(
            "DELETE FROM idempotency_keys WHERE (organization_id, key) IN ({})",
            pick("organization_id, key")
        ),
        Sweep::Sessions => format!(
            "DELETE FROM sessions WHERE token_hash IN ({})",
            pick("token_hash")
        ),
        Sweep::LoginFlows => format!(
            "DELETE FROM login_flows WHERE key_hash IN ({})",
            pick("key_hash")
        ),
        Sweep::AccountTokens => format!(
            "DELETE FROM account_tokens WHERE token_hash IN ({})",
            pick("token_hash")
        ),
        Sweep::MailBodies => format!(
            "UPDATE mail_outbox SET body_text = '', body_html = NULL WHERE id IN ({})",
            pick("id")
        ),
        Sweep::MailRows => format!("DELETE FROM mail_outbox WHERE id IN ({})", pick("id")),
        Sweep::LoginThrottle => {
            format!("DELETE FROM login_throttle WHERE key IN ({})", pick("key"))
        }
        Sweep::JobLeases => format!("DELETE FROM job_leases WHERE name IN ({})", pick("name")),
        Sweep::WebhookDeliveries => format!(
            "DELETE FROM webhook_deliveries WHERE id IN ({})",
            pick("id")
        ),
        Sweep::WalletLinks => format!(
            "DELETE FROM wallet_links WHERE token_hash IN ({})",
            pick("token_hash")
        ),
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
impl HousekeepingStore for PgStore {
    async fn sweep_candidates(
        &self,
        kind: Sweep,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) {}",
            candidates(kind)
        )))
        .bind(cutoff)
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
            .bind(cutoff)
            .bind(i64::from(batch))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn table_sizes(&self) -> Result<Vec<TableSize>, StoreError> {
        // reltuples is -1 for a table never vacuumed or analyzed: count those (small).
        let rows = sqlx::query(
            "SELECT c.relname AS name, c.reltuples::bigint AS rows, pg_total_relation_size(c.oid) AS bytes \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY($1)",
        )
        .bind(TABLES.as_slice())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let Some(r) = rows
                .iter()
                .find(|r| r.try_get::<String, _>("name").ok().as_deref() == Some(table))
            else {
                continue;
            };
            let estimate: i64 = r.try_get("rows").map_err(map_err)?;
            let bytes: i64 = r.try_get("bytes").map_err(map_err)?;
            let rows = if estimate >= 0 {
                estimate
            } else {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?
            };
            out.push(TableSize {
                table: table.to_owned(),
                rows: u64::try_from(rows).unwrap_or(0),
                bytes: u64::try_from(bytes).ok(),
            });
        }
        Ok(out)
    }

    async fn reclaim_space(&self) -> Result<Option<String>, StoreError> {
        // Autovacuum makes the freed space reusable; nothing to do here.
        Ok(None)
    }
}
