//! `loyalty bench`: seeds an organization, drives a server over HTTP with a mix of
//! awards, balance reads and redemptions (plus a storm of retried requests), reports
//! throughput and latency percentiles, checks the ledger invariants and hash chains, and
//! on PostgreSQL compares the award rate with `pgbench` running the same SQL transaction
//! (without the chain hash, which it cannot compute: its entries are hashed afterwards).

mod drive;
mod pgbench;
mod programs;

use drive::{Mix, drive, drive_store};
use pgbench::pgbench;

use crate::app::{App, Schema};
use crate::config::Config;
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_core::domain::points::card_number_for;
use loyalty_core::domain::{CustomerId, OrgStatus, Role};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::orgs;
use loyalty_core::store::Backend;
use loyalty_web::{AppState, Identity, WebConfig};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

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
    /// Run one housekeeping pass beside the phases, in this process, as `serve`'s job
    /// does (the [housekeeping] settings); it is stopped when the benchmark ends.
    #[arg(long)]
    housekeeping: bool,
    /// Also measure awards under a full program (10 active promotions, 3 tiers, 2 stamp
    /// cards) in a second organization, "<org>-programs", with as many customers: award
    /// phases of both organizations taken in turn (plain, full, tier pass, plain, full)
    /// and the ratio printed.
    #[arg(long)]
    programs: bool,
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
    let (org, ids) = seed(&app, &args.org, args.customers).await?;
    let ids = Arc::new(ids);
    let token = api_token(&app, &org).await?;

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

    // 3. The phases: the store alone (no HTTP), then over HTTP; with --housekeeping, a
    // pass beside them.
    let pass = args.housekeeping.then(|| {
        let (store, clock) = (store.clone(), app.clock.clone());
        let settings = config.housekeeping.clone();
        tokio::spawn(async move {
            crate::housekeeping::run(store.as_ref(), clock.as_ref(), &settings, false).await
        })
    });
    let direct = drive_store(store.clone(), org.id, &ids, &args, app.clock.clone()).await;
    outln!(
        "store only: {:.0} awards/s, p99 {:.2} ms (no HTTP)",
        direct.award_rate,
        direct.award_p99_ms
    );
    let slug = org.slug.as_str();
    let mixed = drive(&client, &base, slug, &token, &ids, &args, Mix::Mixed).await;
    let awards = drive(&client, &base, slug, &token, &ids, &args, Mix::Awards).await;
    let reads = drive(&client, &base, slug, &token, &ids, &args, Mix::Reads).await;
    let programs = if args.programs {
        let slug = format!("{}-programs", args.org);
        let (full, full_ids) = seed(&app, &slug, args.customers).await?;
        let ctx = loyalty_core::service::points::Ctx {
            store: store.as_ref(),
            clock: app.clock.as_ref(),
            org: &full,
            actor: Actor::operator("bench"),
            role: Role::Admin,
        };
        let full = programs::set_up(&ctx).await?;
        let full_token = api_token(&app, &full).await?;
        let full_ids = Arc::new(full_ids);
        let mut plain_phases = Vec::new();
        let mut full_phases = Vec::new();
        for round in 0..2 {
            if round == 1 {
                // Customers the first round lifted over a threshold are now in a tier,
                // so the second round's awards apply tier multipliers too.
                let pass = loyalty_core::service::tiers::recalculate(
                    store.as_ref(),
                    app.clock.as_ref(),
                    &full,
                )
                .await?;
                outln!(
                    "tier pass between rounds: {} customers, {} moved up",
                    pass.customers,
                    pass.up
                );
            }
            plain_phases.push(
                drive(
                    &client,
                    &base,
                    org.slug.as_str(),
                    &token,
                    &ids,
                    &args,
                    Mix::Awards,
                )
                .await,
            );
            full_phases.push(
                drive(
                    &client,
                    &base,
                    full.slug.as_str(),
                    &full_token,
                    &full_ids,
                    &args,
                    Mix::Awards,
                )
                .await,
            );
        }
        Some((plain_phases, full_phases))
    } else {
        None
    };
    let _ = stop_tx.send(());
    let _ = server.await;
    if let Some(pass) = pass {
        if pass.is_finished() {
            let removed = pass.await?.map(|o| o.report.total())?;
            outln!("housekeeping: the pass ended during the benchmark ({removed} rows removed)");
        } else {
            pass.abort();
            outln!("housekeeping: the pass was still running when the benchmark ended (stopped)");
        }
    }

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

    if let Some((plain, full)) = &programs {
        let rate =
            |p: &[Phase]| p.iter().map(|x| x.award_rate).sum::<f64>() / p.len().max(1) as f64;
        let ratio = rate(full) / rate(plain).max(f64::MIN_POSITIVE);
        for (i, (a, b)) in plain.iter().zip(full).enumerate() {
            outln!(
                "programs round {}: plain {:.0} awards/s (p99 {:.2} ms), full program {:.0} awards/s (p99 {:.2} ms)",
                i + 1,
                a.award_rate,
                a.award_p99_ms,
                b.award_rate,
                b.award_p99_ms
            );
        }
        outln!(
            "full program (10 promotions, 3 tiers, 2 stamp cards) = {:.2}x the plain award rate (target >= 0.90x)",
            ratio
        );
        out["programs"] = serde_json::json!({"plain": plain, "full": full, "ratio": ratio});
    }

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
        // pgbench's entries carry no chain hash (SQL cannot compute it): hashed now,
        // as `loyalty migrate` hashes entries older than the chain.
        let started = Instant::now();
        let hashed = store.backfill_chain().await?;
        outln!(
            "pgbench wrote {hashed} entries without their chain hash (not computed in SQL); hashed afterwards in {:.1} s, as `loyalty migrate` does",
            started.elapsed().as_secs_f64()
        );
        out["pgbench"] = serde_json::json!({"tps": pg.0, "p99_ms": pg.1, "ratio": awards.award_rate / pg.0, "p99_ratio": awards.award_p99_ms / pg.1, "entries_hashed_after": hashed});
        let inv = store.check_invariants(None).await?;
        outln!(
            "invariants after pgbench: {}",
            if inv.holds() { "OK" } else { "BROKEN" }
        );
    }

    // 6. The organization's hash chains, as `loyalty points verify` walks them.
    let chains =
        loyalty_core::service::integrity::verify_chains(store.as_ref(), Some(org.id), None).await?;
    outln!(
        "hash chains: {} customers, {} entries -> {}",
        chains.customers,
        chains.entries,
        if chains.holds() { "OK" } else { "BROKEN" }
    );
    out["chains"] = serde_json::to_value(&chains)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&out)?);
    }
    anyhow::ensure!(inv.holds(), "ledger invariants are broken");
    anyhow::ensure!(
        chains.holds(),
        "the ledger's hash chains are broken: {:?}",
        chains.first_failure
    );
    Ok(())
}

