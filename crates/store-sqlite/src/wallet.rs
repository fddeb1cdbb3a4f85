//! Members' Apple Wallet passes on SQLite: the pass, its token hashes and the devices
//! registered for its updates.

use crate::rows::{time_col, uuid_col};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::AuditRecord;
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{
    ClaimedPush, PushKind, StoreError, WalletColours, WalletLogo, WalletLook, WalletPass,
    WalletStore, micros, new_id,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// Moves a member's pass forward (`?1` organization, `?2` customer, `?3` now in
/// microseconds): the ledger's writer runs it in the change's transaction.
pub(crate) const PASS_CHANGED: &str = "UPDATE wallet_passes SET updated_us = MAX(?3, updated_us + 1000000) \
     WHERE organization_id = ?1 AND customer_id = ?2";

/// The push tokens of the devices registered for a member's pass (`?1` organization,
/// `?2` customer).
pub(crate) const PASS_DEVICES: &str = "SELECT DISTINCT push_token FROM wallet_registrations \
     WHERE organization_id = ?1 AND customer_id = ?2";
/// One row in the wallet outbox (`?1` id, `?2` organization, `?3` kind, `?4` target,
/// `?5` now); nothing when one already waits for that target.
pub(crate) const QUEUE_PUSH: &str = "INSERT INTO wallet_pushes (id, organization_id, kind, target, created_at, next_attempt_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (kind, target) WHERE sent_at IS NULL AND failed_at IS NULL DO NOTHING";
/// Whether a member's Google Wallet object exists (`?1` organization, `?2` customer).
pub(crate) const HAS_GOOGLE_OBJECT: &str =
    "SELECT 1 FROM wallet_google_objects WHERE organization_id = ?1 AND customer_id = ?2";

fn pass_from_row(r: &SqliteRow) -> Result<WalletPass, sqlx::Error> {
    Ok(WalletPass {
        customer: uuid_col(r, "customer_id")?,
        updated_us: r.try_get("updated_us")?,
        voided: r.try_get("voided")?,
    })
}

#[async_trait]
impl WalletStore for SqliteStore {
    async fn issue_wallet_pass(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<WalletPass, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO wallet_passes (organization_id, customer_id, updated_us, created_at) \
             SELECT organization_id, id, ?3, ?4 FROM users \
             WHERE organization_id = ?1 AND id = ?2 AND role = 'customer' \
             ON CONFLICT (organization_id, customer_id) DO NOTHING",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(micros(now))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let row = sqlx::query(
            "SELECT customer_id, updated_us, voided FROM wallet_passes WHERE organization_id = ?1 AND customer_id = ?2",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let pass = pass_from_row(&row).map_err(map_err)?;
        sqlx::query(
            "INSERT INTO wallet_pass_tokens (token_hash, organization_id, customer_id, created_at) VALUES (?3, ?1, ?2, ?4)",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(token_hash)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(pass)
    }

    async fn wallet_pass_by_token(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
    ) -> Result<Option<WalletPass>, StoreError> {
        let row = sqlx::query(
            "SELECT p.customer_id, p.updated_us, p.voided FROM wallet_pass_tokens t \
             JOIN wallet_passes p ON p.organization_id = t.organization_id AND p.customer_id = t.customer_id \
             WHERE t.token_hash = ?3 AND t.organization_id = ?1 AND t.customer_id = ?2",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(pass_from_row).transpose().map_err(map_err)
    }

    async fn register_wallet_device(
        &self,
        org: OrgId,
        customer: CustomerId,
        device: &str,
        push_token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let existed: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM wallet_registrations WHERE organization_id = ?1 AND customer_id = ?2 AND device_library_id = ?3",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(device)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO wallet_registrations (organization_id, customer_id, device_library_id, push_token, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (organization_id, device_library_id, customer_id) DO UPDATE SET push_token = excluded.push_token",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(device)
        .bind(push_token)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(existed.is_none())
    }

    async fn unregister_wallet_device(
        &self,
        org: OrgId,
        customer: CustomerId,
        device: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "DELETE FROM wallet_registrations WHERE organization_id = ?1 AND customer_id = ?2 AND device_library_id = ?3",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(device)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n > 0)
    }

    async fn wallet_passes_for_device(
        &self,
        org: OrgId,
        device: &str,
        since_us: Option<i64>,
    ) -> Result<Vec<WalletPass>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.customer_id, p.updated_us, p.voided FROM wallet_registrations r \
             JOIN wallet_passes p ON p.organization_id = r.organization_id AND p.customer_id = r.customer_id \
             WHERE r.organization_id = ?1 AND r.device_library_id = ?2 AND (?3 IS NULL OR p.updated_us > ?3) \
             ORDER BY p.updated_us, p.customer_id",
        )
        .bind(org.0.to_string())
        .bind(device)
        .bind(since_us)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(pass_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn claim_wallet_pushes(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedPush>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let rows = sqlx::query(
            "UPDATE wallet_pushes SET claimed_until = ?2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM wallet_pushes \
                          WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1 \
                            AND (claimed_until IS NULL OR claimed_until <= ?1) \
                          ORDER BY next_attempt_at, id LIMIT ?3) \
             RETURNING id, organization_id, kind, target, attempts, created_at, \
               (SELECT o.status = 'active' FROM organizations o WHERE o.id = wallet_pushes.organization_id) AS org_active",
        )
        .bind(ts(now))
        .bind(ts(lease_until))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(ClaimedPush {
                    id: uuid_col(r, "id")?,
                    org: OrgId(uuid_col(r, "organization_id")?),
                    org_active: r.try_get::<Option<bool>, _>("org_active")?.unwrap_or(false),
                    kind: PushKind::parse(&kind).ok_or_else(|| {
                        sqlx::Error::Decode(format!("wallet push kind {kind:?}").into())
                    })?,
                    target: r.try_get("target")?,
                    attempts: r.try_get("attempts")?,
                    created_at: time_col(r, "created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn mark_wallet_push_sent(
        &self,
        id: Uuid,
        status: i32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wallet_pushes SET claimed_until = NULL, last_status = ?2, last_error = NULL, sent_at = ?3 \
             WHERE id = ?1 AND failed_at IS NULL",
        )
        .bind(id.to_string())
        .bind(status)
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn mark_wallet_push_failed(
        &self,
        id: Uuid,
        status: Option<i32>,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wallet_pushes SET claimed_until = NULL, last_status = ?2, last_error = ?3, \
             next_attempt_at = COALESCE(?4, next_attempt_at), failed_at = CASE WHEN ?4 IS NULL THEN ?5 END \
             WHERE id = ?1 AND sent_at IS NULL",
        )
        .bind(id.to_string())
        .bind(status)
        .bind(error)
        .bind(retry_at.map(ts))
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn record_google_object(
        &self,
        org: OrgId,
        customer: CustomerId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wallet_google_objects (organization_id, customer_id, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (organization_id, customer_id) DO NOTHING",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn forget_wallet_push_token(
        &self,
        org: OrgId,
        push_token: &str,
    ) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "DELETE FROM wallet_registrations WHERE organization_id = ?1 AND push_token = ?2",
        )
        .bind(org.0.to_string())
        .bind(push_token)
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n)
    }

    async fn insert_wallet_link(
        &self,
        org: OrgId,
        customer: CustomerId,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wallet_links (token_hash, organization_id, customer_id, created_at, expires_at) \
             SELECT ?3, organization_id, id, ?4, ?5 FROM users \
             WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'",
        )
        .bind(org.0.to_string())
        .bind(customer.to_string())
        .bind(token_hash)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn use_wallet_link(
        &self,
        org: OrgId,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<CustomerId>, StoreError> {
        let row = sqlx::query(
            "UPDATE wallet_links SET used_at = ?3 \
             WHERE token_hash = ?2 AND organization_id = ?1 AND used_at IS NULL AND expires_at > ?3 \
             RETURNING customer_id",
        )
        .bind(org.0.to_string())
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref()
            .map(|r| uuid_col(r, "customer_id"))
            .transpose()
            .map_err(map_err)
    }

    async fn wallet_look(&self, org: OrgId) -> Result<Option<WalletLook>, StoreError> {
        let row = sqlx::query(
            "SELECT background, foreground, label, logo_png, logo_width, logo_height \
             FROM wallet_looks WHERE organization_id = ?1",
        )
        .bind(org.0.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(look_from_row).transpose().map_err(map_err)
    }

    async fn set_wallet_look(
        &self,
        org: OrgId,
        look: &WalletLook,
        audit: &AuditRecord,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let colours = look.colours.as_ref();
        let logo = look.logo.as_ref();
        sqlx::query(
            "INSERT INTO wallet_looks (organization_id, background, foreground, label, logo_png, logo_width, logo_height, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (organization_id) DO UPDATE SET background = excluded.background, \
             foreground = excluded.foreground, label = excluded.label, logo_png = excluded.logo_png, \
             logo_width = excluded.logo_width, logo_height = excluded.logo_height, updated_at = excluded.updated_at",
        )
        .bind(org.0.to_string())
        .bind(colours.map(|c| c.background.as_str()))
        .bind(colours.map(|c| c.foreground.as_str()))
        .bind(colours.map(|c| c.label.as_str()))
        .bind(logo.map(|l| l.png.as_slice()))
        .bind(logo.map(|l| i64::from(l.width)))
        .bind(logo.map(|l| i64::from(l.height)))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        crate::audit::insert_audit(&mut tx, audit).await?;
        let moved = sqlx::query(
            "UPDATE wallet_passes SET updated_us = MAX(?2, updated_us + 1000000) WHERE organization_id = ?1",
        )
        .bind(org.0.to_string())
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        // Each registered device is told, once, through the wallet outbox.
        let tokens: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT push_token FROM wallet_registrations WHERE organization_id = ?1",
        )
        .bind(org.0.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        for token in tokens {
            sqlx::query(QUEUE_PUSH)
                .bind(new_id().to_string())
                .bind(org.0.to_string())
                .bind(PushKind::Apns.as_str())
                .bind(token)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(moved)
    }
}

fn look_from_row(r: &SqliteRow) -> Result<WalletLook, sqlx::Error> {
    let background: Option<String> = r.try_get("background")?;
    let foreground: Option<String> = r.try_get("foreground")?;
    let label: Option<String> = r.try_get("label")?;
    let colours = match (background, foreground, label) {
        (Some(background), Some(foreground), Some(label)) => Some(WalletColours {
            background,
            foreground,
            label,
        }),
        _ => None,
    };
    let png: Option<Vec<u8>> = r.try_get("logo_png")?;
    let width: Option<i64> = r.try_get("logo_width")?;
    let height: Option<i64> = r.try_get("logo_height")?;
    let logo = match (png, width, height) {
        (Some(png), Some(w), Some(h)) => Some(WalletLogo {
            png,
            width: u32::try_from(w).unwrap_or(0),
            height: u32::try_from(h).unwrap_or(0),
        }),
        _ => None,
    };
    Ok(WalletLook { colours, logo })
}
