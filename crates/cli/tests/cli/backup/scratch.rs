//! Temporary files of backups and restores, on both backends: private (folders 0700,
//! files 0600) inside the backup folder while they exist, never in the system's
//! temporary folder, gone after a restore that succeeds or fails; what a killed restore
//! left is reported by `loyalty doctor` and removed by the next backup.

use super::{manifests, ok, onboard, run_in, snapshot};
use crate::support::{stderr, stdout};
use loyalty_core::clock::SystemClock;
use loyalty_core::domain::ledger::Actor;
use loyalty_ops::backup::{Progress, Silent, Task, restore};
use loyalty_ops::config::Config;
use loyalty_testkit::{Kind, TestDb, both_backends};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The configuration `loyalty` builds from `DATABASE_URL` and `LOYALTY_BACKUP__DIR`.
fn config(db: &TestDb, dir: &Path) -> Config {
    let mut config = Config {
        server: Default::default(),
        database: Default::default(),
        identity: Default::default(),
        log: Default::default(),
        jobs: Default::default(),
        housekeeping: Default::default(),
        integrity: Default::default(),
        support: Default::default(),
        backup: Default::default(),
        mail: Default::default(),
        webhooks: Default::default(),
        metrics: Default::default(),
        wallet: Default::default(),
    };
    config.database.url = Some(db.url.clone().into());
    config.backup.dir = dir.display().to_string();
    config
}

/// Progress that, at the start of every step, writes down each temporary entry of the
/// backup folder with its mode.
struct Watch {
    dir: PathBuf,
    seen: Mutex<Vec<(String, u32)>>,
}

impl Watch {
    fn look(&self) {
        let mut seen = self.seen.lock().expect("lock");
        for entry in std::fs::read_dir(&self.dir).expect("backup dir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(".restore-") {
                continue;
            }
            seen.push((name.clone(), mode(&entry.path())));
            for inner in std::fs::read_dir(entry.path()).expect("work dir").flatten() {
                let inner_name = inner.file_name().to_string_lossy().into_owned();
                seen.push((format!("{name}/{inner_name}"), mode(&inner.path())));
            }
        }
    }
}

impl Progress for Watch {
    fn task(&self, _what: &str, _total: Option<u64>) -> Box<dyn Task> {
        self.look();
        Box::new(Silent)
    }

    fn note(&self, _line: &str) {}
}

/// Temporary names in the backup folder and next to a SQLite database.
fn temporaries(db: &TestDb, dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("backup dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    if db.kind == Kind::Sqlite {
        let file = Path::new(db.url.trim_start_matches("sqlite://"));
        names.extend(
            std::fs::read_dir(file.parent().expect("parent"))
                .expect("db dir")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".restore-")),
        );
    }
    names
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The one set in `dir`.
fn the_set(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("manifest.json").is_file())
        .expect("a set")
}

/// A process id that no process has now.
fn dead_pid() -> u32 {
    (4_100_000..4_200_000)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .expect("a free pid")
}

fn age(path: &Path, by: Duration) {
    let then = SystemTime::now() - by;
    std::fs::File::open(path)
        .expect("open")
        .set_modified(then)
        .expect("set mtime");
}

