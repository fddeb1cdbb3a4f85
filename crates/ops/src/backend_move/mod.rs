//! Moving an installation between backends (`loyalty move`): SQLite to PostgreSQL when
//! a shop outgrows one file, PostgreSQL to SQLite for tests and small shops going back.
//!
//! The source must be quiet: on SQLite the move holds the file's writer lock (the one
//! `serve` holds), on PostgreSQL it refuses while connections named `loyalty-serve`
//! are open, and on both it refuses while a job lease (`job_leases`, which `serve`'s
//! jobs take and renew) is still running. The target is migrated, then every table is
//! copied in foreign-key order ([`catalog`]), in batches keyed by the primary key, each
//! batch committed together with the table's progress row in `backend_moves` (migration
//! 33), so a move that stops resumes after the last committed key and never copies a
//! row twice. It ends by comparing row counts, checking the ledger's invariants and
//! hash chains on the target and every customer's chain head against the source's.

pub mod catalog;
pub mod copy;

use crate::UserError;
use crate::backup::progress::Progress;
use crate::backup::{Backend, postgres::check_not_in_use};
use catalog::{NOT_COPIED, Table, quote};
use copy::Val;
use loyalty_core::service::integrity::{ChainReport, verify_chains};
use loyalty_core::store::{InvariantReport, Store};
use loyalty_store_postgres::{PgSettings, PgStore};
use loyalty_store_sqlite::{SqliteStore, WriterLock};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgPool, SqlitePool};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;

/// The application name of a move's PostgreSQL connections.
pub const APPLICATION_NAME: &str = "loyalty-move";

/// Rows per batch unless told otherwise.
pub const DEFAULT_BATCH: u32 = 5_000;

/// What to move where.
#[derive(Debug)]
pub struct Options {
    /// The database the installation is in now.
    pub from: SecretString,
    /// The database it moves to.
    pub to: SecretString,
    /// Empty a target that holds an unfinished move of the same source, and start over.
    pub restart: bool,
    /// Rows per batch (one target transaction each).
    pub batch: u32,
    /// Copy even while a job lease on the source is running (only when no server runs:
    /// a stopped server's lease runs until it expires).
    pub ignore_leases: bool,
    /// Stop with an error after this many committed batches (to try resuming).
    pub stop_after_batches: Option<u64>,
}

/// One table of a finished move.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableMoved {
    /// The table.
    pub table: String,
    /// Rows in the target (equal to the source's).
    pub rows: i64,
    /// Rows this run copied (less than `rows` when it resumed).
    pub copied_now: i64,
}

/// What a move did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Moved {
    /// The source, password removed.
    pub from: String,
    /// The target, password removed.
    pub to: String,
    /// Whether this run resumed an earlier, unfinished one.
    pub resumed: bool,
    /// Whether the target was emptied first (`--restart`).
    pub restarted: bool,
    /// Every copied table, in copy order.
    pub tables: Vec<TableMoved>,
    /// The ledger's invariants on the target.
    pub invariants: InvariantReport,
    /// The hash chains walked on the target.
    pub chains: ChainReport,
    /// Customers whose chain head on the target equals the source's.
    pub heads: usize,
    /// Seconds the run took.
    pub seconds: f64,
}

/// One end of a move.
struct Side {
    store: Arc<dyn Store>,
    db: Db,
    shown: String,
}

enum Db {
    Sqlite {
        lite: SqliteStore,
        _lock: Option<WriterLock>,
    },
    Postgres(PgStore),
}

impl Side {
    async fn open(url: &SecretString, must_exist: bool) -> anyhow::Result<Self> {
        let shown = display(url.expose_secret());
        match Backend::of(url.expose_secret())? {
            Backend::Sqlite => {
                let path = crate::backup::sqlite::db_path(url.expose_secret())?;
                if must_exist && !path.exists() {
                    return Err(UserError(format!(
                        "there is no SQLite database at {}; check --from (or DATABASE_URL)",
                        path.display()
                    ))
                    .into());
                }
                let lite = SqliteStore::connect(url.expose_secret()).await?;
                let lock = lite.lock_writer()?;
                let shown = match std::path::absolute(&path) {
                    Ok(p) => format!("sqlite://{}", p.display()),
                    Err(_) => shown,
                };
                Ok(Self {
                    store: Arc::new(lite.clone()),
                    db: Db::Sqlite { lite, _lock: lock },
                    shown,
                })
            }
            Backend::Postgres => {
                check_not_in_use(url, crate::backup::KIND_LOYALTY, "move").await?;
                let pg = PgStore::connect(
                    url.expose_secret(),
                    &PgSettings {
                        max_connections: 2,
                        application_name: APPLICATION_NAME.to_owned(),
                        ..PgSettings::default()
                    },
                )
                .await
                .map_err(|e| {
                    anyhow::anyhow!("connecting to PostgreSQL at {shown}: {e}; check the URL and that the server is up")
                })?;
                Ok(Self {
                    store: Arc::new(pg.clone()),
                    db: Db::Postgres(pg),
                    shown,
                })
            }
        }
    }

