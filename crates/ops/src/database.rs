//! Opening the database the configuration names (PostgreSQL or SQLite), for the
//! commands, the server, backup restores and the doctor alike.

use crate::UserError;
use crate::config::Config;
use anyhow::Context;
use loyalty_core::store::Store;
use loyalty_store_postgres::{PgSettings, PgStore};
use loyalty_store_sqlite::SqliteStore;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// Connects to the database named by the configuration, without looking at its schema.
/// Returns the store and, for SQLite, the SQLite store itself (for its writer lock).
pub async fn connect_store(
    config: &Config,
    application_name: &str,
) -> anyhow::Result<(Arc<dyn Store>, Option<SqliteStore>)> {
    let url = config.database.resolved_url()?;
    let shown = config.database.display_url();
    if url.expose_secret().starts_with("sqlite:") {
        let s = SqliteStore::connect(url.expose_secret())
            .await
            .with_context(|| format!("opening SQLite database {shown}"))?;
        Ok((Arc::new(s.clone()), Some(s)))
    } else if url.expose_secret().starts_with("postgres://")
        || url.expose_secret().starts_with("postgresql://")
    {
        let settings = PgSettings {
            max_connections: config.database.max_connections,
            application_name: application_name.to_owned(),
            ..PgSettings::default()
        };
        let s = PgStore::connect(url.expose_secret(), &settings)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {shown}; check DATABASE_URL or DATABASE_HOST/DATABASE_NAME and that the server is up"))?;
        Ok((Arc::new(s), None))
    } else {
        Err(UserError(format!(
            "database URL {shown} is neither postgres:// nor sqlite://; set DATABASE_URL to one of those"
        ))
        .into())
    }
}
