//! Restoring a set over the configured databases, in two steps so that the caller can
//! ask a person in between: [`prepare`] checks the set against the configuration
//! (backend, files, checksums, client tools, no server running) and takes SQLite's
//! writer lock; [`apply`] reads the erasure log of the database it replaces, restores
//! loyalty's database, erases again every customer that log names (so a restore never
//! brings erased data back), records the restore in its audit log, then restores the
//! identity provider's database.

use super::progress::Progress;
use super::{Backend, FileEntry, KIND_AUTHENTIK, KIND_LOYALTY, Set, find, postgres, sqlite};
use crate::UserError;
use crate::config::Config;
use loyalty_core::clock::Clock;
use loyalty_core::domain::ledger::{Actor, AuditRecord};
use loyalty_core::store::{CustomerStore, Erasure};
use loyalty_store_postgres::{PgSettings, PgStore};
use loyalty_store_sqlite::SqliteStore;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;

/// A restore that passed every check and is ready to run.
pub struct Plan {
    /// The set to restore.
    pub set: Set,
    /// What is overwritten, one line per database, for the confirmation question.
    pub targets: Vec<String>,
    backend: Backend,
    url: SecretString,
    shown: String,
    main: FileEntry,
    idp: Option<(FileEntry, SecretString)>,
    /// SQLite's writer lock, held until the restore is done (no server may start).
    _lock: Option<File>,
}

/// One database brought back.
#[derive(Debug, Clone)]
pub struct FileRestored {
    /// The set's file.
    pub file: FileEntry,
    /// The database it went into (file path or URL, password removed).
    pub into: String,
    /// Tables in the database afterwards (PostgreSQL).
    pub tables: Option<i64>,
    /// Where the replaced SQLite database was kept.
    pub kept: Option<PathBuf>,
}

/// Whether the restore is in the restored audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// As `backup.restore`, by this operator.
    By(String),
    /// The restored schema (this version) predates the audit log.
    NoAuditLog(i64),
    /// Writing it failed (the data is restored all the same).
    Failed(String),
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Loyalty's database.
    pub loyalty: FileRestored,
    /// The identity provider's database, when the set holds it.
    pub identity: Option<FileRestored>,
    /// The restored schema version.
    pub schema_version: i64,
    /// Row counts of the restored loyalty database.
    pub row_counts: BTreeMap<String, i64>,
    /// The audit record of the restore.
    pub recorded: Recorded,
    /// The newest schema version this build knows (a lower restored one needs `migrate`).
    pub known_schema: i64,
    /// Erasures of the replaced database replayed on the restored one: lines of the
    /// log, and customers cleared again.
    pub erasures: (usize, u64),
}

/// The first schema version with the erasure log.
const ERASURE_LOG_SCHEMA: i64 = 19;

/// Finds set `which` (`latest` or `YYYYMMDD_HHMMSS`) and checks it can be restored over
/// the configured databases, changing nothing.
pub async fn prepare(
    config: &Config,
    which: &str,
    progress: &dyn Progress,
) -> anyhow::Result<Plan> {
    let dir = PathBuf::from(&config.backup.dir);
    let set = find(&config.backup.dir, &dir, which)?;
    let url = config.database.resolved_url()?;
    super::create::sweep(&dir, &url, progress);
    let backend = Backend::of(url.expose_secret())?;
    let shown = config.database.display_url();
    if set.manifest.backend != backend.as_str() {
        return Err(UserError(format!(
            "backup set {} is a {} backup but the configured database {shown} is {}; point DATABASE_URL at a {} database",
            set.name,
            set.manifest.backend,
            backend.as_str(),
            set.manifest.backend
        ))
        .into());
    }
    let main = set
        .manifest
        .files
        .iter()
        .find(|f| f.kind == KIND_LOYALTY)
        .cloned()
        .ok_or_else(|| {
            UserError(format!(
                "backup set {} holds no loyalty database; choose another set (`loyalty backup list`)",
                set.name
            ))
        })?;
    let idp_file = set
        .manifest
        .files
        .iter()
        .find(|f| f.kind == KIND_AUTHENTIK)
        .cloned();
    let idp_url = config.backup.authentik_database_url.clone();
    if idp_file.is_some() && idp_url.is_none() {
        return Err(UserError(format!(
            "backup set {} also holds the identity provider's database; set AUTHENTIK_DATABASE_URL (backup.authentik_database_url) so both roll back to the same moment",
            set.name
        ))
        .into());
    }
    if idp_file.is_none() && idp_url.is_some() {
        progress.note(&format!(
            "note: backup set {} has no identity provider database; only loyalty's database is restored",
            set.name
        ));
    }

    super::verify(&set, progress)?;
    let mut targets = vec![format!("loyalty database {shown}  <-  {}", main.name)];
    let idp = match (idp_file, idp_url) {
        (Some(f), Some(u)) => {
            targets.push(format!(
                "identity provider database {}  <-  {}",
                display(u.expose_secret()),
                f.name
            ));
            Some((f, u))
        }
        _ => None,
    };
    let lock = match backend {
        Backend::Sqlite => {
            let db = sqlite::db_path(url.expose_secret())?;
            Some(sqlite::lock_writer(&db)?)
        }
        Backend::Postgres => {
            postgres::check_tools(set.manifest.pg_dump_version.as_deref()).await?;
            postgres::check_not_in_use(&url, KIND_LOYALTY, "restore").await?;
            None
        }
    };
    if let Some((_, u)) = &idp {
        postgres::check_tools(set.manifest.pg_dump_version.as_deref()).await?;
        postgres::check_not_in_use(u, KIND_AUTHENTIK, "restore").await?;
    }
    Ok(Plan {
        set,
        targets,
        backend,
        url,
        shown,
        main,
        idp,
        _lock: lock,
    })
}

