//! When the newest complete backup set was taken, for `/metrics`: scans
//! `{dir}/*/manifest.json` (the backup set layout) and reads each manifest's `created_at`.

use std::path::Path;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The `created_at` of the newest backup set in `dir`, or `None` when there is none (or
/// the folder does not exist). A set counts once its `manifest.json` exists and names a
/// valid RFC 3339 `created_at`; the manifest is written last, so a set still being
/// written or cut short does not count.
pub fn latest_backup_in(dir: &Path) -> Option<OffsetDateTime> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path().join("manifest.json")).ok()?;
            let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
            OffsetDateTime::parse(manifest.get("created_at")?.as_str()?, &Rfc3339).ok()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dir: &Path, name: &str, manifest: &str) {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(folder.join("manifest.json"), manifest).expect("write");
    }

    #[test]
    fn the_newest_complete_set_wins_and_broken_or_unfinished_sets_are_ignored() {
        let tmp = tempfile::tempdir().expect("tmp");
        assert_eq!(latest_backup_in(&tmp.path().join("missing")), None);
        assert_eq!(latest_backup_in(tmp.path()), None);
        set(
            tmp.path(),
            "20250122_020000",
            r#"{"created_at": "2025-01-22T02:00:00Z", "label": null}"#,
        );
        set(
            tmp.path(),
            "20250123_140530",
            r#"{"created_at": "2025-01-23T14:05:30Z", "label": "pre-onboard-nextdoor"}"#,
        );
        // Unfinished (no manifest yet), unreadable, and a stray file.
        std::fs::create_dir_all(tmp.path().join("20250124_020000")).expect("mkdir");
        set(tmp.path(), "20250125_020000", "{not json");
        set(
            tmp.path(),
            "20250126_020000",
            r#"{"created_at": "yesterday"}"#,
        );
        std::fs::write(tmp.path().join("notes.txt"), "x").expect("write");
        let got = latest_backup_in(tmp.path()).expect("found");
        assert_eq!(got.unix_timestamp(), 1_737_641_130);
    }
}
