//! Forms: refused without the session's token or from another origin; the session
//! cookie's flags; the sign-in rate limit; the till applies a resubmitted form once;
//! creating a cashier (runbook step 6.2) and deactivating them; the mail settings; every
//! page form checked before its handler runs.

use super::app::{CSRF, ORIGIN, TestApp, Who, form, hidden};
use loyalty_core::directory::Directory;
use loyalty_core::domain::{Role, Username};
use loyalty_testkit::{TestDb, both_backends};

both_backends! {
    async fn a_form_without_the_session_token_or_from_another_origin_is_refused(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let fields = |csrf: &'static str| vec![("csrf", csrf), ("points_per_unit", "2"), ("min_purchase", "0"), ("expiry_days", "")];
        let r = app.post(&admin, "/o/alpha/admin/settings", &fields("wrong")).await;
        assert_eq!(r.status, 403, "wrong token");
        assert!(r.body.contains("expired"), "{}", r.body);
        let r = app.post(&admin, "/o/alpha/admin/settings", &fields("")).await;
        assert_eq!(r.status, 403, "no token");
        let r = app.send(&admin, "POST", "/o/alpha/admin/settings", Some(form(&fields(CSRF))), &[("origin", "https://evil.example")]).await;
        assert_eq!(r.status, 403, "foreign origin");
        let r = app.send(&admin, "POST", "/o/alpha/admin/settings", Some(form(&fields(CSRF))), &[]).await;
        assert_eq!(r.status, 403, "no origin at all");
        let org = app.db.store.organization_by_slug(&loyalty_core::domain::OrgSlug::parse("alpha").unwrap()).await.unwrap().unwrap();
        assert_eq!(org.earning.points_per_unit.normalize().to_string(), "1", "nothing changed");
        let r = app.post(&admin, "/o/alpha/admin/settings", &fields(CSRF)).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let org = app.db.store.organization_by_slug(&loyalty_core::domain::OrgSlug::parse("alpha").unwrap()).await.unwrap().unwrap();
        assert_eq!(org.earning.points_per_unit.normalize().to_string(), "2");
        // Sign-out is a form too.
        let r = app.post(&admin, "/logout", &[("csrf", "nope")]).await;
        assert_eq!(r.status, 403);
    }

    async fn signing_in_sets_an_http_only_same_site_cookie_that_is_secure_over_https(db) {
        let app = TestApp::with_url(db, "https://loyalty.example.com").await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        let r = app.send(&Who::anonymous(), "POST", "/login", Some(form(&[("username", "alpha_admin"), ("password", "password-1234"), ("next", "/o/alpha/admin")])), &[("origin", "https://loyalty.example.com")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), "/o/alpha/admin");
        let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
        for flag in ["loyalty_session=", "HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age="] {
            assert!(cookie.contains(flag), "{flag} missing in {cookie}");
        }
        // An open redirect is not possible through `next`.
        let r = app.send(&Who::anonymous(), "POST", "/login", Some(form(&[("username", "alpha_admin"), ("password", "password-1234"), ("next", "//evil.example/")])), &[("origin", "https://loyalty.example.com")]).await;
        assert_eq!(r.location(), "/");
    }

    async fn the_sign_in_limit_triggers_per_account_and_per_address(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        let login = |user: &str, pw: &str, ip: &str| {
            let body = form(&[("username", user), ("password", pw)]);
            let ip = ip.to_owned();
            let app = &app;
            async move { app.send(&Who::anonymous(), "POST", "/login", Some(body), &[("origin", ORIGIN), ("x-test-peer", &ip)]).await }
        };
        for _ in 0..5 {
            assert_eq!(login("alpha_admin", "wrong-password", "10.0.0.1").await.status, 401);
        }
        let r = login("alpha_admin", "password-1234", "10.0.0.2").await;
        assert_eq!(r.status, 429, "the right password is refused while the account is locked");
        assert!(r.body.contains("15 minutes"), "{}", r.body);
        // Another account is not affected.
        app.person("alpha_other", &["alpha-admins"]).await;
        assert_eq!(login("alpha_other", "password-1234", "10.0.0.3").await.status, 303);
        // One address guessing at many accounts is stopped too.
        for i in 0..30 {
            let s = login(&format!("nobody{i}"), "x", "10.9.9.9").await.status;
            assert_eq!(s, 401, "attempt {i}");
        }
        assert_eq!(login("alpha_other", "password-1234", "10.9.9.9").await.status, 429);
        assert_eq!(login("alpha_other", "password-1234", "10.0.0.4").await.status, 303);
    }

    async fn the_till_awards_once_when_a_form_is_sent_twice(db) {
        let app = TestApp::new(db).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let r = app.post(&cashier, "/o/alpha/till/enroll", &[("csrf", CSRF), ("phone", "202-555-0100"), ("name", "Ana")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let customer_url = r.location().split('?').next().unwrap().to_owned();
        let preview = app.get(&cashier, &format!("{customer_url}/award?amount=12.50")).await;
        assert_eq!(preview.status, 200);
        assert!(preview.body.contains("+12"), "points shown before confirming");
        let idem = hidden(&preview.body, "idem");
        let fields = [("csrf", CSRF), ("idem", idem.as_str()), ("amount", "12.50")];
        let first = app.post(&cashier, &format!("{customer_url}/award"), &fields).await;
        let second = app.post(&cashier, &format!("{customer_url}/award"), &fields).await;
        assert_eq!(first.status, 303);
        assert_eq!(second.status, 303);
        assert!(first.location().contains("done=awarded"), "{}", first.location());
        assert!(second.location().contains("done=replayed"), "{}", second.location());
        let page = app.get(&cashier, &customer_url).await;
        assert!(page.body.contains("id=\"balance\">12 "), "balance is 12, once: {}", page.body);
        // Found again by phone, in the org's country notation.
        let r = app.get(&cashier, "/o/alpha/till?q=%28202%29+555-0100").await;
        assert_eq!(r.location(), customer_url);
    }

    async fn a_page_action_writes_the_request_id_into_the_audit_log(db) {
        let app = TestApp::new(db).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let r = app.post(&cashier, "/o/alpha/till/enroll", &[("csrf", CSRF), ("phone", "202-555-0100"), ("name", "Ana")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let customer_url = r.location().split('?').next().unwrap().to_owned();
        let preview = app.get(&cashier, &format!("{customer_url}/award?amount=12.50")).await;
        let idem = hidden(&preview.body, "idem");
        let body = form(&[("csrf", CSRF), ("idem", idem.as_str()), ("amount", "12.50")]);
        let r = app.send(&cashier, "POST", &format!("{customer_url}/award"), Some(body), &[("origin", ORIGIN), ("x-request-id", "page-req-award")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let log = app.db.store.audit_log(app.a.id, None, 50).await.expect("audit");
        let award = log.iter().find(|a| a.request_id.as_deref() == Some("page-req-award"));
        assert!(award.is_some_and(|a| a.actor == "alpha_cashier" && a.actor_role == "cashier"), "{log:?}");
    }

    async fn an_admin_creates_a_cashier_who_gets_a_one_time_link_and_can_be_deactivated(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        app.db.store.upsert_member(app.a.id, &loyalty_core::store::NewMember { identity_subject: admin.uid.clone(), role: Role::Admin, email: None, name: None, created_by: None }, loyalty_testkit::fixed_clock_now()).await.unwrap();
        let r = app.post(&admin, "/o/alpha/admin/users", &[("csrf", CSRF), ("role", "cashier"), ("username", "cashier_test"), ("name", "Test Cashier"), ("email", "test.cashier@nextdoor.com")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("/auth/set-password?token="), "the link is shown once");
        assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
        let dir = app.directory();
        let user = dir.find_user_by_username(&Username::parse("cashier_test").unwrap()).await.unwrap().unwrap();
        assert!(dir.user_groups(user.pk).await.unwrap().contains(&"alpha-cashiers".to_owned()));
        let member = app.db.store.member_by_subject(app.a.id, &user.uid).await.unwrap().unwrap();
        assert_eq!(member.role, Role::Cashier);
        // Deactivate: confirmation page, then out of the group and suspended.
        let confirm = app.get(&admin, &format!("/o/alpha/admin/users/{}/deactivate", member.id)).await;
        assert_eq!(confirm.status, 200);
        let r = app.post(&admin, &format!("/o/alpha/admin/users/{}/deactivate", member.id), &[("csrf", CSRF)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(!dir.user_groups(user.pk).await.unwrap().contains(&"alpha-cashiers".to_owned()));
        let member = app.db.store.member_by_subject(app.a.id, &user.uid).await.unwrap().unwrap();
        assert_eq!(member.status, "suspended");
    }

    async fn the_join_page_enrolls_and_is_refused_when_switched_off(db) {
        let app = TestApp::new(db).await;
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &[("name", "Joana"), ("email", "joana@example.com"), ("phone", "")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location().contains("/auth/set-password?token="), "{}", r.location());
        let dir = app.directory();
        let user = dir.find_user_by_username(&Username::parse("joana@example.com").unwrap()).await.unwrap().unwrap();
        assert!(dir.user_groups(user.pk).await.unwrap().contains(&"alpha-customers".to_owned()));
        let c = app.db.store.find_customer(app.a.id, &loyalty_core::domain::ledger::CustomerKey::Subject(user.uid)).await.unwrap().expect("enrolled");
        // The news-and-offers box starts unticked; leaving it so is recorded as a "no".
        let page = app.get(&Who::anonymous(), "/o/alpha/join").await;
        assert!(page.body.contains("name=\"marketing\" type=\"checkbox\" value=\"yes\">"), "{}", page.body);
        assert!(!c.marketing_consent.granted);
        assert_eq!(c.marketing_consent.source, Some(loyalty_core::domain::ConsentSource::Join));
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &[("name", "Jonas"), ("email", "jonas@example.com"), ("phone", ""), ("marketing", "yes")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let jonas = dir.find_user_by_username(&Username::parse("jonas@example.com").unwrap()).await.unwrap().unwrap();
        let c = app.db.store.find_customer(app.a.id, &loyalty_core::domain::ledger::CustomerKey::Subject(jonas.uid)).await.unwrap().expect("enrolled");
        assert!(c.marketing_consent.granted, "the ticked box is a yes");
        assert_eq!(c.marketing_consent.source, Some(loyalty_core::domain::ConsentSource::Join));
        assert!(c.marketing_consent.at.is_some());
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let r = app.post(&admin, "/o/alpha/admin/settings", &[("csrf", CSRF), ("points_per_unit", "1"), ("min_purchase", "0")]).await;
        assert_eq!(r.status, 303);
        assert_eq!(app.get(&Who::anonymous(), "/o/alpha/join").await.status, 403);
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &[("name", "Bia"), ("email", "bia@example.com")]).await;
        assert_eq!(r.status, 403);
        assert!(dir.find_user_by_username(&Username::parse("bia@example.com").unwrap()).await.unwrap().is_none());
    }

    async fn an_admin_sets_the_mail_settings_and_a_new_cashier_gets_the_link_by_mail(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let page = app.get(&admin, "/o/alpha/admin/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("name=\"points_receipt\"") && !page.body.contains("name=\"points_receipt\" value=\"on\" checked"), "receipts off by default");
        let bad = app.post(&admin, "/o/alpha/admin/settings/mail", &[("csrf", CSRF), ("sender_name", "Alpha"), ("sender_address", "not-an-address"), ("expiry_warning_days", "7")]).await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(bad.body.contains("sender_address") || bad.body.contains("email"), "{}", bad.body);
        let forged = app.post(&admin, "/o/alpha/admin/settings/mail", &[("csrf", "nope"), ("points_receipt", "on")]).await;
        assert_eq!(forged.status, 403);
        let r = app.post(&admin, "/o/alpha/admin/settings/mail", &[("csrf", CSRF), ("sender_name", "Alpha Shop"), ("sender_address", "hello@alpha.example.com"), ("points_receipt", "on"), ("expiry_warning_days", "10")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let s = app.db.store.mail_settings(app.a.id).await.unwrap();
        assert_eq!((s.sender_name.as_deref(), s.sender_address.as_deref(), s.points_receipt, s.expiry_warning_days), (Some("Alpha Shop"), Some("hello@alpha.example.com"), true, Some(10)));
        let page = app.get(&admin, "/o/alpha/admin/settings?done=mail_saved").await;
        assert!(page.body.contains("hello@alpha.example.com") && page.body.contains(" checked"), "{}", page.body);

        let r = app.post(&admin, "/o/alpha/admin/users", &[("csrf", CSRF), ("role", "cashier"), ("username", "cashier_mail"), ("name", "Mail Cashier"), ("email", "mail.cashier@alpha.example.com")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mails = app.db.store.list_mails(Some(app.a.id), 10).await.unwrap();
        let link = mails.iter().find(|m| m.mail.to_address == "mail.cashier@alpha.example.com").expect("the link mail is queued");
        assert!(link.mail.body_text.contains("/auth/set-password?token="), "{}", link.mail.body_text);
        assert_eq!(link.mail.from_name.as_deref(), Some("Alpha Shop"));

        // The admin mails the cashier a password reset from the Users page.
        let dir = app.directory();
        let user = dir.find_user_by_username(&Username::parse("cashier_mail").unwrap()).await.unwrap().unwrap();
        let member = app.db.store.member_by_subject(app.a.id, &user.uid).await.unwrap().unwrap();
        let list = app.get(&admin, "/o/alpha/admin/users").await;
        assert!(list.body.contains(&format!("/admin/users/{}/reset", member.id)), "{}", list.body);
        let forged = app.post(&admin, &format!("/o/alpha/admin/users/{}/reset", member.id), &[("csrf", "nope")]).await;
        assert_eq!(forged.status, 403);
        let r = app.post(&admin, &format!("/o/alpha/admin/users/{}/reset", member.id), &[("csrf", CSRF)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        // No SMTP server in this configuration: the page says the mail waits for one.
        assert!(r.location().ends_with("done=reset_queued"), "{}", r.location());
        let mails = app.db.store.list_mails(Some(app.a.id), 10).await.unwrap();
        let reset = mails.iter().find(|m| m.mail.kind == loyalty_core::mail::MailKind::PasswordReset).expect("reset mail queued");
        assert_eq!(reset.mail.to_address, "mail.cashier@alpha.example.com");
        assert!(reset.mail.body_text.contains("/auth/set-password?token=") && reset.mail.body_text.contains("cashier_mail"));
        assert_eq!(app.post(&admin, &format!("/o/alpha/admin/users/{}/reset", uuid::Uuid::new_v4()), &[("csrf", CSRF)]).await.status, 404);
    }

    async fn every_page_form_is_refused_without_the_session_token_before_it_runs(db) {
        let app = TestApp::new(db).await;
        let who = app.person("alpha_admin", &["alpha-admins", "loyalty-operators"]).await;
        let id = uuid::Uuid::new_v4();
        let forms = [
            "/o/alpha/admin/rewards".to_owned(),
            format!("/o/alpha/admin/rewards/{id}/toggle"),
            "/o/alpha/admin/settings".into(),
            "/o/alpha/admin/settings/mail".into(),
            "/o/alpha/admin/users".into(),
            format!("/o/alpha/admin/users/{id}/deactivate"),
            format!("/o/alpha/admin/users/{id}/reset"),
            format!("/o/alpha/admin/customers/{id}"),
            "/o/alpha/till/enroll".into(),
            format!("/o/alpha/till/c/{id}/award"),
            format!("/o/alpha/till/c/{id}/redeem"),
            format!("/o/alpha/till/c/{id}/reverse/{id}"),
            "/o/alpha/join".into(),
            "/operator/onboard".into(),
            "/operator/orgs/alpha/suspend".into(),
            "/account/password".into(),
            "/logout".into(),
        ];
        for path in &forms {
            let r = app.post(&who, path, &[("csrf", "nope"), ("name", "x")]).await;
            assert_eq!(r.status, 403, "{path}: {}", r.body);
            assert!(r.body.contains("expired"), "{path}: {}", r.body);
        }
        // Nothing ran: the organization is active and the session still works.
        let r = app.get(&who, "/o/alpha/admin").await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn pages_speak_portuguese_when_the_person_chooses_it() {
    let app = TestApp::new(TestDb::new(loyalty_testkit::Kind::Sqlite).await).await;
    let r = app.get(&Who::anonymous(), "/lang/pt-BR?back=/login").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/login");
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = app
        .send(
            &Who::anonymous(),
            "GET",
            "/login",
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert!(
        r.body.contains("lang=\"pt-BR\"") && r.body.contains("Entrar"),
        "{}",
        r.body
    );
    let r = app
        .get(&Who::anonymous(), "/lang/pt-BR?back=https://evil.example")
        .await;
    assert_eq!(r.location(), "/");
}
