//! The mail outbox on both backends: receipts queued with the award they belong to,
//! claims, retries with backoff, giving up, expiry warnings once per expiry date,
//! sign-in links for new staff, and tenancy.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{CustomerId, OrgStatus, Organization, Role};
use loyalty_core::mail::{self, MailKind, OutboxMail};
use loyalty_core::service::mail as mail_service;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::staff::{self, StaffInput};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

async fn org(db: &TestDb, slug: &str, language: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        language: Some(language.into()),
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

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: format!("test-{role}"),
            role: role.as_str().into(),
            request_id: None,
        },
        role,
    }
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

async fn customer(c: &Ctx<'_>, email: &str, name: &str) -> CustomerId {
    points::enroll(
        c,
        &EnrollInput {
            phone: None,
            email: Some(email.into()),
            name: Some(name.into()),
        },
        None,
    )
    .await
    .expect("enroll")
    .id
}

/// Turns receipts on and returns the organization as the next request reads it.
async fn receipts_on(
    db: &TestDb,
    clock: &FixedClock,
    o: &Organization,
    warn: Option<i64>,
) -> Organization {
    let admin = ctx(db, clock, o, Role::Admin);
    mail_service::update_settings(
        &admin,
        Some("Corner Shop"),
        Some("hello@corner.example.com"),
        true,
        warn,
    )
    .await
    .expect("mail settings");
    let slug = o.slug.clone();
    let reread = db
        .store
        .organization_by_slug(&slug)
        .await
        .expect("read")
        .expect("org");
    assert!(
        reread.points_receipts,
        "the organization carries its receipt setting"
    );
    reread
}

async fn mails(db: &TestDb, o: &Organization) -> Vec<OutboxMail> {
    db.store.list_mails(Some(o.id), 100).await.expect("list")
}

