//! The ledger's rules, written once for both backends. A store opens a transaction,
//! wraps it in a [`LedgerTx`] (the few primitive reads and writes, in its own SQL) and
//! calls [`apply`] or [`expire`]; committing on success and rolling back on error is the
//! store's part. So the arithmetic, the checks and the order of writes are the same on
//! PostgreSQL and SQLite, and the balance changes only beside its ledger entry.

mod records;

use crate::domain::ledger::{
    Actor, AuditRecord, IdempotencyKey, LedgerEntry, PointsCommand, PointsError, PointsOutcome,
    Purchase, Reward, TxType,
};
use crate::domain::points::reversal_points;
use crate::domain::{CustomerId, OrgId, PurchaseId, RewardId};
use crate::mail::{self, NewMail, ReceiptTarget};
use crate::store::{StoreError, new_id};
use crate::webhook::NewEvent;
use async_trait::async_trait;
use records::{Reference, audit, entry};
use rust_decimal::Decimal;
use time::OffsetDateTime;

/// What a guarded balance change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceChange {
    /// Applied: the new balance and the entry's sequence number.
    Applied {
        /// Balance after.
        balance: i64,
        /// Sequence number for the entry.
        seq: i64,
    },
    /// Refused: the balance would go below zero.
    Insufficient {
        /// Current balance.
        balance: i64,
    },
    /// No such customer in the organization.
    NotFound,
}

