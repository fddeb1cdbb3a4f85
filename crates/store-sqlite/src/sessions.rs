//! Sign-in sessions on SQLite.

use crate::accounts::account_from_row;
use crate::{SqliteStore, map_err, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::store::{Session, SessionStore, StoreError};
use sqlx::Row;
use time::OffsetDateTime;

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(
        &self,
        token_hash: &str,
        account: i64,
        csrf_token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (token_hash, account_pk, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(token_hash)
            .bind(account)
            .bind(csrf_token)
            .bind(ts(now))
            .bind(ts(expires_at))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT a.pk, a.uid, a.username, a.name, a.email, a.is_active, a.password_hash, a.must_change_password, a.attributes, \
                    s.csrf_token, s.expires_at \
             FROM sessions s JOIN accounts a ON a.pk = s.account_pk \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND a.is_active",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(Session {
                account: account_from_row(&r)?,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: parse_ts(&r.try_get::<String, _>("expires_at")?)?,
            })
        })
        .transpose()
        .map_err(map_err)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
