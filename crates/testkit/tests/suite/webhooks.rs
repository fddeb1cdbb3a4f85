//! The webhook outbox on both backends: events queued in the same transaction as the
//! change (enrolment, award, redemption with its reward), one delivery per endpoint
//! whose filter takes the event, nothing on a replay, nothing for another organization,
//! an endpoint failing for days disabled with a mail to the shop's contact.

use loyalty_core::ErrorCode;
use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::program::{CardInput, ProgramInput};
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::mail::MailKind;
use loyalty_core::service::housekeeping::FullSpeed;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput, RedeemRequest};
use loyalty_core::service::webhooks::{self, Answer, PostError, WebhookTransport};
use loyalty_core::service::{erasure, program, rewards};
use loyalty_core::store::Sweep;
use loyalty_core::webhook::DISABLE_AFTER;
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use secrecy::ExposeSecret;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        language: Some("en-US".into()),
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

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "ada".into(),
            role: "admin".into(),
            request_id: None,
        },
        role: Role::Admin,
    }
}

/// An endpoint that is always down.
struct Down;

#[async_trait::async_trait]
impl WebhookTransport for Down {
    async fn post(
        &self,
        _: &str,
        _: &[(&'static str, String)],
        _: &str,
    ) -> Result<Answer, PostError> {
        Ok(Answer {
            status: 503,
            excerpt: "maintenance".into(),
        })
    }
}

both_backends! {
    async fn events_are_queued_with_their_change_for_the_endpoints_that_take_them(db) {
        let clock = fixed_clock();
        let shop = org(&db, "shop", &clock).await;
        let other = org(&db, "other", &clock).await;
        let admin = ctx(&db, &clock, &shop);
        let (all, _) = webhooks::create_endpoint(&admin, "https://93.184.216.34/h", &[], webhooks::TargetPolicy::default()).await.expect("all");
        let (earned_only, _) = webhooks::create_endpoint(&admin, "https://93.184.216.35/h", &["points.earned".into()], webhooks::TargetPolicy::default()).await.expect("filtered");
        let other_admin = ctx(&db, &clock, &other);
        webhooks::create_endpoint(&other_admin, "https://93.184.216.36/h", &[], webhooks::TargetPolicy::default()).await.expect("other");
        assert!(webhooks::create_endpoint(&admin, "ftp://x", &["points.nope".into()], webhooks::TargetPolicy::default()).await.is_err());

        let carla = points::enroll(&admin, &EnrollInput { phone: None, email: Some("carla@example.com".into()), name: Some("Carla".into()) }, None)
            .await.expect("enroll").id;
        let award = loyalty_testkit::till::award(&admin, carla, "100.00", None, serde_json::json!({}), "k1").await.expect("award");
        loyalty_testkit::till::award(&admin, carla, "100.00", None, serde_json::json!({}), "k1").await.expect("replay");
        let reward = rewards::create_reward(&admin, &rewards::reward_input("Coffee", 10, true, Some(3)).expect("input")).await.expect("reward");
        let redeem = points::redeem(&admin, RedeemRequest { customer: carla, reward: Some(reward.id), points: None }, "k2").await.expect("redeem");

        let log = webhooks::deliveries(&admin, 100).await.expect("log");
        let mut got: Vec<(String, String)> = log.iter().map(|d| {
            let to = if d.endpoint_id == all.id { "all" } else if d.endpoint_id == earned_only.id { "earned" } else { "?" };
            (to.to_owned(), d.event_type.clone())
        }).collect();
        got.sort();
        assert_eq!(got, [
            ("all".into(), "member.enrolled".into()),
            ("all".into(), "points.earned".into()),
            ("all".into(), "points.redeemed".into()),
            ("all".into(), "reward.redeemed".into()),
            // The redemption left 2 of 3 in stock.
            ("all".into(), "reward.stock_low".into()),
            ("earned".into(), "points.earned".into()),
        ]);
        let earned = log.iter().find(|d| d.event_type == "points.earned").expect("earned");
        assert_eq!(earned.event_id, award.entry.id.to_string());
        let body: serde_json::Value = serde_json::from_str(&earned.payload).expect("json");
        assert_eq!(body["type"], "points.earned");
        assert_eq!(body["data"]["balance_after"], award.balance);
        let redeemed = log.iter().find(|d| d.event_type == "reward.redeemed").expect("reward");
        let body: serde_json::Value = serde_json::from_str(&redeemed.payload).expect("json");
        assert_eq!(body["data"]["reward"]["name"], "Coffee");
        assert_eq!(body["data"]["balance_after"], redeem.balance);
        // The other shop's endpoint saw nothing of this shop.
        assert!(webhooks::deliveries(&other_admin, 100).await.expect("log").is_empty());
        // Another shop cannot rotate, test or resend this shop's endpoint.
        assert!(webhooks::rotate_secret(&other_admin, all.id).await.is_err());
        assert!(webhooks::send_test(&other_admin, all.id).await.is_err());
        assert!(webhooks::resend(&other_admin, earned.id).await.is_err());
        // Cashiers do not manage webhooks.
        let cashier = Ctx { role: Role::Cashier, ..ctx(&db, &clock, &shop) };
        assert!(webhooks::endpoints(&cashier).await.is_err());
    }

    async fn an_endpoint_failing_for_days_is_disabled_and_the_shop_is_told(db) {
        let clock = fixed_clock();
        let shop = org(&db, "shop", &clock).await;
        let admin = ctx(&db, &clock, &shop);
        let (endpoint, _) = webhooks::create_endpoint(&admin, "https://93.184.216.37/h", &[], webhooks::TargetPolicy::default()).await.expect("endpoint");
        points::enroll(&admin, &EnrollInput { phone: None, email: Some("d@example.com".into()), name: None }, None).await.expect("enroll");
        let report = webhooks::deliver_due(db.store.as_ref(), &clock, &Down, 10).await.expect("pass");
        assert_eq!((report.retrying, report.disabled), (1, 0));
        let d = &webhooks::deliveries(&admin, 10).await.expect("log")[0];
        assert_eq!((d.last_status, d.last_error.as_deref(), d.attempts), (Some(503), Some("maintenance"), 1));
        // Retried with backoff until 72 hours are over, then given up; the endpoint is
        // disabled once it has failed for days, and the shop's contact gets a mail.
        let mut given_up = 0;
        let mut disabled = 0;
        for _ in 0..200 {
            clock.advance(time::Duration::hours(1));
            let r = webhooks::deliver_due(db.store.as_ref(), &clock, &Down, 10).await.expect("pass");
            given_up += r.given_up;
            disabled += r.disabled;
        }
        assert_eq!((given_up, disabled), (1, 1));
        let e = &webhooks::endpoints(&admin).await.expect("endpoints")[0];
        assert!(!e.active && e.id == endpoint.id);
        assert!(clock.now() - d.created_at >= DISABLE_AFTER);
        let mails = db.store.list_mails(Some(shop.id), 10).await.expect("mails");
        let mail = mails.iter().find(|m| m.mail.kind == MailKind::WebhookDisabled).expect("mail");
        assert_eq!(mail.mail.to_address, "admin@shop.example.com");
        assert!(mail.mail.body_text.contains("https://93.184.216.37/h"), "{}", mail.mail.body_text);
        // Turned on again, it takes events again.
        webhooks::set_active(&admin, endpoint.id, true).await.expect("on");
        assert!(webhooks::endpoints(&admin).await.expect("endpoints")[0].active);
    }

    async fn private_targets_are_refused_when_an_endpoint_is_added_or_changed_and_every_change_is_audited(db) {
        let clock = fixed_clock();
        let shop = org(&db, "shop", &clock).await;
        let other = org(&db, "other", &clock).await;
        let admin = ctx(&db, &clock, &shop);
        let strict = webhooks::TargetPolicy::default();
        for url in [
            "http://127.0.0.1:9000/h",
            "http://localhost/h",
            "http://10.0.0.7/h",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.1.1]/h",
            "http://[fe80::1]/h",
            "http://100.100.100.100/h",
            "http://224.0.0.1/h",
            "http://0.0.0.0/h",
        ] {
            let e = webhooks::create_endpoint(&admin, url, &[], strict).await.expect_err(url);
            assert_eq!(e.code(), ErrorCode::WebhookTargetRefused, "{url}: {e}");
        }
        assert!(webhooks::endpoints(&admin).await.expect("list").is_empty());
        // The operator may allow internal receivers.
        let (local, _) = webhooks::create_endpoint(&admin, "http://127.0.0.1:9000/h", &[], webhooks::TargetPolicy { allow_private: true })
            .await.expect("allowed");
        let (public, secret) = webhooks::create_endpoint(&admin, "https://93.184.216.34/h", &[], strict).await.expect("public");
        // Changing the address runs the same guard.
        let e = webhooks::update_endpoint(&admin, public.id, "http://192.168.0.10/h", &[], strict).await.expect_err("private");
        assert_eq!(e.code(), ErrorCode::WebhookTargetRefused);
        let changed = webhooks::update_endpoint(&admin, public.id, "https://93.184.216.35/hooks", &["points.earned".into()], strict)
            .await.expect("changed");
        assert_eq!((changed.url.as_str(), changed.events.clone()), ("https://93.184.216.35/hooks", vec!["points.earned".to_owned()]));
        // Another shop cannot change or remove it.
        let other_admin = ctx(&db, &clock, &other);
        assert_eq!(webhooks::update_endpoint(&other_admin, public.id, "https://93.184.216.36/h", &[], strict).await.expect_err("other").code(), ErrorCode::WebhookNotFound);
        assert_eq!(webhooks::remove_endpoint(&other_admin, public.id).await.expect_err("other").code(), ErrorCode::WebhookNotFound);
        webhooks::rotate_secret(&admin, public.id).await.expect("rotate");
        let test = webhooks::send_test(&admin, public.id).await.expect("test");
        let delivery = webhooks::deliveries(&admin, 10).await.expect("log").into_iter().find(|d| d.event_id == test).expect("queued");
        webhooks::resend(&admin, delivery.id).await.expect("resend");
        webhooks::remove_endpoint(&admin, local.id).await.expect("remove");
        let left = webhooks::endpoints(&admin).await.expect("list");
        assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![public.id]);

        let log = db.store.audit_log(shop.id, None, 100).await.expect("audit");
        let mut actions: Vec<&str> = log.iter().filter(|r| r.action.starts_with("webhook.")).map(|r| r.action.as_str()).collect();
        actions.sort();
        assert_eq!(actions, ["webhook.create", "webhook.create", "webhook.remove", "webhook.resend", "webhook.rotate", "webhook.update"]);
        let text = serde_json::to_string(&log).expect("json");
        assert!(!text.contains(secret.expose_secret().trim_start_matches("whsec_")), "no secret in the audit log");
        assert!(!text.contains("whsec_"), "no secret in the audit log");
        assert!(db.store.audit_log(other.id, None, 100).await.expect("audit").iter().all(|r| !r.action.starts_with("webhook.")));
    }