    fn sqlite(&self) -> Option<&SqlitePool> {
        match &self.db {
            Db::Sqlite { lite, .. } => Some(lite.pool()),
            Db::Postgres(_) => None,
        }
    }

    fn postgres(&self) -> Option<&PgPool> {
        match &self.db {
            Db::Postgres(pg) => Some(pg.pool()),
            Db::Sqlite { .. } => None,
        }
    }

    async fn close(&self) {
        match &self.db {
            Db::Sqlite { lite, .. } => lite.pool().close().await,
            Db::Postgres(pg) => pg.pool().close().await,
        }
    }

    /// The names of the tables there are (any schema version).
    async fn table_names(&self) -> anyhow::Result<Vec<String>> {
        Ok(match &self.db {
            Db::Sqlite { lite, .. } => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(lite.pool())
                    .await?
            }
            Db::Postgres(pg) => {
                sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                )
                .fetch_all(pg.pool())
                .await?
            }
        })
    }

    async fn has_rows(&self, table: &str) -> anyhow::Result<bool> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote(table));
        Ok(match &self.db {
            Db::Sqlite { lite, .. } => {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .fetch_one(lite.pool())
                    .await?
                    != 0
            }
            Db::Postgres(pg) => {
                sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pg.pool())
                    .await?
            }
        })
    }

    async fn count(&self, table: &str) -> anyhow::Result<i64> {
        let sql = format!("SELECT count(*) FROM {}", quote(table));
        Ok(match &self.db {
            Db::Sqlite { lite, .. } => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(lite.pool())
                    .await?
            }
            Db::Postgres(pg) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pg.pool())
                    .await?
            }
        })
    }

    /// Job leases still running at `now`: name and expiry.
    async fn live_leases(&self, now: OffsetDateTime) -> anyhow::Result<Vec<(String, String)>> {
        Ok(match &self.db {
            Db::Sqlite { lite, .. } => {
                sqlx::query_as(
                    "SELECT name, expires_at FROM job_leases WHERE expires_at > ?1 ORDER BY name",
                )
                .bind(sqlite_ts(now))
                .fetch_all(lite.pool())
                .await?
            }
            Db::Postgres(pg) => {
                sqlx::query_as(
                    "SELECT name, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"') \
                     FROM job_leases WHERE expires_at > $1 ORDER BY name",
                )
                .bind(now)
                .fetch_all(pg.pool())
                .await?
            }
        })
    }

    /// The progress rows of moves into this database: table, source, last key, rows
    /// copied, finished.
    async fn progress(&self) -> anyhow::Result<Vec<Progressed>> {
        let rows: Vec<(String, String, Option<String>, i64, bool)> = match &self.db {
            Db::Sqlite { lite, .. } => {
                sqlx::query_as(
                    "SELECT table_name, source, last_key, rows_copied, finished_at IS NOT NULL FROM backend_moves",
                )
                .fetch_all(lite.pool())
                .await?
            }
            Db::Postgres(pg) => {
                sqlx::query_as(
                    "SELECT table_name, source, last_key::text, rows_copied, finished_at IS NOT NULL FROM backend_moves",
                )
                .fetch_all(pg.pool())
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(
                |(table, source, last_key, rows_copied, finished)| Progressed {
                    table,
                    source,
                    last_key,
                    rows_copied,
                    finished,
                },
            )
            .collect())
    }
}

/// A table's progress row.
#[derive(Debug, Clone)]
struct Progressed {
    table: String,
    source: String,
    last_key: Option<String>,
    rows_copied: i64,
    finished: bool,
}

/// What the target holds before the move.
enum TargetState {
    /// No installation data.
    Empty,
    /// An earlier move of this source; `finished` when every table was copied.
    Ours {
        /// Every table of that move finished.
        finished: bool,
    },
}

