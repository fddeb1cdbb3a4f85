//! Login throttling and the admin pages' reads (activity totals, purchases) on SQLite.

use crate::orgs::{MEMBER_COLUMNS, member_from_row};
use crate::points::{PURCHASE_COLUMNS, purchase_from_row};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::domain::ledger::Purchase;
use loyalty_core::store::{
    ActivityTotals, AdminStore, BalanceTotals, LoginThrottleStore, Member, StoreError,
};
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl LoginThrottleStore for SqliteStore {
    async fn login_failures(&self, key: &str, since: OffsetDateTime) -> Result<i64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT failures FROM login_throttle WHERE key = ?1 AND window_start >= ?2",
        )
        .bind(key)
        .bind(ts(since))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(n.unwrap_or(0))
    }

    async fn record_login_failure(
        &self,
        key: &str,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO login_throttle (key, failures, window_start, last_failure_at) VALUES (?1, 1, ?3, ?3) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.window_start < ?2 THEN 1 ELSE login_throttle.failures + 1 END, \
               window_start = CASE WHEN login_throttle.window_start < ?2 THEN ?3 ELSE login_throttle.window_start END, \
               last_failure_at = ?3 \
             RETURNING failures",
        )
        .bind(key)
        .bind(ts(since))
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE key = ?1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn activity_totals(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<ActivityTotals, StoreError> {
        let row = sqlx::query(
            "SELECT \
               (SELECT count(*) FROM purchases p WHERE p.organization_id = ?1 AND p.created_at >= ?2 AND p.created_at < ?3) AS purchases, \
               COALESCE(SUM(CASE WHEN transaction_type = 'earned' THEN points ELSE 0 END), 0) AS issued, \
               COALESCE(-SUM(CASE WHEN transaction_type = 'redeemed' THEN points ELSE 0 END), 0) AS redeemed, \
               COUNT(DISTINCT CASE WHEN transaction_type IN ('earned', 'redeemed') THEN user_id END) AS active \
             FROM points_transactions WHERE organization_id = ?1 AND created_at >= ?2 AND created_at < ?3",
        )
        .bind(org.0.to_string())
        .bind(ts(from))
        .bind(ts(to))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(ActivityTotals {
            purchases: row.try_get("purchases").map_err(map_err)?,
            points_issued: row.try_get("issued").map_err(map_err)?,
            points_redeemed: row.try_get("redeemed").map_err(map_err)?,
            active_customers: row.try_get("active").map_err(map_err)?,
        })
    }

    async fn balance_totals(&self, org: OrgId) -> Result<BalanceTotals, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS customers, COALESCE(SUM(balance), 0) AS outstanding \
             FROM users WHERE organization_id = ?1 AND role = 'customer'",
        )
        .bind(org.0.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(BalanceTotals {
            customers: row.try_get("customers").map_err(map_err)?,
            outstanding: row.try_get("outstanding").map_err(map_err)?,
        })
    }

    async fn list_purchases(
        &self,
        org: OrgId,
        customer: Option<Uuid>,
        since: Option<OffsetDateTime>,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = ?1 \
             AND (?2 IS NULL OR customer_id = ?2) AND (?3 IS NULL OR created_at >= ?3) \
             AND (?4 IS NULL OR (created_at, id) < (?4, ?5)) \
             ORDER BY created_at DESC, id DESC LIMIT ?6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(customer.map(|u| u.to_string()))
            .bind(since.map(ts))
            .bind(before.map(|b| ts(b.0)))
            .bind(before.map(|b| b.1.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(purchase_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn set_member_status(
        &self,
        org: OrgId,
        member: Uuid,
        status: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Member>, StoreError> {
        let sql = format!(
            "UPDATE users SET status = ?3, updated_at = ?4 WHERE organization_id = ?1 AND id = ?2 \
             RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(member.to_string())
            .bind(status)
            .bind(ts(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(member_from_row)
            .transpose()
            .map_err(map_err)
    }
}
