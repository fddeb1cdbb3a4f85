//! Members' data on the pages, on both backends: a customer enrolled at the till claims
//! the online account from the till's QR link and sees the earlier purchase; the join
//! page offers the claim link instead of refusing; the customer changes marketing
//! consent in the portal; an admin imports a customer file (and sees bad rows by line
//! and column) and downloads the template.

use super::app::{CSRF, TestApp, Who};
use loyalty_core::clock::Clock;
use loyalty_core::directory::Directory;
use loyalty_core::domain::ledger::{Actor, CustomerKey, NewCustomer, PointsCommand};
use loyalty_core::domain::{CustomerId, Username};
use loyalty_core::secret;
use loyalty_testkit::{both_backends, fixed_clock, fixed_clock_now};
use rust_decimal::Decimal;

async fn till_customer(app: &TestApp, email: &str) -> CustomerId {
    let now = fixed_clock_now();
    let c = app
        .db
        .store
        .enroll_customer(
            app.a.id,
            &NewCustomer {
                phone: Some("+12025550177".into()),
                email: Some(email.into()),
                name: Some("Zoe".into()),
                card_number: "400000000014".into(),
                identity_subject: None,
                created_by: None,
            },
            &Actor::system(),
            now,
        )
        .await
        .unwrap();
    let award = PointsCommand::Award {
        customer: c.id,
        amount: Decimal::new(2500, 2),
        currency: app.a.currency.to_string(),
        points: 25,
        metadata: serde_json::json!({}),
        receipt: false,
        unusual: None,
        program: None,
    };
    app.db
        .store
        .apply_points(app.a.id, &award, &Actor::system(), None, now)
        .await
        .unwrap();
    c.id
}

