//! Backup sets: one folder per moment, `{backup.dir}/{YYYYMMDD_HHMMSS}/`, holding the
//! compressed loyalty database (and the identity provider's database when configured)
//! and a `manifest.json` written last. A folder without a manifest is an unfinished set:
//! listed as incomplete, never restored or counted. The database work is in
//! [`postgres`] and [`sqlite`], a whole restore in [`restore`]; this module names,
//! lists, checks and prunes sets.

mod check;
mod create;
pub mod postgres;
pub mod progress;
mod prune;
pub mod restore;
pub mod scratch;
pub mod sqlite;

pub use check::{HashingWriter, hash_file, verify};
pub use create::{Created, create, sync_dir, write_atomically};
pub use progress::{Progress, Silent, Task};
pub use prune::{Decision, plan_prune};

use crate::UserError;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use time::macros::format_description;

/// The manifest's file name inside a set folder.
pub const MANIFEST: &str = "manifest.json";

/// gzip level of the set files: level 1 packs a database to within about a tenth of
/// level 6's size at several times the speed (see docs/backup.md for measurements).
pub const GZIP_LEVEL: u32 = 1;

/// Prefix of a set folder still being written.
pub(crate) const UNFINISHED_PREFIX: &str = ".unfinished-";

/// What a set holds and how to check it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// When the backup was taken (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The operator's label, such as `pre-onboard-nextdoor`.
    pub label: Option<String>,
    /// `postgres` or `sqlite`.
    pub backend: String,
    /// The newest applied migration of the loyalty database.
    pub schema_version: i64,
    /// The `loyalty` version that wrote the set.
    pub loyalty_version: String,
    /// `pg_dump --version` of the dump (PostgreSQL only), such as `15.20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_dump_version: Option<String>,
    /// The loyalty database, password removed.
    #[serde(default)]
    pub database: String,
    /// Rows of the main tables at backup time, read in the dump's own snapshot.
    #[serde(default)]
    pub row_counts: BTreeMap<String, i64>,
    /// Every file of the set.
    pub files: Vec<FileEntry>,
}

/// One file of a set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name inside the set folder.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// `loyalty_db` or `authentik_db`.
    pub kind: String,
    /// Version of the PostgreSQL server dumped, such as `15.20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

/// The kind of the loyalty database's file.
pub const KIND_LOYALTY: &str = "loyalty_db";
/// The kind of the identity provider's database file.
pub const KIND_AUTHENTIK: &str = "authentik_db";

/// A complete set.
#[derive(Debug, Clone)]
pub struct Set {
    /// Folder name, `YYYYMMDD_HHMMSS`.
    pub name: String,
    /// Folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Set {
    /// Total size of its files.
    pub fn bytes(&self) -> u64 {
        self.manifest.files.iter().map(|f| f.bytes).sum()
    }
}

/// What a scan of the backup folder finds.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A set with its manifest.
    Complete(Set),
    /// A folder that is not a usable set, and why.
    Incomplete {
        /// Folder name.
        name: String,
        /// Why it is not usable.
        reason: String,
    },
}

/// Which database is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }

    /// The backend of a database URL.
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            Err(UserError(
                "the database URL is neither postgres:// nor sqlite://; set DATABASE_URL to one of those"
                    .into(),
            )
            .into())
        }
    }
}

