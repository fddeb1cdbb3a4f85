//! The tills' sending record on PostgreSQL.

use crate::audit::insert_audit;
use crate::{PgStore, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::store::{
    StoreError, TillDevice, TillStore, TillSync, offline_redeem_limit_audit,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

fn device_from_row(row: &PgRow) -> Result<TillDevice, sqlx::Error> {
    let refusal: Option<String> = row.try_get("last_refusal")?;
    let refusal_at: Option<OffsetDateTime> = row.try_get("last_refusal_at")?;
    Ok(TillDevice {
        device: row.try_get("device_id")?,
        cashier: row.try_get("cashier")?,
        last_sync_at: row.try_get("last_sync_at")?,
        offline_purchases: row.try_get("offline_purchases")?,
        offline_redemptions: row.try_get("offline_redemptions")?,
        refusals: row.try_get("refusals")?,
        last_refusal: refusal.zip(refusal_at),
    })
}

#[async_trait]
impl TillStore for PgStore {
    async fn record_till_sync(&self, org: OrgId, sync: &TillSync) -> Result<(), StoreError> {
        let landed = i64::from(sync.refused.is_none() && !sync.redemption);
        let redeemed = i64::from(sync.refused.is_none() && sync.redemption);
        let refused = i64::from(sync.refused.is_some());
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        sqlx::query(
            "INSERT INTO till_devices (organization_id, device_id, cashier, last_sync_at, \
             offline_purchases, refusals, last_refusal, last_refusal_at, offline_redemptions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::text, CASE WHEN $7::text IS NULL THEN NULL ELSE $4 END, $8) \
             ON CONFLICT (organization_id, device_id, cashier) DO UPDATE SET \
             last_sync_at = greatest(till_devices.last_sync_at, excluded.last_sync_at), \
             offline_purchases = till_devices.offline_purchases + excluded.offline_purchases, \
             offline_redemptions = till_devices.offline_redemptions + excluded.offline_redemptions, \
             refusals = till_devices.refusals + excluded.refusals, \
             last_refusal = coalesce(excluded.last_refusal, till_devices.last_refusal), \
             last_refusal_at = coalesce(excluded.last_refusal_at, till_devices.last_refusal_at)",
        )
        .bind(org.0)
        .bind(sync.device)
        .bind(&sync.cashier)
        .bind(sync.at)
        .bind(landed)
        .bind(refused)
        .bind(sync.refused.as_deref())
        .bind(redeemed)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn till_devices(&self, org: OrgId, limit: u32) -> Result<Vec<TillDevice>, StoreError> {
        let rows = sqlx::query(
            "SELECT device_id, cashier, last_sync_at, offline_purchases, offline_redemptions, refusals, last_refusal, \
             last_refusal_at FROM till_devices WHERE organization_id = $1 \
             ORDER BY last_sync_at DESC, device_id, cashier LIMIT $2",
        )
        .bind(org.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(device_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn till_recorder_secret(&self) -> Result<String, StoreError> {
        const READ: &str =
            "SELECT secret FROM installation_secrets WHERE purpose = 'till-recorder'";
        if let Some(secret) = sqlx::query_scalar(READ)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
        {
            return Ok(secret);
        }
        // The first use makes it; two first uses at once keep the one written first.
        sqlx::query(
            "INSERT INTO installation_secrets (purpose, secret) \
             VALUES ('till-recorder', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')) ON CONFLICT (purpose) DO NOTHING",
        )
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        sqlx::query_scalar(READ)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn set_offline_redeem_limit(
        &self,
        org: OrgId,
        limit: i64,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET offline_redeem_limit = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(org.0)
        .bind(limit)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_audit(&mut tx, &offline_redeem_limit_audit(org, actor, limit, now)).await?;
        tx.commit().await.map_err(map_err)
    }
}
