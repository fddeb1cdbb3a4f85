//! "Forgot your password?": the same answer whether or not an account matches, a reset
//! mail with a working one-time link for a real account only, the per-account limit, the
//! form's anti-forgery token, and nothing queued when an identity provider signs people in.

use super::app::{Answer, ORIGIN, TestApp, Who, form, hidden};
use loyalty_core::directory::{Directory, NewDirUser};
use loyalty_core::domain::Username;
use loyalty_core::mail::{MailKind, OutboxMail};
use loyalty_testkit::both_backends;
use loyalty_web::WebConfig;

/// The form's token, from the page and its cookie.
async fn form_token(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let r = app
        .send(&Who::anonymous(), "GET", "/forgot-password", None, headers)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = hidden(&r.body, "csrf");
    let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("loyalty_forgot={token};")),
        "{cookie}"
    );
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/forgot-password"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    token
}

/// Asks for a reset from `ip`, with extra headers.
async fn ask(app: &TestApp, token: &str, login: &str, ip: &str, extra: &[(&str, &str)]) -> Answer {
    let cookie = extra
        .iter()
        .find(|(k, _)| *k == "cookie")
        .map_or_else(String::new, |(_, v)| format!("; {v}"));
    let cookie = format!("loyalty_forgot={token}{cookie}");
    let mut headers = vec![
        ("origin", ORIGIN),
        ("x-test-peer", ip),
        ("cookie", cookie.as_str()),
    ];
    headers.extend(extra.iter().filter(|(k, _)| *k != "cookie"));
    app.send(
        &Who::anonymous(),
        "POST",
        "/forgot-password",
        Some(form(&[("csrf", token), ("login", login)])),
        &headers,
    )
    .await
}

/// Every reset mail in the outbox, of every organization and of none.
async fn reset_mails(app: &TestApp) -> Vec<OutboxMail> {
    let mut all = Vec::new();
    for org in [None, Some(app.a.id), Some(app.b.id)] {
        all.extend(app.db.store.list_mails(org, 100).await.unwrap());
    }
    all.retain(|m| m.mail.kind == MailKind::PasswordReset);
    all
}

