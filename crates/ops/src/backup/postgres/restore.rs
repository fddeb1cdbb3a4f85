//! Restoring a PostgreSQL database from a set: every schema emptied and the dump
//! replayed in one transaction, so that a failure changes nothing.

use super::{Target, connect, row_counts, schema_version, user_tables};
use crate::backup::KIND_LOYALTY;
use crate::backup::progress::Progress;
use anyhow::Context;
use flate2::read::GzDecoder;
use secrecy::SecretString;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::Stdio;

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
/// transaction: afterwards the database holds exactly what the dump holds. The unpacked
/// dump and the script are private files in a folder of `backup_dir`, removed on the way
/// out.
pub async fn restore(
    url: &SecretString,
    gz: &Path,
    kind: &str,
    backup_dir: &Path,
    progress: &dyn Progress,
) -> anyhow::Result<Restored> {
    let target = Target::parse(url)?;
    let work = crate::backup::scratch::for_restore(backup_dir, kind)
        .with_context(|| format!("creating a private folder in {}", backup_dir.display()))?;
    let (archive, archive_file) = work.file("archive.dump").context("creating archive.dump")?;
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
        let mut out = BufWriter::new(archive_file);
        std::io::copy(&mut reader, &mut out)
            .with_context(|| format!("unpacking {}", gz.display()))?;
        out.flush()
            .with_context(|| format!("writing {}", archive.display()))?;
        drop(reader);
        task.finish();
    }
    // pg_restore writes into this private file rather than making its own.
    let (script, _) = work.file("restore.sql").context("creating restore.sql")?;
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
    let (preamble, mut file) = work.file("preamble.sql").context("creating preamble.sql")?;
    file.write_all(PREAMBLE.as_bytes())
        .context("writing the restore preamble")?;
    drop(file);

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
    drop(work);
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
    task: &'a mut dyn crate::backup::progress::Task,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.task.inc(n as u64);
        Ok(n)
    }
}
