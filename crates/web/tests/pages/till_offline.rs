//! The till's offline endpoints through the real router: the queued-purchase endpoint is
//! as strict as a form (session, our origin, the session's token in `X-CSRF-Token`) and
//! answers JSON; a purchase sent twice is recorded once; another organization's till is
//! refused; the recorder token comes with the program and a purchase without a valid one
//! is refused; the service worker's scope header, the manifest, and the till page without
//! its script (the offline block hidden, the forms as before).

use super::app::{CSRF, ORIGIN, TestApp, Who};
use loyalty_testkit::both_backends;

const DEVICE: &str = "6f1c1b1e-8c1e-4c55-9a55-0b6f7c0d2a11";

fn json(card: &str, key: &str, recorder: &str) -> String {
    serde_json::json!({
        "key": key,
        "card": card,
        "amount": "12.50",
        "recorded_at": "2026-12-05T14:30:00Z",
        "device": DEVICE,
        "recorder": recorder,
    })
    .to_string()
}

/// The recorder token the till of `who` reads with the program.
async fn recorder(app: &TestApp, who: &Who, slug: &str) -> String {
    let r = app
        .get(who, &format!("/o/{slug}/till/offline?device={DEVICE}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["recorder"]
        .as_str()
        .unwrap_or_else(|| panic!("a recorder token: {}", r.body))
        .to_owned()
}

async fn send(
    app: &TestApp,
    who: &Who,
    slug: &str,
    body: String,
    headers: &[(&str, &str)],
) -> super::app::Answer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    app.send(
        who,
        "POST",
        &format!("/o/{slug}/till/offline/purchases"),
        Some(body),
        &all,
    )
    .await
}

fn code(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON: {body}"));
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

both_backends! {
    async fn queued_purchases_are_sent_as_strictly_as_a_form_and_land_once(db) {
        let app = TestApp::new(db).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        // A customer enrolled at the till; the page carries the card number.
        let r = app.post(&cashier, "/o/alpha/till/enroll", &[("csrf", CSRF), ("phone", "202-555-0199")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = app.get(&cashier, r.location().split('?').next().unwrap()).await;
        let card = page.body.split("data-card=\"").nth(1).unwrap()[..12].to_owned();
        let key = "0b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f";
        let rec = recorder(&app, &cashier, "alpha").await;

        // Without the token, with a wrong one, from another origin, or without one: 403.
        let r = send(&app, &cashier, "alpha", json(&card, key, &rec), &[("origin", ORIGIN)]).await;
        assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (403, "auth.forbidden"), "{}", r.body);
        let r = send(&app, &cashier, "alpha", json(&card, key, &rec), &[("origin", ORIGIN), ("x-csrf-token", "wrong")]).await;
        assert_eq!(r.status, 403);
        let r = send(&app, &cashier, "alpha", json(&card, key, &rec), &[("origin", "https://evil.example"), ("x-csrf-token", CSRF)]).await;
        assert_eq!(r.status, 403);
        let r = send(&app, &cashier, "alpha", json(&card, key, &rec), &[("x-csrf-token", CSRF)]).await;
        assert_eq!(r.status, 403, "no origin at all");
        // Not signed in: 401; another organization's till: refused.
        let r = send(&app, &Who::anonymous(), "alpha", json(&card, key, &rec), &[("origin", ORIGIN), ("x-csrf-token", CSRF)]).await;
        assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (401, "auth.required"), "{}", r.body);
        let r = send(&app, &cashier, "beta", json(&card, key, &rec), &[("origin", ORIGIN), ("x-csrf-token", CSRF)]).await;
        assert_eq!(code(&r.body), "auth.forbidden", "{}", r.body);
        let list = app.db.store.list_purchases(app.a.id, None, None, None, 10).await.unwrap();
        assert!(list.is_empty(), "nothing recorded by refused requests");

        // The real thing, twice with the same key: one purchase.
        let ok = [("origin", ORIGIN), ("x-csrf-token", CSRF)];
        let r = send(&app, &cashier, "alpha", json(&card, key, &rec), &ok).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((v["points"].as_i64(), v["balance"].as_i64(), v["replayed"].as_bool()), (Some(12), Some(12), Some(false)));
        let r = send(&app, &cashier, "alpha", json(&card, key, &rec), &ok).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((v["points"].as_i64(), v["balance"].as_i64(), v["replayed"].as_bool()), (Some(12), Some(12), Some(true)));
        let list = app.db.store.list_purchases(app.a.id, None, None, None, 10).await.unwrap();
        assert_eq!(list.len(), 1);

        // Without a recorder token, with one changed on the device or of another till:
        // 403 till.recorder_refused, nothing recorded.
        let mut forged = rec.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == '0' { '1' } else { '0' });
        let other_till = serde_json::json!({
            "key": "3b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", "card": card, "amount": "1.00",
            "recorded_at": "2026-12-05T14:30:00Z", "device": "7f1c1b1e-8c1e-4c55-9a55-0b6f7c0d2a11",
            "recorder": rec,
        })
        .to_string();
        for body in [json(&card, "3b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", ""), json(&card, "3b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", &forged), other_till] {
            let r = send(&app, &cashier, "alpha", body, &ok).await;
            assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (403, "till.recorder_refused"), "{}", r.body);
        }
        assert_eq!(app.db.store.list_purchases(app.a.id, None, None, None, 10).await.unwrap().len(), 1);

        // An unknown card, a malformed body.
        let r = send(&app, &cashier, "alpha", json("000000000000", "1b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", &rec), &ok).await;
        assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (404, "customer.not_found"), "{}", r.body);
        let r = send(&app, &cashier, "alpha", "{\"key\": 1}".into(), &ok).await;
        assert_eq!(r.status.as_u16() / 100, 4, "{}", r.body);
        assert!(code(&r.body).starts_with("request."), "{}", r.body);

        // The program the till keeps: staff only, JSON, not cached.
        let r = app.get(&cashier, "/o/alpha/till/offline").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["points_per_unit"], "1");
        assert_eq!(v["currency"], "USD");
        assert!(!r.body.contains(&card), "no customer data");
        assert!(v.get("recorder").is_none(), "a recorder token only for a till that names itself");
        let r = app.get(&cashier, "/o/alpha/till/offline?device=not-a-uuid").await;
        assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (400, "request.query"), "{}", r.body);
        let r = app.get(&Who::anonymous(), "/o/alpha/till/offline").await;
        assert_eq!(r.status, 401);
        // A customer of the shop and another shop's admin read nothing, send nothing.
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        let beta_admin = app.person("beta_admin", &["beta-admins"]).await;
        for who in [&customer, &beta_admin] {
            let r = app.get(who, "/o/alpha/till/offline").await;
            assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (403, "auth.forbidden"), "{}", r.body);
            let r = send(&app, who, "alpha", json(&card, "2b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", &rec), &ok).await;
            assert_eq!(r.status, 403, "{}", r.body);
        }
        assert_eq!(app.db.store.list_purchases(app.a.id, None, None, None, 10).await.unwrap().len(), 1);
    }

    async fn the_till_installs_and_works_without_its_script(db) {
        let app = TestApp::new(db).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let r = app.get(&Who::anonymous(), "/o/alpha/till/sw.js").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers.get("service-worker-allowed").unwrap(), "/o/alpha/till");
        assert!(r.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/javascript"));
        let r = app.get(&Who::anonymous(), "/o/Not%20A%20Slug/till/sw.js").await;
        assert_eq!(r.status, 404);
        let r = app.get(&Who::anonymous(), "/o/alpha/till/app.webmanifest").await;
        assert_eq!(r.status, 200);
        let m: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((m["start_url"].as_str(), m["scope"].as_str()), (Some("/o/alpha/till"), Some("/o/alpha/till")));
        for icon in m["icons"].as_array().unwrap() {
            let r = app.get(&Who::anonymous(), icon["src"].as_str().unwrap()).await;
            assert_eq!(r.status, 200, "{icon}");
        }
        // Without the script the offline block stays hidden and the forms are as before.
        let page = app.get(&cashier, "/o/alpha/till").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<div id=\"till-offline\" hidden"), "{}", page.body);
        assert!(page.body.contains("form method=\"get\" action=\"/o/alpha/till\" role=\"search\""));
        assert!(page.body.contains("action=\"/o/alpha/till/enroll\""));
        assert!(page.body.contains("<script src=\"/static/till.js\" defer></script>"));
        assert!(!page.body.contains("<script>"), "no inline script");
    }

    async fn queued_redemptions_follow_the_admins_limit_and_the_balance(db) {
        let app = TestApp::new(db).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let r = app.post(&cashier, "/o/alpha/till/enroll", &[("csrf", CSRF), ("phone", "202-555-0198")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = app.get(&cashier, r.location().split('?').next().unwrap()).await;
        let card = page.body.split("data-card=\"").nth(1).unwrap()[..12].to_owned();
        assert!(page.body.contains("data-balance=\"0\""), "the page carries the balance for the till");
        let rec = recorder(&app, &cashier, "alpha").await;
        let ok = [("origin", ORIGIN), ("x-csrf-token", CSRF)];
        let r = send(&app, &cashier, "alpha", json(&card, "4b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", &rec), &ok).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let redeem = |key: &str, n: i64| serde_json::json!({
            "key": key, "card": card, "points": n, "recorded_at": "2026-12-05T14:40:00Z",
            "device": DEVICE, "recorder": rec,
        }).to_string();
        let post = |body: String, headers: &'static [(&'static str, &'static str)]| {
            let mut all = vec![("content-type", "application/json")];
            all.extend_from_slice(headers);
            let app = &app;
            let who = &cashier;
            async move { app.send(who, "POST", "/o/alpha/till/offline/redemptions", Some(body), &all).await }
        };
        const OK: &[(&str, &str)] = &[("origin", ORIGIN), ("x-csrf-token", CSRF)];

        // Refused while the shop allows none (the default).
        let r = post(redeem("5b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", 5), OK).await;
        assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (409, "till.offline_redeem_refused"), "{}", r.body);
        // The admin allows 10 a day on the Users tab; a cashier may not, nor a bad number.
        let r = app.post(&cashier, "/o/alpha/admin/tills/offline-redeem", &[("csrf", CSRF), ("offline_redeem_limit", "10")]).await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = app.post(&admin, "/o/alpha/admin/tills/offline-redeem", &[("csrf", CSRF), ("offline_redeem_limit", "ten")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("offline_redeem_limit") || r.body.contains("whole number"), "{}", r.body);
        let r = app.post(&admin, "/o/alpha/admin/tills/offline-redeem", &[("csrf", CSRF), ("offline_redeem_limit", "10")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let users = app.get(&admin, "/o/alpha/admin/users").await;
        assert!(users.body.contains("id=\"offline_redeem_limit\" name=\"offline_redeem_limit\" inputmode=\"numeric\" value=\"10\""), "{}", users.body);
        let r = app.get(&cashier, "/o/alpha/till/offline").await;
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["offline_redeem_limit"], 10);

        // As strict as a purchase: our origin and the session's token.
        let r = post(redeem("6b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", 5), &[("origin", ORIGIN)]).await;
        assert_eq!(r.status, 403, "{}", r.body);
        // Within the balance (12) and the limit: redeemed once.
        for status in [201, 200] {
            let r = post(redeem("6b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", 5), OK).await;
            assert_eq!(r.status, status, "{}", r.body);
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!((v["points"].as_i64(), v["balance"].as_i64()), (Some(5), Some(7)));
        }
        // Above the limit; above the balance: refused, nothing redeemed.
        let r = post(redeem("7b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", 11), OK).await;
        assert_eq!(code(&r.body), "till.offline_redeem_refused", "{}", r.body);
        let r = post(redeem("8b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", 8), OK).await;
        assert_eq!((r.status.as_u16(), code(&r.body).as_str()), (409, "points.insufficient"), "{}", r.body);
        let r = post(redeem("9b7c2a6e-4f0e-4a7c-9b0e-2a1d3c4b5e6f", 7), OK).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["balance"].as_i64(), Some(0));
    }
}
