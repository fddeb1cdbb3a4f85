//! The tills' sending record on SQLite.

use crate::audit::insert_audit;
use crate::{SqliteStore, map_err, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::domain::OrgId;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::store::{
    StoreError, TillDevice, TillStore, TillSync, offline_redeem_limit_audit,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

fn device_from_row(row: &SqliteRow) -> Result<TillDevice, sqlx::Error> {
    let refusal: Option<String> = row.try_get("last_refusal")?;
    let refusal_at: Option<String> = row.try_get("last_refusal_at")?;
    Ok(TillDevice {
        device: crate::rows::uuid_col(row, "device_id")?,
        cashier: row.try_get("cashier")?,
        last_sync_at: parse_ts(&row.try_get::<String, _>("last_sync_at")?)?,
        offline_purchases: row.try_get("offline_purchases")?,
        offline_redemptions: row.try_get("offline_redemptions")?,
        refusals: row.try_get("refusals")?,
        last_refusal: match (refusal, refusal_at) {
            (Some(code), Some(at)) => Some((code, parse_ts(&at)?)),
            _ => None,
        },
    })
}

#[async_trait]
impl TillStore for SqliteStore {
    async fn record_till_sync(&self, org: OrgId, sync: &TillSync) -> Result<(), StoreError> {
        let landed = i64::from(sync.refused.is_none() && !sync.redemption);
        let redeemed = i64::from(sync.refused.is_none() && sync.redemption);
        let refused = i64::from(sync.refused.is_some());
        sqlx::query(
            "INSERT INTO till_devices (organization_id, device_id, cashier, last_sync_at, \
             offline_purchases, refusals, last_refusal, last_refusal_at, offline_redemptions) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?7 IS NULL THEN NULL ELSE ?4 END, ?8) \
             ON CONFLICT (organization_id, device_id, cashier) DO UPDATE SET \
             last_sync_at = max(last_sync_at, excluded.last_sync_at), \
             offline_purchases = offline_purchases + excluded.offline_purchases, \
             offline_redemptions = offline_redemptions + excluded.offline_redemptions, \
             refusals = refusals + excluded.refusals, \
             last_refusal = coalesce(excluded.last_refusal, last_refusal), \
             last_refusal_at = coalesce(excluded.last_refusal_at, last_refusal_at)",
        )
        .bind(org.0.to_string())
        .bind(sync.device.to_string())
        .bind(&sync.cashier)
        .bind(ts(sync.at))
        .bind(landed)
        .bind(refused)
        .bind(sync.refused.as_deref())
        .bind(redeemed)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn till_devices(&self, org: OrgId, limit: u32) -> Result<Vec<TillDevice>, StoreError> {
        let rows = sqlx::query(
            "SELECT device_id, cashier, last_sync_at, offline_purchases, offline_redemptions, refusals, last_refusal, \
             last_refusal_at FROM till_devices WHERE organization_id = ?1 \
             ORDER BY last_sync_at DESC, device_id, cashier LIMIT ?2",
        )
        .bind(org.0.to_string())
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
             VALUES ('till-recorder', lower(hex(randomblob(32)))) ON CONFLICT (purpose) DO NOTHING",
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET offline_redeem_limit = ?2, updated_at = ?3 WHERE id = ?1",
        )
        .bind(org.0.to_string())
        .bind(limit)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_audit(&mut tx, &offline_redeem_limit_audit(org, actor, limit, now)).await?;
        tx.commit().await.map_err(map_err)
    }
}
