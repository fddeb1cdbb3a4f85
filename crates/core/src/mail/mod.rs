//! Mail as data: the kinds of mail `loyalty` sends, the outbox rows they are queued as,
//! per-organization mail settings and the outbox rules (retry schedule, claim lease,
//! how long a mail stays worth sending); the texts in each supported language (en-US,
//! pt-BR) are composed in `compose.rs`. Sending over SMTP happens at the edge
//! (`loyalty-ops`, run by `loyalty serve` and `loyalty mail`); here a mail is only ever
//! a row to write in the same transaction as its cause.

mod compose;

pub use compose::{
    ExpiryMail, LinkMail, Sender, iso_local_date, points_receipt, test_mail, webhook_disabled_mail,
};

use crate::domain::{CustomerId, OrgId};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// What a mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// A one-time link for a new admin or cashier to set their password.
    SignInLink,
    /// A one-time link to set a new password.
    PasswordReset,
    /// A customer's receipt for points awarded on a purchase.
    PointsReceipt,
    /// A customer's warning that points will expire soon.
    ExpiryWarning,
    /// An operator's test message.
    Test,
    /// To an organization's contact: a webhook endpoint was disabled after failing.
    WebhookDisabled,
}

impl MailKind {
    /// The value stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::SignInLink => "sign_in_link",
            MailKind::PasswordReset => "password_reset",
            MailKind::PointsReceipt => "points_receipt",
            MailKind::ExpiryWarning => "expiry_warning",
            MailKind::Test => "test",
            MailKind::WebhookDisabled => "webhook_disabled",
        }
    }

    /// Parses a stored value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sign_in_link" => MailKind::SignInLink,
            "password_reset" => MailKind::PasswordReset,
            "points_receipt" => MailKind::PointsReceipt,
            "expiry_warning" => MailKind::ExpiryWarning,
            "test" => MailKind::Test,
            "webhook_disabled" => MailKind::WebhookDisabled,
            _ => return None,
        })
    }

    /// Whether the body holds a secret (a one-time link): such bodies are erased from
    /// the outbox once the mail is sent.
    pub fn is_secret(self) -> bool {
        matches!(self, MailKind::SignInLink | MailKind::PasswordReset)
    }
}

impl std::fmt::Display for MailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mail to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    /// Row id (also the base of the `Message-ID`, so a resend is recognisable).
    pub id: Uuid,
    /// The organization it belongs to; `None` for operator mail.
    pub organization_id: Option<OrgId>,
    /// Kind.
    pub kind: MailKind,
    /// Unique key: queuing a mail with a key already in the outbox does nothing.
    pub dedupe_key: String,
    /// Recipient address.
    pub to_address: String,
    /// Display name on `From` (the organization's sender name).
    pub from_name: Option<String>,
    /// `Reply-To` address (the organization's sender address).
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body, if any.
    pub body_html: Option<String>,
    /// Queued at.
    pub created_at: OffsetDateTime,
    /// After this instant the mail is no longer useful (an expired link) and is given
    /// up instead of sent.
    pub discard_after: Option<OffsetDateTime>,
}

/// A mail in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMail {
    /// The mail as queued.
    pub mail: NewMail,
    /// Delivery attempts so far (a claim counts as one).
    pub attempts: i32,
    /// When the next attempt may start.
    pub next_attempt_at: OffsetDateTime,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the SMTP server accepted it.
    pub sent_at: Option<OffsetDateTime>,
    /// When it was given up.
    pub failed_at: Option<OffsetDateTime>,
}

/// Counts over the outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxStatus {
    /// Waiting to be sent (including ones waiting for a retry).
    pub pending: i64,
    /// Of those, ones that failed at least once.
    pub retrying: i64,
    /// Given up after too many attempts or too late.
    pub failed: i64,
    /// Accepted by the SMTP server.
    pub sent: i64,
    /// The most recent error and when it was recorded.
    pub last_error: Option<String>,
    /// Oldest pending mail's queue time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub oldest_pending: Option<OffsetDateTime>,
}

/// An organization's mail settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailSettings {
    /// Sender display name (the organization's name when absent).
    pub sender_name: Option<String>,
    /// Address replies go to.
    pub sender_address: Option<String>,
    /// Whether customers get a receipt mail for points awarded (off by default).
    pub points_receipt: bool,
    /// Days before points expire to warn customers; `None` for no warnings.
    pub expiry_warning_days: Option<i32>,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            sender_name: None,
            sender_address: None,
            points_receipt: false,
            expiry_warning_days: Some(7),
        }
    }
}

/// What a points receipt needs, read inside the ledger transaction. Only returned when
/// the organization sends receipts and the customer has an email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptTarget {
    /// Customer's email.
    pub email: String,
    /// Customer's name.
    pub name: Option<String>,
    /// Organization display name.
    pub org_name: String,
    /// Organization language.
    pub language: String,
    /// Organization time zone.
    pub timezone: String,
    /// Sender display name.
    pub sender_name: Option<String>,
    /// Reply-To address.
    pub sender_address: Option<String>,
}

/// A customer whose points expire within the warning window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryTarget {
    /// Customer.
    pub customer: CustomerId,
    /// Email.
    pub email: String,
    /// Name.
    pub name: Option<String>,
    /// Current balance.
    pub balance: i64,
    /// Points earned at or before the cutoff.
    pub credits: i64,
    /// Points ever spent, reversed or expired.
    pub debits: i64,
    /// When the oldest points not yet spent were earned.
    pub oldest_unspent: Option<OffsetDateTime>,
}

impl ExpiryTarget {
    /// Points that will have expired by the end of the window (spending oldest first).
    pub fn expiring(&self) -> i64 {
        (self.credits - self.debits).max(0).min(self.balance)
    }
}

/// Attempts after which a mail is given up and kept as failed.
pub const MAX_ATTEMPTS: i32 = 30;

/// How long to wait after the `attempts`-th failed attempt: one minute, doubling, at
/// most an hour. Thirty attempts span about a day.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 7) - 1;
    Duration::minutes((1i64 << exp).min(60))
}

/// How long a claimed mail stays reserved for one sender before another may retry it.
pub const CLAIM_LEASE: Duration = Duration::minutes(5);

/// How long a receipt or warning stays worth sending.
pub const USEFUL_FOR: Duration = Duration::days(3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_a_minute_doubles_and_stops_at_an_hour() {
        let minutes: Vec<i64> = (1..=9).map(|a| backoff(a).whole_minutes()).collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        let total: i64 = (1..MAX_ATTEMPTS).map(|a| backoff(a).whole_minutes()).sum();
        assert!(
            (20 * 60..30 * 60).contains(&total),
            "about a day of retries: {total}"
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in [
            MailKind::SignInLink,
            MailKind::PasswordReset,
            MailKind::PointsReceipt,
            MailKind::ExpiryWarning,
            MailKind::Test,
        ] {
            assert_eq!(MailKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(MailKind::parse("spam"), None);
    }
}
