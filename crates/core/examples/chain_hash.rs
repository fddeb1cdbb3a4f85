//! What the hash chain adds to one award in CPU: the time of `entry_hash` (the SHA-256
//! over an entry's canonical encoding and the previous link) for a typical award entry
//! and for one with a 60-character note, `ROUNDS` times each (default 1,000,000)
//! (docs/PERFORMANCE.md, "Verifying the hash chain").
//!
//! `cargo run --release -p loyalty-core --example chain_hash`
#![allow(clippy::print_stdout)]

use loyalty_core::domain::chain::{ChainHash, entry_hash};
use loyalty_core::domain::ledger::{LedgerEntry, TxType};
use loyalty_core::domain::{CustomerId, LedgerEntryId, OrgId};
use std::time::Instant;
use uuid::Uuid;

fn main() {
    let rounds: i64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let org = OrgId(Uuid::now_v7());
    let award = LedgerEntry {
        id: LedgerEntryId(Uuid::now_v7()),
        customer_id: CustomerId(Uuid::now_v7()),
        points: 25,
        transaction_type: TxType::Earned,
        reference_id: Some(Uuid::now_v7()),
        reference_type: Some("purchase".into()),
        balance_after: 1_250,
        notes: None,
        created_by: Some(Uuid::now_v7()),
        created_at: time::OffsetDateTime::now_utc(),
    };
    let noted = LedgerEntry {
        notes: Some("x".repeat(60)),
        ..award.clone()
    };
    for (name, entry) in [
        ("award", &award),
        ("award with a 60-character note", &noted),
    ] {
        let mut prev = ChainHash::GENESIS;
        let started = Instant::now();
        for seq in 1..=rounds {
            prev = entry_hash(org, entry, seq, &prev);
        }
        let took = started.elapsed();
        println!(
            "{name}: {rounds} hashes in {:.3} s = {:.0} ns per entry (last {prev})",
            took.as_secs_f64(),
            took.as_nanos() as f64 / rounds as f64
        );
    }
}