both_backends! {
    async fn receipts_are_off_by_default_and_queued_with_the_award_when_on(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", "en-US", &clock).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let c = customer(&cashier, "carla@example.com", "Carla").await;
        assert_eq!(db.store.mail_settings(o.id).await.expect("settings"), mail::MailSettings::default());
        loyalty_testkit::till::award(&cashier, c, "10", None, serde_json::json!({}), &key()).await.expect("award");
        assert!(mails(&db, &o).await.is_empty(), "receipts are off by default");

        let o = receipts_on(&db, &clock, &o, Some(7)).await;
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        let k = key();
        let first = loyalty_testkit::till::award(&cashier, c, "12.50", None, serde_json::json!({}), &k).await.expect("award");
        let replay = loyalty_testkit::till::award(&cashier, c, "12.50", None, serde_json::json!({}), &k).await.expect("replay");
        assert!(replay.replayed);
        // A refused command writes no mail: its transaction rolls back whole.
        assert!(loyalty_testkit::till::award(&cashier, CustomerId(Uuid::new_v4()), "5", None, serde_json::json!({}), &key()).await.is_err());
        let queued = mails(&db, &o).await;
        assert_eq!(queued.len(), 1, "one receipt for one award, none for the replay: {queued:?}");
        let m = &queued[0].mail;
        assert_eq!((m.kind, m.to_address.as_str()), (MailKind::PointsReceipt, "carla@example.com"));
        assert_eq!(m.from_name.as_deref(), Some("Corner Shop"));
        assert_eq!(m.reply_to.as_deref(), Some("hello@corner.example.com"));
        assert!(m.subject.contains("You earned 12 points"), "{}", m.subject);
        assert!(m.body_text.contains("Hello Carla") && m.body_text.contains("Your balance: 22 points"), "{}", m.body_text);
        assert!(m.dedupe_key.contains(&first.purchase.expect("purchase").id.to_string()));
        let status = db.store.mail_status().await.expect("status");
        assert_eq!((status.pending, status.sent, status.failed), (1, 0, 0));
    }

    async fn claims_are_exclusive_failures_back_off_and_give_up_visibly(db) {
        let clock = fixed_clock();
        let now = clock.now();
        let m = mail::test_mail("ops@example.com", now);
        assert!(db.store.enqueue_mail(&m).await.expect("enqueue"));
        assert!(!db.store.enqueue_mail(&m).await.expect("again"), "the same dedupe key is queued once");

        let claimed = db.store.claim_mails(now, now + mail::CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 1);
        assert!(db.store.claim_mails(now, now + mail::CLAIM_LEASE, 10).await.expect("claim").is_empty(), "a live claim is exclusive");

        let retry_at = now + mail::backoff(1);
        db.store.mark_mail_failed(m.id, "connection refused", Some(retry_at), now).await.expect("fail");
        assert!(db.store.claim_mails(now + Duration::seconds(30), now + Duration::minutes(6), 10).await.expect("claim").is_empty(), "not due before the backoff");
        let status = db.store.mail_status().await.expect("status");
        assert_eq!((status.pending, status.retrying, status.last_error.as_deref()), (1, 1, Some("connection refused")));

        let later = retry_at + Duration::seconds(1);
        let again = db.store.claim_mails(later, later + mail::CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        db.store.mark_mail_failed(m.id, "mailbox unavailable", None, later).await.expect("give up");
        let status = db.store.mail_status().await.expect("status");
        assert_eq!((status.pending, status.failed), (0, 1));
        assert!(db.store.claim_mails(later + Duration::days(1), later + Duration::days(2), 10).await.expect("claim").is_empty(), "given up stays given up");

        // An operator's retry makes it due again; sent is final.
        assert_eq!(db.store.retry_mails(later).await.expect("retry"), 1);
        let third = db.store.claim_mails(later, later + mail::CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(third.len(), 1);
        assert!(db.store.mark_mail_sent(m.id, later, false).await.expect("sent"));
        assert!(!db.store.mark_mail_sent(m.id, later, false).await.expect("sent twice"), "marking twice changes nothing");
        assert_eq!(db.store.retry_mails(later).await.expect("retry"), 0);
        assert!(db.store.claim_mails(later + Duration::days(1), later + Duration::days(2), 10).await.expect("claim").is_empty());
        let status = db.store.mail_status().await.expect("status");
        assert_eq!((status.pending, status.failed, status.sent), (0, 0, 1));
    }

    async fn concurrent_senders_never_claim_the_same_mail(db) {
        let clock = fixed_clock();
        let now = clock.now();
        for i in 0..40 {
            db.store.enqueue_mail(&mail::test_mail(&format!("ops{i}@example.com"), now)).await.expect("enqueue");
        }
        let until = now + mail::CLAIM_LEASE;
        let claims = futures::future::join_all((0..4).map(|_| db.store.claim_mails(now, until, 15))).await;
        let mut ids: Vec<Uuid> = claims.into_iter().flat_map(|c| c.expect("claim")).map(|m| m.mail.id).collect();
        let claimed = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), claimed, "no mail claimed twice");
        assert_eq!(claimed, 40, "every mail claimed by someone");
    }

    async fn an_expired_claim_can_be_taken_by_another_sender(db) {
        let clock = fixed_clock();
        let now = clock.now();
        let m = mail::test_mail("ops@example.com", now);
        db.store.enqueue_mail(&m).await.expect("enqueue");
        assert_eq!(db.store.claim_mails(now, now + mail::CLAIM_LEASE, 10).await.expect("claim").len(), 1);
        let after = now + mail::CLAIM_LEASE + Duration::seconds(1);
        let taken = db.store.claim_mails(after, after + mail::CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(taken.len(), 1, "a sender that died mid-send does not strand the mail");
        assert_eq!(taken[0].attempts, 2);
    }

    async fn expiry_warnings_go_once_per_customer_and_expiry_date_and_stay_in_their_organization(db) {
        let clock = fixed_clock();
        let a = org(&db, "alpha", "pt-BR", &clock).await;
        let b = org(&db, "bravo", "en-US", &clock).await;
        for o in [&a, &b] {
            let admin = ctx(&db, &clock, o, Role::Admin);
            points::update_settings(&admin, "1", "0", Some(30), true).await.expect("settings");
        }
        let a = loyalty_core::service::orgs::get(db.store.as_ref(), "alpha").await.expect("org");
        let b = loyalty_core::service::orgs::get(db.store.as_ref(), "bravo").await.expect("org");
        let ca = ctx(&db, &clock, &a, Role::Cashier);
        let cb = ctx(&db, &clock, &b, Role::Cashier);
        let carla = customer(&ca, "carla@example.com", "Carla").await;
        let bob = customer(&cb, "bob@example.com", "Bob").await;
        let no_points = customer(&ca, "zero@example.com", "Zed").await;
        loyalty_testkit::till::award(&ca, carla, "100", None, serde_json::json!({}), &key()).await.expect("award");
        loyalty_testkit::till::award(&cb, bob, "70", None, serde_json::json!({}), &key()).await.expect("award");
        clock.advance(Duration::days(10));
        loyalty_testkit::till::award(&ca, carla, "50", None, serde_json::json!({}), &key()).await.expect("award");
        loyalty_testkit::till::redeem(&ca, carla, None, Some(30), &key()).await.expect("spend from the oldest");

        // Day 10: nothing expires within 7 days.
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &a).await.expect("warn"), 0);
        // Day 24: the first 100 points (70 left) expire on day 30.
        clock.advance(Duration::days(14));
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &a).await.expect("warn"), 1);
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &a).await.expect("again"), 0, "deduped");
        clock.advance(Duration::days(1));
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &a).await.expect("next day"), 0, "same expiry date, same mail");
        let queued = mails(&db, &a).await;
        assert_eq!(queued.len(), 1);
        let m = &queued[0].mail;
        assert_eq!((m.kind, m.to_address.as_str()), (MailKind::ExpiryWarning, "carla@example.com"));
        assert!(m.subject.contains("vão expirar"), "in the org's language: {}", m.subject);
        assert!(m.body_text.contains("70 dos seus 120 pontos") && m.body_text.contains("22/02/2025"), "{}", m.body_text);
        assert!(!m.body_text.contains("bravo") && !m.body_text.contains("Bob"), "no other organization's data");
        assert!(mails(&db, &b).await.is_empty(), "bravo's warnings are queued by bravo's run only");

        // bravo's run, the same day, warns bravo's customer only.
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &b).await.expect("warn bravo"), 1);
        let bm = mails(&db, &b).await;
        assert_eq!(bm.len(), 1);
        assert_eq!(bm[0].mail.to_address, "bob@example.com");
        assert!(bm[0].mail.body_text.contains("bravo market") && !bm[0].mail.body_text.contains("alpha"));
        assert_eq!(mails(&db, &a).await.len(), 1);

        // Day 31: the first batch expires; day 34: the next one (day 10's 50, expiring on
        // day 40) gets its own warning.
        clock.advance(Duration::days(6));
        points::expire(db.store.as_ref(), &clock, &a, false).await.expect("expire");
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &a).await.expect("warn"), 0);
        clock.advance(Duration::days(3));
        assert_eq!(mail_service::queue_expiry_warnings(db.store.as_ref(), &clock, &a).await.expect("warn"), 1);
        let queued = mails(&db, &a).await;
        assert_eq!(queued.len(), 2);
        assert!(queued[0].mail.body_text.contains("50 dos seus 50 pontos") && queued[0].mail.body_text.contains("04/03/2025"), "{}", queued[0].mail.body_text);
        let _ = no_points;
    }

    async fn a_new_cashier_with_an_email_gets_the_sign_in_link_by_mail(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", "en-US", &clock).await;
        let dir = db.directory(Arc::new(clock.clone()));
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let created = staff::create_staff(&admin, &dir, Role::Cashier, &StaffInput {
            username: "cashier_ana".into(),
            name: "Ana Silva".into(),
            email: "ana@nextdoor.example.com".into(),
        }).await.expect("staff");
        let loyalty_core::service::onboard::Credential::Link { url, .. } = &created.credential else {
            panic!("a link is issued");
        };
        let url = secrecy::ExposeSecret::expose_secret(url).to_owned();
        let queued = mails(&db, &o).await;
        assert_eq!(queued.len(), 1);
        let m = &queued[0].mail;
        assert_eq!((m.kind, m.to_address.as_str()), (MailKind::SignInLink, "ana@nextdoor.example.com"));
        assert!(m.body_text.contains(&url), "the link is in the mail: {}", m.body_text);
        assert!(m.body_text.contains("cashier_ana") && m.body_text.contains("as cashier"));
        assert!(m.discard_after.is_some(), "a link mail is useless after the link expires");

        // Once sent, the link is erased from the outbox.
        let now = clock.now();
        db.store.claim_mails(now, now + mail::CLAIM_LEASE, 10).await.expect("claim");
        db.store.mark_mail_sent(m.id, now, true).await.expect("sent");
        let after = mails(&db, &o).await;
        assert!(!after[0].mail.body_text.contains(&url));
    }

    async fn a_newer_link_withdraws_the_unsent_older_link_mail(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", "pt-BR", &clock).await;
        let dir = db.directory(Arc::new(clock.clone()));
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let created = staff::create_staff(&admin, &dir, Role::Admin, &StaffInput {
            username: "nextdoor_bia".into(),
            name: "Bia".into(),
            email: "bia@nextdoor.example.com".into(),
        }).await.expect("staff");
        clock.advance(Duration::minutes(1));
        let to = mail_service::queue_password_reset(db.store.as_ref(), &clock, &dir, &created.user, Some(&o)).await.expect("reset");
        assert_eq!(to, "bia@nextdoor.example.com");
        let queued = mails(&db, &o).await;
        assert_eq!(queued.len(), 2);
        let (reset, first) = (&queued[0], &queued[1]);
        assert_eq!(reset.mail.kind, MailKind::PasswordReset);
        assert!(reset.mail.subject.contains("Redefinição de senha"), "{}", reset.mail.subject);
        assert!(reset.failed_at.is_none());
        assert_eq!(first.mail.kind, MailKind::SignInLink);
        assert!(first.failed_at.is_some() && first.last_error.as_deref().unwrap_or_default().contains("withdrawn"), "{first:?}");
        let now = clock.now();
        let due = db.store.claim_mails(now, now + mail::CLAIM_LEASE, 10).await.expect("claim");
        assert_eq!(due.iter().map(|m| m.mail.kind).collect::<Vec<_>>(), [MailKind::PasswordReset], "only the working link goes out");
        assert_eq!(db.store.retry_mails(now + mail::CLAIM_LEASE).await.expect("retry"), 1, "a withdrawn mail is not retried");
    }

    async fn mail_settings_are_checked_and_audited(db) {
        let clock = fixed_clock();
        let o = org(&db, "nextdoor", "en-US", &clock).await;
        let admin = ctx(&db, &clock, &o, Role::Admin);
        let e = mail_service::update_settings(&admin, Some("x"), Some("not-an-address"), true, Some(0)).await.expect_err("bad");
        assert_eq!(e.code(), "validation.failed");
        let text = e.to_string();
        assert!(text.contains("sender_address") || format!("{e:?}").contains("sender_address"), "{e:?}");
        assert_eq!(db.store.mail_settings(o.id).await.expect("settings"), mail::MailSettings::default());
        let cashier = ctx(&db, &clock, &o, Role::Cashier);
        assert_eq!(mail_service::update_settings(&cashier, None, None, true, None).await.expect_err("cashier").code(), "auth.forbidden");
        mail_service::update_settings(&admin, None, None, true, None).await.expect("ok");
        let s = db.store.mail_settings(o.id).await.expect("settings");
        assert!(s.points_receipt && s.expiry_warning_days.is_none());
        let audit = db.store.audit_log(o.id, None, 10).await.expect("audit");
        assert_eq!(audit[0].action, "org.mail_settings");
    }
}
