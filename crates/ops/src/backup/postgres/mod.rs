//! PostgreSQL sets: `pg_dump --format=custom` streamed through gzip, and a restore that
//! brings the database back exactly as it was: every schema of the database is emptied
//! and the dump replayed in one transaction (`psql --single-transaction`), so tables made
//! after the backup go too, a failure changes nothing, and roles (such as
//! `loyalty_tenant`, which are global) stay as they are.

mod dump;
mod restore;

pub use dump::{Dump, dump};
pub use restore::{Restored, restore};

use super::KIND_LOYALTY;
use crate::UserError;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// `application_name` of the backup tools' own connections (never mistaken for a server).
pub const BACKUP_APPLICATION_NAME: &str = "loyalty-backup";

/// The tables whose row counts a set records and a restore reports.
pub const COUNTED_TABLES: [&str; 3] = ["organizations", "users", "points_transactions"];

/// Where to connect, split for libpq: the password goes in `PGPASSWORD`, never on a
/// command line where `ps` shows it.
struct Target {
    conn: String,
    password: Option<String>,
    shown: String,
    database: String,
}

impl Target {
    fn parse(url: &SecretString) -> anyhow::Result<Self> {
        let mut parsed = url::Url::parse(url.expose_secret())
            .map_err(|e| UserError(format!("the PostgreSQL URL is invalid: {e}")))?;
        let password = parsed.password().map(percent_decode);
        let _ = parsed.set_password(None);
        let conn = parsed.to_string();
        let database = parsed.path().trim_start_matches('/').to_owned();
        let shown = match &password {
            Some(_) => {
                let mut s = parsed.clone();
                let _ = s.set_password(Some("redacted"));
                s.to_string()
            }
            None => conn.clone(),
        };
        Ok(Self {
            conn,
            password,
            shown,
            database,
        })
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.env("PGAPPNAME", BACKUP_APPLICATION_NAME)
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(pw) = &self.password {
            cmd.env("PGPASSWORD", pw);
        }
        cmd
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'%')
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        if let Some(b) = bytes.get(i) {
            out.push(*b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn connect(url: &SecretString, shown: &str) -> anyhow::Result<PgConnection> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url.expose_secret())
        .map_err(|e| UserError(format!("the PostgreSQL URL {shown} is invalid: {e}")))?
        .application_name(BACKUP_APPLICATION_NAME)
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Off, Duration::from_secs(60));
    options.connect().await.with_context(|| {
        format!("connecting to PostgreSQL at {shown}; check the URL and that the server is up")
    })
}

/// The major version of `15.20` or `15.20 (Debian ...)`.
pub fn major(version: &str) -> Option<u32> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .find(|p| !p.is_empty())
        .and_then(|p| p.parse().ok())
}

fn install_hint(tool: &str, server_major: Option<u32>) -> String {
    match server_major {
        Some(m) => format!(
            "{tool} was not found; install the PostgreSQL client tools of the server's major version {m} (Debian/Ubuntu: apt-get install postgresql-client-{m}, or postgresql-client), so that {tool} is on PATH"
        ),
        None => format!(
            "{tool} was not found; install the PostgreSQL client tools of the server's major version (Debian/Ubuntu: apt-get install postgresql-client), so that {tool} is on PATH"
        ),
    }
}

/// `tool --version` as `15.20`.
async fn tool_version(tool: &str, server_major: Option<u32>) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UserError(install_hint(tool, server_major)).into());
        }
        Err(e) => return Err(e).with_context(|| format!("running {tool} --version")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    text.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("cannot read the version of {tool} from {text:?}"))
}

async fn read_stderr(stderr: Option<tokio::process::ChildStderr>) -> String {
    let mut text = String::new();
    if let Some(mut e) = stderr {
        let _ = e.read_to_string(&mut text).await;
    }
    text.trim().to_owned()
}

async fn schema_version(conn: &mut PgConnection) -> anyhow::Result<i64> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        return Ok(0);
    }
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(max(version), 0)::bigint FROM public._sqlx_migrations WHERE success",
    )
    .fetch_one(&mut *conn)
    .await?)
}

async fn row_counts(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    for table in COUNTED_TABLES {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.{table}"))
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            continue;
        }
        let sql = match table {
            "organizations" => "SELECT count(*) FROM public.organizations",
            "users" => "SELECT count(*) FROM public.users",
            _ => "SELECT count(*) FROM public.points_transactions",
        };
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await?;
        counts.insert(table.to_owned(), n);
    }
    Ok(counts)
}

async fn user_tables(conn: &mut PgConnection) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Checks that `pg_restore` and `psql` are installed and that `pg_restore` is at least
/// as new as the `pg_dump` that wrote the set; returns the `pg_restore` version.
pub async fn check_tools(dumped_by: Option<&str>) -> anyhow::Result<String> {
    let dump_major = dumped_by.and_then(major);
    let restore = tool_version("pg_restore", dump_major).await?;
    tool_version("psql", dump_major).await?;
    if major(&restore) < dump_major {
        return Err(UserError(format!(
            "pg_restore {restore} cannot read a dump written by pg_dump {}; install the PostgreSQL client tools of version {} or newer (postgresql-client-{})",
            dumped_by.unwrap_or_default(),
            dump_major.unwrap_or_default(),
            dump_major.unwrap_or_default()
        ))
        .into());
    }
    Ok(restore)
}

/// Refuses when someone is using the database: for the loyalty database, a running
/// `loyalty serve` (its connections carry `application_name = loyalty-serve`); for the
/// identity provider's database, any other client (Authentik's server and worker).
pub async fn check_not_in_use(url: &SecretString, kind: &str, then: &str) -> anyhow::Result<()> {
    let target = Target::parse(url)?;
    let mut conn = connect(url, &target.shown).await?;
    if kind == KIND_LOYALTY {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()",
        )
        .bind(loyalty_store_postgres::SERVE_APPLICATION_NAME)
        .fetch_one(&mut conn)
        .await?;
        let _ = conn.close().await;
        if n > 0 {
            return Err(UserError(format!(
                "a loyalty server is running against {} ({n} connections named {}); stop every `loyalty serve` first (systemctl stop loyalty, or podman stop portfolio-loyalty), then run the {then} again",
                target.shown,
                loyalty_store_postgres::SERVE_APPLICATION_NAME
            ))
            .into());
        }
    } else {
        let others: Vec<String> = sqlx::query_scalar(
            "SELECT COALESCE(NULLIF(application_name, ''), 'unnamed client') FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> $1",
        )
        .bind(BACKUP_APPLICATION_NAME)
        .fetch_all(&mut conn)
        .await?;
        let _ = conn.close().await;
        if !others.is_empty() {
            return Err(UserError(format!(
                "the identity provider's database {} is in use ({} connections: {}); stop Authentik's server and worker first, then run the {then} again",
                target.shown,
                others.len(),
                others.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn majors_are_read_from_tool_and_server_versions() {
        assert_eq!(super::major("15.20"), Some(15));
        assert_eq!(super::major("16beta1"), Some(16));
        assert_eq!(super::major(""), None);
    }

    #[test]
    fn passwords_leave_the_url() {
        let t = super::Target::parse(&secrecy::SecretString::from(
            "postgres://u:p%40ss@h:5432/db?sslmode=disable",
        ))
        .expect("parse");
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(t.conn, "postgres://u@h:5432/db?sslmode=disable");
        assert_eq!(t.database, "db");
        assert!(!t.shown.contains("p%40ss"));
    }
}