/// Moves the installation at `opts.from` into `opts.to` and verifies the copy.
pub async fn run(opts: &Options, progress: &dyn Progress) -> anyhow::Result<Moved> {
    let started = Instant::now();
    let from_backend = Backend::of(opts.from.expose_secret())?;
    let to_backend = Backend::of(opts.to.expose_secret())?;
    if from_backend == to_backend {
        return Err(UserError(format!(
            "both databases are {}: `loyalty move` changes the backend; to copy a database to another {} server, use `loyalty backup` and `loyalty backup restore`",
            from_backend.as_str(),
            from_backend.as_str()
        ))
        .into());
    }
    if opts.batch == 0 {
        return Err(UserError("--batch must be at least 1 (rows per batch)".into()).into());
    }

    let source = Side::open(&opts.from, true).await?;
    let status = source.store.schema_status().await?;
    if !status.is_current() {
        return Err(UserError(format!(
            "the source {} is at schema {:?} but this loyalty knows {:?}; run `loyalty migrate` on it with this version first (pending: {:?}, unknown: {:?})",
            source.shown,
            status.applied.last(),
            status.known.last(),
            status.pending(),
            status.unknown()
        ))
        .into());
    }
    if !opts.ignore_leases {
        let leases = source.live_leases(OffsetDateTime::now_utc()).await?;
        if !leases.is_empty() {
            let named: Vec<String> = leases
                .iter()
                .map(|(n, until)| format!("{n} (until {until})"))
                .collect();
            return Err(UserError(format!(
                "a loyalty server is writing to {}: its job leases are running: {}; stop every `loyalty serve` first and run the move again once they have run out (or, when you are sure no server runs, with --ignore-leases)",
                source.shown,
                named.join(", ")
            ))
            .into());
        }
    }

    let mut target = Side::open(&opts.to, false).await?;
    let state = target_state(&target, &source.shown).await?;
    let mut restarted = false;
    if opts.restart && matches!(state, TargetState::Ours { finished: true }) {
        return Err(UserError(format!(
            "the target {} holds a finished move of {}, and a server may have written to it since; --restart does not empty it: drop and create that database (or choose an empty one) to move again",
            target.shown, source.shown
        ))
        .into());
    }
    if opts.restart && matches!(state, TargetState::Ours { .. }) {
        target = empty(target, progress).await?;
        restarted = true;
    }
    let target_status = target.store.migrate().await?;
    if target_status.applied != status.applied {
        return Err(UserError(format!(
            "after `migrate` the target {} is at schema {:?} but the source is at {:?}; both must be at the same version",
            target.shown, target_status.applied, status.applied
        ))
        .into());
    }

    let tables = match (&source.db, &target.db) {
        (Db::Sqlite { lite, .. }, Db::Postgres(pg))
        | (Db::Postgres(pg), Db::Sqlite { lite, .. }) => {
            let (pg_tables, refs) = catalog::postgres(pg.pool()).await?;
            let lite_tables = catalog::sqlite(lite.pool()).await?;
            catalog::plan(pg_tables, &refs, &lite_tables)?
        }
        _ => {
            return Err(anyhow::anyhow!(
                "a move needs one SQLite and one PostgreSQL database"
            ));
        }
    };

    let before = target.progress().await?;
    let resumed = !restarted && before.iter().any(|p| !p.finished);
    if !restarted && !before.is_empty() && !resumed {
        progress.note(&format!(
            "{} already holds a finished move of {}; checking it again",
            target.shown, source.shown
        ));
    }
    start_progress(&target, &tables, &source.shown, &before).await?;
    let before = target.progress().await?;

    let mut total: u64 = 0;
    let mut counts = Vec::with_capacity(tables.len());
    for t in &tables {
        let n = source.count(&t.name).await?;
        counts.push(n);
        total += u64::try_from(n).unwrap_or(0);
    }
    let done_already: i64 = before.iter().map(|p| p.rows_copied).sum();
    if resumed {
        progress.note(&format!(
            "resuming the move from {}: {done_already} rows were copied before",
            source.shown
        ));
    }
    let mut task = progress.rows("copying rows", Some(total));
    task.inc(u64::try_from(done_already).unwrap_or(0));
    let mut batches: u64 = 0;
    let mut moved = Vec::with_capacity(tables.len());
    for t in &tables {
        let p = before.iter().find(|p| p.table == t.name);
        let mut last_key = p.and_then(|p| p.last_key.clone());
        let mut copied_now: i64 = 0;
        if !p.is_some_and(|p| p.finished) {
            loop {
                let rows = match &source.db {
                    Db::Sqlite { lite, .. } => {
                        copy::read_sqlite(lite.pool(), t, last_key.as_deref(), opts.batch).await?
                    }
                    Db::Postgres(pg) => {
                        copy::read_postgres(pg.pool(), t, last_key.as_deref(), opts.batch).await?
                    }
                };
                let finished = rows.len() < opts.batch as usize;
                let key = copy::last_key(t, &rows)?.or(last_key.clone());
                commit_batch(&target, t, &rows, key.as_deref(), finished)
                    .await
                    .map_err(|e| {
                        e.context(format!(
                            "copying table {} into {} (run the move again to resume)",
                            t.name, target.shown
                        ))
                    })?;
                let n = rows.len();
                copied_now += n as i64;
                task.inc(n as u64);
                last_key = key;
                batches += 1;
                if opts.stop_after_batches == Some(batches) {
                    return Err(anyhow::anyhow!(
                        "stopped after {batches} batches as asked; run the move again to resume"
                    ));
                }
                if finished {
                    break;
                }
            }
        }
        moved.push(TableMoved {
            table: t.name.clone(),
            rows: 0,
            copied_now,
        });
    }
    task.finish();

    if let Some(pg) = target.postgres() {
        for t in &tables {
            if let Some(col) = &t.identity {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max({c}) FROM {t}), 1), (SELECT count(*) > 0 FROM {t}))",
                    c = quote(col),
                    t = quote(&t.name)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&t.name)
                    .bind(col)
                    .execute(pg)
                    .await?;
            }
        }
    }

    let verify = progress.task("verifying the target", None);
    for (m, n) in moved.iter_mut().zip(&counts) {
        let there = target.count(&m.table).await?;
        if there != *n {
            return Err(anyhow::anyhow!(
                "table {} has {n} rows in the source but {there} in the target: one of them changed since the move began (a server ran?); stop every server and move into an empty database",
                m.table
            ));
        }
        m.rows = there;
    }
    let invariants = target.store.check_invariants(None).await?;
    if !invariants.holds() {
        return Err(anyhow::anyhow!(
            "the ledger's invariants do not hold on the target: {invariants:?}"
        ));
    }
    let chains = verify_chains(target.store.as_ref(), None, None).await?;
    if let Some(b) = &chains.first_failure {
        return Err(anyhow::anyhow!(
            "a hash chain breaks on the target: customer {} of organization {} ({:?})",
            b.customer.0,
            b.org.0,
            b.failure
        ));
    }
    let mut source_heads = source.store.chain_heads(None).await?;
    let mut target_heads = target.store.chain_heads(None).await?;
    source_heads.sort_by_key(|h| (h.org.0, h.customer.0));
    target_heads.sort_by_key(|h| (h.org.0, h.customer.0));
    if source_heads != target_heads {
        let differs = source_heads
            .iter()
            .zip(&target_heads)
            .find(|(a, b)| a != b)
            .map(|(a, _)| format!("customer {}", a.customer.0))
            .unwrap_or_else(|| "the number of customers".into());
        return Err(anyhow::anyhow!(
            "the chain heads on the target differ from the source's ({differs})"
        ));
    }
    verify.finish();
    let heads = target_heads.len();
    let out = Moved {
        from: source.shown.clone(),
        to: target.shown.clone(),
        resumed,
        restarted,
        tables: moved,
        invariants,
        chains,
        heads,
        seconds: started.elapsed().as_secs_f64(),
    };
    source.close().await;
    target.close().await;
    Ok(out)
}

