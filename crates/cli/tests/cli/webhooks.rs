//! Webhooks against a real receiver (Python, verifying every delivery with the Standard
//! Webhooks reference library `standardwebhooks`): signatures and timestamps verify, a
//! rotated secret and the old one both verify for the overlap, the receiver down for a
//! while then up gets every event with exactly one success recorded per event, and a
//! sender that dies between posting and recording posts again with the same
//! `webhook-id`.

use super::support::{loyalty, stderr, stdout};
use loyalty_ops::config::WebhooksConfig;
use loyalty_ops::webhooks::{HttpTransport, deliver};
use loyalty_testkit::both_backends;
use loyalty_testkit::loyalty_core::clock::{Clock, FixedClock};
use loyalty_testkit::loyalty_core::domain::OrgStatus;
use loyalty_testkit::loyalty_core::domain::Role;
use loyalty_testkit::loyalty_core::domain::ledger::Actor;
use loyalty_testkit::loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::loyalty_core::service::webhooks::{self, WebhookTransport};
use loyalty_testkit::loyalty_core::webhook::CLAIM_LEASE;
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the receiver's library is here; a missing one fails the test (see
/// `loyalty_testkit::tools`).
fn receiver_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .status()
        .is_ok_and(|s| s.success());
    loyalty_testkit::tools::required(
        "webhooks",
        ok,
        "python3 with standardwebhooks (the webhook tests' receiver)",
        "python3 -m pip install standardwebhooks",
    )
}

struct Receiver {
    child: Child,
}

