//! Mail use cases: an organization's mail settings, queuing sign-in and reset links,
//! the expiry-warning job, and delivering the outbox through a [`MailTransport`] (SMTP
//! in the `loyalty` binary) with retries and backoff.

use crate::Error;
use crate::clock::Clock;
use crate::directory::DirUser;
use crate::domain::{Email, OrgStatus, Organization, Role};
use crate::error::{ErrorCode, FieldError};
use crate::mail::{
    self, CLAIM_LEASE, ExpiryMail, LinkMail, MAX_ATTEMPTS, MailSettings, OutboxMail, Sender,
};
use crate::service::context::{Ctx, require_admin};
use crate::store::Store;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

/// What a mail to a customer is for, which decides who may get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Receipts, sign-in and claim links, expiry warnings: the service the customer
    /// uses; sent whatever their marketing answer.
    Transactional,
    /// Offers and news: only to customers who gave marketing consent.
    Marketing,
}

/// The rule every mail to a customer is queued under: an address is needed, and
/// marketing mail needs the customer's consent (never asked counts as no).
pub fn may_mail(purpose: Purpose, customer: &crate::domain::ledger::Customer) -> bool {
    customer.email.is_some()
        && (purpose == Purpose::Transactional || customer.marketing_consent.granted)
}

/// The customers a marketing mail of the organization may be queued for (admins): those
/// with an email address who consented, from `limit` customers by id after `after`;
/// with the cursor of the next page (`None` after the last).
pub async fn marketing_recipients(
    ctx: &Ctx<'_>,
    after: Option<crate::domain::CustomerId>,
    limit: u32,
) -> Result<
    (
        Vec<crate::domain::ledger::Customer>,
        Option<crate::domain::CustomerId>,
    ),
    Error,
> {
    require_admin(ctx, "send marketing mail")?;
    let mut page = ctx.store.list_customers(ctx.org.id, after, limit).await?;
    let next = if page.len() == limit as usize {
        page.last().map(|c| c.id)
    } else {
        None
    };
    page.retain(|c| may_mail(Purpose::Marketing, c));
    Ok((page, next))
}

/// The admin's first credential.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A one-time link to set a password.
    Link {
        /// The link.
        url: SecretString,
        /// When it expires.
        expires_at: Option<OffsetDateTime>,
    },
    /// A generated password, to be changed at first sign-in.
    Password(SecretString),
    /// None issued: the admin already had a password (an existing account was reused).
    Existing,
}

/// An organization's mail settings (admins only).
pub async fn settings(ctx: &Ctx<'_>) -> Result<MailSettings, Error> {
    require_admin(ctx, "see mail settings")?;
    Ok(ctx.store.mail_settings(ctx.org.id).await?)
}

/// Checks and stores an organization's mail settings (admins only).
pub async fn update_settings(
    ctx: &Ctx<'_>,
    sender_name: Option<&str>,
    sender_address: Option<&str>,
    points_receipt: bool,
    expiry_warning_days: Option<i64>,
) -> Result<MailSettings, Error> {
    require_admin(ctx, "change mail settings")?;
    let settings = parse_settings(
        sender_name,
        sender_address,
        points_receipt,
        expiry_warning_days,
    )?;
    ctx.store
        .update_mail_settings(ctx.org.id, &settings, &ctx.actor, ctx.clock.now())
        .await?;
    Ok(settings)
}

/// Checks mail settings as typed.
pub fn parse_settings(
    sender_name: Option<&str>,
    sender_address: Option<&str>,
    points_receipt: bool,
    expiry_warning_days: Option<i64>,
) -> Result<MailSettings, Error> {
    let mut errors = Vec::new();
    let name = sender_name
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 120 || n.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "sender_name",
            "must be at most 120 characters without line breaks, such as \"NextDoor Market\"",
        ));
    }
    let address = match sender_address.map(str::trim).filter(|s| !s.is_empty()) {
        Some(a) => Email::parse(a)
            .map(|e| Some(e.as_str().to_owned()))
            .map_err(|e| errors.push(e.renamed("sender_address")))
            .unwrap_or(None),
        None => None,
    };
    let days = match expiry_warning_days {
        Some(d) if !(1..=365).contains(&d) => {
            errors.push(FieldError::new(
                "expiry_warning_days",
                "must be from 1 to 365 days, or off for no warnings",
            ));
            None
        }
        Some(d) => i32::try_from(d).ok(),
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(MailSettings {
        sender_name: name,
        sender_address: address,
        points_receipt,
        expiry_warning_days: days,
    })
}

