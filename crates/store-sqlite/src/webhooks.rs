//! Webhook endpoints and the webhook outbox on SQLite. Claims take a lease in one
//! `UPDATE ... RETURNING`, so one event is never in flight twice to one endpoint.

use crate::rows::{time_col, time_opt, uuid_col};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::store::{StoreError, WebhookStore, new_id};
use loyalty_core::webhook::{ClaimedDelivery, Delivery, Endpoint, NewEvent};
use secrecy::{ExposeSecret, SecretString};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

const ENDPOINT_COLUMNS: &str =
    "id, organization_id, url, events, active, failing_since, created_at";
const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, payload, attempts, last_status, \
     last_error, latency_ms, created_at, next_attempt_at, delivered_at, failed_at, organization_id";

/// The endpoints an event goes to: `?1` organization, `?2` event type, `?3` only this
/// endpoint (or NULL for every one whose filter takes the event).
pub(crate) const EVENT_TARGETS: &str = "SELECT id FROM webhook_endpoints WHERE organization_id = ?1 AND active = 1 \
     AND (CASE WHEN ?3 IS NULL THEN events = '*' OR (',' || events || ',') LIKE ('%,' || ?2 || ',%') ELSE id = ?3 END)";
/// One delivery of an event to one endpoint; nothing when already queued.
pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, payload, created_at, next_attempt_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (endpoint_id, event_id) DO NOTHING";

/// Queues an event on an open transaction: one delivery per active endpoint of the
/// organization whose filter takes it (or only `only`).
pub(crate) async fn insert_event(
    conn: &mut SqliteConnection,
    e: &NewEvent,
    only: Option<Uuid>,
) -> Result<u64, StoreError> {
    let targets: Vec<String> = sqlx::query_scalar(EVENT_TARGETS)
        .bind(e.org.0.to_string())
        .bind(e.event_type)
        .bind(only.map(|u| u.to_string()))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
    let mut queued = 0;
    for endpoint in targets {
        queued += sqlx::query(INSERT_DELIVERY)
            .bind(new_id().to_string())
            .bind(e.org.0.to_string())
            .bind(endpoint)
            .bind(&e.id)
            .bind(e.event_type)
            .bind(&e.payload)
            .bind(ts(e.created_at))
            .execute(&mut *conn)
            .await
            .map_err(map_err)?
            .rows_affected();
    }
    Ok(queued)
}

fn endpoint_from_row(r: &SqliteRow) -> Result<Endpoint, sqlx::Error> {
    Ok(Endpoint {
        id: uuid_col(r, "id")?,
        organization_id: OrgId(uuid_col(r, "organization_id")?),
        url: r.try_get("url")?,
        events: Endpoint::parse_events(&r.try_get::<String, _>("events")?),
        active: r.try_get("active")?,
        failing_since: time_opt(r, "failing_since")?,
        created_at: time_col(r, "created_at")?,
    })
}

fn delivery_from_row(r: &SqliteRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: uuid_col(r, "id")?,
        endpoint_id: uuid_col(r, "endpoint_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        attempts: r.try_get("attempts")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        latency_ms: r.try_get("latency_ms")?,
        created_at: time_col(r, "created_at")?,
        next_attempt_at: time_col(r, "next_attempt_at")?,
        delivered_at: time_opt(r, "delivered_at")?,
        failed_at: time_opt(r, "failed_at")?,
    })
}