/// The reset mails once `n` are queued (the page answers before the mail is queued);
/// fails when more or, after a while, fewer are there.
async fn settled(app: &TestApp, n: usize) -> Vec<OutboxMail> {
    let started = std::time::Instant::now();
    loop {
        let mails = reset_mails(app).await;
        if mails.len() >= n || started.elapsed() > std::time::Duration::from_secs(10) {
            // Anything still on its way would show up now.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let mails = reset_mails(app).await;
            assert_eq!(mails.len(), n, "{mails:#?}");
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The path and query of the one-time link in a mail.
fn link_in(mail: &OutboxMail) -> String {
    let body = &mail.mail.body_text;
    let start = body
        .find("/auth/set-password?token=")
        .unwrap_or_else(|| panic!("no link in {body}"));
    body[start..].split_whitespace().next().unwrap().to_owned()
}

async fn sign_in(app: &TestApp, user: &str, password: &str) -> u16 {
    app.post(
        &Who::anonymous(),
        "/login",
        &[("username", user), ("password", password)],
    )
    .await
    .status
    .as_u16()
}

both_backends! {
    async fn the_answer_is_the_same_for_known_and_unknown_accounts_and_only_the_known_one_gets_a_working_link(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let login_page = app.get(&Who::anonymous(), "/login").await;
        assert!(login_page.body.contains("href=\"/forgot-password\""), "{}", login_page.body);
        let token = form_token(&app, &[]).await;

        let known = ask(&app, &token, "alpha_cashier", "10.0.0.1", &[]).await;
        let unknown = ask(&app, &token, "nobody_here", "10.0.0.1", &[]).await;
        let unknown_mail = ask(&app, &token, "nobody@example.com", "10.0.0.1", &[]).await;
        assert_eq!(known.status, 200, "{}", known.body);
        assert!(known.body.contains("If an account matches"), "{}", known.body);
        assert!(known.body.contains("valid for 72 hours"), "{}", known.body);
        assert_eq!(known.body, unknown.body, "byte-identical answers");
        assert_eq!(known.body, unknown_mail.body);
        assert_eq!(known.status, unknown.status);

        let mails = settled(&app, 1).await;
        let mail = &mails[0];
        assert_eq!(mail.mail.to_address, "alpha_cashier@example.com");
        assert_eq!(mail.mail.organization_id, Some(app.a.id), "the person's only organization");
        assert!(mail.mail.subject.contains("alpha market"), "{}", mail.mail.subject);

        // The same person asking by email gets a fresh link; the first mail is withdrawn.
        let by_email = ask(&app, &token, "ALPHA_CASHIER@example.com", "10.0.0.1", &[]).await;
        assert_eq!(by_email.body, known.body);
        let mails = settled(&app, 2).await;
        let live: Vec<_> = mails.iter().filter(|m| m.failed_at.is_none()).collect();
        assert_eq!(live.len(), 1, "the older link mail is withdrawn");
        let link = link_in(live[0]);

        // The link works: a new password, then sign-in with it.
        let r = app.get(&Who::anonymous(), &link).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let token_value = link.split("token=").nth(1).unwrap();
        let r = app.post(&Who::anonymous(), "/auth/set-password", &[("token", token_value), ("password", "a-new-password-5678"), ("confirm", "a-new-password-5678")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(sign_in(&app, "alpha_cashier", "a-new-password-5678").await, 303);
        assert_eq!(sign_in(&app, "alpha_cashier", "password-1234").await, 401);
        // Once used, it is dead.
        let r = app.post(&Who::anonymous(), "/auth/set-password", &[("token", token_value), ("password", "another-password-9999"), ("confirm", "another-password-9999")]).await;
        assert_eq!(r.status, 410, "{}", r.body);
    }

    async fn inactive_accounts_and_accounts_without_email_get_no_mail(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_gone", &["alpha-cashiers"]).await;
        let dir = app.directory();
        let gone = dir.find_user_by_username(&Username::parse("alpha_gone").unwrap()).await.unwrap().unwrap();
        dir.deactivate_user(gone.pk).await.unwrap();
        dir.create_user(&NewDirUser {
            username: Username::parse("no_mail_person").unwrap(),
            name: "No Mail".into(),
            email: None,
            attributes: serde_json::json!({}),
        })
        .await
        .unwrap();
        let token = form_token(&app, &[]).await;
        let unknown = ask(&app, &token, "nobody_here", "10.0.0.2", &[]).await;
        for login in ["alpha_gone", "alpha_gone@example.com", "no_mail_person", "   "] {
            let r = ask(&app, &token, login, "10.0.0.2", &[]).await;
            if login.trim().is_empty() {
                assert_eq!(r.status, 422, "{}", r.body);
                assert!(r.body.contains("Enter your username or email"), "{}", r.body);
            } else {
                assert_eq!(r.body, unknown.body, "{login}");
            }
        }
        settled(&app, 0).await;
    }

    async fn the_fourth_request_within_the_hour_queues_nothing_and_answers_the_same(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        let token = form_token(&app, &[]).await;
        let mut answers = Vec::new();
        for i in 0..4 {
            // From different addresses: the per-account limit holds on its own.
            answers.push(ask(&app, &token, "alpha_admin", &format!("10.1.0.{i}"), &[]).await);
        }
        assert!(answers.iter().all(|a| a.status == 200 && a.body == answers[0].body));
        settled(&app, 3).await;

        // One address asking for many accounts is stopped too.
        app.person("alpha_other", &["alpha-cashiers"]).await;
        for i in 0..10 {
            ask(&app, &token, &format!("someone{i}"), "10.2.0.1", &[]).await;
        }
        let r = ask(&app, &token, "alpha_other", "10.2.0.1", &[]).await;
        assert_eq!(r.body, answers[0].body);
        settled(&app, 3).await;
        ask(&app, &token, "alpha_other", "10.2.0.2", &[]).await;
        assert!(settled(&app, 4).await.iter().any(|m| m.mail.to_address == "alpha_other@example.com"));
    }

    async fn behind_a_trusted_proxy_the_reset_limit_counts_each_client_address(db) {
        let app = TestApp::with_config(db, WebConfig {
            public_url: ORIGIN.into(),
            trusted_proxies: loyalty_web::client::TrustedProxies::parse(&["10.0.0.1".to_owned()]).unwrap(),
            ..WebConfig::default()
        })
        .await;
        app.person("alpha_other", &["alpha-cashiers"]).await;
        let token = form_token(&app, &[]).await;
        for i in 0..10 {
            ask(&app, &token, &format!("someone{i}"), "10.0.0.1", &[("x-forwarded-for", "203.0.113.9")]).await;
        }
        ask(&app, &token, "alpha_other", "10.0.0.1", &[("x-forwarded-for", "203.0.113.9")]).await;
        settled(&app, 0).await;
        // Another client through the same proxy is not held back by the first one.
        ask(&app, &token, "alpha_other", "10.0.0.1", &[("x-forwarded-for", "198.51.100.7")]).await;
        settled(&app, 1).await;
    }

    async fn a_reset_request_without_the_form_token_or_from_another_origin_is_refused(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        let token = form_token(&app, &[]).await;
        let body = || Some(form(&[("csrf", &token), ("login", "alpha_admin")]));
        let cookie = format!("loyalty_forgot={token}");
        let other = format!("loyalty_forgot={}", "a".repeat(64));
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("no cookie", vec![("origin", ORIGIN)]),
            ("another cookie", vec![("origin", ORIGIN), ("cookie", &other)]),
            ("foreign origin", vec![("origin", "https://evil.example"), ("cookie", &cookie)]),
            ("no origin", vec![("cookie", &cookie)]),
        ];
        for (why, headers) in cases {
            let r = app.send(&Who::anonymous(), "POST", "/forgot-password", body(), &headers).await;
            assert_eq!(r.status, 403, "{why}: {}", r.body);
        }
        let r = app.send(&Who::anonymous(), "POST", "/forgot-password", Some(form(&[("csrf", ""), ("login", "alpha_admin")])), &[("origin", ORIGIN), ("cookie", &cookie)]).await;
        assert_eq!(r.status, 403, "empty token");
        settled(&app, 0).await;
    }

    async fn the_page_and_the_mail_speak_the_persons_language(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let token = form_token(&app, &[("accept-language", "pt-BR,pt;q=0.9")]).await;
        let r = ask(&app, &token, "alpha_cashier", "10.3.0.1", &[("cookie", "loyalty_lang=pt-BR")]).await;
        assert!(r.body.contains("Confira seu e-mail"), "{}", r.body);
        assert!(r.body.contains("72 horas"), "{}", r.body);
        let mails = settled(&app, 1).await;
        assert!(mails[0].mail.subject.starts_with("Redefinição de senha"), "{}", mails[0].mail.subject);
        // Without a choice, the organization's language (alpha: English), not the browser's.
        ask(&app, &token, "alpha_cashier", "10.3.0.1", &[("accept-language", "pt-BR")]).await;
        let mails = settled(&app, 2).await;
        assert!(mails.iter().any(|m| m.mail.subject.starts_with("Password reset")), "{mails:?}");
    }

    async fn with_an_identity_provider_the_page_points_to_its_recovery_and_queues_nothing(db) {
        let app = TestApp::provider_mode(db, WebConfig {
            recovery_url: Some("https://auth.example.com".into()),
            ..WebConfig::default()
        })
        .await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        let r = app.get(&Who::anonymous(), "/forgot-password").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("href=\"https://auth.example.com\""), "{}", r.body);
        assert!(!r.body.contains("name=\"login\""), "no form: {}", r.body);
        let token = "b".repeat(64);
        let r = ask(&app, &token, "alpha_admin", "10.4.0.1", &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("identity provider"), "{}", r.body);
        settled(&app, 0).await;
    }
}
