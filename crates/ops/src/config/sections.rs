//! The sections of the configuration (`[server]`, `[database]`, `[identity]`, `[log]`,
//! `[jobs]`, `[housekeeping]`, `[support]`, `[backup]`, `[mail]`, `[metrics]`): their fields, defaults
//! and the small rules read from them (the database URL, the public URL, the SMTP port, the
//! metrics listener).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// `[support]`: the contact printed in each client's system guide (`loyalty handoff`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportConfig {
    /// Support email address (`LOYALTY_SUPPORT__CONTACT_EMAIL`).
    pub contact_email: Option<String>,
    /// Support phone number (`LOYALTY_SUPPORT__CONTACT_PHONE`).
    pub contact_phone: Option<String>,
    /// When support answers, as free text such as "Mon-Fri 9:00-18:00 (America/New_York)"
    /// (`LOYALTY_SUPPORT__HOURS`).
    pub hours: Option<String>,
}

/// `[backup]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Folder holding the backup sets (`LOYALTY_BACKUP__DIR`).
    pub dir: String,
    /// Days an unlabelled set is kept by `loyalty backup prune`.
    pub retention_days: u32,
    /// Days a labelled set (such as `pre-onboard-nextdoor`) is kept.
    pub keep_labelled_days: u32,
    /// The identity provider's PostgreSQL database (`AUTHENTIK_DATABASE_URL`); when set,
    /// each backup set holds it too, so a restore rolls both back to the same moment.
    #[serde(serialize_with = "redacted")]
    pub authentik_database_url: Option<SecretString>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: "./backups".into(),
            retention_days: 30,
            keep_labelled_days: 365,
            authentik_database_url: None,
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network (port 25).
    None,
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Deliver to private, loopback and link-local addresses too (only for a receiver on
    /// the same machine or network, such as in tests); off by default, so an endpoint
    /// cannot be pointed at the server's own network.
    pub allow_private: bool,
    /// Seconds between delivery passes of `serve`.
    pub poll_interval_secs: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            poll_interval_secs: 5,
        }
    }
}

/// `[mail]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// SMTP server (the runbook's `SMTP_HOST`); mail is off while it is unset.
    pub smtp_host: Option<String>,
    /// SMTP port (`SMTP_PORT`); default 587 for starttls, 465 for tls, 25 for none.
    pub smtp_port: Option<u16>,
    /// SMTP user name (`SMTP_USER`).
    pub smtp_user: Option<String>,
    /// SMTP password (`SMTP_PASSWORD`).
    #[serde(serialize_with = "redacted")]
    pub smtp_password: Option<SecretString>,
    /// Sender address, optionally with a name (`SMTP_FROM`), such as
    /// `Loyalty <noreply@loyalty.example.com>`. Organizations' sender names replace the
    /// name; their addresses go in Reply-To.
    pub from: Option<String>,
    /// `starttls` (default), `tls` or `none`.
    pub tls: MailTls,
    /// Seconds between outbox polls in `serve`.
    pub poll_interval_secs: u64,
    /// Seconds to wait for the SMTP server.
    pub timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: None,
            smtp_port: None,
            smtp_user: None,
            smtp_password: None,
            from: None,
            tls: MailTls::Starttls,
            poll_interval_secs: 10,
            timeout_secs: 30,
        }
    }
}

impl MailConfig {
    /// Whether SMTP is configured (a host is set).
    pub fn is_configured(&self) -> bool {
        self.smtp_host
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty())
    }

    /// The port in use.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.tls {
            MailTls::Starttls => 587,
            MailTls::Tls => 465,
            MailTls::None => 25,
        })
    }
}

/// `[jobs]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Seconds between expiry runs in `serve` (0 turns the job off).
    pub expiry_interval_secs: u64,
    /// Seconds between runs of the program job in `serve`: the tier recalculation and
    /// the birthday bonuses (0 turns it off). Hourly by default, so a shop's birthdays
    /// are given soon after its local midnight; both are idempotent.
    pub programs_interval_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            expiry_interval_secs: 3600,
            programs_interval_secs: 3600,
        }
    }
}

/// `[integrity]`: the ledger's signed checkpoints (docs/integrity.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrityConfig {
    /// The installation's Ed25519 signing key: made (mode 0600) on first use. Keep a
    /// copy apart from the database: without it, older checkpoints cannot be checked.
    pub signing_key: String,
    /// Seconds between checkpoints of every organization in `serve` (0 turns the job
    /// off; `loyalty points checkpoint` takes one at any time).
    pub checkpoint_interval_secs: u64,
}

