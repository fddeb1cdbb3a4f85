//! Configuration: one typed tree built from defaults, then an optional TOML file
//! (`--config`), then `LOYALTY_*` environment variables (`LOYALTY_SERVER__BIND`,
//! nested keys joined by `__`), then the runbook's own names (`DATABASE_URL`,
//! `DATABASE_HOST`, `DATABASE_NAME`, `DATABASE_USER`, `DATABASE_PASSWORD`,
//! `DATABASE_PORT`, `AUTHENTIK_URL`, `SMTP_HOST`, `SMTP_PORT`, `SMTP_USER`,
//! `SMTP_PASSWORD`, `SMTP_FROM`) and `LOYALTY_LOG_FORMAT`. Secrets are wrapped and never
//! printed.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::Path;

mod sections;

pub use sections::{
    ApnsConfig, AppleWalletConfig, BackupConfig, DatabaseConfig, HousekeepingConfig,
    IdentityConfig, IdentityMode, IntegrityConfig, JobsConfig, LogConfig, LogFormat, MailConfig,
    MailTls, MetricsConfig, ServerConfig, SupportConfig, WalletConfig, WebhooksConfig,
};

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Database.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Identity provider.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Periodic jobs.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// How long short-lived rows are kept.
    #[serde(default)]
    pub housekeeping: HousekeepingConfig,
    /// The ledger's signed checkpoints.
    #[serde(default)]
    pub integrity: IntegrityConfig,
    /// How clients reach support (printed in the client guide).
    #[serde(default)]
    pub support: SupportConfig,
    /// Backups.
    #[serde(default)]
    pub backup: BackupConfig,
    /// Outgoing mail.
    #[serde(default)]
    pub mail: MailConfig,
    /// Webhook delivery.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Where `/metrics` is served.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The member card in the phone's wallet.
    #[serde(default)]
    pub wallet: WalletConfig,
}

#[derive(Serialize)]
struct Defaults {
    server: ServerConfig,
    database: DatabaseConfig,
    identity: IdentityConfig,
    log: LogConfig,
    jobs: JobsConfig,
    housekeeping: HousekeepingConfig,
    integrity: IntegrityConfig,
    support: SupportConfig,
    backup: BackupConfig,
    mail: MailConfig,
    webhooks: WebhooksConfig,
    metrics: MetricsConfig,
    wallet: WalletConfig,
}

