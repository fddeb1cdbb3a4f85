//! The points ledger on SQLite: points commands and expiry go to the single writer
//! (which runs the rules of `loyalty_core::ledger_tx`), so every write is serialised
//! and cannot overdraw; reads of purchases and entries; the points settings; the
//! invariant check. The purchase and entry row mapping lives here.

use crate::audit::insert_audit;
use crate::rows::{decimal_col, decode, decode_err, time_col, uuid_col, uuid_opt};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{
    Actor, IdempotencyKey, LedgerEntry, PointsCommand, PointsError, PointsOutcome, Purchase, TxType,
};
use loyalty_core::domain::program::Grant;
use loyalty_core::domain::{CustomerId, LedgerEntryId, OrgId, PurchaseId};
use loyalty_core::store::{
    InvariantReport, LedgerStore, PointsSettings, StoreError, points_settings_audit,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

pub(crate) const ENTRY_COLUMNS: &str = "id, user_id, points, transaction_type, reference_id, reference_type, balance_after, notes, created_by, created_at";
pub(crate) const PURCHASE_COLUMNS: &str = "id, customer_id, cashier_id, amount, currency, points_awarded, reversed_amount, points_reversed, program_version, grants, created_at";

pub(crate) fn entry_from_row(r: &SqliteRow) -> Result<LedgerEntry, sqlx::Error> {
    let kind: String = r.try_get("transaction_type")?;
    Ok(LedgerEntry {
        id: uuid_col(r, "id")?,
        customer_id: uuid_col(r, "user_id")?,
        points: r.try_get("points")?,
        transaction_type: TxType::parse(&kind).ok_or_else(|| decode_err("transaction type"))?,
        reference_id: uuid_opt(r, "reference_id")?,
        reference_type: r.try_get("reference_type")?,
        balance_after: r.try_get("balance_after")?,
        notes: r.try_get("notes")?,
        created_by: uuid_opt(r, "created_by")?,
        created_at: time_col(r, "created_at")?,
    })
}

pub(crate) fn purchase_from_row(r: &SqliteRow) -> Result<Purchase, sqlx::Error> {
    Ok(Purchase {
        id: uuid_col(r, "id")?,
        customer_id: uuid_col(r, "customer_id")?,
        cashier_id: uuid_opt(r, "cashier_id")?,
        amount: decimal_col(r, "amount")?,
        currency: r.try_get("currency")?,
        points_awarded: r.try_get("points_awarded")?,
        reversed_amount: decimal_col(r, "reversed_amount")?,
        points_reversed: r.try_get("points_reversed")?,
        program_version: r.try_get("program_version")?,
        grants: r
            .try_get::<Option<String>, _>("grants")?
            .map(|g| decode("grants", serde_json::from_str(&g)))
            .transpose()?
            .unwrap_or_default(),
        created_at: time_col(r, "created_at")?,
    })
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn apply_points(
        &self,
        org: OrgId,
        cmd: &PointsCommand,
        actor: &Actor,
        idem: Option<&IdempotencyKey>,
        now: OffsetDateTime,
    ) -> Result<PointsOutcome, PointsError> {
        // Through the single writer, which commits concurrent commands in small groups.
        crate::writer::apply(&self.writer, org, cmd, actor, idem, now).await
    }

    async fn purchase(&self, org: OrgId, id: PurchaseId) -> Result<Option<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = ?1 AND id = ?2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(id.to_string())
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
        // A few hundred ids a query keeps far below SQLite's bound on parameters.
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, grants FROM purchases WHERE organization_id = ? AND id IN ({marks}) \
                 AND grants IS NOT NULL"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.0.to_string());
            for id in chunk {
                q = q.bind(id.to_string());
            }
            let rows = q.fetch_all(&self.pool).await.map_err(map_err)?;
            for r in &rows {
                let grants: String = r.try_get("grants").map_err(map_err)?;
                found.push((
                    uuid_col(r, "id").map_err(map_err)?,
                    decode("grants", serde_json::from_str(&grants)).map_err(map_err)?,
                ));
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
        // Only the conditions that apply: an `?n IS NULL OR ...` test keeps SQLite from
        // seeking its (organization, created_at, id) index, so every page of a long
        // ledger was read from the start again.
        let mut sql =
            format!("SELECT {ENTRY_COLUMNS} FROM points_transactions WHERE organization_id = ?");
        if customer.is_some() {
            sql.push_str(" AND user_id = ?");
        }
        // One lower bound: the cursor when it is past `from` (every page but the first
        // of an export), so SQLite seeks the index at the cursor instead of reading
        // the range from its start again for every page.
        let from = from.filter(|f| after.is_none_or(|(at, _)| at < *f));
        let after = after.filter(|_| from.is_none());
        if from.is_some() {
            sql.push_str(" AND created_at >= ?");
        }
        if to.is_some() {
            sql.push_str(" AND created_at < ?");
        }
        if after.is_some() {
            sql.push_str(" AND (created_at, id) > (?, ?)");
        }
        sql.push_str(" ORDER BY created_at, id LIMIT ?");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.0.to_string());
        if let Some(customer) = customer {
            query = query.bind(customer.to_string());
        }
        if let Some(from) = from {
            query = query.bind(ts(from));
        }
        if let Some(to) = to {
            query = query.bind(ts(to));
        }
        if let Some((at, id)) = after {
            query = query.bind(ts(at)).bind(id.to_string());
        }
        // A whole organization's ledger is read page after page (exports): through
        // the connections with a small cache.
        let pool = if customer.is_some() {
            &self.pool
        } else {
            &self.scan
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(pool)
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
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT u.id FROM users u WHERE u.organization_id = ?1 AND u.role = 'customer' AND u.balance > 0 \
             AND EXISTS (SELECT 1 FROM points_transactions t WHERE t.organization_id = ?1 AND t.user_id = u.id \
                         AND t.points > 0 AND t.created_at <= ?2) ORDER BY u.id",
        )
        .bind(org.0.to_string())
        .bind(ts(cutoff))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        ids.iter()
            .map(|s| s.parse().map_err(StoreError::backend))
            .collect()
    }

    async fn expire_customer(
        &self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<i64, StoreError> {
        crate::writer::expire(&self.writer, org, customer, cutoff, now, dry_run).await
    }

    async fn update_points_settings(
        &self,
        org: OrgId,
        s: &PointsSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET points_per_unit = ?2, min_purchase = ?3, expiry_days = ?4, join_enabled = ?5, updated_at = ?6, \
             purchase_bound = ?7, daily_points_flag = ?8 WHERE id = ?1",
        )
        .bind(org.0.to_string())
        .bind(s.earning.points_per_unit.to_string())
        .bind(s.earning.min_purchase.to_string())
        .bind(s.expiry_days)
        .bind(s.join_enabled)
        .bind(ts(now))
        .bind(s.purchase_bound.map(|d| d.to_string()))
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
        // No percentile function in SQLite: count, then read the row at the nearest rank.
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM purchases WHERE organization_id = ?1 AND created_at >= ?2",
        )
        .bind(org.0.to_string())
        .bind(ts(since))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        if n == 0 {
            return Ok((0, None));
        }
        let rank = ((n * i64::from(permille.min(1000)) + 999) / 1000).max(1);
        let amount: Option<String> = sqlx::query_scalar(
            "SELECT amount FROM purchases WHERE organization_id = ?1 AND created_at >= ?2 \
             ORDER BY CAST(amount AS REAL), id LIMIT 1 OFFSET ?3",
        )
        .bind(org.0.to_string())
        .bind(ts(since))
        .bind(rank - 1)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        let p = amount
            .map(|s| s.parse::<rust_decimal::Decimal>())
            .transpose()
            .map_err(StoreError::backend)?;
        Ok((n, p))
    }

    async fn check_invariants(&self, org: Option<OrgId>) -> Result<InvariantReport, StoreError> {
        let org = org.map(|o| o.0);
        let row = sqlx::query(
            "WITH sums AS (SELECT organization_id, user_id, SUM(points) AS total, COUNT(*) AS n FROM points_transactions \
                           WHERE (?1 IS NULL OR organization_id = ?1) GROUP BY organization_id, user_id) \
             SELECT COUNT(*), COALESCE(SUM(s.n), 0), \
                    COUNT(*) FILTER (WHERE u.balance <> COALESCE(s.total, 0)), \
                    COUNT(*) FILTER (WHERE u.balance < 0) \
             FROM users u LEFT JOIN sums s ON s.organization_id = u.organization_id AND s.user_id = u.id \
             WHERE u.role = 'customer' AND (?1 IS NULL OR u.organization_id = ?1)",
        )
        .bind(org.map(|u| u.to_string()))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let broken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT points, balance_after, \
                 lag(balance_after, 1, 0) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev, \
                 seq, lag(seq, 1, 0) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev_seq \
               FROM points_transactions WHERE (?1 IS NULL OR organization_id = ?1)) t \
             WHERE t.prev + t.points <> t.balance_after OR t.seq <> t.prev_seq + 1",
        )
        .bind(org.map(|u| u.to_string()))
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
