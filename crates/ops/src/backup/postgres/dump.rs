//! Dumping a PostgreSQL database into a set: `pg_dump --format=custom` streamed through
//! gzip, with the schema version and row counts read in the dump's own snapshot.

use super::{
    Target, connect, install_hint, major, read_stderr, row_counts, schema_version, tool_version,
};
use crate::UserError;
use crate::backup::progress::Progress;
use crate::backup::{FileEntry, GZIP_LEVEL, HashingWriter, KIND_LOYALTY};
use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use secrecy::SecretString;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncReadExt;

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
    let file = crate::backup::scratch::create_private_file(out)
        .with_context(|| format!("creating {}", out.display()))?;
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
