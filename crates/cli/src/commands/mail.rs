//! `loyalty mail`: check the SMTP settings, read and drive the outbox, and change an
//! organization's mail settings.

use crate::UserError;
use crate::app::{App, Schema};
use crate::config::Config;
use crate::mail::SmtpSender;
use crate::output::{table, when};
use loyalty_core::domain::Role;
use loyalty_core::mail::{self as mail_model, OutboxMail};
use loyalty_core::service::mail::{self as mail_service, MailTransport};
use loyalty_core::service::orgs;
use loyalty_core::service::points::Ctx;

/// Mail commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Send a test message now, straight to the SMTP server (not through the outbox),
    /// to check the [mail] settings. Exit 0 only when the server accepted it.
    Test {
        /// Recipient address.
        #[arg(long, value_name = "ADDRESS")]
        to: String,
    },
    /// Show the outbox: pending, retrying, failed and sent mails, and the last error.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also connect to the SMTP server (greeting and sign-in, no message).
        #[arg(long)]
        check: bool,
    },
    /// List the newest mails of an organization (or operator mail without --org).
    List {
        /// Organization slug.
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Send every due mail now (what `serve` does every few seconds), then exit.
    Flush,
    /// Make every unsent mail, failed ones included (but not link mails withdrawn by a
    /// newer link), due now with a fresh count of attempts (after fixing the SMTP
    /// settings). `serve` or `mail flush` then sends them.
    Retry,
    /// Show or change an organization's mail settings.
    Settings {
        /// Organization slug.
        slug: String,
        /// Sender display name (empty to use the organization's name).
        #[arg(long, value_name = "NAME")]
        sender_name: Option<String>,
        /// Reply-To address for the organization's mail (empty for none).
        #[arg(long, value_name = "ADDRESS")]
        sender_address: Option<String>,
        /// Points receipts to customers: on or off (off by default).
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        receipts: Option<bool>,
        /// Days before points expire to warn customers, or off.
        #[arg(long, value_name = "DAYS|off")]
        expiry_warning_days: Option<String>,
        /// Who changes the settings, for the audit log (default: the USER environment
        /// variable).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

fn on_off(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{s:?}: write on or off")),
    }
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Test { to } => {
            let sender = SmtpSender::new(&config.mail)?;
            let address = loyalty_core::domain::Email::parse(&to)
                .map_err(|e| UserError(format!("--to: {}", e.message)))?;
            let clock = loyalty_core::clock::SystemClock;
            let mail =
                mail_model::test_mail(address.as_str(), loyalty_core::clock::Clock::now(&clock));
            let row = OutboxMail {
                next_attempt_at: mail.created_at,
                mail,
                attempts: 1,
                last_error: None,
                sent_at: None,
                failed_at: None,
            };
            sender.send(&row).await.map_err(|e| {
                anyhow::anyhow!(
                    "the SMTP server did not take the test message: {}; check mail.smtp_host, smtp_port, tls ({}), smtp_user and smtp_password",
                    e.message,
                    format!("{:?}", config.mail.tls).to_lowercase()
                )
            })?;
            outln!(
                "Test message accepted by {} for {}.",
                sender.server,
                address.as_str()
            );
            Ok(())
        }
        Command::Status { json, check } => {
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let status = app.store.mail_status().await?;
            let reachable = if check {
                let sender = SmtpSender::new(&config.mail)?;
                Some(sender.check().await)
            } else {
                None
            };
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "configured": config.mail.is_configured(),
                        "reachable": reachable.as_ref().map(|r| r.is_ok()),
                        "error": reachable.as_ref().and_then(|r| r.as_ref().err()),
                        "outbox": status,
                    }))?
                );
                return Ok(());
            }
            outln!(
                "smtp      {}",
                if config.mail.is_configured() {
                    format!(
                        "{}:{} ({:?})",
                        config.mail.smtp_host.as_deref().unwrap_or_default(),
                        config.mail.port(),
                        config.mail.tls
                    )
                    .to_lowercase()
                } else {
                    "not configured: mail stays in the outbox (set SMTP_HOST and SMTP_FROM)".into()
                }
            );
            match &reachable {
                Some(Ok(())) => outln!("reachable yes"),
                Some(Err(e)) => outln!("reachable NO: {e}"),
                None => {}
            }
            outln!("pending   {}", status.pending);
            outln!("retrying  {}", status.retrying);
            outln!("failed    {}", status.failed);
            outln!("sent      {}", status.sent);
            outln!(
                "oldest    {}",
                status
                    .oldest_pending
                    .map(when)
                    .unwrap_or_else(|| "-".into())
            );
            outln!("last error {}", status.last_error.as_deref().unwrap_or("-"));
            Ok(())
        }
        Command::List { org, limit } => {
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let org_id = match &org {
                Some(slug) => Some(orgs::get(app.store.as_ref(), slug).await?.id),
                None => None,
            };
            let mails = app.store.list_mails(org_id, limit.clamp(1, 1000)).await?;
            let rows: Vec<Vec<String>> = mails
                .iter()
                .map(|m| {
                    vec![
                        when(m.mail.created_at),
                        m.mail.kind.to_string(),
                        m.mail.to_address.clone(),
                        state(m),
                        m.attempts.to_string(),
                        m.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(
                    &["queued", "kind", "to", "state", "attempts", "last error"],
                    &rows
                )
            );
            Ok(())
        }
        Command::Flush => {
            let sender = SmtpSender::new(&config.mail)?;
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let report =
                crate::mail::deliver(app.store.as_ref(), app.clock.as_ref(), &sender).await?;
            outln!(
                "sent {}, will retry {}, given up {}{}",
                report.sent,
                report.retrying,
                report.given_up,
                report
                    .last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Command::Retry => {
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let n = app.store.retry_mails(app.clock.now()).await?;
            outln!("{n} mail(s) due now");
            Ok(())
        }
        Command::Settings {
            slug,
            sender_name,
            sender_address,
            receipts,
            expiry_warning_days,
            by,
        } => {
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let org = orgs::get(app.store.as_ref(), &slug).await?;
            let current = app.store.mail_settings(org.id).await?;
            let changing = sender_name.is_some()
                || sender_address.is_some()
                || receipts.is_some()
                || expiry_warning_days.is_some();
            let settings = if changing {
                let days = match expiry_warning_days.as_deref().map(str::trim) {
                    None => current.expiry_warning_days.map(i64::from),
                    Some("off") => None,
                    Some(d) => Some(d.parse::<i64>().map_err(|_| {
                        UserError(format!(
                            "--expiry-warning-days {d:?}: write a number of days from 1 to 365, or off"
                        ))
                    })?),
                };
                let ctx = Ctx {
                    store: app.store.as_ref(),
                    clock: app.clock.as_ref(),
                    org: &org,
                    actor: crate::commands::org::operator(by),
                    role: Role::Admin,
                };
                mail_service::update_settings(
                    &ctx,
                    sender_name.as_deref().or(current.sender_name.as_deref()),
                    sender_address
                        .as_deref()
                        .or(current.sender_address.as_deref()),
                    receipts.unwrap_or(current.points_receipt),
                    days,
                )
                .await?
            } else {
                current
            };
            outln!("organization         {}", org.slug);
            outln!(
                "sender name          {}",
                settings
                    .sender_name
                    .clone()
                    .unwrap_or_else(|| format!("{} (the organization's name)", org.name))
            );
            outln!(
                "sender address       {}",
                settings
                    .sender_address
                    .as_deref()
                    .unwrap_or("- (replies go to the SMTP_FROM address)")
            );
            outln!(
                "points receipts      {}",
                if settings.points_receipt { "on" } else { "off" }
            );
            outln!(
                "expiry warnings      {}",
                match (settings.expiry_warning_days, org.expiry_days) {
                    (Some(d), Some(_)) => format!("{d} days before points expire"),
                    (Some(d), None) =>
                        format!("{d} days before (points of this organization never expire)"),
                    (None, _) => "off".into(),
                }
            );
            Ok(())
        }
    }
}

fn state(m: &OutboxMail) -> String {
    if let Some(t) = m.sent_at {
        format!("sent {}", when(t))
    } else if let Some(t) = m.failed_at {
        format!("failed {}", when(t))
    } else if m.attempts > 0 {
        format!("retry {}", when(m.next_attempt_at))
    } else {
        "pending".into()
    }
}
