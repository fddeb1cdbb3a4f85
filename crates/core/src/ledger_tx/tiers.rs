//! One batch of a tier recalculation's writes inside an open transaction: the bonus
//! customers' balances, sequence numbers and chain heads read under their row locks,
//! their entry bonuses computed (hash included) as every points movement's, then each
//! changed customer's row written once (tier, and for a bonus its balance, sequence
//! number and head), the moves and the entries (the store's batched statements), then
//! one audit record.

use super::records::{Reference, entry};
use super::{LedgerTx, ProgramTx};
use crate::domain::chain::entry_hash;
use crate::domain::ledger::{Actor, PointsError, TxType};
use crate::domain::{CustomerId, OrgId};
use crate::store::{TierPass, tier_pass_audit};
use std::time::Instant;
use time::OffsetDateTime;

/// Writes a recalculation's changes; returns the entry bonus points given. A customer's
/// move and its bonus commit together, so a pass run again (or by a second instance
/// after the lease) finds them in their new tier and gives nothing twice.
pub async fn apply_tier_changes<T: LedgerTx + ProgramTx + ?Sized>(
    tx: &mut T,
    org: OrgId,
    pass: &TierPass,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<i64, PointsError> {
    if pass.changes.is_empty() {
        return Ok(0);
    }
    let started = Instant::now();
    let bonuses: Vec<_> = pass
        .changes
        .iter()
        .filter(|c| c.is_move() && c.bonus > 0 && c.to.is_some())
        .collect();
    let customers: Vec<CustomerId> = bonuses.iter().map(|c| c.customer).collect();
    // Each bonus customer's balance, sequence number and head, under their row locks:
    // the entries are computed here and each row is written once, with its tier.
    let states = if customers.is_empty() {
        Vec::new()
    } else {
        tx.balances_for_update(org, &customers).await?
    };
    let read = started.elapsed();
    let mut entries = Vec::with_capacity(bonuses.len());
    let mut total = 0;
    for (c, state) in bonuses.iter().zip(states) {
        let (before, seq, prev) = state.ok_or(PointsError::CustomerNotFound)?;
        let e = entry(
            c.customer,
            c.bonus,
            TxType::Earned,
            c.to.map(Reference::Tier),
            before + c.bonus,
            Some(format!("{} entry bonus", c.to_name)),
            actor,
            now,
        );
        let hash = entry_hash(org, &e, seq + 1, &prev);
        entries.push((e, seq + 1, hash));
        total += c.bonus;
    }
    let step = Instant::now();
    tx.write_tier_changes(org, &pass.changes, &entries, now)
        .await?;
    let written = step.elapsed();
    tx.insert_audit(&tier_pass_audit(org, actor, pass.up, pass.down, total, now))
        .await?;
    // Where a pass's write goes (docs/PERFORMANCE.md): shown with RUST_LOG=debug.
    tracing::debug!(
        changes = pass.changes.len(),
        bonuses = entries.len(),
        read_ms = read.as_millis() as u64,
        written_ms = written.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "tier changes written"
    );
    Ok(total)
}