/// Runs a prepared restore. The restore is recorded in the audit log by `actor` as soon
/// as loyalty's database is back, even if the identity provider's restore then fails
/// (that error says loyalty's database WAS restored).
pub async fn apply(
    config: &Config,
    plan: Plan,
    actor: &Actor,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> anyhow::Result<Outcome> {
    let set = &plan.set;
    let main = &plan.main;
    let backup_dir = PathBuf::from(&config.backup.dir);
    let mut erasure_log = read_erasure_log(plan.backend, &plan.url, progress).await?;
    add_journal(&mut erasure_log, &backup_dir, progress)?;
    let (loyalty, schema_version, row_counts) = match plan.backend {
        Backend::Sqlite => {
            let db = sqlite::db_path(plan.url.expose_secret())?;
            let r = sqlite::restore(&db, &set.path.join(&main.name), &backup_dir, progress).await?;
            let restored = FileRestored {
                file: main.clone(),
                into: db.display().to_string(),
                tables: None,
                kept: r.kept,
            };
            (restored, r.schema_version, r.row_counts)
        }
        Backend::Postgres => {
            // A server may have started while the operator read the prompt.
            postgres::check_not_in_use(&plan.url, KIND_LOYALTY, "restore").await?;
            let r = postgres::restore(
                &plan.url,
                &set.path.join(&main.name),
                KIND_LOYALTY,
                &backup_dir,
                progress,
            )
            .await?;
            let restored = FileRestored {
                file: main.clone(),
                into: plan.shown.clone(),
                tables: Some(r.tables),
                kept: None,
            };
            (restored, r.schema_version, r.row_counts)
        }
    };
    let replayed = replay_erasures(config, &erasure_log, schema_version, progress)
        .await
        .map_err(|e| {
            e.context(format!(
                "the loyalty database WAS restored from set {}, but the erasures made since were not applied again; fix the cause and run `loyalty backup restore {} --yes` again before starting the server",
                set.name, set.name
            ))
        })?;
    let recorded = record(config, set, schema_version, actor, clock).await;
    let identity = match &plan.idp {
        None => None,
        Some((f, u)) => {
            match postgres::restore(
                u,
                &set.path.join(&f.name),
                KIND_AUTHENTIK,
                &backup_dir,
                progress,
            )
            .await
            {
                Ok(r) => Some(FileRestored {
                    file: f.clone(),
                    into: display(u.expose_secret()),
                    tables: Some(r.tables),
                    kept: None,
                }),
                Err(e) => {
                    return Err(e.context(format!(
                        "the loyalty database WAS restored from set {}, but the identity provider's database was not; fix the cause and run `loyalty backup restore {} --yes` again",
                        set.name, set.name
                    )));
                }
            }
        }
    };
    let known_schema = loyalty_store_postgres::MIGRATIONS
        .last()
        .map(|m| m.0)
        .unwrap_or_default();
    Ok(Outcome {
        loyalty,
        identity,
        schema_version,
        row_counts,
        recorded,
        known_schema,
        erasures: (erasure_log.len(), replayed),
    })
}

/// Adds the lines of the erasure journal beside the backups that the replaced database's
/// log lacks: when that database was lost, the journal is the only record of the
/// erasures made since the set was taken.
fn add_journal(
    log: &mut Vec<Erasure>,
    backup_dir: &std::path::Path,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let path = backup_dir.join(loyalty_core::service::erasure::JOURNAL_FILE);
    let (journal, unreadable) = loyalty_core::service::erasure::read_journal(&path)
        .map_err(|e| anyhow::anyhow!("cannot read the erasure journal {}: {e}", path.display()))?;
    if unreadable > 0 {
        progress.note(&format!(
            "note: {unreadable} lines of the erasure journal {} could not be read and were skipped",
            path.display()
        ));
    }
    let mut added = 0;
    for line in journal {
        if !log
            .iter()
            .any(|e| e.organization_id == line.organization_id && e.customer_id == line.customer_id)
        {
            log.push(line);
            added += 1;
        }
    }
    if added > 0 {
        progress.note(&format!(
            "note: {added} erasures are in the journal beside the backups but not in the replaced database's log; they are applied too"
        ));
    }
    Ok(())
}

/// The erasure log of the database about to be replaced: empty when it has none (a new
/// database, or one older than the log).
async fn read_erasure_log(
    backend: Backend,
    url: &SecretString,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<Erasure>> {
    let read = match backend {
        Backend::Sqlite => {
            let db = sqlite::db_path(url.expose_secret())?;
            if !db.exists() {
                return Ok(Vec::new());
            }
            let s = SqliteStore::connect(url.expose_secret()).await?;
            let read = s.erasure_log().await;
            s.pool().close().await;
            read
        }
        Backend::Postgres => {
            let settings = PgSettings {
                max_connections: 1,
                application_name: "loyalty-restore".to_owned(),
                ..PgSettings::default()
            };
            let s = PgStore::connect(url.expose_secret(), &settings).await?;
            let read = s.erasure_log().await;
            s.pool().close().await;
            read
        }
    };
    match read {
        Ok(log) => Ok(log),
        Err(e) => {
            progress.note(&format!(
                "note: the database being replaced has no erasure log to apply again ({e})"
            ));
            Ok(Vec::new())
        }
    }
}

/// Erases again, in the restored database, every customer the replaced database's
/// erasure log names; a restored schema older than the log is migrated first.
async fn replay_erasures(
    config: &Config,
    log: &[Erasure],
    schema_version: i64,
    progress: &dyn Progress,
) -> anyhow::Result<u64> {
    if log.is_empty() {
        return Ok(0);
    }
    let (store, sqlite) = crate::database::connect_store(config, "loyalty-restore").await?;
    let replayed = async {
        if schema_version < ERASURE_LOG_SCHEMA {
            progress.note(&format!(
                "note: the restored schema (version {schema_version}) predates the erasure log; migrating it to apply {} erasures again",
                log.len()
            ));
            store.migrate().await?;
        }
        Ok::<_, anyhow::Error>(store.replay_erasures(log).await?)
    }
    .await;
    if let Some(s) = sqlite {
        s.pool().close().await;
    }
    replayed
}

/// Writes the restore into the restored database's audit log (`backup.restore`, no
/// organization): its history then shows that everything after the set's time was
/// rolled back. The data is restored whatever happens here, so a failure is reported,
/// not raised.
async fn record(
    config: &Config,
    set: &Set,
    schema_version: i64,
    actor: &Actor,
    clock: &dyn Clock,
) -> Recorded {
    // The audit log came with migration 2; an older set has nowhere to keep the record.
    if schema_version < 2 {
        return Recorded::NoAuditLog(schema_version);
    }
    let record = AuditRecord::new(
        None,
        actor,
        "backup.restore",
        ("backup", set.name.clone()),
        None,
        Some(serde_json::json!({
            "set": set.name,
            "created_at": set.manifest.created_at.format(&Rfc3339).unwrap_or_default(),
            "label": set.manifest.label,
            "files": set.manifest.files,
        })),
        clock.now(),
    );
    let written = async {
        let (store, sqlite) = crate::database::connect_store(config, "loyalty-restore").await?;
        let written = store.append_audit(&record).await;
        if let Some(s) = sqlite {
            s.pool().close().await;
        }
        written.map_err(anyhow::Error::from)
    }
    .await;
    match written {
        Ok(()) => Recorded::By(actor.label.clone()),
        Err(e) => Recorded::Failed(format!("{e:#}")),
    }
}

/// A database URL with its password replaced, for people.
fn display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(invalid URL)".into(),
    }
}
