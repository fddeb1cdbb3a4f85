//! `loyalty bench`: seeds an organization, drives a server over HTTP with a mix of
//! awards, balance reads and redemptions (plus a storm of retried requests), reports
//! throughput and latency percentiles, checks the ledger invariants, and on PostgreSQL
//! compares the award rate with `pgbench` running the same SQL transaction.

use crate::app::{App, Schema};
use crate::config::Config;
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_core::domain::points::card_number_for;
use loyalty_core::domain::{OrgStatus, Role};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::orgs;
use loyalty_core::store::Backend;
use loyalty_web::{AppState, Identity, WebConfig};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

mod baseline;

use baseline::{drive_store, pgbench};

/// Measure the service under load (see docs/PERFORMANCE.md).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Customers in the benchmark organization.
    #[arg(long, default_value_t = 100_000)]
    customers: usize,
    /// Concurrent HTTP connections (and pgbench clients).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Percent of writes sent a second time with the same Idempotency-Key.
    #[arg(long, default_value_t = 10)]
    retry_percent: u32,
    /// Skip the pgbench comparison on PostgreSQL.
    #[arg(long)]
    skip_pgbench: bool,
    /// Slug of the benchmark organization (created when missing).
    #[arg(long, default_value = "bench")]
    org: String,
    /// Print the results as JSON too.
    #[arg(long)]
    json: bool,
}

#[derive(Default, Clone, serde::Serialize)]
struct Phase {
    name: String,
    seconds: f64,
    requests: u64,
    by_kind: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    errors: u64,
    retries_checked: u64,
    retries_wrong: u64,
    throughput: f64,
    award_rate: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    award_p99_ms: f64,
}

