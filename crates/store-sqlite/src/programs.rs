//! The loyalty program on SQLite: its versions, and a customer's stamps and promotion
//! uses. The stamp writes inside an award are in `sync_tx.rs`.

use crate::audit::insert_audit;
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::program::{CustomerState, Program, RuleId, TierBasis, TierCandidate};
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{ProgramStore, StoreError, TierPass, program_audit};
use rust_decimal::Decimal;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

/// A customer's stamps per card (`b`), stamps kept from purchases made since `?3` (`t`) and promotion uses
/// (`p`), in one read.
pub(crate) const PROGRAM_STATE: &str = "\
    SELECT 'b' AS k, card_id AS rule, balance AS n FROM stamp_balances WHERE organization_id = ?1 AND customer_id = ?2 \
    UNION ALL SELECT 't', e.card_id, SUM(e.stamps) FROM stamp_entries e \
        JOIN purchases p ON p.organization_id = e.organization_id AND p.id = e.purchase_id \
        WHERE e.organization_id = ?1 AND e.customer_id = ?2 AND e.kind IN ('earned', 'reversed') AND p.created_at >= ?3 \
        GROUP BY e.card_id \
    UNION ALL SELECT 'p', promotion_id, COUNT(*) FROM promotion_uses \
        WHERE organization_id = ?1 AND customer_id = ?2 GROUP BY promotion_id \
    UNION ALL SELECT 'r', tier_id, 0 FROM users WHERE organization_id = ?1 AND id = ?2 AND tier_id IS NOT NULL";

/// Each customer's qualifying value since `?2` on the points basis: points of purchases
/// (earned, less refunds), bonuses left out.
const POINTS_SINCE: &str = "SELECT user_id AS id, SUM(points) AS v FROM points_transactions \
    WHERE organization_id = ?1 AND reference_type = 'purchase' AND transaction_type IN ('earned', 'reversed') \
    AND created_at >= ?2";
/// The same on the spend basis, in hundredths: amounts are decimal text, summed as
/// whole hundredths so no float rounding adds up.
const SPEND_SINCE: &str = "SELECT customer_id AS id, \
    SUM(CAST(ROUND(CAST(amount AS REAL) * 100) AS INTEGER) - CAST(ROUND(CAST(reversed_amount AS REAL) * 100) AS INTEGER)) AS v \
    FROM purchases WHERE organization_id = ?1 AND created_at >= ?2";

/// Folds the rows of [`PROGRAM_STATE`] into a customer state.
pub(crate) fn fold_state(
    rows: impl IntoIterator<Item = (String, String, i64)>,
) -> Result<CustomerState, StoreError> {
    let mut state = CustomerState::default();
    for (kind, rule, n) in rows {
        let id: Uuid = rule.parse().map_err(StoreError::backend)?;
        if kind == "r" {
            state.tier = Some(id);
            continue;
        }
        let map = match kind.as_str() {
            "b" => &mut state.stamps,
            "t" => &mut state.stamps_today,
            _ => &mut state.promotion_uses,
        };
        map.insert(id, n);
    }
    Ok(state)
}

