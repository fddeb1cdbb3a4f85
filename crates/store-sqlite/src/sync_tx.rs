//! The ledger's primitive operations on the writer's own SQLite connection, through
//! rusqlite (the same bundled SQLite library as sqlx uses). The writer thread runs
//! commands back to back, so statements here run synchronously: no thread hops per
//! statement, cached prepared statements, and the `async` signatures of
//! [`LedgerTx`] complete without ever waiting.

use crate::sql::{INSERT_AUDIT, INSERT_MAIL};
use crate::webhooks::{EVENT_TARGETS, INSERT_DELIVERY};
use crate::{conflict, parse_ts, ts};
use async_trait::async_trait;
use loyalty_core::domain::chain::ChainHash;
use loyalty_core::domain::ledger::{AuditRecord, IdempotencyKey, LedgerEntry, Purchase, Reward};
use loyalty_core::domain::program::{CustomerState, RuleId, StampEntry};
use loyalty_core::domain::{CustomerId, OrgId, PurchaseId, RewardId};
use loyalty_core::ledger_tx::{BalanceChange, LedgerTx, ProgramTx};
use loyalty_core::mail::{NewMail, ReceiptTarget};
use loyalty_core::store::{StoreError, new_id};
use loyalty_core::webhook::NewEvent;
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use time::OffsetDateTime;

/// A SQLite error as a store error; constraint violations become `Conflict`.
pub(crate) fn sq(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(conflict(msg.as_deref().unwrap_or("constraint")))
        }
        _ => StoreError::backend(e),
    }
}

/// A stored chain head: `None` (no entry yet) is the genesis link.
pub(crate) fn chain_head(bytes: Option<Vec<u8>>) -> Result<ChainHash, StoreError> {
    match bytes {
        None => Ok(ChainHash::GENESIS),
        Some(b) => ChainHash::from_slice(&b)
            .ok_or_else(|| StoreError::Backend("a chain head is not 32 bytes".into())),
    }
}

fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| StoreError::Backend(format!("bad {what} {s:?}: {e}").into()))
}

fn time_of(s: &str) -> Result<OffsetDateTime, StoreError> {
    parse_ts(s).map_err(StoreError::backend)
}

/// The writer's connection seen through the ledger's primitive operations.
pub(crate) struct SyncLedgerTx<'c>(pub(crate) &'c mut Connection);

