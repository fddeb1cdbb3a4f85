//! The ledger's rules, written once for both backends. A store opens a transaction,
//! wraps it in a [`LedgerTx`] (the few primitive reads and writes, in its own SQL) and
//! calls [`apply`] or [`expire`]; committing on success and rolling back on error is the
//! store's part. So the arithmetic, the checks and the order of writes are the same on
//! PostgreSQL and SQLite, and the balance changes only beside its ledger entry.

mod records;
mod tiers;

pub use tiers::apply_tier_changes;

use crate::domain::chain::{ChainHash, Link, entry_hash};
use crate::domain::ledger::{
    Actor, AuditRecord, IdempotencyKey, LedgerEntry, PointsCommand, PointsError, PointsOutcome,
    Purchase, Reward, TxType,
};
use crate::domain::points::reversal_points;
use crate::domain::program::{CustomerState, GrantRule, RuleId, StampEntry, StampKind, engine};
use crate::domain::{CustomerId, OrgId, PurchaseId, RewardId};
use crate::mail::{self, NewMail, ReceiptTarget};
use crate::store::{StoreError, new_id};
use crate::webhook::NewEvent;
use async_trait::async_trait;
use records::{Reference, audit, entry, stamp_entry};
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
        /// The customer's chain head before this change: the hash the entry links to.
        head: ChainHash,
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
    /// ledger sequence number and returning the customer's chain head (read under the
    /// same row lock).
    async fn change_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        delta: i64,
        now: OffsetDateTime,
    ) -> Result<BalanceChange, StoreError>;
    /// [`LedgerTx::change_balance`] for many distinct customers, answers in the same
    /// order. A backend may do it in one statement; this default runs them one by one.
    async fn change_balances(
        &mut self,
        org: OrgId,
        deltas: &[(CustomerId, i64)],
        now: OffsetDateTime,
    ) -> Result<Vec<BalanceChange>, StoreError> {
        let mut out = Vec::with_capacity(deltas.len());
        for (customer, delta) in deltas {
            out.push(self.change_balance(org, *customer, *delta, now).await?);
        }
        Ok(out)
    }
    /// Locks the rows of distinct customers and reads each one's balance, ledger
    /// sequence number and chain head (`None` for one that is not a customer of the
    /// organization), in the order given, in as few statements as the backend allows.
    async fn balances_for_update(
        &mut self,
        org: OrgId,
        customers: &[CustomerId],
    ) -> Result<Vec<Option<(i64, i64, ChainHash)>>, StoreError>;
    /// [`LedgerTx::insert_entry`] for many entries (no idempotency keys). A backend may
    /// do it in one statement; this default runs them one by one.
    async fn insert_entries(
        &mut self,
        org: OrgId,
        entries: &[(LedgerEntry, i64, ChainHash)],
    ) -> Result<(), StoreError> {
        for (entry, seq, hash) in entries {
            self.insert_entry(org, entry, *seq, hash, None).await?;
        }
        Ok(())
    }
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
    /// Appends a ledger entry with its chain hash, which becomes the customer's chain
    /// head.
    async fn insert_entry(
        &mut self,
        org: OrgId,
        entry: &LedgerEntry,
        seq: i64,
        hash: &ChainHash,
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
    /// Moves `customer`'s wallet pass, if they have one, to `now` (at least a second
    /// past its last change), in this transaction: devices asking for updated passes
    /// find it.
    async fn wallet_pass_changed(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Points credited at or before `cutoff`, and points debited ever, for one customer.
    async fn credits_and_debits(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
    ) -> Result<(i64, i64), StoreError>;
}

/// The primitive operations of the program's stamp cards and promotions. A store
/// implements them beside [`LedgerTx`]; the award path calls them only when the
/// organization's program has running stamp cards or promotions.
#[async_trait]
pub trait ProgramTx: Send {
    /// The customer's stamps per card, stamps given since `day_start` per card, and
    /// promotion uses per promotion, in one read.
    async fn program_state(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        day_start: OffsetDateTime,
    ) -> Result<CustomerState, StoreError>;
    /// The customer's stamps on a card (0 when none), locking them for this transaction.
    async fn stamp_balance(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        card: RuleId,
    ) -> Result<i64, StoreError>;
    /// Adds `delta` to the customer's stamps on a card unless they would go below zero;
    /// the stamps after, or `None` when refused.
    async fn change_stamps(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        card: RuleId,
        delta: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Appends a stamp ledger entry.
    async fn insert_stamp_entry(
        &mut self,
        org: OrgId,
        entry: &StampEntry,
    ) -> Result<(), StoreError>;
    /// Records that a purchase got a promotion (its per-customer count).
    async fn insert_promotion_use(
        &mut self,
        org: OrgId,
        customer: CustomerId,
        promotion: RuleId,
        purchase: PurchaseId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Gives back the promotion uses of a purchase refunded in full.
    async fn release_promotion_uses(
        &mut self,
        org: OrgId,
        purchase: PurchaseId,
    ) -> Result<(), StoreError>;
    /// Writes customers' tier rows (tier and grace start) and a `tier_moves` row for
    /// each change that moves a customer, in as few statements as the backend allows.
    /// With `bonuses` (entries of customers among `changes`, each with its sequence
    /// number and hash, computed from [`LedgerTx::balances_for_update`]), the same
    /// write of each such row also sets its balance (the entry's `balance_after`),
    /// sequence number and chain head, and the entries are inserted: each customer's
    /// row is written once.
    async fn write_tier_changes(
        &mut self,
        org: OrgId,
        changes: &[crate::domain::program::TierChange],
        bonuses: &[(LedgerEntry, i64, ChainHash)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// Applies a points command inside the open transaction `tx`.
pub async fn apply<T: LedgerTx + ProgramTx + ?Sized>(
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
            program,
        } => {
            // With stamp cards or promotions running, the engine decides from the
            // customer's state, read under the customer's lock; otherwise the earning
            // rule's points are all there is.
            let (points, mut grants, program_version) = match program {
                Some(ap) => {
                    tx.lock_customer(org, *customer)
                        .await?
                        .ok_or(PointsError::CustomerNotFound)?;
                    let state = tx.program_state(org, *customer, ap.day_start).await?;
                    let grants = engine::evaluate(&ap.earning, &ap.program, &state, &ap.facts);
                    (engine::total_points(&grants), grants, ap.program.version)
                }
                None => (*points, Vec::new(), 0),
            };
            let points = &points;
            let (balance, link) = applied(
                tx.change_balance(org, *customer, *points, now).await?,
                *points,
            )?;
            let mut stamps = Vec::new();
            for grant in &mut grants {
                if let GrantRule::StampCard(card) = grant.rule {
                    let after = tx
                        .change_stamps(org, *customer, card, grant.stamps)
                        .await?
                        .unwrap_or(0);
                    if let Some(progress) = grant.progress.as_mut() {
                        progress.0 = after;
                    }
                    stamps.push((card, grant.stamps, after));
                }
            }
            let purchase = Purchase {
                id: PurchaseId(new_id()),
                customer_id: *customer,
                cashier_id: actor.member_id,
                amount: *amount,
                currency: currency.clone(),
                points_awarded: *points,
                reversed_amount: Decimal::ZERO,
                points_reversed: 0,
                program_version,
                grants,
                created_at: now,
            };
            tx.insert_purchase(org, &purchase).await?;
            let stamps = write_stamps(tx, org, *customer, &purchase, &stamps, actor, now).await?;
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
            append(tx, org, &entry, link, idem_key).await?;
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
                    &purchase.grants,
                    now,
                ))
                .await?;
            }
            PointsOutcome {
                entry,
                purchase: Some(purchase),
                reward: None,
                balance,
                stamps,
                replayed: false,
            }
        }
        PointsCommand::Bonus {
            customer,
            kind,
            points,
        } => {
            let (balance, link) = applied(
                tx.change_balance(org, *customer, *points, now).await?,
                -*points,
            )?;
            let entry = entry(
                *customer,
                *points,
                TxType::Earned,
                None,
                balance,
                Some(format!("{kind} bonus")),
                actor,
                now,
            );
            append(tx, org, &entry, link, idem_key).await?;
            tx.insert_audit(&audit(
                org,
                actor,
                cmd.action(),
                ("customer", customer.to_string()),
                balance - points,
                balance,
                None,
                now,
            ))
            .await?;
            PointsOutcome {
                entry,
                purchase: None,
                reward: None,
                balance,
                stamps: Vec::new(),
                replayed: false,
            }
        }
        PointsCommand::RedeemCard {
            customer,
            card,
            rule,
        } => {
            redeem_card(
                tx,
                org,
                cmd,
                *customer,
                *card,
                rule.as_deref(),
                actor,
                idem_key,
                now,
            )
            .await?
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
            let (balance, link) =
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
            append(tx, org, &entry, link, idem_key).await?;
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
                stamps: Vec::new(),
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
            let (balance, link) = applied(
                tx.change_balance(org, p.customer_id, -take, now).await?,
                take,
            )?;
            tx.record_reversal(org, p.id, refund, take).await?;
            p.reversed_amount += refund;
            p.points_reversed += take;
            // Stamps and promotion uses go back when the purchase is refunded in full.
            let stamps = if p.reversed_amount >= p.amount {
                reverse_grants(tx, org, &p, actor, now).await?
            } else {
                Vec::new()
            };
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
            append(tx, org, &entry, link, idem_key).await?;
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
                stamps,
                replayed: false,
            }
        }
        PointsCommand::Adjust {
            customer,
            points,
            reason,
        } => {
            let (balance, link) = applied(
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
            append(tx, org, &entry, link, idem_key).await?;
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
                stamps: Vec::new(),
                replayed: false,
            }
        }
    };
    // The event is queued in this transaction: it exists exactly when the change does.
    tx.insert_webhook_event(&NewEvent::points(org, &outcome))
        .await?;
    // The member's wallet pass shows the new balance from this change on.
    tx.wallet_pass_changed(org, outcome.entry.customer_id, now)
        .await?;
    if let Some(event) = NewEvent::reward(org, &outcome) {
        tx.insert_webhook_event(&event).await?;
    }
    if let Some(event) = NewEvent::stock_low(org, &outcome) {
        tx.insert_webhook_event(&event).await?;
    }
    for event in NewEvent::stamps(org, &outcome) {
        tx.insert_webhook_event(&event).await?;
    }
    if let Some(key) = idem {
        let response = serde_json::to_value(&outcome)
            .map_err(|e| PointsError::Store(StoreError::backend(e)))?;
        tx.store_idempotency(org, key, &response).await?;
    }
    Ok(outcome)
}

