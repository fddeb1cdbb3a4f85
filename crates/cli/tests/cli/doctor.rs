//! `loyalty doctor` against each broken condition: every one gives FAIL with its fix and
//! exit status 1; a healthy installation exits 0. Real databases on both backends, a
//! real TCP mail greeting, and Authentik mode against the schema-checking stand-in of
//! `loyalty-identity`'s tests (a stand-in, not Authentik itself; see `authentik_mode`).

mod authentik_mode;

use super::support::{command, stderr};
use loyalty_testkit::{Kind, TestDb, both_backends};
use serde_json::Value;
use sqlx::Connection;
use std::process::Output;

/// Runs `loyalty doctor --json` with extra environment; the output and its JSON.
fn doctor_with(url: &str, env: &[(&str, &str)], args: &[&str]) -> (Output, Value) {
    let backups = tempfile::tempdir().expect("temp dir");
    let mut cmd = command(url);
    for k in [
        "SMTP_HOST",
        "SMTP_PORT",
        "AUTHENTIK_API_TOKEN",
        "AUTHENTIK_API_TOKEN_FILE",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("LOYALTY_BACKUP__DIR", backups.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("doctor")
        .args(args)
        .arg("--json")
        .output()
        .expect("loyalty runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        )
    });
    (out, report)
}

fn doctor(url: &str, args: &[&str]) -> (Output, Value) {
    doctor_with(url, &[], args)
}

/// The check with `id`.
fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Asserts that `id` FAILs with a fix containing `fix`, and the exit status is 1.
fn assert_fails(out: &Output, report: &Value, id: &str, fix: &str) {
    let c = check(report, id);
    assert_eq!(c["status"], "FAIL", "{id}: {c:#}");
    let text = c["fix"].as_str().unwrap_or_default();
    assert!(text.contains(fix), "{id}: fix {text:?} lacks {fix:?}");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert_eq!(report["ok"], false);
}

fn failing(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "FAIL")
        .map(|c| format!("{}: {} / {}", c["id"], c["detail"], c["fix"]))
        .collect()
}

fn onboard(url: &str, slug: &str) {
    let out = command(url)
        .args([
            "onboard",
            "--name",
            &format!("Shop {slug}"),
            "--slug",
            slug,
            "--admin-email",
            &format!("owner@{slug}.example.com"),
            "--admin-name",
            "Jane Smith",
        ])
        .output()
        .expect("loyalty runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Runs one statement on the test database, as an operator with psql or sqlite3 would.
async fn sql(db: &TestDb, statement: &str) {
    let done = match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
        }
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
        }
    };
    assert!(done.expect(statement) > 0, "{statement} changed nothing");
}

const STATUSES: [&str; 4] = ["OK", "WARN", "FAIL", "SKIP"];

