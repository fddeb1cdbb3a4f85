//! `loyalty backup` on both backends: a restore brings back exactly the data of the
//! backup moment (row counts and a ledger checksum), a corrupted archive or a missing
//! set is refused before anything changes, a running server blocks a restore, prune
//! keeps the newest and labelled sets, and the identity provider's database rolls back
//! together with loyalty's. A restore is recorded in the restored audit log.

mod erasure;
mod postgres;
mod scratch;

use super::support::{Server, command, stderr, stdout};
use loyalty_core::clock::SystemClock;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{CustomerId, Role};
use loyalty_core::service::orgs;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{Kind, TestDb, both_backends};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use std::path::Path;
use std::process::Output;
use uuid::Uuid;

/// `loyalty` with this database and backups in `dir`.
fn run_in(db: &TestDb, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(&db.url);
    cmd.env_remove("AUTHENTIK_DATABASE_URL")
        .env("LOYALTY_BACKUP__DIR", dir)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("loyalty runs")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn onboard(db: &TestDb, dir: &Path, slug: &str) {
    ok(&run_in(
        db,
        dir,
        &[
            "onboard",
            "--name",
            &format!("{slug} market"),
            "--slug",
            slug,
            "--admin-email",
            &format!("admin@{slug}.example.com"),
            "--admin-name",
            "Ada Admin",
        ],
        &[],
    ));
}

/// Enrolls customers with these phones in `slug` and awards each a purchase.
async fn award(
    db: &TestDb,
    slug: &str,
    phones: &[&str],
    existing: &[CustomerId],
) -> Vec<CustomerId> {
    let clock = SystemClock;
    let org = orgs::get(db.store.as_ref(), slug).await.expect("org");
    let ctx = Ctx {
        store: db.store.as_ref(),
        clock: &clock,
        org: &org,
        actor: Actor {
            member_id: None,
            label: "till-1".into(),
            role: "cashier".into(),
            request_id: None,
        },
        role: Role::Cashier,
    };
    let mut ids = existing.to_vec();
    for phone in phones {
        let c = points::enroll(
            &ctx,
            &EnrollInput {
                phone: Some((*phone).into()),
                email: None,
                name: Some("Carla".into()),
            },
            None,
        )
        .await
        .expect("enroll");
        ids.push(c.id);
    }
    for (i, id) in ids.iter().enumerate() {
        loyalty_testkit::till::award(
            &ctx,
            *id,
            &format!("{}.50", 10 + i),
            None,
            serde_json::json!({"till": 1}),
            &Uuid::new_v4().to_string(),
        )
        .await
        .expect("award");
    }
    ids
}

/// Row counts of organizations, users, points_transactions and a SHA-256 over the
/// ordered ledger and users, read through a fresh connection.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    organizations: i64,
    users: i64,
    points_transactions: i64,
    checksum: String,
}

const LEDGER_SQL_PG: &str = "SELECT id::text || ':' || organization_id::text || ':' || user_id::text || ':' || points || ':' || balance_after || ':' || seq || ':' || transaction_type FROM points_transactions ORDER BY id";
const LEDGER_SQL_LITE: &str = "SELECT id || ':' || organization_id || ':' || user_id || ':' || points || ':' || balance_after || ':' || seq || ':' || transaction_type FROM points_transactions ORDER BY id";
const USERS_SQL_PG: &str =
    "SELECT id::text || ':' || organization_id::text || ':' || role FROM users ORDER BY id";
const USERS_SQL_LITE: &str =
    "SELECT id || ':' || organization_id || ':' || role FROM users ORDER BY id";

