//! The database: reachable, migrated, (SQLite) writable and not locked by a dead
//! process, the ledger invariants, and no table far past its retention.

use super::Check;
use crate::backup::sqlite::sqlite_file;
use crate::config::Config;
use loyalty_core::store::{SchemaStatus, ServerInfo, Store, StoreError};
use loyalty_store_sqlite::SqliteStore;
use secrecy::ExposeSecret;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long connecting may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An open database, for the checks that read it.
pub struct Db {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Version and clock.
    pub info: ServerInfo,
    /// Whether the schema is exactly this program's, so its tables can be read.
    pub current: bool,
}

/// Runs the database checks; the database when it can be read.
pub async fn examine(config: &Config, checks: &mut Vec<Check>) -> Option<Db> {
    const NAME: &str = "database reachable";
    let shown = config.database.display_url();
    let url = match config.database.resolved_url() {
        Ok(u) => u,
        Err(e) => {
            checks.push(Check::fail(
                "database.reachable",
                NAME,
                format!("{e:#}"),
                "correct DATABASE_URL, or DATABASE_HOST/DATABASE_PORT/DATABASE_NAME/DATABASE_USER",
            ));
            skip_rest(checks, "the database is not configured");
            return None;
        }
    };
    let file = sqlite_file(url.expose_secret());
    if let Some(path) = &file
        && !path.exists()
    {
        checks.push(Check::fail(
            "database.reachable",
            NAME,
            format!("no SQLite database at {}", path.display()),
            "run `loyalty migrate` to create it (or `loyalty serve`, which creates it on first start), or point DATABASE_URL / database.sqlite_path at the existing file",
        ));
        skip_rest(checks, "there is no database");
        return None;
    }
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT,
        crate::database::connect_store(config, "loyalty-doctor"),
    )
    .await;
    let (store, sqlite) = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let why = match tcp_refusal(config).await {
                Some(refused) => refused,
                None => format!("cannot connect to {shown}: {}", e.root_cause()),
            };
            checks.push(unreachable(config, &why));
            skip_rest(checks, "the database is unreachable");
            return None;
        }
        Err(_) => {
            checks.push(unreachable(
                config,
                &format!(
                    "no answer from {shown} within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
            ));
            skip_rest(checks, "the database is unreachable");
            return None;
        }
    };
    let info = match store.server_info().await {
        Ok(info) => info,
        Err(e) => {
            checks.push(unreachable(config, &e.to_string()));
            skip_rest(checks, "the database does not answer");
            return None;
        }
    };
    checks.push(Check::ok(
        "database.reachable",
        NAME,
        format!("{} at {shown}", info.version),
    ));

    let current = match store.schema_status().await {
        Ok(status) => {
            let check = schema(&status);
            let current = check.status == super::Status::Ok;
            checks.push(check);
            current
        }
        Err(e) => {
            checks.push(Check::fail(
                "database.schema",
                "schema migrated",
                format!("cannot read the schema version: {e}"),
                "check that the database user may read the table _sqlx_migrations, then run `loyalty migrate --status`",
            ));
            false
        }
    };

    if let (Some(sqlite), Some(path)) = (&sqlite, &file) {
        checks.push(sqlite_writable(path));
        checks.push(sqlite_lock(sqlite));
    }

    if current {
        checks.push(invariants(store.as_ref()).await);
        checks.push(housekeeping(store.as_ref(), &config.housekeeping).await);
    } else {
        checks.push(Check::skip(
            "ledger.invariants",
            "ledger invariants hold",
            "the schema is not current",
        ));
    }
    Some(Db {
        store,
        info,
        current,
    })
}

fn skip_rest(checks: &mut Vec<Check>, why: &str) {
    checks.push(Check::skip("database.schema", "schema migrated", why));
    checks.push(Check::skip(
        "ledger.invariants",
        "ledger invariants hold",
        why,
    ));
}

/// Why nothing answers at PostgreSQL's host and port, when that is the reason (the
/// connection pool only says that it timed out).
async fn tcp_refusal(config: &Config) -> Option<String> {
    let url = url::Url::parse(config.database.resolved_url().ok()?.expose_secret()).ok()?;
    if !url.scheme().starts_with("postgres") {
        return None;
    }
    let host = url.host_str()?.to_owned();
    let port = url.port().unwrap_or(5432);
    let probe = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("nothing answers at {host}:{port}: {e}")),
        Err(_) => Some(format!("no answer from {host}:{port} within 3 s")),
    }
}

fn unreachable(config: &Config, why: &str) -> Check {
    let url = config
        .database
        .resolved_url()
        .ok()
        .and_then(|u| url::Url::parse(u.expose_secret()).ok());
    let fix = match url.as_ref().filter(|u| u.scheme().starts_with("postgres")) {
        Some(u) => {
            let host = u.host_str().unwrap_or("localhost");
            let port = u.port().unwrap_or(5432);
            format!(
                "start PostgreSQL at {host}:{port} or correct DATABASE_URL (or DATABASE_HOST/DATABASE_PORT/DATABASE_NAME/DATABASE_USER/DATABASE_PASSWORD); `pg_isready -h {host} -p {port}` tells whether it listens"
            )
        }
        None => "check the SQLite path in DATABASE_URL / database.sqlite_path and its permissions"
            .into(),
    };
    Check::fail("database.reachable", "database reachable", why, fix)
}