#[async_trait]
impl LedgerTx for SyncLedgerTx<'_> {
    async fn claim_idempotency(
        &mut self,
        org: OrgId,
        key: &IdempotencyKey,
        now: OffsetDateTime,
    ) -> Result<Option<(String, serde_json::Value)>, StoreError> {
        let claimed = self
            .0
            .prepare_cached(
                "INSERT INTO idempotency_keys (organization_id, key, request_hash, status_code, response, created_at) \
                 VALUES (?1, ?2, ?3, 0, '{}', ?4) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![org.0.to_string(), key.key, key.request_hash, ts(now)]))
            .map_err(sq)?;
        if claimed == 1 {
            return Ok(None);
        }
        let (hash, response): (String, String) = self
            .0
            .prepare_cached("SELECT request_hash, response FROM idempotency_keys WHERE organization_id = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row(params![org.0.to_string(), key.key], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(sq)?;
        Ok(Some((
            hash,
            serde_json::from_str(&response).map_err(StoreError::backend)?,
        )))
    }

    async fn store_idempotency(
        &mut self,
        org: OrgId,
        key: &IdempotencyKey,
        response: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached("UPDATE idempotency_keys SET status_code = 201, response = ?3 WHERE organization_id = ?1 AND key = ?2")
            .and_then(|mut s| s.execute(params![org.0.to_string(), key.key, response.to_string()]))
            .map_err(sq)?;
        Ok(())
    }

    async fn lock_customer(
        &mut self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<i64>, StoreError> {
        // The writer holds the database's write lock for the whole transaction.
        self.0
            .prepare_cached("SELECT balance FROM users WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'")
            .and_then(|mut s| s.query_row(params![org.0.to_string(), customer.to_string()], |r| r.get(0)).optional())
            .map_err(sq)
    }

    async fn change_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        delta: i64,
        now: OffsetDateTime,
    ) -> Result<BalanceChange, StoreError> {
        let row: Option<(i64, i64, Option<Vec<u8>>)> = self
            .0
            .prepare_cached(
                "UPDATE users SET balance = balance + ?3, ledger_seq = ledger_seq + 1, updated_at = ?4 \
                 WHERE organization_id = ?1 AND id = ?2 AND role = 'customer' AND balance + ?3 >= 0 \
                 RETURNING balance, ledger_seq, chain_head",
            )
            .and_then(|mut s| s.query_row(params![org.0.to_string(), customer.to_string(), delta, ts(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(sq)?;
        if let Some((balance, seq, head)) = row {
            return Ok(BalanceChange::Applied {
                balance,
                seq,
                head: chain_head(head)?,
            });
        }
        Ok(match self.lock_customer(org, customer).await? {
            Some(balance) => BalanceChange::Insufficient { balance },
            None => BalanceChange::NotFound,
        })
    }

    /// Reads every balance, then writes the changed ones, both with plain prepared
    /// statements: no `UPDATE ... RETURNING` here. Inside the writer's per-command
    /// savepoint each `UPDATE ... RETURNING` costs more than the one before (a
    /// statement journal per statement that the open savepoint keeps): 50,000 balance
    /// changes in one tier pass took 35 s that way and take 0.7 s this way
    /// (docs/PERFORMANCE.md). The writer holds the write lock, so nothing changes a
    /// balance between the read and the write.
    async fn change_balances(
        &mut self,
        org: OrgId,
        deltas: &[(CustomerId, i64)],
        now: OffsetDateTime,
    ) -> Result<Vec<BalanceChange>, StoreError> {
        let org_id = org.0.to_string();
        let at = ts(now);
        let mut out = Vec::with_capacity(deltas.len());
        let mut read = self
            .0
            .prepare_cached("SELECT balance, ledger_seq, chain_head FROM users WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'")
            .map_err(sq)?;
        let mut found = Vec::with_capacity(deltas.len());
        for (customer, _) in deltas {
            let row: Option<(i64, i64, Option<Vec<u8>>)> = read
                .query_row(params![org_id, customer.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(sq)?;
            found.push(row);
        }
        drop(read);
        let mut write = self
            .0
            .prepare_cached("UPDATE users SET balance = ?3, ledger_seq = ?4, updated_at = ?5 WHERE organization_id = ?1 AND id = ?2")
            .map_err(sq)?;
        for ((customer, delta), row) in deltas.iter().zip(found) {
            out.push(match row {
                None => BalanceChange::NotFound,
                Some((balance, _, _)) if balance + delta < 0 => {
                    BalanceChange::Insufficient { balance }
                }
                Some((balance, seq, head)) => {
                    write
                        .execute(params![
                            org_id,
                            customer.to_string(),
                            balance + delta,
                            seq + 1,
                            at
                        ])
                        .map_err(sq)?;
                    BalanceChange::Applied {
                        balance: balance + delta,
                        seq: seq + 1,
                        head: chain_head(head)?,
                    }
                }
            });
        }
        Ok(out)
    }

    async fn balances_for_update(
        &mut self,
        org: OrgId,
        customers: &[CustomerId],
    ) -> Result<Vec<Option<(i64, i64, ChainHash)>>, StoreError> {
        // The writer holds the database's write lock for the whole transaction.
        let org_id = org.0.to_string();
        let mut read = self
            .0
            .prepare_cached("SELECT balance, ledger_seq, chain_head FROM users WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'")
            .map_err(sq)?;
        let mut out = Vec::with_capacity(customers.len());
        for customer in customers {
            let row: Option<(i64, i64, Option<Vec<u8>>)> = read
                .query_row(params![org_id, customer.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(sq)?;
            out.push(match row {
                Some((balance, seq, head)) => Some((balance, seq, chain_head(head)?)),
                None => None,
            });
        }
        Ok(out)
    }

    async fn insert_purchase(&mut self, org: OrgId, p: &Purchase) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO purchases (id, organization_id, cashier_id, customer_id, amount, currency, points_awarded, created_at, \
                 program_version, grants) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                let grants = (!p.grants.is_empty())
                    .then(|| serde_json::to_string(&p.grants).unwrap_or_default());
                s.execute(params![
                    p.id.to_string(),
                    org.0.to_string(),
                    p.cashier_id.map(|u| u.to_string()),
                    p.customer_id.to_string(),
                    p.amount.to_string(),
                    p.currency,
                    p.points_awarded,
                    ts(p.created_at),
                    p.program_version,
                    grants
                ])
            })
            .map_err(sq)?;
        Ok(())
    }

    async fn purchase_for_update(
        &mut self,
        org: OrgId,
        id: PurchaseId,
    ) -> Result<Option<Purchase>, StoreError> {
        type Raw = (
            String,
            Option<String>,
            String,
            String,
            i64,
            String,
            i64,
            String,
            i64,
            Option<String>,
        );
        let raw: Option<Raw> = self
            .0
            .prepare_cached(
                "SELECT customer_id, cashier_id, amount, currency, points_awarded, reversed_amount, points_reversed, created_at, \
                 program_version, grants FROM purchases WHERE organization_id = ?1 AND id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![org.0.to_string(), id.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
                })
                .optional()
            })
            .map_err(sq)?;
        let Some((
            customer,
            cashier,
            amount,
            currency,
            awarded,
            reversed,
            points_reversed,
            created,
            program_version,
            grants,
        )) = raw
        else {
            return Ok(None);
        };
        Ok(Some(Purchase {
            id,
            customer_id: parse(&customer, "uuid")?,
            cashier_id: cashier.map(|c| parse(&c, "uuid")).transpose()?,
            amount: parse(&amount, "amount")?,
            currency,
            points_awarded: awarded,
            reversed_amount: parse(&reversed, "amount")?,
            points_reversed,
            program_version,
            grants: grants
                .map(|g| serde_json::from_str(&g).map_err(StoreError::backend))
                .transpose()?
                .unwrap_or_default(),
            created_at: time_of(&created)?,
        }))
    }

    async fn record_reversal(
        &mut self,
        org: OrgId,
        id: PurchaseId,
        amount: Decimal,
        points: i64,
    ) -> Result<(), StoreError> {
        // Decimal text cannot be added exactly in SQL: add here, under the write lock.
        let before: String = self
            .0
            .prepare_cached(
                "SELECT reversed_amount FROM purchases WHERE organization_id = ?1 AND id = ?2",
            )
            .and_then(|mut s| s.query_row(params![org.0.to_string(), id.to_string()], |r| r.get(0)))
            .map_err(sq)?;
        let after = parse::<Decimal>(&before, "amount")? + amount;
        self.0
            .prepare_cached("UPDATE purchases SET reversed_amount = ?3, points_reversed = points_reversed + ?4 WHERE organization_id = ?1 AND id = ?2")
            .and_then(|mut s| s.execute(params![org.0.to_string(), id.to_string(), after.to_string(), points]))
            .map_err(sq)?;
        Ok(())
    }

    async fn reward_for_update(
        &mut self,
        org: OrgId,
        id: RewardId,
    ) -> Result<Option<Reward>, StoreError> {
        type Raw = (String, i64, bool, Option<i32>, String);
        let raw: Option<Raw> = self
            .0
            .prepare_cached("SELECT name, cost_points, active, stock, created_at FROM rewards WHERE organization_id = ?1 AND id = ?2")
            .and_then(|mut s| s.query_row(params![org.0.to_string(), id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional())
            .map_err(sq)?;
        let Some((name, cost_points, active, stock, created)) = raw else {
            return Ok(None);
        };
        Ok(Some(Reward {
            id,
            name,
            cost_points,
            active,
            stock,
            created_at: time_of(&created)?,
        }))
    }

    async fn take_stock(&mut self, org: OrgId, id: RewardId) -> Result<bool, StoreError> {
        let n = self
            .0
            .prepare_cached("UPDATE rewards SET stock = stock - 1 WHERE organization_id = ?1 AND id = ?2 AND stock > 0")
            .and_then(|mut s| s.execute(params![org.0.to_string(), id.to_string()]))
            .map_err(sq)?;
        Ok(n == 1)
    }

    async fn insert_entry(
        &mut self,
        org: OrgId,
        e: &LedgerEntry,
        seq: i64,
        hash: &ChainHash,
        idempotency_key: Option<&str>,
    ) -> Result<(), StoreError> {
        insert_entry_row(self.0, org, e, seq, hash, idempotency_key)?;
        self.0
            .prepare_cached(
                "UPDATE users SET chain_head = ?3 WHERE organization_id = ?1 AND id = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    org.0.to_string(),
                    e.customer_id.to_string(),
                    hash.0.as_slice()
                ])
            })
            .map_err(sq)?;
        Ok(())
    }

    async fn insert_audit(&mut self, a: &AuditRecord) -> Result<(), StoreError> {
        self.0
            .prepare_cached(INSERT_AUDIT)
            .and_then(|mut s| {
                s.execute(params![
                    a.id.to_string(),
                    a.organization_id.map(|o| o.0.to_string()),
                    a.actor,
                    a.actor_role,
                    a.action,
                    a.target_type,
                    a.target_id,
                    a.before.as_ref().map(|v| v.to_string()),
                    a.after.as_ref().map(|v| v.to_string()),
                    a.reason,
                    a.request_id,
                    ts(a.created_at)
                ])
            })
            .map_err(sq)?;
        Ok(())
    }

    async fn receipt_target(
        &mut self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<ReceiptTarget>, StoreError> {
        self.0
            .prepare_cached(
                "SELECT u.email, u.name, o.name, o.language, o.timezone, o.mail_sender_name, o.mail_sender_address \
                 FROM users u JOIN organizations o ON o.id = u.organization_id \
                 WHERE u.organization_id = ?1 AND u.id = ?2 AND o.mail_points_receipt = 1 AND u.email IS NOT NULL",
            )
            .and_then(|mut s| {
                s.query_row(params![org.0.to_string(), customer.to_string()], |r| {
                    Ok(ReceiptTarget {
                        email: r.get(0)?,
                        name: r.get(1)?,
                        org_name: r.get(2)?,
                        language: r.get(3)?,
                        timezone: r.get(4)?,
                        sender_name: r.get(5)?,
                        sender_address: r.get(6)?,
                    })
                })
                .optional()
            })
            .map_err(sq)
    }

    async fn insert_mail(&mut self, m: &NewMail) -> Result<bool, StoreError> {
        let n = self
            .0
            .prepare_cached(INSERT_MAIL)
            .and_then(|mut s| {
                s.execute(params![
                    m.id.to_string(),
                    m.organization_id.map(|o| o.0.to_string()),
                    m.kind.as_str(),
                    m.dedupe_key,
                    m.to_address,
                    m.from_name,
                    m.reply_to,
                    m.subject,
                    m.body_text,
                    m.body_html,
                    ts(m.created_at),
                    m.discard_after.map(ts)
                ])
            })
            .map_err(sq)?;
        Ok(n == 1)
    }

    async fn wallet_pass_changed(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(crate::wallet::PASS_CHANGED)
            .and_then(|mut s| {
                s.execute(params![
                    org.0.to_string(),
                    customer.to_string(),
                    loyalty_core::store::micros(now)
                ])
            })
            .map_err(sq)?;
        // Each registered device is told, once, through the wallet outbox.
        let tokens = self
            .0
            .prepare_cached(crate::wallet::PASS_DEVICES)
            .and_then(|mut s| {
                s.query_map(params![org.0.to_string(), customer.to_string()], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sq)?;
        let mut targets: Vec<(&str, String)> = tokens.into_iter().map(|t| ("apns", t)).collect();
        let google = self
            .0
            .prepare_cached(crate::wallet::HAS_GOOGLE_OBJECT)
            .and_then(|mut s| {
                s.query_row(params![org.0.to_string(), customer.to_string()], |_| Ok(()))
                    .optional()
            })
            .map_err(sq)?;
        if google.is_some() {
            targets.push(("google", customer.to_string()));
        }
        for (kind, target) in targets {
            self.0
                .prepare_cached(crate::wallet::QUEUE_PUSH)
                .and_then(|mut s| {
                    s.execute(params![
                        new_id().to_string(),
                        org.0.to_string(),
                        kind,
                        target,
                        ts(now)
                    ])
                })
                .map_err(sq)?;
        }
        Ok(())
    }

    async fn insert_webhook_event(&mut self, e: &NewEvent) -> Result<u64, StoreError> {
        let org = e.org.0.to_string();
        let targets = self
            .0
            .prepare_cached(EVENT_TARGETS)
            .and_then(|mut s| {
                s.query_map(params![org, e.event_type, Option::<String>::None], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sq)?;
        let mut queued = 0;
        for endpoint in targets {
            queued += self
                .0
                .prepare_cached(INSERT_DELIVERY)
                .and_then(|mut s| {
                    s.execute(params![
                        new_id().to_string(),
                        org,
                        endpoint,
                        e.id,
                        e.event_type,
                        e.payload,
                        ts(e.created_at)
                    ])
                })
                .map_err(sq)?;
        }
        Ok(queued as u64)
    }

    async fn credits_and_debits(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
    ) -> Result<(i64, i64), StoreError> {
        self.0
            .prepare_cached(
                "SELECT COALESCE(SUM(points) FILTER (WHERE points > 0 AND created_at <= ?3), 0), \
                        COALESCE(-SUM(points) FILTER (WHERE points < 0), 0) \
                 FROM points_transactions WHERE organization_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![org.0.to_string(), customer.to_string(), ts(cutoff)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .map_err(sq)
    }
}

#[async_trait]
impl ProgramTx for SyncLedgerTx<'_> {
    async fn program_state(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        day_start: OffsetDateTime,
    ) -> Result<CustomerState, StoreError> {
        let rows = self
            .0
            .prepare_cached(crate::programs::PROGRAM_STATE)
            .and_then(|mut s| {
                s.query_map(
                    params![org.0.to_string(), customer.to_string(), ts(day_start)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
                .collect::<Result<Vec<(String, String, i64)>, _>>()
            })
            .map_err(sq)?;
        crate::programs::fold_state(rows)
    }

    async fn stamp_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        card: RuleId,
    ) -> Result<i64, StoreError> {
        // The writer holds the database's write lock for the whole transaction.
        let n: Option<i64> = self
            .0
            .prepare_cached("SELECT balance FROM stamp_balances WHERE organization_id = ?1 AND customer_id = ?2 AND card_id = ?3")
            .and_then(|mut s| s.query_row(params![org.0.to_string(), customer.to_string(), card.to_string()], |r| r.get(0)).optional())
            .map_err(sq)?;
        Ok(n.unwrap_or(0))
    }

    async fn change_stamps(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        card: RuleId,
        delta: i64,
    ) -> Result<Option<i64>, StoreError> {
        let sql = if delta >= 0 {
            "INSERT INTO stamp_balances (organization_id, customer_id, card_id, balance) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (organization_id, customer_id, card_id) DO UPDATE SET balance = balance + excluded.balance \
             RETURNING balance"
        } else {
            "UPDATE stamp_balances SET balance = balance + ?4 \
             WHERE organization_id = ?1 AND customer_id = ?2 AND card_id = ?3 AND balance + ?4 >= 0 RETURNING balance"
        };
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(
                    params![
                        org.0.to_string(),
                        customer.to_string(),
                        card.to_string(),
                        delta
                    ],
                    |r| r.get(0),
                )
                .optional()
            })
            .map_err(sq)
    }

    async fn insert_stamp_entry(&mut self, org: OrgId, e: &StampEntry) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO stamp_entries (id, organization_id, customer_id, card_id, stamps, kind, purchase_id, balance_after, created_by, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.id.to_string(),
                    org.0.to_string(),
                    e.customer_id.to_string(),
                    e.card_id.to_string(),
                    e.stamps,
                    e.kind.as_str(),
                    e.purchase_id.map(|p| p.to_string()),
                    e.balance_after,
                    e.created_by.map(|u| u.to_string()),
                    ts(e.created_at)
                ])
            })
            .map_err(sq)?;
        Ok(())
    }

    async fn insert_promotion_use(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        promotion: RuleId,
        purchase: PurchaseId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO promotion_uses (organization_id, customer_id, promotion_id, purchase_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    org.0.to_string(),
                    customer.to_string(),
                    promotion.to_string(),
                    purchase.to_string(),
                    ts(now)
                ])
            })
            .map_err(sq)?;
        Ok(())
    }

    async fn release_promotion_uses(
        &mut self,
        org: OrgId,
        purchase: PurchaseId,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "DELETE FROM promotion_uses WHERE organization_id = ?1 AND purchase_id = ?2",
            )
            .and_then(|mut s| s.execute(params![org.0.to_string(), purchase.to_string()]))
            .map_err(sq)?;
        Ok(())
    }

    async fn write_tier_changes(
        &mut self,
        org: OrgId,
        changes: &[loyalty_core::domain::program::TierChange],
        bonuses: &[(LedgerEntry, i64, ChainHash)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let org_id = org.0.to_string();
        let bonus: std::collections::HashMap<CustomerId, &(LedgerEntry, i64, ChainHash)> =
            bonuses.iter().map(|b| (b.0.customer_id, b)).collect();
        let mut update = self
            .0
            .prepare_cached(
                "UPDATE users SET tier_id = ?3, tier_below_since = ?4 WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'",
            )
            .map_err(sq)?;
        // A bonus customer's row once: tier, balance, sequence number and head.
        let mut with_bonus = self
            .0
            .prepare_cached(
                "UPDATE users SET tier_id = ?3, tier_below_since = ?4, balance = ?5, ledger_seq = ?6, chain_head = ?7, updated_at = ?8 \
                 WHERE organization_id = ?1 AND id = ?2 AND role = 'customer'",
            )
            .map_err(sq)?;
        for c in changes {
            let (id, tier, below) = (
                c.customer.to_string(),
                c.to.map(|t| t.to_string()),
                c.below_since.map(ts),
            );
            match bonus.get(&c.customer) {
                Some((e, seq, hash)) => with_bonus.execute(params![
                    org_id,
                    id,
                    tier,
                    below,
                    e.balance_after,
                    seq,
                    hash.0.as_slice(),
                    ts(now)
                ]),
                None => update.execute(params![org_id, id, tier, below]),
            }
            .map_err(sq)?;
        }
        drop(update);
        drop(with_bonus);
        for (e, seq, hash) in bonuses {
            insert_entry_row(self.0, org, e, *seq, hash, None)?;
        }
        let mut insert = self
            .0
            .prepare_cached(
                "INSERT INTO tier_moves (id, organization_id, customer_id, from_tier, to_tier, qualifying, bonus_points, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(sq)?;
        for c in changes.iter().filter(|c| c.is_move()) {
            insert
                .execute(params![
                    new_id().to_string(),
                    org_id,
                    c.customer.to_string(),
                    c.from.map(|t| t.to_string()),
                    c.to.map(|t| t.to_string()),
                    c.value.to_string(),
                    if c.to.is_some() { c.bonus } else { 0 },
                    ts(now),
                ])
                .map_err(sq)?;
        }
        Ok(())
    }
}

/// Inserts one ledger entry with its sequence number and hash; the customer's row is
/// the caller's to write.
fn insert_entry_row(
    conn: &Connection,
    org: OrgId,
    e: &LedgerEntry,
    seq: i64,
    hash: &ChainHash,
    idempotency_key: Option<&str>,
) -> Result<(), StoreError> {
    conn
        .prepare_cached(
                "INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, reference_type, \
                 balance_after, notes, created_by, idempotency_key, seq, created_at, chain_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.id.to_string(),
                    org.0.to_string(),
                    e.customer_id.to_string(),
                    e.points,
                    e.transaction_type.as_str(),
                    e.reference_id.map(|u| u.to_string()),
                    e.reference_type,
                    e.balance_after,
                    e.notes,
                    e.created_by.map(|u| u.to_string()),
                    idempotency_key,
                    seq,
                    ts(e.created_at),
                    hash.0.as_slice()
                ])
            })
            .map_err(sq)?;
    Ok(())
}
