//! Erasure and backups on both backends: a set taken after an erasure holds none of the
//! person's values, and restoring a set taken before it applies the erasure log again,
//! so the person stays erased and `loyalty points verify` passes.

use super::{ok, onboard, run_in};
use flate2::read::GzDecoder;
use loyalty_core::clock::SystemClock;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::erasure;
use loyalty_core::service::orgs;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{Kind, both_backends};
use std::io::Read;
use std::path::Path;
use uuid::Uuid;

const VALUES: [&str; 3] = [
    "Zelda Quixote-Backup",
    "zelda.backup@example.net",
    "+12025550177",
];

/// The set folders, oldest first, with their manifests.
fn sets(dir: &Path) -> Vec<(std::path::PathBuf, serde_json::Value)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("backup dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let m = serde_json::from_slice(&std::fs::read(p.join("manifest.json")).expect("read"))
                .expect("manifest json");
            (p, m)
        })
        .collect()
}

/// The loyalty file of a set, decompressed.
fn set_bytes(set: &Path, manifest: &serde_json::Value) -> Vec<u8> {
    let file = manifest["files"][0]["name"].as_str().expect("file");
    let mut out = Vec::new();
    GzDecoder::new(std::fs::File::open(set.join(file)).expect("open"))
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

fn holds(bytes: &[u8], value: &str) -> bool {
    bytes.windows(value.len()).any(|w| w == value.as_bytes())
}

both_backends! {
    async fn a_restore_of_a_set_taken_before_an_erasure_keeps_the_person_erased(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        let clock = SystemClock;
        let org = orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let ctx = |role: Role| Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &org,
            actor: Actor { member_id: None, label: format!("test-{role}"), role: role.as_str().into(), request_id: None },
            role,
        };
        let zelda = points::enroll(&ctx(Role::Cashier), &EnrollInput {
            phone: Some(VALUES[2].into()),
            email: Some(VALUES[1].into()),
            name: Some(VALUES[0].into()),
        }, None).await.expect("enroll");
        loyalty_testkit::till::award(&ctx(Role::Cashier), zelda.id, "12.50", None, serde_json::json!({}), &Uuid::new_v4().to_string())
            .await.expect("award");

        ok(&run_in(&db, dir.path(), &["backup", "create", "--label", "before-erasure"], &[]));
        let (first_path, first) = sets(dir.path()).pop().expect("a set");
        let before = set_bytes(&first_path, &first);
        assert!(VALUES.iter().all(|v| holds(&before, v)), "the first set holds the person");

        let directory = db.directory(std::sync::Arc::new(loyalty_testkit::fixed_clock()));
        erasure::erase_customer(&ctx(Role::Admin), &directory, None, zelda.id, "ERASE").await.expect("erase");
        ok(&run_in(&db, dir.path(), &["backup", "create", "--label", "after-erasure"], &[]));
        let (later_path, later) = sets(dir.path()).pop().expect("a set");
        assert_eq!(later["label"], "after-erasure");
        let after = set_bytes(&later_path, &later);
        for v in VALUES {
            assert!(!holds(&after, v), "a set taken after the erasure holds {v}");
        }

        // Restore the set taken before: the erasure is applied again.
        let name = first_path.file_name().expect("name").to_string_lossy().into_owned();
        let restored = ok(&run_in(&db, dir.path(), &["backup", "restore", &name, "--yes"], &[]));
        assert!(restored.contains("erasures applied again: 1 customers of the 1"), "{restored}");
        let text = db.all_text().await;
        let id = zelda.id.to_string();
        assert!(text.iter().any(|(t, r)| t == "users" && r.contains(&id) && r.contains("erased-")), "the row stays, anonymised");
        assert!(text.iter().any(|(t, r)| t == "erasures" && r.contains(&id)), "the log line is back");
        for v in VALUES {
            assert!(!text.iter().any(|(_, r)| r.contains(v)), "{v} came back with the restore");
        }
        ok(&run_in(&db, dir.path(), &["points", "verify"], &[]));
    }

    async fn a_restore_into_a_lost_database_applies_the_erasure_journal_beside_the_backups(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        let clock = SystemClock;
        let org = orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let ctx = |role: Role| Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &org,
            actor: Actor { member_id: None, label: format!("test-{role}"), role: role.as_str().into(), request_id: None },
            role,
        };
        let zelda = points::enroll(&ctx(Role::Cashier), &EnrollInput {
            phone: Some(VALUES[2].into()),
            email: Some(VALUES[1].into()),
            name: Some(VALUES[0].into()),
        }, None).await.expect("enroll");
        ok(&run_in(&db, dir.path(), &["backup", "create", "--label", "nightly"], &[]));
        let (set_path, _) = sets(dir.path()).pop().expect("a set");
        let name = set_path.file_name().expect("name").to_string_lossy().into_owned();

        // The erasure as serve makes it: its line also goes to the journal beside the sets.
        let journal = dir.path().join(erasure::JOURNAL_FILE);
        let directory = db.directory(std::sync::Arc::new(loyalty_testkit::fixed_clock()));
        let done = erasure::erase_customer(&ctx(Role::Admin), &directory, Some(&journal), zelda.id, "ERASE").await.expect("erase");
        assert!(done.journaled);
        let text = std::fs::read_to_string(&journal).expect("journal");
        assert!(text.contains(&zelda.id.to_string()), "{text}");
        for v in VALUES {
            assert!(!text.contains(v), "the journal holds {v}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&journal).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the journal is private");
        }

        // The database is lost with its erasure log: an empty one takes its place.
        match db.kind {
            Kind::Sqlite => {
                let file = db.url.trim_start_matches("sqlite://").to_owned();
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{file}{suffix}"));
                }
            }
            Kind::Postgres => db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public").await,
        }
        let restored = ok(&run_in(&db, dir.path(), &["backup", "restore", &name, "--yes"], &[]));
        assert!(restored.contains("erasures applied again: 1 customers of the 1"), "{restored}");
        let text = db.all_text().await;
        let id = zelda.id.to_string();
        assert!(text.iter().any(|(t, r)| t == "users" && r.contains(&id) && r.contains("erased-")), "the row is back, anonymised");
        for v in VALUES {
            assert!(!text.iter().any(|(_, r)| r.contains(v)), "{v} came back with the restore");
        }
        ok(&run_in(&db, dir.path(), &["points", "verify"], &[]));
    }
}
