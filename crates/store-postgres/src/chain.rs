//! The ledger's hash chain on PostgreSQL: heads, entries in chain order, and the
//! backfill of entries written before the chain (run by `migrate` as the schema's owner,
//! in batches of customers per transaction). The hashes come from
//! `loyalty_core::domain::chain`.

use crate::ledger_tx::{ENTRY_COLUMNS, entry_from_row};
use crate::{PgStore, decode_err, enter_tenant, map_err};
use async_trait::async_trait;
use loyalty_core::domain::chain::{
    ChainHash, Checkpoint, Head, StoredEntry, decode_heads, encode_heads, entry_hash,
};
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::store::{ChainCursor, ChainStore, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

/// Customers whose entries the backfill hashes per transaction.
const BACKFILL_CUSTOMERS: i64 = 500;

fn hash_col(r: &PgRow, col: &str) -> Result<Option<ChainHash>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = r.try_get(col)?;
    Ok(bytes.as_deref().and_then(ChainHash::from_slice))
}

fn stored_from_row(r: &PgRow) -> Result<StoredEntry, sqlx::Error> {
    Ok(StoredEntry {
        org: OrgId(r.try_get("organization_id")?),
        entry: entry_from_row(r)?,
        seq: r.try_get("seq")?,
        hash: hash_col(r, "chain_hash")?,
    })
}

const CHECKPOINT_COLUMNS: &str =
    "id, organization_id, created_at, customers, entries, root, heads, public_key, signature";

fn checkpoint_from_row(r: &PgRow) -> Result<Checkpoint, sqlx::Error> {
    let bytes = |col: &str| r.try_get::<Vec<u8>, _>(col);
    Ok(Checkpoint {
        id: r.try_get("id")?,
        org: OrgId(r.try_get("organization_id")?),
        created_at: r.try_get("created_at")?,
        customers: r.try_get("customers")?,
        entries: r.try_get("entries")?,
        root: ChainHash::from_slice(&bytes("root")?)
            .ok_or_else(|| decode_err("checkpoint root"))?,
        heads: decode_heads(&bytes("heads")?).ok_or_else(|| decode_err("checkpoint heads"))?,
        public_key: hex::encode(bytes("public_key")?),
        signature: hex::encode(bytes("signature")?),
    })
}

#[async_trait]
impl ChainStore for PgStore {
    async fn chain_heads(&self, org: Option<OrgId>) -> Result<Vec<Head>, StoreError> {
        let rows = sqlx::query(
            "SELECT organization_id, id, ledger_seq, chain_head FROM users \
             WHERE role = 'customer' AND ($1::uuid IS NULL OR organization_id = $1)",
        )
        .bind(org.map(|o| o.0))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(Head {
                    org: OrgId(r.try_get("organization_id")?),
                    customer: CustomerId(r.try_get("id")?),
                    seq: r.try_get("ledger_seq")?,
                    hash: hash_col(r, "chain_head")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }

    async fn chain_page(
        &self,
        org: Option<OrgId>,
        after: Option<ChainCursor>,
        limit: u32,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let columns = format!(
            "SELECT organization_id, {ENTRY_COLUMNS}, seq, chain_hash FROM points_transactions"
        );
        let order = "ORDER BY organization_id, user_id, seq";
        let limit = i64::from(limit);
        // One statement per case, so each walks the (org, user, seq) index.
        let rows = match (org, after) {
            (Some(o), Some((_, user, seq))) => {
                let sql = format!("{columns} WHERE organization_id = $1 AND (user_id, seq) > ($2, $3) {order} LIMIT $4");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(o.0)
                    .bind(user.0)
                    .bind(seq)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
            (Some(o), None) => {
                let sql = format!("{columns} WHERE organization_id = $1 {order} LIMIT $2");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(o.0)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
            (None, Some((o, user, seq))) => {
                let sql = format!(
                    "{columns} WHERE (organization_id, user_id, seq) > ($1, $2, $3) {order} LIMIT $4"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(o.0)
                    .bind(user.0)
                    .bind(seq)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
            (None, None) => {
                let sql = format!("{columns} {order} LIMIT $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_err)?;
        rows.iter()
            .map(stored_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn backfill_chain(&self) -> Result<u64, StoreError> {
        let mut hashed = 0u64;
        loop {
            let mut tx = self.pool.begin().await.map_err(map_err)?;
            let customers: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT DISTINCT organization_id, user_id FROM points_transactions \
                 WHERE chain_hash IS NULL LIMIT $1",
            )
            .bind(BACKFILL_CUSTOMERS)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            if customers.is_empty() {
                tx.commit().await.map_err(map_err)?;
                return Ok(hashed);
            }
            for (org, user) in &customers {
                // The customer's row first, as the award path does: no entry can be
                // appended to this chain while it is being hashed.
                sqlx::query(
                    "SELECT 1 FROM users WHERE organization_id = $1 AND id = $2 FOR UPDATE",
                )
                .bind(org)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                let sql = format!(
                    "SELECT organization_id, {ENTRY_COLUMNS}, seq, chain_hash FROM points_transactions \
                     WHERE organization_id = $1 AND user_id = $2 ORDER BY seq"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(org)
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let mut prev = ChainHash::GENESIS;
                for r in &rows {
                    let e = stored_from_row(r).map_err(map_err)?;
                    prev = match e.hash {
                        Some(h) => h,
                        None => {
                            let h = entry_hash(e.org, &e.entry, e.seq, &prev);
                            sqlx::query(
                                "UPDATE points_transactions SET chain_hash = $1 WHERE id = $2",
                            )
                            .bind(h.0.as_slice())
                            .bind(e.entry.id.0)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                            hashed += 1;
                            h
                        }
                    };
                }
                sqlx::query(
                    "UPDATE users SET chain_head = $3 WHERE organization_id = $1 AND id = $2",
                )
                .bind(org)
                .bind(user)
                .bind(prev.0.as_slice())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
        }
    }

    async fn insert_checkpoint(&self, org: OrgId, c: &Checkpoint) -> Result<(), StoreError> {
        let unhex = |s: &str| {
            hex::decode(s)
                .map_err(|e| StoreError::Backend(format!("bad hex in checkpoint: {e}").into()))
        };
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        enter_tenant(&mut tx, org).await?;
        sqlx::query(
            "INSERT INTO ledger_checkpoints (id, organization_id, created_at, customers, entries, root, heads, public_key, signature) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id)
        .bind(org.0)
        .bind(c.created_at)
        .bind(c.customers)
        .bind(c.entries)
        .bind(c.root.0.to_vec())
        .bind(encode_heads(&c.heads))
        .bind(unhex(&c.public_key)?)
        .bind(unhex(&c.signature)?)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn checkpoints(&self, org: OrgId, limit: u32) -> Result<Vec<Checkpoint>, StoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(checkpoint_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn checkpoint(&self, org: OrgId, id: Uuid) -> Result<Option<Checkpoint>, StoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE organization_id = $1 AND id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.0)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(checkpoint_from_row)
            .transpose()
            .map_err(map_err)
    }
}
