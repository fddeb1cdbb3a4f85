//! `loyalty serve` as an operator runs it.

use super::support::{Server, command, http, loyalty, skip, stderr, stdout};
use loyalty_testkit::{Kind, TestDb, both_backends};

/// Runbook step 2.1, unchanged.
const RUNBOOK_STEP_2_1: &str = "INSERT INTO organizations (
    id,
    name,
    slug,
    authentik_group_prefix,
    status,
    plan,
    created_at
) VALUES (
    gen_random_uuid(),
    'NextDoorMarket',
    'nextdoor',
    'nextdoor',
    'active',
    'basic',
    NOW()
);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_sql_creates_an_org_that_a_running_server_and_org_show_see_at_once() {
    if skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let server = Server::start(&db.url, &[]).expect("server");
    let client = http();
    let before = client
        .get(format!("{}/api/v1/orgs/nextdoor", server.base))
        .send()
        .await
        .expect("get");
    assert_eq!(before.status(), 404);

    let psql = std::process::Command::new("psql")
        .arg(&db.url)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            RUNBOOK_STEP_2_1,
            "-c",
            "SELECT id, name, slug FROM organizations WHERE slug = 'nextdoor';",
        ])
        .output()
        .expect("psql runs");
    assert!(
        psql.status.success(),
        "runbook SQL failed: {}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert!(String::from_utf8_lossy(&psql.stdout).contains("NextDoorMarket"));

    let after = client
        .get(format!("{}/api/v1/orgs/nextdoor", server.base))
        .send()
        .await
        .expect("get");
    assert_eq!(
        after.status(),
        200,
        "the running server sees the new org without a restart"
    );
    let body: serde_json::Value = after.json().await.expect("json");
    assert_eq!(body["name"], "NextDoorMarket");
    let via_header = client
        .get(format!("{}/api/v1/orgs/nextdoor", server.base))
        .header("X-Organization", "other")
        .send()
        .await
        .expect("get");
    assert_eq!(via_header.status(), 400);

    let show = loyalty(&db, &["org", "show", "nextdoor"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    assert!(stdout(&show).contains("NextDoorMarket"));
    assert!(stdout(&show).contains("nextdoor-admins, nextdoor-cashiers, nextdoor-customers"));

    // Completing it with onboard gives it groups and an admin; it stays active throughout.
    let out = loyalty(
        &db,
        &[
            "onboard",
            "--name",
            "NextDoor Market",
            "--slug",
            "nextdoor",
            "--admin-email",
            "jane.smith@nextdoormarket.com",
            "--admin-name",
            "Jane Smith",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.stop().code(), Some(0), "graceful shutdown exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_serve_refuses_an_outdated_schema_until_migrated() {
    if skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::empty(Kind::Postgres).await;
    let refused = Server::start(&db.url, &[]).err().expect("refused");
    assert!(
        refused.contains("pending: run `loyalty migrate`"),
        "{refused}"
    );
    let status = loyalty(&db, &["migrate", "--status"]);
    assert_eq!(status.status.code(), Some(1));
    let migrate = loyalty(&db, &["migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert!(
        stdout(&migrate).contains("schema current"),
        "{}",
        stdout(&migrate)
    );
    let server = Server::start(&db.url, &[]).expect("starts once migrated");
    let ready = http()
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_first_run_creates_the_database_and_a_second_server_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("data/loyalty.db").display());
    let first = Server::start(&url, &[]).expect("first run creates and migrates");
    let ready: serde_json::Value = http()
        .get(format!("{}/ready", first.base))
        .send()
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    let second = Server::start(&url, &[])
        .err()
        .expect("second writer refused");
    assert!(
        second.contains("another loyalty server is already using"),
        "{second}"
    );
    assert_eq!(first.stop().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_a_clear_error_with_exit_code_2() {
    let out = command("mysql://nope")
        .args(["org", "list"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("neither postgres:// nor sqlite://"),
        "{}",
        stderr(&out)
    );
    let out = command("sqlite://x.db")
        .args(["--config", "/nonexistent/loyalty.toml", "org", "list"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = command("sqlite://x.db")
        .env("LOYALTY_SERVER__BIND", "not-an-address")
        .args(["config"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("server.bind"),
        "{}",
        stderr(&out)
    );
    let out = command("postgres://u:hunter2@127.0.0.1:1/db")
        .args(["config"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(!stdout(&out).contains("hunter2"), "secrets are redacted");
    let out = command("postgres://u:hunter2@127.0.0.1:1/db")
        .args(["org", "list"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

fn cookie_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("loyalty_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned()
}

fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf field")
        .to_owned()
}

both_backends! {
    async fn the_demo_admin_signs_in_must_choose_a_password_and_then_sees_the_org(db) {
        if skip(db.kind) { return; }
        let server = Server::start(&db.url, &["--demo"]).expect("server");
        let banner = server.banner.join("\n");
        let password = banner.split("with password ").nth(1).and_then(|r| r.split_whitespace().next()).expect("password printed").to_owned();
        let client = http();
        let origin = server.base.clone();

        let forged = client.post(format!("{origin}/login")).form(&[("username", "demo_admin"), ("password", password.as_str())]).send().await.expect("post");
        assert_eq!(forged.status(), 403, "a form post without our Origin is refused");
        let wrong = client.post(format!("{origin}/login")).header("Origin", &origin).form(&[("username", "demo_admin"), ("password", "wrong password")]).send().await.expect("post");
        assert_eq!(wrong.status(), 401);
        assert!(wrong.text().await.expect("body").contains("Wrong username or password."));

        let ok = client.post(format!("{origin}/login")).header("Origin", &origin).form(&[("username", "demo_admin"), ("password", password.as_str())]).send().await.expect("post");
        assert_eq!(ok.status(), 303);
        assert_eq!(ok.headers()["location"], "/account/password");
        let set_cookie = ok.headers()["set-cookie"].to_str().expect("ascii").to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        let cookie = cookie_of(&ok);

        let home = client.get(format!("{origin}/")).header("Cookie", &cookie).send().await.expect("get");
        assert_eq!(home.headers()["location"], "/account/password", "a generated password must be changed first");
        let form = client.get(format!("{origin}/account/password")).header("Cookie", &cookie).send().await.expect("get").text().await.expect("html");
        let csrf = csrf_in(&form);
        let bad_csrf = client.post(format!("{origin}/account/password")).header("Cookie", &cookie).header("Origin", &origin)
            .form(&[("csrf", "0".repeat(64).as_str()), ("current", password.as_str()), ("password", "my own long password"), ("confirm", "my own long password")])
            .send().await.expect("post");
        assert_eq!(bad_csrf.status(), 403);
        let changed = client.post(format!("{origin}/account/password")).header("Cookie", &cookie).header("Origin", &origin)
            .form(&[("csrf", csrf.as_str()), ("current", password.as_str()), ("password", "my own long password"), ("confirm", "my own long password")])
            .send().await.expect("post");
        assert_eq!(changed.status(), 303, "{}", changed.text().await.unwrap_or_default());

        let home = client.get(format!("{origin}/")).header("Cookie", &cookie).send().await.expect("get");
        assert_eq!(home.status(), 200);
        let html = home.text().await.expect("html");
        assert!(html.contains("Demo Shop") && html.contains("admin"), "{html}");

        let logout = client.post(format!("{origin}/logout")).header("Cookie", &cookie).header("Origin", &origin).form(&[("csrf", csrf_in(&html).as_str())]).send().await.expect("post");
        assert_eq!(logout.status(), 303);
        let after = client.get(format!("{origin}/")).header("Cookie", &cookie).send().await.expect("get");
        assert_eq!(after.headers()["location"], "/login", "the session is gone after sign-out");

        let relogin = client.post(format!("{origin}/login")).header("Origin", &origin).form(&[("username", "demo_admin"), ("password", "my own long password")]).send().await.expect("post");
        assert_eq!(relogin.headers()["location"], "/");
    }

    async fn health_ready_metrics_and_json_errors(db) {
        if skip(db.kind) { return; }
        let server = Server::start(&db.url, &[]).expect("server");
        let client = http();
        let health = client.get(format!("{}/health", server.base)).send().await.expect("health");
        assert_eq!(health.status(), 200);
        assert!(health.headers().contains_key("x-request-id"));
        let given = client.get(format!("{}/health", server.base)).header("x-request-id", "abc-123").send().await.expect("health");
        assert_eq!(given.headers()["x-request-id"], "abc-123");
        let missing = client.get(format!("{}/api/v1/orgs/ghost", server.base)).send().await.expect("get");
        assert_eq!(missing.status(), 404);
        let body: serde_json::Value = missing.json().await.expect("json");
        assert_eq!(body["error"]["code"], "org.not_found");
        let no_route = client.get(format!("{}/nowhere", server.base)).send().await.expect("get");
        let body: serde_json::Value = no_route.json().await.expect("json");
        assert_eq!(body["error"]["code"], "route.not_found");
        let metrics = client.get(&server.metrics).send().await.expect("metrics").text().await.expect("text");
        assert!(metrics.contains("loyalty_http_requests_total{route=\"/api/v1/orgs/{slug}\",method=\"GET\",status=\"404\"}"), "{metrics}");
        assert!(metrics.contains("loyalty_build_info"));
        // The public listener does not serve them to anyone.
        let public = client.get(format!("{}/metrics", server.base)).send().await.expect("metrics");
        assert_eq!(public.status(), 404);
        assert_eq!(server.stop().code(), Some(0));
    }

    async fn metrics_on_the_public_listener_need_the_configured_token(db) {
        if skip(db.kind) { return; }
        let server = Server::start_with_env(&db.url, &[], &[("LOYALTY_METRICS__TOKEN", "scrape-me"), ("LOYALTY_METRICS__LISTEN", "")]).expect("server");
        assert_eq!(server.metrics, "", "an empty metrics.listen turns the metrics listener off");
        let client = http();
        let url = format!("{}/metrics", server.base);
        assert_eq!(client.get(&url).send().await.expect("get").status(), 401);
        assert_eq!(client.get(&url).bearer_auth("wrong").send().await.expect("get").status(), 401);
        let ok = client.get(&url).bearer_auth("scrape-me").send().await.expect("get");
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.expect("text").contains("loyalty_build_info"));
        assert_eq!(server.stop().code(), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_orgs_are_read_from_the_environment_and_bad_entries_stop_the_start_with_exit_code_2() {
    let out = command("sqlite://x.db")
        .env(
            "LOYALTY_SERVER__HOST_ORGS",
            r#"{"rewards.nextdoor.com"="nextdoor", "loyalty.corner.shop"="corner-shop"}"#,
        )
        .args(["config"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("[server.host_orgs]")
            && shown.contains("\"rewards.nextdoor.com\" = \"nextdoor\"")
            && shown.contains("\"loyalty.corner.shop\" = \"corner-shop\""),
        "{shown}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("l.db").display());
    for (value, named) in [
        (
            r#"{"https://rewards.nextdoor.com"="nextdoor"}"#,
            "is not a host name",
        ),
        (
            r#"{"rewards.nextdoor.com"="Next Door"}"#,
            "is not an organization slug",
        ),
    ] {
        let out = command(&url)
            .env("LOYALTY_SERVER__HOST_ORGS", value)
            .args(["serve", "--migrate", "--bind", "127.0.0.1:0"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("server.host_orgs") && stderr(&out).contains(named),
            "{}",
            stderr(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_are_read_from_the_environment_and_a_bad_entry_stops_the_start() {
    let out = command("sqlite://x.db")
        .env(
            "LOYALTY_SERVER__TRUSTED_PROXIES",
            r#"["10.0.0.5","172.16.0.0/12"]"#,
        )
        .args(["config"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("trusted_proxies = [") && shown.contains("\"172.16.0.0/12\""),
        "{shown}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("l.db").display());
    let out = command(&url)
        .env("LOYALTY_SERVER__TRUSTED_PROXIES", r#"["proxy.internal"]"#)
        .args(["serve", "--migrate", "--bind", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("server.trusted_proxies")
            && err.contains("\"proxy.internal\" is not an IP address or CIDR range")
            && err.contains("10.0.0.0/8"),
        "{err}"
    );
}

both_backends! {
    async fn serve_publishes_the_time_of_the_newest_backup_set_and_the_pool(db) {
        if skip(db.kind) { return; }
        let backups = tempfile::tempdir().expect("tmp");
        let set = backups.path().join("20250123_140530");
        std::fs::create_dir_all(&set).expect("mkdir");
        std::fs::write(set.join("loyalty_db_20250123_140530.sqlite.gz"), b"0123456789").expect("write");
        std::fs::write(
            set.join("manifest.json"),
            r#"{"created_at": "2025-01-23T14:05:30Z", "label": null, "backend": "sqlite", "schema_version": 8,
                "loyalty_version": "0.1.0",
                "files": [{"name": "loyalty_db_20250123_140530.sqlite.gz", "bytes": 10, "sha256": "-", "kind": "loyalty"}]}"#,
        )
        .expect("write");
        let dir = backups.path().to_str().expect("utf-8").to_owned();
        let server = Server::start_with_env(&db.url, &[], &[("LOYALTY_BACKUP__DIR", &dir)]).expect("server");
        let client = http();
        let mut seen = None;
        for _ in 0..50 {
            let text = client.get(&server.metrics).send().await.expect("metrics").text().await.expect("text");
            seen = text.lines().find_map(|l| l.strip_prefix("loyalty_backup_last_success_timestamp_seconds ").map(|v| v.parse::<f64>().expect("number")));
            if seen.is_some() {
                assert!(text.contains("loyalty_db_pool_connections{state=\"max\"}"), "{text}");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(seen, Some(1_737_641_130.0));
        assert_eq!(server.stop().code(), Some(0));
    }
}
