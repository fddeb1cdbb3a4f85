//! The ledger's primitive operations on a PostgreSQL transaction, and the row mapping
//! of purchases and ledger entries. Balance changes are guarded updates
//! (`balance + delta >= 0`) that take the row lock, so concurrent redemptions cannot
//! overdraw an account at READ COMMITTED.

use crate::audit::insert_audit;
use crate::rewards::{REWARD_COLUMNS, reward_from_row};
use crate::{decode_err, map_err};
use async_trait::async_trait;
use loyalty_core::domain::chain::ChainHash;
use loyalty_core::domain::ledger::{
    AuditRecord, IdempotencyKey, LedgerEntry, Purchase, Reward, TxType,
};
use loyalty_core::domain::program::Grant;
use loyalty_core::domain::{CustomerId, LedgerEntryId, OrgId, PurchaseId, RewardId};
use loyalty_core::ledger_tx::{BalanceChange, LedgerTx};
use loyalty_core::mail::{NewMail, ReceiptTarget};
use loyalty_core::store::StoreError;
use loyalty_core::webhook::NewEvent;
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) const ENTRY_COLUMNS: &str = "id, user_id, points, transaction_type, reference_id, reference_type, balance_after, notes, created_by, created_at";
pub(crate) const PURCHASE_COLUMNS: &str = "id, customer_id, cashier_id, amount, currency, points_awarded, reversed_amount, points_reversed, program_version, grants, created_at";

pub(crate) fn entry_from_row(r: &PgRow) -> Result<LedgerEntry, sqlx::Error> {
    let kind: String = r.try_get("transaction_type")?;
    Ok(LedgerEntry {
        id: LedgerEntryId(r.try_get("id")?),
        customer_id: CustomerId(r.try_get("user_id")?),
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
        id: PurchaseId(r.try_get("id")?),
        customer_id: CustomerId(r.try_get("customer_id")?),
        cashier_id: r.try_get("cashier_id")?,
        amount: r.try_get("amount")?,
        currency: r.try_get("currency")?,
        points_awarded: r.try_get("points_awarded")?,
        reversed_amount: r.try_get("reversed_amount")?,
        points_reversed: r.try_get("points_reversed")?,
        program_version: r.try_get("program_version")?,
        grants: r
            .try_get::<Option<sqlx::types::Json<Vec<Grant>>>, _>("grants")?
            .map(|g| g.0)
            .unwrap_or_default(),
        created_at: r.try_get("created_at")?,
    })
}

/// A stored chain head: `None` (no entry yet) is the genesis link.
pub(crate) fn head(bytes: Option<Vec<u8>>) -> Result<ChainHash, StoreError> {
    match bytes {
        None => Ok(ChainHash::GENESIS),
        Some(b) => ChainHash::from_slice(&b).ok_or_else(|| map_err(decode_err("chain head"))),
    }
}

