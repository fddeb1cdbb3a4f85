//! The audit log on PostgreSQL: the one statement that appends a record (inside the
//! change's own transaction), the reads, and the audit row mapping.

use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::AuditRecord;
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{AuditStore, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

fn audit_from_row(r: &PgRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        organization_id: r.try_get::<Option<Uuid>, _>("organization_id")?.map(OrgId),
        actor: r.try_get("actor")?,
        actor_role: r.try_get("actor_role")?,
        action: r.try_get("action")?,
        target_type: r.try_get("target_type")?,
        target_id: r.try_get("target_id")?,
        before: r.try_get("before")?,
        after: r.try_get("after")?,
        reason: r.try_get("reason")?,
        request_id: r.try_get("request_id")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Appends an audit record on an open connection or transaction.
pub(crate) async fn insert_audit(
    conn: &mut PgConnection,
    a: &AuditRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id)
    .bind(a.organization_id.map(|o| o.0))
    .bind(&a.actor)
    .bind(&a.actor_role)
    .bind(&a.action)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(&a.before)
    .bind(&a.after)
    .bind(&a.reason)
    .bind(&a.request_id)
    .bind(a.created_at)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl AuditStore for PgStore {
    async fn customer_audit(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE organization_id = $1 AND target_type = 'customer' AND target_id = $2 \
             ORDER BY created_at, id",
        )
        .bind(org.0)
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
             FROM audit_log WHERE organization_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(org.0)
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
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
             FROM audit_log WHERE (organization_id = $1 OR organization_id IS NULL) \
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(org.0)
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
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
