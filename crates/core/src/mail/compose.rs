//! Composing mails: the sign-in and reset links, points receipts, expiry warnings and
//! the test mail, in the organization's language (en-US, pt-BR), as outbox rows ready
//! to queue.

use super::{ExpiryTarget, MailKind, MailSettings, NewMail, ReceiptTarget, USEFUL_FOR};
use crate::domain::program::{Grant, describe_grants, explains};
use crate::domain::{Language, OrgId, PurchaseId};
use time::OffsetDateTime;
use uuid::Uuid;

fn pt(language: &str) -> bool {
    language.to_ascii_lowercase().starts_with("pt")
}

fn greeting(language: &str, name: Option<&str>) -> String {
    match (pt(language), name.map(str::trim).filter(|n| !n.is_empty())) {
        (true, Some(n)) => format!("Olá, {n},"),
        (true, None) => "Olá,".into(),
        (false, Some(n)) => format!("Hello {n},"),
        (false, None) => "Hello,".into(),
    }
}

fn local_date(t: OffsetDateTime, tz: &str, language: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let date = jiff::Timestamp::from_second(t.unix_timestamp())
        .map(|ts| ts.to_zoned_datetime(zone).date())
        .ok();
    match date {
        Some(d) if pt(language) => format!("{:02}/{:02}/{}", d.day(), d.month(), d.year()),
        Some(d) => format!("{}-{:02}-{:02}", d.year(), d.month(), d.day()),
        None => t.date().to_string(),
    }
}

/// The calendar date (in `tz`) of an instant, as `YYYY-MM-DD`.
pub fn iso_local_date(t: OffsetDateTime, tz: &str) -> String {
    local_date(t, tz, "en-US")
}

/// Who a mail appears to come from and where replies go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// Display name.
    pub name: Option<String>,
    /// Reply-To.
    pub reply_to: Option<String>,
}

impl Sender {
    /// The organization's sender: its configured name (else its display name) and
    /// reply address.
    pub fn of_org(settings: &MailSettings, org_name: &str) -> Self {
        Self {
            name: Some(
                settings
                    .sender_name
                    .clone()
                    .unwrap_or_else(|| org_name.to_owned()),
            ),
            reply_to: settings.sender_address.clone(),
        }
    }
}

/// Common fields of a new mail.
#[allow(clippy::too_many_arguments)]
fn mail(
    org: Option<OrgId>,
    kind: MailKind,
    dedupe_key: String,
    to: &str,
    sender: &Sender,
    subject: String,
    body: String,
    now: OffsetDateTime,
    discard_after: Option<OffsetDateTime>,
) -> NewMail {
    NewMail {
        id: Uuid::now_v7(),
        organization_id: org,
        kind,
        dedupe_key,
        to_address: to.to_owned(),
        from_name: sender.name.clone(),
        reply_to: sender.reply_to.clone(),
        subject,
        body_text: body,
        body_html: None,
        created_at: now,
        discard_after,
    }
}

/// What a sign-in or reset mail is about.
#[derive(Debug, Clone)]
pub struct LinkMail<'a> {
    /// Organization, if the person is staff of one.
    pub org: Option<OrgId>,
    /// Organization display name (or the product name).
    pub org_name: &'a str,
    /// Language.
    pub language: &'a str,
    /// Time zone for the expiry time.
    pub timezone: &'a str,
    /// Sender.
    pub sender: Sender,
    /// Recipient.
    pub to: &'a str,
    /// Recipient's name.
    pub name: Option<&'a str>,
    /// Their username.
    pub username: &'a str,
    /// Role wording, such as "cashier" (sign-in links only).
    pub role: Option<&'a str>,
    /// The one-time link.
    pub url: &'a str,
    /// When the link stops working.
    pub expires_at: Option<OffsetDateTime>,
}