#[async_trait]
impl ProgramStore for SqliteStore {
    async fn save_program(
        &self,
        org: OrgId,
        program: &Program,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(program).map_err(StoreError::backend)?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let moved = sqlx::query(
            "UPDATE organizations SET program = ?2, updated_at = ?3 \
             WHERE id = ?1 AND COALESCE(json_extract(program, '$.version'), 0) = ?4",
        )
        .bind(org.0.to_string())
        .bind(&json)
        .bind(ts(now))
        .bind(program.version - 1)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO program_versions (organization_id, version, program, created_by, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(org.0.to_string())
        .bind(program.version)
        .bind(&json)
        .bind(actor.member_id.map(|m| m.to_string()))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_audit(&mut tx, &program_audit(org, actor, program, now)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn program_version(
        &self,
        org: OrgId,
        version: i64,
    ) -> Result<Option<Program>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT program FROM program_versions WHERE organization_id = ?1 AND version = ?2",
        )
        .bind(org.0.to_string())
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        json.map(|j| serde_json::from_str(&j).map_err(StoreError::backend))
            .transpose()
    }

    async fn customer_program_state(
        &self,
        org: OrgId,
        customer: CustomerId,
        day_start: OffsetDateTime,
    ) -> Result<CustomerState, StoreError> {
        let rows = sqlx::query(PROGRAM_STATE)
            .bind(org.0.to_string())
            .bind(customer.to_string())
            .bind(ts(day_start))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        fold_state(
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(map_err)?,
        )
    }

    async fn tier_candidates(
        &self,
        org: OrgId,
        basis: TierBasis,
        since: OffsetDateTime,
        customer: Option<CustomerId>,
    ) -> Result<Vec<TierCandidate>, StoreError> {
        let (values, scale, by) = match basis {
            TierBasis::Points => (POINTS_SINCE, 0, "user_id"),
            TierBasis::Spend => (SPEND_SINCE, 2, "customer_id"),
        };
        let (only, only_user) = if customer.is_some() {
            (format!(" AND {by} = ?3"), " AND id = ?3")
        } else {
            (String::new(), "")
        };
        // One pass over each side, grouped by customer: SQLite joins a grouped subquery
        // row by row, which at 100,000 customers is far too slow.
        let sql = format!(
            "SELECT id, MAX(tier), MAX(below), SUM(v) FROM ( \
                 SELECT id, tier_id AS tier, tier_below_since AS below, 0 AS v FROM users \
                 WHERE organization_id = ?1 AND role = 'customer' AND tier_id IS NOT NULL{only_user} \
                 UNION ALL SELECT id, NULL, NULL, v FROM ({values}{only} GROUP BY {by}) \
             ) GROUP BY id HAVING MAX(tier) IS NOT NULL OR SUM(v) > 0"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(ts(since))
            .bind(customer.map(|c| c.to_string()))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get(0).map_err(map_err)?;
            let tier: Option<String> = r.try_get(1).map_err(map_err)?;
            let below: Option<String> = r.try_get(2).map_err(map_err)?;
            let value: i64 = r.try_get(3).map_err(map_err)?;
            out.push(TierCandidate {
                customer: CustomerId(id.parse().map_err(StoreError::backend)?),
                tier: tier
                    .map(|t| t.parse::<Uuid>())
                    .transpose()
                    .map_err(StoreError::backend)?,
                below_since: below
                    .map(|b| crate::parse_ts(&b))
                    .transpose()
                    .map_err(map_err)?,
                value: Decimal::new(value, scale),
            });
        }
        Ok(out)
    }

    async fn apply_tier_changes(
        &self,
        org: OrgId,
        pass: &TierPass,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        crate::writer::tiers(&self.writer, org, pass, actor, now)
            .await
            .map(|_| ())
    }

    async fn tier_distribution(
        &self,
        org: OrgId,
    ) -> Result<Vec<(Option<RuleId>, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tier_id, COUNT(*) FROM users WHERE organization_id = ?1 AND role = 'customer' GROUP BY tier_id",
        )
        .bind(org.0.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let tier: Option<String> = r.try_get(0).map_err(map_err)?;
            let n: i64 = r.try_get(1).map_err(map_err)?;
            let tier = tier
                .map(|t| t.parse::<Uuid>())
                .transpose()
                .map_err(StoreError::backend)?;
            out.push((tier, n));
        }
        Ok(out)
    }

    async fn birthday_customers(
        &self,
        org: OrgId,
        month: u8,
        day: u8,
        key_prefix: &str,
        key_suffix: &str,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT u.id FROM users u WHERE u.organization_id = ?1 AND u.role = 'customer' AND u.status = 'active' \
             AND substr(u.birth_date, 6, 5) = ?2 \
             AND NOT EXISTS (SELECT 1 FROM points_transactions t WHERE t.organization_id = u.organization_id \
                 AND t.user_id = u.id AND t.idempotency_key = ?3 || u.id || ?4)",
        )
        .bind(org.0.to_string())
        .bind(format!("{month:02}-{day:02}"))
        .bind(key_prefix)
        .bind(key_suffix)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        ids.iter()
            .map(|i| i.parse().map(CustomerId).map_err(StoreError::backend))
            .collect()
    }
}
