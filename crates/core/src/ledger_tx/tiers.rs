//! One tier recalculation's writes inside an open transaction: the customers' tier rows
//! and moves (the store's batched statements), then the entry bonuses through the same
//! balance-and-entry writes as every points movement, then one audit record.

use super::records::{Reference, entry};
use super::{LedgerTx, ProgramTx, applied};
use crate::domain::chain::entry_hash;
use crate::domain::ledger::{Actor, PointsError, TxType};
use crate::domain::{CustomerId, OrgId};
use crate::store::{TierPass, tier_pass_audit};
use std::time::{Duration, Instant};
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
    tx.write_tier_changes(org, &pass.changes, now).await?;
    let tier_rows = started.elapsed();
    let (mut balances, mut written) = (Duration::ZERO, Duration::ZERO);
    let bonuses: Vec<_> = pass
        .changes
        .iter()
        .filter(|c| c.is_move() && c.bonus > 0 && c.to.is_some())
        .collect();
    let deltas: Vec<(CustomerId, i64)> = bonuses.iter().map(|c| (c.customer, c.bonus)).collect();
    let mut total = 0;
    if !deltas.is_empty() {
        let step = Instant::now();
        let changes = tx.change_balances(org, &deltas, now).await?;
        balances = step.elapsed();
        let mut entries = Vec::with_capacity(deltas.len());
        for (c, change) in bonuses.iter().zip(changes) {
            let (balance, link) = applied(change, -c.bonus)?;
            let e = entry(
                c.customer,
                c.bonus,
                TxType::Earned,
                c.to.map(Reference::Tier),
                balance,
                Some(format!("{} entry bonus", c.to_name)),
                actor,
                now,
            );
            let hash = entry_hash(org, &e, link.seq, &link.prev);
            entries.push((e, link.seq, hash));
            total += c.bonus;
        }
        let step = Instant::now();
        tx.insert_entries(org, &entries).await?;
        written = step.elapsed();
    }
    tx.insert_audit(&tier_pass_audit(org, actor, pass.up, pass.down, total, now))
        .await?;
    // Where a pass's write goes (docs/PERFORMANCE.md): shown with RUST_LOG=debug.
    tracing::debug!(
        changes = pass.changes.len(),
        bonuses = deltas.len(),
        tier_rows_ms = tier_rows.as_millis() as u64,
        balances_ms = balances.as_millis() as u64,
        entries_ms = written.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "tier changes written"
    );
    Ok(total)
}
