//! Opening what every command needs, from the configuration: the store (PostgreSQL or
//! SQLite), the directory, the clock, and logging.

use crate::UserError;
use crate::config::{Config, IdentityMode, LogConfig, LogFormat};
use anyhow::Context;
use loyalty_core::clock::{Clock, SystemClock};
use loyalty_core::directory::Directory;
use loyalty_core::directory::cache::CachedDirectory;
use loyalty_core::store::Store;
use loyalty_identity::BuiltinDirectory;
use loyalty_ops::database::connect_store;
use loyalty_store_sqlite::SqliteStore;
use std::sync::Arc;

/// What the commands work with.
pub struct App {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The SQLite store, when that is the backend (for its writer lock).
    pub sqlite: Option<SqliteStore>,
    /// The directory.
    pub directory: Arc<dyn Directory>,
    /// The built-in directory, in builtin mode.
    pub builtin: Option<BuiltinDirectory>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Public base URL.
    pub public_url: String,
}

/// Whether to check, or apply, migrations when opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Require the schema to be current (a fresh SQLite file is migrated: first run).
    RequireCurrent,
    /// Apply pending migrations.
    Migrate,
    /// Do not look.
    Ignore,
}

impl App {
    /// Opens the store and directory named by the configuration.
    pub async fn open(config: &Config, schema: Schema) -> anyhow::Result<Self> {
        Self::open_as(config, schema, "loyalty").await
    }

    /// Like [`App::open`], naming PostgreSQL connections `application_name` (the server
    /// uses `loyalty-serve`, which `loyalty backup restore` looks for).
    pub async fn open_as(
        config: &Config,
        schema: Schema,
        application_name: &str,
    ) -> anyhow::Result<Self> {
        let (store, sqlite) = connect_store(config, application_name).await?;
        let shown = config.database.display_url();

        match schema {
            Schema::Ignore => {}
            Schema::Migrate => {
                store.migrate().await.context("applying migrations")?;
            }
            Schema::RequireCurrent => {
                let status = store
                    .schema_status()
                    .await
                    .context("reading the schema version")?;
                if sqlite.is_some() && status.applied.is_empty() {
                    store
                        .migrate()
                        .await
                        .context("creating the SQLite schema")?;
                } else if !status.is_current() {
                    anyhow::bail!("database {shown}: {}", status.describe());
                }
            }
        }

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let public_url = config.server.public_url();
        let (directory, builtin): (Arc<dyn Directory>, Option<BuiltinDirectory>) = match config
            .identity
            .mode
        {
            IdentityMode::Builtin => {
                let b = BuiltinDirectory::new(
                    store.clone(),
                    clock.clone(),
                    &public_url,
                    time::Duration::hours(i64::from(config.identity.link_ttl_hours)),
                );
                (Arc::new(b.clone()), Some(b))
            }
            IdentityMode::Authentik => {
                let url = config.identity.authentik_url.as_deref().ok_or_else(|| {
                    UserError("identity.mode is authentik but AUTHENTIK_URL is not set; set it to Authentik's base URL, such as https://auth.example.com".into())
                })?;
                let token = config.identity.authentik_api_token.clone().ok_or_else(|| {
                    UserError("identity.mode is authentik but AUTHENTIK_API_TOKEN (or AUTHENTIK_API_TOKEN_FILE) is not set; create an API token in Authentik (Directory > Tokens)".into())
                })?;
                let dir = loyalty_identity::authentik::AuthentikDirectory::new(
                    url,
                    token,
                    loyalty_identity::authentik::AuthentikOptions::default(),
                )
                .map_err(|e| UserError(e.to_string()))?;
                // Access re-checks signed-in people through this, within the bound.
                let bound = config.identity.access_recheck()?;
                (
                    Arc::new(CachedDirectory::new(dir, bound, clock.clone())),
                    None,
                )
            }
        };
        Ok(Self {
            store,
            sqlite,
            directory,
            builtin,
            clock,
            public_url,
        })
    }

    /// Where people sign in.
    pub fn login_url(&self) -> String {
        format!("{}/login", self.public_url)
    }
}

/// Sets up logging to standard error: plain text or JSON lines. Commands other than
/// `serve` log warnings only, so their output stays readable. Colour codes only when
/// standard error is a terminal (and `NO_COLOR` is unset), so log files and journals
/// get plain text.
pub fn init_logging(config: &LogConfig, serving: bool) {
    use std::io::IsTerminal;
    let default = if serving {
        config.level.as_str()
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Completes when the process is asked to stop: Ctrl-C (SIGINT) or SIGTERM. The
/// handlers are installed when this is called, not when it is first polled, so a signal
/// that arrives right after (say, after `serve` printed that it listens) is not lost. A
/// command that selects on it drops its work, so the work's guards clean up before it
/// exits.
pub fn stop_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = signals;
            let recv = |s: &mut Option<tokio::signal::unix::Signal>| {
                let s = s.take();
                async move {
                    match s {
                        Some(mut s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                }
            };
            tokio::select! {
                () = recv(&mut term) => {},
                () = recv(&mut int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
