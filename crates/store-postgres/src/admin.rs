//! Login throttling and the admin pages' reads (activity totals, purchases) on
//! PostgreSQL.

use crate::audit::insert_audit;
use crate::ledger_tx::{PURCHASE_COLUMNS, purchase_from_row};
use crate::orgs::{MEMBER_COLUMNS, member_from_row};
use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{Actor, Purchase};
use loyalty_core::domain::{CustomerId, OrgId, PurchaseId};
use loyalty_core::store::{
    ActivityTotals, AdminStore, BalanceTotals, DayActivity, HeavyEarner, LoginThrottleStore,
    Member, NewMember, PeriodSummary, RewardTotal, StoreError, member_audit, member_status_action,
    new_id,
};
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl LoginThrottleStore for PgStore {
    async fn login_failures(&self, key: &str, since: OffsetDateTime) -> Result<i64, StoreError> {
        let n: Option<i32> = sqlx::query_scalar(
            "SELECT failures FROM login_throttle WHERE key = $1 AND window_start >= $2",
        )
        .bind(key)
        .bind(since)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(i64::from(n.unwrap_or(0)))
    }

    async fn record_login_failure(
        &self,
        key: &str,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let n: i32 = sqlx::query_scalar(
            "INSERT INTO login_throttle (key, failures, window_start, last_failure_at) VALUES ($1, 1, $3, $3) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.window_start < $2 THEN 1 ELSE login_throttle.failures + 1 END, \
               window_start = CASE WHEN login_throttle.window_start < $2 THEN $3 ELSE login_throttle.window_start END, \
               last_failure_at = $3 \
             RETURNING failures",
        )
        .bind(key)
        .bind(since)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(i64::from(n))
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl AdminStore for PgStore {
    async fn daily_activity(
        &self,
        org: OrgId,
        bounds: &[OffsetDateTime],
    ) -> Result<Vec<DayActivity>, StoreError> {
        let days = bounds.len().saturating_sub(1);
        let mut out = vec![DayActivity::default(); days];
        if days == 0 {
            return Ok(out);
        }
        let bounds: Vec<OffsetDateTime> = bounds.to_vec();
        // The days as (index, start, end) from the bounds; each day's rows are found
        // through the (organization_id, created_at) index.
        const DAYS: &str = "WITH b AS (SELECT s, i - 1 AS i FROM unnest($2::timestamptz[]) WITH ORDINALITY AS x(s, i)), \
             d AS (SELECT b1.i AS i, b1.s AS s, b2.s AS e FROM b b1 JOIN b b2 ON b2.i = b1.i + 1) ";
        let ledger = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DAYS}SELECT d.i AS day, \
               COALESCE(SUM(CASE WHEN t.transaction_type = 'earned' THEN t.points ELSE 0 END), 0)::BIGINT AS issued, \
               COALESCE(-SUM(CASE WHEN t.transaction_type = 'redeemed' THEN t.points ELSE 0 END), 0)::BIGINT AS redeemed, \
               COUNT(DISTINCT CASE WHEN t.transaction_type IN ('earned', 'redeemed') THEN t.user_id END) AS active \
             FROM d JOIN points_transactions t ON t.organization_id = $1 AND t.created_at >= d.s AND t.created_at < d.e \
             GROUP BY d.i"
        )))
        .bind(org.0)
        .bind(&bounds)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        for r in &ledger {
            let day: i64 = r.try_get("day").map_err(map_err)?;
            if let Some(d) = usize::try_from(day).ok().and_then(|i| out.get_mut(i)) {
                d.issued = r.try_get("issued").map_err(map_err)?;
                d.redeemed = r.try_get("redeemed").map_err(map_err)?;
                d.active_customers = r.try_get("active").map_err(map_err)?;
            }
        }
        let enrolled = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{DAYS}SELECT d.i AS day, count(*) AS n \
             FROM d JOIN users u ON u.organization_id = $1 AND u.role = 'customer' AND u.created_at >= d.s AND u.created_at < d.e \
             GROUP BY d.i"
        )))
        .bind(org.0)
        .bind(&bounds)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        for r in &enrolled {
            let day: i64 = r.try_get("day").map_err(map_err)?;
            if let Some(d) = usize::try_from(day).ok().and_then(|i| out.get_mut(i)) {
                d.new_customers = r.try_get("n").map_err(map_err)?;
            }
        }
        Ok(out)
    }

    async fn customers_enrolled(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE organization_id = $1 AND role = 'customer' \
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn activity_totals(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<ActivityTotals, StoreError> {
        let row = sqlx::query(
            "SELECT \
               (SELECT count(*) FROM purchases p WHERE p.organization_id = $1 AND p.created_at >= $2 AND p.created_at < $3) AS purchases, \
               COALESCE(SUM(CASE WHEN transaction_type = 'earned' THEN points ELSE 0 END), 0)::bigint AS issued, \
               COALESCE(-SUM(CASE WHEN transaction_type = 'redeemed' THEN points ELSE 0 END), 0)::bigint AS redeemed, \
               COUNT(DISTINCT CASE WHEN transaction_type IN ('earned', 'redeemed') THEN user_id END) AS active \
             FROM points_transactions WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
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

    async fn period_summary(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        top: u32,
    ) -> Result<PeriodSummary, StoreError> {
        let points = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN transaction_type = 'earned' THEN points ELSE 0 END), 0)::bigint AS issued, \
               COALESCE(-SUM(CASE WHEN transaction_type = 'redeemed' THEN points ELSE 0 END), 0)::bigint AS redeemed, \
               COALESCE(-SUM(CASE WHEN transaction_type = 'expired' THEN points ELSE 0 END), 0)::bigint AS expired, \
               COALESCE(SUM(CASE WHEN transaction_type IN ('adjusted', 'reversed') THEN points ELSE 0 END), 0)::bigint AS adjusted, \
               COUNT(DISTINCT CASE WHEN transaction_type IN ('earned', 'redeemed') THEN user_id END) AS active \
             FROM points_transactions WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let outstanding: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(points), 0)::bigint FROM points_transactions \
             WHERE organization_id = $1 AND created_at < $2",
        )
        .bind(org.0)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let purchases = sqlx::query(
            "SELECT count(*) AS n, COALESCE(SUM(amount), 0) AS amount, COALESCE(SUM(reversed_amount), 0) AS refunded \
             FROM purchases WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let new_customers: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE organization_id = $1 AND role = 'customer' \
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let rewards = sqlx::query(
            "SELECT COALESCE(r.name, t.reference_id::text) AS name, count(*) AS n, -SUM(t.points)::bigint AS pts \
             FROM points_transactions t LEFT JOIN rewards r \
               ON r.organization_id = t.organization_id AND r.id = t.reference_id \
             WHERE t.organization_id = $1 AND t.created_at >= $2 AND t.created_at < $3 \
               AND t.transaction_type = 'redeemed' AND t.reference_type = 'reward' \
             GROUP BY t.reference_id, r.name ORDER BY n DESC, pts DESC, name LIMIT $4",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
        .bind(i64::from(top))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(PeriodSummary {
            points_issued: points.try_get("issued").map_err(map_err)?,
            points_redeemed: points.try_get("redeemed").map_err(map_err)?,
            points_expired: points.try_get("expired").map_err(map_err)?,
            points_adjusted: points.try_get("adjusted").map_err(map_err)?,
            points_outstanding: outstanding,
            purchases: purchases.try_get("n").map_err(map_err)?,
            purchases_amount: purchases.try_get("amount").map_err(map_err)?,
            purchases_refunded: purchases.try_get("refunded").map_err(map_err)?,
            new_customers,
            active_customers: points.try_get("active").map_err(map_err)?,
            top_rewards: rewards
                .iter()
                .map(|r| {
                    Ok(RewardTotal {
                        name: r.try_get("name")?,
                        redemptions: r.try_get("n")?,
                        points: r.try_get("pts")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(map_err)?,
        })
    }

    async fn heavy_earners(
        &self,
        org: OrgId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        over: i64,
        limit: u32,
    ) -> Result<Vec<HeavyEarner>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.user_id, u.name, u.card_number, SUM(t.points)::bigint AS pts \
             FROM points_transactions t JOIN users u ON u.id = t.user_id \
             WHERE t.organization_id = $1 AND t.transaction_type = 'earned' \
               AND t.created_at >= $2 AND t.created_at < $3 \
             GROUP BY t.user_id, u.name, u.card_number HAVING SUM(t.points) > $4 \
             ORDER BY pts DESC, t.user_id LIMIT $5",
        )
        .bind(org.0)
        .bind(from)
        .bind(to)
        .bind(over)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(HeavyEarner {
                    customer_id: CustomerId(r.try_get("user_id")?),
                    name: r.try_get("name")?,
                    card_number: r.try_get("card_number")?,
                    points: r.try_get("pts")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn balance_totals(&self, org: OrgId) -> Result<BalanceTotals, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS customers, COALESCE(SUM(balance), 0)::bigint AS outstanding \
             FROM users WHERE organization_id = $1 AND role = 'customer'",
        )
        .bind(org.0)
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
        customer: Option<CustomerId>,
        since: Option<OffsetDateTime>,
        before: Option<(OffsetDateTime, PurchaseId)>,
        limit: u32,
    ) -> Result<Vec<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = $1 \
             AND ($2::uuid IS NULL OR customer_id = $2) AND ($3::timestamptz IS NULL OR created_at >= $3) \
             AND ($4::timestamptz IS NULL OR (created_at <= $4 AND (created_at, id) < ($4, $5))) \
             ORDER BY created_at DESC, id DESC LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(customer.map(|c| c.0))
            .bind(since)
            .bind(before.map(|b| b.0))
            .bind(before.map(|b| b.1.0))
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
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Member>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM users WHERE organization_id = $1 AND id = $2 FOR UPDATE"
        );
        let before = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(member)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(before) = before else {
            return Ok(None);
        };
        let before = member_from_row(&before).map_err(map_err)?;
        if before.status == status {
            return Ok(Some(before));
        }
        let sql = format!(
            "UPDATE users SET status = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2 \
             RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(member)
            .bind(status)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let after = member_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &member_audit(
                actor,
                member_status_action(after.role, status),
                Some(&before),
                &after,
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(after))
    }

    async fn upsert_staff(
        &self,
        org: OrgId,
        member: &NewMember,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Member, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM users WHERE organization_id = $1 AND identity_subject = $2 FOR UPDATE"
        );
        let before = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(&member.identity_subject)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .as_ref()
            .map(member_from_row)
            .transpose()
            .map_err(map_err)?;
        let sql = format!(
            "INSERT INTO users (id, organization_id, identity_subject, role, status, email, name, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $8) \
             ON CONFLICT (organization_id, identity_subject) DO UPDATE SET \
               role = EXCLUDED.role, status = 'active', email = COALESCE(EXCLUDED.email, users.email), \
               name = COALESCE(EXCLUDED.name, users.name), updated_at = EXCLUDED.updated_at \
             RETURNING {MEMBER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_id())
            .bind(org.0)
            .bind(&member.identity_subject)
            .bind(member.role.as_str())
            .bind(&member.email)
            .bind(&member.name)
            .bind(member.created_by)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let after = member_from_row(&row).map_err(map_err)?;
        let action = match &before {
            None => "staff.create",
            Some(b) if b.status != "active" => "staff.reactivate",
            Some(_) => "staff.update",
        };
        insert_audit(
            &mut tx,
            &member_audit(actor, action, before.as_ref(), &after, now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(after)
    }
}
