//! `/metrics` after real traffic: points counters move once per committed award or
//! redemption (till pages and API alike, never on a replay), failed sign-ins are
//! counted, active users appear after a sign-in, and the pool gauges are there.

use super::app::{CSRF, ORIGIN, TestApp, Who, form, hidden};
use axum::body::Body;
use axum::http::Request;
use loyalty_core::domain::{OrgStatus, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{Kind, both_backends, fixed_clock_now};
use std::collections::HashMap;
use tower::ServiceExt;

/// The samples of a scrape, keyed by name and labels as rendered.
pub async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let auth = format!("Bearer {}", super::app::METRICS_TOKEN);
    let r = app
        .send(
            &Who::anonymous(),
            "GET",
            "/metrics",
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

async fn api(
    app: &TestApp,
    who: &Who,
    path: &str,
    body: serde_json::Value,
    key: &str,
) -> (u16, serde_json::Value) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(
            "cookie",
            format!("loyalty_session={}", who.cookie.as_deref().unwrap()),
        )
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn login(app: &TestApp, user: &str, password: &str) -> super::app::Answer {
    let body = form(&[("username", user), ("password", password), ("next", "/")]);
    app.send(
        &Who::anonymous(),
        "POST",
        "/login",
        Some(body),
        &[("origin", ORIGIN)],
    )
    .await
}

both_backends! {
    async fn metrics_count_each_committed_award_and_redemption_once_and_active_users_after_a_sign_in(db) {
        // An organization of this test alone: counters are process-wide.
        let slug = match db.kind { Kind::Sqlite => "metrics-sqlite", Kind::Postgres => "metrics-postgres" };
        let app = TestApp::new(db).await;
        let input = OnboardInput {
            name: Some("Metrics market".into()), slug: Some(slug.into()),
            admin_email: Some("admin@metrics.example.com".into()), admin_name: Some("Ada".into()),
            country: Some("US".into()), timezone: Some("America/New_York".into()),
            ..OnboardInput::default()
        };
        let org = app.db.store.insert_organization(&input.validate().unwrap().org, OrgStatus::Active, fixed_clock_now()).await.unwrap();
        let cashier = app.person(&format!("{}_cashier", slug.replace('-', "_")), &[&format!("{slug}-cashiers")]).await;
        let key = |name: &str| format!("{name}{{org=\"{slug}\"}}");
        let before = scrape(&app).await;
        assert_eq!(before.get(&key("loyalty_purchases_total")), None, "no purchase yet");

        // Till page: the same form twice is one purchase of 12 points.
        let r = app.post(&cashier, &format!("/o/{slug}/till/enroll"), &[("csrf", CSRF), ("phone", "202-555-0100"), ("name", "Ana")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let customer_url = r.location().split('?').next().unwrap().to_owned();
        let customer_id = customer_url.rsplit('/').next().unwrap().to_owned();
        let preview = app.get(&cashier, &format!("{customer_url}/award?amount=12.50")).await;
        let idem = hidden(&preview.body, "idem");
        let fields = [("csrf", CSRF), ("idem", idem.as_str()), ("amount", "12.50")];
        assert!(app.post(&cashier, &format!("{customer_url}/award"), &fields).await.location().contains("done=awarded"));
        assert!(app.post(&cashier, &format!("{customer_url}/award"), &fields).await.location().contains("done=replayed"));
        let m = scrape(&app).await;
        assert_eq!(m.get(&key("loyalty_purchases_total")), Some(&1.0));
        assert_eq!(m.get(&key("loyalty_points_awarded_total")), Some(&12.0));

        // API: an award of 20 points and a redemption of 5, each sent twice.
        let purchases = format!("/api/v1/orgs/{slug}/purchases");
        let award = serde_json::json!({"customer_id": customer_id, "amount": "20.00"});
        assert_eq!(api(&app, &cashier, &purchases, award.clone(), "award-1").await.0, 201);
        let (_, again) = api(&app, &cashier, &purchases, award, "award-1").await;
        assert_eq!(again["replayed"], true, "{again}");
        let redeem = serde_json::json!({"customer_id": customer_id, "points": 5});
        let redemptions = format!("/api/v1/orgs/{slug}/redemptions");
        assert_eq!(api(&app, &cashier, &redemptions, redeem.clone(), "redeem-1").await.0, 201);
        assert_eq!(api(&app, &cashier, &redemptions, redeem, "redeem-1").await.1["replayed"], true);
        // A refused redemption counts nothing.
        let (s, _) = api(&app, &cashier, &redemptions, serde_json::json!({"customer_id": customer_id, "points": 1000}), "redeem-2").await;
        assert_eq!(s, 409, "insufficient points");
        let m = scrape(&app).await;
        assert_eq!(m.get(&key("loyalty_purchases_total")), Some(&2.0));
        assert_eq!(m.get(&key("loyalty_points_awarded_total")), Some(&32.0));
        assert_eq!(m.get(&key("loyalty_points_redeemed_total")), Some(&5.0));
        let requests = m.iter().filter(|(k, _)| k.starts_with("loyalty_http_request_duration_seconds_count{route=\"/api/v1/orgs/{slug}/purchases\"")).map(|(_, v)| v).sum::<f64>();
        assert!(requests >= 2.0, "requests timed by route pattern: {requests}");
        assert!(m.get("loyalty_db_pool_connections{state=\"max\"}").is_some_and(|v| *v >= 1.0), "{m:?}");
        assert!(m.contains_key("loyalty_db_pool_connections{state=\"idle\"}"));
        assert!(m.contains_key("loyalty_db_pool_connections{state=\"in_use\"}"));

        // A wrong password is counted.
        let failures = |m: &HashMap<String, f64>| m.get("loyalty_login_failures_total").copied().unwrap_or(0.0);
        let before_failures = failures(&m);
        let cashier_name = format!("{}_cashier", slug.replace('-', "_"));
        assert_eq!(login(&app, &cashier_name, "wrong-password").await.status, 401);
        assert!(failures(&scrape(&app).await) >= before_failures + 1.0);

        // Signing in makes the cashier an active user of the organization.
        app.db.store.upsert_member(org.id, &loyalty_core::store::NewMember { identity_subject: cashier.uid.clone(), role: Role::Cashier, email: None, name: None, created_by: None }, fixed_clock_now()).await.unwrap();
        loyalty_web::metrics::refresh_active_users(app.db.store.as_ref(), fixed_clock_now()).await.unwrap();
        let active = |w: &str| format!("loyalty_active_users{{org=\"{slug}\",role=\"cashier\",window=\"{w}\"}}");
        let m = scrape(&app).await;
        assert!(m.get(&active("24h")).is_none_or(|v| *v == 0.0), "not signed in since the member row exists");
        assert_eq!(login(&app, &cashier_name, "password-1234").await.status, 303);
        loyalty_web::metrics::refresh_active_users(app.db.store.as_ref(), fixed_clock_now()).await.unwrap();
        let m = scrape(&app).await;
        assert_eq!(m.get(&active("24h")), Some(&1.0), "{m:?}");
        assert_eq!(m.get(&active("30d")), Some(&1.0));
        // A month later nobody of the organization counts any more.
        loyalty_web::metrics::refresh_active_users(app.db.store.as_ref(), fixed_clock_now() + time::Duration::days(31)).await.unwrap();
        let m = scrape(&app).await;
        assert_eq!(m.get(&active("24h")), Some(&0.0));
        assert_eq!(m.get(&active("30d")), Some(&0.0));
    }
}
