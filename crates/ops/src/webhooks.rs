//! Posting webhooks over HTTP(S): the transport behind the webhook outbox with its
//! guard against private targets, the worker `serve` runs, and its metrics
//! (`loyalty_webhooks_delivered_total`, `loyalty_webhooks_failed_total`).

use crate::config::WebhooksConfig;
use async_trait::async_trait;
use loyalty_core::clock::Clock;
use loyalty_core::service::webhooks::{self as service, Answer, PostError, WebhookTransport};
use loyalty_core::store::Store;
use loyalty_core::webhook::{EXCERPT_CHARS, TIMEOUT};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Most deliveries claimed per database round trip.
const BATCH: u32 = 4;

/// Whether an address is one a shop's endpoint may not point at: loopback, private,
/// link-local, unique-local, shared (carrier-grade NAT), unspecified, multicast or
/// documentation ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

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

fn refused(message: String) -> PostError {
    PostError {
        message,
        permanent: true,
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
        let parsed = url::Url::parse(url).map_err(|e| refused(format!("{url}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refused(format!("{url}: only http and https are posted to")));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| refused(format!("{url}: no host")))?
            .to_owned();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let lookup = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup.as_str(), port))
            .await
            .map_err(|e| PostError {
                message: format!("{host}: cannot resolve ({e})"),
                permanent: false,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(PostError {
                message: format!("{host}: no address"),
                permanent: false,
            });
        }
        if !self.allow_private
            && let Some(a) = addrs.iter().find(|a| is_private(a.ip()))
        {
            return Err(refused(format!(
                "{host} resolves to {}, a private or loopback address; webhooks go to public addresses only (webhooks.allow_private)",
                a.ip()
            )));
        }
        // Pinned to the addresses checked, so a second lookup cannot lead elsewhere.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| PostError {
                message: e.to_string(),
                permanent: false,
            })?;
        let mut request = client.post(parsed).body(body.to_owned());
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

/// The worker `serve` runs: delivers the webhook outbox every `poll_interval_secs`.
pub async fn worker(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: WebhooksConfig) {
    let transport = HttpTransport::new(&config);
    let mut tick = tokio::time::interval(Duration::from_secs(config.poll_interval_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = deliver(store.as_ref(), clock.as_ref(), &transport).await {
            tracing::warn!(error = %e, "webhook delivery pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }
}