impl LinkMail<'_> {
    fn key(&self, kind: MailKind) -> String {
        use sha2::{Digest, Sha256};
        format!(
            "{kind}:{}",
            hex::encode(&Sha256::digest(self.url.as_bytes())[..16])
        )
    }

    fn until(&self) -> String {
        match self.expires_at {
            Some(t) if pt(self.language) => format!(
                "\nO link vale até {} e funciona uma única vez.\n",
                local_date(t, self.timezone, self.language)
            ),
            Some(t) => format!(
                "\nThe link works once and expires on {}.\n",
                local_date(t, self.timezone, self.language)
            ),
            None if pt(self.language) => "\nO link funciona uma única vez.\n".into(),
            None => "\nThe link works once.\n".into(),
        }
    }

    /// The one-time sign-in link for a new admin or cashier.
    pub fn sign_in(&self, now: OffsetDateTime) -> NewMail {
        let (subject, intro) = if pt(self.language) {
            (
                format!("Seu acesso ao programa de fidelidade de {}", self.org_name),
                format!(
                    "foi criada uma conta{} para você em {}. Seu usuário é {}.\n\nDefina sua senha por este link:\n{}\n",
                    self.role.map(|r| format!(" de {r}")).unwrap_or_default(),
                    self.org_name,
                    self.username,
                    self.url
                ),
            )
        } else {
            (
                format!("Your access to {} loyalty", self.org_name),
                format!(
                    "an account{} was created for you at {}. Your username is {}.\n\nSet your password with this link:\n{}\n",
                    self.role.map(|r| format!(" as {r}")).unwrap_or_default(),
                    self.org_name,
                    self.username,
                    self.url
                ),
            )
        };
        let body = format!(
            "{}\n\n{intro}{}",
            greeting(self.language, self.name),
            self.until()
        );
        mail(
            self.org,
            MailKind::SignInLink,
            self.key(MailKind::SignInLink),
            self.to,
            &self.sender,
            subject,
            body,
            now,
            self.expires_at,
        )
    }

    /// A link for a customer enrolled at the till to claim an online account with
    /// their points and history (sent as a one-time link mail: its body is erased once
    /// sent).
    pub fn claim(&self, now: OffsetDateTime) -> NewMail {
        let (subject, intro) = if pt(self.language) {
            (
                format!("Acesse seus pontos online - {}", self.org_name),
                format!(
                    "você participa do programa de fidelidade de {}. Crie sua conta online para ver seus pontos e suas compras por este link:\n{}\n",
                    self.org_name, self.url
                ),
            )
        } else {
            (
                format!("See your points online - {}", self.org_name),
                format!(
                    "you are a member of {} loyalty. Claim your online account to see your points and purchases with this link:\n{}\n",
                    self.org_name, self.url
                ),
            )
        };
        let body = format!(
            "{}\n\n{intro}{}",
            greeting(self.language, self.name),
            self.until()
        );
        mail(
            self.org,
            MailKind::SignInLink,
            format!("claim:{}", self.key(MailKind::SignInLink)),
            self.to,
            &self.sender,
            subject,
            body,
            now,
            self.expires_at,
        )
    }

    /// A one-time link to set a new password.
    pub fn reset(&self, now: OffsetDateTime) -> NewMail {
        let (subject, intro) = if pt(self.language) {
            (
                format!("Redefinição de senha - {}", self.org_name),
                format!(
                    "recebemos um pedido para redefinir a senha do usuário {}.\n\nDefina uma nova senha por este link:\n{}\n\nSe não foi você, ignore esta mensagem: sua senha atual continua valendo.\n",
                    self.username, self.url
                ),
            )
        } else {
            (
                format!("Password reset - {}", self.org_name),
                format!(
                    "a password reset was requested for the username {}.\n\nSet a new password with this link:\n{}\n\nIf this was not you, ignore this message: your current password still works.\n",
                    self.username, self.url
                ),
            )
        };
        let body = format!(
            "{}\n\n{intro}{}",
            greeting(self.language, self.name),
            self.until()
        );
        mail(
            self.org,
            MailKind::PasswordReset,
            self.key(MailKind::PasswordReset),
            self.to,
            &self.sender,
            subject,
            body,
            now,
            self.expires_at,
        )
    }
}