/// Writes the stamp entries of an award: `(card, stamps, balance after)` each.
async fn write_stamps<T: ProgramTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    customer: CustomerId,
    purchase: &Purchase,
    stamps: &[(RuleId, i64, i64)],
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Vec<StampEntry>, StoreError> {
    let mut written = Vec::with_capacity(stamps.len());
    for (card, n, after) in stamps {
        let e = stamp_entry(
            customer,
            *card,
            *n,
            StampKind::Earned,
            Some(purchase.id),
            *after,
            actor,
            now,
        );
        tx.insert_stamp_entry(org, &e).await?;
        written.push(e);
    }
    for grant in &purchase.grants {
        if let GrantRule::Promotion(id) = grant.rule {
            tx.insert_promotion_use(org, customer, id, purchase.id, now)
                .await?;
        }
    }
    Ok(written)
}

/// Takes back the stamps a purchase refunded in full gave (as many as the card still
/// holds: stamps already exchanged for the reward stay spent) and gives back its
/// promotion use.
async fn reverse_grants<T: ProgramTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    p: &Purchase,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<Vec<StampEntry>, StoreError> {
    let mut written = Vec::new();
    for grant in &p.grants {
        match grant.rule {
            GrantRule::StampCard(card) => {
                let held = tx.stamp_balance(org, p.customer_id, card).await?;
                let take = held.min(grant.stamps);
                if take <= 0 {
                    continue;
                }
                let Some(after) = tx.change_stamps(org, p.customer_id, card, -take).await? else {
                    continue;
                };
                let e = stamp_entry(
                    p.customer_id,
                    card,
                    -take,
                    StampKind::Reversed,
                    Some(p.id),
                    after,
                    actor,
                    now,
                );
                tx.insert_stamp_entry(org, &e).await?;
                written.push(e);
            }
            GrantRule::Promotion(_) => tx.release_promotion_uses(org, p.id).await?,
            GrantRule::Base | GrantRule::Tier(_) => {}
        }
    }
    Ok(written)
}