/// `YYYYMMDD_HHMMSS` of a moment (UTC).
pub fn set_name(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]_[hour][minute][second]"
        ))
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Whether `name` looks like `YYYYMMDD_HHMMSS`.
pub fn is_set_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 15
        && b.iter().enumerate().all(|(i, c)| {
            if i == 8 {
                *c == b'_'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// Checks a label: 1-100 of lowercase letters, digits, `-`, `_` and `.`, starting with a
/// letter or digit.
pub fn check_label(label: &str) -> Result<(), UserError> {
    let ok = !label.is_empty()
        && label.len() <= 100
        && label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && label.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
        });
    if ok {
        Ok(())
    } else {
        Err(UserError(format!(
            "--label: {label:?} is not a label; use 1-100 lowercase letters, digits, '-', '_' or '.', such as pre-onboard-nextdoor"
        )))
    }
}

/// Reads the backup folder: every set folder, complete or not, oldest first. A missing
/// folder holds no sets.
pub fn scan(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("reading the backup folder {}", dir.display()));
        }
    };
    let mut out = Vec::new();
    for item in read {
        let item = item.with_context(|| format!("reading the backup folder {}", dir.display()))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if !item.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if name.starts_with(UNFINISHED_PREFIX) {
            out.push(Entry::Incomplete {
                name,
                reason: "a backup that did not finish (no manifest); safe to delete".into(),
            });
            continue;
        }
        if !is_set_name(&name) {
            continue;
        }
        let path = item.path();
        let manifest_path = path.join(MANIFEST);
        let entry = match std::fs::read(&manifest_path) {
            Ok(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(manifest) => match missing_file(&path, &manifest) {
                    Some(reason) => Entry::Incomplete { name, reason },
                    None => Entry::Complete(Set {
                        name,
                        path,
                        manifest,
                    }),
                },
                Err(e) => Entry::Incomplete {
                    name,
                    reason: format!("{MANIFEST} is unreadable: {e}"),
                },
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entry::Incomplete {
                name,
                reason: format!("no {MANIFEST}: not a complete set"),
            },
            Err(e) => Entry::Incomplete {
                name,
                reason: format!("cannot read {MANIFEST}: {e}"),
            },
        };
        out.push(entry);
    }
    out.sort_by(|a, b| entry_name(a).cmp(entry_name(b)));
    Ok(out)
}

/// Why a set whose manifest reads is still not usable: a listed file is missing or has
/// another size than recorded (checksums are verified by `restore`).
fn missing_file(set: &Path, manifest: &Manifest) -> Option<String> {
    manifest
        .files
        .iter()
        .find_map(|f| match std::fs::metadata(set.join(&f.name)) {
            Err(_) => Some(format!("{} is missing", f.name)),
            Ok(meta) if meta.len() != f.bytes => Some(format!(
                "{} has {} bytes, the manifest says {}",
                f.name,
                meta.len(),
                f.bytes
            )),
            Ok(_) => None,
        })
}

fn entry_name(e: &Entry) -> &str {
    match e {
        Entry::Complete(s) => &s.name,
        Entry::Incomplete { name, .. } => name,
    }
}

/// The complete sets in `dir`, oldest first.
pub fn complete_sets(dir: &Path) -> anyhow::Result<Vec<Set>> {
    let mut sets: Vec<Set> = scan(dir)?
        .into_iter()
        .filter_map(|e| match e {
            Entry::Complete(s) => Some(s),
            Entry::Incomplete { .. } => None,
        })
        .collect();
    sets.sort_by(|a, b| (a.manifest.created_at, &a.name).cmp(&(b.manifest.created_at, &b.name)));
    Ok(sets)
}

/// When the newest complete backup set in `dir` was taken; `None` when there is none
/// (or the folder cannot be read).
pub fn latest_backup(dir: &Path) -> Option<OffsetDateTime> {
    complete_sets(dir)
        .ok()?
        .into_iter()
        .map(|s| s.manifest.created_at)
        .max()
}

