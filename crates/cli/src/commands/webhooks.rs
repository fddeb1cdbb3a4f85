//! `loyalty webhooks`: read an organization's endpoints and delivery log, queue a test
//! event, make a delivery due again, or deliver what is due now.

use crate::UserError;
use crate::app::{App, Schema};
use crate::config::Config;
use crate::output::{table, when};
use loyalty_core::domain::Role;
use loyalty_core::service::orgs;
use loyalty_core::service::points::Ctx;
use loyalty_core::service::webhooks as service;
use uuid::Uuid;

/// Webhook commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List an organization's webhook endpoints and its newest deliveries (status,
    /// attempts, last HTTP status, latency, last error).
    List {
        /// Organization slug.
        slug: String,
        /// How many deliveries.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Queue a `webhook.test` event for one endpoint of an organization; `serve` (or
    /// `loyalty webhooks flush`) posts it.
    Test {
        /// Organization slug.
        slug: String,
        /// The endpoint's id (see `loyalty webhooks list`).
        endpoint: String,
        /// Who sends it (default: the USER environment variable).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Make one delivery due now with a fresh count of attempts (after a receiver is
    /// fixed); it is posted again with the same webhook-id.
    Retry {
        /// The delivery's id (see `loyalty webhooks list`).
        delivery: String,
    },
    /// Post every due delivery now (what `serve` does every few seconds), then exit.
    /// Honours [webhooks] allow_private.
    Flush,
}

fn parse_id(what: &str, text: &str) -> Result<Uuid, UserError> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        UserError(format!(
            "{what} {text:?} is not an id; copy it from `loyalty webhooks list <slug>`"
        ))
    })
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::List { slug, limit } => {
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let org = orgs::get(app.store.as_ref(), &slug).await?;
            let endpoints = app.store.list_webhook_endpoints(org.id).await?;
            let rows: Vec<Vec<String>> = endpoints
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.url.clone(),
                        e.events.join(","),
                        if e.active { "active" } else { "disabled" }.into(),
                        e.failing_since.map(when).unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            outln!("endpoints");
            out!(
                "{}",
                table(&["id", "url", "events", "state", "failing since"], &rows)
            );
            let deliveries = app
                .store
                .list_webhook_deliveries(Some(org.id), limit.clamp(1, 1000))
                .await?;
            let rows: Vec<Vec<String>> = deliveries
                .iter()
                .map(|d| {
                    vec![
                        d.id.to_string(),
                        when(d.created_at),
                        d.event_type.clone(),
                        d.event_id.clone(),
                        d.status().into(),
                        d.attempts.to_string(),
                        d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                        d.latency_ms.map(|s| format!("{s} ms")).unwrap_or_default(),
                        d.last_error
                            .as_deref()
                            .unwrap_or_default()
                            .chars()
                            .take(60)
                            .collect(),
                    ]
                })
                .collect();
            outln!("deliveries");
            out!(
                "{}",
                table(
                    &[
                        "id",
                        "queued",
                        "event",
                        "webhook-id",
                        "state",
                        "attempts",
                        "http",
                        "latency",
                        "last error"
                    ],
                    &rows
                )
            );
            Ok(())
        }
        Command::Test { slug, endpoint, by } => {
            let id = parse_id("endpoint", &endpoint)?;
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let org = orgs::get(app.store.as_ref(), &slug).await?;
            let ctx = Ctx {
                store: app.store.as_ref(),
                clock: app.clock.as_ref(),
                org: &org,
                actor: crate::commands::org::operator(by),
                role: Role::Admin,
            };
            let event = service::send_test(&ctx, id).await?;
            outln!("test event {event} queued for {id}");
            Ok(())
        }
        Command::Retry { delivery } => {
            let id = parse_id("delivery", &delivery)?;
            let app = App::open(&config, Schema::RequireCurrent).await?;
            if !app
                .store
                .retry_webhook_delivery(None, id, app.clock.now())
                .await?
            {
                return Err(UserError(format!(
                    "no delivery {id} (or it is being posted right now); see `loyalty webhooks list <slug>`"
                ))
                .into());
            }
            outln!("delivery {id} due now");
            Ok(())
        }
        Command::Flush => {
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let transport = crate::webhooks::HttpTransport::new(&config.webhooks);
            let report =
                crate::webhooks::deliver(app.store.as_ref(), app.clock.as_ref(), &transport)
                    .await?;
            outln!(
                "delivered {}, will retry {}, given up {}, endpoints disabled {}",
                report.delivered,
                report.retrying,
                report.given_up,
                report.disabled
            );
            Ok(())
        }
    }
}
