//! Temporary files of backups and restores. A set holds every customer's data (password
//! hashes included), so its temporary copies are kept as close as the set itself: in a
//! folder inside the backup folder that only its owner can enter (0700), files 0600, never
//! in the system's temporary folder. Each folder is removed by its guard's `Drop` on every
//! way out (errors, panics, and Ctrl-C or SIGTERM, which the command line turns into an
//! orderly stop); what a killed process left is named after its process id, swept by the
//! next backup or restore once that process is gone, and reported by `loyalty doctor`.

pub use loyalty_core::scratch::{Scratch, create_private_dir, create_private_file};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of a restore's work folder: `.restore-{kind}-{pid}`.
pub const RESTORE_PREFIX: &str = ".restore-";

/// Prefix of an XLSX export's work folder: `.export-{n}-{pid}`
/// (`loyalty_core::service::exports`).
pub const EXPORT_PREFIX: &str = loyalty_core::service::exports::SCRATCH_PREFIX;

/// A restore's work folder for a file of `kind` in the backup folder `dir`.
pub fn for_restore(dir: &Path, kind: &str) -> std::io::Result<Scratch> {
    Scratch::create(
        dir,
        &format!("{RESTORE_PREFIX}{kind}-{}", std::process::id()),
    )
}

/// Age after which the doctor reports a temporary file or folder as left over.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(5 * 60);

/// Age after which a backup or restore removes a leftover whose process is gone.
pub const SWEEP_AGE: Duration = Duration::from_secs(10 * 60);

/// A temporary file removed when dropped, unless it was renamed away first.
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
}

impl ScratchFile {
    /// Creates `path` empty and private (0600); it must not exist.
    pub fn create(path: PathBuf) -> std::io::Result<(Self, File)> {
        let file = create_private_file(&path)?;
        Ok((Self { path }, file))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A temporary file or folder a backup or restore left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Where it is.
    pub path: PathBuf,
    /// Its size, everything in it included.
    pub bytes: u64,
    /// How long since it last changed.
    pub age: Duration,
    /// The process that made it, from its name.
    pub pid: Option<u32>,
    /// Whether that process is still running on this machine.
    pub running: bool,
}

/// The process id in a temporary name: the last `-`-separated number, before any `.tmp`.
fn owner_pid(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".tmp").unwrap_or(name);
    stem.rsplit('-').next().and_then(|p| p.parse().ok())
}

fn is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // Without /proc nothing can be told: count it as running, so it is never swept.
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| size_of(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// The newest modification time of `path` and, for a folder, of what it holds.
fn last_change(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let own = meta.modified().ok()?;
    if !meta.is_dir() {
        return Some(own);
    }
    let inner = std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| last_change(&e.path()))
        .max();
    Some(inner.map_or(own, |i| i.max(own)))
}

/// Temporary files and folders in the backup folder `dir` (restores' work folders and
/// unfinished sets) and, for SQLite, next to the database `db` (a restore's copy on its
/// way into place), older than `min_age`.
pub fn leftovers(dir: &Path, db: Option<&Path>, min_age: Duration) -> Vec<Leftover> {
    let mut found = Vec::new();
    let mut look = |folder: &Path, matches: &dyn Fn(&str) -> bool| {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !matches(&name) {
                continue;
            }
            let path = entry.path();
            let age = last_change(&path)
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            if age < min_age {
                continue;
            }
            let pid = owner_pid(&name);
            found.push(Leftover {
                bytes: size_of(&path),
                age,
                pid,
                running: pid.is_some_and(is_running),
                path,
            });
        }
    };
    look(dir, &|name: &str| {
        name.starts_with(RESTORE_PREFIX)
            || name.starts_with(EXPORT_PREFIX)
            || name.starts_with(super::UNFINISHED_PREFIX)
    });
    if let Some(db) = db
        && let Some(file) = db.file_name().map(|n| n.to_string_lossy().into_owned())
    {
        let folder = db
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let prefix = format!(".{file}.restore-");
        look(folder, &|name: &str| {
            name.starts_with(&prefix) && name.ends_with(".tmp")
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Removes the leftovers of backups and restores whose process is gone and that have
/// not changed for [`SWEEP_AGE`]; returns what it removed.
pub fn sweep(dir: &Path, db: Option<&Path>) -> Vec<Leftover> {
    leftovers(dir, db, SWEEP_AGE)
        .into_iter()
        .filter(|l| !l.running)
        .filter(|l| {
            let removed = if l.path.is_dir() {
                std::fs::remove_dir_all(&l.path)
            } else {
                std::fs::remove_file(&l.path)
            };
            removed.is_ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ids_are_read_from_temporary_names() {
        assert_eq!(owner_pid(".restore-loyalty_db-4242"), Some(4242));
        assert_eq!(owner_pid(".unfinished-20250123_140530-17"), Some(17));
        assert_eq!(owner_pid(".loyalty.db.restore-99.tmp"), Some(99));
        assert_eq!(owner_pid(".restore-x"), None);
    }

    #[cfg(unix)]
    #[test]
    fn scratch_folders_and_files_are_private_and_gone_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let backups = dir.path().join("backups");
        let path = {
            let s = for_restore(&backups, "loyalty_db").expect("scratch");
            let (file, _) = s.file("archive.dump").expect("file");
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(s.path()), 0o700);
            assert_eq!(mode(&file), 0o600);
            let left = leftovers(&backups, None, Duration::ZERO);
            assert_eq!(left.len(), 1);
            assert!(left[0].running, "this process made it");
            assert!(
                sweep(&backups, None).is_empty(),
                "a running restore's folder stays"
            );
            s.path().to_owned()
        };
        assert!(!path.exists());
    }
}
