//! Posting webhooks over HTTP(S): the transport behind the webhook outbox with its
//! guard against private targets, the worker `serve` runs, and its metrics
//! (`loyalty_webhooks_delivered_total`, `loyalty_webhooks_failed_total`).

use crate::config::WebhooksConfig;
use async_trait::async_trait;
use loyalty_core::clock::Clock;
use loyalty_core::service::webhooks::{self as service, Answer, PostError, WebhookTransport};
use loyalty_core::store::Store;
use loyalty_core::webhook::target::check_target;
use loyalty_core::webhook::{EXCERPT_CHARS, TIMEOUT};
use std::sync::Arc;
use std::time::Duration;

/// Most deliveries claimed per database round trip.
const BATCH: u32 = 4;

/// The HTTP sender built from `[webhooks]`.
pub struct HttpTransport {
    allow_private: bool,
}

impl HttpTransport {
    /// The sender; with `allow_private` it also posts to private and loopback addresses.
    pub fn new(config: &WebhooksConfig) -> Self {
        loyalty_identity::authentik::install_crypto_provider();
        Self {
            allow_private: config.allow_private,
        }
    }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<Answer, PostError> {
        let target = check_target(url, self.allow_private)
            .await
            .map_err(|e| PostError {
                permanent: e.permanent(),
                message: e.to_string(),
            })?;
        let (host, addrs) = (target.host.as_str(), target.addrs.as_slice());
        // Pinned to the addresses checked, so a second lookup cannot lead elsewhere.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(host, addrs)
            .build()
            .map_err(|e| PostError {
                message: e.to_string(),
                permanent: false,
            })?;
        let mut request = client.post(target.url.clone()).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| PostError {
            message: describe(&e),
            permanent: false,
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(Answer {
            status,
            excerpt: text.chars().take(EXCERPT_CHARS).collect(),
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// One delivery pass with metrics.
pub async fn deliver(
    store: &dyn Store,
    clock: &dyn Clock,
    transport: &dyn WebhookTransport,
) -> anyhow::Result<service::DeliveryReport> {
    let report = service::deliver_due(store, clock, transport, BATCH).await?;
    metrics::counter!("loyalty_webhooks_delivered_total").increment(report.delivered);
    metrics::counter!("loyalty_webhooks_failed_total").increment(report.retrying + report.given_up);
    Ok(report)
}

/// The name of the daily `points.expiring_soon` pass's lease in `job_leases`.
pub const EXPIRING_LEASE: &str = "webhooks.expiring_soon";

/// Queues `points.expiring_soon` for every active organization with points expiry.
pub async fn queue_expiring_soon(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<u64> {
    let mut queued = 0;
    for s in store.list_organizations().await? {
        if s.org.status != loyalty_core::domain::OrgStatus::Active || s.org.expiry_days.is_none() {
            continue;
        }
        match service::queue_expiring_soon(store, clock, &s.org).await {
            Ok(n) => queued += n,
            Err(e) => {
                tracing::warn!(org = %s.org.slug, error = %e, "cannot queue points.expiring_soon")
            }
        }
    }
    Ok(queued)
}

/// The worker `serve` runs: delivers the webhook outbox every `poll_interval_secs`, and
/// once a day, on whichever instance holds the lease, queues `points.expiring_soon`.
pub async fn worker(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: WebhooksConfig) {
    let transport = HttpTransport::new(&config);
    let holder = loyalty_core::secret::random_token();
    let mut tick = tokio::time::interval(Duration::from_secs(config.poll_interval_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_expiring = clock.now();
    loop {
        tick.tick().await;
        let now = clock.now();
        if now >= next_expiring {
            next_expiring = now + time::Duration::hours(1);
            // The lease lasts most of a day: the instance that takes it runs the pass,
            // the others find it held until tomorrow.
            match store
                .try_lease(
                    EXPIRING_LEASE,
                    &holder,
                    now,
                    now + time::Duration::hours(23),
                )
                .await
            {
                Ok(true) => {
                    next_expiring = now + time::Duration::hours(24);
                    match queue_expiring_soon(store.as_ref(), clock.as_ref()).await {
                        Ok(n) if n > 0 => tracing::info!(queued = n, "points.expiring_soon queued"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "points.expiring_soon pass failed"),
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "points.expiring_soon: cannot take the lease"),
            }
        }
        if let Err(e) = deliver(store.as_ref(), clock.as_ref(), &transport).await {
            tracing::warn!(error = %e, "webhook delivery pass failed");
        }
    }
}
