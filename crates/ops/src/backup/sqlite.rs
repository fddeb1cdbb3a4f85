//! SQLite sets: an online, consistent copy made with `VACUUM INTO` (a read transaction,
//! so a running server keeps serving), gzip'd. A restore holds the server's writer lock,
//! checks the unpacked copy with `PRAGMA integrity_check`, keeps the replaced file as
//! `<db>.before-restore-<timestamp>` and renames the copy into place. Temporary copies
//! are private files inside the backup folder ([`super::scratch`]).

use super::progress::Progress;
use super::scratch::{ScratchFile, create_private_file};
use super::{FileEntry, GZIP_LEVEL, HashingWriter, KIND_LOYALTY, set_name};
use crate::UserError;
use anyhow::Context;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::postgres::COUNTED_TABLES;

/// The database file named by a `sqlite:` URL.
pub fn db_path(url: &str) -> anyhow::Result<PathBuf> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| UserError(format!("the SQLite URL {url} is invalid: {e}")))?;
    Ok(options.get_filename().to_path_buf())
}

/// The database file of a `sqlite:` URL; `None` for any other URL or an in-memory one.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

async fn open(path: &Path, read_only: bool) -> anyhow::Result<SqliteConnection> {
    let mut options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10))
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Off, Duration::from_secs(60));
    if read_only {
        // Nobody else has this file: no locking, no journal.
        options = options.read_only(true).immutable(true);
    }
    options
        .connect()
        .await
        .with_context(|| format!("opening SQLite database {}", path.display()))
}

/// Schema version and row counts of a database file.
async fn inspect(path: &Path) -> anyhow::Result<(i64, BTreeMap<String, i64>)> {
    let mut conn = open(path, true).await?;
    let has = |table: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .bind(table)
    };
    let version = if has("_sqlx_migrations").fetch_one(&mut conn).await? > 0 {
        sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await?
    } else {
        0
    };
    let mut counts = BTreeMap::new();
    for table in COUNTED_TABLES {
        if has(table).fetch_one(&mut conn).await? == 0 {
            continue;
        }
        let sql = match table {
            "organizations" => "SELECT count(*) FROM organizations",
            "users" => "SELECT count(*) FROM users",
            _ => "SELECT count(*) FROM points_transactions",
        };
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
        counts.insert(table.to_owned(), n);
    }
    let _ = conn.close().await;
    Ok((version, counts))
}

/// What a copy recorded.
#[derive(Debug)]
pub struct Copy {
    /// The file.
    pub entry: FileEntry,
    /// Newest applied migration.
    pub schema_version: i64,
    /// Row counts of the copy.
    pub row_counts: BTreeMap<String, i64>,
}

/// Copies the database at `db` (while a server may be using it) into `out` (gzip).
pub async fn copy(db: &Path, out: &Path, progress: &dyn Progress) -> anyhow::Result<Copy> {
    if !db.is_file() {
        return Err(UserError(format!(
            "there is no SQLite database at {}; check DATABASE_URL (or database.sqlite_path)",
            db.display()
        ))
        .into());
    }
    let raw = out.with_extension("");
    // VACUUM INTO fills an empty file as it is, so the copy is private from the start.
    let raw_guard =
        ScratchFile::create(raw.clone()).with_context(|| format!("creating {}", raw.display()))?;
    let task = progress.task(&format!("copying {}", db.display()), None);
    let mut conn = open(db, false).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(raw.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .with_context(|| format!("copying {} with VACUUM INTO", db.display()))?;
    let _ = conn.close().await;
    task.finish();
    let (schema_version, row_counts) = inspect(&raw).await?;

    let input = File::open(&raw).with_context(|| format!("opening {}", raw.display()))?;
    let total = input.metadata().map(|m| m.len()).ok();
    let mut task = progress.task("compressing the copy", total);
    let file = create_private_file(out).with_context(|| format!("creating {}", out.display()))?;
    let mut gz = GzEncoder::new(
        HashingWriter::new(BufWriter::with_capacity(1 << 20, file)),
        Compression::new(GZIP_LEVEL),
    );
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("reading {}", raw.display()))?;
        if n == 0 {
            break;
        }
        gz.write_all(buf.get(..n).unwrap_or_default())
            .with_context(|| format!("writing {}", out.display()))?;
        task.inc(n as u64);
    }
    let (writer, bytes, sha256) = gz
        .finish()
        .with_context(|| format!("writing {}", out.display()))?
        .finish();
    let file = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", out.display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", out.display()))?;
    task.finish();
    drop(raw_guard);
    Ok(Copy {
        entry: FileEntry {
            name: out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes,
            sha256,
            kind: KIND_LOYALTY.into(),
            server_version: None,
        },
        schema_version,
        row_counts,
    })
}

