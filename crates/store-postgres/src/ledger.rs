//! The points ledger on PostgreSQL: points commands and expiry run the rules of
//! `loyalty_core::ledger_tx` on a tenant transaction; reads of purchases and entries;
//! the points settings; the invariant check.

use crate::audit::insert_audit;
use crate::ledger_tx::{
    ENTRY_COLUMNS, PURCHASE_COLUMNS, PgLedgerTx, entry_from_row, purchase_from_row,
};
use crate::{PgStore, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{
    Actor, IdempotencyKey, LedgerEntry, PointsCommand, PointsError, PointsOutcome, Purchase,
};
use loyalty_core::domain::program::Grant;
use loyalty_core::domain::{CustomerId, LedgerEntryId, OrgId, PurchaseId};
use loyalty_core::ledger_tx;
use loyalty_core::store::{
    InvariantReport, LedgerStore, PointsSettings, StoreError, points_settings_audit,
};
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl LedgerStore for PgStore {
    async fn apply_points(
        &self,
        org: OrgId,
        cmd: &PointsCommand,
        actor: &Actor,
        idem: Option<&IdempotencyKey>,
        now: OffsetDateTime,
    ) -> Result<PointsOutcome, PointsError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let mut ltx = PgLedgerTx(tx);
        let outcome = ledger_tx::apply(&mut ltx, org, cmd, actor, idem, now).await;
        match outcome {
            Ok(o) => {
                ltx.0.commit().await.map_err(map_err)?;
                Ok(o)
            }
            Err(e) => {
                let _ = ltx.0.rollback().await;
                Err(e)
            }
        }
    }

    async fn purchase(&self, org: OrgId, id: PurchaseId) -> Result<Option<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = $1 AND id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(purchase_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn purchase_grants(
        &self,
        org: OrgId,
        ids: &[PurchaseId],
    ) -> Result<Vec<(PurchaseId, Vec<Grant>)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        // A hundred ids a query: on a page of 1,000 awards one query of all the ids took
        // 52-69 ms, ten of a hundred 21-49 ms (debug build, a busy machine).
        for chunk in ids.chunks(100) {
            let chunk: Vec<Uuid> = chunk.iter().map(|id| id.0).collect();
            let rows = sqlx::query(
                "SELECT id, grants FROM purchases WHERE organization_id = $1 AND id = ANY($2) \
                 AND grants IS NOT NULL",
            )
            .bind(org.0)
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
            for r in &rows {
                let grants: sqlx::types::Json<Vec<Grant>> = r.try_get("grants").map_err(map_err)?;
                found.push((PurchaseId(r.try_get("id").map_err(map_err)?), grants.0));
            }
        }
        Ok(found)
    }

    async fn ledger(
        &self,
        org: OrgId,
        customer: Option<CustomerId>,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, LedgerEntryId)>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM points_transactions WHERE organization_id = $1 \
             AND ($2::uuid IS NULL OR user_id = $2) AND ($3::timestamptz IS NULL OR created_at >= $3) \
             AND ($4::timestamptz IS NULL OR created_at < $4) \
             AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6)) \
             ORDER BY created_at, id LIMIT $7"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(customer.map(|c| c.0))
            .bind(from)
            .bind(to)
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn expiry_candidates(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT u.id FROM users u WHERE u.organization_id = $1 AND u.role = 'customer' AND u.balance > 0 \
             AND EXISTS (SELECT 1 FROM points_transactions t WHERE t.organization_id = $1 AND t.user_id = u.id \
                         AND t.points > 0 AND t.created_at <= $2) ORDER BY u.id",
        )
        .bind(org.0)
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(ids.into_iter().map(CustomerId).collect())
    }

    async fn expire_customer(
        &self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let mut ltx = PgLedgerTx(tx);
        let expired = ledger_tx::expire(&mut ltx, org, customer, cutoff, now, dry_run).await?;
        if dry_run {
            ltx.0.rollback().await.map_err(map_err)?;
        } else {
            ltx.0.commit().await.map_err(map_err)?;
        }
        Ok(expired)
    }

    async fn update_points_settings(
        &self,
        org: OrgId,
        s: &PointsSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET points_per_unit = $2, min_purchase = $3, expiry_days = $4, join_enabled = $5, updated_at = $6, \
             purchase_bound = $7, daily_points_flag = $8 WHERE id = $1",
        )
        .bind(org.0)
        .bind(s.earning.points_per_unit)
        .bind(s.earning.min_purchase)
        .bind(s.expiry_days)
        .bind(s.join_enabled)
        .bind(now)
        .bind(s.purchase_bound)
        .bind(s.daily_points_flag)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_audit(&mut tx, &points_settings_audit(org, actor, s, now)).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn purchase_percentile(
        &self,
        org: OrgId,
        since: OffsetDateTime,
        permille: u32,
    ) -> Result<(i64, Option<rust_decimal::Decimal>), StoreError> {
        // percentile_disc is the nearest rank, as the SQLite twin computes it.
        let row = sqlx::query(
            "SELECT COUNT(*)::bigint AS n, \
                    percentile_disc($3::float8) WITHIN GROUP (ORDER BY amount) AS p \
             FROM purchases WHERE organization_id = $1 AND created_at >= $2",
        )
        .bind(org.0)
        .bind(since)
        .bind(f64::from(permille.min(1000)) / 1000.0)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok((
            row.try_get("n").map_err(map_err)?,
            row.try_get("p").map_err(map_err)?,
        ))
    }

    async fn check_invariants(&self, org: Option<OrgId>) -> Result<InvariantReport, StoreError> {
        let org = org.map(|o| o.0);
        let row = sqlx::query(
            "WITH sums AS (SELECT organization_id, user_id, SUM(points) AS total, COUNT(*) AS n FROM points_transactions \
                           WHERE ($1::uuid IS NULL OR organization_id = $1) GROUP BY organization_id, user_id) \
             SELECT COUNT(*)::bigint, COALESCE(SUM(s.n), 0)::bigint, \
                    COUNT(*) FILTER (WHERE u.balance <> COALESCE(s.total, 0))::bigint, \
                    COUNT(*) FILTER (WHERE u.balance < 0)::bigint \
             FROM users u LEFT JOIN sums s ON s.organization_id = u.organization_id AND s.user_id = u.id \
             WHERE u.role = 'customer' AND ($1::uuid IS NULL OR u.organization_id = $1)",
        )
        .bind(org)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let broken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*)::bigint FROM (SELECT points, balance_after, \
                 lag(balance_after, 1, 0::bigint) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev, \
                 seq, lag(seq, 1, 0::bigint) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev_seq \
               FROM points_transactions WHERE ($1::uuid IS NULL OR organization_id = $1)) t \
             WHERE t.prev + t.points <> t.balance_after OR t.seq <> t.prev_seq + 1",
        )
        .bind(org)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(InvariantReport {
            customers: row.try_get(0).map_err(map_err)?,
            entries: row.try_get(1).map_err(map_err)?,
            balance_mismatches: row.try_get(2).map_err(map_err)?,
            negative_balances: row.try_get(3).map_err(map_err)?,
            broken_chains: broken,
        })
    }
}