impl Default for IntegrityConfig {
    fn default() -> Self {
        Self {
            signing_key: "./data/signing.key".into(),
            checkpoint_interval_secs: 86_400,
        }
    }
}

/// `[housekeeping]`: how long each kind of short-lived row is kept before the
/// housekeeping pass removes it (docs/housekeeping.md). The ledger, purchases and the
/// audit log are never removed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HousekeepingConfig {
    /// Seconds between passes in `serve` (0 turns the job off; `loyalty housekeeping`
    /// still runs one).
    pub interval_secs: u64,
    /// Rows removed per statement: each batch is a short transaction of its own.
    pub batch_size: u32,
    /// Share of a pass's time spent removing rows, in percent (1 to 100): after a batch
    /// that took t, the pass waits t x (100 - duty) / duty before the next one, so a
    /// long backlog leaves the database to requests most of the time. 100: no pauses.
    pub duty_percent: u8,
    /// Days an idempotency record is kept: a retry with the same key after this is a
    /// new request.
    pub idempotency_days: u32,
    /// Hours an expired session, sign-in flow or one-time link is kept (0: removed at
    /// the first pass after it expires).
    pub expired_hours: u32,
    /// Days after sending (or giving up) before a mail's body is emptied.
    pub mail_body_days: u32,
    /// Days after sending (or giving up) before a mail's row is removed; unsent mail
    /// is never removed.
    pub mail_row_days: u32,
    /// Hours after its last failure before a sign-in throttle window is removed.
    pub throttle_hours: u32,
    /// Days after it ran out before a job lease is removed.
    pub job_lease_days: u32,
    /// Days after delivery (or giving up) before a webhook delivery leaves the delivery
    /// log; pending deliveries are never removed.
    pub webhook_delivery_days: u32,
}

impl Default for HousekeepingConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3600,
            batch_size: 1000,
            duty_percent: 10,
            idempotency_days: 7,
            expired_hours: 0,
            mail_body_days: 30,
            mail_row_days: 90,
            throttle_hours: 24,
            job_lease_days: 7,
            webhook_delivery_days: 30,
        }
    }
}

/// `[server]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Public base URL, for links and redirects (default `http://{bind}`).
    pub public_url: Option<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds before a request times out.
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request's headers; a connection that has not sent
    /// them whole by then is closed (slow or half-sent requests do not hold it open).
    pub header_read_timeout_secs: u64,
    /// Single-tenant custom domains: host -> organization slug. Requests whose `Host` is
    /// one of these serve only that organization. Environment form:
    /// `LOYALTY_SERVER__HOST_ORGS='{"rewards.nextdoor.com"="nextdoor"}'` (hosts quoted).
    pub host_orgs: BTreeMap<String, String>,
    /// Reverse proxies (IP addresses or CIDR ranges, such as `["10.0.0.5"]` or
    /// `["172.16.0.0/12"]`) whose `X-Forwarded-For` gives the client's address for the
    /// sign-in limits. Empty (the default): the TCP peer is the client. Environment form:
    /// `LOYALTY_SERVER__TRUSTED_PROXIES='["10.0.0.5","fd00::/8"]'`.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            host_orgs: BTreeMap::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }
}

/// `[database]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Full URL: `postgres://...` or `sqlite://...`. Wins over the parts below.
    #[serde(serialize_with = "redacted")]
    pub url: Option<SecretString>,
    /// PostgreSQL host (the runbook's `DATABASE_HOST`).
    pub host: Option<String>,
    /// PostgreSQL port.
    pub port: Option<u16>,
    /// Database name (the runbook's `DATABASE_NAME`).
    pub name: Option<String>,
    /// PostgreSQL user.
    pub user: Option<String>,
    /// PostgreSQL password.
    #[serde(serialize_with = "redacted")]
    pub password: Option<SecretString>,
    /// SQLite file used when no PostgreSQL is configured.
    pub sqlite_path: String,
    /// Largest number of pooled PostgreSQL connections.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            host: None,
            port: None,
            name: None,
            user: None,
            password: None,
            sqlite_path: "./data/loyalty.db".into(),
            max_connections: 16,
        }
    }
}

fn redacted<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("[redacted]"),
        None => s.serialize_none(),
    }
}