/// Whether the target is empty, holds a move of this source, or holds something else
/// (refused, even with `--restart`: a move never empties a database it did not fill).
async fn target_state(target: &Side, source: &str) -> anyhow::Result<TargetState> {
    let names = target.table_names().await?;
    let mut filled = None;
    for name in names.iter().filter(|n| !NOT_COPIED.contains(&n.as_str())) {
        if target.has_rows(name).await? {
            filled = Some(name.clone());
            break;
        }
    }
    let progress = if names.iter().any(|n| n == "backend_moves") {
        target.progress().await?
    } else {
        Vec::new()
    };
    if let Some(other) = progress.iter().find(|p| p.source != source) {
        return Err(UserError(format!(
            "the target {} holds a move from another database ({}); choose an empty database for --to",
            target.shown, other.source
        ))
        .into());
    }
    match (filled, progress.is_empty()) {
        (Some(table), true) => Err(UserError(format!(
            "the target {} already holds data (table {table} has rows) that no move of {source} put there; choose an empty database for --to",
            target.shown
        ))
        .into()),
        (None, true) => Ok(TargetState::Empty),
        _ => Ok(TargetState::Ours {
            finished: progress.iter().all(|p| p.finished),
        }),
    }
}

/// Empties a target that holds a move of this source: PostgreSQL's tables are
/// truncated (the ledger's append-only trigger fires on UPDATE and DELETE, not on
/// TRUNCATE); SQLite's rows are deleted with the append-only triggers dropped and
/// made again in the same transaction.
async fn empty(target: Side, progress: &dyn Progress) -> anyhow::Result<Side> {
    progress.note(&format!(
        "emptying {} (it holds an earlier move of the same source) to start over",
        target.shown
    ));
    match &target.db {
        Db::Postgres(pg) => {
            let names: Vec<String> = target
                .table_names()
                .await?
                .into_iter()
                .filter(|n| n != "_sqlx_migrations")
                .map(|n| quote(&n))
                .collect();
            if !names.is_empty() {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "TRUNCATE {} CASCADE",
                    names.join(", ")
                )))
                .execute(pg.pool())
                .await?;
            }
            Ok(target)
        }
        Db::Sqlite { lite, .. } => {
            // One connection: foreign keys off for it, the ledger's triggers dropped and
            // made again from their own text, all in one transaction.
            let mut conn = lite.pool().acquire().await?;
            sqlx::query("PRAGMA foreign_keys = OFF")
                .execute(&mut *conn)
                .await?;
            let emptied = async {
                let triggers: Vec<(String, String)> = sqlx::query_as(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL",
                )
                .fetch_all(&mut *conn)
                .await?;
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> '_sqlx_migrations'",
                )
                .fetch_all(&mut *conn)
                .await?;
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                let work = async {
                    for (name, _) in &triggers {
                        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER {}", quote(name))))
                            .execute(&mut *conn)
                            .await?;
                    }
                    for name in &names {
                        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", quote(name))))
                            .execute(&mut *conn)
                            .await?;
                    }
                    for (_, sql) in &triggers {
                        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok::<_, anyhow::Error>(())
                }
                .await;
                let end = if work.is_ok() { "COMMIT" } else { "ROLLBACK" };
                sqlx::query(end).execute(&mut *conn).await?;
                work
            }
            .await;
            sqlx::query("PRAGMA foreign_keys = ON")
                .execute(&mut *conn)
                .await?;
            emptied?;
            drop(conn);
            Ok(target)
        }
    }
}

