//! The post-handoff checklist of each organization on SQLite.

use crate::audit::insert_audit;
use crate::{SqliteStore, map_err, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::store::{ChecklistMark, ChecklistStore, StoreError, checklist_audit};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

fn mark_from_row(row: &SqliteRow) -> Result<ChecklistMark, sqlx::Error> {
    Ok(ChecklistMark {
        item: row.try_get("item")?,
        done_at: parse_ts(&row.try_get::<String, _>("done_at")?)?,
        done_by: row.try_get("done_by")?,
        note: row.try_get("note")?,
    })
}

#[async_trait]
impl ChecklistStore for SqliteStore {
    async fn checklist_marks(&self, org: OrgId) -> Result<Vec<ChecklistMark>, StoreError> {
        let rows = sqlx::query(
            "SELECT item, done_at, done_by, note FROM org_checklist \
             WHERE organization_id = ?1 ORDER BY item",
        )
        .bind(org.0.to_string())
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
        actor: &Actor,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ChecklistMark, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let before = sqlx::query(
            "SELECT item, done_at, done_by, note FROM org_checklist \
             WHERE organization_id = ?1 AND item = ?2",
        )
        .bind(org.0.to_string())
        .bind(item)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .as_ref()
        .map(mark_from_row)
        .transpose()
        .map_err(map_err)?;
        let row = sqlx::query(
            "INSERT INTO org_checklist (organization_id, item, done_at, done_by, note) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (organization_id, item) DO UPDATE SET \
               done_at = EXCLUDED.done_at, done_by = EXCLUDED.done_by, note = EXCLUDED.note \
             RETURNING item, done_at, done_by, note",
        )
        .bind(org.0.to_string())
        .bind(item)
        .bind(ts(now))
        .bind(&actor.label)
        .bind(note)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let mark = mark_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &checklist_audit(
                org,
                actor,
                "checklist.tick",
                item,
                before.as_ref(),
                Some(&mark),
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(mark)
    }

    async fn mark_checklist_item_once(
        &self,
        org: OrgId,
        item: &str,
        done_by: &str,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let row = sqlx::query(
            "INSERT INTO org_checklist (organization_id, item, done_at, done_by, note) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (organization_id, item) DO NOTHING \
             RETURNING item, done_at, done_by, note",
        )
        .bind(org.0.to_string())
        .bind(item)
        .bind(ts(now))
        .bind(done_by)
        .bind(note)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let mark = mark_from_row(&row).map_err(map_err)?;
        let actor = Actor {
            label: done_by.to_owned(),
            ..Actor::system()
        };
        insert_audit(
            &mut tx,
            &checklist_audit(org, &actor, "checklist.tick", item, None, Some(&mark), now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn unmark_checklist_item(
        &self,
        org: OrgId,
        item: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let row = sqlx::query(
            "DELETE FROM org_checklist WHERE organization_id = ?1 AND item = ?2 \
             RETURNING item, done_at, done_by, note",
        )
        .bind(org.0.to_string())
        .bind(item)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let mark = mark_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &checklist_audit(org, actor, "checklist.untick", item, Some(&mark), None, now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}