#[derive(Default)]
struct Worker {
    latencies: Vec<u32>,
    award_latencies: Vec<u32>,
    by_kind: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    errors: u64,
    retries_checked: u64,
    retries_wrong: u64,
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Runs the benchmark.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::Migrate).await?;
    let store = app.store.clone();
    outln!(
        "backend: {:?}, database: {}",
        store.backend(),
        config.database.display_url()
    );

    // 1. The organization and its customers.
    let org = match orgs::get(store.as_ref(), &args.org).await {
        Ok(o) => o,
        Err(_) => {
            let input = OnboardInput {
                name: Some("Benchmark Shop".into()),
                slug: Some(args.org.clone()),
                admin_email: Some(format!("admin@{}.bench.example.com", args.org)),
                admin_name: Some("Bench Admin".into()),
                country: Some("US".into()),
                ..OnboardInput::default()
            };
            onboard::onboard(
                store.as_ref(),
                app.directory.as_ref(),
                app.clock.as_ref(),
                &input.validate()?,
                CredentialMode::Password,
                &NoHooks,
            )
            .await?
            .org
        }
    };
    anyhow::ensure!(
        org.status == OrgStatus::Active,
        "organization {} is not active",
        org.slug
    );
    let mut ids: Vec<Uuid> = store
        .list_customers(org.id, None, u32::MAX)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.len() < args.customers {
        let started = Instant::now();
        let mut n = ids.len() as u64;
        while (n as usize) < args.customers {
            let chunk: Vec<NewCustomer> = (n..(n + 5000).min(args.customers as u64))
                .map(|i| NewCustomer {
                    phone: None,
                    email: None,
                    name: None,
                    card_number: card_number_for(i),
                    identity_subject: None,
                    created_by: None,
                })
                .collect();
            n += store.bulk_enroll(org.id, &chunk, app.clock.now()).await? as u64;
        }
        ids = store
            .list_customers(org.id, None, u32::MAX)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        outln!(
            "seeded {} customers in {:.1} s",
            ids.len(),
            started.elapsed().as_secs_f64()
        );
    }
    ids.truncate(args.customers);
    let ids = Arc::new(ids);
    let token = format!("lyt_{}", loyalty_core::secret::random_token());
    let actor = Actor {
        member_id: None,
        label: "bench".into(),
        role: "admin".into(),
        request_id: None,
    };
    store
        .insert_api_token(
            org.id,
            "bench",
            Role::Admin,
            &loyalty_core::secret::hash_token(&token),
            &actor,
            app.clock.now(),
        )
        .await?;

    // 2. The server, in this process, on a free port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState {
        store: store.clone(),
        directory: app.directory.clone(),
        clock: app.clock.clone(),
        identity: match &app.builtin {
            Some(b) => Identity::Builtin(b.clone()),
            None => Identity::Authentik { oidc: None },
        },
        config: Arc::new(WebConfig {
            public_url: base.clone(),
            ..WebConfig::default()
        }),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(loyalty_web::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;

    // 3. The phases: the store alone (no HTTP), then over HTTP.
    let direct = drive_store(store.clone(), org.id, &ids, &args, app.clock.clone()).await;
    outln!(
        "store only: {:.0} awards/s, p99 {:.2} ms (no HTTP)",
        direct.award_rate,
        direct.award_p99_ms
    );
    let mixed = drive(&client, &base, &org.slug, &token, &ids, &args, Mix::Mixed).await;
    let awards = drive(&client, &base, &org.slug, &token, &ids, &args, Mix::Awards).await;
    let reads = drive(&client, &base, &org.slug, &token, &ids, &args, Mix::Reads).await;
    let _ = stop_tx.send(());
    let _ = server.await;

    // 4. Invariants over the whole database.
    let inv = store.check_invariants(None).await?;
    let mut out = serde_json::json!({ "backend": store.backend(), "customers": ids.len(), "connections": args.connections,
        "phases": [direct, mixed, awards, reads], "invariants": inv });
    for p in [&mixed, &awards, &reads] {
        outln!(
            "\n{}: {} requests in {:.1} s = {:.0} req/s ({:.0} awards/s); p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; award p99 {:.2} ms",
            p.name,
            p.requests,
            p.seconds,
            p.throughput,
            p.award_rate,
            p.p50_ms,
            p.p95_ms,
            p.p99_ms,
            p.p999_ms,
            p.award_p99_ms
        );
        outln!(
            "  by kind {:?}; statuses {:?}; transport errors {}; retries checked {} (wrong answers {})",
            p.by_kind,
            p.statuses,
            p.errors,
            p.retries_checked,
            p.retries_wrong
        );
    }
    outln!(
        "\ninvariants: {} customers, {} entries, balance mismatches {}, negative balances {}, broken chains {} -> {}",
        inv.customers,
        inv.entries,
        inv.balance_mismatches,
        inv.negative_balances,
        inv.broken_chains,
        if inv.holds() { "OK" } else { "BROKEN" }
    );

    // 5. pgbench with the same SQL transaction as one award.
    if store.backend() == Backend::Postgres && !args.skip_pgbench {
        let url = config.database.resolved_url()?;
        let pg = pgbench(url.expose_secret(), &org.id.0, &ids, &args).await?;
        outln!(
            "\npgbench (award transaction, {} clients): {:.0} tps, p99 {:.2} ms; HTTP award rate = {:.2}x pgbench, HTTP award p99 = {:.2}x pgbench p99",
            args.connections,
            pg.0,
            pg.1,
            awards.award_rate / pg.0,
            awards.award_p99_ms / pg.1
        );
        out["pgbench"] = serde_json::json!({"tps": pg.0, "p99_ms": pg.1, "ratio": awards.award_rate / pg.0, "p99_ratio": awards.award_p99_ms / pg.1});
        let inv = store.check_invariants(None).await?;
        outln!(
            "invariants after pgbench: {}",
            if inv.holds() { "OK" } else { "BROKEN" }
        );
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&out)?);
    }
    anyhow::ensure!(inv.holds(), "ledger invariants are broken");
    Ok(())
}

/// What a phase sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// 70 % awards, 20 % balance reads, 10 % redemptions.
    Mixed,
    /// Awards only.
    Awards,
    /// Balance reads only.
    Reads,
}

