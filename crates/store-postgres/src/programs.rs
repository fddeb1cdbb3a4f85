//! The loyalty program on PostgreSQL: its versions, a customer's stamps and promotion
//! uses, and the program's primitive writes inside a ledger transaction.

use crate::audit::insert_audit;
use crate::ledger_tx::PgLedgerTx;
use crate::{PgStore, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::chain::ChainHash;
use loyalty_core::domain::ledger::{Actor, LedgerEntry};
use loyalty_core::domain::program::{
    CustomerState, Program, RuleId, StampEntry, TierBasis, TierCandidate, TierChange,
};
use loyalty_core::domain::{CustomerId, OrgId, PurchaseId};
use loyalty_core::ledger_tx;
use loyalty_core::ledger_tx::ProgramTx;
use loyalty_core::store::{ProgramStore, StoreError, TierPass, new_id, program_audit};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

/// A customer's stamps per card (`b`), stamps kept from purchases made since `$3` (`t`) and promotion uses
/// (`p`), in one read.
const PROGRAM_STATE: &str = "\
    SELECT 'b' AS k, card_id AS rule, balance AS n FROM stamp_balances WHERE organization_id = $1 AND customer_id = $2 \
    UNION ALL SELECT 't', e.card_id, SUM(e.stamps)::bigint FROM stamp_entries e \
        JOIN purchases p ON p.organization_id = e.organization_id AND p.id = e.purchase_id \
        WHERE e.organization_id = $1 AND e.customer_id = $2 AND e.kind IN ('earned', 'reversed') AND p.created_at >= $3 \
        GROUP BY e.card_id \
    UNION ALL SELECT 'p', promotion_id, COUNT(*) FROM promotion_uses \
        WHERE organization_id = $1 AND customer_id = $2 GROUP BY promotion_id \
    UNION ALL SELECT 'r', tier_id, 0 FROM users WHERE organization_id = $1 AND id = $2 AND tier_id IS NOT NULL";

/// Each customer's qualifying value since `$2` on the points basis: points of purchases
/// (earned, less refunds), bonuses left out.
const POINTS_SINCE: &str = "SELECT user_id AS id, SUM(points)::numeric AS v FROM points_transactions \
    WHERE organization_id = $1 AND reference_type = 'purchase' AND transaction_type IN ('earned', 'reversed') \
    AND created_at >= $2";
/// The same on the spend basis: amounts less refunds.
const SPEND_SINCE: &str = "SELECT customer_id AS id, SUM(amount - reversed_amount) AS v \
    FROM purchases WHERE organization_id = $1 AND created_at >= $2";

async fn program_state(
    conn: &mut PgConnection,
    org: OrgId,
    customer: CustomerId,
    day_start: OffsetDateTime,
) -> Result<CustomerState, StoreError> {
    let rows: Vec<PgRow> = sqlx::query(PROGRAM_STATE)
        .bind(org.0)
        .bind(customer.0)
        .bind(day_start)
        .fetch_all(conn)
        .await
        .map_err(map_err)?;
    let mut state = CustomerState::default();
    for r in rows {
        let kind: String = r.try_get(0).map_err(map_err)?;
        if kind == "r" {
            state.tier = Some(r.try_get(1).map_err(map_err)?);
            continue;
        }
        let map = match kind.as_str() {
            "b" => &mut state.stamps,
            "t" => &mut state.stamps_today,
            _ => &mut state.promotion_uses,
        };
        map.insert(
            r.try_get(1).map_err(map_err)?,
            r.try_get(2).map_err(map_err)?,
        );
    }
    Ok(state)
}

#[async_trait]
impl ProgramStore for PgStore {
    async fn save_program(
        &self,
        org: OrgId,
        program: &Program,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_value(program).map_err(StoreError::backend)?;
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let moved = sqlx::query(
            "UPDATE organizations SET program = $2, updated_at = $3 \
             WHERE id = $1 AND COALESCE((program->>'version')::bigint, 0) = $4",
        )
        .bind(org.0)
        .bind(&json)
        .bind(now)
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
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(org.0)
        .bind(program.version)
        .bind(&json)
        .bind(actor.member_id)
        .bind(now)
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
        let json: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT program FROM program_versions WHERE organization_id = $1 AND version = $2",
        )
        .bind(org.0)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        json.map(|j| serde_json::from_value(j).map_err(StoreError::backend))
            .transpose()
    }

    async fn customer_program_state(
        &self,
        org: OrgId,
        customer: CustomerId,
        day_start: OffsetDateTime,
    ) -> Result<CustomerState, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let state = program_state(&mut tx, org, customer, day_start).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(state)
    }

    async fn tier_candidates(
        &self,
        org: OrgId,
        basis: TierBasis,
        since: OffsetDateTime,
        customer: Option<CustomerId>,
    ) -> Result<Vec<TierCandidate>, StoreError> {
        let (values, by) = match basis {
            TierBasis::Points => (POINTS_SINCE, "user_id"),
            TierBasis::Spend => (SPEND_SINCE, "customer_id"),
        };
        let (only, only_user) = if customer.is_some() {
            (format!(" AND {by} = $3"), " AND u.id = $3")
        } else {
            (String::new(), "")
        };
        let sql = format!(
            "WITH v AS ({values}{only} GROUP BY 1) \
             SELECT u.id, u.tier_id, u.tier_below_since, COALESCE(v.v, 0)::numeric FROM users u LEFT JOIN v ON v.id = u.id \
             WHERE u.organization_id = $1 AND u.role = 'customer' AND (u.tier_id IS NOT NULL OR v.v > 0){only_user}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(since);
        if let Some(c) = customer {
            q = q.bind(c.0);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(TierCandidate {
                    customer: CustomerId(r.try_get(0)?),
                    tier: r.try_get(1)?,
                    below_since: r.try_get(2)?,
                    value: r.try_get::<Decimal, _>(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn apply_tier_changes(
        &self,
        org: OrgId,
        pass: &TierPass,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let mut ltx = PgLedgerTx(tx);
        ledger_tx::apply_tier_changes(&mut ltx, org, pass, actor, now)
            .await
            .map_err(|e| match e {
                loyalty_core::domain::ledger::PointsError::Store(e) => e,
                other => StoreError::Backend(other.to_string().into()),
            })?;
        ltx.0.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn tier_distribution(
        &self,
        org: OrgId,
    ) -> Result<Vec<(Option<RuleId>, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tier_id, COUNT(*) FROM users WHERE organization_id = $1 AND role = 'customer' GROUP BY tier_id",
        )
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn birthday_customers(
        &self,
        org: OrgId,
        month: u8,
        day: u8,
        key_prefix: &str,
        key_suffix: &str,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT u.id FROM users u WHERE u.organization_id = $1 AND u.role = 'customer' AND u.status = 'active' \
             AND EXTRACT(MONTH FROM u.birth_date) = $2 AND EXTRACT(DAY FROM u.birth_date) = $3 \
             AND NOT EXISTS (SELECT 1 FROM points_transactions t WHERE t.organization_id = u.organization_id \
                 AND t.user_id = u.id AND t.idempotency_key = $4 || u.id::text || $5)",
        )
        .bind(org.0)
        .bind(i32::from(month))
        .bind(i32::from(day))
        .bind(key_prefix)
        .bind(key_suffix)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(ids.into_iter().map(CustomerId).collect())
    }
}

#[async_trait]
impl ProgramTx for PgLedgerTx<'_> {
    async fn program_state(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        day_start: OffsetDateTime,
    ) -> Result<CustomerState, StoreError> {
        program_state(&mut self.0, org, customer, day_start).await
    }

    async fn stamp_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        card: RuleId,
    ) -> Result<i64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT balance FROM stamp_balances WHERE organization_id = $1 AND customer_id = $2 AND card_id = $3 FOR UPDATE",
        )
        .bind(org.0)
        .bind(customer.0)
        .bind(card)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(n.unwrap_or(0))
    }

    async fn change_stamps(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        card: RuleId,
        delta: i64,
    ) -> Result<Option<i64>, StoreError> {
        let sql = if delta >= 0 {
            "INSERT INTO stamp_balances (organization_id, customer_id, card_id, balance) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, customer_id, card_id) DO UPDATE SET balance = stamp_balances.balance + EXCLUDED.balance \
             RETURNING balance"
        } else {
            "UPDATE stamp_balances SET balance = balance + $4 \
             WHERE organization_id = $1 AND customer_id = $2 AND card_id = $3 AND balance + $4 >= 0 RETURNING balance"
        };
        sqlx::query_scalar(sql)
            .bind(org.0)
            .bind(customer.0)
            .bind(card)
            .bind(delta)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)
    }

    async fn insert_stamp_entry(&mut self, org: OrgId, e: &StampEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO stamp_entries (id, organization_id, customer_id, card_id, stamps, kind, purchase_id, balance_after, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.id)
        .bind(org.0)
        .bind(e.customer_id.0)
        .bind(e.card_id)
        .bind(e.stamps)
        .bind(e.kind.as_str())
        .bind(e.purchase_id.map(|p| p.0))
        .bind(e.balance_after)
        .bind(e.created_by)
        .bind(e.created_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_promotion_use(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        promotion: RuleId,
        purchase: PurchaseId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO promotion_uses (organization_id, customer_id, promotion_id, purchase_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(org.0)
        .bind(customer.0)
        .bind(promotion)
        .bind(purchase.0)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn release_promotion_uses(
        &mut self,
        org: OrgId,
        purchase: PurchaseId,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM promotion_uses WHERE organization_id = $1 AND purchase_id = $2")
            .bind(org.0)
            .bind(purchase.0)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn write_tier_changes(
        &mut self,
        org: OrgId,
        changes: &[TierChange],
        bonuses: &[(LedgerEntry, i64, ChainHash)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let bonus: std::collections::HashMap<Uuid, &(LedgerEntry, i64, ChainHash)> =
            bonuses.iter().map(|b| (b.0.customer_id.0, b)).collect();
        let ids: Vec<Uuid> = changes.iter().map(|c| c.customer.0).collect();
        let tiers: Vec<Option<Uuid>> = changes.iter().map(|c| c.to).collect();
        let below: Vec<Option<OffsetDateTime>> = changes.iter().map(|c| c.below_since).collect();
        let of = |c: &TierChange| bonus.get(&c.customer.0);
        let balances: Vec<Option<i64>> = changes
            .iter()
            .map(|c| of(c).map(|b| b.0.balance_after))
            .collect();
        let seqs: Vec<Option<i64>> = changes.iter().map(|c| of(c).map(|b| b.1)).collect();
        let heads: Vec<Option<Vec<u8>>> = changes
            .iter()
            .map(|c| of(c).map(|b| b.2.0.to_vec()))
            .collect();
        // Each row once: the tier and, for an entry bonus, the balance, sequence number
        // and chain head the entry below was computed with (read under FOR UPDATE).
        sqlx::query(
            "UPDATE users u SET tier_id = c.tier, tier_below_since = c.below, \
                 balance = COALESCE(c.balance, u.balance), ledger_seq = COALESCE(c.seq, u.ledger_seq), \
                 chain_head = COALESCE(c.head, u.chain_head), \
                 updated_at = CASE WHEN c.balance IS NULL THEN u.updated_at ELSE $8 END \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::bytea[]) \
                 AS c(id, tier, below, balance, seq, head) \
             WHERE u.organization_id = $1 AND u.id = c.id AND u.role = 'customer'",
        )
        .bind(org.0)
        .bind(&ids)
        .bind(&tiers)
        .bind(&below)
        .bind(&balances)
        .bind(&seqs)
        .bind(&heads)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        if !bonuses.is_empty() {
            crate::ledger_tx::insert_entry_rows(&mut self.0, org, bonuses).await?;
        }
        let moves: Vec<&TierChange> = changes.iter().filter(|c| c.is_move()).collect();
        if moves.is_empty() {
            return Ok(());
        }
        let move_ids: Vec<Uuid> = moves.iter().map(|_| new_id()).collect();
        let customers: Vec<Uuid> = moves.iter().map(|c| c.customer.0).collect();
        let from: Vec<Option<Uuid>> = moves.iter().map(|c| c.from).collect();
        let to: Vec<Option<Uuid>> = moves.iter().map(|c| c.to).collect();
        let values: Vec<Decimal> = moves.iter().map(|c| c.value).collect();
        let bonus: Vec<i64> = moves
            .iter()
            .map(|c| if c.to.is_some() { c.bonus } else { 0 })
            .collect();
        sqlx::query(
            "INSERT INTO tier_moves (id, organization_id, customer_id, from_tier, to_tier, qualifying, bonus_points, created_at) \
             SELECT m.id, $1, m.customer, m.from_tier, m.to_tier, m.qualifying, m.bonus, $8 \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::numeric[], $7::bigint[]) \
                 AS m(id, customer, from_tier, to_tier, qualifying, bonus)",
        )
        .bind(org.0)
        .bind(&move_ids)
        .bind(&customers)
        .bind(&from)
        .bind(&to)
        .bind(&values)
        .bind(&bonus)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