impl DatabaseConfig {
    /// The URL to connect to: `url`, else one built from host/name/user/password/port,
    /// else the SQLite file.
    pub fn resolved_url(&self) -> anyhow::Result<SecretString> {
        if let Some(url) = &self.url {
            return Ok(url.clone());
        }
        if let Some(host) = &self.host {
            let mut url = url::Url::parse("postgres://localhost/")?;
            url.set_host(Some(host))
                .map_err(|e| anyhow::anyhow!("database.host {host:?}: {e}"))?;
            url.set_port(Some(self.port.unwrap_or(5432)))
                .map_err(|()| anyhow::anyhow!("database.port is invalid"))?;
            url.set_username(self.user.as_deref().unwrap_or("postgres"))
                .map_err(|()| anyhow::anyhow!("database.user is invalid"))?;
            if let Some(pw) = &self.password {
                url.set_password(Some(pw.expose_secret()))
                    .map_err(|()| anyhow::anyhow!("database.password is invalid"))?;
            }
            url.set_path(self.name.as_deref().unwrap_or("loyalty_db"));
            return Ok(SecretString::from(url.to_string()));
        }
        Ok(SecretString::from(format!("sqlite://{}", self.sqlite_path)))
    }

    /// The URL with any password replaced, for messages.
    pub fn display_url(&self) -> String {
        match self.resolved_url() {
            Ok(u) => match url::Url::parse(u.expose_secret()) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("redacted"));
                    parsed.to_string()
                }
                _ => u.expose_secret().to_owned(),
            },
            Err(e) => format!("(invalid: {e})"),
        }
    }
}

/// Which identity provider signs people in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// Accounts in loyalty's own database.
    Builtin,
    /// Authentik over OpenID Connect and its admin API.
    Authentik,
}

/// `[identity]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// `builtin` (default) or `authentik`.
    pub mode: IdentityMode,
    /// Group whose members are operators.
    pub operators_group: String,
    /// Hours a one-time password-set link stays valid.
    pub link_ttl_hours: u32,
    /// Authentik's base URL (the runbook's `AUTHENTIK_URL`).
    pub authentik_url: Option<String>,
    /// Authentik API token (`AUTHENTIK_API_TOKEN`, or a file named by `AUTHENTIK_API_TOKEN_FILE`).
    #[serde(serialize_with = "redacted")]
    pub authentik_api_token: Option<SecretString>,
    /// OpenID Connect client id at Authentik (`loyalty authentik setup` prints it).
    pub oidc_client_id: Option<String>,
    /// OpenID Connect client secret (`LOYALTY_IDENTITY__OIDC_CLIENT_SECRET`).
    #[serde(serialize_with = "redacted")]
    pub oidc_client_secret: Option<SecretString>,
    /// Slug of loyalty's application in Authentik; the issuer is
    /// `{authentik_url}/application/o/{app_slug}/`.
    pub app_slug: String,
    /// Authentik mode: seconds for which access trusts what Authentik last said about a
    /// signed-in person (active, groups) before asking again; at most 60, 0 asks on
    /// every request. A person deactivated or removed from a group in Authentik is
    /// refused at most this long after.
    pub access_recheck_seconds: u32,
}

impl IdentityConfig {
    /// `access_recheck_seconds` as a duration; more than 60 is refused.
    pub fn access_recheck(&self) -> Result<time::Duration, crate::UserError> {
        let bound = loyalty_core::directory::cache::MAX_BOUND;
        if i64::from(self.access_recheck_seconds) > bound.whole_seconds() {
            return Err(crate::UserError(format!(
                "identity.access_recheck_seconds is {}, more than the allowed {}; set it to {} or less (default 30)",
                self.access_recheck_seconds,
                bound.whole_seconds(),
                bound.whole_seconds()
            )));
        }
        Ok(time::Duration::seconds(i64::from(
            self.access_recheck_seconds,
        )))
    }
}

/// Authentik's base URL as written by a person, without what the API client adds
/// itself: `https://auth.example.com/api/v3/` and `https://auth.example.com/` become
/// `https://auth.example.com`, so the issuer (`{base}/application/o/{slug}/`), the
/// health check and the API all hang off the same base.
pub fn authentik_base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/api/v3")
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_owned()
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            mode: IdentityMode::Builtin,
            operators_group: "loyalty-operators".into(),
            link_ttl_hours: 72,
            authentik_url: None,
            authentik_api_token: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            app_slug: "loyalty".into(),
            access_recheck_seconds: 30,
        }
    }
}

