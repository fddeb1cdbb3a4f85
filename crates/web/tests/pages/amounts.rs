//! Amounts typed at the till of a Brazilian shop (pt-BR, BRL): "25.50" is R$ 25,50 and
//! 25 points, never 2.550; an ambiguous "1.234" is shown back before confirming; a
//! malformed amount is refused with a way to write it; an amount above the shop's
//! purchase bound needs a second confirmation at the till, is marked in the audit log,
//! and is reported by the API.

use super::app::{CSRF, TestApp, Who, hidden};
use axum::body::Body;
use axum::http::Request;
use loyalty_core::clock::Clock;
use loyalty_core::domain::{OrgStatus, Organization};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{both_backends, fixed_clock};
use tower::ServiceExt;

/// A pt-BR shop in reais (`gamma`), a cashier there, and the address of an enrolled customer.
pub async fn brazilian_till(app: &TestApp) -> (Who, String) {
    let (cashier, url, _) = brazilian_shop(app).await;
    (cashier, url)
}

/// [`brazilian_till`] and the shop.
async fn brazilian_shop(app: &TestApp) -> (Who, String, Organization) {
    let input = OnboardInput {
        name: Some("Padaria Gama".into()),
        slug: Some("gamma".into()),
        admin_email: Some("admin@gamma.example.com".into()),
        admin_name: Some("Bia".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        language: Some("pt-BR".into()),
        currency: Some("BRL".into()),
        ..OnboardInput::default()
    };
    let org = app
        .db
        .store
        .insert_organization(
            &input.validate().unwrap().org,
            OrgStatus::Active,
            fixed_clock().now(),
        )
        .await
        .unwrap();
    let cashier = app.person("gamma_cashier", &["gamma-cashiers"]).await;
    let r = app
        .post(
            &cashier,
            "/o/gamma/till/enroll",
            &[
                ("csrf", CSRF),
                ("email", "ana@example.com"),
                ("name", "Ana"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let customer_url = r.location().split('?').next().unwrap().to_owned();
    (cashier, customer_url, org)
}

/// The `unusual_amount` marks in the shop's audit log, newest first.
async fn unusual_marks(app: &TestApp, org: &Organization) -> Vec<serde_json::Value> {
    let log = app.db.store.audit_log(org.id, None, 50).await.unwrap();
    log.into_iter()
        .filter(|r| r.action.starts_with("points."))
        .filter_map(|r| r.after.and_then(|a| a.get("unusual_amount").cloned()))
        .collect()
}

/// A JSON post to the API with the person's session.
async fn api_post(
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

both_backends! {
    async fn a_brazilian_till_reads_25_point_50_as_reais_and_cents(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url) = brazilian_till(&app).await;
        let preview = app.get(&cashier, &format!("{customer_url}/award?amount=25.50")).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(preview.body.contains("R$ 25,50"), "{}", preview.body);
        assert!(preview.body.contains("+25<"), "25 points, not 2.550: {}", preview.body);
        assert!(!preview.body.contains("amount-ambiguous"), "25.50 is not ambiguous");
        let amount = hidden(&preview.body, "amount");
        assert_eq!(amount, "25.50");
        let idem = hidden(&preview.body, "idem");
        let r = app.post(&cashier, &format!("{customer_url}/award"), &[("csrf", CSRF), ("idem", &idem), ("amount", &amount)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location().contains("done=awarded&pts=25&"), "{}", r.location());
        let page = app.get(&cashier, &customer_url).await;
        assert!(page.body.contains("id=\"balance\">25 "), "{}", page.body);
        // The locale's own format reads the same.
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=R%24+25%2C50")).await;
        assert!(p.body.contains("+25<"), "{}", p.body);
        // The field asks phones for a decimal keypad and carries the reading rules.
        assert!(page.body.contains("inputmode=\"decimal\""));
        assert!(page.body.contains("data-decimal=\",\" data-minor=\"2\" data-currency=\"BRL\""), "{}", page.body);
    }

    async fn an_ambiguous_amount_follows_the_locale_and_is_shown_back(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url) = brazilian_till(&app).await;
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=1.234")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("id=\"amount-ambiguous\""), "{}", p.body);
        assert!(p.body.contains("R$ 1.234,00"), "{}", p.body);
        assert_eq!(hidden(&p.body, "amount"), "1234.00");
        // With both marks the last one is the decimal mark: nothing to ask.
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=1.234%2C56")).await;
        assert!(!p.body.contains("amount-ambiguous"), "both marks are not ambiguous");
        assert_eq!(hidden(&p.body, "amount"), "1234.56");
    }

    async fn a_malformed_amount_is_refused_with_a_way_to_write_it(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url) = brazilian_till(&app).await;
        for typed in ["12.34.56", "25%2C", "abc", "25%2C505"] {
            let p = app.get(&cashier, &format!("{customer_url}/award?amount={typed}")).await;
            assert_eq!(p.status, 422, "{typed}: {}", p.body);
            assert!(p.body.contains("25,50 or 1.234,56"), "{typed}: {}", p.body);
        }
    }

    async fn an_amount_above_the_bound_needs_a_second_confirmation_and_is_marked(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url, org) = brazilian_shop(&app).await;
        let balance = |body: &str| body.contains("id=\"balance\">0 ");
        // No purchases yet: the bound is the floor, R$ 500,00.
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=2.550%2C00")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("id=\"amount-unusual\""), "{}", p.body);
        assert!(p.body.contains("R$ 500,00"), "the bound is shown: {}", p.body);
        let idem = hidden(&p.body, "idem");
        let award = format!("{customer_url}/award");
        // Confirmed once, without the box: refused, shown again with the box, nothing awarded.
        let r = app.post(&cashier, &award, &[("csrf", CSRF), ("idem", &idem), ("amount", "2550.00")]).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("id=\"unusual-ok\""), "{}", r.body);
        assert!(balance(&app.get(&cashier, &customer_url).await.body), "nothing awarded");
        assert!(unusual_marks(&app, &org).await.is_empty());
        // With the box ticked: awarded, and the audit record says so.
        let r = app
            .post(&cashier, &award, &[("csrf", CSRF), ("idem", &idem), ("amount", "2550.00"), ("unusual_ok", "on")])
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location().contains("done=awarded&pts=2550&"), "{}", r.location());
        let marks = unusual_marks(&app, &org).await;
        assert_eq!(marks, vec![serde_json::json!({"bound": "500", "confirmed": true})]);
        // A usual amount is not asked about and not marked.
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=25.50")).await;
        assert!(!p.body.contains("amount-unusual"), "{}", p.body);
        // The API accepts an unusual amount and reports it; a usual one carries no field.
        let customer_id = customer_url.rsplit('/').next().unwrap();
        let path = "/api/v1/orgs/gamma/purchases";
        let (s, body) = api_post(&app, &cashier, path, serde_json::json!({"customer_id": customer_id, "amount": "900.00"}), "k-1").await;
        assert_eq!(s, 201, "{body}");
        assert_eq!(body["unusual_amount"], serde_json::json!({"bound": "500"}));
        assert_eq!(body["entry"]["points"], 900, "{body}");
        // A retry with the same key replays the first answer (the mark is not part of the
        // request's fingerprint).
        let (s, again) = api_post(&app, &cashier, path, serde_json::json!({"customer_id": customer_id, "amount": "900.00"}), "k-1").await;
        assert_eq!(s, 201, "{again}");
        assert_eq!(again["replayed"], true, "{again}");
        assert_eq!(again["entry"]["id"], body["entry"]["id"]);
        let (s, body) = api_post(&app, &cashier, path, serde_json::json!({"customer_id": customer_id, "amount": "12.00"}), "k-2").await;
        assert_eq!(s, 201, "{body}");
        assert!(body.get("unusual_amount").is_none(), "{body}");
        assert_eq!(unusual_marks(&app, &org).await.len(), 2);
        // Ana earned 2550 + 900 + 12 points today, over the default 1000 a day: flagged.
        let admin = app.person("gamma_admin", &["gamma-admins"]).await;
        let d = app.get(&admin, "/o/gamma/admin").await;
        assert_eq!(d.status, 200, "{}", d.body);
        let flagged = d.body.split("id=\"flagged-today\"").nth(1).unwrap().split("</section>").next().unwrap();
        assert!(flagged.contains(">Ana</a>") && flagged.contains("3.462"), "{flagged}");
    }

    async fn the_dashboard_flags_customers_over_the_daily_points_the_admin_set(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url, _) = brazilian_shop(&app).await;
        let admin = app.person("gamma_admin", &["gamma-admins"]).await;
        let flagged = |body: &str| body.split("id=\"flagged-today\"").nth(1).unwrap().split("</section>").next().unwrap().to_owned();
        let award = |amount: &'static str| {
            let (app, cashier, url) = (&app, &cashier, &customer_url);
            async move {
                let p = app.get(cashier, &format!("{url}/award?amount={amount}")).await;
                let idem = hidden(&p.body, "idem");
                let r = app.post(cashier, &format!("{url}/award"), &[("csrf", CSRF), ("idem", &idem), ("amount", amount)]).await;
                assert_eq!(r.status, 303, "{}", r.body);
            }
        };
        award("120").await;
        let d = app.get(&admin, "/o/gamma/admin").await;
        assert!(!flagged(&d.body).contains("Ana"), "120 is under the default 1000");
        let fields = [("csrf", CSRF), ("points_per_unit", "1"), ("min_purchase", "0"), ("daily_points_flag", "150")];
        assert_eq!(app.post(&admin, "/o/gamma/admin/settings", &fields).await.status, 303);
        let d = app.get(&admin, "/o/gamma/admin").await;
        assert!(!flagged(&d.body).contains("Ana"), "120 is under 150");
        award("40").await;
        let d = app.get(&admin, "/o/gamma/admin").await;
        let f = flagged(&d.body);
        assert!(f.contains(">Ana</a>") && f.contains(">160 "), "{f}");
    }

    async fn an_admin_sets_the_bound_and_it_applies_at_the_till(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url, _) = brazilian_shop(&app).await;
        let admin = app.person("gamma_admin", &["gamma-admins"]).await;
        let fields = [("csrf", CSRF), ("points_per_unit", "1"), ("min_purchase", "0"), ("expiry_days", ""),
            ("purchase_bound", "100,00"), ("daily_points_flag", "300")];
        let r = app.post(&admin, "/o/gamma/admin/settings", &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let s = app.get(&admin, "/o/gamma/admin/settings").await;
        assert!(s.body.contains("name=\"purchase_bound\" inputmode=\"decimal\" value=\"100\""), "{}", s.body);
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=150")).await;
        assert!(p.body.contains("id=\"amount-unusual\""), "{}", p.body);
        assert!(p.body.contains("R$ 100,00"), "{}", p.body);
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=99")).await;
        assert!(!p.body.contains("amount-unusual"), "{}", p.body);
        // A bound that is not an amount is refused with the field's message.
        let bad = [("csrf", CSRF), ("points_per_unit", "1"), ("min_purchase", "0"), ("purchase_bound", "-5")];
        let r = app.post(&admin, "/o/gamma/admin/settings", &bad).await;
        assert_eq!(r.status, 422, "{}", r.body);
    }
}