/// Whether the schema is this program's: pending migrations or a newer database fail.
pub fn schema(status: &SchemaStatus) -> Check {
    const NAME: &str = "schema migrated";
    if status.applied.is_empty() {
        Check::fail(
            "database.schema",
            NAME,
            "the database has no tables yet",
            "run `loyalty migrate`",
        )
    } else if !status.unknown().is_empty() {
        Check::fail(
            "database.schema",
            NAME,
            format!(
                "the database has migrations {:?} that this loyalty ({}) does not know",
                status.unknown(),
                env!("CARGO_PKG_VERSION")
            ),
            "a newer loyalty migrated this database: upgrade this binary to that version (never run an older one against it)",
        )
    } else if !status.pending().is_empty() {
        Check::fail(
            "database.schema",
            NAME,
            format!("migrations {:?} are pending", status.pending()),
            "run `loyalty migrate` (take a backup first)",
        )
    } else {
        Check::ok(
            "database.schema",
            NAME,
            format!(
                "version {}",
                status.known.last().copied().unwrap_or_default()
            ),
        )
    }
}

/// Whether the SQLite file and its folder (for the -wal and -shm files) can be written.
fn sqlite_writable(path: &Path) -> Check {
    const NAME: &str = "SQLite file writable";
    let fix = format!(
        "make {} and its folder writable by the user that runs loyalty (chown/chmod)",
        path.display()
    );
    if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
        return Check::fail(
            "sqlite.writable",
            NAME,
            format!("{}: {e}", path.display()),
            fix,
        );
    }
    let folder = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = folder.join(format!(".loyalty-doctor-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Check::ok("sqlite.writable", NAME, path.display().to_string())
        }
        Err(e) => Check::fail(
            "sqlite.writable",
            NAME,
            format!(
                "cannot create files in {} (SQLite needs its -wal and -shm files there): {e}",
                folder.display()
            ),
            fix,
        ),
    }
}

/// The single-writer lock: free, or held by a running server. The lock is an operating
/// system lock on `<db>.lock`, released when its process ends, so a lock file left by a
/// crashed server never blocks; this check says who holds it.
fn sqlite_lock(sqlite: &SqliteStore) -> Check {
    const NAME: &str = "SQLite writer lock";
    match sqlite.lock_writer() {
        Ok(Some(lock)) => Check::ok(
            "sqlite.lock",
            NAME,
            format!(
                "free: no server is running on this file ({})",
                lock.path().display()
            ),
        ),
        Ok(None) => Check::ok("sqlite.lock", NAME, "no lock file"),
        Err(StoreError::Locked(_)) => Check::ok(
            "sqlite.lock",
            NAME,
            "held by a running loyalty server, as it should be while it serves",
        ),
        Err(e) => Check::warn(
            "sqlite.lock",
            NAME,
            e.to_string(),
            "make the lock file beside the database writable by the user that runs loyalty",
        ),
    }
}

/// `check_invariants` over every organization.
async fn invariants(store: &dyn Store) -> Check {
    const NAME: &str = "ledger invariants hold";
    match store.check_invariants(None).await {
        Ok(r) if r.holds() => Check::ok(
            "ledger.invariants",
            NAME,
            format!("{} customers, {} ledger entries", r.customers, r.entries),
        ),
        Ok(r) => Check::fail(
            "ledger.invariants",
            NAME,
            format!(
                "{} balance mismatches, {} negative balances, {} broken balance_after chains",
                r.balance_mismatches, r.negative_balances, r.broken_chains
            ),
            "run `loyalty points verify` to see which organization; the ledger is append-only, so restore the last good backup or have an admin correct it with an adjustment",
        ),
        Err(e) => Check::fail(
            "ledger.invariants",
            NAME,
            format!("cannot read the ledger: {e}"),
            "check the database user's rights on the customers and ledger tables",
        ),
    }
}

/// Rows older than twice their retention: housekeeping is off or cannot keep up.
pub async fn housekeeping(store: &dyn Store, config: &crate::config::HousekeepingConfig) -> Check {
    const NAME: &str = "tables within their retention";
    let retention = match crate::housekeeping::retention(config) {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                "database.housekeeping",
                NAME,
                e.0,
                "correct the [housekeeping] setting named (`loyalty config` shows them)",
            );
        }
    };
    let clock = loyalty_core::clock::SystemClock;
    match loyalty_core::service::housekeeping::overdue(store, &clock, &retention).await {
        Ok(list) if list.is_empty() => Check::ok(
            "database.housekeeping",
            NAME,
            format!("idempotency records kept {} days", config.idempotency_days),
        ),
        Ok(list) => Check::warn(
            "database.housekeeping",
            NAME,
            list.iter()
                .map(|o| {
                    format!(
                        "{} rows of {} older than twice their retention",
                        o.rows,
                        o.kind.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            "run `loyalty housekeeping`, and keep `serve` running with housekeeping.interval_secs above 0 (see docs/housekeeping.md)",
        ),
        Err(e) => Check::warn(
            "database.housekeeping",
            NAME,
            format!("cannot count old rows: {e}"),
            "check the database user's rights on the tables housekeeping looks after",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://./data/loyalty.db"),
            Some(PathBuf::from("./data/loyalty.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[test]
    fn pending_and_newer_schemas_fail_with_their_own_fix() {
        let pending = schema(&SchemaStatus {
            applied: vec![1, 2],
            known: vec![1, 2, 3],
        });
        assert_eq!(pending.status, super::super::Status::Fail);
        assert!(pending.fix.unwrap().contains("loyalty migrate"));
        let newer = schema(&SchemaStatus {
            applied: vec![1, 2, 3, 4],
            known: vec![1, 2, 3],
        });
        assert!(newer.fix.unwrap().contains("upgrade this binary"));
    }
}
