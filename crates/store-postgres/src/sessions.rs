//! Sign-in sessions on PostgreSQL: built-in accounts and external (OpenID Connect)
//! subjects, and the server side of starting OpenID Connect sign-ins.

use crate::accounts::account_from_row;
use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::store::{
    ExternalSubject, LoginFlow, Session, SessionPrincipal, SessionStore, StoreError,
};
use sqlx::Row;
use time::OffsetDateTime;

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(
        &self,
        token_hash: &str,
        account: i64,
        csrf_token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // One statement: the session, the account's last sign-in, and the sign-in time
        // on the person's member rows (counted as active users).
        sqlx::query(
            "WITH s AS (INSERT INTO sessions (token_hash, account_pk, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)), \
                  a AS (UPDATE accounts SET last_login_at = $4 WHERE pk = $2 RETURNING uid) \
             UPDATE users SET last_seen_at = $4 WHERE identity_subject IN (SELECT uid FROM a)",
        )
            .bind(token_hash)
            .bind(account)
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at)
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
                    s.csrf_token, s.expires_at, s.subject, s.subject_username, s.subject_name, s.subject_email, s.subject_groups \
             FROM sessions s LEFT JOIN accounts a ON a.pk = s.account_pk \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND (s.subject IS NOT NULL OR a.is_active)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            let subject: Option<String> = r.try_get("subject")?;
            let principal = match subject {
                Some(subject) => {
                    let groups: Option<String> = r.try_get("subject_groups")?;
                    let groups: Vec<String> =
                        serde_json::from_str(groups.as_deref().unwrap_or("[]")).map_err(|e| {
                            sqlx::Error::Decode(format!("subject_groups: {e}").into())
                        })?;
                    let ext = ExternalSubject {
                        username: r
                            .try_get::<Option<String>, _>("subject_username")?
                            .unwrap_or_else(|| subject.clone()),
                        name: r
                            .try_get::<Option<String>, _>("subject_name")?
                            .unwrap_or_default(),
                        email: r.try_get("subject_email")?,
                        groups,
                        subject,
                    };
                    SessionPrincipal::Subject(ext)
                }
                None => SessionPrincipal::Account(account_from_row(&r)?),
            };
            Ok(Session {
                principal,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
        .map_err(map_err)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_external_session(
        &self,
        token_hash: &str,
        subject: &ExternalSubject,
        csrf_token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let groups = serde_json::to_string(&subject.groups).map_err(StoreError::backend)?;
        sqlx::query(
            "WITH s AS (INSERT INTO sessions (token_hash, account_pk, csrf_token, created_at, expires_at, subject, subject_username, subject_name, subject_email, subject_groups) \
             VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9)) \
             UPDATE users SET last_seen_at = $3 WHERE identity_subject = $5",
        )
        .bind(token_hash)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .bind(&subject.subject)
        .bind(&subject.username)
        .bind(&subject.name)
        .bind(&subject.email)
        .bind(groups)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_login_flow(
        &self,
        key_hash: &str,
        flow: &LoginFlow,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_flows (key_hash, state, nonce, pkce_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key_hash)
        .bind(&flow.state)
        .bind(&flow.nonce)
        .bind(&flow.pkce_verifier)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn take_login_flow(
        &self,
        key_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginFlow>, StoreError> {
        sqlx::query("DELETE FROM login_flows WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        let row = sqlx::query(
            "DELETE FROM login_flows WHERE key_hash = $1 AND expires_at > $2 RETURNING state, nonce, pkce_verifier",
        )
        .bind(key_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(LoginFlow {
                state: r.try_get("state")?,
                nonce: r.try_get("nonce")?,
                pkce_verifier: r.try_get("pkce_verifier")?,
            })
        })
        .transpose()
        .map_err(map_err)
    }
}
