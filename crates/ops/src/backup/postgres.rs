//! PostgreSQL sets: `pg_dump --format=custom` streamed through gzip, and a restore that
//! brings the database back exactly as it was: every schema of the database is emptied
//! and the dump replayed in one transaction (`psql --single-transaction`), so tables made
//! after the backup go too, a failure changes nothing, and roles (such as
//! `loyalty_tenant`, which are global) stay as they are.

use super::progress::Progress;
use super::{FileEntry, GZIP_LEVEL, HashingWriter, KIND_LOYALTY};
use crate::UserError;
use anyhow::Context;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
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

/// What a dump recorded.
#[derive(Debug)]
pub struct Dump {
    /// The file.
    pub entry: FileEntry,
    /// `pg_dump --version`.
    pub pg_dump_version: String,
    /// Newest applied loyalty migration (0 for other databases).
    pub schema_version: i64,
    /// Row counts, in the dump's snapshot (loyalty database only).
    pub row_counts: BTreeMap<String, i64>,
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

/// Dumps the database at `url` into `out` (gzip of the custom format).
pub async fn dump(
    url: &SecretString,
    out: &Path,
    kind: &str,
    progress: &dyn Progress,
) -> anyhow::Result<Dump> {
    let target = Target::parse(url)?;
    let mut conn = connect(url, &target.shown).await?;
    let (server_version, server_num): (String, i32) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
    )
    .fetch_one(&mut conn)
    .await?;
    let server_version = server_version
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let server_major = u32::try_from(server_num / 10000).ok();
    let pg_dump_version = tool_version("pg_dump", server_major).await?;
    if major(&pg_dump_version) < server_major {
        return Err(UserError(format!(
            "pg_dump {pg_dump_version} is older than the PostgreSQL server {server_version} at {}; install the PostgreSQL client tools of version {} (postgresql-client-{})",
            target.shown,
            server_major.unwrap_or_default(),
            server_major.unwrap_or_default()
        ))
        .into());
    }
    // The counts are read in the very snapshot pg_dump dumps.
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut conn)
        .await?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut conn)
        .await?;
    let (schema_version, counts) = if kind == KIND_LOYALTY {
        (
            schema_version(&mut conn).await?,
            row_counts(&mut conn).await?,
        )
    } else {
        (0, BTreeMap::new())
    };

    let mut cmd = target.command("pg_dump");
    cmd.arg("--format=custom")
        .arg("--compress=0")
        .arg("--no-password")
        .arg(format!("--snapshot={snapshot}"))
        .arg(format!("--dbname={}", target.conn))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UserError(install_hint("pg_dump", server_major)).into());
        }
        Err(e) => return Err(e).context("starting pg_dump"),
    };
    let errors = tokio::spawn(read_stderr(child.stderr.take()));
    let mut stdout = child.stdout.take().context("pg_dump has no output")?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut gz = GzEncoder::new(
        HashingWriter::new(BufWriter::with_capacity(1 << 20, file)),
        Compression::new(GZIP_LEVEL),
    );
    let what = format!("dumping {} ({kind})", target.database);
    let mut task = progress.task(&what, None);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = stdout
            .read(&mut buf)
            .await
            .context("reading pg_dump's output")?;
        if n == 0 {
            break;
        }
        gz.write_all(buf.get(..n).unwrap_or_default())
            .with_context(|| format!("writing {}", out.display()))?;
        task.inc(n as u64);
    }
    let status = child.wait().await.context("waiting for pg_dump")?;
    let stderr = errors.await.unwrap_or_default();
    if !status.success() {
        return Err(anyhow::anyhow!(
            "pg_dump of {} failed ({status}): {stderr}",
            target.shown
        ));
    }
    task.finish();
    let _ = sqlx::query("COMMIT").execute(&mut conn).await;
    let _ = conn.close().await;
    let (writer, bytes, sha256) = gz
        .finish()
        .with_context(|| format!("writing {}", out.display()))?
        .finish();
    let file = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", out.display(), e.error()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", out.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Dump {
        entry: FileEntry {
            name,
            bytes,
            sha256,
            kind: kind.to_owned(),
            server_version: Some(server_version),
        },
        pg_dump_version,
        schema_version,
        row_counts: counts,
    })
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
pub async fn check_not_in_use(url: &SecretString, kind: &str) -> anyhow::Result<()> {
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
                "a loyalty server is running against {} ({n} connections named {}); stop every `loyalty serve` first (systemctl stop loyalty, or podman stop portfolio-loyalty), then run the restore again",
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
                "the identity provider's database {} is in use ({} connections: {}); stop Authentik's server and worker first, then run the restore again",
                target.shown,
                others.len(),
                others.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

/// What a restore left in the database.
#[derive(Debug, serde::Serialize)]
pub struct Restored {
    /// Newest applied loyalty migration (0 for other databases).
    pub schema_version: i64,
    /// Row counts (loyalty database).
    pub row_counts: BTreeMap<String, i64>,
    /// Tables in the database.
    pub tables: i64,
}

/// Empties every schema of the database (keeping extension-owned ones), recreating
/// `public` as PostgreSQL makes it, so that the dump replays onto a clean database.
const PREAMBLE: &str = r"
SET client_min_messages = warning;
SET lock_timeout = '60s';
DO $restore$
DECLARE s text;
BEGIN
    FOR s IN
        SELECT n.nspname FROM pg_catalog.pg_namespace n
        WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                            AND d.objid = n.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', s);
    END LOOP;
    IF current_setting('server_version_num')::int >= 150000 THEN
        EXECUTE 'CREATE SCHEMA public AUTHORIZATION pg_database_owner';
        EXECUTE 'GRANT USAGE ON SCHEMA public TO PUBLIC';
    ELSE
        EXECUTE 'CREATE SCHEMA public';
        EXECUTE 'GRANT ALL ON SCHEMA public TO PUBLIC';
    END IF;
    EXECUTE 'COMMENT ON SCHEMA public IS ''standard public schema''';
END
$restore$;
";

/// Restores the gzip'd custom-format dump `gz` into the database at `url`, in one
/// transaction: afterwards the database holds exactly what the dump holds.
pub async fn restore(
    url: &SecretString,
    gz: &Path,
    kind: &str,
    progress: &dyn Progress,
) -> anyhow::Result<Restored> {
    let target = Target::parse(url)?;
    let work = tempfile::tempdir().context("creating a temporary folder")?;
    let archive = work.path().join("archive.dump");
    {
        let input = std::fs::File::open(gz).with_context(|| format!("opening {}", gz.display()))?;
        let total = input.metadata().map(|m| m.len()).ok();
        let mut task = progress.task(
            &format!(
                "unpacking {}",
                gz.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ),
            total,
        );
        let mut reader = GzDecoder::new(CountingReader {
            inner: input,
            task: task.as_mut(),
        });
        let mut out = BufWriter::new(
            std::fs::File::create(&archive)
                .with_context(|| format!("creating {}", archive.display()))?,
        );
        std::io::copy(&mut reader, &mut out)
            .with_context(|| format!("unpacking {}", gz.display()))?;
        out.flush()?;
        drop(reader);
        task.finish();
    }
    let script = work.path().join("restore.sql");
    let out = target
        .command("pg_restore")
        .arg("--clean")
        .arg("--if-exists")
        .arg("--no-owner")
        .arg(format!("--file={}", script.display()))
        .arg(&archive)
        .output()
        .await
        .context("running pg_restore")?;
    if !out.status.success() {
        return Err(anyhow::anyhow!(
            "pg_restore cannot read {} ({}): {}; nothing was changed",
            gz.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let preamble = work.path().join("preamble.sql");
    std::fs::write(&preamble, PREAMBLE).context("writing the restore preamble")?;
    let task = progress.task(&format!("restoring {} ({kind})", target.database), None);
    let out = target
        .command("psql")
        .arg("--no-psqlrc")
        .arg("--quiet")
        .arg("--no-password")
        .arg("--set=ON_ERROR_STOP=1")
        .arg("--single-transaction")
        .arg(format!("--file={}", preamble.display()))
        .arg(format!("--file={}", script.display()))
        .arg(format!("--dbname={}", target.conn))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .context("running psql")?;
    if !out.status.success() {
        return Err(anyhow::anyhow!(
            "restoring {} failed and was rolled back, nothing changed ({}): {}",
            target.shown,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    task.finish();
    let mut conn = connect(url, &target.shown).await?;
    let restored = Restored {
        schema_version: if kind == KIND_LOYALTY {
            schema_version(&mut conn).await?
        } else {
            0
        },
        row_counts: if kind == KIND_LOYALTY {
            row_counts(&mut conn).await?
        } else {
            BTreeMap::new()
        },
        tables: user_tables(&mut conn).await?,
    };
    let _ = conn.close().await;
    Ok(restored)
}

struct CountingReader<'a, R> {
    inner: R,
    task: &'a mut dyn super::progress::Task,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.task.inc(n as u64);
        Ok(n)
    }
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