/// The receipt for points awarded on a purchase.
#[allow(clippy::too_many_arguments)]
pub fn points_receipt(
    org: OrgId,
    target: &ReceiptTarget,
    purchase: PurchaseId,
    amount: &str,
    currency: &str,
    points: i64,
    balance: i64,
    grants: &[Grant],
    now: OffsetDateTime,
) -> NewMail {
    let lang = target.language.as_str();
    let written = Language::from_tag(lang);
    // What each rule gave, when it says more than the total (the till's breakdown).
    let breakdown = if explains(grants) {
        describe_grants(grants, written)
    } else {
        String::new()
    };
    let sender = Sender {
        name: Some(
            target
                .sender_name
                .clone()
                .unwrap_or_else(|| target.org_name.clone()),
        ),
        reply_to: target.sender_address.clone(),
    };
    let date = local_date(now, &target.timezone, lang);
    let (subject, text) = if pt(lang) {
        (
            format!("Você ganhou {points} pontos em {}", target.org_name),
            format!(
                "obrigado pela sua compra de {amount} {currency} em {} no dia {date}.\n\nPontos ganhos: {points}\n{}Seu saldo: {balance} pontos\n",
                target.org_name,
                if breakdown.is_empty() {
                    String::new()
                } else {
                    format!("Detalhamento: {breakdown}\n")
                }
            ),
        )
    } else {
        (
            format!("You earned {points} points at {}", target.org_name),
            format!(
                "thank you for your purchase of {amount} {currency} at {} on {date}.\n\nPoints earned: {points}\n{}Your balance: {balance} points\n",
                target.org_name,
                if breakdown.is_empty() {
                    String::new()
                } else {
                    format!("Breakdown: {breakdown}\n")
                }
            ),
        )
    };
    mail(
        Some(org),
        MailKind::PointsReceipt,
        format!("points_receipt:{org}:{purchase}"),
        &target.email,
        &sender,
        subject,
        format!("{}\n\n{text}", greeting(lang, target.name.as_deref())),
        now,
        Some(now + USEFUL_FOR),
    )
}

/// What an expiry warning is about.
#[derive(Debug, Clone)]
pub struct ExpiryMail<'a> {
    /// Organization.
    pub org: OrgId,
    /// Its display name.
    pub org_name: &'a str,
    /// Its language.
    pub language: &'a str,
    /// Its time zone.
    pub timezone: &'a str,
    /// Sender.
    pub sender: Sender,
}

impl ExpiryMail<'_> {
    /// The warning for one customer about the points expiring at `expires_at`. One per
    /// customer per expiry date: the dedupe key names both.
    pub fn warning(
        &self,
        target: &ExpiryTarget,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> NewMail {
        let points = target.expiring();
        let date = local_date(expires_at, self.timezone, self.language);
        let (subject, text) = if pt(self.language) {
            (
                format!("Seus pontos em {} vão expirar", self.org_name),
                format!(
                    "{points} dos seus {} pontos em {} expiram a partir de {date}. Use-os antes disso na sua próxima visita.\n",
                    target.balance, self.org_name
                ),
            )
        } else {
            (
                format!("Your points at {} expire soon", self.org_name),
                format!(
                    "{points} of your {} points at {} expire from {date}. Use them on your next visit before then.\n",
                    target.balance, self.org_name
                ),
            )
        };
        mail(
            Some(self.org),
            MailKind::ExpiryWarning,
            format!(
                "expiry_warning:{}:{}:{}",
                self.org,
                target.customer,
                iso_local_date(expires_at, self.timezone)
            ),
            &target.email,
            &self.sender,
            subject,
            format!(
                "{}\n\n{text}",
                greeting(self.language, target.name.as_deref())
            ),
            now,
            Some(expires_at),
        )
    }
}

/// An operator's test message.
pub fn test_mail(to: &str, now: OffsetDateTime) -> NewMail {
    mail(
        None,
        MailKind::Test,
        format!("test:{}", Uuid::now_v7()),
        to,
        &Sender::default(),
        "loyalty: test message".into(),
        format!(
            "This is a test message from loyalty, sent at {}.\nIf you read this, the SMTP settings work.\n",
            now.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| now.to_string())
        ),
        now,
        None,
    )
}