/// The primitive operations inside one open transaction. Every method is scoped to
/// the organization it is given.
#[async_trait]
pub trait LedgerTx: Send {
    /// Claims an idempotency key for this transaction. `None` when claimed now; the
    /// stored request hash and response when the key was used before.
    async fn claim_idempotency(
        &mut self,
        org: OrgId,
        key: &IdempotencyKey,
        now: OffsetDateTime,
    ) -> Result<Option<(String, serde_json::Value)>, StoreError>;
    /// Stores the response of a claimed key.
    async fn store_idempotency(
        &mut self,
        org: OrgId,
        key: &IdempotencyKey,
        response: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Locks the customer's row and returns the balance.
    async fn lock_customer(
        &mut self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<i64>, StoreError>;
    /// Adds `delta` to the balance unless it would go below zero, taking the next
    /// ledger sequence number.
    async fn change_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        delta: i64,
        now: OffsetDateTime,
    ) -> Result<BalanceChange, StoreError>;
    /// Stores a purchase.
    async fn insert_purchase(&mut self, org: OrgId, purchase: &Purchase) -> Result<(), StoreError>;
    /// Locks and reads a purchase.
    async fn purchase_for_update(
        &mut self,
        org: OrgId,
        id: PurchaseId,
    ) -> Result<Option<Purchase>, StoreError>;
    /// Adds a refund to a purchase.
    async fn record_reversal(
        &mut self,
        org: OrgId,
        id: PurchaseId,
        amount: Decimal,
        points: i64,
    ) -> Result<(), StoreError>;
    /// Locks and reads a reward.
    async fn reward_for_update(
        &mut self,
        org: OrgId,
        id: RewardId,
    ) -> Result<Option<Reward>, StoreError>;
    /// Takes one unit of a counted reward's stock; `false` when none is left.
    async fn take_stock(&mut self, org: OrgId, id: RewardId) -> Result<bool, StoreError>;
    /// Appends a ledger entry.
    async fn insert_entry(
        &mut self,
        org: OrgId,
        entry: &LedgerEntry,
        seq: i64,
        idempotency_key: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Appends an audit record.
    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<(), StoreError>;
    /// Who gets a receipt for points awarded to `customer`: `None` unless the
    /// organization sends receipts and the customer has an email address.
    async fn receipt_target(
        &mut self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<ReceiptTarget>, StoreError>;
    /// Queues a mail in this transaction; `false` when its dedupe key is already queued.
    async fn insert_mail(&mut self, mail: &NewMail) -> Result<bool, StoreError>;
    /// Queues a webhook event for the organization's endpoints whose filter takes it,
    /// in this transaction. Returns how many deliveries were queued.
    async fn insert_webhook_event(&mut self, event: &NewEvent) -> Result<u64, StoreError>;
    /// Points credited at or before `cutoff`, and points debited ever, for one customer.
    async fn credits_and_debits(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
    ) -> Result<(i64, i64), StoreError>;
}

/// Applies a points command inside the open transaction `tx`.
pub async fn apply<T: LedgerTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    cmd: &PointsCommand,
    actor: &Actor,
    idem: Option<&IdempotencyKey>,
    now: OffsetDateTime,
) -> Result<PointsOutcome, PointsError> {
    if let Some(key) = idem
        && let Some((hash, response)) = tx.claim_idempotency(org, key, now).await?
    {
        if hash != key.request_hash {
            return Err(PointsError::IdempotencyMismatch);
        }
        let mut outcome: PointsOutcome = serde_json::from_value(response)
            .map_err(|e| PointsError::Store(StoreError::backend(e)))?;
        outcome.replayed = true;
        return Ok(outcome);
    }
    let idem_key = idem.map(|k| k.key.as_str());
    let outcome = match cmd {
        PointsCommand::Award {
            customer,
            amount,
            currency,
            points,
            metadata: _,
            receipt,
            unusual,
        } => {
            let (balance, seq) = applied(
                tx.change_balance(org, *customer, *points, now).await?,
                *points,
            )?;
            let purchase = Purchase {
                id: PurchaseId(new_id()),
                customer_id: *customer,
                cashier_id: actor.member_id,
                amount: *amount,
                currency: currency.clone(),
                points_awarded: *points,
                reversed_amount: Decimal::ZERO,
                points_reversed: 0,
                created_at: now,
            };
            tx.insert_purchase(org, &purchase).await?;
            let entry = entry(
                *customer,
                *points,
                TxType::Earned,
                Some(Reference::Purchase(purchase.id)),
                balance,
                None,
                actor,
                now,
            );
            tx.insert_entry(org, &entry, seq, idem_key).await?;
            let mut record = audit(
                org,
                actor,
                cmd.action(),
                ("customer", customer.to_string()),
                balance - points,
                balance,
                None,
                now,
            );
            // An amount above the shop's usual purchases is marked (`service::bound`).
            if let (Some(mark), Some(serde_json::Value::Object(after))) =
                (unusual, record.after.as_mut())
            {
                after.insert("unusual_amount".into(), mark.clone());
            }
            tx.insert_audit(&record).await?;
            // The receipt is queued in this transaction: it exists exactly when the award does.
            if *receipt
                && *points > 0
                && let Some(target) = tx.receipt_target(org, *customer).await?
            {
                tx.insert_mail(&mail::points_receipt(
                    org,
                    &target,
                    purchase.id,
                    &purchase.amount.to_string(),
                    &purchase.currency,
                    *points,
                    balance,
                    now,
                ))
                .await?;
            }
            PointsOutcome {
                entry,
                purchase: Some(purchase),
                reward: None,
                balance,
                replayed: false,
            }
        }
        PointsCommand::Redeem {
            customer,
            reward,
            points,
        } => {
            let reward = match reward {
                Some(id) => {
                    let r = tx
                        .reward_for_update(org, *id)
                        .await?
                        .ok_or(PointsError::RewardNotFound)?;
                    if !r.active {
                        return Err(PointsError::RewardInactive(r.name));
                    }
                    Some(r)
                }
                None => None,
            };
            let cost = reward
                .as_ref()
                .map(|r| r.cost_points)
                .or(*points)
                .unwrap_or(0);
            let (balance, seq) =
                applied(tx.change_balance(org, *customer, -cost, now).await?, cost)?;
            let reward = match reward {
                Some(mut r) if r.stock.is_some() => {
                    if !tx.take_stock(org, r.id).await? {
                        return Err(PointsError::OutOfStock(r.name));
                    }
                    r.stock = r.stock.map(|s| s - 1);
                    Some(r)
                }
                other => other,
            };
            let reference = reward.as_ref().map(|r| Reference::Reward(r.id));
            let notes = reward.as_ref().map(|r| r.name.clone());
            let entry = entry(
                *customer,
                -cost,
                TxType::Redeemed,
                reference,
                balance,
                notes,
                actor,
                now,
            );
            tx.insert_entry(org, &entry, seq, idem_key).await?;
            tx.insert_audit(&audit(
                org,
                actor,
                cmd.action(),
                ("customer", customer.to_string()),
                balance + cost,
                balance,
                None,
                now,
            ))
            .await?;
            PointsOutcome {
                entry,
                purchase: None,
                reward,
                balance,
                replayed: false,
            }
        }
        PointsCommand::Reverse {
            purchase,
            amount,
            not_before,
        } => {
            let mut p = tx
                .purchase_for_update(org, *purchase)
                .await?
                .ok_or(PointsError::PurchaseNotFound)?;
            if not_before.is_some_and(|t| p.created_at < t) {
                return Err(PointsError::ReverseTooOld);
            }
            let remaining = p.amount - p.reversed_amount;
            if remaining <= Decimal::ZERO {
                return Err(PointsError::AlreadyReversed);
            }
            let refund = amount.unwrap_or(remaining);
            if refund > remaining {
                return Err(PointsError::ReverseTooMuch {
                    requested: refund,
                    remaining,
                });
            }
            let take = reversal_points(
                p.amount,
                p.points_awarded,
                p.reversed_amount,
                p.points_reversed,
                refund,
            );
            let (balance, seq) = applied(
                tx.change_balance(org, p.customer_id, -take, now).await?,
                take,
            )?;
            tx.record_reversal(org, p.id, refund, take).await?;
            p.reversed_amount += refund;
            p.points_reversed += take;
            let entry = entry(
                p.customer_id,
                -take,
                TxType::Reversed,
                Some(Reference::Purchase(p.id)),
                balance,
                Some(format!("refund of {refund} {}", p.currency)),
                actor,
                now,
            );
            tx.insert_entry(org, &entry, seq, idem_key).await?;
            tx.insert_audit(&audit(
                org,
                actor,
                cmd.action(),
                ("purchase", p.id.to_string()),
                balance + take,
                balance,
                None,
                now,
            ))
            .await?;
            PointsOutcome {
                entry,
                purchase: Some(p),
                reward: None,
                balance,
                replayed: false,
            }
        }
        PointsCommand::Adjust {
            customer,
            points,
            reason,
        } => {
            let (balance, seq) = applied(
                tx.change_balance(org, *customer, *points, now).await?,
                -*points,
            )?;
            let entry = entry(
                *customer,
                *points,
                TxType::Adjusted,
                None,
                balance,
                Some(reason.clone()),
                actor,
                now,
            );
            tx.insert_entry(org, &entry, seq, idem_key).await?;
            tx.insert_audit(&audit(
                org,
                actor,
                cmd.action(),
                ("customer", customer.to_string()),
                balance - points,
                balance,
                Some(reason),
                now,
            ))
            .await?;
            PointsOutcome {
                entry,
                purchase: None,
                reward: None,
                balance,
                replayed: false,
            }
        }
    };
    // The event is queued in this transaction: it exists exactly when the change does.
    tx.insert_webhook_event(&NewEvent::points(org, &outcome))
        .await?;
    if let Some(event) = NewEvent::reward(org, &outcome) {
        tx.insert_webhook_event(&event).await?;
    }
    if let Some(key) = idem {
        let response = serde_json::to_value(&outcome)
            .map_err(|e| PointsError::Store(StoreError::backend(e)))?;
        tx.store_idempotency(org, key, &response).await?;
    }
    Ok(outcome)
}

fn applied(change: BalanceChange, needed: i64) -> Result<(i64, i64), PointsError> {
    match change {
        BalanceChange::Applied { balance, seq } => Ok((balance, seq)),
        BalanceChange::Insufficient { balance } => {
            Err(PointsError::Insufficient { balance, needed })
        }
        BalanceChange::NotFound => Err(PointsError::CustomerNotFound),
    }
}

/// Expires, oldest first, the points a customer earned at or before `cutoff` that are
/// not yet spent: `min(balance, credits before cutoff - all debits)`. Returns the points
/// expired. With `dry_run`, only computes.
pub async fn expire<T: LedgerTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    customer: CustomerId,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<i64, StoreError> {
    let Some(balance) = tx.lock_customer(org, customer).await? else {
        return Ok(0);
    };
    let (credits, debits) = tx.credits_and_debits(org, customer, cutoff).await?;
    let expirable = (credits - debits).max(0).min(balance);
    if expirable == 0 || dry_run {
        return Ok(expirable);
    }
    let BalanceChange::Applied {
        balance: after,
        seq,
    } = tx.change_balance(org, customer, -expirable, now).await?
    else {
        return Ok(0);
    };
    let actor = Actor::system();
    let entry = entry(
        customer,
        -expirable,
        TxType::Expired,
        None,
        after,
        Some(format!("points earned before {cutoff} expired")),
        &actor,
        now,
    );
    tx.insert_entry(org, &entry, seq, None).await?;
    tx.insert_webhook_event(&NewEvent::points(
        org,
        &PointsOutcome {
            entry: entry.clone(),
            purchase: None,
            reward: None,
            balance: after,
            replayed: false,
        },
    ))
    .await?;
    tx.insert_audit(&audit(
        org,
        &actor,
        "points.expire",
        ("customer", customer.to_string()),
        balance,
        after,
        None,
        now,
    ))
    .await?;
    Ok(expirable)
}