    async fn member_program_stock_and_expiry_events_are_queued_with_their_change(db) {
        let clock = fixed_clock();
        let shop = org(&db, "shop", &clock).await;
        let other = org(&db, "other", &clock).await;
        let admin = ctx(&db, &clock, &shop);
        let (endpoint, _) = webhooks::create_endpoint(&admin, "https://93.184.216.34/h", &[], webhooks::TargetPolicy::default()).await.expect("endpoint");
        let other_admin = ctx(&db, &clock, &other);
        webhooks::create_endpoint(&other_admin, "https://93.184.216.36/h", &[], webhooks::TargetPolicy::default()).await.expect("other");
        // A stamp card filled by two purchases, points that expire after 30 days.
        program::change(&admin, ProgramInput::AddCard(CardInput {
            name: "Coffee card".into(), stamps_required: 2, min_amount: Some("3.00".into()), daily_limit: None,
            reward: "a free coffee".into(), reward_points: 0,
        })).await.expect("card");
        points::update_settings(&admin, "1", "0", Some(30), true).await.expect("settings");
        let shop = loyalty_core::service::orgs::get(db.store.as_ref(), "shop").await.expect("org");
        let admin = ctx(&db, &clock, &shop);

        let carla = points::enroll(&admin, &EnrollInput { phone: None, email: Some("carla@example.com".into()), name: Some("Carla Cruz".into()) }, None)
            .await.expect("enroll").id;
        let first = loyalty_testkit::till::award(&admin, carla, "40.00", None, serde_json::json!({}), "s1").await.expect("award");
        let second = loyalty_testkit::till::award(&admin, carla, "40.00", None, serde_json::json!({}), "s2").await.expect("award");
        // Replays queue nothing new.
        loyalty_testkit::till::award(&admin, carla, "40.00", None, serde_json::json!({}), "s2").await.expect("replay");
        let stamp_ids: Vec<String> = first.stamps.iter().chain(&second.stamps).map(|s| s.id.to_string()).collect();
        assert_eq!(stamp_ids.len(), 2, "one stamp per purchase");

        // A reward with 6 in stock: the redemption that leaves 5 says the stock is low.
        let reward = rewards::create_reward(&admin, &rewards::reward_input("Mug", 10, true, Some(6)).expect("input")).await.expect("reward");
        let redeem = points::redeem(&admin, RedeemRequest { customer: carla, reward: Some(reward.id), points: None }, "r1").await.expect("redeem");

        // A consent change is member.updated.
        let consent = loyalty_core::domain::MarketingConsent::answered(true, loyalty_core::domain::ConsentSource::Portal, clock.now());
        assert!(db.store.set_marketing_consent(shop.id, carla, &consent, &admin.actor).await.expect("consent"));

        let log = webhooks::deliveries(&admin, 100).await.expect("log");
        let of = |t: &str| log.iter().filter(|d| d.event_type == t).collect::<Vec<_>>();
        let earned = of("stamp.earned");
        let mut got: Vec<String> = earned.iter().map(|d| d.event_id.clone()).collect();
        got.sort();
        let mut want = stamp_ids.clone();
        want.sort();
        assert_eq!(got, want, "webhook-id is the stamp entry's id");
        let completed = of("stamp_card.completed");
        assert_eq!(completed.len(), 1);
        assert_eq!(completed[0].event_id, format!("{}.completed", second.stamps[0].id));
        let body: serde_json::Value = serde_json::from_str(&completed[0].payload).expect("json");
        assert_eq!(body["data"]["stamps_after"], 2);
        assert_eq!(body["data"]["card"]["name"], "Coffee card");
        assert_eq!(body["data"]["card"]["stamps_required"], 2);
        let low = of("reward.stock_low");
        assert_eq!(low.len(), 1);
        assert_eq!(low[0].event_id, format!("{}.stock_low", redeem.entry.id));
        let body: serde_json::Value = serde_json::from_str(&low[0].payload).expect("json");
        assert_eq!((body["data"]["stock_left"].as_i64(), body["data"]["reward"]["name"].as_str()), (Some(5), Some("Mug")));
        let updated = of("member.updated");
        assert_eq!(updated.len(), 1);
        let body: serde_json::Value = serde_json::from_str(&updated[0].payload).expect("json");
        assert_eq!(body["data"]["customer_id"], carla.to_string());
        assert_eq!(body["data"]["changes"]["marketing_consent"]["granted"], true);

        // points.expiring_soon: once per customer per expiry batch, however often the
        // daily pass runs; nothing before the warning window.
        assert_eq!(webhooks::queue_expiring_soon(db.store.as_ref(), &clock, &shop).await.expect("pass"), 0);
        // Day 24: the points of day 0 expire on day 30, within the 7 days' warning.
        clock.advance(time::Duration::days(24));
        assert_eq!(webhooks::queue_expiring_soon(db.store.as_ref(), &clock, &shop).await.expect("pass"), 1);
        clock.advance(time::Duration::days(1));
        assert_eq!(webhooks::queue_expiring_soon(db.store.as_ref(), &clock, &shop).await.expect("again"), 0, "same batch, same event");
        let log = webhooks::deliveries(&admin, 100).await.expect("log");
        let soon: Vec<_> = log.iter().filter(|d| d.event_type == "points.expiring_soon").collect();
        assert_eq!(soon.len(), 1);
        let body: serde_json::Value = serde_json::from_str(&soon[0].payload).expect("json");
        assert_eq!(body["data"]["customer_id"], carla.to_string());
        assert_eq!(body["data"]["points"], redeem.balance);

        // Erasure: member.erased without personal data, and the enrolment's payload
        // loses the personal data it carried.
        let dir = db.directory(std::sync::Arc::new(clock.clone()));
        erasure::erase_customer(&admin, &dir, None, carla, "ERASE").await.expect("erase");
        erasure::erase_customer(&admin, &dir, None, carla, "ERASE").await.expect("again");
        let log = webhooks::deliveries(&admin, 100).await.expect("log");
        let erased: Vec<_> = log.iter().filter(|d| d.event_type == "member.erased").collect();
        assert_eq!(erased.len(), 1, "erasing again sends nothing new");
        assert_eq!(erased[0].event_id, format!("{carla}.erased"));
        for d in log.iter().filter(|d| d.event_type.starts_with("member.")) {
            for personal in ["carla@example.com", "Carla Cruz"] {
                assert!(!d.payload.contains(personal), "{} still holds {personal}: {}", d.event_type, d.payload);
            }
        }
        let enrolled = log.iter().find(|d| d.event_type == "member.enrolled").expect("enrolled");
        assert_eq!(enrolled.status(), "failed", "an enrolment not yet sent is not sent after the erasure");
        // Every event went to this shop's endpoint only.
        assert!(log.iter().all(|d| d.endpoint_id == endpoint.id));
        assert!(webhooks::deliveries(&other_admin, 100).await.expect("other").is_empty());
    }