/// Queues the mail carrying a new staff member's one-time sign-in link, when the
/// credential is a link and they have an email address. Returns whether one was queued.
pub async fn queue_sign_in_link(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
    user: &DirUser,
    role: Role,
    credential: &Credential,
) -> Result<bool, Error> {
    let (Credential::Link { url, expires_at }, Some(to)) = (credential, user.email.as_deref())
    else {
        return Ok(false);
    };
    let settings = store.mail_settings(org.id).await?;
    let role_word = match (
        org.language.as_str().to_ascii_lowercase().starts_with("pt"),
        role,
    ) {
        (true, Role::Admin) => "administrador",
        (true, _) => "caixa",
        (false, Role::Admin) => "admin",
        (false, _) => "cashier",
    };
    let mail = LinkMail {
        org: Some(org.id),
        org_name: &org.name,
        language: org.language.as_str(),
        timezone: org.timezone.as_str(),
        sender: Sender::of_org(&settings, &org.name),
        to,
        name: Some(user.name.as_str()),
        username: &user.username,
        role: Some(role_word),
        url: url.expose_secret(),
        expires_at: *expires_at,
    }
    .sign_in(clock.now());
    store
        .withdraw_link_mails(Some(org.id), to, clock.now())
        .await?;
    Ok(store.enqueue_mail(&mail).await?)
}

/// Queues a password-reset mail with a fresh one-time link for `user` (an operator's or
/// admin's action); in the organization's language and sender when one is given.
/// Errors when the person has no email address or the provider cannot issue links.
pub async fn queue_password_reset(
    store: &dyn Store,
    clock: &dyn Clock,
    dir: &dyn crate::directory::Directory,
    user: &DirUser,
    org: Option<&Organization>,
) -> Result<String, Error> {
    queue_password_reset_in(store, clock, dir, user, org, None).await
}

/// [`queue_password_reset`] with the mail in `language` (a BCP 47 tag) instead of the
/// organization's, when the person's own language is known (self-service resets).
pub async fn queue_password_reset_in(
    store: &dyn Store,
    clock: &dyn Clock,
    dir: &dyn crate::directory::Directory,
    user: &DirUser,
    org: Option<&Organization>,
    language: Option<&str>,
) -> Result<String, Error> {
    let to = user.email.clone().ok_or_else(|| {
        Error::field(
            "email",
            format!(
                "{} has no email address; give them the link another way (`loyalty user link {}`)",
                user.username, user.username
            ),
        )
    })?;
    let link = dir.password_set_link(user.pk).await?.ok_or_else(|| {
        Error::Conflict(
            ErrorCode::IdentityNoLinks,
            "the identity provider cannot issue one-time links (no recovery flow)".into(),
        )
    })?;
    let settings = match org {
        Some(o) => store.mail_settings(o.id).await?,
        None => MailSettings::default(),
    };
    let mail = LinkMail {
        org: org.map(|o| o.id),
        org_name: org.map(|o| o.name.as_str()).unwrap_or("Loyalty"),
        language: language
            .or(org.map(|o| o.language.as_str()))
            .unwrap_or("en-US"),
        timezone: org.map(|o| o.timezone.as_str()).unwrap_or("UTC"),
        sender: org
            .map(|o| Sender::of_org(&settings, &o.name))
            .unwrap_or_default(),
        to: &to,
        name: Some(user.name.as_str()),
        username: &user.username,
        role: None,
        url: link.url.expose_secret(),
        expires_at: link.expires_at,
    }
    .reset(clock.now());
    store
        .withdraw_link_mails(org.map(|o| o.id), &to, clock.now())
        .await?;
    store.enqueue_mail(&mail).await?;
    Ok(to)
}

