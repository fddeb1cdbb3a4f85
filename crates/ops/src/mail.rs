//! Sending mail over SMTP (lettre, rustls): the transport behind the outbox, the worker
//! `serve` runs, and its metrics (`loyalty_mail_outbox_pending`,
//! `loyalty_mail_sent_total`, `loyalty_mail_failed_total`).

use crate::UserError;
use crate::config::{MailConfig, MailTls};
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use loyalty_core::clock::Clock;
use loyalty_core::mail::OutboxMail;
use loyalty_core::service::mail::{self as mail_service, MailTransport, TransportError};
use loyalty_core::store::Store;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// Most mails claimed per database round trip.
const MAX_BATCH: u32 = 50;

/// The SMTP sender built from `[mail]`.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Host and port, for messages.
    pub server: String,
    /// Longest one SMTP exchange may take.
    timeout: Duration,
}

impl SmtpSender {
    /// Builds the sender; a user error when `[mail]` is incomplete or invalid.
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let host = config
            .smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                UserError(
                    "mail is not configured: set SMTP_HOST (mail.smtp_host) and SMTP_FROM (mail.from)"
                        .into(),
                )
            })?;
        let from_text = config
            .from
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                UserError(
                    "mail.from is not set: set SMTP_FROM to the sender address, such as noreply@loyalty.example.com".into(),
                )
            })?;
        let from: Mailbox = from_text.parse().map_err(|e| {
            UserError(format!(
                "mail.from {from_text:?} is not an address ({e}); write it like noreply@loyalty.example.com or \"Loyalty <noreply@loyalty.example.com>\""
            ))
        })?;
        let builder = match config.tls {
            MailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            MailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            MailTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|e| UserError(format!("mail.smtp_host {host:?}: {e}")))?;
        let mut builder = builder
            .port(config.port())
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if let Some(user) = config.smtp_user.as_deref().filter(|u| !u.is_empty()) {
            let password = config
                .smtp_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.to_owned(), password));
        }
        Ok(Self {
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
            transport: builder.build(),
            from,
            server: format!("{host}:{}", config.port()),
        })
    }

    /// The message for an outbox row: From is the configured address (so SPF and DKIM
    /// of the sending domain hold) with the organization's sender name; replies go to
    /// the organization's address.
    pub fn message(&self, m: &OutboxMail) -> Result<Message, TransportError> {
        let bad = |what: &str, e: String| TransportError {
            message: format!("{what}: {e}"),
            permanent: true,
        };
        let mail = &m.mail;
        let from = match &mail.from_name {
            Some(name) => Mailbox::new(Some(name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let to: Mailbox = mail
            .to_address
            .parse()
            .map_err(|e: lettre::address::AddressError| bad("recipient", e.to_string()))?;
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject.clone())
            // Stable per outbox row: a resend after a crash carries the same id, so mail
            // systems and clients can recognise the duplicate.
            .message_id(Some(format!("<{}@{domain}>", mail.id)));
        if let Some(reply) = &mail.reply_to {
            let reply: Mailbox = reply
                .parse()
                .map_err(|e: lettre::address::AddressError| bad("reply-to", e.to_string()))?;
            builder = builder.reply_to(reply);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body_text.clone());
        let built = match &mail.body_html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
            ),
            None => builder.singlepart(text),
        };
        built.map_err(|e| bad("message", e.to_string()))
    }

    /// Connects, greets and authenticates, without sending.
    pub async fn check(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{} did not accept the connection", self.server)),
            Err(e) => Err(describe(&e)),
        }
    }
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
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

#[async_trait]
impl MailTransport for SmtpSender {
    async fn send(&self, mail: &OutboxMail) -> Result<(), TransportError> {
        let message = self.message(mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| TransportError {
                message: format!("{}: {}", self.server, describe(&e)),
                permanent: e.is_permanent(),
            })
    }
}

/// One delivery pass with metrics: sends what is due and updates the gauges.
pub async fn deliver(
    store: &dyn Store,
    clock: &dyn Clock,
    sender: &SmtpSender,
) -> anyhow::Result<mail_service::DeliveryReport> {
    // A claim lasts CLAIM_LEASE; claim no more than can be sent at the slowest (every mail
    // taking the whole timeout) within half of it, so a claim never lapses mid-batch and
    // another sender never takes a mail this one is still going to send.
    let lease = loyalty_core::mail::CLAIM_LEASE
        .whole_seconds()
        .max(1)
        .unsigned_abs();
    let per_mail = sender.timeout.as_secs().max(1);
    let batch = u32::try_from(lease / 2 / per_mail)
        .unwrap_or(MAX_BATCH)
        .clamp(1, MAX_BATCH);
    let report = mail_service::deliver_due(store, clock, sender, batch).await?;
    metrics::counter!("loyalty_mail_sent_total").increment(report.sent);
    metrics::counter!("loyalty_mail_failed_total").increment(report.retrying + report.given_up);
    if let Ok(status) = store.mail_status().await {
        metrics::gauge!("loyalty_mail_outbox_pending").set(status.pending as f64);
    }
    Ok(report)
}

/// Queues expiry warnings for every active organization that has points expiry.
pub async fn queue_expiry_warnings(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<u64> {
    let mut queued = 0;
    for s in store.list_organizations().await? {
        if s.org.status != loyalty_core::domain::OrgStatus::Active || s.org.expiry_days.is_none() {
            continue;
        }
        match mail_service::queue_expiry_warnings(store, clock, &s.org).await {
            Ok(n) => queued += n,
            Err(e) => {
                tracing::warn!(org = %s.org.slug, error = %e, "cannot queue expiry warnings")
            }
        }
    }
    Ok(queued)
}

/// The worker `serve` runs when mail is configured: delivers the outbox every `poll`,
/// and queues expiry warnings hourly on whichever instance holds that job's lease.
pub async fn worker(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sender: SmtpSender,
    poll: Duration,
) {
    let holder = loyalty_core::secret::random_token();
    let mut tick = tokio::time::interval(poll.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_warnings = clock.now();
    loop {
        tick.tick().await;
        let now = clock.now();
        if now >= next_warnings {
            next_warnings = now + time::Duration::hours(1);
            match store
                .try_lease(
                    "mail.expiry_warnings",
                    &holder,
                    now,
                    now + time::Duration::minutes(55),
                )
                .await
            {
                Ok(true) => match queue_expiry_warnings(store.as_ref(), clock.as_ref()).await {
                    Ok(n) if n > 0 => tracing::info!(queued = n, "expiry warnings queued"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "expiry warnings failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "expiry warnings: cannot take the lease"),
            }
        }
        if let Err(e) = deliver(store.as_ref(), clock.as_ref(), &sender).await {
            tracing::warn!(error = %e, "mail delivery pass failed");
        }
    }
}
