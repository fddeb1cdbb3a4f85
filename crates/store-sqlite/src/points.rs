//! Customers, the ledger, rewards, tokens and the audit log on SQLite. Every write
//! transaction starts as a writer (`BEGIN IMMEDIATE`), so concurrent redemptions are
//! serialised and cannot overdraw an account.

use crate::orgs::{decimal_col, uuid_col};
use crate::{SqliteStore, map_err, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{
    Actor, ApiToken, AuditRecord, Customer, CustomerKey, IdempotencyKey, LedgerEntry, NewCustomer,
    PointsCommand, PointsError, PointsOutcome, Purchase, Reward, RewardInput, TxType,
};
use loyalty_core::domain::{OrgId, Organization, Role};
use loyalty_core::store::{InvariantReport, PointsSettings, PointsStore, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

const CUSTOMER_COLUMNS: &str = "id, organization_id, card_number, phone, email, name, identity_subject, status, balance, created_at";
const ENTRY_COLUMNS: &str = "id, user_id, points, transaction_type, reference_id, reference_type, balance_after, notes, created_by, created_at";
pub(crate) const PURCHASE_COLUMNS: &str = "id, customer_id, cashier_id, amount, currency, points_awarded, reversed_amount, points_reversed, created_at";
const REWARD_COLUMNS: &str = "id, name, cost_points, active, stock, created_at";

fn decode_err(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what}").into())
}

fn time_col(r: &SqliteRow, col: &str) -> Result<OffsetDateTime, sqlx::Error> {
    parse_ts(&r.try_get::<String, _>(col)?)
}

fn uuid_opt(r: &SqliteRow, col: &str) -> Result<Option<Uuid>, sqlx::Error> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| Uuid::parse_str(&s).map_err(|e| sqlx::Error::Decode(format!("{col}: {e}").into())))
        .transpose()
}

fn json_opt(r: &SqliteRow, col: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| {
            serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(format!("{col}: {e}").into()))
        })
        .transpose()
}

fn customer_from_row(r: &SqliteRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: uuid_col(r, "id")?,
        organization_id: OrgId(uuid_col(r, "organization_id")?),
        card_number: r
            .try_get::<Option<String>, _>("card_number")?
            .unwrap_or_default(),
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        identity_subject: r.try_get("identity_subject")?,
        status: r.try_get("status")?,
        balance: r.try_get("balance")?,
        created_at: time_col(r, "created_at")?,
    })
}

fn entry_from_row(r: &SqliteRow) -> Result<LedgerEntry, sqlx::Error> {
    let kind: String = r.try_get("transaction_type")?;
    Ok(LedgerEntry {
        id: uuid_col(r, "id")?,
        customer_id: uuid_col(r, "user_id")?,
        points: r.try_get("points")?,
        transaction_type: TxType::parse(&kind).ok_or_else(|| decode_err("transaction type"))?,
        reference_id: uuid_opt(r, "reference_id")?,
        reference_type: r.try_get("reference_type")?,
        balance_after: r.try_get("balance_after")?,
        notes: r.try_get("notes")?,
        created_by: uuid_opt(r, "created_by")?,
        created_at: time_col(r, "created_at")?,
    })
}

pub(crate) fn purchase_from_row(r: &SqliteRow) -> Result<Purchase, sqlx::Error> {
    Ok(Purchase {
        id: uuid_col(r, "id")?,
        customer_id: uuid_col(r, "customer_id")?,
        cashier_id: uuid_opt(r, "cashier_id")?,
        amount: decimal_col(r, "amount")?,
        currency: r.try_get("currency")?,
        points_awarded: r.try_get("points_awarded")?,
        reversed_amount: decimal_col(r, "reversed_amount")?,
        points_reversed: r.try_get("points_reversed")?,
        created_at: time_col(r, "created_at")?,
    })
}

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

fn token_from_row(r: &SqliteRow) -> Result<ApiToken, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(ApiToken {
        id: uuid_col(r, "id")?,
        organization_id: OrgId(uuid_col(r, "organization_id")?),
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| decode_err("role"))?,
        created_at: time_col(r, "created_at")?,
        revoked_at: r
            .try_get::<Option<String>, _>("revoked_at")?
            .map(|t| parse_ts(&t))
            .transpose()?,
    })
}