/// `[log]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (default) or `json` (one JSON object a line); also `LOYALTY_LOG_FORMAT`.
    pub format: LogFormat,
    /// A `tracing` filter, such as `info` or `loyalty=debug,info`.
    pub level: String,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text; coloured only when standard error is a terminal.
    Text,
    /// JSON lines, for log collectors.
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// `[metrics]`: where Prometheus reads `/metrics`. The metrics name every organization
/// and its totals, so the public listener does not serve them to anyone.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of a listener that serves only `/metrics`, without a token; empty turns
    /// it off. Default `127.0.0.1:9464` (this host only).
    pub listen: String,
    /// A bearer token that opens `/metrics` on the public listener
    /// (`Authorization: Bearer <token>`); unset, the public listener answers 404 there.
    #[serde(serialize_with = "redacted")]
    pub token: Option<SecretString>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9464".into(),
            token: None,
        }
    }
}

impl MetricsConfig {
    /// The metrics listener's address; `None` when `listen` is empty (turned off).
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, crate::UserError> {
        let listen = self.listen.trim();
        if listen.is_empty() {
            return Ok(None);
        }
        listen.parse().map(Some).map_err(|_| {
            crate::UserError(format!(
                "metrics.listen: {listen:?} is not an address; write a host and port such as 127.0.0.1:9464 (0.0.0.0:9464 inside a container), or leave it empty to turn the metrics listener off"
            ))
        })
    }

    /// The public listener's token, when one is set and not empty.
    pub fn token(&self) -> Option<SecretString> {
        self.token
            .as_ref()
            .filter(|t| !t.expose_secret().trim().is_empty())
            .cloned()
    }
}

/// `[wallet]`: the member card in the phone's wallet (docs/wallet.md).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalletConfig {
    /// `[wallet.apple]`: Apple Wallet passes; off while `pass_type_id` is unset.
    pub apple: AppleWalletConfig,
    /// `[wallet.google]`: Google Wallet cards; off while `issuer_id` is unset.
    pub google: GoogleWalletConfig,
}

/// `[wallet.google]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoogleWalletConfig {
    /// The issuer id from the Google Pay & Wallet Console
    /// (`LOYALTY_WALLET__GOOGLE__ISSUER_ID`).
    pub issuer_id: Option<String>,
    /// The service account's JSON key file.
    pub service_account_key: Option<String>,
    /// The Google Wallet REST API's address.
    pub api_url: String,
}

impl Default for GoogleWalletConfig {
    fn default() -> Self {
        Self {
            issuer_id: None,
            service_account_key: None,
            api_url: "https://walletobjects.googleapis.com".into(),
        }
    }
}

impl GoogleWalletConfig {
    /// The issuer and its signing key, `None` while `issuer_id` is unset; an error naming
    /// the key and the fix when the key file is missing or unreadable.
    pub fn load(
        &self,
        public_url: &str,
    ) -> anyhow::Result<Option<loyalty_identity::wallet::google::GoogleWallet>> {
        let Some(issuer_id) = self
            .issuer_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        if !issuer_id.chars().all(|c| c.is_ascii_digit()) {
            anyhow::bail!(
                "wallet.google.issuer_id {issuer_id:?} is not an issuer id; give the digits the Google Pay & Wallet Console shows"
            );
        }
        let key = self
            .service_account_key
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "wallet.google.service_account_key is missing (wallet.google.issuer_id is set); give the path of the service account's JSON key file"
                )
            })?;
        let wallet = loyalty_identity::wallet::google::GoogleWallet::from_key_file(
            issuer_id,
            std::path::Path::new(key),
            public_url.trim_end_matches('/'),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(Some(wallet))
    }
}

/// `[wallet.apple]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppleWalletConfig {
    /// The Pass Type ID registered at Apple, such as `pass.com.example.loyalty`
    /// (`LOYALTY_WALLET__APPLE__PASS_TYPE_ID`).
    pub pass_type_id: Option<String>,
    /// The Apple developer team identifier (10 characters).
    pub team_id: Option<String>,
    /// The Pass Type ID certificate, a PEM or DER file.
    pub certificate: Option<String>,
    /// Its private key, an unencrypted PEM file (PKCS#8 or PKCS#1).
    pub key: Option<String>,
    /// Apple's WWDR intermediate certificate (G4), a PEM or DER file.
    pub wwdr_certificate: Option<String>,
    /// A PKCS#12 file (`pass.p12`, as a Mac's Keychain exports the certificate with its
    /// key): not read; `serve` refuses it and names the `openssl` commands that turn it
    /// into the `certificate` and `key` PEM files ([`P12_CONVERSION`]).
    pub p12: Option<String>,
    /// The PKCS#12 file's password, in a file: refused with `p12`.
    pub p12_password_file: Option<String>,
    /// The name of the environment variable holding the PKCS#12 file's password:
    /// refused with `p12`.
    pub p12_password_env: Option<String>,
    /// `[wallet.apple.apns]`: pushes telling phones that a pass changed; off while
    /// `auth` is unset (phones then see a new balance when the member refreshes the pass).
    pub apns: ApnsConfig,
}