/// Finds the set `which` (`latest` or `YYYYMMDD_HHMMSS`) in the configured folder.
pub fn find(dir_shown: &str, dir: &Path, which: &str) -> anyhow::Result<Set> {
    let which = which.trim();
    if which != "latest" && !is_set_name(which) {
        return Err(UserError(format!(
            "{which:?} is not a backup set; give `latest` or a set's timestamp YYYYMMDD_HHMMSS, such as 20250123_140530 (`loyalty backup list` shows the sets)"
        ))
        .into());
    }
    let sets = complete_sets(dir)?;
    let found = if which == "latest" {
        sets.into_iter()
            .max_by(|a, b| (a.manifest.created_at, &a.name).cmp(&(b.manifest.created_at, &b.name)))
    } else {
        sets.into_iter().find(|s| s.name == which)
    };
    found.ok_or_else(|| {
        let what = if which == "latest" {
            "no complete backup set".to_owned()
        } else {
            format!("no backup set {which}")
        };
        UserError(format!(
            "{what} in {dir_shown}; `loyalty backup list` shows the sets"
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn set(name: &str, created_at: OffsetDateTime, label: Option<&str>) -> Set {
        Set {
            name: name.into(),
            path: PathBuf::from(name),
            manifest: Manifest {
                created_at,
                label: label.map(str::to_owned),
                backend: "sqlite".into(),
                schema_version: 5,
                loyalty_version: "0.1.0".into(),
                pg_dump_version: None,
                database: String::new(),
                row_counts: BTreeMap::new(),
                files: Vec::new(),
            },
        }
    }

    #[test]
    fn set_names_are_utc_timestamps_and_only_those_are_accepted() {
        assert_eq!(
            set_name(datetime!(2025-01-23 14:05:30 UTC)),
            "20250123_140530"
        );
        assert_eq!(
            set_name(datetime!(2025-01-23 16:05:30 +02:00)),
            "20250123_140530"
        );
        assert!(is_set_name("20250123_140530"));
        for bad in [
            "latest",
            "2025012_140530",
            "20250123-140530",
            "20250123_14053x",
        ] {
            assert!(!is_set_name(bad), "{bad}");
        }
    }

    #[test]
    fn labels_are_short_lowercase_words() {
        assert!(check_label("pre-onboard-nextdoor").is_ok());
        for bad in ["", "Pre", "-x", "a b", "x/y", &"a".repeat(101)] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn latest_backup_is_the_newest_complete_set_and_ignores_unfinished_ones() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(latest_backup(&dir.path().join("missing")), None);
        assert_eq!(latest_backup(dir.path()), None);
        for (name, at) in [
            ("20250101_000000", datetime!(2025-01-01 00:00 UTC)),
            ("20250102_000000", datetime!(2025-01-02 00:00 UTC)),
        ] {
            std::fs::create_dir(dir.path().join(name)).expect("mkdir");
            let m = set(name, at, None).manifest;
            std::fs::write(
                dir.path().join(name).join(MANIFEST),
                serde_json::to_vec(&m).expect("json"),
            )
            .expect("write");
        }
        std::fs::create_dir(dir.path().join("20250103_000000")).expect("no manifest");
        std::fs::create_dir(dir.path().join(".unfinished-20250104_000000-1")).expect("tmp");
        assert_eq!(
            latest_backup(dir.path()),
            Some(datetime!(2025-01-02 00:00 UTC))
        );
        let incomplete = scan(dir.path())
            .expect("scan")
            .into_iter()
            .filter(|e| matches!(e, Entry::Incomplete { .. }))
            .count();
        assert_eq!(incomplete, 2);
        let e = find("./backups", dir.path(), "20250103_000000").expect_err("incomplete");
        assert!(
            e.to_string()
                .contains("no backup set 20250103_000000 in ./backups")
        );
        assert_eq!(
            find("./backups", dir.path(), "latest")
                .expect("latest")
                .name,
            "20250102_000000"
        );
    }

    #[test]
    fn prune_keeps_the_newest_and_labelled_sets_longer() {
        let now = datetime!(2025-06-01 00:00 UTC);
        let sets = vec![
            set("20250101_000000", datetime!(2025-01-01 00:00 UTC), None),
            set(
                "20250102_000000",
                datetime!(2025-01-02 00:00 UTC),
                Some("pre-onboard-a"),
            ),
            set("20250520_000000", datetime!(2025-05-20 00:00 UTC), None),
            set(
                "20240101_000000",
                datetime!(2024-01-01 00:00 UTC),
                Some("old"),
            ),
        ];
        let d = plan_prune(&sets, now, 30, 365);
        let deleted: Vec<&str> = d
            .iter()
            .filter(|d| d.delete)
            .map(|d| d.set.name.as_str())
            .collect();
        assert_eq!(deleted, ["20250101_000000", "20240101_000000"]);
        // Everything old: the newest still stays.
        let d = plan_prune(&sets, datetime!(2030-01-01 00:00 UTC), 30, 365);
        let kept: Vec<&str> = d
            .iter()
            .filter(|d| !d.delete)
            .map(|d| d.set.name.as_str())
            .collect();
        assert_eq!(kept, ["20250520_000000"]);
    }
}
