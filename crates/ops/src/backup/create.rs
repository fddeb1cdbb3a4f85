//! Taking a set: the files into a hidden folder, the manifest last, then the rename that
//! makes the set visible.

use super::progress::Progress;
use super::scratch::{self, Scratch, create_private_file};
use super::{
    Backend, KIND_AUTHENTIK, KIND_LOYALTY, MANIFEST, Manifest, Set, UNFINISHED_PREFIX, check_label,
    postgres, set_name, sqlite,
};
use crate::UserError;
use crate::config::Config;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What `create` made.
#[derive(Debug, Clone)]
pub struct Created {
    /// The new set.
    pub set: Set,
    /// Seconds it took.
    pub seconds: f64,
}

/// Takes a backup set now: the loyalty database, and the identity provider's database
/// when `backup.authentik_database_url` is set. The set appears under its final name only
/// once complete.
pub async fn create(
    config: &Config,
    label: Option<&str>,
    progress: &dyn Progress,
) -> anyhow::Result<Created> {
    if let Some(l) = label {
        check_label(l)?;
    }
    let started = std::time::Instant::now();
    let url = config.database.resolved_url()?;
    let backend = Backend::of(url.expose_secret())?;
    let dir = PathBuf::from(&config.backup.dir);
    std::fs::create_dir_all(&dir).map_err(|e| {
        UserError(format!(
            "backup.dir {}: cannot create it ({e}); set LOYALTY_BACKUP__DIR to a writable folder",
            dir.display()
        ))
    })?;
    // One set per second: wait for the next second if this one is taken.
    let (name, created_at) = loop {
        let now = OffsetDateTime::now_utc();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let name = set_name(now);
        if !dir.join(&name).exists() {
            break (name, now);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    sweep(&dir, &url, progress);
    // Removed on every way out unless renamed into the finished set.
    let work = Scratch::create(
        &dir,
        &format!("{UNFINISHED_PREFIX}{name}-{}", std::process::id()),
    )
    .with_context(|| format!("creating a folder in {}", dir.display()))?;
    let tmp = work.path();
    let manifest = fill(
        config, backend, &url, tmp, &name, created_at, label, progress,
    )
    .await?;
    write_atomically(&tmp.join(MANIFEST), &serde_json::to_vec_pretty(&manifest)?)?;
    sync_dir(tmp);
    std::fs::rename(tmp, dir.join(&name))
        .with_context(|| format!("renaming {} to {name}", tmp.display()))?;
    sync_dir(&dir);
    Ok(Created {
        set: Set {
            path: dir.join(&name),
            name,
            manifest,
        },
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn fill(
    config: &Config,
    backend: Backend,
    url: &SecretString,
    tmp: &Path,
    name: &str,
    created_at: OffsetDateTime,
    label: Option<&str>,
    progress: &dyn Progress,
) -> anyhow::Result<Manifest> {
    let mut manifest = Manifest {
        created_at,
        label: label.map(str::to_owned),
        backend: backend.as_str().into(),
        schema_version: 0,
        loyalty_version: env!("CARGO_PKG_VERSION").into(),
        pg_dump_version: None,
        database: config.database.display_url(),
        row_counts: BTreeMap::new(),
        files: Vec::new(),
    };
    match backend {
        Backend::Postgres => {
            let file = format!("loyalty_db_{name}.dump.gz");
            let d = postgres::dump(url, &tmp.join(&file), KIND_LOYALTY, progress).await?;
            manifest.schema_version = d.schema_version;
            manifest.row_counts = d.row_counts;
            manifest.pg_dump_version = Some(d.pg_dump_version);
            manifest.files.push(d.entry);
        }
        Backend::Sqlite => {
            let db = sqlite::db_path(url.expose_secret())?;
            let file = format!("loyalty_db_{name}.sqlite.gz");
            let c = sqlite::copy(&db, &tmp.join(&file), progress).await?;
            manifest.schema_version = c.schema_version;
            manifest.row_counts = c.row_counts;
            manifest.files.push(c.entry);
        }
    }
    if let Some(idp) = &config.backup.authentik_database_url {
        let file = format!("authentik_db_{name}.dump.gz");
        let d = postgres::dump(idp, &tmp.join(&file), KIND_AUTHENTIK, progress).await?;
        if manifest.pg_dump_version.is_none() {
            manifest.pg_dump_version = Some(d.pg_dump_version);
        }
        manifest.files.push(d.entry);
    }
    Ok(manifest)
}

/// Writes `path` through a temporary sibling, synced, then renamed into place.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut f =
        create_private_file(&part).with_context(|| format!("creating {}", part.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", part.display()))?;
    std::fs::rename(&part, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Removes what killed backups and restores left in the backup folder `dir` (and next
/// to the SQLite database of `url`), saying so.
pub(crate) fn sweep(dir: &Path, url: &SecretString, progress: &dyn Progress) {
    let db = sqlite::sqlite_file(url.expose_secret());
    for gone in scratch::sweep(dir, db.as_deref()) {
        progress.note(&format!(
            "removed {} ({} bytes), left by process {} that is no longer running",
            gone.path.display(),
            gone.bytes,
            gone.pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        ));
    }
}

/// Makes a folder's entries (new names, renames) durable; best effort.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