/// Takes the writer lock a running `loyalty serve` holds (`<db>.lock`); refuses while a
/// server runs. Held until the returned file is dropped, so no server starts mid-restore.
pub fn lock_writer(db: &Path) -> anyhow::Result<File> {
    let path = with_suffix(db, ".lock");
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(UserError(format!(
            "a loyalty server is running on {} (it holds {}); stop it first (systemctl stop loyalty, or Ctrl-C), then run the restore again",
            db.display(),
            path.display()
        ))
        .into()),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// What a restore did.
#[derive(Debug, serde::Serialize)]
pub struct Restored {
    /// Newest applied migration.
    pub schema_version: i64,
    /// Row counts.
    pub row_counts: BTreeMap<String, i64>,
    /// Where the replaced database was kept.
    pub kept: Option<PathBuf>,
}

/// Replaces the database at `db` with the gzip'd copy `gz`. The caller holds the lock.
/// The copy is unpacked and checked in a private folder of `backup_dir`, then renamed
/// into place (through a private file next to `db` when the two are on different file
/// systems); every temporary file is removed on the way out.
pub async fn restore(
    db: &Path,
    gz: &Path,
    backup_dir: &Path,
    progress: &dyn Progress,
) -> anyhow::Result<Restored> {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "loyalty.db".into());
    let work = super::scratch::for_restore(backup_dir, KIND_LOYALTY)
        .with_context(|| format!("creating a private folder in {}", backup_dir.display()))?;
    let (tmp, file) = work
        .file(&file_name)
        .context("creating the restored copy")?;
    unpack(gz, file, &tmp, progress)?;
    let checked = async {
        let mut conn = open(&tmp, true).await?;
        let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .with_context(|| format!("checking {}", tmp.display()))?;
        let _ = conn.close().await;
        if check.first().map(String::as_str) != Some("ok") {
            return Err(anyhow::anyhow!(
                "PRAGMA integrity_check says {}",
                check.join("; ")
            ));
        }
        inspect(&tmp).await
    }
    .await;
    let (schema_version, row_counts) = checked.with_context(|| {
        format!(
            "the copy in {} is not a sound SQLite database; nothing was changed",
            gz.display()
        )
    })?;

    // The restored file keeps the mode of the one it replaces (private when there is none).
    let mode = std::fs::metadata(db).ok().map(|m| m.permissions());
    let kept = if db.exists() {
        // Fold the write-ahead log into the file, so the kept copy is whole and no stale
        // log is left to be replayed onto the restored file.
        let mut conn = open(db, false).await?;
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("checkpointing {}", db.display()))?;
        let _ = conn.close().await;
        if busy != 0 {
            return Err(UserError(format!(
                "another program is using {}; stop it and run the restore again (nothing was changed)",
                db.display()
            ))
            .into());
        }
        let stamp = set_name(time::OffsetDateTime::now_utc());
        let kept = with_suffix(db, &format!(".before-restore-{stamp}"));
        if std::fs::hard_link(db, &kept).is_err() {
            std::fs::copy(db, &kept)
                .with_context(|| format!("keeping the current database as {}", kept.display()))?;
        }
        Some(kept)
    } else {
        None
    };
    // Beside the database, so that the last step is one rename on its file system.
    let (beside, _) =
        ScratchFile::create(dir.join(format!(".{file_name}.restore-{}.tmp", std::process::id())))
            .with_context(|| format!("creating a file in {}", dir.display()))?;
    if std::fs::rename(&tmp, beside.path()).is_err() {
        // Another file system: copy, then make the copy durable before it takes the place.
        std::fs::copy(&tmp, beside.path())
            .with_context(|| format!("copying the restored database into {}", dir.display()))?;
        File::open(beside.path())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {}", beside.path().display()))?;
    }
    drop(work);
    if let Some(mode) = mode {
        std::fs::set_permissions(beside.path(), mode)
            .with_context(|| format!("setting the mode of {}", beside.path().display()))?;
    }
    for suffix in ["-wal", "-shm"] {
        match std::fs::remove_file(with_suffix(db, suffix)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing {}{suffix}", db.display()));
            }
        }
    }
    std::fs::rename(beside.path(), db)
        .with_context(|| format!("renaming {} to {}", beside.path().display(), db.display()))?;
    super::sync_dir(dir);
    Ok(Restored {
        schema_version,
        row_counts,
        kept,
    })
}

fn unpack(gz: &Path, file: File, out: &Path, progress: &dyn Progress) -> anyhow::Result<()> {
    let input = File::open(gz).with_context(|| format!("opening {}", gz.display()))?;
    let mut task = progress.task(
        &format!(
            "unpacking {}",
            gz.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ),
        None,
    );
    let mut reader = GzDecoder::new(BufReader::with_capacity(1 << 20, input));
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("unpacking {}", gz.display()))?;
        if n == 0 {
            break;
        }
        writer
            .write_all(buf.get(..n).unwrap_or_default())
            .with_context(|| format!("writing {}", out.display()))?;
        task.inc(n as u64);
    }
    let file = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", out.display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", out.display()))?;
    task.finish();
    Ok(())
}