/// Takes an erased customer's personal data out of the outbox: their `member.enrolled`
/// deliveries keep only the customer's id, and one not yet delivered is given up.
pub(crate) async fn redact_customer(
    conn: &mut SqliteConnection,
    org: OrgId,
    customer: loyalty_core::domain::CustomerId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET payload = ?3, \
         failed_at = CASE WHEN delivered_at IS NULL THEN COALESCE(failed_at, ?4) ELSE NULL END, \
         last_error = CASE WHEN delivered_at IS NULL THEN 'the customer was erased before delivery' ELSE last_error END \
         WHERE organization_id = ?1 AND event_id = ?2",
    )
    .bind(org.0.to_string())
    .bind(format!("{customer}.enrolled"))
    .bind(NewEvent::enrolled_erased_payload(customer))
    .bind(ts(now))
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook_endpoint(
        &self,
        org: OrgId,
        e: &Endpoint,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, organization_id, url, events, secret, active, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(e.id.to_string())
        .bind(org.0.to_string())
        .bind(&e.url)
        .bind(Endpoint::events_text(&e.events))
        .bind(secret.expose_secret())
        .bind(e.active)
        .bind(ts(e.created_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_webhook_endpoints(&self, org: OrgId) -> Result<Vec<Endpoint>, StoreError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = ?1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(endpoint_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn rotate_webhook_secret(
        &self,
        org: OrgId,
        id: Uuid,
        secret: &SecretString,
        previous_until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?4, secret = ?3 \
             WHERE organization_id = ?1 AND id = ?2",
        )
        .bind(org.0.to_string())
        .bind(id.to_string())
        .bind(secret.expose_secret())
        .bind(ts(previous_until))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn update_webhook_endpoint(
        &self,
        org: OrgId,
        id: Uuid,
        url: &str,
        events: &[String],
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET url = ?3, events = ?4 WHERE organization_id = ?1 AND id = ?2",
        )
        .bind(org.0.to_string())
        .bind(id.to_string())
        .bind(url)
        .bind(Endpoint::events_text(events))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn delete_webhook_endpoint(&self, org: OrgId, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE organization_id = ?1 AND endpoint_id = ?2",
        )
        .bind(org.0.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let n = sqlx::query("DELETE FROM webhook_endpoints WHERE organization_id = ?1 AND id = ?2")
            .bind(org.0.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(n == 1)
    }

    async fn set_webhook_endpoint_active(
        &self,
        org: OrgId,
        id: Uuid,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_endpoints SET active = ?3, failing_since = NULL, \
             disabled_at = CASE WHEN ?3 THEN NULL ELSE ?4 END \
             WHERE organization_id = ?1 AND id = ?2",
        )
        .bind(org.0.to_string())
        .bind(id.to_string())
        .bind(active)
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn queue_webhook_event(
        &self,
        e: &NewEvent,
        only: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let queued = insert_event(&mut tx, e, only).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(queued)
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let sql = format!(
            "UPDATE webhook_deliveries SET claimed_until = ?2, attempts = attempts + 1 \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                          WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND e.active = 1 \
                            AND d.next_attempt_at <= ?1 AND (d.claimed_until IS NULL OR d.claimed_until <= ?1) \
                          ORDER BY d.next_attempt_at, d.id LIMIT ?3) \
             RETURNING {DELIVERY_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ts(now))
            .bind(ts(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let delivery = delivery_from_row(r).map_err(map_err)?;
            let org = OrgId(uuid_col(r, "organization_id").map_err(map_err)?);
            let e = sqlx::query(
                "SELECT url, secret, CASE WHEN previous_until > ?2 THEN previous_secret END AS previous_secret \
                 FROM webhook_endpoints WHERE id = ?1",
            )
            .bind(delivery.endpoint_id.to_string())
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
            let mut secrets = vec![SecretString::from(
                e.try_get::<String, _>("secret").map_err(map_err)?,
            )];
            if let Some(p) = e
                .try_get::<Option<String>, _>("previous_secret")
                .map_err(map_err)?
            {
                secrets.push(SecretString::from(p));
            }
            claimed.push(ClaimedDelivery {
                delivery,
                organization_id: org,
                url: e.try_get("url").map_err(map_err)?,
                secrets,
            });
        }
        tx.commit().await.map_err(map_err)?;
        claimed.sort_by_key(|c| (c.delivery.next_attempt_at, c.delivery.id));
        Ok(claimed)
    }

    async fn mark_webhook_delivered(
        &self,
        id: Uuid,
        status: i32,
        latency_ms: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let endpoint: Option<String> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET delivered_at = ?2, claimed_until = NULL, last_status = ?3, \
             last_error = NULL, latency_ms = ?4 WHERE id = ?1 AND delivered_at IS NULL RETURNING endpoint_id",
        )
        .bind(id.to_string())
        .bind(ts(now))
        .bind(status)
        .bind(latency_ms)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(endpoint) = &endpoint {
            sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?1")
                .bind(endpoint)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(endpoint.is_some())
    }

    async fn mark_webhook_failed(
        &self,
        id: Uuid,
        status: Option<i32>,
        error: &str,
        latency_ms: i64,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let endpoint: Option<String> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET claimed_until = NULL, last_status = ?2, last_error = ?3, latency_ms = ?4, \
             next_attempt_at = COALESCE(?5, next_attempt_at), failed_at = CASE WHEN ?5 IS NULL THEN ?6 END \
             WHERE id = ?1 AND delivered_at IS NULL RETURNING endpoint_id",
        )
        .bind(id.to_string())
        .bind(status)
        .bind(error)
        .bind(latency_ms)
        .bind(retry_at.map(ts))
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(endpoint) = &endpoint {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1",
            )
            .bind(endpoint)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn disable_failing_webhook_endpoints(
        &self,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Endpoint>, StoreError> {
        let sql = format!(
            "UPDATE webhook_endpoints SET active = 0, disabled_at = ?2 \
             WHERE active = 1 AND failing_since IS NOT NULL AND failing_since <= ?1 RETURNING {ENDPOINT_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ts(cutoff))
            .bind(ts(now))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(endpoint_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn list_webhook_deliveries(
        &self,
        org: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE (?1 IS NULL OR organization_id = ?1) ORDER BY created_at DESC, id DESC LIMIT ?2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.map(|o| o.0.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn retry_webhook_delivery(
        &self,
        org: Option<OrgId>,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = ?3, attempts = 0, delivered_at = NULL, failed_at = NULL \
             WHERE id = ?2 AND (?1 IS NULL OR organization_id = ?1) \
               AND (claimed_until IS NULL OR claimed_until <= ?3)",
        )
        .bind(org.map(|o| o.0.to_string()))
        .bind(id.to_string())
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }
}
