//! The webhook outbox on both backends: events queued in the same transaction as the
//! change (enrolment, award, redemption with its reward), one delivery per endpoint
//! whose filter takes the event, nothing on a replay, nothing for another organization,
//! an endpoint failing for days disabled with a mail to the shop's contact.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::mail::MailKind;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput, RedeemRequest};
use loyalty_core::service::rewards;
use loyalty_core::service::webhooks::{self, Answer, PostError, WebhookTransport};
use loyalty_core::webhook::DISABLE_AFTER;
use loyalty_testkit::{TestDb, both_backends, fixed_clock};

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
        let (all, _) = webhooks::create_endpoint(&admin, "https://a.example.com/h", &[]).await.expect("all");
        let (earned_only, _) = webhooks::create_endpoint(&admin, "https://b.example.com/h", &["points.earned".into()]).await.expect("filtered");
        let other_admin = ctx(&db, &clock, &other);
        webhooks::create_endpoint(&other_admin, "https://c.example.com/h", &[]).await.expect("other");
        assert!(webhooks::create_endpoint(&admin, "ftp://x", &["points.nope".into()]).await.is_err());

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
        let (endpoint, _) = webhooks::create_endpoint(&admin, "https://down.example.com/h", &[]).await.expect("endpoint");
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
        assert!(mail.mail.body_text.contains("https://down.example.com/h"), "{}", mail.mail.body_text);
        // Turned on again, it takes events again.
        webhooks::set_active(&admin, endpoint.id, true).await.expect("on");
        assert!(webhooks::endpoints(&admin).await.expect("endpoints")[0].active);
    }
}