/// A session for an account of the built-in directory, as signing in opens one.
async fn session_of(app: &TestApp, username: &str) -> Who {
    let user = app
        .directory()
        .find_user_by_username(&Username::parse(username).unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = secret::random_token();
    let now = fixed_clock().now();
    app.db
        .store
        .insert_session(
            &secret::hash_token(&token),
            user.pk,
            CSRF,
            now,
            now + time::Duration::hours(1),
        )
        .await
        .unwrap();
    Who {
        cookie: Some(token),
        uid: user.uid,
    }
}

both_backends! {
    async fn a_customer_enrolled_at_the_till_claims_the_account_and_sees_earlier_purchases(db) {
        let app = TestApp::new(db).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let id = till_customer(&app, "zoe@example.com").await;
        let till = app.get(&cashier, &format!("/o/alpha/till/c/{id}")).await;
        assert!(till.body.contains(&format!("/o/alpha/till/c/{id}/claim")), "{}", till.body);

        let shown = app.post(&cashier, &format!("/o/alpha/till/c/{id}/claim"), &[("csrf", CSRF), ("send", "show")]).await;
        assert_eq!(shown.status, 200, "{}", shown.body);
        assert!(shown.body.contains("<svg"), "a QR code");
        let start = shown.body.find("/o/alpha/claim/").expect("the link");
        let token: String = shown.body[start + "/o/alpha/claim/".len()..].chars().take_while(char::is_ascii_hexdigit).collect();
        let path = format!("/o/alpha/claim/{token}");

        let anonymous = Who::anonymous();
        let page = app.get(&anonymous, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("0014") && page.body.contains("claim-balance"), "{}", page.body);
        let other = app.post(&anonymous, &path, &[("name", "Zoe"), ("email", "not-zoe@example.com")]).await;
        assert_eq!(other.status, 422, "{}", other.body);
        let claimed = app.post(&anonymous, &path, &[("name", "Zoe Park"), ("email", "zoe@example.com")]).await;
        assert_eq!(claimed.status, 303, "{}", claimed.body);
        assert!(claimed.location().contains("/set-password"), "{}", claimed.location());
        assert_eq!(app.get(&anonymous, &path).await.status, 404, "the link works once");

        let zoe = session_of(&app, "zoe@example.com").await;
        let me = app.get(&zoe, "/o/alpha/me").await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert!(me.body.contains("Purchase") && me.body.contains("+25"), "the earlier purchase: {}", me.body);
        assert!(me.body.contains("400000000014"));

        // Marketing consent, changed by the customer.
        assert!(me.body.contains("name=\"marketing\" value=\"yes\""));
        let saved = app.post(&zoe, "/o/alpha/me/consent", &[("csrf", CSRF), ("marketing", "yes")]).await;
        assert_eq!((saved.status.as_u16(), saved.location()), (303, "/o/alpha/me?done=consent"));
        let c = app.db.store.find_customer(app.a.id, &CustomerKey::Id(id)).await.unwrap().unwrap();
        assert!(c.marketing_consent.granted);
        let me = app.get(&zoe, "/o/alpha/me?done=consent").await;
        assert!(me.body.contains("name=\"marketing\" value=\"no\""), "{}", me.body);
        let cashier_try = app.post(&cashier, "/o/alpha/me/consent", &[("csrf", CSRF), ("marketing", "yes")]).await;
        assert_eq!(cashier_try.status, 403);

        // The shop records an answer given at the counter: the box unticked is a "no".
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let detail = app.get(&admin, &format!("/o/alpha/admin/customers/{id}")).await;
        assert!(detail.body.contains(&format!("/admin/customers/{id}/consent")), "{}", detail.body);
        let forged = app.post(&admin, &format!("/o/alpha/admin/customers/{id}/consent"), &[("csrf", "nope")]).await;
        assert_eq!(forged.status, 403);
        let recorded = app.post(&admin, &format!("/o/alpha/admin/customers/{id}/consent"), &[("csrf", CSRF)]).await;
        assert_eq!(recorded.status, 303, "{}", recorded.body);
        assert!(recorded.location().ends_with("done=consent_recorded"), "{}", recorded.location());
        let c = app.db.store.find_customer(app.a.id, &CustomerKey::Id(id)).await.unwrap().unwrap();
        assert!(!c.marketing_consent.granted);
        assert_eq!(c.marketing_consent.source, Some(loyalty_core::domain::ConsentSource::Staff));
        let detail = app.get(&admin, &format!("/o/alpha/admin/customers/{id}?done=consent_recorded")).await;
        assert!(detail.body.contains("The customer&#x27;s answer is recorded.") || detail.body.contains("answer is recorded"), "{}", detail.body);
    }

    async fn the_join_page_offers_the_claim_link_for_an_email_enrolled_at_the_till(db) {
        let app = TestApp::new(db).await;
        till_customer(&app, "ivy@example.com").await;
        let anonymous = Who::anonymous();
        let r = app.post(&anonymous, "/o/alpha/join", &[("name", "Ivy"), ("email", "ivy@example.com")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("id=\"claim-offer\"") && r.body.contains("/o/alpha/join/claim"), "{}", r.body);
        let sent = app.post(&anonymous, "/o/alpha/join/claim", &[("email", "ivy@example.com")]).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        let mails = app.db.store.list_mails(Some(app.a.id), 10).await.unwrap();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].mail.to_address, "ivy@example.com");
        assert!(mails[0].mail.body_text.contains("/o/alpha/claim/"));
        // Another address gets the same answer and no mail.
        let other = app.post(&anonymous, "/o/alpha/join/claim", &[("email", "nobody@example.com")]).await;
        assert_eq!(other.status, 200);
        assert_eq!(app.db.store.list_mails(Some(app.a.id), 10).await.unwrap().len(), 1);
    }

    async fn an_admin_imports_a_customer_file_from_the_panel(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let template = app.get(&admin, "/o/alpha/admin/import/template.csv").await;
        assert_eq!(template.status, 200);
        assert!(template.body.contains("Opening balance"), "{}", template.body);
        let page = app.get(&admin, "/o/alpha/admin/import").await;
        assert_eq!(page.status, 200);

        let bad = "Name,Email,Opening balance\nAna,ana@example.com,12.5\nBo,bo@example.com,3\n";
        let r = app.post(&admin, "/o/alpha/admin/import", &[("csrf", CSRF), ("file_name", "C:\\fakepath\\old.csv"), ("csv", bad), ("mode", "import")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("<td class=\"num\">2</td><td>opening_balance</td>"), "{}", r.body);
        assert!(app.db.store.customer_keys(app.a.id).await.unwrap().is_empty());

        let good = "Name,Email,Opening balance\nAna,ana@example.com,12\nBo,bo@example.com,3\n";
        let r = app.post(&admin, "/o/alpha/admin/import", &[("csrf", CSRF), ("file_name", "C:\\fakepath\\old.csv"), ("csv", good), ("mode", "import")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ana = app.db.store.find_customer(app.a.id, &CustomerKey::Email("ana@example.com".into())).await.unwrap().unwrap();
        assert_eq!(ana.balance, 12);
        let entries = app.db.store.ledger(app.a.id, Some(ana.id), None, None, None, 5).await.unwrap();
        assert_eq!(entries[0].notes.as_deref(), Some("import old.csv"));
        let detail = app.get(&admin, &format!("/o/alpha/admin/customers/{}", ana.id)).await;
        assert!(detail.body.contains("Opening balance"), "{}", detail.body);
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let refused = app.post(&cashier, "/o/alpha/admin/import", &[("csrf", CSRF), ("csv", good), ("mode", "import")]).await;
        assert_eq!(refused.status, 403);
    }
}