/// Adds the progress rows a target lacks (every table on a first run).
async fn start_progress(
    target: &Side,
    tables: &[Table],
    source: &str,
    before: &[Progressed],
) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    for t in tables
        .iter()
        .filter(|t| !before.iter().any(|p| p.table == t.name))
    {
        match &target.db {
            Db::Sqlite { lite, .. } => {
                sqlx::query(
                    "INSERT INTO backend_moves (table_name, source, started_at) VALUES (?1, ?2, ?3)",
                )
                .bind(&t.name)
                .bind(source)
                .bind(sqlite_ts(now))
                .execute(lite.pool())
                .await?;
            }
            Db::Postgres(pg) => {
                sqlx::query(
                    "INSERT INTO backend_moves (table_name, source, started_at) VALUES ($1, $2, $3)",
                )
                .bind(&t.name)
                .bind(source)
                .bind(now)
                .execute(pg.pool())
                .await?;
            }
        }
    }
    Ok(())
}

/// Writes one batch and advances the table's progress row in one transaction.
async fn commit_batch(
    target: &Side,
    table: &Table,
    rows: &[Vec<Val>],
    key: Option<&str>,
    finished: bool,
) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    if let Some(pool) = target.postgres() {
        let mut tx = pool.begin().await?;
        copy::write_postgres(&mut tx, table, rows).await?;
        sqlx::query(
            "UPDATE backend_moves SET last_key = $1::jsonb, rows_copied = rows_copied + $2, \
             finished_at = CASE WHEN $3 THEN $4 ELSE NULL END WHERE table_name = $5",
        )
        .bind(key)
        .bind(rows.len() as i64)
        .bind(finished)
        .bind(now)
        .bind(&table.name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    } else if let Some(pool) = target.sqlite() {
        let mut tx = pool.begin().await?;
        copy::write_sqlite(&mut tx, table, rows).await?;
        sqlx::query(
            "UPDATE backend_moves SET last_key = ?1, rows_copied = rows_copied + ?2, \
             finished_at = CASE WHEN ?3 THEN ?4 ELSE NULL END WHERE table_name = ?5",
        )
        .bind(key)
        .bind(rows.len() as i64)
        .bind(finished)
        .bind(sqlite_ts(now))
        .bind(&table.name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// A timestamp as the SQLite store keeps it: UTC, microseconds, fixed width.
fn sqlite_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// A database URL with its password replaced, for people.
pub fn display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(invalid URL)".into(),
    }
}