both_backends! {
    async fn a_healthy_installation_passes_every_check_and_exits_0(db) {
        onboard(&db.url, "nextdoor");
        let (out, report) = doctor(&db.url, &["--org", "nextdoor", "--user", "owner@nextdoor.example.com"]);
        assert_eq!(out.status.code(), Some(0), "{:#?}", failing(&report));
        assert_eq!(report["ok"], true);
        for c in report["checks"].as_array().unwrap() {
            for field in ["id", "name", "status", "detail", "fix"] {
                assert!(c.get(field).is_some(), "{field} missing in {c}");
            }
            assert!(STATUSES.contains(&c["status"].as_str().unwrap()), "{c}");
        }
        let counts = &report["counts"];
        let total: u64 = ["ok", "warn", "fail", "skip"].iter().map(|k| counts[k].as_u64().unwrap()).sum();
        assert_eq!(total as usize, report["checks"].as_array().unwrap().len());
        for id in ["config.loads", "database.reachable", "database.schema", "ledger.invariants", "org.exists", "org.active", "org.groups", "org.admin", "user.exists", "user.active", "user.group", "user.membership", "user.role"] {
            assert_eq!(check(&report, id)["status"], "OK", "{id}: {report:#}");
        }
        // The admin has not used the one-time link yet: a warning, not a failure.
        assert_eq!(check(&report, "user.password")["status"], "WARN");
        assert_eq!(check(&report, "smtp.reachable")["status"], "SKIP");
        assert_eq!(check(&report, "backup.recent")["status"], "WARN");
        if db.kind == Kind::Postgres {
            let reach = check(&report, "database.reachable")["detail"].as_str().unwrap().to_owned();
            assert!(reach.starts_with("PostgreSQL "), "{reach}");
            assert_eq!(check(&report, "clock.skew")["status"], "OK");
        } else {
            assert_eq!(check(&report, "sqlite.writable")["status"], "OK");
            assert_eq!(check(&report, "sqlite.lock")["status"], "OK");
        }

        // The text form: one line per check, fixes indented, a summary.
        let text = command(&db.url).env("LOYALTY_BACKUP__DIR", "/nonexistent").args(["doctor", "--org", "nextdoor"]).output().unwrap();
        assert_eq!(text.status.code(), Some(0));
        let text = String::from_utf8_lossy(&text.stdout).into_owned();
        assert!(text.lines().any(|l| l.starts_with("OK   database reachable (")), "{text}");
        assert!(text.contains("\n     fix: "), "{text}");
        assert!(text.lines().last().unwrap().contains(" checks: "), "{text}");
    }

    async fn each_broken_organization_or_person_fails_with_its_fix(db) {
        for slug in ["gone", "sleepy", "nogroup", "deact", "ungrouped", "norow"] {
            onboard(&db.url, slug);
        }
        let out = command(&db.url).args(["org", "suspend", "sleepy"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        sql(&db, "DELETE FROM account_groups WHERE name = 'nogroup-cashiers'").await;
        sql(&db, "UPDATE accounts SET is_active = false WHERE username = 'deact_admin'").await;
        sql(&db, "DELETE FROM account_group_members WHERE account_pk = (SELECT pk FROM accounts WHERE username = 'ungrouped_admin')").await;
        sql(&db, "DELETE FROM users WHERE email = 'owner@norow.example.com'").await;

        // (arguments, failing check, words of its fix, how many checks fail in all: the
        // organization's only admin being broken fails "has an admin" too)
        let cases: &[(&[&str], &str, &str, usize)] = &[
            (&["--org", "missing"], "org.exists", "loyalty org list", 1),
            (&["--org", "sleepy"], "org.active", "loyalty org activate sleepy", 1),
            (&["--org", "nogroup"], "org.groups", "run `loyalty onboard` for nogroup again", 1),
            (&["--org", "gone", "--user", "nobody@gone.example.com"], "user.exists", "Create cashier", 1),
            (&["--org", "deact", "--user", "owner@deact.example.com"], "user.active", "is_active = true", 2),
            (&["--org", "ungrouped", "--user", "ungrouped_admin"], "user.group", "Users > Create cashier", 2),
            (&["--org", "norow", "--user", "owner@norow.example.com"], "user.membership", "restores the group and the membership row", 1),
        ];
        for (args, id, fix, fails) in cases {
            let (out, report) = doctor(&db.url, args);
            assert_fails(&out, &report, id, fix);
            assert_eq!(failing(&report).len(), *fails, "{args:?}: {:#?}", failing(&report));
        }
        let (_, report) = doctor(&db.url, &["--org", "nogroup"]);
        assert!(check(&report, "org.groups")["detail"].as_str().unwrap().contains("nogroup-cashiers"));
    }

    async fn a_broken_ledger_fails_the_invariants_check(db) {
        onboard(&db.url, "ledger");
        // A customer whose balance says 50 with no entries behind it.
        let org: Value = serde_json::from_slice(&command(&db.url).args(["org", "show", "ledger", "--json"]).output().unwrap().stdout).unwrap();
        let id = org["id"].as_str().unwrap();
        let uuid = uuid::Uuid::new_v4();
        let statement = match db.kind {
            Kind::Postgres => format!("INSERT INTO users (id, organization_id, role, status, phone, balance) VALUES ('{uuid}', '{id}', 'customer', 'active', '+15550001', 50)"),
            Kind::Sqlite => format!("INSERT INTO users (id, organization_id, role, status, phone, balance, created_at, updated_at) VALUES ('{uuid}', '{id}', 'customer', 'active', '+15550001', 50, '2025-01-23T14:05:30.000000Z', '2025-01-23T14:05:30.000000Z')"),
        };
        sql(&db, &statement).await;
        let (out, report) = doctor(&db.url, &[]);
        assert_fails(&out, &report, "ledger.invariants", "loyalty points verify");
    }

    async fn a_mail_server_that_takes_a_session_passes_and_a_closed_port_fails(db) {
        if !crate::mail::smtp_available() { return; }
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let _sink = crate::mail::SmtpSink::start(port.parse().unwrap(), dir.path().join("md"));
        let plain = [("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", port.as_str()), ("SMTP_FROM", "noreply@example.com"), ("LOYALTY_MAIL__TLS", "none")];
        let (out, report) = doctor_with(&db.url, &plain, &[]);
        let c = check(&report, "smtp.reachable");
        assert_eq!(c["status"], "OK", "{c}");
        assert!(c["detail"].as_str().unwrap().contains("accepted an SMTP session (no TLS)"), "{c}");
        assert_eq!(out.status.code(), Some(0), "{:#?}", failing(&report));

        // STARTTLS is the default and required: a server without it fails.
        let (out, report) = doctor_with(&db.url, &plain[..3], &[]);
        assert_fails(&out, &report, "smtp.reachable", "mail.tls");

        let closed = free_port();
        let (out, report) = doctor_with(&db.url, &[("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", &closed), ("SMTP_FROM", "noreply@example.com")], &[]);
        assert_fails(&out, &report, "smtp.reachable", "check SMTP_HOST and SMTP_PORT");
    }
}

both_backends! {
    async fn the_signing_key_and_the_last_checkpoint_are_checked(db) {
        onboard(&db.url, "nextdoor");
        let dir = tempfile::tempdir().expect("dir");
        let key = dir.path().join("signing.key");
        let key_s = key.to_string_lossy().into_owned();
        let env = [("LOYALTY_INTEGRITY__SIGNING_KEY", key_s.as_str())];

        // Missing: the first checkpoint makes it, a warning.
        let (out, report) = doctor_with(&db.url, &env, &[]);
        let c = check(&report, "integrity.key");
        assert_eq!(c["status"], "WARN", "{c}");
        assert!(c["fix"].as_str().unwrap().contains("loyalty points checkpoint"), "{c}");
        assert_eq!(out.status.code(), Some(0), "{:#?}", failing(&report));
        // A new organization has had no day to be checkpointed yet.
        assert_eq!(check(&report, "integrity.checkpoint")["status"], "OK", "{report:#}");

        // An organization two days old without a checkpoint: a warning naming it.
        sql(&db, "UPDATE organizations SET created_at = '2020-01-01T00:00:00.000000Z' WHERE slug = 'nextdoor'").await;
        let (out, report) = doctor_with(&db.url, &env, &[]);
        let c = check(&report, "integrity.checkpoint");
        assert_eq!(c["status"], "WARN", "{c}");
        assert!(c["detail"].as_str().unwrap().contains("nextdoor (none)"), "{c}");
        assert!(c["fix"].as_str().unwrap().contains("loyalty serve"), "{c}");
        assert_eq!(out.status.code(), Some(0));
        // With the job off, nothing is expected of serve.
        let off = [env[0], ("LOYALTY_INTEGRITY__CHECKPOINT_INTERVAL_SECS", "0")];
        let (_, report) = doctor_with(&db.url, &off, &[]);
        assert_eq!(check(&report, "integrity.checkpoint")["status"], "SKIP");

        // A checkpoint three days old is late too.
        let org: Value = serde_json::from_slice(&command(&db.url).args(["org", "show", "nextdoor", "--json"]).output().unwrap().stdout).unwrap();
        let org_id = org["id"].as_str().unwrap();
        let old = (time::OffsetDateTime::now_utc() - time::Duration::days(3)).format(&time::format_description::well_known::Rfc3339).unwrap();
        let (zero32, zero64, empty) = match db.kind {
            Kind::Postgres => ("decode(repeat('00', 32), 'hex')", "decode(repeat('00', 64), 'hex')", "''::bytea"),
            Kind::Sqlite => ("zeroblob(32)", "zeroblob(64)", "X''"),
        };
        sql(&db, &format!("INSERT INTO ledger_checkpoints (id, organization_id, created_at, customers, entries, root, heads, public_key, signature) VALUES ('{}', '{org_id}', '{old}', 0, 0, {zero32}, {empty}, {zero32}, {zero64})", uuid::Uuid::new_v4())).await;
        let (_, report) = doctor_with(&db.url, &env, &[]);
        let c = check(&report, "integrity.checkpoint");
        assert_eq!(c["status"], "WARN", "{c}");
        assert!(c["detail"].as_str().unwrap().contains("3 days ago"), "{c}");

        // A checkpoint now: the key is made and both checks pass.
        let out = command(&db.url).env("LOYALTY_INTEGRITY__SIGNING_KEY", &key_s).args(["points", "checkpoint"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (out, report) = doctor_with(&db.url, &env, &[]);
        let c = check(&report, "integrity.key");
        assert_eq!(c["status"], "OK", "{c}");
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        let seed = std::fs::read_to_string(&key).unwrap();
        assert!(!printed.contains(seed.trim()), "the key itself is never printed");
        assert_eq!(check(&report, "integrity.checkpoint")["status"], "OK", "{report:#}");
        assert_eq!(out.status.code(), Some(0), "{:#?}", failing(&report));

        // Readable by others: fails naming chmod 600.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
            let (out, report) = doctor_with(&db.url, &env, &[]);
            assert_fails(&out, &report, "integrity.key", &format!("chmod 600 {key_s}"));
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        // Not a key: fails, restore it.
        std::fs::write(&key, "not a key\n").unwrap();
        let (out, report) = doctor_with(&db.url, &env, &[]);
        assert_fails(&out, &report, "integrity.key", "restore");
        // Unreadable (a folder where the file should be): fails naming the owner.
        std::fs::remove_file(&key).unwrap();
        std::fs::create_dir(&key).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let (out, report) = doctor_with(&db.url, &env, &[]);
        assert_fails(&out, &report, "integrity.key", "run loyalty as the owner");
    }
}

/// A port nothing listens on (bound, then released).
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

#[test]
fn an_unreachable_database_fails_naming_host_and_port() {
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/loyalty_db");
    let (out, report) = doctor(&url, &[]);
    assert_fails(
        &out,
        &report,
        "database.reachable",
        &format!("pg_isready -h 127.0.0.1 -p {port}"),
    );
    assert!(
        check(&report, "database.reachable")["detail"]
            .as_str()
            .unwrap()
            .contains("nothing answers"),
        "{report:#}"
    );
    assert_eq!(check(&report, "database.schema")["status"], "SKIP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_was_never_migrated_fails_with_loyalty_migrate() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::empty(Kind::Postgres).await;
    let (out, report) = doctor(&db.url, &[]);
    assert_fails(&out, &report, "database.schema", "loyalty migrate");
    assert_eq!(check(&report, "ledger.invariants")["status"], "SKIP");

    // Migrated except the newest: that one is pending.
    db.store.migrate().await.unwrap();
    let newest = db
        .store
        .schema_status()
        .await
        .unwrap()
        .known
        .last()
        .copied()
        .unwrap();
    sql(
        &db,
        &format!("DELETE FROM _sqlx_migrations WHERE version = {newest}"),
    )
    .await;
    let (out, report) = doctor(&db.url, &[]);
    assert_fails(&out, &report, "database.schema", "run `loyalty migrate`");
    assert!(
        check(&report, "database.schema")["detail"]
            .as_str()
            .unwrap()
            .contains("pending")
    );
}

#[test]
fn user_without_org_and_a_malformed_slug_are_bad_flags() {
    let out = command("sqlite:///nonexistent/x.db")
        .args(["doctor", "--user", "a@b.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--org"), "{}", stderr(&out));
    let out = command("sqlite:///nonexistent/x.db")
        .args(["doctor", "--org", "Not A Slug"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--org"), "{}", stderr(&out));
}

#[test]
fn a_configuration_that_does_not_load_is_a_failed_check_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loyalty.toml");
    std::fs::write(&file, "[server]\nbnid = \"0.0.0.0:8080\"\n").unwrap();
    let (out, report) = doctor_with(
        "sqlite:///nonexistent/x.db",
        &[("LOYALTY_CONFIG", file.to_str().unwrap())],
        &[],
    );
    assert_fails(&out, &report, "config.loads", "LOYALTY_CONFIG");
    assert!(
        check(&report, "config.loads")["detail"]
            .as_str()
            .unwrap()
            .contains("bnid"),
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_holding_the_sqlite_lock_is_fine() {
    let db = TestDb::new(Kind::Sqlite).await;
    let server = super::support::Server::start(&db.url, &[]).expect("serve starts");
    let (out, report) = doctor(&db.url, &[]);
    let lock = check(&report, "sqlite.lock");
    assert_eq!(lock["status"], "OK", "{lock}");
    assert!(
        lock["detail"]
            .as_str()
            .unwrap()
            .contains("held by a running loyalty server"),
        "{lock}"
    );
    assert_eq!(out.status.code(), Some(0), "{:#?}", failing(&report));
    server.stop();
    let (_, report) = doctor(&db.url, &[]);
    assert!(
        check(&report, "sqlite.lock")["detail"]
            .as_str()
            .unwrap()
            .starts_with("free")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_a_newer_loyalty_asks_for_an_upgrade() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    sql(&db, "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'from the future', true, '\\x00', 0)").await;
    let (out, report) = doctor(&db.url, &[]);
    assert_fails(&out, &report, "database.schema", "upgrade this binary");
}

#[test]
fn a_backup_set_from_an_hour_ago_is_recent_enough() {
    let backups = tempfile::tempdir().unwrap();
    let set = backups.path().join("20250123_140530");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(
        set.join("loyalty_db_20250123_140530.sqlite.gz"),
        b"0123456789",
    )
    .unwrap();
    let created = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let manifest = serde_json::json!({
        "created_at": created, "label": null, "backend": "sqlite", "schema_version": 5,
        "loyalty_version": "0.1.0",
        "files": [{"name": "loyalty_db_20250123_140530.sqlite.gz", "bytes": 10, "sha256": "-", "kind": "loyalty"}],
    });
    std::fs::write(set.join("manifest.json"), manifest.to_string()).unwrap();
    let (_, report) = doctor_with(
        "sqlite:///nonexistent/x.db",
        &[("LOYALTY_BACKUP__DIR", backups.path().to_str().unwrap())],
        &[],
    );
    let c = check(&report, "backup.recent");
    assert_eq!(c["status"], "OK", "{c}");
    assert!(c["detail"].as_str().unwrap().contains("(1 h old)"), "{c}");
}