async fn drive(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    token: &str,
    ids: &Arc<Vec<Uuid>>,
    args: &Args,
    mix: Mix,
) -> Phase {
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.connections {
        let (client, ids, base, slug, token) = (
            client.clone(),
            ids.clone(),
            base.to_owned(),
            slug.to_owned(),
            token.to_owned(),
        );
        let retry_percent = args.retry_percent;
        let connections = args.connections;
        tasks.push(tokio::spawn(async move {
            let mut me = Worker::default();
            let mut rng_state: u64 = 0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1);
            let mut next = move || {
                rng_state ^= rng_state << 13;
                rng_state ^= rng_state >> 7;
                rng_state ^= rng_state << 17;
                rng_state
            };
            // Each worker owns a slice of customers, so it knows which have points.
            let mine: Vec<Uuid> = if ids.len() >= connections {
                ids.iter().skip(w).step_by(connections).copied().collect()
            } else {
                // Fewer customers than connections: everyone hammers the same few.
                ids.to_vec()
            };
            let mut funded: Vec<Uuid> = Vec::new();
            while Instant::now() < deadline && !mine.is_empty() {
                let roll = next() % 100;
                let kind = match mix {
                    Mix::Awards => "award",
                    Mix::Reads => "balance",
                    Mix::Mixed if roll < 70 => "award",
                    Mix::Mixed if roll < 90 => "balance",
                    Mix::Mixed => "redeem",
                };
                let customer = mine[(next() % mine.len() as u64) as usize];
                let key = Uuid::new_v4().to_string();
                let (method, url, body) = match kind {
                    "award" => {
                        let cents = 100 + next() % 9900;
                        (reqwest::Method::POST, format!("{base}/api/v1/orgs/{slug}/purchases"),
                         Some(serde_json::json!({"customer_id": customer, "amount": format!("{}.{:02}", cents / 100, cents % 100)})))
                    }
                    "balance" => (reqwest::Method::GET, format!("{base}/api/v1/orgs/{slug}/customers/{customer}/balance"), None),
                    _ => match funded.get((next() % funded.len().max(1) as u64) as usize) {
                        Some(c) => (reqwest::Method::POST, format!("{base}/api/v1/orgs/{slug}/redemptions"), Some(serde_json::json!({"customer_id": c, "points": 1}))),
                        None => (reqwest::Method::GET, format!("{base}/api/v1/orgs/{slug}/customers/{customer}/balance"), None),
                    },
                };
                let send = |body: &Option<serde_json::Value>| {
                    let mut req = client.request(method.clone(), &url).bearer_auth(&token).header("idempotency-key", &key);
                    if let Some(b) = body {
                        req = req.json(b);
                    }
                    req.send()
                };
                let t0 = Instant::now();
                let first = send(&body).await;
                let micros = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                me.latencies.push(micros);
                *me.by_kind.entry(kind.to_owned()).or_default() += 1;
                match first {
                    Ok(resp) => {
                        let status = resp.status();
                        *me.statuses.entry(status.as_u16().to_string()).or_default() += 1;
                        let answer: serde_json::Value = resp.json().await.unwrap_or_default();
                        if kind == "award" && status.is_success() {
                            me.award_latencies.push(micros);
                            funded.push(customer);
                            if funded.len() > 64 {
                                funded.remove(0);
                            }
                        }
                        if body.is_some() && status.is_success() && next() % 100 < u64::from(retry_percent) {
                            me.retries_checked += 1;
                            match send(&body).await {
                                Ok(r) => {
                                    let again: serde_json::Value = r.json().await.unwrap_or_default();
                                    if again["entry"]["id"] != answer["entry"]["id"] || again["replayed"] != true {
                                        me.retries_wrong += 1;
                                    }
                                }
                                Err(_) => me.errors += 1,
                            }
                        }
                    }
                    Err(_) => me.errors += 1,
                }
            }
            me
        }));
    }
    let mut all = Worker::default();
    for t in tasks {
        if let Ok(w) = t.await {
            all.latencies.extend(w.latencies);
            all.award_latencies.extend(w.award_latencies);
            for (k, v) in w.by_kind {
                *all.by_kind.entry(k).or_default() += v;
            }
            for (k, v) in w.statuses {
                *all.statuses.entry(k).or_default() += v;
            }
            all.errors += w.errors;
            all.retries_checked += w.retries_checked;
            all.retries_wrong += w.retries_wrong;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    all.latencies.sort_unstable();
    all.award_latencies.sort_unstable();
    Phase {
        name: match mix {
            Mix::Mixed => "mixed 70/20/10".into(),
            Mix::Awards => "awards only".into(),
            Mix::Reads => "balance reads only".into(),
        },
        seconds,
        requests: all.latencies.len() as u64,
        throughput: all.latencies.len() as f64 / seconds,
        award_rate: all.award_latencies.len() as f64 / seconds,
        p50_ms: pct(&all.latencies, 0.50),
        p95_ms: pct(&all.latencies, 0.95),
        p99_ms: pct(&all.latencies, 0.99),
        p999_ms: pct(&all.latencies, 0.999),
        award_p99_ms: pct(&all.award_latencies, 0.99),
        by_kind: all.by_kind,
        statuses: all.statuses,
        errors: all.errors,
        retries_checked: all.retries_checked,
        retries_wrong: all.retries_wrong,
    }
}
