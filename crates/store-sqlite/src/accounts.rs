//! The built-in identity provider's accounts, groups and tokens on SQLite.

use crate::rows::uuid_col;
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::store::{Account, AccountGroup, AccountStore, NewAccount, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

const ACCOUNT_COLUMNS: &str =
    "pk, uid, username, name, email, is_active, password_hash, must_change_password, attributes";

pub(crate) fn account_from_row(row: &SqliteRow) -> Result<Account, sqlx::Error> {
    let attributes: String = row.try_get("attributes")?;
    Ok(Account {
        pk: row.try_get("pk")?,
        uid: row.try_get("uid")?,
        username: row.try_get("username")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        is_active: row.try_get("is_active")?,
        password_hash: row.try_get("password_hash")?,
        must_change_password: row.try_get("must_change_password")?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| sqlx::Error::Decode(format!("attributes: {e}").into()))?,
    })
}

impl SqliteStore {
    async fn accounts_where(&self, condition: &str, arg: &str) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {condition} ORDER BY pk");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(account_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn insert_account(
        &self,
        new: &NewAccount,
        now: OffsetDateTime,
    ) -> Result<Account, StoreError> {
        let sql = format!(
            "INSERT INTO accounts (uid, username, name, email, attributes, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING {ACCOUNT_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&new.uid)
            .bind(&new.username)
            .bind(&new.name)
            .bind(&new.email)
            .bind(new.attributes.to_string())
            .bind(ts(now))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        account_from_row(&row).map_err(map_err)
    }

    async fn account_by_pk(&self, pk: i64) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE pk = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(pk)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(account_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        Ok(self
            .accounts_where("lower(username) = lower(?1)", username)
            .await?
            .into_iter()
            .next())
    }

    async fn accounts_by_email(&self, email: &str) -> Result<Vec<Account>, StoreError> {
        self.accounts_where("lower(email) = lower(?1)", email).await
    }

    async fn set_account_password(
        &self,
        pk: i64,
        hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let done = sqlx::query("UPDATE accounts SET password_hash = ?2, must_change_password = ?3, updated_at = ?4 WHERE pk = ?1")
            .bind(pk)
            .bind(hash)
            .bind(must_change)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM sessions WHERE account_pk = ?1 AND (?2 IS NULL OR token_hash <> ?2)",
        )
        .bind(pk)
        .bind(keep_session)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn set_account_active(
        &self,
        pk: i64,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE accounts SET is_active = ?2, updated_at = ?3 WHERE pk = ?1")
            .bind(pk)
            .bind(active)
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_account(&self, pk: i64) -> Result<bool, StoreError> {
        // Memberships, sessions and tokens go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM accounts WHERE pk = ?1")
            .bind(pk)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_group(
        &self,
        name: &str,
        attributes: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<AccountGroup, StoreError> {
        let pk = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO account_groups (pk, name, attributes, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(pk.to_string())
        .bind(name)
        .bind(attributes.to_string())
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(AccountGroup {
            pk,
            name: name.to_owned(),
        })
    }

    async fn group_by_name(&self, name: &str) -> Result<Option<AccountGroup>, StoreError> {
        let row = sqlx::query("SELECT pk, name FROM account_groups WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| {
            Ok(AccountGroup {
                pk: uuid_col(&r, "pk")?,
                name: r.try_get("name")?,
            })
        })
        .transpose()
        .map_err(map_err)
    }

    async fn add_group_member(&self, group: Uuid, account: i64) -> Result<bool, StoreError> {
        let result = sqlx::query("INSERT INTO account_group_members (group_pk, account_pk) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
            .bind(group.to_string())
            .bind(account)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Ok(false),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn remove_group_member(&self, group: Uuid, account: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM account_group_members WHERE group_pk = ?1 AND account_pk = ?2")
            .bind(group.to_string())
            .bind(account)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn group_members(&self, group: Uuid) -> Result<Vec<Account>, StoreError> {
        let sql = format!(
            "SELECT {} FROM accounts a JOIN account_group_members m ON m.account_pk = a.pk \
             WHERE m.group_pk = ?1 ORDER BY a.username",
            ACCOUNT_COLUMNS
                .split(", ")
                .map(|c| format!("a.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(account_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn account_groups(&self, account: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT g.name FROM account_groups g JOIN account_group_members m ON m.group_pk = g.pk \
             WHERE m.account_pk = ?1 ORDER BY g.name",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn insert_account_token(
        &self,
        token_hash: &str,
        account: i64,
        purpose: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query("UPDATE account_tokens SET used_at = ?3 WHERE account_pk = ?1 AND purpose = ?2 AND used_at IS NULL")
            .bind(account)
            .bind(purpose)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("INSERT INTO account_tokens (token_hash, account_pk, purpose, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(token_hash)
            .bind(account)
            .bind(purpose)
            .bind(ts(expires_at))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn consume_account_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "UPDATE account_tokens SET used_at = ?3 \
             WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3 RETURNING account_pk",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)
    }
}