/// `[wallet.apple.apns]`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApnsConfig {
    /// How the service signs in to APNs: `token` (an APNs key, `.p8`, with `key_id`) or
    /// `certificate` (the Pass Type ID certificate and key of `[wallet.apple]`). Unset:
    /// no pushes (`LOYALTY_WALLET__APPLE__APNS__AUTH`).
    pub auth: Option<String>,
    /// The APNs key file (`AuthKey_XXXXXXXXXX.p8`), for `auth = "token"`.
    pub key: Option<String>,
    /// The key's 10-character id, for `auth = "token"`.
    pub key_id: Option<String>,
    /// APNs' address; Wallet passes always use the production one.
    pub url: String,
    /// Seconds between push passes of `serve`.
    pub poll_interval_secs: u64,
}

impl Default for ApnsConfig {
    fn default() -> Self {
        Self {
            auth: None,
            key: None,
            key_id: None,
            url: "https://api.push.apple.com".into(),
            poll_interval_secs: 5,
        }
    }
}

/// What to do with a PKCS#12 file instead of `wallet.apple.p12`: the `openssl` commands
/// that write the certificate and its key as PEM (they ask for the file's password).
pub const P12_CONVERSION: &str = "Convert the file once with `openssl pkcs12 -in pass.p12 -clcerts -nokeys -out pass.pem` and `openssl pkcs12 -in pass.p12 -nocerts -nodes -out pass.key` (add `-legacy` to both for a file an older macOS Keychain exported), keep pass.key readable by the service only, set wallet.apple.certificate = \"pass.pem\" and wallet.apple.key = \"pass.key\", and remove p12, p12_password_file and p12_password_env";

impl AppleWalletConfig {
    /// The issuer and signing material, `None` while `pass_type_id` is unset; an error
    /// naming the key and the fix when it is set but the rest is missing or unreadable.
    /// Passes name the web service at `{public_url}/wallet/apple/{slug}` for their updates.
    pub fn load(
        &self,
        public_url: &str,
    ) -> anyhow::Result<Option<loyalty_identity::wallet::apple::AppleWallet>> {
        let Some(pass_type_id) = self.pass_type_id.as_ref().filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let given = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.trim().is_empty());
        if given(&self.p12) || given(&self.p12_password_file) || given(&self.p12_password_env) {
            anyhow::bail!(
                "wallet.apple.p12 (with p12_password_file or p12_password_env) is not read: passes are signed with PEM files. {P12_CONVERSION}"
            );
        }
        let need = |v: &Option<String>, key: &str, fix: &str| {
            v.as_ref()
                .filter(|s| !s.trim().is_empty())
                .cloned()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "wallet.apple.{key} is missing (wallet.apple.pass_type_id is set); {fix}"
                    )
                })
        };
        let team_id = need(
            &self.team_id,
            "team_id",
            "give the 10-character team identifier of the Apple developer account",
        )?;
        let certificate = need(
            &self.certificate,
            "certificate",
            "give the path of the Pass Type ID certificate (PEM)",
        )?;
        let key = need(
            &self.key,
            "key",
            "give the path of the certificate's private key (PEM)",
        )?;
        let wwdr = need(
            &self.wwdr_certificate,
            "wwdr_certificate",
            "give the path of Apple's WWDR G4 intermediate certificate",
        )?;
        let signer = loyalty_identity::wallet::apple::PassSigner::from_files(
            std::path::Path::new(&certificate),
            std::path::Path::new(&key),
            std::path::Path::new(&wwdr),
        )?;
        Ok(Some(loyalty_identity::wallet::apple::AppleWallet::new(
            loyalty_core::service::wallet::apple::AppleIssuer {
                pass_type_id: pass_type_id.trim().to_owned(),
                team_id: team_id.trim().to_owned(),
                web_service_url: Some(format!("{}/wallet/apple", public_url.trim_end_matches('/'))),
            },
            signer,
        )))
    }
}
