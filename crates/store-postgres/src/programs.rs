//! The loyalty program on PostgreSQL: its versions, a customer's stamps and promotion
//! uses, and the program's primitive writes inside a ledger transaction.

use crate::audit::insert_audit;
use crate::ledger_tx::PgLedgerTx;
use crate::{PgStore, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::program::{CustomerState, Program, RuleId, StampEntry};
use loyalty_core::domain::{CustomerId, OrgId, PurchaseId};
use loyalty_core::ledger_tx::ProgramTx;
use loyalty_core::store::{ProgramStore, StoreError, program_audit};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

/// A customer's stamps per card (`b`), stamps kept from purchases made since `$3` (`t`) and promotion uses
/// (`p`), in one read.
const PROGRAM_STATE: &str = "\
    SELECT 'b' AS k, card_id AS rule, balance AS n FROM stamp_balances WHERE organization_id = $1 AND customer_id = $2 \
    UNION ALL SELECT 't', e.card_id, SUM(e.stamps)::bigint FROM stamp_entries e \
        JOIN purchases p ON p.organization_id = e.organization_id AND p.id = e.purchase_id \
        WHERE e.organization_id = $1 AND e.customer_id = $2 AND e.kind IN ('earned', 'reversed') AND p.created_at >= $3 \
        GROUP BY e.card_id \
    UNION ALL SELECT 'p', promotion_id, COUNT(*) FROM promotion_uses \
        WHERE organization_id = $1 AND customer_id = $2 GROUP BY promotion_id";

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
}
