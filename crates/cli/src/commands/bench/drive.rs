//! Driving load for `loyalty bench`: workers sending the phase's mix of requests over
//! HTTP, or awards straight through the store, and the percentiles they measured.

use super::{Args, Phase, pct};
use loyalty_core::domain::CustomerId;
use loyalty_core::domain::ledger::Actor;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What one worker measured.
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

/// What a phase sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mix {
    /// 70 % awards, 20 % balance reads, 10 % redemptions.
    Mixed,
    /// Awards only.
    Awards,
    /// Balance reads only.
    Reads,
}

pub(super) async fn drive(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    token: &str,
    ids: &Arc<Vec<CustomerId>>,
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
            let mine: Vec<CustomerId> = if ids.len() >= connections {
                ids.iter().skip(w).step_by(connections).copied().collect()
            } else {
                // Fewer customers than connections: everyone hammers the same few.
                ids.to_vec()
            };
            let mut funded: Vec<CustomerId> = Vec::new();
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

/// Awards straight through the store, as many at once as there are connections.
pub(super) async fn drive_store(
    store: Arc<dyn loyalty_core::store::Store>,
    org: loyalty_core::domain::OrgId,
    ids: &Arc<Vec<CustomerId>>,
    args: &Args,
    clock: Arc<dyn loyalty_core::clock::Clock>,
) -> Phase {
    let deadline = Instant::now() + Duration::from_secs(args.duration.min(10));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.connections {
        let (store, ids, clock) = (store.clone(), ids.clone(), clock.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = w;
            while Instant::now() < deadline {
                let customer = ids[i % ids.len()];
                i += 7919;
                let cmd = loyalty_core::domain::ledger::PointsCommand::Award {
                    customer,
                    amount: rust_decimal::Decimal::new(1250, 2),
                    currency: "USD".into(),
                    points: 12,
                    metadata: serde_json::json!({}),
                    receipt: false,
                    unusual: None,
                    program: None,
                };
                let actor = Actor {
                    member_id: None,
                    label: "bench".into(),
                    role: "admin".into(),
                    request_id: None,
                };
                let key = loyalty_core::service::points::idempotency_key(
                    &Uuid::new_v4().to_string(),
                    &cmd,
                );
                let t0 = Instant::now();
                if let Ok(key) = key
                    && store
                        .apply_points(org, &cmd, &actor, Some(&key), clock.now())
                        .await
                        .is_ok()
                {
                    lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        if let Ok(l) = t.await {
            lat.extend(l);
        }
    }
    lat.sort_unstable();
    let seconds = started.elapsed().as_secs_f64();
    Phase {
        name: "store awards (no HTTP)".into(),
        seconds,
        requests: lat.len() as u64,
        throughput: lat.len() as f64 / seconds,
        award_rate: lat.len() as f64 / seconds,
        p50_ms: pct(&lat, 0.5),
        p95_ms: pct(&lat, 0.95),
        p99_ms: pct(&lat, 0.99),
        p999_ms: pct(&lat, 0.999),
        award_p99_ms: pct(&lat, 0.99),
        ..Phase::default()
    }
}