/// To an organization's contact: one of its webhook endpoints failed every delivery
/// for days and was disabled.
pub fn webhook_disabled_mail(
    org: OrgId,
    org_name: &str,
    language: &str,
    to: &str,
    endpoint: Uuid,
    url: &str,
    now: OffsetDateTime,
) -> NewMail {
    let pt = language.to_ascii_lowercase().starts_with("pt");
    let (subject, body) = if pt {
        (
            format!("{org_name}: webhook desativado"),
            format!(
                "O endereço de webhook {url} falhou em todas as entregas por dias e foi desativado.\n\
                 Corrija o receptor e ative-o de novo em Webhooks no painel; os eventos pendentes podem ser reenviados pelo registro de entregas.\n"
            ),
        )
    } else {
        (
            format!("{org_name}: webhook endpoint disabled"),
            format!(
                "The webhook endpoint {url} failed every delivery for days and was disabled.\n\
                 Fix the receiver and turn it on again under Webhooks in the admin panel; pending events can be resent from the delivery log.\n"
            ),
        )
    };
    mail(
        Some(org),
        MailKind::WebhookDisabled,
        format!("webhook_disabled:{endpoint}:{}", now.unix_timestamp()),
        to,
        &Sender::default(),
        subject,
        body,
        now,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::ReceiptTarget;
    use time::macros::datetime;

    #[test]
    fn receipts_speak_the_organizations_language() {
        let mut t = ReceiptTarget {
            email: "c@example.com".into(),
            name: Some("Carla".into()),
            org_name: "Padaria".into(),
            language: "pt-BR".into(),
            timezone: "America/Sao_Paulo".into(),
            sender_name: None,
            sender_address: Some("contato@padaria.example".into()),
        };
        let now = datetime!(2025-01-23 14:05 UTC);
        let org = OrgId(Uuid::nil());
        let purchase = PurchaseId(Uuid::nil());
        let m = points_receipt(org, &t, purchase, "10.00", "BRL", 10, 25, &[], now);
        assert!(m.subject.contains("Você ganhou 10 pontos"), "{}", m.subject);
        assert!(m.body_text.contains("23/01/2025"), "{}", m.body_text);
        assert_eq!(m.from_name.as_deref(), Some("Padaria"));
        assert_eq!(m.reply_to.as_deref(), Some("contato@padaria.example"));
        t.language = "en-US".into();
        let m = points_receipt(org, &t, purchase, "10.00", "BRL", 10, 25, &[], now);
        assert!(m.subject.contains("You earned 10 points"));
        assert!(m.body_text.contains("Your balance: 25 points"));
    }
    #[test]
    fn a_receipt_shows_what_each_rule_gave_in_the_shops_language() {
        use crate::domain::program::GrantRule;
        let grant = |rule, name: &str, points, stamps, progress| Grant {
            rule,
            name: name.into(),
            points,
            stamps,
            progress,
        };
        let grants = [
            grant(GrantRule::Base, "", 25, 0, None),
            grant(
                GrantRule::Promotion(Uuid::nil()),
                "Terça em dobro",
                25,
                0,
                None,
            ),
            grant(
                GrantRule::StampCard(Uuid::nil()),
                "Cartão do café",
                0,
                1,
                Some((7, 10)),
            ),
        ];
        let mut t = ReceiptTarget {
            email: "c@example.com".into(),
            name: None,
            org_name: "Padaria".into(),
            language: "pt-BR".into(),
            timezone: "America/Sao_Paulo".into(),
            sender_name: None,
            sender_address: None,
        };
        let (org, purchase) = (OrgId(Uuid::nil()), PurchaseId(Uuid::nil()));
        let now = datetime!(2025-01-21 14:05 UTC);
        let m = points_receipt(org, &t, purchase, "25.00", "BRL", 50, 80, &grants, now);
        assert!(
            m.body_text.contains(
                "Pontos ganhos: 50\nDetalhamento: 25 base + 25 Terça em dobro + 1 selo Cartão do café (7/10)\n"
            ),
            "{}",
            m.body_text
        );
        t.language = "en-US".into();
        let m = points_receipt(org, &t, purchase, "25.00", "BRL", 50, 80, &grants, now);
        assert!(
            m.body_text
                .contains("Breakdown: 25 base + 25 Terça em dobro + 1 stamp Cartão do café (7/10)"),
            "{}",
            m.body_text
        );
        // The base points alone say nothing the total does not.
        let m = points_receipt(org, &t, purchase, "25.00", "BRL", 25, 55, &grants[..1], now);
        assert!(!m.body_text.contains("Breakdown"), "{}", m.body_text);
    }
}
