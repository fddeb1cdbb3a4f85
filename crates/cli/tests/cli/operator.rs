//! `loyalty operator add|list|remove|link` with the built-in accounts (both backends) and
//! against the Authentik stand-in; `serve` saying how to make the first operator; a
//! removed operator's session refused on its next request.

use super::support::{Server, command, http, loyalty, skip, stderr, stdout};
use crate::authentik::standin::{StandIn, TOKEN};
use loyalty_testkit::{Kind, TestDb, both_backends};

/// The 64-hex-digit token after `token=` in a message.
fn link_token(message: &str) -> String {
    let start = message
        .find("set-password?token=")
        .expect("a one-time link")
        + "set-password?token=".len();
    message[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("loyalty_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned()
}

both_backends! {
    async fn an_operator_is_added_signs_in_is_listed_gets_a_new_link_and_once_removed_is_refused(db) {
        if skip(db.kind) { return; }
        let server = Server::start(&db.url, &[]).expect("serve");
        let banner = server.banner.join("\n");
        assert!(banner.contains("No operator yet") && banner.contains("loyalty operator add --username"), "{banner}");

        let bad = loyalty(&db, &["operator", "add", "--username", "ana ops", "--name", "Ana Souza"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        assert!(stderr(&bad).contains("username"), "names the field: {}", stderr(&bad));

        let out = loyalty(&db, &["operator", "add", "--username", "ana_ops", "--name", "Ana Souza", "--email", "ana@ops.example.com"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("is now an operator") && text.contains("loyalty-operators") && text.contains("account created"), "{text}");
        let first = link_token(&text);
        assert_eq!(first.len(), 64, "{text}");

        let again = loyalty(&db, &["operator", "add", "--username", "ana_ops", "--name", "Ana Souza", "--json"]);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        let json: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
        assert_eq!(json["membership"], "existing");
        assert_eq!(json["account"], "existing");

        let list = loyalty(&db, &["operator", "list", "--json"]);
        assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).expect("json");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["username"], "ana_ops");
        assert_eq!(rows[0]["email"], "ana@ops.example.com");
        assert_eq!(rows[0]["active"], true);
        let table = stdout(&loyalty(&db, &["operator", "list"]));
        assert!(table.contains("USERNAME") && table.contains("Ana Souza"), "{table}");

        // A new link replaces the first one.
        let link = loyalty(&db, &["operator", "link", "ana_ops"]);
        assert_eq!(link.status.code(), Some(0), "{}", stderr(&link));
        let second = link_token(&stdout(&link));
        assert_ne!(first, second);

        let client = http();
        let base = server.base.clone();
        let set = client.post(format!("{base}/auth/set-password")).header("origin", &base)
            .form(&[("token", second.as_str()), ("password", "ana-operator-password-42"), ("confirm", "ana-operator-password-42")])
            .send().await.expect("set password");
        assert_eq!(set.status(), 200, "{}", set.text().await.unwrap_or_default());
        let login = client.post(format!("{base}/login")).header("origin", &base)
            .form(&[("username", "ana_ops"), ("password", "ana-operator-password-42")])
            .send().await.expect("sign in");
        assert_eq!(login.status(), 303);
        let cookie = session_cookie(&login);
        let console = client.get(format!("{base}/operator")).header("cookie", &cookie).send().await.expect("console");
        assert_eq!(console.status(), 200, "an operator opens the console");

        let unknown = loyalty(&db, &["operator", "remove", "nobody_here"]);
        assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
        assert!(stderr(&unknown).contains("nobody_here"), "{}", stderr(&unknown));

        let removed = loyalty(&db, &["operator", "remove", "ana_ops"]);
        assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
        assert!(stdout(&removed).contains("no longer an operator"), "{}", stdout(&removed));
        let refused = client.get(format!("{base}/operator")).header("cookie", &cookie).send().await.expect("console");
        assert_eq!(refused.status(), 403, "the same session is no longer an operator's");
        let list = loyalty(&db, &["operator", "list", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).expect("json");
        assert!(rows.is_empty(), "{rows:?}");
        let link = loyalty(&db, &["operator", "link", "ana_ops"]);
        assert_eq!(link.status.code(), Some(2), "only operators get links here: {}", stderr(&link));
        server.stop();

        let server = Server::start(&db.url, &[]).expect("serve");
        assert!(server.banner.join("\n").contains("No operator yet"), "nobody is an operator again");
        server.stop();
    }

    async fn serve_demo_makes_a_demo_operator_who_opens_the_console(db) {
        if skip(db.kind) { return; }
        let server = Server::start(&db.url, &["--demo"]).expect("serve");
        let banner = server.banner.join("\n");
        assert!(!banner.contains("No operator yet"), "{banner}");
        let line = server.banner.iter().find(|l| l.starts_with("Demo operator ready")).expect("demo operator line");
        let password = line.split("with password ").nth(1).and_then(|r| r.split_whitespace().next()).expect("password").to_owned();
        let client = http();
        let base = server.base.clone();
        let login = client.post(format!("{base}/login")).header("origin", &base)
            .form(&[("username", "demo_operator"), ("password", password.as_str())])
            .send().await.expect("sign in");
        assert_eq!(login.status(), 303);
        assert_eq!(login.headers()["location"], "/account/password", "a generated password is changed first");
        server.stop();
        let list = loyalty(&db, &["operator", "list", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).expect("json");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["username"], "demo_operator");
        let server = Server::start(&db.url, &["--demo"]).expect("serve");
        let line = server.banner.iter().find(|l| l.starts_with("Demo operator ready")).expect("demo operator line");
        assert!(line.contains("printed on the first run"), "{line}");
        server.stop();
    }
}

/// `loyalty operator ...` with identity.mode = authentik against the stand-in.
fn authentik(url: &str, base: &str, args: &[&str]) -> std::process::Output {
    command(url)
        .env("LOYALTY_IDENTITY__MODE", "authentik")
        .env("AUTHENTIK_URL", base)
        .env("AUTHENTIK_API_TOKEN", TOKEN)
        .args(args)
        .output()
        .expect("loyalty runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_authentik_mode_operator_commands_manage_the_group_at_authentik() {
    let db = TestDb::new(Kind::Sqlite).await;
    let standin = StandIn::start().await;
    let (url, base) = (db.url.clone(), standin.url.clone());
    let run = move |args: &'static [&'static str]| {
        let (url, base) = (url.clone(), base.clone());
        tokio::task::spawn_blocking(move || authentik(&url, &base, args))
    };
    let out = run(&[
        "operator",
        "add",
        "--username",
        "ana_ops",
        "--name",
        "Ana Souza",
        "--email",
        "ana@ops.example.com",
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("authentik identity provider") && text.contains("flow_token="),
        "{text}"
    );
    assert!(
        standin
            .memberships()
            .contains(&("loyalty-operators".into(), "ana_ops".into())),
        "{:?}",
        standin.memberships()
    );

    let out = run(&["operator", "list", "--json"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["username"], "ana_ops");

    let out = run(&["operator", "link", "ana_ops"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("flow_token="), "{}", stdout(&out));

    let out = run(&["operator", "remove", "ana_ops"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !standin
            .memberships()
            .iter()
            .any(|(g, _)| g == "loyalty-operators"),
        "{:?}",
        standin.memberships()
    );
    assert!(
        standin.usernames().contains(&"ana_ops".to_owned()),
        "the account stays"
    );
    let out = run(&["operator", "list", "--json"]).await.unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert!(rows.is_empty(), "{rows:?}");
    let out = run(&["operator", "remove", "ana_ops"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