/// A transaction seen through the ledger's primitive operations.
pub(crate) struct PgLedgerTx<'t>(pub(crate) Transaction<'t, Postgres>);

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
        customer: CustomerId,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT balance FROM users WHERE organization_id = $1 AND id = $2 AND role = 'customer' FOR UPDATE")
            .bind(org.0)
            .bind(customer.0)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)
    }

    async fn change_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        delta: i64,
        now: OffsetDateTime,
    ) -> Result<BalanceChange, StoreError> {
        let row = sqlx::query(
            "UPDATE users SET balance = balance + $3, ledger_seq = ledger_seq + 1, updated_at = $4 \
             WHERE organization_id = $1 AND id = $2 AND role = 'customer' AND balance + $3 >= 0 \
             RETURNING balance, ledger_seq, chain_head",
        )
        .bind(org.0)
        .bind(customer.0)
        .bind(delta)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        if let Some(row) = row {
            return Ok(BalanceChange::Applied {
                balance: row.try_get(0).map_err(map_err)?,
                seq: row.try_get(1).map_err(map_err)?,
                head: head(row.try_get(2).map_err(map_err)?)?,
            });
        }
        Ok(match self.lock_customer(org, customer).await? {
            Some(balance) => BalanceChange::Insufficient { balance },
            None => BalanceChange::NotFound,
        })
    }

    async fn change_balances(
        &mut self,
        org: OrgId,
        deltas: &[(CustomerId, i64)],
        now: OffsetDateTime,
    ) -> Result<Vec<BalanceChange>, StoreError> {
        let ids: Vec<Uuid> = deltas.iter().map(|(c, _)| c.0).collect();
        let points: Vec<i64> = deltas.iter().map(|(_, p)| *p).collect();
        let rows = sqlx::query(
            "UPDATE users u SET balance = u.balance + d.delta, ledger_seq = u.ledger_seq + 1, updated_at = $4 \
             FROM UNNEST($2::uuid[], $3::bigint[]) AS d(id, delta) \
             WHERE u.organization_id = $1 AND u.id = d.id AND u.role = 'customer' AND u.balance + d.delta >= 0 \
             RETURNING u.id, u.balance, u.ledger_seq, u.chain_head",
        )
        .bind(org.0)
        .bind(&ids)
        .bind(&points)
        .bind(now)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        let mut applied = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let id: Uuid = r.try_get(0).map_err(map_err)?;
            applied.insert(
                id,
                BalanceChange::Applied {
                    balance: r.try_get(1).map_err(map_err)?,
                    seq: r.try_get(2).map_err(map_err)?,
                    head: head(r.try_get(3).map_err(map_err)?)?,
                },
            );
        }
        let mut out = Vec::with_capacity(deltas.len());
        for (customer, _) in deltas {
            out.push(match applied.get(&customer.0) {
                Some(change) => *change,
                None => match self.lock_customer(org, *customer).await? {
                    Some(balance) => BalanceChange::Insufficient { balance },
                    None => BalanceChange::NotFound,
                },
            });
        }
        Ok(out)
    }

    async fn balances_for_update(
        &mut self,
        org: OrgId,
        customers: &[CustomerId],
    ) -> Result<Vec<Option<(i64, i64, ChainHash)>>, StoreError> {
        let ids: Vec<Uuid> = customers.iter().map(|c| c.0).collect();
        let rows = sqlx::query(
            "SELECT id, balance, ledger_seq, chain_head FROM users \
             WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND role = 'customer' ORDER BY id FOR UPDATE",
        )
        .bind(org.0)
        .bind(&ids)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in &rows {
            let id: Uuid = r.try_get(0).map_err(map_err)?;
            found.insert(
                id,
                (
                    r.try_get(1).map_err(map_err)?,
                    r.try_get(2).map_err(map_err)?,
                    head(r.try_get(3).map_err(map_err)?)?,
                ),
            );
        }
        Ok(customers.iter().map(|c| found.get(&c.0).copied()).collect())
    }

    async fn insert_entries(
        &mut self,
        org: OrgId,
        entries: &[(LedgerEntry, i64, ChainHash)],
    ) -> Result<(), StoreError> {
        let col = |f: fn(&(LedgerEntry, i64, ChainHash)) -> Option<String>| {
            entries.iter().map(f).collect::<Vec<_>>()
        };
        let ids: Vec<Uuid> = entries.iter().map(|(e, _, _)| e.id.0).collect();
        let users: Vec<Uuid> = entries.iter().map(|(e, _, _)| e.customer_id.0).collect();
        let points: Vec<i64> = entries.iter().map(|(e, _, _)| e.points).collect();
        let kinds: Vec<&str> = entries
            .iter()
            .map(|(e, _, _)| e.transaction_type.as_str())
            .collect();
        let refs: Vec<Option<Uuid>> = entries.iter().map(|(e, _, _)| e.reference_id).collect();
        let ref_types = col(|(e, _, _)| e.reference_type.clone());
        let after: Vec<i64> = entries.iter().map(|(e, _, _)| e.balance_after).collect();
        let notes = col(|(e, _, _)| e.notes.clone());
        let by: Vec<Option<Uuid>> = entries.iter().map(|(e, _, _)| e.created_by).collect();
        let seqs: Vec<i64> = entries.iter().map(|(_, s, _)| *s).collect();
        let at: Vec<OffsetDateTime> = entries.iter().map(|(e, _, _)| e.created_at).collect();
        let hashes: Vec<Vec<u8>> = entries.iter().map(|(_, _, h)| h.0.to_vec()).collect();
        // The entries and the customers' new heads in one statement.
        sqlx::query(
            "WITH e AS (SELECT * FROM UNNEST($2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::uuid[], $7::text[], \
                         $8::bigint[], $9::text[], $10::uuid[], $11::bigint[], $12::timestamptz[], $13::bytea[]) \
                  AS e(id, user_id, points, kind, ref, ref_type, after, notes, by, seq, at, hash)), \
                  ins AS (INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, \
                          reference_type, balance_after, notes, created_by, seq, created_at, chain_hash) \
                          SELECT e.id, $1, e.user_id, e.points, e.kind, e.ref, e.ref_type, e.after, e.notes, e.by, e.seq, e.at, e.hash \
                          FROM e) \
             UPDATE users u SET chain_head = e.hash FROM e WHERE u.organization_id = $1 AND u.id = e.user_id",
        )
        .bind(org.0)
        .bind(&ids)
        .bind(&users)
        .bind(&points)
        .bind(&kinds)
        .bind(&refs)
        .bind(&ref_types)
        .bind(&after)
        .bind(&notes)
        .bind(&by)
        .bind(&seqs)
        .bind(&at)
        .bind(&hashes)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_purchase(&mut self, org: OrgId, p: &Purchase) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO purchases (id, organization_id, cashier_id, customer_id, amount, currency, points_awarded, created_at, \
             program_version, grants) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(p.id.0)
        .bind(org.0)
        .bind(p.cashier_id)
        .bind(p.customer_id.0)
        .bind(p.amount)
        .bind(&p.currency)
        .bind(p.points_awarded)
        .bind(p.created_at)
        .bind(p.program_version)
        .bind((!p.grants.is_empty()).then_some(sqlx::types::Json(&p.grants)))
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn purchase_for_update(
        &mut self,
        org: OrgId,
        id: PurchaseId,
    ) -> Result<Option<Purchase>, StoreError> {
        let sql = format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE organization_id = $1 AND id = $2 FOR UPDATE"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id.0)
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
        id: PurchaseId,
        amount: Decimal,
        points: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE purchases SET reversed_amount = reversed_amount + $3, points_reversed = points_reversed + $4 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.0)
        .bind(id.0)
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
        id: RewardId,
    ) -> Result<Option<Reward>, StoreError> {
        let sql = format!(
            "SELECT {REWARD_COLUMNS} FROM rewards WHERE organization_id = $1 AND id = $2 FOR UPDATE"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id.0)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(reward_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn take_stock(&mut self, org: OrgId, id: RewardId) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE rewards SET stock = stock - 1 WHERE organization_id = $1 AND id = $2 AND stock > 0")
            .bind(org.0)
            .bind(id.0)
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
        hash: &ChainHash,
        idempotency_key: Option<&str>,
    ) -> Result<(), StoreError> {
        // The entry and the customer's new head in one round trip.
        sqlx::query(
            "WITH ins AS (INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, \
             reference_type, balance_after, notes, created_by, idempotency_key, seq, created_at, chain_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)) \
             UPDATE users SET chain_head = $14 WHERE organization_id = $2 AND id = $3",
        )
        .bind(e.id.0)
        .bind(org.0)
        .bind(e.customer_id.0)
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
        .bind(hash.0.as_slice())
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
        customer: CustomerId,
    ) -> Result<Option<ReceiptTarget>, StoreError> {
        crate::mail::receipt_target(&mut self.0, org, customer).await
    }

    async fn insert_mail(&mut self, mail: &NewMail) -> Result<bool, StoreError> {
        crate::mail::insert_mail(&mut self.0, mail).await
    }

    async fn insert_webhook_event(&mut self, event: &NewEvent) -> Result<u64, StoreError> {
        crate::webhooks::insert_event(&mut self.0, event, None).await
    }

    async fn wallet_pass_changed(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        crate::wallet::pass_changed(&mut self.0, org, customer, now).await
    }

    async fn credits_and_debits(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
    ) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(points) FILTER (WHERE points > 0 AND created_at <= $3), 0)::bigint, \
                    COALESCE(-SUM(points) FILTER (WHERE points < 0), 0)::bigint \
             FROM points_transactions WHERE organization_id = $1 AND user_id = $2",
        )
        .bind(org.0)
        .bind(customer.0)
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