both_backends! {
    async fn a_restore_works_privately_inside_the_backup_folder_and_leaves_nothing(db) {
        let dir = tempfile::tempdir().expect("dir");
        let tmp = tempfile::tempdir().expect("TMPDIR");
        let tmp_env = [("TMPDIR", tmp.path().to_str().expect("utf-8"))];
        onboard(&db, dir.path(), "nextdoor");
        ok(&run_in(&db, dir.path(), &["backup", "create"], &tmp_env));
        let set = the_set(dir.path());
        assert_eq!(mode(&set), 0o700, "the set folder");
        for name in entries(&set) {
            assert_eq!(mode(&set.join(&name)), 0o600, "{name}");
        }

        let watch = Watch { dir: dir.path().to_owned(), seen: Mutex::new(Vec::new()) };
        let config = config(&db, dir.path());
        let plan = restore::prepare(&config, "latest", &watch).await.expect("prepare");
        restore::apply(&config, plan, &Actor::operator("test"), &SystemClock, &watch)
            .await
            .expect("restore");
        let seen = watch.seen.lock().expect("lock").clone();
        let expected: &[&str] = match db.kind {
            Kind::Postgres => &["archive.dump", "restore.sql", "preamble.sql"],
            Kind::Sqlite => &["/loyalty.db"],
        };
        for part in expected {
            assert!(seen.iter().any(|(n, _)| n.contains('/') && n.ends_with(part)), "{part} in {seen:?}");
        }
        assert!(seen.iter().any(|(n, _)| !n.contains('/')), "{seen:?}");
        for (name, m) in &seen {
            let want = if name.contains('/') { 0o600 } else { 0o700 };
            assert_eq!(*m, want, "{name} in {seen:?}");
        }
        assert_eq!(temporaries(&db, dir.path()), Vec::<String>::new());

        // The command the same: nothing lands in TMPDIR, nothing stays behind.
        ok(&run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &tmp_env));
        assert_eq!(entries(tmp.path()), Vec::<String>::new(), "TMPDIR stays empty");
        assert_eq!(temporaries(&db, dir.path()), Vec::<String>::new());
    }

    async fn a_failed_restore_removes_its_temporary_files_and_changes_nothing(db) {
        let dir = tempfile::tempdir().expect("dir");
        let tmp = tempfile::tempdir().expect("TMPDIR");
        let tmp_env = [("TMPDIR", tmp.path().to_str().expect("utf-8"))];
        onboard(&db, dir.path(), "nextdoor");
        ok(&run_in(&db, dir.path(), &["backup", "create"], &tmp_env));
        onboard(&db, dir.path(), "otherorg");
        let before = snapshot(&db).await;

        // A set whose checksum matches but whose content is no database: the restore
        // gets as far as unpacking it before it fails.
        let set = the_set(dir.path());
        let m = &manifests(dir.path())[0];
        let name = m["files"][0]["name"].as_str().expect("name");
        let mut gzip = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip runs");
        gzip.stdin.take().expect("stdin").write_all(&vec![7u8; 256 * 1024]).expect("gzip");
        let bytes = gzip.wait_with_output().expect("gzip").stdout;
        std::fs::write(set.join(name), &bytes).expect("write");
        let mut manifest = m.clone();
        manifest["files"][0]["bytes"] = bytes.len().into();
        manifest["files"][0]["sha256"] = hex::encode(Sha256::digest(&bytes)).into();
        std::fs::write(set.join("manifest.json"), serde_json::to_vec(&manifest).expect("json")).expect("write");

        let out = run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &tmp_env);
        assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
        assert!(stderr(&out).contains("nothing was changed"), "{}", stderr(&out));
        assert_eq!(temporaries(&db, dir.path()), Vec::<String>::new(), "{}", stderr(&out));
        assert_eq!(entries(tmp.path()), Vec::<String>::new(), "TMPDIR stays empty");
        assert_eq!(snapshot(&db).await, before);
    }

    async fn doctor_reports_what_a_killed_restore_left_and_the_next_backup_removes_it(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        let pid = dead_pid();
        let work = dir.path().join(format!(".restore-loyalty_db-{pid}"));
        std::fs::create_dir(&work).expect("mkdir");
        std::fs::write(work.join("archive.dump"), vec![1u8; 1234]).expect("write");
        age(&work.join("archive.dump"), Duration::from_secs(20 * 60));
        age(&work, Duration::from_secs(20 * 60));
        // A killed XLSX export leaves only its private folder: its files were unlinked.
        let export = dir.path().join(format!(".export-3-{pid}"));
        std::fs::create_dir(&export).expect("mkdir");
        age(&export, Duration::from_secs(20 * 60));
        let mut left = vec![work.clone(), export];
        if db.kind == Kind::Sqlite {
            let file = Path::new(db.url.trim_start_matches("sqlite://"));
            let name = file.file_name().expect("name").to_string_lossy().into_owned();
            let beside = file.with_file_name(format!(".{name}.restore-{pid}.tmp"));
            std::fs::write(&beside, vec![2u8; 100]).expect("write");
            age(&beside, Duration::from_secs(20 * 60));
            left.push(beside);
        }

        let out = run_in(&db, dir.path(), &["doctor", "--json"], &[]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let check = report["checks"].as_array().expect("checks").iter()
            .find(|c| c["id"] == "backup.leftovers").expect("backup.leftovers").clone();
        assert_eq!(check["status"], "WARN", "{check:#}");
        let detail = check["detail"].as_str().expect("detail");
        let fix = check["fix"].as_str().expect("fix");
        assert!(detail.contains("1234 bytes"), "{detail}");
        assert!(detail.contains(&format!("process {pid} is gone")), "{detail}");
        for path in &left {
            assert!(detail.contains(&path.display().to_string()), "{detail}");
            assert!(fix.contains(&format!("'{}'", path.display())), "{fix}");
        }
        assert!(fix.contains("rm -rf"), "{fix}");

        let created = run_in(&db, dir.path(), &["backup", "create"], &[]);
        ok(&created);
        assert!(stderr(&created).contains(&format!("removed {}", work.display())), "{}", stderr(&created));
        for path in &left {
            assert!(!path.exists(), "{} is gone", path.display());
        }
        let out = run_in(&db, dir.path(), &["doctor", "--json"], &[]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let check = report["checks"].as_array().expect("checks").iter()
            .find(|c| c["id"] == "backup.leftovers").expect("backup.leftovers").clone();
        assert_eq!(check["status"], "OK", "{check:#}");
    }
}