/// Exchanges a full stamp card for its reward: the card's stamps go down by the number
/// that fills it, and a ledger entry records the reward (its points, or 0 for goods).
#[allow(clippy::too_many_arguments)]
async fn redeem_card<T: LedgerTx + ProgramTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    cmd: &PointsCommand,
    customer: CustomerId,
    card: RuleId,
    rule: Option<&crate::domain::program::StampCard>,
    actor: &Actor,
    idem_key: Option<&str>,
    now: OffsetDateTime,
) -> Result<PointsOutcome, PointsError> {
    let rule = rule
        .filter(|r| r.id == card)
        .ok_or(PointsError::CardNotFound)?;
    let before = tx
        .lock_customer(org, customer)
        .await?
        .ok_or(PointsError::CustomerNotFound)?;
    let need = i64::from(rule.stamps_required);
    let have = tx.stamp_balance(org, customer, card).await?;
    let Some(after) = tx.change_stamps(org, customer, card, -need).await? else {
        return Err(PointsError::StampsInsufficient {
            have,
            need: rule.stamps_required,
        });
    };
    let stamps = stamp_entry(
        customer,
        card,
        -need,
        StampKind::Redeemed,
        None,
        after,
        actor,
        now,
    );
    tx.insert_stamp_entry(org, &stamps).await?;
    let (balance, link) = applied(
        tx.change_balance(org, customer, rule.reward_points, now)
            .await?,
        -rule.reward_points,
    )?;
    let kind = if rule.reward_points > 0 {
        TxType::Earned
    } else {
        TxType::Redeemed
    };
    let entry = entry(
        customer,
        rule.reward_points,
        kind,
        Some(Reference::StampCard(card)),
        balance,
        Some(format!("{}: {}", rule.name, rule.reward)),
        actor,
        now,
    );
    append(tx, org, &entry, link, idem_key).await?;
    tx.insert_audit(&audit(
        org,
        actor,
        cmd.action(),
        ("customer", customer.to_string()),
        before,
        balance,
        None,
        now,
    ))
    .await?;
    Ok(PointsOutcome {
        entry,
        purchase: None,
        reward: None,
        balance,
        stamps: vec![stamps],
        replayed: false,
    })
}

