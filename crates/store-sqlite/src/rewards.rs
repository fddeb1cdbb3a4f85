//! Rewards on SQLite, each change with its audit record. The reward row mapping lives
//! here.

use crate::audit::insert_audit;
use crate::rows::{time_col, uuid_col};
use crate::{SqliteStore, map_err, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{Actor, Reward, RewardInput};
use loyalty_core::domain::{OrgId, RewardId};
use loyalty_core::store::{RewardStore, StoreError, new_id, reward_audit};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

const REWARD_COLUMNS: &str = "id, name, cost_points, active, stock, created_at";

fn reward_from_row(r: &SqliteRow) -> Result<Reward, sqlx::Error> {
    Ok(Reward {
        id: uuid_col(r, "id")?,
        name: r.try_get("name")?,
        cost_points: r.try_get("cost_points")?,
        active: r.try_get("active")?,
        stock: r.try_get("stock")?,
        created_at: time_col(r, "created_at")?,
    })
}

#[async_trait]
impl RewardStore for SqliteStore {
    async fn create_reward(
        &self,
        org: OrgId,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Reward, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let sql = format!(
            "INSERT INTO rewards (id, organization_id, name, cost_points, active, stock, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING {REWARD_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_id().to_string())
            .bind(org.0.to_string())
            .bind(&input.name)
            .bind(input.cost_points)
            .bind(input.active)
            .bind(input.stock)
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let reward = reward_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &reward_audit(org, actor, "reward.create", &reward, now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(reward)
    }

    async fn update_reward(
        &self,
        org: OrgId,
        id: RewardId,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Option<Reward>, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let sql = format!(
            "UPDATE rewards SET name = ?3, cost_points = ?4, active = ?5, stock = ?6, updated_at = ?7 \
             WHERE organization_id = ?1 AND id = ?2 RETURNING {REWARD_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(id.to_string())
            .bind(&input.name)
            .bind(input.cost_points)
            .bind(input.active)
            .bind(input.stock)
            .bind(ts(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let reward = reward_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &reward_audit(org, actor, "reward.update", &reward, now),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(reward))
    }

    async fn reward(&self, org: OrgId, id: RewardId) -> Result<Option<Reward>, StoreError> {
        let sql =
            format!("SELECT {REWARD_COLUMNS} FROM rewards WHERE organization_id = ?1 AND id = ?2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(reward_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn list_rewards(&self, org: OrgId) -> Result<Vec<Reward>, StoreError> {
        let sql = format!(
            "SELECT {REWARD_COLUMNS} FROM rewards WHERE organization_id = ?1 ORDER BY lower(name)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(reward_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}