impl Receiver {
    fn start(port: u16, secrets: &Path, log: &Path) -> Receiver {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/webhook_receiver.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(secrets)
            .arg(log)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 webhook_receiver.py starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the receiver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Receiver { child }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn received(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn set_secrets(path: &PathBuf, secrets: &[&str]) {
    std::fs::write(path, serde_json::to_string(secrets).expect("json")).expect("write secrets");
}

both_backends! {
    async fn a_real_receiver_verifies_every_delivery_through_an_outage_a_crash_and_a_rotation(db) {
        if !receiver_available() { return; }
        let dir = tempfile::tempdir().expect("dir");
        let secrets_file = dir.path().join("secrets.json");
        let log = dir.path().join("received.jsonl");
        let port = free_port();
        // The receiver checks timestamps against the real time: the test's clock starts now.
        let clock = FixedClock::new(time::OffsetDateTime::now_utc());
        let input = OnboardInput {
            name: Some("NextDoor Market".into()), slug: Some("nextdoor".into()),
            admin_email: Some("jane@nextdoor.example.com".into()), admin_name: Some("Jane".into()),
            country: Some("US".into()), timezone: Some("America/New_York".into()), language: Some("en-US".into()),
            ..OnboardInput::default()
        };
        let org = db.store.insert_organization(&input.validate().expect("valid").org, OrgStatus::Active, clock.now())
            .await.expect("org");
        let admin = Ctx { store: db.store.as_ref(), clock: &clock, org: &org, role: Role::Admin,
            actor: Actor { member_id: None, label: "jane".into(), role: "admin".into(), request_id: None } };
        let (endpoint, secret) = webhooks::create_endpoint(&admin, &format!("http://127.0.0.1:{port}/hooks"),
            &["points.earned".into(), "points.redeemed".into(), "webhook.test".into()],
            webhooks::TargetPolicy { allow_private: true }).await.expect("endpoint");
        assert!(secret.expose_secret().starts_with("whsec_"));
        set_secrets(&secrets_file, &[secret.expose_secret()]);
        let transport = HttpTransport::new(&WebhooksConfig { allow_private: true, poll_interval_secs: 1 });

        // The guard: without allow_private a loopback target is refused for good.
        let guarded = HttpTransport::new(&WebhooksConfig::default());
        let refused = guarded.post(&endpoint.url, &[], "{}").await.expect_err("refused");
        assert!(refused.permanent && refused.message.contains("private, loopback"), "{}", refused.message);

        let carla = points::enroll(&admin, &EnrollInput { phone: None, email: Some("carla@example.com".into()), name: Some("Carla".into()) }, None)
            .await.expect("enroll").id;
        let first = loyalty_testkit::till::award(&admin, carla, "25.00", None, serde_json::json!({}), "p-1").await.expect("award");
        // A replay queues nothing new.
        loyalty_testkit::till::award(&admin, carla, "25.00", None, serde_json::json!({}), "p-1").await.expect("replay");
        // Adjustments are not in this endpoint's filter.
        points::adjust(&admin, points::AdjustRequest { customer: carla, points: 5, reason: "welcome".into() }, "adj-1")
            .await.expect("adjust");

        // 1. The receiver is up: the event arrives signed, verified, once.
        let receiver = Receiver::start(port, &secrets_file, &log);
        let report = deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver");
        assert_eq!(report.delivered, 1, "{report:?}");
        let got = received(&log);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["verified"], true, "{got:?}");
        assert_eq!(got[0]["id"], first.entry.id.to_string(), "webhook-id is the ledger entry's id");
        assert_eq!(got[0]["type"], "points.earned");

        // 2. The receiver is down: two events fail and wait; then it is up again.
        drop(receiver);
        loyalty_testkit::till::award(&admin, carla, "10.00", None, serde_json::json!({}), "p-2").await.expect("award");
        loyalty_testkit::till::award(&admin, carla, "12.00", None, serde_json::json!({}), "p-3").await.expect("award");
        let report = deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver");
        assert_eq!((report.delivered, report.retrying), (0, 2), "{report:?}");
        let report = deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver");
        assert_eq!(report, Default::default(), "nothing is due before the backoff");
        let _receiver = Receiver::start(port, &secrets_file, &log);
        clock.advance(time::Duration::seconds(31));
        let report = deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver");
        assert_eq!(report.delivered, 2, "{report:?}");

        // 3. The sender dies after posting, before recording: the claim lapses and the
        // same webhook-id is posted again, and recorded once.
        let crash = loyalty_testkit::till::award(&admin, carla, "8.00", None, serde_json::json!({}), "p-4").await.expect("award");
        let claimed = db.store.claim_webhook_deliveries(clock.now(), clock.now() + CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        let answer = transport.post(&claimed[0].url, &webhooks::headers(&claimed[0], clock.now().unix_timestamp()),
            &claimed[0].delivery.payload).await.expect("posted");
        assert_eq!(answer.status, 204);
        // (no record: the process is gone)
        assert_eq!(deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver").delivered, 0, "the claim holds");
        clock.advance(CLAIM_LEASE + time::Duration::seconds(1));
        assert_eq!(deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver").delivered, 1);
        let crash_posts: Vec<_> = received(&log).into_iter().filter(|r| r["id"] == crash.entry.id.to_string()).collect();
        assert_eq!(crash_posts.len(), 2, "{crash_posts:?}");

        // 4. Rotation: for the overlap a receiver holding the old secret and one holding
        // the new secret both verify.
        let new_secret = webhooks::rotate_secret(&admin, endpoint.id).await.expect("rotate");
        assert_ne!(new_secret.expose_secret(), secret.expose_secret());
        set_secrets(&secrets_file, &[secret.expose_secret()]);
        let test_old = webhooks::send_test(&admin, endpoint.id).await.expect("test event");
        assert_eq!(deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver").delivered, 1);
        set_secrets(&secrets_file, &[new_secret.expose_secret()]);
        let test_new = webhooks::send_test(&admin, endpoint.id).await.expect("test event");
        assert_eq!(deliver(db.store.as_ref(), &clock, &transport).await.expect("deliver").delivered, 1);
        // After the overlap only the new secret signs.
        clock.advance(time::Duration::hours(25));
        webhooks::send_test(&admin, endpoint.id).await.expect("test event");
        let later = db.store.claim_webhook_deliveries(clock.now(), clock.now() + CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].secrets.len(), 1);
        assert_eq!(later[0].secrets[0].expose_secret(), new_secret.expose_secret());

        // Every post verified; every event delivered, exactly one success recorded each.
        let got = received(&log);
        assert!(got.iter().all(|r| r["verified"] == true), "{got:?}");
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in &got { *seen.entry(r["id"].as_str().expect("id").to_owned()).or_default() += 1; }
        assert!(seen.contains_key(&test_old) && seen.contains_key(&test_new), "{seen:?}");
        let log_rows = webhooks::deliveries(&admin, 100).await.expect("log");
        assert_eq!(log_rows.len(), 7, "{log_rows:?}");
        let delivered: Vec<_> = log_rows.iter().filter(|d| d.status() == "delivered").collect();
        assert_eq!(delivered.len(), 6);
        for d in &delivered {
            assert!(seen.contains_key(&d.event_id), "{} reached the receiver", d.event_id);
            assert_eq!(d.last_status, Some(204));
        }
        let mut ids: Vec<_> = log_rows.iter().map(|d| d.event_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 7, "one delivery row per event and endpoint");
        assert!(log_rows.iter().all(|d| d.event_type != "points.adjusted"), "the filter holds");

        // The operator's commands: list, retry one delivery, queue a test event.
        let out = loyalty(&db, &["webhooks", "list", "nextdoor"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let listed = stdout(&out);
        assert!(listed.contains(&endpoint.url) && listed.contains(&crash.entry.id.to_string()) && listed.contains("delivered"), "{listed}");
        let out = loyalty(&db, &["webhooks", "retry", &delivered[0].id.to_string()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(db.store.list_webhook_deliveries(Some(org.id), 100).await.expect("log").iter()
            .any(|d| d.id == delivered[0].id && d.status() == "pending"), "due again");
        let out = loyalty(&db, &["webhooks", "test", "nextdoor", &endpoint.id.to_string()]);
        assert!(out.status.success() && stdout(&out).contains("test event test_"), "{}", stderr(&out));
        let bad = loyalty(&db, &["webhooks", "retry", "nope"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        assert!(stderr(&bad).contains("loyalty webhooks list"), "{}", stderr(&bad));
    }
}
