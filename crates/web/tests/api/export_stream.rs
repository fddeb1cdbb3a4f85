//! A ledger of a million entries exported over HTTP from a server in this process, on
//! both backends: the first byte arrives within a second and the process's memory grows
//! by less than 50 MB while the file streams (both stated in the test output). The
//! entries are written by one INSERT (one transaction) straight into the table.

use super::app::{TestApp, Who};
use super::exports::customer;
use loyalty_core::domain::Role;
use loyalty_testkit::{Kind, TestDb};
use std::time::{Duration, Instant};

const ROWS: u64 = 1_000_000;

/// The resident set of this process, in kB (`VmRSS` of /proc/self/status).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A million adjustments of one customer, one a second from 5 January 2025 00:00 UTC
/// (the last on 16 January), written with one INSERT.
fn bulk_sql(kind: Kind, org: &str, customer: &str) -> String {
    match kind {
        Kind::Postgres => format!(
            "INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, \
             balance_after, notes, seq, created_at) \
             SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, '{org}', '{customer}', 1, \
             'adjusted', g, 'carga em massa', g, to_timestamp(1736035200 + g) \
             FROM generate_series(1, {ROWS}) g"
        ),
        Kind::Sqlite => format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS}) \
             INSERT INTO points_transactions (id, organization_id, user_id, points, transaction_type, \
             balance_after, notes, seq, created_at) \
             SELECT printf('00000000-0000-4000-8000-%012d', n), '{org}', '{customer}', 1, 'adjusted', n, \
             'carga em massa', n, strftime('%Y-%m-%dT%H:%M:%S', 1736035200 + n, 'unixepoch') || '.000000Z' \
             FROM g"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_ledger_entries_stream_with_the_first_byte_in_a_second_and_flat_memory_on_postgres()
 {
    if loyalty_testkit::skip_postgres() {
        eprintln!("LEFT OUT (LOYALTY_TEST_SKIP names postgres)");
        return;
    }
    a_million(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_ledger_entries_stream_with_the_first_byte_in_a_second_and_flat_memory_on_sqlite()
{
    a_million(Kind::Sqlite).await;
}

async fn a_million(kind: Kind) {
    let db = TestDb::new(kind).await;
    let app = TestApp::new(db).await;
    let org = app.a.clone();
    let c = customer(&app, &org, "400000000048").await;
    let started = Instant::now();
    app.db
        .execute(&bulk_sql(kind, &org.id.to_string(), &c.to_string()))
        .await;
    eprintln!(
        "{kind:?}: {ROWS} ledger rows inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let token = match app.token(&org, Role::Admin).await {
        Who::Token(t) => t,
        other => panic!("not a token: {other:?}"),
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(loyalty_web::serve(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    loyalty_identity::authentik::install_crypto_provider();
    let client = reqwest::Client::new();

    let before = rss_kb();
    let sent = Instant::now();
    let mut resp = client
            .get(format!("http://{addr}/api/v1/orgs/alpha/exports/ledger?from=2025-01-01&to=2025-01-31&style=machine"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().expect("a first chunk");
    let first_byte = sent.elapsed();
    assert!(first.starts_with(&[0xEF, 0xBB, 0xBF]));
    let (mut bytes, mut lines, mut peak) = (first.len() as u64, 1u64, before);
    let mut tail = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        tail.extend_from_slice(&chunk);
        tail.drain(..tail.len().saturating_sub(512));
        peak = peak.max(rss_kb());
    }
    let total = sent.elapsed();
    drop(stop);
    let growth_mb = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "{kind:?}: exported {ROWS} ledger rows ({:.1} MB) over HTTP; first byte after {} ms, \
             whole file in {:.1} s; server memory (RSS) {:.1} MB before, peak {:.1} MB, growth {growth_mb:.1} MB",
        bytes as f64 / 1_048_576.0,
        first_byte.as_millis(),
        total.as_secs_f64(),
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    assert_eq!(lines, ROWS + 1, "a header and every entry");
    let last = String::from_utf8_lossy(&tail);
    assert!(
        last.contains("00000000-0000-4000-8000-000001000000,2025-01-16T13:46:40Z"),
        "the last entry ends the file: {last}"
    );
    assert!(
        first_byte < Duration::from_secs(1),
        "first byte after {first_byte:?}"
    );
    assert!(growth_mb < 50.0, "memory grew by {growth_mb:.1} MB");
}
