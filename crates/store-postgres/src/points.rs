//! Customers, the ledger, rewards, tokens and the audit log on PostgreSQL. Balance
//! changes are guarded updates (`balance + delta >= 0`) that take the row lock, so
//! concurrent redemptions cannot overdraw an account at READ COMMITTED.

use crate::{PgStore, map_err};
use async_trait::async_trait;
use loyalty_core::domain::ledger::{
    Actor, ApiToken, AuditRecord, Customer, CustomerKey, IdempotencyKey, LedgerEntry, NewCustomer,
    PointsCommand, PointsError, PointsOutcome, Purchase, Reward, RewardInput, TxType,
};
use loyalty_core::domain::{OrgId, Organization, Role};
use loyalty_core::ledger_tx::{self, BalanceChange, LedgerTx};
use loyalty_core::store::{InvariantReport, PointsSettings, PointsStore, StoreError};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

const CUSTOMER_COLUMNS: &str = "id, organization_id, card_number, phone, email, name, identity_subject, status, balance, created_at";
const ENTRY_COLUMNS: &str = "id, user_id, points, transaction_type, reference_id, reference_type, balance_after, notes, created_by, created_at";
pub(crate) const PURCHASE_COLUMNS: &str = "id, customer_id, cashier_id, amount, currency, points_awarded, reversed_amount, points_reversed, created_at";
const REWARD_COLUMNS: &str = "id, name, cost_points, active, stock, created_at";

fn decode_err(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what}").into())
}

fn customer_from_row(r: &PgRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: r.try_get("id")?,
        organization_id: OrgId(r.try_get("organization_id")?),
        card_number: r
            .try_get::<Option<String>, _>("card_number")?
            .unwrap_or_default(),
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        identity_subject: r.try_get("identity_subject")?,
        status: r.try_get("status")?,
        balance: r.try_get("balance")?,
        created_at: r.try_get("created_at")?,
    })
}