async fn snapshot(db: &TestDb) -> Snapshot {
    let (counts, lines): ([i64; 3], Vec<String>) = match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            let mut counts = [0; 3];
            for (i, sql) in [
                "SELECT count(*) FROM organizations",
                "SELECT count(*) FROM users",
                "SELECT count(*) FROM points_transactions",
            ]
            .into_iter()
            .enumerate()
            {
                counts[i] = sqlx::query_scalar(sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count");
            }
            let mut lines: Vec<String> = sqlx::query_scalar(LEDGER_SQL_PG)
                .fetch_all(&mut c)
                .await
                .expect("ledger");
            lines.extend(
                sqlx::query_scalar::<_, String>(USERS_SQL_PG)
                    .fetch_all(&mut c)
                    .await
                    .expect("users"),
            );
            c.close().await.expect("close");
            (counts, lines)
        }
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            let mut counts = [0; 3];
            for (i, sql) in [
                "SELECT count(*) FROM organizations",
                "SELECT count(*) FROM users",
                "SELECT count(*) FROM points_transactions",
            ]
            .into_iter()
            .enumerate()
            {
                counts[i] = sqlx::query_scalar(sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count");
            }
            let mut lines: Vec<String> = sqlx::query_scalar(LEDGER_SQL_LITE)
                .fetch_all(&mut c)
                .await
                .expect("ledger");
            lines.extend(
                sqlx::query_scalar::<_, String>(USERS_SQL_LITE)
                    .fetch_all(&mut c)
                    .await
                    .expect("users"),
            );
            c.close().await.expect("close");
            (counts, lines)
        }
    };
    Snapshot {
        organizations: counts[0],
        users: counts[1],
        points_transactions: counts[2],
        checksum: hex::encode(Sha256::digest(lines.join("\n"))),
    }
}

/// The `backup.restore` audit records, read afresh: (actor, role, without organization,
/// after as JSON text).
async fn restore_records(db: &TestDb) -> Vec<(String, String, bool, String)> {
    const SQL_PG: &str = "SELECT actor, actor_role, organization_id IS NULL, after::text FROM audit_log WHERE action = 'backup.restore' ORDER BY created_at";
    const SQL_LITE: &str = "SELECT actor, actor_role, organization_id IS NULL, after FROM audit_log WHERE action = 'backup.restore' ORDER BY created_at";
    match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            let rows = sqlx::query_as(SQL_PG)
                .fetch_all(&mut c)
                .await
                .expect("audit");
            c.close().await.expect("close");
            rows
        }
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            let rows = sqlx::query_as(SQL_LITE)
                .fetch_all(&mut c)
                .await
                .expect("audit");
            c.close().await.expect("close");
            rows
        }
    }
}

fn manifests(dir: &Path) -> Vec<serde_json::Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("backup dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("manifest.json").is_file())
        .map(|e| e.path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            serde_json::from_slice(&std::fs::read(p.join("manifest.json")).expect("read"))
                .expect("manifest json")
        })
        .collect()
}

fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