impl Config {
    /// Loads the configuration: defaults, the TOML file if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Defaults {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            identity: IdentityConfig::default(),
            log: LogConfig::default(),
            jobs: JobsConfig::default(),
            housekeeping: HousekeepingConfig::default(),
            integrity: IntegrityConfig::default(),
            support: SupportConfig::default(),
            backup: BackupConfig::default(),
            mail: MailConfig::default(),
            webhooks: WebhooksConfig::default(),
            metrics: MetricsConfig::default(),
            wallet: WalletConfig::default(),
        }));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!(
                    "--config {}: no such file; give the path of a TOML file (see README, Configuration)",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(
                // Only LOYALTY_<SECTION>__<KEY>; other LOYALTY_* variables (LOYALTY_CONFIG,
                // LOYALTY_BIND, test settings) belong to other readers.
                Env::prefixed("LOYALTY_")
                    .filter(|k| {
                        let k = k.as_str().to_ascii_lowercase();
                        [
                            "server__",
                            "database__",
                            "identity__",
                            "log__",
                            "jobs__",
                            "housekeeping__",
                            "integrity__",
                            "support__",
                            "backup__",
                            "mail__",
                            "webhooks__",
                            "metrics__",
                            "wallet__",
                        ]
                        .iter()
                        .any(|s| k.starts_with(s))
                    })
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&[
                        "DATABASE_URL",
                        "DATABASE_HOST",
                        "DATABASE_PORT",
                        "DATABASE_NAME",
                        "DATABASE_USER",
                        "DATABASE_PASSWORD",
                    ])
                    .map(|k| {
                        format!(
                            "database.{}",
                            k.as_str()
                                .to_ascii_lowercase()
                                .trim_start_matches("database_")
                        )
                        .into()
                    }),
            )
            .merge(
                Env::raw()
                    .only(&["LOYALTY_LOG_FORMAT"])
                    .map(|_| "log.format".into()),
            )
            .merge(
                Env::raw()
                    .only(&["AUTHENTIK_URL"])
                    .map(|_| "identity.authentik_url".into()),
            )
            .merge(
                Env::raw()
                    .only(&["AUTHENTIK_API_TOKEN"])
                    .map(|_| "identity.authentik_api_token".into()),
            )
            .merge(
                Env::raw()
                    .only(&["AUTHENTIK_DATABASE_URL"])
                    .map(|_| "backup.authentik_database_url".into()),
            )
            .merge(
                // The runbook's SMTP_HOST/PORT/USER/PASSWORD and SMTP_FROM.
                Env::raw()
                    .only(&[
                        "SMTP_HOST",
                        "SMTP_PORT",
                        "SMTP_USER",
                        "SMTP_PASSWORD",
                        "SMTP_FROM",
                    ])
                    .map(|k| match k.as_str().to_ascii_uppercase().as_str() {
                        "SMTP_FROM" => "mail.from".into(),
                        other => format!("mail.{}", other.to_ascii_lowercase()).into(),
                    }),
            );
        let mut config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        if config.identity.authentik_api_token.is_none()
            && let Ok(path) = std::env::var("AUTHENTIK_API_TOKEN_FILE")
        {
            let token = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("AUTHENTIK_API_TOKEN_FILE {path}: {e}"))?;
            config.identity.authentik_api_token = Some(SecretString::from(token.trim().to_owned()));
        }
        // An empty DATABASE_URL means "not set".
        if config
            .database
            .url
            .as_ref()
            .is_some_and(|u| u.expose_secret().trim().is_empty())
        {
            config.database.url = None;
        }
        if config
            .backup
            .authentik_database_url
            .as_ref()
            .is_some_and(|u| u.expose_secret().trim().is_empty())
        {
            config.backup.authentik_database_url = None;
        }
        config.identity.authentik_url = config
            .identity
            .authentik_url
            .as_deref()
            .map(sections::authentik_base_url)
            .filter(|u| !u.is_empty());
        Ok(config)
    }

    /// The configuration as TOML with secrets redacted.
    pub fn redacted_toml(&self) -> String {
        #[derive(Serialize)]
        struct View<'a> {
            server: &'a ServerConfig,
            database: &'a DatabaseConfig,
            identity: &'a IdentityConfig,
            log: &'a LogConfig,
            jobs: &'a JobsConfig,
            housekeeping: &'a HousekeepingConfig,
            integrity: &'a IntegrityConfig,
            support: &'a SupportConfig,
            backup: &'a BackupConfig,
            mail: &'a MailConfig,
            webhooks: &'a WebhooksConfig,
            metrics: &'a MetricsConfig,
            wallet: &'a WalletConfig,
        }
        let view = View {
            server: &self.server,
            database: &self.database,
            identity: &self.identity,
            log: &self.log,
            jobs: &self.jobs,
            housekeeping: &self.housekeeping,
            integrity: &self.integrity,
            support: &self.support,
            backup: &self.backup,
            mail: &self.mail,
            webhooks: &self.webhooks,
            metrics: &self.metrics,
            wallet: &self.wallet,
        };
        toml::to_string_pretty(&view).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_wallet_is_off_until_a_pass_type_id_and_then_names_what_is_missing() {
        let mut apple = AppleWalletConfig::default();
        assert!(
            apple
                .load("https://loyalty.example.com")
                .expect("off")
                .is_none()
        );
        apple.pass_type_id = Some("pass.com.example.loyalty".into());
        let err = apple
            .load("https://loyalty.example.com")
            .expect_err("team missing")
            .to_string();
        assert!(err.contains("wallet.apple.team_id"), "{err}");
        apple.team_id = Some("ABCDE12345".into());
        apple.certificate = Some("/nonexistent/pass.pem".into());
        apple.key = Some("/nonexistent/pass.key".into());
        let err = apple
            .load("https://loyalty.example.com")
            .expect_err("wwdr missing")
            .to_string();
        assert!(err.contains("wallet.apple.wwdr_certificate"), "{err}");
        apple.wwdr_certificate = Some("/nonexistent/wwdr.cer".into());
        let err = apple
            .load("https://loyalty.example.com")
            .expect_err("unreadable")
            .to_string();
        assert!(
            err.contains("wallet.apple.certificate") && err.contains("/nonexistent/pass.pem"),
            "{err}"
        );
    }

    #[test]
    fn the_access_recheck_bound_is_thirty_seconds_and_at_most_sixty() {
        let mut identity = IdentityConfig::default();
        assert_eq!(
            identity.access_recheck().expect("default"),
            time::Duration::seconds(30)
        );
        identity.access_recheck_seconds = 60;
        assert_eq!(
            identity.access_recheck().expect("sixty"),
            time::Duration::seconds(60)
        );
        identity.access_recheck_seconds = 61;
        let err = identity.access_recheck().expect_err("too long");
        assert!(
            err.0.contains("identity.access_recheck_seconds") && err.0.contains("60 or less"),
            "{}",
            err.0
        );
    }

    #[test]
    fn the_runbook_database_variables_build_a_postgres_url() {
        let db = DatabaseConfig {
            host: Some("portfolio-postgres".into()),
            name: Some("loyalty_db".into()),
            user: Some("loyalty".into()),
            password: Some(SecretString::from("p@ss/word")),
            ..DatabaseConfig::default()
        };
        assert_eq!(
            db.resolved_url().expect("url").expose_secret(),
            "postgres://loyalty:p%40ss%2Fword@portfolio-postgres:5432/loyalty_db"
        );
        assert_eq!(
            db.display_url(),
            "postgres://loyalty:redacted@portfolio-postgres:5432/loyalty_db"
        );
    }

    #[test]
    fn with_nothing_configured_the_database_is_the_sqlite_file() {
        assert_eq!(
            DatabaseConfig::default()
                .resolved_url()
                .expect("url")
                .expose_secret(),
            "sqlite://./data/loyalty.db"
        );
    }

    #[test]
    fn an_authentik_url_with_the_api_path_is_read_as_the_base_url() {
        for written in [
            "https://auth.example.com",
            "https://auth.example.com/",
            "https://auth.example.com/api/v3",
            "https://auth.example.com/api/v3/",
            " https://auth.example.com/api/v3// ",
        ] {
            assert_eq!(
                sections::authentik_base_url(written),
                "https://auth.example.com",
                "{written}"
            );
        }
        assert_eq!(
            sections::authentik_base_url("https://example.com/authentik/api/v3/"),
            "https://example.com/authentik"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_or_redacted_output() {
        let mut config = Config::load(None).expect("defaults");
        config.database.url = Some(SecretString::from("postgres://u:hunter2@h/db"));
        config.database.password = Some(SecretString::from("hunter2"));
        config.identity.oidc_client_secret = Some(SecretString::from("hunter2"));
        config.backup.authentik_database_url = Some(SecretString::from(
            "postgres://authentik:hunter2@db/authentik",
        ));
        config.mail.smtp_password = Some(SecretString::from("hunter2"));
        config.metrics.token = Some(SecretString::from("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!config.redacted_toml().contains("hunter2"));
    }
}