/// Queues expiry warnings for an organization: one mail per customer per expiry date
/// (the dedupe key), for points that expire within the organization's warning window.
/// Safe to run any number of times and on several instances. Returns mails queued now.
pub async fn queue_expiry_warnings(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &Organization,
) -> Result<u64, Error> {
    let Some(expiry_days) = org.expiry_days else {
        return Ok(0);
    };
    if org.status != OrgStatus::Active {
        return Ok(0);
    }
    let settings = store.mail_settings(org.id).await?;
    let Some(warn_days) = settings.expiry_warning_days else {
        return Ok(0);
    };
    let now = clock.now();
    let expiry = time::Duration::days(i64::from(expiry_days));
    // Points earned at or before this instant expire within the window.
    let cutoff = now + time::Duration::days(i64::from(warn_days)) - expiry;
    let composer = ExpiryMail {
        org: org.id,
        org_name: &org.name,
        language: org.language.as_str(),
        timezone: org.timezone.as_str(),
        sender: Sender::of_org(&settings, &org.name),
    };
    let mut queued = 0;
    for target in store.expiry_targets(org.id, cutoff, true).await? {
        let Some(oldest) = target.oldest_unspent else {
            continue;
        };
        let expires_at = oldest + expiry;
        // Already due: the expiry job takes them; a warning for a past date helps no one.
        if target.expiring() <= 0 || expires_at <= now {
            continue;
        }
        if store
            .enqueue_mail(&composer.warning(&target, expires_at, now))
            .await?
        {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Queues the mail telling an organization's contact that a webhook endpoint was
/// disabled; `false` when the organization has no contact address.
pub async fn queue_webhook_disabled(
    store: &dyn Store,
    clock: &dyn Clock,
    endpoint: &crate::webhook::Endpoint,
) -> Result<bool, Error> {
    let Some(org) = store
        .list_organizations()
        .await?
        .into_iter()
        .map(|s| s.org)
        .find(|o| o.id == endpoint.organization_id)
    else {
        return Ok(false);
    };
    let Some(to) = org.contact_email.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(false);
    };
    Ok(store
        .enqueue_mail(&mail::webhook_disabled_mail(
            org.id,
            &org.name,
            org.language.as_str(),
            to,
            endpoint.id,
            &endpoint.url,
            clock.now(),
        ))
        .await?)
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// What the server or network said.
    pub message: String,
    /// Whether retrying cannot help (the server refused the recipient or message).
    pub permanent: bool,
}

/// Something that hands a mail to a mail server.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Sends one mail; `Ok` once the server has accepted it.
    async fn send(&self, mail: &OutboxMail) -> Result<(), TransportError>;
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Accepted by the server.
    pub sent: u64,
    /// Failed; will be retried.
    pub retrying: u64,
    /// Given up (too many attempts, refused, or no longer useful).
    pub given_up: u64,
    /// The last error seen.
    pub last_error: Option<String>,
}

/// Claims due mails and sends them one by one, marking each right after the server's
/// answer, until none are due. A mail is marked sent in its own write right after the
/// server accepts it; only if the process dies (or the database fails) between the two
/// is it sent again once its claim lapses.
pub async fn deliver_due(
    store: &dyn Store,
    clock: &dyn Clock,
    transport: &dyn MailTransport,
    batch: u32,
) -> Result<DeliveryReport, Error> {
    let mut report = DeliveryReport::default();
    loop {
        let now = clock.now();
        let lease_until = now + CLAIM_LEASE;
        let claimed = store.claim_mails(now, lease_until, batch).await?;
        let mut done = claimed.len() < batch as usize;
        for m in claimed {
            let id = m.mail.id;
            // Never start sending a mail whose claim is about to lapse: another sender may
            // take it then. Left alone, it is claimed again once the claim has lapsed.
            if clock.now() + CLAIM_LEASE / 4 > lease_until {
                tracing::warn!(mail = %id, "mail claim nearly lapsed before sending; leaving it for the next pass");
                done = true;
                continue;
            }
            if m.mail.discard_after.is_some_and(|t| t <= now) {
                let why = "not sent before it stopped being useful (link expired or news too old)";
                store.mark_mail_failed(id, why, None, now).await?;
                report.given_up += 1;
                report.last_error = Some(why.into());
                continue;
            }
            match transport.send(&m).await {
                Ok(()) => {
                    store
                        .mark_mail_sent(id, clock.now(), m.mail.kind.is_secret())
                        .await?;
                    report.sent += 1;
                    tracing::info!(mail = %id, kind = %m.mail.kind, attempts = m.attempts, "mail sent");
                }
                Err(e) => {
                    let give_up = e.permanent || m.attempts >= MAX_ATTEMPTS;
                    let retry_at = (!give_up).then(|| clock.now() + mail::backoff(m.attempts));
                    store
                        .mark_mail_failed(id, &e.message, retry_at, clock.now())
                        .await?;
                    if give_up {
                        report.given_up += 1;
                        tracing::warn!(mail = %id, kind = %m.mail.kind, attempts = m.attempts, error = %e.message, "mail given up");
                    } else {
                        report.retrying += 1;
                        tracing::warn!(mail = %id, kind = %m.mail.kind, attempts = m.attempts, error = %e.message, "mail failed; will retry");
                    }
                    report.last_error = Some(e.message);
                }
            }
        }
        if done {
            return Ok(report);
        }
    }
}