both_backends! {
    async fn a_restore_brings_back_exactly_the_data_of_the_backup_moment(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        let customers = award(&db, "nextdoor", &["+12025550101", "+12025550102", "+12025550103"], &[]).await;
        let before = snapshot(&db).await;
        assert_eq!((before.organizations, before.points_transactions), (1, 3));

        let created = ok(&run_in(&db, dir.path(), &["backup", "create", "--label", "before-change"], &[]));
        assert!(created.contains("schema version"), "{created}");
        let sets = manifests(dir.path());
        assert_eq!(sets.len(), 1);
        let m = &sets[0];
        let ext = if db.kind == Kind::Postgres { ".dump.gz" } else { ".sqlite.gz" };
        let file = m["files"][0]["name"].as_str().expect("name");
        assert!(file.starts_with("loyalty_db_") && file.ends_with(ext), "{file}");
        assert_eq!(m["label"], "before-change");
        assert_eq!(m["row_counts"]["points_transactions"], 3);
        assert!(m["schema_version"].as_i64().expect("schema") >= 5);
        assert_eq!(m["files"][0]["sha256"].as_str().map(str::len), Some(64));
        if db.kind == Kind::Postgres {
            assert!(m["pg_dump_version"].as_str().is_some_and(|v| v.starts_with("15")), "{m}");
            assert!(m["files"][0]["server_version"].is_string(), "{m}");
        }

        // Row-level security, the ledger's trigger and the tenant grants, as migrated.
        let guards = "SELECT (SELECT count(*) FROM pg_policies WHERE schemaname = 'public') || '/' || (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal) || '/' || (SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'loyalty_tenant') || '/' || (SELECT relrowsecurity FROM pg_class WHERE relname = 'points_transactions')";
        let guards_before = (db.kind == Kind::Postgres).then(|| psql(&db.url, guards));

        // Life goes on: more awards, a new customer, a new organization, a new table.
        award(&db, "nextdoor", &["+12025550199"], &customers).await;
        onboard(&db, dir.path(), "otherorg");
        if db.kind == Kind::Postgres {
            psql(&db.url, "CREATE TABLE made_after_the_backup (x int); INSERT INTO made_after_the_backup VALUES (1)");
        }
        let changed = snapshot(&db).await;
        assert_ne!(changed, before);

        let refused = run_in(&db, dir.path(), &["backup", "restore", "latest"], &[]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("pass --yes"), "{}", stderr(&refused));
        assert_eq!(snapshot(&db).await, changed, "nothing changed without --yes");

        assert!(restore_records(&db).await.is_empty());
        let restored = ok(&run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &[("USER", "auditor")]));
        assert!(restored.contains("Restored backup set"), "{restored}");
        assert!(restored.contains("organizations 1, points_transactions 3, users 4"), "{restored}");
        assert_eq!(snapshot(&db).await, before, "exactly the backup moment");

        // The restored database's audit log says that everything after the set was rolled back.
        assert!(restored.contains("recorded in the audit log as backup.restore by auditor"), "{restored}");
        let records = restore_records(&db).await;
        assert_eq!(records.len(), 1, "{records:?}");
        let (actor, role, no_org, after) = &records[0];
        assert_eq!((actor.as_str(), role.as_str(), *no_org), ("auditor", "operator", true));
        let after: serde_json::Value = serde_json::from_str(after).expect("json");
        assert_eq!(after["created_at"], m["created_at"], "{after}");
        assert_eq!(after["label"], "before-change");
        assert_eq!(after["files"][0]["name"].as_str(), Some(file));
        assert_eq!(after["files"][0]["sha256"], m["files"][0]["sha256"]);
        let set = after["set"].as_str().expect("set");
        assert!(set.len() == 15 && dir.path().join(set).join("manifest.json").is_file(), "{set}");
        if db.kind == Kind::Postgres {
            assert_eq!(psql(&db.url, "SELECT coalesce(to_regclass('public.made_after_the_backup')::text, 'gone')"), "gone");
            assert_eq!(Some(psql(&db.url, guards)), guards_before, "policies, trigger and grants are back");
            let out = std::process::Command::new("psql").arg(&db.url).args(["-c", "DELETE FROM points_transactions"]).output().expect("psql");
            assert!(String::from_utf8_lossy(&out.stderr).contains("append-only"), "the ledger trigger still guards the ledger");
        }

        ok(&run_in(&db, dir.path(), &["points", "verify"], &[]));
        if db.kind == Kind::Sqlite {
            assert!(restored.contains(".before-restore-"), "{restored}");
            let dbfile = db.url.trim_start_matches("sqlite://");
            let kept: Vec<_> = std::fs::read_dir(Path::new(dbfile).parent().expect("parent"))
                .expect("dir")
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains(".before-restore-"))
                .collect();
            assert_eq!(kept.len(), 1, "the replaced file is kept");
        }
    }

    async fn a_corrupted_archive_is_refused_before_anything_changes(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        award(&db, "nextdoor", &["+12025550101"], &[]).await;
        ok(&run_in(&db, dir.path(), &["backup", "create"], &[]));
        onboard(&db, dir.path(), "otherorg");
        let changed = snapshot(&db).await;

        let m = &manifests(dir.path())[0];
        let name = m["files"][0]["name"].as_str().expect("name");
        let set = std::fs::read_dir(dir.path()).expect("dir").filter_map(Result::ok).next().expect("set").path();
        let path = set.join(name);
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");

        let out = run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        let expected = m["files"][0]["sha256"].as_str().expect("sha");
        let actual = hex::encode(Sha256::digest(&bytes));
        for part in [name, "is corrupted", expected, actual.as_str(), "nothing was restored"] {
            assert!(err.contains(part), "missing {part:?} in {err}");
        }
        assert_eq!(snapshot(&db).await, changed, "the database was not touched");
    }

    async fn a_set_that_does_not_exist_is_a_clear_error(db) {
        let work = tempfile::tempdir().expect("dir");
        let mut cmd = command(&db.url);
        cmd.env_remove("AUTHENTIK_DATABASE_URL").current_dir(work.path());
        let out = cmd.args(["backup", "restore", "20250101_000000", "--yes"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("no backup set 20250101_000000 in ./backups; `loyalty backup list` shows the sets"),
            "{}",
            stderr(&out)
        );
        let mut cmd = command(&db.url);
        cmd.env_remove("AUTHENTIK_DATABASE_URL").current_dir(work.path());
        let bad = cmd.args(["backup", "restore", "yesterday", "--yes"]).output().expect("runs");
        assert_eq!(bad.status.code(), Some(2));
        assert!(stderr(&bad).contains("YYYYMMDD_HHMMSS"), "{}", stderr(&bad));
        let mut cmd = command(&db.url);
        cmd.env_remove("AUTHENTIK_DATABASE_URL").current_dir(work.path());
        let label = cmd.args(["backup", "create", "--label", "Before Onboarding"]).output().expect("runs");
        assert_eq!(label.status.code(), Some(2));
        assert!(stderr(&label).contains("--label: \"Before Onboarding\" is not a label"), "{}", stderr(&label));
        assert!(!work.path().join("backups").exists() || std::fs::read_dir(work.path().join("backups")).expect("dir").count() == 0);
    }

    async fn a_restore_is_refused_while_a_server_runs(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        let server = Server::start(&db.url, &[]).expect("server");
        // An online backup while serving.
        ok(&run_in(&db, dir.path(), &["backup", "create"], &[]));
        onboard(&db, dir.path(), "otherorg");
        let out = run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("a loyalty server is running"), "{}", stderr(&out));
        assert_eq!(snapshot(&db).await.organizations, 2, "nothing restored");
        server.stop();
        let out = ok(&run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &[]));
        assert!(out.contains("organizations 1"), "{out}");
    }

    async fn prune_keeps_the_newest_and_labelled_sets(db) {
        let dir = tempfile::tempdir().expect("dir");
        onboard(&db, dir.path(), "nextdoor");
        for label in [None, Some("pre-onboard-nextdoor"), None] {
            let mut args = vec!["backup", "create"];
            if let Some(l) = label {
                args.extend(["--label", l]);
            }
            ok(&run_in(&db, dir.path(), &args, &[]));
        }
        // Age the sets: 40, 40 and 35 days; the last is the newest.
        let mut sets: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").filter_map(Result::ok).map(|e| e.path()).collect();
        sets.sort();
        let now = time::OffsetDateTime::now_utc();
        for (path, days) in sets.iter().zip([40, 40, 35]) {
            let file = path.join("manifest.json");
            let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
            m["created_at"] = serde_json::Value::String(
                (now - time::Duration::days(days)).format(&time::format_description::well_known::Rfc3339).expect("format"),
            );
            std::fs::write(&file, serde_json::to_vec(&m).expect("json")).expect("write");
        }
        std::fs::create_dir(dir.path().join("20200101_000000")).expect("incomplete set");
        let names: Vec<String> = sets.iter().map(|p| p.file_name().expect("name").to_string_lossy().into_owned()).collect();

        let list = ok(&run_in(&db, dir.path(), &["backup", "list"], &[]));
        assert!(list.contains("20200101_000000: no manifest.json"), "{list}");
        let json: Vec<serde_json::Value> = serde_json::from_str(&ok(&run_in(&db, dir.path(), &["backup", "list", "--json"], &[]))).expect("json");
        assert_eq!(json.iter().filter(|e| e["complete"] == true).count(), 3);

        let dry = ok(&run_in(&db, dir.path(), &["backup", "prune", "--dry-run"], &[]));
        assert!(dry.contains(&format!("would delete {}", names[0])), "{dry}");
        assert_eq!(manifests(dir.path()).len(), 3, "dry run deletes nothing");

        let pruned = ok(&run_in(&db, dir.path(), &["backup", "prune"], &[]));
        assert!(pruned.contains(&format!("deleted {}", names[0])), "{pruned}");
        assert!(pruned.contains(&format!("kept {} [pre-onboard-nextdoor]", names[1])), "{pruned}");
        assert!(pruned.contains(&format!("kept {}: the newest set is always kept", names[2])), "{pruned}");
        assert!(!dir.path().join(&names[0]).exists());
        assert!(dir.path().join(&names[1]).exists() && dir.path().join(&names[2]).exists());
        assert!(dir.path().join("20200101_000000").exists(), "incomplete folders are left alone");
    }

    async fn onboard_with_backup_takes_labelled_sets_before_and_after(db) {
        let dir = tempfile::tempdir().expect("dir");
        let out = ok(&run_in(&db, dir.path(), &["onboard", "--name", "NextDoor Market", "--slug", "nextdoor", "--admin-email", "jane@nextdoor.example.com", "--admin-name", "Jane Smith", "--backup", "--json"], &[]));
        let report: serde_json::Value = serde_json::from_str(&out).expect("json");
        let before = report["backups"]["before"].as_str().expect("before").to_owned();
        let after = report["backups"]["after"].as_str().expect("after").to_owned();
        let labels: Vec<String> = manifests(dir.path()).iter().map(|m| m["label"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(labels, ["pre-onboard-nextdoor", "post-onboard-nextdoor"]);
        let m = manifests(dir.path());
        assert_eq!(m[0]["row_counts"]["organizations"], 0);
        assert_eq!(m[1]["row_counts"]["organizations"], 1);

        // Rolling back the onboarding: the set before it.
        ok(&run_in(&db, dir.path(), &["backup", "restore", &before, "--yes"], &[]));
        assert_eq!(snapshot(&db).await.organizations, 0);
        ok(&run_in(&db, dir.path(), &["backup", "restore", &after, "--yes"], &[]));
        assert_eq!(snapshot(&db).await.organizations, 1);
    }
}

both_backends! {
    async fn a_signed_checkpoint_proves_the_ledger_of_a_restored_set_and_catches_a_change(db) {
        let dir = tempfile::tempdir().expect("dir");
        let key = dir.path().join("keys").join("signing.key");
        let key_s = key.to_string_lossy().into_owned();
        let env = [("LOYALTY_INTEGRITY__SIGNING_KEY", key_s.as_str())];
        onboard(&db, dir.path(), "nextdoor");
        award(&db, "nextdoor", &["+12025550101", "+12025550102", "+12025550103"], &[]).await;
        let file = dir.path().join("checkpoint.json");
        let file_s = file.to_string_lossy().into_owned();
        let taken = ok(&run_in(&db, dir.path(), &["points", "checkpoint", "--org", "nextdoor", "--out", &file_s], &env));
        assert!(taken.contains("3 customers, 3 entries"), "{taken}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
        }
        ok(&run_in(&db, dir.path(), &["backup", "create"], &env));
        // More awards after the checkpoint are fine: the checkpoint covers what came before.
        award(&db, "nextdoor", &["+12025550104"], &[]).await;
        ok(&run_in(&db, dir.path(), &["backup", "restore", "latest", "--yes"], &env));
        let verified = ok(&run_in(&db, dir.path(), &["points", "verify", "--from-checkpoint", &file_s], &env));
        assert!(verified.contains("\"checkpoint_heads\": 3"), "{verified}");

        // An entry the checkpoint covers is rewritten with its hash recomputed by hand:
        // the chain alone holds, the signed checkpoint does not.
        let entry = match db.kind {
            Kind::Postgres => psql(&db.url, "SELECT id FROM points_transactions ORDER BY id LIMIT 1"),
            Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url).await.expect("connect");
                let id: String = sqlx::query_scalar("SELECT id FROM points_transactions ORDER BY id LIMIT 1").fetch_one(&mut c).await.expect("id");
                c.close().await.expect("close");
                id
            }
        };
        let forged = match db.kind {
            Kind::Postgres => format!(
                "ALTER TABLE points_transactions DISABLE TRIGGER points_transactions_no_update; \
                 UPDATE points_transactions SET notes = 'rewritten', chain_hash = NULL WHERE id = '{entry}'; \
                 UPDATE users SET chain_head = NULL WHERE id = (SELECT user_id FROM points_transactions WHERE id = '{entry}'); \
                 ALTER TABLE points_transactions ENABLE TRIGGER points_transactions_no_update"
            ),
            Kind::Sqlite => format!(
                "DROP TRIGGER points_transactions_no_update; \
                 UPDATE points_transactions SET notes = 'rewritten', chain_hash = NULL WHERE id = '{entry}'; \
                 UPDATE users SET chain_head = NULL WHERE id = (SELECT user_id FROM points_transactions WHERE id = '{entry}')"
            ),
        };
        match db.kind {
            Kind::Postgres => { psql(&db.url, &forged); }
            Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url).await.expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(forged)).execute(&mut c).await.expect("forge");
                c.close().await.expect("close");
            }
        }
        // `migrate` hashes the emptied entry again (as a careful forger would).
        ok(&run_in(&db, dir.path(), &["migrate"], &env));
        ok(&run_in(&db, dir.path(), &["points", "verify", "--org", "nextdoor"], &env));
        let caught = run_in(&db, dir.path(), &["points", "verify", "--from-checkpoint", &file_s], &env);
        assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
        assert!(stderr(&caught).contains(&format!("entry {entry}")) && stderr(&caught).contains("checkpoint"), "{}", stderr(&caught));

        // An altered checkpoint file is refused before anything is checked.
        let text = std::fs::read_to_string(&file).expect("read").replacen("\"entries\": 3", "\"entries\": 2", 1);
        std::fs::write(&file, text).expect("write");
        let refused = run_in(&db, dir.path(), &["points", "verify", "--from-checkpoint", &file_s], &env);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("altered"), "{}", stderr(&refused));
    }
}