/// Appends `entry` at its place in the customer's chain.
async fn append<T: LedgerTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    entry: &LedgerEntry,
    link: Link,
    idempotency_key: Option<&str>,
) -> Result<(), StoreError> {
    let hash = entry_hash(org, entry, link.seq, &link.prev);
    tx.insert_entry(org, entry, link.seq, &hash, idempotency_key)
        .await
}

fn applied(change: BalanceChange, needed: i64) -> Result<(i64, Link), PointsError> {
    match change {
        BalanceChange::Applied { balance, seq, head } => Ok((balance, Link { seq, prev: head })),
        BalanceChange::Insufficient { balance } => {
            Err(PointsError::Insufficient { balance, needed })
        }
        BalanceChange::NotFound => Err(PointsError::CustomerNotFound),
    }
}

/// Writes opening balances (points brought from before the programme, a customer
/// file import) as `opening` ledger entries with `reason` (the file name) as their note:
/// each balance changes beside its entry, as every other movement. One audit record
/// for the import batch is the caller's. Customers must be distinct; a zero balance is
/// skipped.
pub async fn open_balances<T: LedgerTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    opening: &[(CustomerId, i64)],
    reason: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<i64, PointsError> {
    let deltas: Vec<(CustomerId, i64)> = opening.iter().copied().filter(|(_, p)| *p > 0).collect();
    if deltas.is_empty() {
        return Ok(0);
    }
    let changes = tx.change_balances(org, &deltas, now).await?;
    let mut entries = Vec::with_capacity(deltas.len());
    let mut total = 0;
    for ((customer, points), change) in deltas.iter().zip(changes) {
        let (balance, link) = applied(change, -*points)?;
        let e = entry(
            *customer,
            *points,
            TxType::Opening,
            None,
            balance,
            Some(reason.to_owned()),
            actor,
            now,
        );
        let hash = entry_hash(org, &e, link.seq, &link.prev);
        entries.push((e, link.seq, hash));
        total += points;
    }
    tx.insert_entries(org, &entries).await?;
    Ok(total)
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
        head,
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
    append(tx, org, &entry, Link { seq, prev: head }, None).await?;
    tx.wallet_pass_changed(org, customer, now).await?;
    tx.insert_webhook_event(&NewEvent::points(
        org,
        &PointsOutcome {
            entry: entry.clone(),
            purchase: None,
            reward: None,
            balance: after,
            replayed: false,
            stamps: Vec::new(),
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
