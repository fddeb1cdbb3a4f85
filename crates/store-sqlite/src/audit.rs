//! The audit log on SQLite: the sqlx side of appending a record (inside the change's
//! own transaction; the writer's rusqlite side runs the same statement from
//! [`crate::sql`]), the reads, and the audit row mapping.

use crate::rows::{json_opt, time_col, uuid_col, uuid_opt};
use crate::sql::INSERT_AUDIT;
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::AuditRecord;
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{AuditStore, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

fn audit_from_row(r: &SqliteRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        id: uuid_col(r, "id")?,
        organization_id: uuid_opt(r, "organization_id")?.map(OrgId),
        actor: r.try_get("actor")?,
        actor_role: r.try_get("actor_role")?,
        action: r.try_get("action")?,
        target_type: r.try_get("target_type")?,
        target_id: r.try_get("target_id")?,
        before: json_opt(r, "before")?,
        after: json_opt(r, "after")?,
        reason: r.try_get("reason")?,
        request_id: r.try_get("request_id")?,
        created_at: time_col(r, "created_at")?,
    })
}

/// Appends an audit record on an open connection or transaction.
pub(crate) async fn insert_audit(
    conn: &mut SqliteConnection,
    a: &AuditRecord,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_AUDIT)
        .bind(a.id.to_string())
        .bind(a.organization_id.map(|o| o.0).map(|u| u.to_string()))
        .bind(&a.actor)
        .bind(&a.actor_role)
        .bind(&a.action)
        .bind(&a.target_type)
        .bind(&a.target_id)
        .bind(a.before.as_ref().map(|v| v.to_string()))
        .bind(a.after.as_ref().map(|v| v.to_string()))
        .bind(&a.reason)
        .bind(&a.request_id)
        .bind(ts(a.created_at))
        .execute(conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn customer_audit(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE organization_id = ?1 AND target_type = 'customer' AND target_id = ?2 \
             ORDER BY created_at, id",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE organization_id = ?1 AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) \
             ORDER BY created_at DESC, id DESC LIMIT ?4",
        )
        .bind(org.0.to_string())
        .bind(before.map(|b| b.0).map(ts))
        .bind(before.map(|b| b.1).map(|u| u.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn operator_audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE (organization_id = ?1 OR organization_id IS NULL) \
             AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) \
             ORDER BY created_at DESC, id DESC LIMIT ?4",
        )
        .bind(org.0.to_string())
        .bind(before.map(|b| b.0).map(ts))
        .bind(before.map(|b| b.1).map(|u| u.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        insert_audit(&mut conn, record).await
    }
}