both_backends! {
    async fn a_checkpoint_an_admin_downloads_from_the_api_is_accepted_by_verify(db) {
        let dir = tempfile::tempdir().expect("dir");
        let key = dir.path().join("keys").join("signing.key");
        let key_s = key.to_string_lossy().into_owned();
        let env = [("LOYALTY_INTEGRITY__SIGNING_KEY", key_s.as_str())];
        onboard(&db, dir.path(), "nextdoor");
        onboard(&db, dir.path(), "corner");
        award(&db, "nextdoor", &["+12025550101", "+12025550102"], &[]).await;
        let taken = ok(&run_in(&db, dir.path(), &["points", "checkpoint", "--org", "nextdoor", "--json"], &env));
        let taken: serde_json::Value = serde_json::from_str(&taken).expect("json");
        let id = taken[0]["id"].as_str().expect("id").to_owned();
        let public_key = taken[0]["public_key"].as_str().expect("key").to_owned();

        let org = orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let corner = orgs::get(db.store.as_ref(), "corner").await.expect("org");
        let mut tokens = Vec::new();
        for (o, role) in [(&org, Role::Admin), (&org, Role::Cashier), (&corner, Role::Admin)] {
            let secret_value = format!("lyt_{}", loyalty_core::secret::random_token());
            db.store
                .insert_api_token(o.id, "auditor", role, &loyalty_core::secret::hash_token(&secret_value), &Actor::system(), time::OffsetDateTime::now_utc())
                .await
                .expect("token");
            tokens.push(secret_value);
        }
        let server = Server::start_with_env(&db.url, &[], &env).expect("server");
        let client = crate::support::http();
        let url = format!("{}/api/v1/orgs/nextdoor/checkpoints/{id}", server.base);
        let resp = client.get(&url).bearer_auth(&tokens[0]).send().await.expect("get");
        assert_eq!(resp.status(), 200);
        let file_text = resp.text().await.expect("body");
        let cashier = client.get(&url).bearer_auth(&tokens[1]).send().await.expect("get");
        assert_eq!(cashier.status(), 403);
        let other = client.get(&url).bearer_auth(&tokens[2]).send().await.expect("get");
        assert_eq!(other.status(), 403);
        assert_eq!(server.stop().code(), Some(0));

        // The public key is in the file, so an auditor checks the signature without us.
        let file: serde_json::Value = serde_json::from_str(&file_text).expect("json");
        assert_eq!(file["public_key"], public_key.as_str());
        let downloaded = dir.path().join("downloaded.json");
        std::fs::write(&downloaded, &file_text).expect("write");
        let d = downloaded.to_string_lossy().into_owned();
        let verified = ok(&run_in(&db, dir.path(), &["points", "verify", "--org", "nextdoor", "--from-checkpoint", &d], &env));
        assert!(verified.contains("\"checkpoint_heads\": 2"), "{verified}");
        // The same file altered is refused.
        std::fs::write(&downloaded, file_text.replacen("\"customers\": 2", "\"customers\": 1", 1)).expect("write");
        let refused = run_in(&db, dir.path(), &["points", "verify", "--org", "nextdoor", "--from-checkpoint", &d], &env);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    }
}
