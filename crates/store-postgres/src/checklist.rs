//! The post-handoff checklist of each organization on PostgreSQL.

use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::store::{ChecklistMark, ChecklistStore, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

fn mark_from_row(row: &PgRow) -> Result<ChecklistMark, sqlx::Error> {
    Ok(ChecklistMark {
        item: row.try_get("item")?,
        done_at: row.try_get("done_at")?,
        done_by: row.try_get("done_by")?,
        note: row.try_get("note")?,
    })
}

#[async_trait]
impl ChecklistStore for PgStore {
    async fn checklist_marks(&self, org: OrgId) -> Result<Vec<ChecklistMark>, StoreError> {
        let rows = sqlx::query(
            "SELECT item, done_at, done_by, note FROM org_checklist \
             WHERE organization_id = $1 ORDER BY item",
        )
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(mark_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn mark_checklist_item(
        &self,
        org: OrgId,
        item: &str,
        done_by: &str,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ChecklistMark, StoreError> {
        let row = sqlx::query(
            "INSERT INTO org_checklist (organization_id, item, done_at, done_by, note) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (organization_id, item) DO UPDATE SET \
               done_at = EXCLUDED.done_at, done_by = EXCLUDED.done_by, note = EXCLUDED.note \
             RETURNING item, done_at, done_by, note",
        )
        .bind(org.0)
        .bind(item)
        .bind(now)
        .bind(done_by)
        .bind(note)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        mark_from_row(&row).map_err(map_err)
    }

    async fn mark_checklist_item_once(
        &self,
        org: OrgId,
        item: &str,
        done_by: &str,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO org_checklist (organization_id, item, done_at, done_by, note) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (organization_id, item) DO NOTHING",
        )
        .bind(org.0)
        .bind(item)
        .bind(now)
        .bind(done_by)
        .bind(note)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn unmark_checklist_item(&self, org: OrgId, item: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM org_checklist WHERE organization_id = $1 AND item = $2")
                .bind(org.0)
                .bind(item)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