/// The organization `slug` (onboarded when missing) with at least `customers`
/// customers (bulk-enrolled when fewer); returns it and the first `customers` ids.
async fn seed(
    app: &App,
    slug: &str,
    customers: usize,
) -> anyhow::Result<(loyalty_core::domain::Organization, Vec<CustomerId>)> {
    let store = app.store.clone();
    let org = match orgs::get(store.as_ref(), slug).await {
        Ok(o) => o,
        Err(_) => {
            let input = OnboardInput {
                name: Some("Benchmark Shop".into()),
                slug: Some(slug.to_owned()),
                admin_email: Some(format!("admin@{}.bench.example.com", slug)),
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
    let mut ids: Vec<CustomerId> = store
        .list_customers(org.id, None, u32::MAX)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.len() < customers {
        let started = Instant::now();
        let mut n = ids.len() as u64;
        while (n as usize) < customers {
            let chunk: Vec<NewCustomer> = (n..(n + 5000).min(customers as u64))
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
    ids.truncate(customers);
    Ok((org, ids))
}

/// A new admin API token of `org` for the benchmark's requests.
async fn api_token(app: &App, org: &loyalty_core::domain::Organization) -> anyhow::Result<String> {
    let token = format!("lyt_{}", loyalty_core::secret::random_token());
    let actor = Actor {
        member_id: None,
        label: "bench".into(),
        role: "admin".into(),
        request_id: None,
    };
    app.store
        .insert_api_token(
            org.id,
            "bench",
            Role::Admin,
            &loyalty_core::secret::hash_token(&token),
            &actor,
            app.clock.now(),
        )
        .await?;
    Ok(token)
}
