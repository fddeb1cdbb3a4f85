//! Claiming an online account and marketing consent on both backends: a customer
//! enrolled at the till gets a claim link (mailed or shown), claims it with a new
//! account and sees the earlier purchase; the link works once; consent changed by the
//! customer decides who marketing mail may go to, transactional mail is unaffected.

use loyalty_core::Error;
use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, TxType};
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::error::ErrorCode;
use loyalty_core::service::claim::{self, Delivery};
use loyalty_core::service::customers::{self, LedgerRange};
use loyalty_core::service::mail::{Purpose, marketing_recipients, may_mail};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, AwardRequest, Ctx, EnrollInput};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::sync::Arc;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
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

fn token(url: &str) -> &str {
    url.rsplit('/').next().expect("token")
}

fn code(e: &Error) -> ErrorCode {
    e.code()
}

both_backends! {
    async fn a_customer_enrolled_at_the_till_claims_an_account_with_its_history(db) {
        let clock = fixed_clock();
        let dir = db.directory(Arc::new(clock.clone()));
        let o = org(&db, "claimed", &clock).await;
        let till = ctx(&db, &clock, &o, Role::Cashier);
        let c = points::enroll(&till, &EnrollInput { phone: Some("+12025550111".into()), email: Some("rita@example.com".into()), name: Some("Rita".into()) }, None).await.expect("enroll");
        let amount = points::parse_amount(&till, "12.00").expect("amount");
        points::award(&till, AwardRequest { customer: c.id, amount, currency: None, metadata: serde_json::json!({}) }, "k1").await.expect("award");

        let mailed = claim::issue(&till, c.id, "https://loyalty.example.com/", Delivery::Mail).await.expect("issue");
        assert!(mailed.url.starts_with("https://loyalty.example.com/o/claimed/claim/"), "{}", mailed.url);
        let mails = db.store.list_mails(Some(o.id), 10).await.expect("mails");
        assert!(mails.iter().any(|m| m.mail.to_address == "rita@example.com" && m.mail.body_text.contains(&mailed.url)), "{mails:?}");
        // A newer link (the QR at the till) replaces the mailed one.
        let shown = claim::issue(&till, c.id, "https://loyalty.example.com", Delivery::Show).await.expect("show");
        let old = claim::customer_of(db.store.as_ref(), &clock, &o, token(&mailed.url)).await.expect_err("replaced");
        assert_eq!(code(&old), ErrorCode::ClaimInvalid);
        assert_eq!(claim::customer_of(db.store.as_ref(), &clock, &o, token(&shown.url)).await.expect("valid").id, c.id);

        // Another email than the one on file is refused; the right one claims.
        let wrong = claim::claim_new_account(db.store.as_ref(), &dir, &clock, &o, token(&shown.url), "Rita", "other@example.com").await.expect_err("other email");
        assert!(matches!(wrong, Error::Validation(_)), "{wrong:?}");
        let (claimed, _cred) = claim::claim_new_account(db.store.as_ref(), &dir, &clock, &o, token(&shown.url), "Rita Silva", "rita@example.com").await.expect("claim");
        assert_eq!((claimed.id, claimed.balance), (c.id, 12));
        let subject = claimed.identity_subject.clone().expect("linked");
        let again = claim::claim_new_account(db.store.as_ref(), &dir, &clock, &o, token(&shown.url), "Rita", "rita@example.com").await.expect_err("once");
        assert_eq!(code(&again), ErrorCode::ClaimInvalid);
        let after = claim::issue(&till, c.id, "https://x", Delivery::Show).await.expect_err("claimed");
        assert_eq!(code(&after), ErrorCode::ClaimAlreadyClaimed);

        // The customer sees the purchase made before the account existed.
        let mut me = ctx(&db, &clock, &o, Role::Customer);
        me.actor.label = "rita".into();
        let (mine, entries) = customers::own_ledger(&me, Some(&subject), LedgerRange::first(10)).await.expect("own");
        assert_eq!(mine.id, c.id);
        assert_eq!(entries.iter().map(|e| (e.transaction_type, e.points)).collect::<Vec<_>>(), vec![(TxType::Earned, 12)]);

        // Consent: never asked means no marketing; the customer opts in and out.
        let admin = ctx(&db, &clock, &o, Role::Admin);
        assert!(may_mail(Purpose::Transactional, &mine) && !may_mail(Purpose::Marketing, &mine));
        assert!(marketing_recipients(&admin, None, 100).await.expect("list").0.is_empty());
        let yes = customers::set_own_marketing_consent(&me, Some(&subject), true).await.expect("consent");
        assert!(yes.marketing_consent.granted);
        assert_eq!(yes.marketing_consent.source, Some(loyalty_core::domain::ConsentSource::Portal));
        let (to, _) = marketing_recipients(&admin, None, 100).await.expect("list");
        assert_eq!(to.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c.id]);
        assert!(to[0].marketing_consent.at.is_some());
        customers::set_own_marketing_consent(&me, Some(&subject), false).await.expect("withdraw");
        assert!(marketing_recipients(&admin, None, 100).await.expect("list").0.is_empty());
        assert!(marketing_recipients(&till, None, 100).await.is_err(), "admins only");
        let audit = db.store.audit_log(o.id, None, 50).await.expect("audit");
        assert!(audit.iter().any(|a| a.action == "customer.claim"));
        assert_eq!(audit.iter().filter(|a| a.action == "customer.consent").count(), 2);
    }

    async fn the_join_page_mails_a_claim_link_only_to_an_enrolled_address(db) {
        let clock = fixed_clock();
        let o = org(&db, "joiner", &clock).await;
        let till = ctx(&db, &clock, &o, Role::Cashier);
        points::enroll(&till, &EnrollInput { phone: None, email: Some("tom@example.com".into()), name: None }, None).await.expect("enroll");
        claim::request_by_email(db.store.as_ref(), &clock, &o, "nobody@example.com", "https://x").await.expect("silent");
        assert!(db.store.list_mails(Some(o.id), 10).await.expect("mails").is_empty());
        claim::request_by_email(db.store.as_ref(), &clock, &o, "TOM@example.com", "https://x").await.expect("mailed");
        let mails = db.store.list_mails(Some(o.id), 10).await.expect("mails");
        assert_eq!(mails.iter().map(|m| m.mail.to_address.as_str()).collect::<Vec<_>>(), vec!["tom@example.com"]);
        let phone_only = points::enroll(&till, &EnrollInput { phone: Some("+12025550123".into()), email: None, name: None }, None).await.expect("enroll");
        let no_mail = claim::issue(&till, phone_only.id, "https://x", Delivery::Mail).await.expect_err("no address");
        assert!(matches!(no_mail, Error::Validation(_)));
    }
}