/// Inserts ledger entries (with their sequence numbers and hashes) in one statement,
/// leaving the customers' rows to the caller, who writes each once.
pub(crate) async fn insert_entry_rows(
    conn: &mut sqlx::PgConnection,
    org: OrgId,
    entries: &[(LedgerEntry, i64, ChainHash)],
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = entries.iter().map(|(e, _, _)| e.id.0).collect();
    let users: Vec<Uuid> = entries.iter().map(|(e, _, _)| e.customer_id.0).collect();
    let points: Vec<i64> = entries.iter().map(|(e, _, _)| e.points).collect();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|(e, _, _)| e.transaction_type.as_str())
        .collect();
    let refs: Vec<Option<Uuid>> = entries.iter().map(|(e, _, _)| e.reference_id).collect();
    let ref_types: Vec<Option<String>> = entries
        .iter()
        .map(|(e, _, _)| e.reference_type.clone())
        .collect();
    let after: Vec<i64> = entries.iter().map(|(e, _, _)| e.balance_after).collect();
    let notes: Vec<Option<String>> = entries.iter().map(|(e, _, _)| e.notes.clone()).collect();
    let by: Vec<Option<Uuid>> = entries.iter().map(|(e, _, _)| e.created_by).collect();
    let seqs: Vec<i64> = entries.iter().map(|(_, s, _)| *s).collect();
    let at: Vec<OffsetDateTime> = entries.iter().map(|(e, _, _)| e.created_at).collect();
    let hashes: Vec<Vec<u8>> = entries.iter().map(|(_, _, h)| h.0.to_vec()).collect();
    sqlx::query(
        "INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, \
                 reference_type, balance_after, notes, created_by, seq, created_at, chain_hash) \
         SELECT e.id, $1, e.user_id, e.points, e.kind, e.ref, e.ref_type, e.after, e.notes, e.by, e.seq, e.at, e.hash \
         FROM UNNEST($2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::uuid[], $7::text[], \
                     $8::bigint[], $9::text[], $10::uuid[], $11::bigint[], $12::timestamptz[], $13::bytea[]) \
              AS e(id, user_id, points, kind, ref, ref_type, after, notes, by, seq, at, hash)",
    )
    .bind(org.0)
    .bind(&ids)
    .bind(&users)
    .bind(&points)
    .bind(&kinds)
    .bind(&refs)
    .bind(&ref_types)
    .bind(&after)
    .bind(&notes)
    .bind(&by)
    .bind(&seqs)
    .bind(&at)
    .bind(&hashes)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}
