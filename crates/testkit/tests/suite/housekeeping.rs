//! Housekeeping on both backends: idempotency records past their window are gone (a
//! retry is then a new award) while younger ones replay; expired sessions, sign-in
//! flows, one-time tokens, old mail, throttle windows and job leases go; a dry run
//! changes nothing; the ledger, purchases and the audit log are never touched.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::mail;
use loyalty_core::service::housekeeping::{self, Report, Retention};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::store::{LoginFlow, NewAccount, Sweep};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use time::Duration;
use uuid::Uuid;

async fn org(db: &TestDb, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some("Nextdoor market".into()),
        slug: Some("nextdoor".into()),
        admin_email: Some("admin@nextdoor.example.com".into()),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    db.store
        .insert_organization(
            &input.validate().expect("valid").org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .expect("org")
}

fn cashier<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "till-1".into(),
            role: "cashier".into(),
            request_id: None,
        },
        role: Role::Cashier,
    }
}

/// Counts the pauses a pass asks for.
#[derive(Default)]
struct CountingPace(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl housekeeping::Pace for CountingPace {
    async fn after_batch(&self, _took: std::time::Duration) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn rows(report: &Report, kind: Sweep) -> u64 {
    report
        .kinds
        .iter()
        .find(|k| k.kind == kind)
        .map_or(0, |k| k.rows)
}

/// Ledger entries, purchases and audit records of the organization.
async fn kept(db: &TestDb, o: &Organization) -> (usize, usize, usize) {
    (
        db.store
            .ledger(o.id, None, None, None, None, 1000)
            .await
            .expect("ledger")
            .len(),
        db.store
            .list_purchases(o.id, None, None, None, 1000)
            .await
            .expect("purchases")
            .len(),
        db.store
            .audit_log(o.id, None, 1000)
            .await
            .expect("audit")
            .len(),
    )
}

both_backends! {
    async fn an_idempotency_key_past_its_window_is_gone_and_a_retry_is_a_new_award(db) {
        let clock = fixed_clock();
        let o = org(&db, &clock).await;
        let c = cashier(&db, &clock, &o);
        let customer = points::enroll(&c, &EnrollInput { phone: Some("202-555-0143".into()), ..EnrollInput::default() }, None).await.expect("enroll").id;
        let (old_key, young_key) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        let first = loyalty_testkit::till::award(&c, customer, "10.00", None, serde_json::json!({}), &old_key).await.expect("old award");
        clock.advance(Duration::days(6));
        let young = loyalty_testkit::till::award(&c, customer, "5.00", None, serde_json::json!({}), &young_key).await.expect("young award");
        clock.advance(Duration::days(2));
        let retention = Retention::default();
        let before = kept(&db, &o).await;

        let dry = housekeeping::run(db.store.as_ref(), &clock, &retention, &housekeeping::FullSpeed, true).await.expect("dry run");
        assert!(dry.dry_run);
        assert_eq!(rows(&dry, Sweep::IdempotencyKeys), 1, "{dry:?}");
        let again = housekeeping::run(db.store.as_ref(), &clock, &retention, &housekeeping::FullSpeed, true).await.expect("dry run again");
        assert_eq!(rows(&again, Sweep::IdempotencyKeys), 1, "a dry run removes nothing");

        let report = housekeeping::run(db.store.as_ref(), &clock, &retention, &housekeeping::FullSpeed, false).await.expect("pass");
        assert_eq!(rows(&report, Sweep::IdempotencyKeys), 1, "{report:?}");
        assert_eq!(db.store.sweep_candidates(Sweep::IdempotencyKeys, retention.cutoff(Sweep::IdempotencyKeys, clock.now())).await.expect("count"), 0);
        assert_eq!(kept(&db, &o).await, before, "no ledger, purchase or audit row is removed");

        let replay = loyalty_testkit::till::award(&c, customer, "5.00", None, serde_json::json!({}), &young_key).await.expect("replay");
        assert!(replay.replayed, "a key inside its window replays");
        assert_eq!(replay.entry, young.entry);
        let retry = loyalty_testkit::till::award(&c, customer, "10.00", None, serde_json::json!({}), &old_key).await.expect("retry");
        assert!(!retry.replayed, "a key past its window is a new request");
        assert_ne!(retry.entry.id, first.entry.id);
        assert_eq!(retry.balance, 25);
        assert_eq!(kept(&db, &o).await.0, before.0 + 1);
    }

    async fn sessions_flows_tokens_mail_throttle_leases_and_wallet_links_past_retention_are_removed(db) {
        let clock = fixed_clock();
        let start = clock.now();
        let o = org(&db, &clock).await;
        let c = cashier(&db, &clock, &o);
        let customer = points::enroll(&c, &EnrollInput { phone: Some("202-555-0143".into()), ..EnrollInput::default() }, None).await.expect("enroll").id;
        loyalty_testkit::till::award(&c, customer, "10.00", None, serde_json::json!({}), "k-1").await.expect("award");
        let account = db.store.insert_account(&NewAccount { uid: "u1".into(), username: "ada".into(), name: "Ada".into(), email: None, attributes: serde_json::json!({}) }, start).await.expect("account");
        db.store.insert_session("expired", account.pk, "csrf", start, start + Duration::hours(1)).await.expect("session");
        db.store.insert_session("live", account.pk, "csrf", start, start + Duration::days(200)).await.expect("session");
        let flow = LoginFlow { state: "s".into(), nonce: "n".into(), pkce_verifier: "v".into() };
        db.store.insert_login_flow("flow", &flow, start, start + Duration::minutes(10)).await.expect("flow");
        db.store.insert_account_token("token", account.pk, "set_password", start + Duration::hours(1), start).await.expect("token");
        db.store.record_login_failure("user:ada", start - Duration::minutes(15), start).await.expect("throttle");
        assert!(db.store.try_lease("old-job", "a", start, start + Duration::minutes(1)).await.expect("lease"));
        // The till's wallet links: one that ran out, one still open after the pass.
        db.store.insert_wallet_link(o.id, customer, "expired-link", start, start + Duration::minutes(10)).await.expect("link");
        db.store.insert_wallet_link(o.id, customer, "open-link", start, start + Duration::days(101)).await.expect("link");
        // Mail: one sent long ago, one sent recently, one never sent.
        let old = mail::test_mail("old@example.com", start);
        let recent = mail::test_mail("recent@example.com", start + Duration::days(1));
        let unsent = mail::test_mail("unsent@example.com", start + Duration::days(2));
        for m in [&old, &recent, &unsent] {
            assert!(db.store.enqueue_mail(m).await.expect("enqueue"));
        }
        db.store.mark_mail_sent(old.id, start, false).await.expect("sent");
        db.store.mark_mail_sent(recent.id, start + Duration::days(60), false).await.expect("sent");
        let before = kept(&db, &o).await;

        clock.advance(Duration::days(100));
        let retention = Retention::default();
        let report = housekeeping::run(db.store.as_ref(), &clock, &retention, &housekeeping::FullSpeed, false).await.expect("pass");
        assert_eq!(rows(&report, Sweep::Sessions), 1, "{report:?}");
        assert_eq!(rows(&report, Sweep::LoginFlows), 1);
        assert_eq!(rows(&report, Sweep::AccountTokens), 1);
        assert_eq!(rows(&report, Sweep::LoginThrottle), 1);
        assert_eq!(rows(&report, Sweep::JobLeases), 1);
        assert_eq!(rows(&report, Sweep::WalletLinks), 1, "only the link that ran out");
        assert_eq!(db.store.use_wallet_link(o.id, "open-link", clock.now()).await.expect("link"), Some(customer), "an open link still opens");
        assert_eq!(rows(&report, Sweep::MailBodies), 2, "the old and the recent mail's bodies");
        assert_eq!(rows(&report, Sweep::MailRows), 1, "only the mail sent 100 days ago");
        for kind in Sweep::ALL {
            assert_eq!(db.store.sweep_candidates(kind, retention.cutoff(kind, clock.now())).await.expect("count"), 0, "{kind:?}");
        }
        assert!(db.store.session("live", clock.now()).await.expect("session").is_some(), "a live session stays");
        assert_eq!(db.store.login_failures("user:ada", start - Duration::minutes(15)).await.expect("failures"), 0);
        let outbox = db.store.list_mails(None, 10).await.expect("mails");
        let to: Vec<&str> = outbox.iter().map(|m| m.mail.to_address.as_str()).collect();
        assert!(to.contains(&"recent@example.com") && to.contains(&"unsent@example.com") && !to.contains(&"old@example.com"), "{to:?}");
        for m in &outbox {
            let emptied = m.mail.body_text.is_empty() && m.mail.body_html.is_none();
            assert_eq!(emptied, m.sent_at.is_some(), "only sent mail loses its body: {}", m.mail.to_address);
        }
        assert_eq!(kept(&db, &o).await, before, "no ledger, purchase or audit row is removed");

        let nothing = housekeeping::run(db.store.as_ref(), &clock, &retention, &housekeeping::FullSpeed, false).await.expect("second pass");
        assert_eq!(nothing.total(), 0, "a second pass finds nothing: {nothing:?}");
    }

    async fn small_batches_remove_everything_and_the_doctor_sees_overdue_tables(db) {
        let clock = fixed_clock();
        let start = clock.now();
        for i in 0..7 {
            assert!(db.store.try_lease(&format!("job-{i}"), "a", start, start + Duration::minutes(1)).await.expect("lease"));
        }
        clock.advance(Duration::days(30));
        let retention = Retention { batch: 2, ..Retention::default() };
        let overdue = housekeeping::overdue(db.store.as_ref(), &clock, &retention).await.expect("overdue");
        assert_eq!(overdue.len(), 1);
        assert_eq!((overdue[0].kind, overdue[0].rows), (Sweep::JobLeases, 7));
        let pace = CountingPace::default();
        let report = housekeeping::run(db.store.as_ref(), &clock, &retention, &pace, false).await.expect("pass");
        assert_eq!(rows(&report, Sweep::JobLeases), 7, "batches of 2 until none is left");
        assert_eq!(pace.0.load(std::sync::atomic::Ordering::SeqCst), 3, "a pause after each full batch (2, 2, 2), none after the last (1)");
        assert!(housekeeping::overdue(db.store.as_ref(), &clock, &retention).await.expect("overdue").is_empty());
        let sizes = db.store.table_sizes().await.expect("sizes");
        assert!(sizes.iter().any(|t| t.table == "idempotency_keys"), "{sizes:?}");
    }
}

/// A SQLite file switched to incremental vacuum gives pages back after a pass; one
/// left at the default says that only an offline VACUUM shrinks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_gives_pages_back_when_the_file_uses_incremental_vacuum() {
    use sqlx::Connection;
    let db = TestDb::new(loyalty_testkit::Kind::Sqlite).await;
    let note = db
        .store
        .reclaim_space()
        .await
        .expect("reclaim")
        .expect("a note");
    assert!(note.contains("offline VACUUM"), "{note}");
    let mut conn = sqlx::SqliteConnection::connect(&db.url)
        .await
        .expect("connect");
    sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
        .execute(&mut conn)
        .await
        .expect("mode");
    sqlx::query("VACUUM")
        .execute(&mut conn)
        .await
        .expect("vacuum");
    drop(conn);
    let note = db
        .store
        .reclaim_space()
        .await
        .expect("reclaim")
        .expect("a note");
    assert!(note.starts_with("incremental vacuum"), "{note}");
}
