//! Sign-in limits that cannot lock the owner out: the client address comes from
//! `X-Forwarded-For` only through a trusted proxy, and a browser with the account's
//! device cookie keeps its own allowance while others are locked out.

use super::app::{Answer, ORIGIN, TestApp, Who, form};
use loyalty_testkit::both_backends;
use loyalty_web::WebConfig;
use loyalty_web::client::TrustedProxies;

const PROXY: &str = "10.0.0.1";

async fn behind_proxy(db: loyalty_testkit::TestDb) -> TestApp {
    TestApp::with_config(
        db,
        WebConfig {
            public_url: ORIGIN.into(),
            trusted_proxies: TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap(),
            ..WebConfig::default()
        },
    )
    .await
}

/// A sign-in from TCP peer `peer`, with `X-Forwarded-For: xff` and `cookie` when given.
async fn sign_in(
    app: &TestApp,
    user: &str,
    pw: &str,
    peer: &str,
    xff: Option<&str>,
    cookie: Option<&str>,
) -> Answer {
    let mut headers = vec![("origin", ORIGIN), ("x-test-peer", peer)];
    if let Some(x) = xff {
        headers.push(("x-forwarded-for", x));
    }
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    app.send(
        &Who::anonymous(),
        "POST",
        "/login",
        Some(form(&[("username", user), ("password", pw)])),
        &headers,
    )
    .await
}

/// The `name=value` of the device cookie a successful sign-in set.
fn device_cookie(r: &Answer) -> String {
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("loyalty_device_"));
    let set = set.unwrap_or_else(|| panic!("no device cookie in {:?}", r.headers));
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/login", "Max-Age="] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    set.split(';').next().unwrap().to_owned()
}

both_backends! {
    async fn behind_a_trusted_proxy_one_guessing_client_does_not_throttle_another(db) {
        let app = behind_proxy(db).await;
        app.person("alpha_other", &["alpha-admins"]).await;
        for i in 0..30 {
            let r = sign_in(&app, &format!("nobody{i}"), "x", PROXY, Some("203.0.113.9"), None).await;
            assert_eq!(r.status, 401, "attempt {i}");
        }
        // The guessing client is stopped, even with a forged entry in front ...
        assert_eq!(sign_in(&app, "alpha_other", "password-1234", PROXY, Some("203.0.113.9"), None).await.status, 429);
        assert_eq!(sign_in(&app, "alpha_other", "password-1234", PROXY, Some("198.51.100.1, 203.0.113.9"), None).await.status, 429);
        // ... while another client through the same proxy signs in.
        let r = sign_in(&app, "alpha_other", "password-1234", PROXY, Some("198.51.100.7"), None).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }

    async fn from_an_untrusted_peer_forwarded_for_is_ignored(db) {
        let app = behind_proxy(db).await;
        app.person("alpha_other", &["alpha-admins"]).await;
        for i in 0..30 {
            let xff = format!("198.51.100.{i}");
            let r = sign_in(&app, &format!("nobody{i}"), "x", "192.0.2.50", Some(&xff), None).await;
            assert_eq!(r.status, 401, "attempt {i}");
        }
        // A new X-Forwarded-For does not give the peer a new address.
        let r = sign_in(&app, "alpha_other", "password-1234", "192.0.2.50", Some("198.51.100.99"), None).await;
        assert_eq!(r.status, 429, "{}", r.body);
        assert_eq!(sign_in(&app, "alpha_other", "password-1234", "192.0.2.51", None, None).await.status, 303);
    }

    async fn wrong_passwords_from_elsewhere_do_not_lock_out_a_browser_that_signed_in_before(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        let first = sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, None).await;
        assert_eq!(first.status, 303, "{}", first.body);
        let cookie = device_cookie(&first);
        // Someone else guesses at the account from many addresses: it is locked for them.
        for i in 0..10 {
            let ip = format!("203.0.113.{i}");
            let r = sign_in(&app, "alpha_admin", "wrong-password", &ip, None, None).await;
            assert!(r.status == 401 || r.status == 429, "attempt {i}: {}", r.status);
        }
        assert_eq!(sign_in(&app, "alpha_admin", "password-1234", "203.0.113.77", None, None).await.status, 429, "locked for clients without the cookie");
        // The owner's browser, from anywhere, still signs in, and gets a fresh cookie.
        let r = sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, Some(&cookie)).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let renewed = device_cookie(&r);
        let r = sign_in(&app, "alpha_admin", "password-1234", "192.0.2.9", None, Some(&renewed)).await;
        assert_eq!(r.status, 303, "{}", r.body);
        // The device has an allowance of its own, not an unlimited one.
        for _ in 0..5 {
            assert_eq!(sign_in(&app, "alpha_admin", "typo", "198.51.100.7", None, Some(&renewed)).await.status, 401);
        }
        assert_eq!(sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, Some(&renewed)).await.status, 429);
        assert_eq!(sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, Some(&cookie)).await.status, 303, "another device of the owner");
    }

    async fn a_forged_or_another_accounts_device_cookie_gives_no_allowance(db) {
        let app = TestApp::new(db).await;
        app.person("alpha_admin", &["alpha-admins"]).await;
        app.person("alpha_other", &["alpha-admins"]).await;
        let other = device_cookie(&sign_in(&app, "alpha_other", "password-1234", "198.51.100.8", None, None).await);
        let own = device_cookie(&sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, None).await);
        for i in 0..5 {
            assert_eq!(sign_in(&app, "alpha_admin", "wrong-password", "203.0.113.1", None, None).await.status, 401, "attempt {i}");
        }
        let (name, value) = own.split_once('=').unwrap();
        let (other_name, other_value) = other.split_once('=').unwrap();
        let mut tampered = value.to_owned();
        let last = if tampered.ends_with('0') { '1' } else { '0' };
        tampered.pop();
        tampered.push(last);
        for forged in [
            other.clone(),
            format!("{name}={other_value}"),
            format!("{other_name}={value}"),
            format!("{name}={tampered}"),
            format!("{name}=garbage"),
        ] {
            let r = sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, Some(&forged)).await;
            assert_eq!(r.status, 429, "{forged}: no allowance");
        }
        let r = sign_in(&app, "alpha_admin", "password-1234", "198.51.100.7", None, Some(&own)).await;
        assert_eq!(r.status, 303, "the real cookie works");
    }
}
