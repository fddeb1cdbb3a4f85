//! `pgbench` running the award's own SQL transaction on PostgreSQL, for comparison with
//! the rate `loyalty bench` measured through the server.

use super::{Args, pct};
use anyhow::Context;
use loyalty_core::domain::CustomerId;
use uuid::Uuid;

/// The award transaction as the store runs it, as a pgbench script, but for the hash
/// chain: SQL cannot compute an entry's hash (`domain::chain::entry_hash`, in Rust), so
/// the entries are written with `chain_hash` NULL and the customer's `chain_head` left
/// as it was, and [`super::run`] hashes them afterwards with the store's
/// `backfill_chain` (what `loyalty migrate` does for entries older than the chain). The
/// rate pgbench reports therefore leaves out the hash and the head's 32 bytes.
const PGBENCH_AWARD: &str = r#"\set n random(1, :customers)
SELECT id AS cid FROM bench_customers WHERE n = :n \gset
BEGIN;
INSERT INTO idempotency_keys (organization_id, key, request_hash, status_code, response, created_at) VALUES (:org, gen_random_uuid()::text, 'pgbench', 0, '{}'::jsonb, now()) ON CONFLICT DO NOTHING;
UPDATE users SET balance = balance + 10, ledger_seq = ledger_seq + 1, updated_at = now() WHERE organization_id = :org AND id = :cid AND role = 'customer' AND balance + 10 >= 0 RETURNING balance, ledger_seq \gset
INSERT INTO purchases (id, organization_id, cashier_id, customer_id, amount, currency, points_awarded, created_at) VALUES (gen_random_uuid(), :org, NULL, :cid, 10.00, 'USD', 10, now());
INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, reference_id, reference_type, balance_after, notes, created_by, idempotency_key, seq, created_at) VALUES (gen_random_uuid(), :org, :cid, 10, 'earned', gen_random_uuid(), 'purchase', :balance, NULL, NULL, NULL, :ledger_seq, now());
INSERT INTO audit_log (id, organization_id, actor, actor_role, action, target_type, target_id, before, after, reason, request_id, created_at) VALUES (gen_random_uuid(), :org, 'pgbench', 'admin', 'points.award', 'customer', :cid, '{}'::jsonb, '{}'::jsonb, NULL, NULL, now());
UPDATE idempotency_keys SET status_code = 201, response = '{"bench": true}'::jsonb WHERE organization_id = :org AND key = 'none';
COMMIT;
"#;

/// Runs pgbench with [`PGBENCH_AWARD`]; returns (tps, p99 ms).
pub(super) async fn pgbench(
    url: &str,
    org: &Uuid,
    ids: &[CustomerId],
    args: &Args,
) -> anyhow::Result<(f64, f64)> {
    let dir = std::env::temp_dir().join(format!("loyalty-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // A numbered view of the customers, so pgbench can pick one at random.
    let mut psql_input = String::from(
        "DROP TABLE IF EXISTS bench_customers;\nCREATE TABLE bench_customers (n integer PRIMARY KEY, id uuid NOT NULL);\nCOPY bench_customers (n, id) FROM STDIN;\n",
    );
    for (i, id) in ids.iter().enumerate() {
        psql_input.push_str(&format!("{}\t{id}\n", i + 1));
    }
    psql_input.push_str("\\.\nANALYZE bench_customers;\n");
    let script = dir.join("award.sql");
    std::fs::write(&script, PGBENCH_AWARD)?;
    let mut psql = tokio::process::Command::new("psql")
        .arg(url)
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("running psql (install the PostgreSQL client)")?;
    if let Some(mut stdin) = psql.stdin.take() {
        tokio::io::AsyncWriteExt::write_all(&mut stdin, psql_input.as_bytes()).await?;
    }
    anyhow::ensure!(
        psql.wait().await?.success(),
        "psql could not prepare bench_customers"
    );
    let output = tokio::process::Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &args.connections.to_string(),
            "-j",
            "2",
            "-T",
            &args.duration.to_string(),
            "-M",
            "prepared",
        ])
        .arg("-f")
        .arg(&script)
        .arg(format!("-Dorg={org}"))
        .arg(format!("-Dcustomers={}", ids.len()))
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join("log").display()))
        .arg(url)
        .current_dir(&dir)
        .output()
        .await
        .context("running pgbench (Debian package postgresql-contrib or postgresql-client)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}{}",
        text,
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    let mut lat: Vec<u32> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("log"))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(v) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<u32>().ok())
                {
                    lat.push(v);
                }
            }
        }
    }
    lat.sort_unstable();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = tokio::process::Command::new("psql")
        .arg(url)
        .args(["-q", "-c", "DROP TABLE IF EXISTS bench_customers"])
        .status()
        .await;
    Ok((tps, pct(&lat, 0.99)))
}
