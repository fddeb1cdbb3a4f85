//! The loyalty program on SQLite: its versions, and a customer's stamps and promotion
//! uses. The stamp writes inside an award are in `sync_tx.rs`.

use crate::audit::insert_audit;
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::program::{CustomerState, Program};
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{ProgramStore, StoreError, program_audit};
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
        WHERE organization_id = ?1 AND customer_id = ?2 GROUP BY promotion_id";

/// Folds the rows of [`PROGRAM_STATE`] into a customer state.
pub(crate) fn fold_state(
    rows: impl IntoIterator<Item = (String, String, i64)>,
) -> Result<CustomerState, StoreError> {
    let mut state = CustomerState::default();
    for (kind, rule, n) in rows {
        let id: Uuid = rule.parse().map_err(StoreError::backend)?;
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
}
