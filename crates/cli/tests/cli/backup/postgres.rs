//! `loyalty backup` on PostgreSQL only: the identity provider's database rolls back
//! together with loyalty's, and dumps the installed PostgreSQL client cannot read (or no
//! client at all) are refused before anything changes.

use super::{award, manifests, ok, onboard, psql, run_in, snapshot};
use crate::support::{skip, stderr};
use loyalty_testkit::{Kind, TestDb};
use uuid::Uuid;

/// A second PostgreSQL database standing in for the identity provider's, dropped after.
struct IdentityDb {
    name: String,
    url: String,
}

impl IdentityDb {
    fn new() -> Self {
        let admin = loyalty_testkit::postgres_admin_url();
        let name = format!("loyalty_test_idp_{}", Uuid::new_v4().simple());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let url = loyalty_testkit::with_database(&admin, &name);
        psql(
            &url,
            "CREATE TABLE authentik_core_user (id serial PRIMARY KEY, username text NOT NULL UNIQUE, is_active boolean NOT NULL DEFAULT true);
             CREATE TABLE authentik_core_group (group_uuid uuid PRIMARY KEY, name text NOT NULL UNIQUE);
             INSERT INTO authentik_core_user (username) VALUES ('akadmin'), ('nextdoor_admin');
             INSERT INTO authentik_core_group VALUES (gen_random_uuid(), 'nextdoor-admins'), (gen_random_uuid(), 'nextdoor-cashiers'), (gen_random_uuid(), 'nextdoor-customers');",
        );
        Self { name, url }
    }

    fn state(&self) -> String {
        psql(
            &self.url,
            "SELECT (SELECT string_agg(username, ',' ORDER BY id) FROM authentik_core_user) || ' / ' || (SELECT count(*) FROM authentik_core_group) || ' / ' || coalesce(to_regclass('public.authentik_late_table')::text, 'no late table')",
        )
    }
}

impl Drop for IdentityDb {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(loyalty_testkit::postgres_admin_url())
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_providers_database_rolls_back_together_with_loyalty() {
    if skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let idp = IdentityDb::new();
    let dir = tempfile::tempdir().expect("dir");
    let env = [("AUTHENTIK_DATABASE_URL", idp.url.as_str())];
    onboard(&db, dir.path(), "nextdoor");
    award(&db, "nextdoor", &["+12025550101", "+12025550102"], &[]).await;
    let loyalty_before = snapshot(&db).await;
    let idp_before = idp.state();
    assert_eq!(idp_before, "akadmin,nextdoor_admin / 3 / no late table");

    ok(&run_in(&db, dir.path(), &["backup", "create"], &env));
    let m = &manifests(dir.path())[0];
    let kinds: Vec<&str> = m["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["loyalty_db", "authentik_db"]);
    assert!(
        m["files"][1]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("authentik_db_") && n.ends_with(".dump.gz"))
    );

    // Both change after the backup.
    psql(
        &idp.url,
        "INSERT INTO authentik_core_user (username) VALUES ('otherorg_admin'); DELETE FROM authentik_core_group WHERE name = 'nextdoor-cashiers'; CREATE TABLE authentik_late_table (x int);",
    );
    onboard(&db, dir.path(), "otherorg");
    assert_ne!(idp.state(), idp_before);

    // A restore without the identity database configured would roll back only half.
    let half = run_in(
        &db,
        dir.path(),
        &["backup", "restore", "latest", "--yes"],
        &[],
    );
    assert_eq!(half.status.code(), Some(2));
    assert!(
        stderr(&half).contains("AUTHENTIK_DATABASE_URL"),
        "{}",
        stderr(&half)
    );

    let out = ok(&run_in(
        &db,
        dir.path(),
        &["backup", "restore", "latest", "--yes"],
        &env,
    ));
    assert!(out.contains("authentik_db_"), "{out}");
    assert_eq!(idp.state(), idp_before);
    assert_eq!(snapshot(&db).await, loyalty_before);
    ok(&run_in(&db, dir.path(), &["points", "verify"], &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_from_a_newer_pg_dump_is_refused_before_anything_changes() {
    if skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let dir = tempfile::tempdir().expect("dir");
    onboard(&db, dir.path(), "nextdoor");
    ok(&run_in(&db, dir.path(), &["backup", "create"], &[]));
    let set = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .next()
        .expect("set")
        .path();
    let file = set.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    m["pg_dump_version"] = "99.1".into();
    std::fs::write(&file, serde_json::to_vec(&m).expect("json")).expect("write");
    onboard(&db, dir.path(), "otherorg");
    let out = run_in(
        &db,
        dir.path(),
        &["backup", "restore", "latest", "--yes"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read a dump written by pg_dump 99.1; install the PostgreSQL client tools of version 99 or newer"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&db).await.organizations, 2, "nothing restored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pg_dump_the_error_says_which_client_to_install() {
    if skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let dir = tempfile::tempdir().expect("dir");
    let empty = tempfile::tempdir().expect("dir");
    let out = run_in(
        &db,
        dir.path(),
        &["backup", "create"],
        &[("PATH", empty.path().to_str().expect("path"))],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pg_dump was not found; install the PostgreSQL client tools of the server's major version 15"),
        "{}",
        stderr(&out)
    );
    assert!(manifests(dir.path()).is_empty(), "no set is left behind");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no unfinished folder either"
    );
}
