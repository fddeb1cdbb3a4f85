//! When the newest complete backup set was taken, read from the sets' manifests
//! (`{dir}/{YYYYMMDD_HHMMSS}/manifest.json`, `created_at` in RFC 3339). A set counts as
//! complete when its manifest parses and every file it lists is there with the listed
//! size; checksums are the restore's business.

use std::path::Path;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(serde::Deserialize)]
struct Manifest {
    created_at: String,
    #[serde(default)]
    files: Vec<ManifestFile>,
}

#[derive(serde::Deserialize)]
struct ManifestFile {
    name: String,
    bytes: u64,
}

/// The `created_at` of the newest complete backup set in `dir`; `None` when there is
/// none (or the folder does not exist).
pub fn latest_backup(dir: &Path) -> Option<OffsetDateTime> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|e| complete_set(&e.path()))
        .max()
}

fn complete_set(set: &Path) -> Option<OffsetDateTime> {
    let text = std::fs::read_to_string(set.join("manifest.json")).ok()?;
    let manifest: Manifest = serde_json::from_str(&text).ok()?;
    if manifest.files.is_empty() {
        return None;
    }
    let all_there = manifest.files.iter().all(|f| {
        // A name is a plain file name inside the set, never a path out of it.
        !f.name.contains(['/', '\\'])
            && f.name != ".."
            && std::fs::metadata(set.join(&f.name)).is_ok_and(|m| m.is_file() && m.len() == f.bytes)
    });
    if !all_there {
        return None;
    }
    OffsetDateTime::parse(&manifest.created_at, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dir: &Path, name: &str, created_at: &str, bytes: u64, write: usize) {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("loyalty_db.sqlite.gz"), vec![0u8; write]).unwrap();
        let manifest = serde_json::json!({
            "created_at": created_at, "label": null, "backend": "sqlite",
            "files": [{"name": "loyalty_db.sqlite.gz", "bytes": bytes, "sha256": "x", "kind": "loyalty"}],
        });
        std::fs::write(folder.join("manifest.json"), manifest.to_string()).unwrap();
    }

    #[test]
    fn the_newest_complete_set_wins_and_incomplete_ones_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(latest_backup(&dir.path().join("missing")), None);
        assert_eq!(latest_backup(dir.path()), None);
        set(dir.path(), "20250101_000000", "2025-01-01T00:00:00Z", 3, 3);
        set(dir.path(), "20250301_000000", "2025-03-01T00:00:00Z", 9, 3);
        std::fs::create_dir_all(dir.path().join("20250401_000000")).unwrap();
        assert_eq!(
            latest_backup(dir.path()),
            Some(time::macros::datetime!(2025-01-01 00:00:00 UTC))
        );
        set(dir.path(), "20250201_000000", "2025-02-01T00:00:00Z", 4, 4);
        assert_eq!(
            latest_backup(dir.path()),
            Some(time::macros::datetime!(2025-02-01 00:00:00 UTC))
        );
    }
}
