//! Mail against a real SMTP server (Python's aiosmtpd, started by the test on a free
//! port and writing what it receives to a maildir): the outbox survives an outage and
//! delivers exactly once, new staff get their link, `loyalty mail test` checks settings,
//! and "Forgot your password?" mails a link that works.

use super::support::{Server, command, http, loyalty, stderr, stdout};
use loyalty_testkit::loyalty_core::clock::SystemClock;
use loyalty_testkit::loyalty_core::domain::Role;
use loyalty_testkit::loyalty_core::domain::ledger::Actor;
use loyalty_testkit::loyalty_core::service::onboard::Credential;
use loyalty_testkit::loyalty_core::service::orgs;
use loyalty_testkit::loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::loyalty_core::service::staff::{self, StaffInput};
use loyalty_testkit::{TestDb, both_backends};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An aiosmtpd server on 127.0.0.1:`port`, delivering into a maildir; stopped on drop.
pub(crate) struct SmtpSink {
    child: Child,
    dir: PathBuf,
}

/// Whether the real SMTP server (Python's aiosmtpd) can run here; a missing one fails
/// the test (see `loyalty_testkit::tools`).
pub(crate) fn smtp_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    loyalty_testkit::tools::required(
        "smtp",
        ok,
        "python3 with aiosmtpd (the mail tests' SMTP server)",
        "python3 -m pip install aiosmtpd",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl SmtpSink {
    pub(crate) fn start(port: u16, dir: PathBuf) -> SmtpSink {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink { child, dir }
    }

    /// Every delivered message, decoded from quoted-printable enough to search it.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else {
            return Vec::new();
        };
        let mut all: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| std::fs::read_to_string(e.path()).expect("read message"))
            .map(|m| {
                m.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .collect();
        all.sort();
        all
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_env(port: u16) -> Vec<(String, String)> {
    vec![
        ("SMTP_HOST".into(), "127.0.0.1".into()),
        ("SMTP_PORT".into(), port.to_string()),
        (
            "SMTP_FROM".into(),
            "Loyalty <noreply@loyalty.example.com>".into(),
        ),
        ("LOYALTY_MAIL__TLS".into(), "none".into()),
        ("LOYALTY_MAIL__POLL_INTERVAL_SECS".into(), "1".into()),
        ("LOYALTY_MAIL__TIMEOUT_SECS".into(), "5".into()),
    ]
}

fn run(db: &TestDb, env: &[(String, String)], args: &[&str]) -> std::process::Output {
    command(&db.url)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .expect("loyalty runs")
}

fn outbox(db: &TestDb) -> serde_json::Value {
    let out = loyalty(db, &["mail", "status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")["outbox"].clone()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

both_backends! {
    async fn the_outbox_survives_an_smtp_outage_and_delivers_each_mail_exactly_once(db) {
        if !smtp_available() { return; }
        let port = free_port();
        let env = smtp_env(port);
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let maildir = tempfile::tempdir().expect("dir");

        // An organization whose customers get receipts, a cashier, a customer, a purchase.
        let out = loyalty(&db, &["onboard", "--name", "NextDoor Market", "--slug", "nextdoor",
            "--admin-email", "jane@nextdoor.example.com", "--admin-name", "Jane Smith"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = loyalty(&db, &["onboard", "--name", "Other Shop", "--slug", "other",
            "--admin-email", "owner@other.example.com", "--admin-name", "Otto"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = loyalty(&db, &["mail", "settings", "nextdoor", "--receipts", "on",
            "--sender-name", "NextDoor Market", "--sender-address", "hello@nextdoor.example.com", "--by", "sam"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("points receipts      on"), "{}", stdout(&out));
        let nextdoor = orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let audit = db.store.audit_log(nextdoor.id, None, 100).await.expect("audit");
        let change = audit.iter().find(|r| r.action == "org.mail_settings").expect("audited");
        assert_eq!((change.actor.as_str(), change.actor_role.as_str()), ("sam", "operator"));
        let bad = loyalty(&db, &["mail", "settings", "nextdoor", "--sender-address", "nope"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        assert!(stderr(&bad).contains("sender_address"), "{}", stderr(&bad));

        let clock = SystemClock;
        let org = orgs::get(db.store.as_ref(), "nextdoor").await.expect("org");
        let admin = Ctx { store: db.store.as_ref(), clock: &clock, org: &org, role: Role::Admin,
            actor: Actor { member_id: None, label: "jane".into(), role: "admin".into(), request_id: None } };
        let dir = db.directory(Arc::new(SystemClock));
        let cashier = staff::create_staff(&admin, &dir, Role::Cashier, &StaffInput {
            username: "nextdoor_ana".into(), name: "Ana Silva".into(), email: "ana@nextdoor.example.com".into(),
        }).await.expect("cashier");
        let Credential::Link { url, .. } = &cashier.credential else { panic!("link expected") };
        let link = secrecy::ExposeSecret::expose_secret(url).to_owned();
        let carla = points::enroll(&admin, &EnrollInput { phone: None, email: Some("carla@example.com".into()), name: Some("Carla".into()) }, None)
            .await.expect("enroll").id;
        loyalty_testkit::till::award(&admin, carla, "25.00", None, serde_json::json!({}), "purchase-1").await.expect("award");
        // Two admin links (nextdoor, other), the cashier's link, the receipt.
        assert_eq!(outbox(&db)["pending"], 4);

        // SMTP is down: the worker tries, records the failure, loses nothing.
        let server = Server::start_with_env(&db.url, &[], &env_ref).expect("serve");
        wait_for("failed attempts", || outbox(&db)["retrying"] == 4);
        let status = outbox(&db);
        assert_eq!((status["pending"].clone(), status["sent"].clone()), (4.into(), 0.into()));
        assert!(status["last_error"].as_str().unwrap_or_default().contains("refused"), "{status}");
        let listed = loyalty(&db, &["mail", "list", "--org", "nextdoor"]);
        assert!(stdout(&listed).contains("retry") && stdout(&listed).contains("points_receipt"), "{}", stdout(&listed));

        // SMTP is back; the operator makes the waiting mail due now; the worker sends it.
        let sink = SmtpSink::start(port, maildir.path().join("maildir"));
        let out = loyalty(&db, &["mail", "retry"]);
        assert!(stdout(&out).contains("4 mail(s) due now"), "{}", stdout(&out));
        wait_for("delivery", || outbox(&db)["sent"] == 4);
        let metrics = http().get(&server.metrics).send().await.expect("metrics").text().await.expect("body");
        assert!(metrics.contains("loyalty_mail_sent_total 4"), "{metrics}");
        assert!(metrics.contains("loyalty_mail_failed_total 4"), "{metrics}");
        assert!(metrics.contains("loyalty_mail_outbox_pending 0"), "{metrics}");
        server.stop();

        // A restarted worker and two more passes send nothing again.
        let again = Server::start_with_env(&db.url, &[], &env_ref).expect("serve again");
        std::thread::sleep(Duration::from_millis(2500));
        again.stop();
        for _ in 0..2 {
            let out = run(&db, &env, &["mail", "flush"]);
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(stdout(&out).starts_with("sent 0,"), "{}", stdout(&out));
        }
        let messages = sink.messages();
        assert_eq!(messages.len(), 4, "each mail exactly once: {messages:#?}");

        let receipt: Vec<&String> = messages.iter().filter(|m| m.contains("To: carla@example.com")).collect();
        assert_eq!(receipt.len(), 1);
        let r = receipt[0];
        assert!(r.contains("From: \"NextDoor Market\" <noreply@loyalty.example.com>") || r.contains("From: NextDoor Market <noreply@loyalty.example.com>"), "{r}");
        assert!(r.contains("Reply-To: hello@nextdoor.example.com"), "{r}");
        assert!(r.contains("You earned 25 points at NextDoor Market") && r.contains("Your balance: 25 points"), "{r}");
        assert!(!r.contains("Other Shop") && !r.contains("other.example.com"), "no other organization's data: {r}");

        let ana: Vec<&String> = messages.iter().filter(|m| m.contains("To: ana@nextdoor.example.com")).collect();
        assert_eq!(ana.len(), 1);
        assert!(ana[0].contains(&link), "the cashier's one-time link is in the mail: {}", ana[0]);
        assert!(ana[0].contains("nextdoor_ana"), "{}", ana[0]);
        let other: Vec<&String> = messages.iter().filter(|m| m.contains("To: owner@other.example.com")).collect();
        assert_eq!(other.len(), 1);
        assert!(!other[0].contains("NextDoor") && !other[0].contains("hello@nextdoor"), "{}", other[0]);
        // The links were erased from the outbox once sent.
        let org_mails = db.store.list_mails(Some(org.id), 10).await.expect("list");
        assert!(org_mails.iter().all(|m| !m.mail.body_text.contains(&link)));
    }

    async fn mail_test_checks_the_smtp_settings_and_says_what_is_wrong(db) {
        if !smtp_available() { return; }
        let port = free_port();
        let env = smtp_env(port);
        let down = run(&db, &env, &["mail", "test", "--to", "ops@example.com"]);
        assert_eq!(down.status.code(), Some(1));
        assert!(stderr(&down).contains("refused") && stderr(&down).contains("smtp_host"), "{}", stderr(&down));
        let status = run(&db, &env, &["mail", "status", "--check"]);
        assert!(stdout(&status).contains("reachable NO"), "{}", stdout(&status));

        let maildir = tempfile::tempdir().expect("dir");
        let sink = SmtpSink::start(port, maildir.path().join("maildir"));
        let ok = run(&db, &env, &["mail", "test", "--to", "ops@example.com"]);
        assert!(ok.status.success(), "{}", stderr(&ok));
        assert!(stdout(&ok).contains("accepted"), "{}", stdout(&ok));
        let status = run(&db, &env, &["mail", "status", "--check"]);
        assert!(stdout(&status).contains("reachable yes"), "{}", stdout(&status));
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].contains("To: ops@example.com") && messages[0].contains("SMTP settings work"));

        // STARTTLS is required, never skipped: a server without it gets nothing in plain text.
        let plain: Vec<(String, String)> = env.iter().filter(|(k, _)| k != "LOYALTY_MAIL__TLS").cloned().collect();
        let refused = run(&db, &plain, &["mail", "test", "--to", "ops@example.com"]);
        assert_eq!(refused.status.code(), Some(1));
        assert!(stderr(&refused).contains("STARTTLS") && stderr(&refused).contains("tls (starttls)"), "{}", stderr(&refused));
        assert_eq!(sink.messages().len(), 1, "nothing sent without TLS");

        let bad = run(&db, &env, &["mail", "test", "--to", "not-an-address"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        assert!(stderr(&bad).contains("--to"), "{}", stderr(&bad));
        let unconfigured = loyalty(&db, &["mail", "test", "--to", "ops@example.com"]);
        assert_eq!(unconfigured.status.code(), Some(2));
        assert!(stderr(&unconfigured).contains("SMTP_HOST"), "{}", stderr(&unconfigured));
    }
}

#[test]
fn the_runbook_smtp_variables_configure_mail_and_the_password_never_shows() {
    let out = command("sqlite://unused.db")
        .envs([
            ("SMTP_HOST", "smtp.sendgrid.net"),
            ("SMTP_PORT", "2587"),
            ("SMTP_USER", "apikey"),
            ("SMTP_PASSWORD", "hunter2-secret"),
            ("SMTP_FROM", "NextDoor <noreply@nextdoor.example.com>"),
        ])
        .arg("config")
        .output()
        .expect("loyalty runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "smtp_host = \"smtp.sendgrid.net\"",
        "smtp_port = 2587",
        "smtp_user = \"apikey\"",
        "smtp_password = \"[redacted]\"",
        "from = \"NextDoor <noreply@nextdoor.example.com>\"",
        "tls = \"starttls\"",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
    let bad = command("sqlite://unused.db")
        .env("LOYALTY_MAIL__TLS", "ssl")
        .arg("config")
        .output()
        .expect("loyalty runs");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("tls"), "{}", stderr(&bad));
}

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

both_backends! {
    async fn forgot_password_mails_a_working_link_through_the_smtp_server(db) {
        if !smtp_available() { return; }
        let port = free_port();
        let env = smtp_env(port);
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let maildir = tempfile::tempdir().expect("dir");
        let sink = SmtpSink::start(port, maildir.path().join("maildir"));
        let out = loyalty(&db, &["onboard", "--name", "NextDoor Market", "--slug", "nextdoor",
            "--admin-email", "jane@nextdoor.example.com", "--admin-name", "Jane Smith"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let server = Server::start_with_env(&db.url, &[], &env_ref).expect("serve");
        wait_for("the sign-in link mail", || outbox(&db)["sent"] == 1);

        let client = http();
        let page = client.get(format!("{}/forgot-password", server.base)).send().await.expect("page");
        let cookie = page.headers().get("set-cookie").expect("form cookie").to_str().expect("ascii")
            .split(';').next().expect("pair").to_owned();
        let body = page.text().await.expect("body");
        let token = body.split("name=\"csrf\" value=\"").nth(1).expect("token field")
            .split('"').next().expect("token").to_owned();
        let answer = client.post(format!("{}/forgot-password", server.base))
            .header("origin", &server.base).header("cookie", &cookie)
            .form(&[("csrf", token.as_str()), ("login", "jane@nextdoor.example.com")])
            .send().await.expect("post");
        assert_eq!(answer.status(), 200);
        let text = answer.text().await.expect("body");
        assert!(text.contains("If an account matches") && text.contains("72 hours"), "{text}");

        wait_for("the reset mail", || outbox(&db)["sent"] == 2);
        let messages = sink.messages();
        let reset: Vec<&String> = messages.iter().filter(|m| m.contains("Password reset")).collect();
        assert_eq!(reset.len(), 1, "{messages:#?}");
        assert!(reset[0].contains("To: jane@nextdoor.example.com") && reset[0].contains("nextdoor_admin"), "{}", reset[0]);
        assert!(reset[0].contains("NextDoor Market"), "the organization's name: {}", reset[0]);
        let link = link_token(reset[0]);
        assert_eq!(link.len(), 64, "{}", reset[0]);

        let set = client.post(format!("{}/auth/set-password", server.base)).header("origin", &server.base)
            .form(&[("token", link.as_str()), ("password", "jane-new-password-42"), ("confirm", "jane-new-password-42")])
            .send().await.expect("set password");
        assert_eq!(set.status(), 200, "{}", set.text().await.unwrap_or_default());
        let login = client.post(format!("{}/login", server.base)).header("origin", &server.base)
            .form(&[("username", "nextdoor_admin"), ("password", "jane-new-password-42")])
            .send().await.expect("sign in");
        assert_eq!(login.status(), 303, "signed in with the new password");
        server.stop();
    }
}
