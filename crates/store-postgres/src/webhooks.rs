//! Webhook endpoints and the webhook outbox on PostgreSQL. Senders claim due rows with
//! `FOR UPDATE SKIP LOCKED` and a claim lease, so one event is never in flight twice to
//! one endpoint.

use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::store::{StoreError, WebhookStore};
use loyalty_core::webhook::{ClaimedDelivery, Delivery, Endpoint, NewEvent};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

const ENDPOINT_COLUMNS: &str =
    "id, organization_id, url, events, active, failing_since, created_at";
const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, d.event_type, d.payload, d.attempts, d.last_status, \
     d.last_error, d.latency_ms, d.created_at, d.next_attempt_at, d.delivered_at, d.failed_at";

fn endpoint_from_row(r: &PgRow) -> Result<Endpoint, sqlx::Error> {
    Ok(Endpoint {
        id: r.try_get("id")?,
        organization_id: OrgId(r.try_get("organization_id")?),
        url: r.try_get("url")?,
        events: Endpoint::parse_events(&r.try_get::<String, _>("events")?),
        active: r.try_get("active")?,
        failing_since: r.try_get("failing_since")?,
        created_at: r.try_get("created_at")?,
    })
}

fn delivery_from_row(r: &PgRow) -> Result<Delivery, sqlx::Error> {
    Ok(Delivery {
        id: r.try_get("id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        payload: r.try_get("payload")?,
        attempts: r.try_get("attempts")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        latency_ms: r.try_get("latency_ms")?,
        created_at: r.try_get("created_at")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        delivered_at: r.try_get("delivered_at")?,
        failed_at: r.try_get("failed_at")?,
    })
}

/// Queues an event on an open connection or transaction: one delivery per active
/// endpoint of the organization whose filter takes it (or only `only`).
pub(crate) async fn insert_event(
    conn: &mut PgConnection,
    e: &NewEvent,
    only: Option<Uuid>,
) -> Result<u64, StoreError> {
    let n = sqlx::query(
        "INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, payload, created_at, next_attempt_at) \
         SELECT gen_random_uuid(), organization_id, id, $2, $3, $4, $5, $5 FROM webhook_endpoints \
         WHERE organization_id = $1 AND active \
           AND (CASE WHEN $6::uuid IS NULL THEN events = '*' OR (',' || events || ',') LIKE ('%,' || $3 || ',%') ELSE id = $6 END) \
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(e.org.0)
    .bind(&e.id)
    .bind(e.event_type)
    .bind(&e.payload)
    .bind(e.created_at)
    .bind(only)
    .execute(conn)
    .await
    .map_err(map_err)?
    .rows_affected();
    Ok(n)
}

/// Takes an erased customer's personal data out of the outbox: their `member.enrolled`
/// deliveries keep only the customer's id, and one not yet delivered is given up.
pub(crate) async fn redact_customer(
    conn: &mut PgConnection,
    org: OrgId,
    customer: loyalty_core::domain::CustomerId,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE webhook_deliveries SET payload = $3, \
         failed_at = CASE WHEN delivered_at IS NULL THEN COALESCE(failed_at, $4) ELSE NULL END, \
         last_error = CASE WHEN delivered_at IS NULL THEN 'the customer was erased before delivery' ELSE last_error END \
         WHERE organization_id = $1 AND event_id = $2",
    )
    .bind(org.0)
    .bind(format!("{customer}.enrolled"))
    .bind(NewEvent::enrolled_erased_payload(customer))
    .bind(now)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_webhook_endpoint(
        &self,
        org: OrgId,
        e: &Endpoint,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, organization_id, url, events, secret, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.id)
        .bind(org.0)
        .bind(&e.url)
        .bind(Endpoint::events_text(&e.events))
        .bind(secret.expose_secret())
        .bind(e.active)
        .bind(e.created_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_webhook_endpoints(&self, org: OrgId) -> Result<Vec<Endpoint>, StoreError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
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
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $4, secret = $3 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id)
        .bind(secret.expose_secret())
        .bind(previous_until)
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
            "UPDATE webhook_endpoints SET url = $3, events = $4 WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id)
        .bind(url)
        .bind(Endpoint::events_text(events))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn delete_webhook_endpoint(&self, org: OrgId, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE organization_id = $1 AND endpoint_id = $2",
        )
        .bind(org.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let n = sqlx::query("DELETE FROM webhook_endpoints WHERE organization_id = $1 AND id = $2")
            .bind(org.0)
            .bind(id)
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
            "UPDATE webhook_endpoints SET active = $3, failing_since = NULL, \
             disabled_at = CASE WHEN $3 THEN NULL ELSE $4 END \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id)
        .bind(active)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn queue_webhook_event(
        &self,
        event: &NewEvent,
        only: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        insert_event(&mut conn, event, only).await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let sql = format!(
            "WITH c AS (UPDATE webhook_deliveries SET claimed_until = $2, attempts = attempts + 1 \
               WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                            WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND e.active \
                              AND d.next_attempt_at <= $1 AND (d.claimed_until IS NULL OR d.claimed_until <= $1) \
                            ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED) \
               RETURNING *) \
             SELECT {DELIVERY_COLUMNS}, d.organization_id, e.url, e.secret, \
                    CASE WHEN e.previous_until > $1 THEN e.previous_secret END AS previous_secret \
             FROM c d JOIN webhook_endpoints e ON e.id = d.endpoint_id ORDER BY d.next_attempt_at, d.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let mut secrets = vec![SecretString::from(r.try_get::<String, _>("secret")?)];
                if let Some(p) = r.try_get::<Option<String>, _>("previous_secret")? {
                    secrets.push(SecretString::from(p));
                }
                Ok(ClaimedDelivery {
                    delivery: delivery_from_row(r)?,
                    organization_id: OrgId(r.try_get("organization_id")?),
                    url: r.try_get("url")?,
                    secrets,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn mark_webhook_delivered(
        &self,
        id: Uuid,
        status: i32,
        latency_ms: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let endpoint: Option<Uuid> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET delivered_at = $2, claimed_until = NULL, last_status = $3, \
             last_error = NULL, latency_ms = $4 WHERE id = $1 AND delivered_at IS NULL RETURNING endpoint_id",
        )
        .bind(id)
        .bind(now)
        .bind(status)
        .bind(latency_ms)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(endpoint) = endpoint {
            sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let endpoint: Option<Uuid> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET claimed_until = NULL, last_status = $2, last_error = $3, latency_ms = $4, \
             next_attempt_at = COALESCE($5, next_attempt_at), failed_at = CASE WHEN $5::timestamptz IS NULL THEN $6 END \
             WHERE id = $1 AND delivered_at IS NULL RETURNING endpoint_id",
        )
        .bind(id)
        .bind(status)
        .bind(error)
        .bind(latency_ms)
        .bind(retry_at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(endpoint) = endpoint {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1",
            )
            .bind(endpoint)
            .bind(now)
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
            "UPDATE webhook_endpoints SET active = false, disabled_at = $2 \
             WHERE active AND failing_since IS NOT NULL AND failing_since <= $1 RETURNING {ENDPOINT_COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cutoff)
            .bind(now)
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
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             WHERE ($1::uuid IS NULL OR d.organization_id = $1) ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.map(|o| o.0))
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
            "UPDATE webhook_deliveries SET next_attempt_at = $3, attempts = 0, delivered_at = NULL, failed_at = NULL \
             WHERE id = $2 AND ($1::uuid IS NULL OR organization_id = $1) \
               AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(org.map(|o| o.0))
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n == 1)
    }
}
