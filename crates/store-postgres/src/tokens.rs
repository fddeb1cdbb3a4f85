//! API tokens on PostgreSQL: stored by hash, looked up with their organization in one
//! read on every till request. The token row mapping lives here.

use crate::audit::insert_audit;
use crate::orgs::{ORG_COLUMNS_O, org_from_row};
use crate::{PgStore, decode_err, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{Actor, ApiToken};
use loyalty_core::domain::{ApiTokenId, OrgId, Organization, Role};
use loyalty_core::store::{
    StoreError, TokenStore, new_id, token_created_audit, token_revoked_audit,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

fn token_from_row(r: &PgRow) -> Result<ApiToken, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(ApiToken {
        id: ApiTokenId(r.try_get("id")?),
        organization_id: OrgId(r.try_get("organization_id")?),
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| decode_err("role"))?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

#[async_trait]
impl TokenStore for PgStore {
    async fn insert_api_token(
        &self,
        org: OrgId,
        name: &str,
        role: Role,
        token_hash: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ApiToken, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (id, organization_id, name, role, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, organization_id, name, role, created_at, revoked_at",
        )
        .bind(new_id())
        .bind(org.0)
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(actor.member_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let token = token_from_row(&row).map_err(map_err)?;
        insert_audit(&mut tx, &token_created_audit(actor, &token, now)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(token)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, organization_id, name, role, created_at, revoked_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref()
            .map(token_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn api_token_with_org(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, Organization)>, StoreError> {
        let sql = format!(
            "SELECT {}, t.id AS token_id, t.name AS token_name, t.role AS token_role, t.created_at AS token_created_at \
             FROM api_tokens t JOIN organizations o ON o.id = t.organization_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND o.deleted_at IS NULL",
            *ORG_COLUMNS_O
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let decoded = (|| -> Result<(ApiToken, Organization), sqlx::Error> {
            let org = org_from_row(&row)?;
            let role: String = row.try_get("token_role")?;
            let token = ApiToken {
                id: ApiTokenId(row.try_get("token_id")?),
                organization_id: org.id,
                name: row.try_get("token_name")?,
                role: Role::parse(&role).ok_or_else(|| decode_err("role"))?,
                created_at: row.try_get("token_created_at")?,
                revoked_at: None,
            };
            Ok((token, org))
        })();
        decoded.map(Some).map_err(map_err)
    }

    async fn revoke_api_token(
        &self,
        org: OrgId,
        id: ApiTokenId,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(org.0)
            .bind(id.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 1 {
            insert_audit(&mut tx, &token_revoked_audit(org, actor, id, now)).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_api_tokens(&self, org: OrgId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query("SELECT id, organization_id, name, role, created_at, revoked_at FROM api_tokens WHERE organization_id = $1 ORDER BY created_at, id")
            .bind(org.0)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(token_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}