fn entry_from_row(r: &PgRow) -> Result<LedgerEntry, sqlx::Error> {
    let kind: String = r.try_get("transaction_type")?;
    Ok(LedgerEntry {
        id: r.try_get("id")?,
        customer_id: r.try_get("user_id")?,
        points: r.try_get("points")?,
        transaction_type: TxType::parse(&kind).ok_or_else(|| decode_err("transaction type"))?,
        reference_id: r.try_get("reference_id")?,
        reference_type: r.try_get("reference_type")?,
        balance_after: r.try_get("balance_after")?,
        notes: r.try_get("notes")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn purchase_from_row(r: &PgRow) -> Result<Purchase, sqlx::Error> {
    Ok(Purchase {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        cashier_id: r.try_get("cashier_id")?,
        amount: r.try_get("amount")?,
        currency: r.try_get("currency")?,
        points_awarded: r.try_get("points_awarded")?,
        reversed_amount: r.try_get("reversed_amount")?,
        points_reversed: r.try_get("points_reversed")?,
        created_at: r.try_get("created_at")?,
    })
}

fn reward_from_row(r: &PgRow) -> Result<Reward, sqlx::Error> {
    Ok(Reward {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        cost_points: r.try_get("cost_points")?,
        active: r.try_get("active")?,
        stock: r.try_get("stock")?,
        created_at: r.try_get("created_at")?,
    })
}

fn token_from_row(r: &PgRow) -> Result<ApiToken, sqlx::Error> {
    let role: String = r.try_get("role")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        organization_id: OrgId(r.try_get("organization_id")?),
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| decode_err("role"))?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

fn audit_from_row(r: &PgRow) -> Result<AuditRecord, sqlx::Error> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        organization_id: r.try_get::<Option<Uuid>, _>("organization_id")?.map(OrgId),
        actor: r.try_get("actor")?,
        actor_role: r.try_get("actor_role")?,
        action: r.try_get("action")?,
        target_type: r.try_get("target_type")?,
        target_id: r.try_get("target_id")?,
        before: r.try_get("before")?,
        after: r.try_get("after")?,
        reason: r.try_get("reason")?,
        request_id: r.try_get("request_id")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn insert_audit(
    conn: &mut PgConnection,
    a: &AuditRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id)
    .bind(a.organization_id.map(|o| o.0))
    .bind(&a.actor)
    .bind(&a.actor_role)
    .bind(&a.action)
    .bind(&a.target_type)
    .bind(&a.target_id)
    .bind(&a.before)
    .bind(&a.after)
    .bind(&a.reason)
    .bind(&a.request_id)
    .bind(a.created_at)
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

/// Makes the open transaction a tenant transaction of `org`: the role `loyalty_tenant`
/// and the setting `loyalty.org_id`, both until the transaction ends. Row-level
/// security then hides and refuses every other organization's rows.
pub(crate) async fn enter_tenant(conn: &mut PgConnection, org: OrgId) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT set_config('role', 'loyalty_tenant', true), set_config('loyalty.org_id', $1, true)",
    )
    .bind(org.0.to_string())
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// A transaction seen through the ledger's primitive operations.
struct PgLedgerTx<'t>(Transaction<'t, Postgres>);

#[async_trait]
impl LedgerTx for PgLedgerTx<'_> {
    async fn claim_idempotency(
        &mut self,
        org: OrgId,
        key: &IdempotencyKey,
        now: OffsetDateTime,
    ) -> Result<Option<(String, serde_json::Value)>, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (organization_id, key, request_hash, status_code, response, created_at) \
             VALUES ($1, $2, $3, 0, '{}'::jsonb, $4) ON CONFLICT DO NOTHING",
        )
        .bind(org.0)
        .bind(&key.key)
        .bind(&key.request_hash)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?
        .rows_affected();
        if claimed == 1 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT request_hash, response FROM idempotency_keys WHERE organization_id = $1 AND key = $2")
            .bind(org.0)
            .bind(&key.key)
            .fetch_one(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(Some((
            row.try_get("request_hash").map_err(map_err)?,
            row.try_get("response").map_err(map_err)?,
        )))
    }

    async fn store_idempotency(
        &mut self,
        org: OrgId,
        key: &IdempotencyKey,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE idempotency_keys SET status_code = 201, response = $3 WHERE organization_id = $1 AND key = $2")
            .bind(org.0)
            .bind(&key.key)
            .bind(response)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn lock_customer(
        &mut self,
        org: OrgId,
        customer: Uuid,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT balance FROM users WHERE organization_id = $1 AND id = $2 AND role = 'customer' FOR UPDATE")
            .bind(org.0)
            .bind(customer)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)
    }

    async fn change_balance(
        &mut self,
        org: OrgId,
        customer: Uuid,
        delta: i64,
        now: OffsetDateTime,
    ) -> Result<BalanceChange, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET balance = balance + $3, ledger_seq = ledger_seq + 1, updated_at = $4 \
             WHERE organization_id = $1 AND id = $2 AND role = 'customer' AND balance + $3 >= 0 \
             RETURNING balance, ledger_seq",
        )
        .bind(org.0)
        .bind(customer)
        .bind(delta)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        if let Some(row) = row {
            return Ok(BalanceChange::Applied {
                balance: row.try_get(0).map_err(map_err)?,
                seq: row.try_get(1).map_err(map_err)?,
            });
        }
        Ok(match self.lock_customer(org, customer).await? {
            Some(balance) => BalanceChange::Insufficient { balance },
            None => BalanceChange::NotFound,
        })
    }

    async fn insert_purchase(&mut self, org: OrgId, p: &Purchase) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO purchases (id, organization_id, cashier_id, customer_id, amount, currency, points_awarded, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.id)
        .bind(org.0)
        .bind(p.cashier_id)
        .bind(p.customer_id)
        .bind(p.amount)
        .bind(&p.currency)
        .bind(p.points_awarded)
        .bind(p.created_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn purchase_for_update(
        &mut self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = $1 AND id = $2 FOR UPDATE"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(purchase_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn record_reversal(
        &mut self,
        org: OrgId,
        id: Uuid,
        amount: Decimal,
        points: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE purchases SET reversed_amount = reversed_amount + $3, points_reversed = points_reversed + $4 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id)
        .bind(amount)
        .bind(points)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn reward_for_update(
        &mut self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<Reward>, StoreError> {
        let sql = format!(
            "SELECT {REWARD_COLUMNS} FROM rewards WHERE organization_id = $1 AND id = $2 FOR UPDATE"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(reward_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn take_stock(&mut self, org: OrgId, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE rewards SET stock = stock - 1 WHERE organization_id = $1 AND id = $2 AND stock > 0")
            .bind(org.0)
            .bind(id)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_entry(
        &mut self,
        org: OrgId,
        e: &LedgerEntry,
        seq: i64,
        idempotency_key: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, reference_type, \
             balance_after, notes, created_by, idempotency_key, seq, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(e.id)
        .bind(org.0)
        .bind(e.customer_id)
        .bind(e.points)
        .bind(e.transaction_type.as_str())
        .bind(e.reference_id)
        .bind(&e.reference_type)
        .bind(e.balance_after)
        .bind(&e.notes)
        .bind(e.created_by)
        .bind(idempotency_key)
        .bind(seq)
        .bind(e.created_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<(), StoreError> {
        insert_audit(&mut self.0, record).await
    }

    async fn receipt_target(
        &mut self,
        org: OrgId,
        customer: Uuid,
    ) -> Result<Option<loyalty_core::mail::ReceiptTarget>, StoreError> {
        crate::mail::receipt_target(&mut self.0, org, customer).await
    }

    async fn insert_mail(
        &mut self,
        mail: &loyalty_core::mail::NewMail,
    ) -> Result<bool, StoreError> {
        crate::mail::insert_mail(&mut self.0, mail).await
    }

    async fn credits_and_debits(
        &mut self,
        org: OrgId,
        customer: Uuid,
        cutoff: OffsetDateTime,
    ) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(points) FILTER (WHERE points > 0 AND created_at <= $3), 0)::bigint, \
                    COALESCE(-SUM(points) FILTER (WHERE points < 0), 0)::bigint \
             FROM points_transactions WHERE organization_id = $1 AND user_id = $2",
        )
        .bind(org.0)
        .bind(customer)
        .bind(cutoff)
        .fetch_one(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok((
            row.try_get(0).map_err(map_err)?,
            row.try_get(1).map_err(map_err)?,
        ))
    }
}

#[async_trait]
impl PointsStore for PgStore {
    async fn enroll_customer(
        &self,
        org: OrgId,
        new: &NewCustomer,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Customer, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let sql = format!(
            "INSERT INTO users (id, organization_id, identity_subject, role, status, email, name, phone, card_number, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'customer', 'active', $4, $5, $6, $7, $8, $9, $9) RETURNING {CUSTOMER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::now_v7())
            .bind(org.0)
            .bind(&new.identity_subject)
            .bind(&new.email)
            .bind(&new.name)
            .bind(&new.phone)
            .bind(&new.card_number)
            .bind(new.created_by)
            .bind(now)
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
        let ids: Vec<Uuid> = customers.iter().map(|_| Uuid::now_v7()).collect();
        let phones: Vec<Option<String>> = customers.iter().map(|c| c.phone.clone()).collect();
        let emails: Vec<Option<String>> = customers.iter().map(|c| c.email.clone()).collect();
        let names: Vec<Option<String>> = customers.iter().map(|c| c.name.clone()).collect();
        let cards: Vec<String> = customers.iter().map(|c| c.card_number.clone()).collect();
        let done = sqlx::query(
            "INSERT INTO users (id, organization_id, role, status, phone, email, name, card_number, created_at, updated_at) \
             SELECT u.id, $1, 'customer', 'active', u.phone, u.email, u.name, u.card, $7, $7 \
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(id, phone, email, name, card)",
        )
        .bind(org.0)
        .bind(&ids)
        .bind(&phones)
        .bind(&emails)
        .bind(&names)
        .bind(&cards)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        // A bulk import changes the table far faster than autovacuum re-reads its
        // statistics; until then the planner takes (organization, role) for a customer's
        // row instead of the primary key and scans the whole organization per lookup.
        if let Err(e) = sqlx::query("ANALYZE users").execute(&self.pool).await {
            tracing::warn!(error = %e, "could not ANALYZE users after a bulk import; lookups may be slow until autovacuum does");
        }
        Ok(done.rows_affected())
    }

    async fn find_customer(
        &self,
        org: OrgId,
        key: &CustomerKey,
    ) -> Result<Option<Customer>, StoreError> {
        let (cond, arg) = match key {
            CustomerKey::Id(id) => ("id = $2::uuid", id.to_string()),
            CustomerKey::Phone(p) => ("phone = $2", p.clone()),
            CustomerKey::Email(e) => ("lower(email) = lower($2)", e.clone()),
            CustomerKey::Card(c) => ("card_number = $2", c.clone()),
            CustomerKey::Subject(s) => ("identity_subject = $2", s.clone()),
        };
        let sql = format!(
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = $1 AND role = 'customer' AND {cond}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
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
            "SELECT {CUSTOMER_COLUMNS} FROM users WHERE organization_id = $1 AND role = 'customer' \
             AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(after)
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let mut ltx = PgLedgerTx(tx);
        let outcome = ledger_tx::apply(&mut ltx, org, cmd, actor, idem, now).await;
        match outcome {
            Ok(o) => {
                ltx.0.commit().await.map_err(map_err)?;
                Ok(o)
            }
            Err(e) => {
                let _ = ltx.0.rollback().await;
                Err(e)
            }
        }
    }

    async fn purchase(&self, org: OrgId, id: Uuid) -> Result<Option<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = $1 AND id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id)
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
            "SELECT {ENTRY_COLUMNS} FROM points_transactions WHERE organization_id = $1 \
             AND ($2::uuid IS NULL OR user_id = $2) AND ($3::timestamptz IS NULL OR created_at >= $3) \
             AND ($4::timestamptz IS NULL OR created_at < $4) \
             AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6)) \
             ORDER BY created_at, id LIMIT $7"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(customer)
            .bind(from)
            .bind(to)
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
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
        sqlx::query_scalar(
            "SELECT u.id FROM users u WHERE u.organization_id = $1 AND u.role = 'customer' AND u.balance > 0 \
             AND EXISTS (SELECT 1 FROM points_transactions t WHERE t.organization_id = $1 AND t.user_id = u.id \
                         AND t.points > 0 AND t.created_at <= $2) ORDER BY u.id",
        )
        .bind(org.0)
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn expire_customer(
        &self,
        org: OrgId,
        customer: Uuid,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let mut ltx = PgLedgerTx(tx);
        let expired = ledger_tx::expire(&mut ltx, org, customer, cutoff, now, dry_run).await?;
        if dry_run {
            ltx.0.rollback().await.map_err(map_err)?;
        } else {
            ltx.0.commit().await.map_err(map_err)?;
        }
        Ok(expired)
    }

    async fn create_reward(
        &self,
        org: OrgId,
        input: &RewardInput,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<Reward, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let sql = format!(
            "INSERT INTO rewards (id, organization_id, name, cost_points, active, stock, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {REWARD_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::now_v7())
            .bind(org.0)
            .bind(&input.name)
            .bind(input.cost_points)
            .bind(input.active)
            .bind(input.stock)
            .bind(now)
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let sql = format!(
            "UPDATE rewards SET name = $3, cost_points = $4, active = $5, stock = $6, updated_at = $7 \
             WHERE organization_id = $1 AND id = $2 RETURNING {REWARD_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id)
            .bind(&input.name)
            .bind(input.cost_points)
            .bind(input.active)
            .bind(input.stock)
            .bind(now)
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
            format!("SELECT {REWARD_COLUMNS} FROM rewards WHERE organization_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id)
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
            "SELECT {REWARD_COLUMNS} FROM rewards WHERE organization_id = $1 ORDER BY lower(name)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "UPDATE organizations SET points_per_unit = $2, min_purchase = $3, expiry_days = $4, join_enabled = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(org.0)
        .bind(s.earning.points_per_unit)
        .bind(s.earning.min_purchase)
        .bind(s.expiry_days)
        .bind(s.join_enabled)
        .bind(now)
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
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (id, organization_id, name, role, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, organization_id, name, role, created_at, revoked_at",
        )
        .bind(Uuid::now_v7())
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
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND o.deleted_at IS NULL",
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
                id: row.try_get("token_id")?,
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

    async fn revoke_api_token(
        &self,
        org: OrgId,
        id: Uuid,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(org.0)
            .bind(id)
            .bind(now)
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

    async fn audit_log(
        &self,
        org: OrgId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at \
             FROM audit_log WHERE organization_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(org.0)
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
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
             FROM audit_log WHERE (organization_id = $1 OR organization_id IS NULL) \
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(org.0)
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
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
                           WHERE ($1::uuid IS NULL OR organization_id = $1) GROUP BY organization_id, user_id) \
             SELECT COUNT(*)::bigint, COALESCE(SUM(s.n), 0)::bigint, \
                    COUNT(*) FILTER (WHERE u.balance <> COALESCE(s.total, 0))::bigint, \
                    COUNT(*) FILTER (WHERE u.balance < 0)::bigint \
             FROM users u LEFT JOIN sums s ON s.organization_id = u.organization_id AND s.user_id = u.id \
             WHERE u.role = 'customer' AND ($1::uuid IS NULL OR u.organization_id = $1)",
        )
        .bind(org)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        let broken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*)::bigint FROM (SELECT points, balance_after, \
                 lag(balance_after, 1, 0::bigint) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev, \
                 seq, lag(seq, 1, 0::bigint) OVER (PARTITION BY organization_id, user_id ORDER BY seq) AS prev_seq \
               FROM points_transactions WHERE ($1::uuid IS NULL OR organization_id = $1)) t \
             WHERE t.prev + t.points <> t.balance_after OR t.seq <> t.prev_seq + 1",
        )
        .bind(org)
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