fn audit_from_row(r: &SqliteRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        id: uuid_col(r, "id")?,
        organization_id: uuid_opt(r, "organization_id")?.map(OrgId),
        actor: r.try_get("actor")?,
        actor_role: r.try_get("actor_role")?,
        action: r.try_get("action")?,
        target_type: r.try_get("target_type")?,
        target_id: r.try_get("target_id")?,
        before: json_opt(r, "before")?,
        after: json_opt(r, "after")?,
        reason: r.try_get("reason")?,
        request_id: r.try_get("request_id")?,
        created_at: time_col(r, "created_at")?,
    })
}

pub(crate) async fn insert_audit(
    conn: &mut SqliteConnection,
    a: &AuditRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .bind(a.id.to_string())
    .bind(a.organization_id.map(|o| o.0).map(|u| u.to_string()))
    .bind(&a.actor)
    .bind(&a.actor_role)
    .bind(&a.action)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(a.before.as_ref().map(|v| v.to_string()))
    .bind(a.after.as_ref().map(|v| v.to_string()))
    .bind(&a.reason)
    .bind(&a.request_id)
    .bind(ts(a.created_at))
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn simple_audit(
    org: OrgId,
    actor: &Actor,
    action: &str,
    target: (&str, String),
    after: serde_json::Value,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord {
        id: Uuid::now_v7(),
        organization_id: Some(org),
        actor: actor.label.clone(),
        actor_role: actor.role.clone(),
        action: action.to_owned(),
        target_type: Some(target.0.to_owned()),
        target_id: Some(target.1),
        before: None,
        after: Some(after),
        reason: None,
        request_id: actor.request_id.clone(),
        created_at: now,
    }
}

#[async_trait]
impl PointsStore for SqliteStore {
    async fn enroll_customer(
        &self,
        org: OrgId,
        new: &NewCustomer,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Customer, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let sql = format!(
            "INSERT INTO users (id, organization_id, identity_subject, role, status, email, name, phone, card_number, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'customer', 'active', ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING {CUSTOMER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::now_v7().to_string())
            .bind(org.0.to_string())
            .bind(&new.identity_subject)
            .bind(&new.email)
            .bind(&new.name)
            .bind(&new.phone)
            .bind(&new.card_number)
            .bind(new.created_by.map(|u| u.to_string()))
            .bind(ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let customer = customer_from_row(&row).map_err(map_err)?;
        let after = serde_json::json!({"card_number": customer.card_number, "phone": customer.phone, "email": customer.email});
        insert_audit(
            &mut tx,
            &simple_audit(
                org,
                actor,
                "customer.enroll",
                ("customer", customer.id.to_string()),
                after,
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(customer)
    }

    async fn bulk_enroll(
        &self,
        org: OrgId,
        customers: &[NewCustomer],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let mut n = 0;
        for c in customers {
            n += sqlx::query(
                "INSERT INTO users (id, organization_id, role, status, phone, email, name, card_number, created_at, updated_at) \
                 VALUES (?1, ?2, 'customer', 'active', ?3, ?4, ?5, ?6, ?7, ?7)",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(org.0.to_string())
            .bind(&c.phone)
            .bind(&c.email)
            .bind(&c.name)
            .bind(&c.card_number)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        }
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn find_customer(
        &self,
        org: OrgId,
        key: &CustomerKey,
    ) -> Result<Option<Customer>, StoreError> {
        let (cond, arg) = match key {
            CustomerKey::Id(id) => ("id = ?2", id.to_string()),
            CustomerKey::Phone(p) => ("phone = ?2", p.clone()),
            CustomerKey::Email(e) => ("lower(email) = lower(?2)", e.clone()),
            CustomerKey::Card(c) => ("card_number = ?2", c.clone()),
            CustomerKey::Subject(s) => ("identity_subject = ?2", s.clone()),
        };
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = ?1 AND role = 'customer' AND {cond}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(arg)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(customer_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn list_customers(
        &self,
        org: OrgId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError> {
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = ?1 AND role = 'customer' \
             AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(after.map(|u| u.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(customer_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn apply_points(
        &self,
        org: OrgId,
        cmd: &PointsCommand,
        actor: &Actor,
        idem: Option<&IdempotencyKey>,
        now: OffsetDateTime,
    ) -> Result<PointsOutcome, PointsError> {
        // Through the single writer, which commits concurrent commands in small groups.
        crate::writer::apply(&self.writer, org, cmd, actor, idem, now).await
    }

    async fn purchase(&self, org: OrgId, id: Uuid) -> Result<Option<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = ?1 AND id = ?2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(purchase_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn ledger(
        &self,
        org: OrgId,
        customer: Option<Uuid>,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM points_transactions WHERE organization_id = ?1 \
             AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR created_at >= ?3) \
             AND (?4 IS NULL OR created_at < ?4) \
             AND (?5 IS NULL OR (created_at, id) > (?5, ?6)) \
             ORDER BY created_at, id LIMIT ?7"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0.to_string())
            .bind(customer.map(|u| u.to_string()))
            .bind(from.map(ts))
            .bind(to.map(ts))
            .bind(after.map(|a| a.0).map(ts))
            .bind(after.map(|a| a.1).map(|u| u.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn expiry_candidates(
        &self,
        org: OrgId,
        cutoff: OffsetDateTime,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT u.id FROM users u WHERE u.organization_id = ?1 AND u.role = 'customer' AND u.balance > 0 \
             AND EXISTS (SELECT 1 FROM points_transactions t WHERE t.organization_id = ?1 AND t.user_id = u.id \
                         AND t.points > 0 AND t.created_at <= ?2) ORDER BY u.id",
        )
        .bind(org.0.to_string())
        .bind(ts(cutoff))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        ids.iter()
            .map(|s| Uuid::parse_str(s).map_err(StoreError::backend))
            .collect()
    }

    async fn expire_customer(
        &self,
        org: OrgId,
        customer: Uuid,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<i64, StoreError> {
        crate::writer::expire(&self.writer, org, customer, cutoff, now, dry_run).await
    }

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
            .bind(Uuid::now_v7().to_string())
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
        let after = serde_json::to_value(&reward).map_err(StoreError::backend)?;
        insert_audit(
            &mut tx,
            &simple_audit(
                org,
                actor,
                "reward.create",
                ("reward", reward.id.to_string()),
                after,
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(reward)
    }

    async fn update_reward(
        &self,
        org: OrgId,
        id: Uuid,
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
        let after = serde_json::to_value(&reward).map_err(StoreError::backend)?;
        insert_audit(
            &mut tx,
            &simple_audit(
                org,
                actor,
                "reward.update",
                ("reward", reward.id.to_string()),
                after,
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(reward))
    }

    async fn reward(&self, org: OrgId, id: Uuid) -> Result<Option<Reward>, StoreError> {
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

    async fn update_points_settings(
        &self,
        org: OrgId,
        s: &PointsSettings,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET points_per_unit = ?2, min_purchase = ?3, expiry_days = ?4, join_enabled = ?5, updated_at = ?6 WHERE id = ?1",
        )
        .bind(org.0.to_string())
        .bind(s.earning.points_per_unit.to_string())
        .bind(s.earning.min_purchase.to_string())
        .bind(s.expiry_days)
        .bind(s.join_enabled)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let after = serde_json::json!({"earning": s.earning, "expiry_days": s.expiry_days, "join_enabled": s.join_enabled});
        insert_audit(
            &mut tx,
            &simple_audit(
                org,
                actor,
                "org.points_settings",
                ("organization", org.0.to_string()),
                after,
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)
    }

    async fn insert_api_token(
        &self,
        org: OrgId,
        name: &str,
        role: Role,
        token_hash: &str,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ApiToken, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (id, organization_id, name, role, token_hash, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             RETURNING id, organization_id, name, role, created_at, revoked_at",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(org.0.to_string())
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(actor.member_id.map(|u| u.to_string()))
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let token = token_from_row(&row).map_err(map_err)?;
        insert_audit(
            &mut tx,
            &simple_audit(
                org,
                actor,
                "api_token.create",
                ("api_token", token.id.to_string()),
                serde_json::json!({"name": name, "role": role}),
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(token)
    }

    async fn api_token_with_org(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, Organization)>, StoreError> {
        let sql = format!(
            "SELECT {}, t.id AS token_id, t.name AS token_name, t.role AS token_role, t.created_at AS token_created_at \
             FROM api_tokens t JOIN organizations o ON o.id = t.organization_id \
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND o.deleted_at IS NULL",
            *crate::orgs::ORG_COLUMNS_O
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let decoded = (|| -> Result<(ApiToken, Organization), sqlx::Error> {
            let org = crate::orgs::org_from_row(&row)?;
            let role: String = row.try_get("token_role")?;
            let token = ApiToken {
                id: uuid_col(&row, "token_id")?,
                organization_id: org.id,
                name: row.try_get("token_name")?,
                role: Role::parse(&role).ok_or_else(|| decode_err("role"))?,
                created_at: time_col(&row, "token_created_at")?,
                revoked_at: None,
            };
            Ok((token, org))
        })();
        decoded.map(Some).map_err(map_err)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, organization_id, name, role, created_at, revoked_at FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
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

    async fn revoke_api_token(
        &self,
        org: OrgId,
        id: Uuid,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = ?3 WHERE organization_id = ?1 AND id = ?2 AND revoked_at IS NULL")
            .bind(org.0.to_string())
            .bind(id.to_string())
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 1 {
            insert_audit(
                &mut tx,
                &simple_audit(
                    org,
                    actor,
                    "api_token.revoke",
                    ("api_token", id.to_string()),
                    serde_json::json!({"revoked": true}),
                    now,
                ),
            )
            .await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_api_tokens(&self, org: OrgId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query("SELECT id, organization_id, name, role, created_at, revoked_at FROM api_tokens WHERE organization_id = ?1 ORDER BY created_at, id")
            .bind(org.0.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(token_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE organization_id = ?1 AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) \
             ORDER BY created_at DESC, id DESC LIMIT ?4",
        )
        .bind(org.0.to_string())
        .bind(before.map(|b| b.0).map(ts))
        .bind(before.map(|b| b.1).map(|u| u.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn operator_audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE (organization_id = ?1 OR organization_id IS NULL) \
             AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) \
             ORDER BY created_at DESC, id DESC LIMIT ?4",
        )
        .bind(org.0.to_string())
        .bind(before.map(|b| b.0).map(ts))
        .bind(before.map(|b| b.1).map(|u| u.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        insert_audit(&mut conn, record).await
    }

    async fn check_invariants(&self, org: Option<OrgId>) -> Result<InvariantReport, StoreError> {
        let org = org.map(|o| o.0);
        let row = sqlx::query(
            "WITH sums AS (SELECT organization_id, user_id, SUM(points) AS total, COUNT(*) AS n FROM points_transactions \
                           WHERE (?1 IS NULL OR organization_id = ?1) GROUP BY organization_id, user_id) \
             SELECT COUNT(*), COALESCE(SUM(s.n), 0), \
                    COUNT(*) FILTER (WHERE u.balance <> COALESCE(s.total, 0)), \
                    COUNT(*) FILTER (WHERE u.balance < 0) \
             FROM users u LEFT JOIN sums s ON s.organization_id = u.organization_id AND s.user_id = u.id \
             WHERE u.role = 'customer' AND (?1 IS NULL OR u.organization_id = ?1)",
        )
        .bind(org.map(|u| u.to_string()))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let broken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT points, balance_after, \
                 lag(balance_after, 1, 0) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev, \
                 seq, lag(seq, 1, 0) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev_seq \
               FROM points_transactions WHERE (?1 IS NULL OR organization_id = ?1)) t \
             WHERE t.prev + t.points <> t.balance_after OR t.seq <> t.prev_seq + 1",
        )
        .bind(org.map(|u| u.to_string()))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(InvariantReport {
            customers: row.try_get(0).map_err(map_err)?,
            entries: row.try_get(1).map_err(map_err)?,
            balance_mismatches: row.try_get(2).map_err(map_err)?,
            negative_balances: row.try_get(3).map_err(map_err)?,
            broken_chains: broken,
        })
    }
}