    async fn finished_deliveries_leave_the_log_after_their_retention(db) {
        let clock = fixed_clock();
        let shop = org(&db, "shop", &clock).await;
        let admin = ctx(&db, &clock, &shop);
        webhooks::create_endpoint(&admin, "https://93.184.216.34/h", &[], webhooks::TargetPolicy::default()).await.expect("endpoint");
        points::enroll(&admin, &EnrollInput { phone: None, email: Some("a@example.com".into()), name: None }, None).await.expect("enroll");
        let report = webhooks::deliver_due(db.store.as_ref(), &clock, &Up, 10).await.expect("pass");
        assert_eq!(report.delivered, 1);
        // The next one stays pending (no pass posts it).
        points::enroll(&admin, &EnrollInput { phone: None, email: Some("b@example.com".into()), name: None }, None).await.expect("enroll");
        let retention = loyalty_core::service::housekeeping::Retention::default();
        clock.advance(retention.webhook_delivery + time::Duration::days(40));
        let overdue = loyalty_core::service::housekeeping::overdue(db.store.as_ref(), &clock, &retention).await.expect("overdue");
        assert!(overdue.iter().any(|o| o.kind == Sweep::WebhookDeliveries && o.rows == 1), "{overdue:?}");
        let report = loyalty_core::service::housekeeping::run(db.store.as_ref(), &clock, &retention, &FullSpeed, false).await.expect("pass");
        let swept = report.kinds.iter().find(|k| k.kind == Sweep::WebhookDeliveries).expect("kind");
        assert_eq!(swept.rows, 1);
        let left = webhooks::deliveries(&admin, 10).await.expect("log");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].status(), "pending", "pending deliveries are never removed");
    }
}

/// An endpoint that takes everything.
struct Up;

#[async_trait::async_trait]
impl WebhookTransport for Up {
    async fn post(
        &self,
        _: &str,
        _: &[(&'static str, String)],
        _: &str,
    ) -> Result<Answer, PostError> {
        Ok(Answer {
            status: 204,
            excerpt: String::new(),
        })
    }
}
