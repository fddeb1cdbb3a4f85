//! Every role against every endpoint of organization "alpha": the expected status in
//! each cell, and no answer to a caller from "beta" carries alpha's data.

use super::app::{TestApp, Who};
use loyalty_core::domain::Role;
use loyalty_testkit::both_backends;

/// Columns of the matrix.
const WHO: [&str; 7] = [
    "admin",
    "cashier",
    "customer",
    "operator",
    "anonymous",
    "beta-token",
    "beta-admin",
];

both_backends! {
    async fn every_role_gets_exactly_its_rights_on_every_endpoint(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let (customer, customer_uid) = app.person("alpha_customer", &["alpha-customers", "pending-users"]).await;
        let (operator, _) = app.person("ops", &["loyalty-operators"]).await;
        let beta_token = app.token(&app.b, Role::Cashier).await;
        let (beta_admin, _) = app.person("beta_admin", &["beta-admins", "authentik Admins"]).await;
        let people = [admin.clone(), cashier.clone(), customer.clone(), operator, Who::Anonymous, beta_token, beta_admin];

        // Fixtures in alpha, made by its admin.
        let (s, c) = app.call(&admin, "POST", "/api/v1/orgs/alpha/customers", Some(serde_json::json!({"phone": "202-555-0100"}))).await;
        assert_eq!(s, 201, "{c}");
        let cid = c["id"].as_str().unwrap().to_owned();
        let (_, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/purchases", Some(serde_json::json!({"customer_id": cid, "amount": "500.00"}))).await;
        let pid = p["purchase"]["id"].as_str().unwrap().to_owned();
        let (_, r) = app.call(&admin, "POST", "/api/v1/orgs/alpha/rewards", Some(serde_json::json!({"name": "Mug", "cost_points": 1}))).await;
        let rid = r["id"].as_str().unwrap().to_owned();
        let (_, prog) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/stamp-cards", Some(serde_json::json!({"name": "Coffee card", "stamps_required": 10, "reward": "a free coffee"}))).await;
        let card_id = prog["stamp_cards"][0]["id"].as_str().unwrap().to_owned();
        let (_, prog) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/promotions", Some(serde_json::json!({"name": "Double", "multiplier": "2"}))).await;
        let promo_id = prog["promotions"][0]["id"].as_str().unwrap().to_owned();
        let checkpoint = loyalty_core::service::integrity::take_checkpoint(app.db.store.as_ref(), app.a.id, &crate::checkpoints::TestSigner, loyalty_testkit::fixed_clock_now()).await.unwrap();
        let cpid = checkpoint.id.to_string();
        // The signed-in customer's own membership.
        let actor = loyalty_core::domain::ledger::Actor::system();
        let own = app.db.store.enroll_customer(app.a.id, &loyalty_core::domain::ledger::NewCustomer {
            phone: None, email: Some("alpha_customer@example.com".into()), name: None, card_number: "400000000006".into(),
            identity_subject: Some(customer_uid), created_by: None }, &actor, loyalty_testkit::fixed_clock_now()).await.unwrap();

        type Row = (&'static str, String, Option<serde_json::Value>, [u16; 7]);
        let mut n = 0;
        let mut fresh_phone = || { n += 1; format!("202-555-{:04}", 200 + n) };
        let rows: Vec<Row> = vec![
            ("GET", "/api/v1/orgs/alpha".into(), None, [200, 200, 200, 200, 200, 200, 200]),
            ("GET", "/api/v1/orgs/alpha/customers?q=%2B12025550100".into(), None, [200, 200, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/customers".into(), None, [200, 200, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some(serde_json::json!({"phone": fresh_phone()})), [201, 201, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/customers/{cid}"), None, [200, 200, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/customers/{cid}/balance"), None, [200, 200, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/customers/{cid}/ledger"), None, [200, 200, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/ledger".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(serde_json::json!({"customer_id": cid, "amount": "10.00"})), [201, 201, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/purchases/{pid}"), None, [200, 200, 403, 403, 401, 403, 403]),
            ("POST", format!("/api/v1/orgs/alpha/purchases/{pid}/reverse"), Some(serde_json::json!({"amount": "1.00"})), [201, 201, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/redemptions".into(), Some(serde_json::json!({"customer_id": cid, "points": 1})), [201, 201, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/adjustments".into(), Some(serde_json::json!({"customer_id": cid, "points": 1, "reason": "test"})), [201, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/rewards".into(), None, [200, 200, 200, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/rewards".into(), Some(serde_json::json!({"name": "Tea", "cost_points": 5})), [201, 403, 403, 403, 401, 403, 403]),
            ("PUT", format!("/api/v1/orgs/alpha/rewards/{rid}"), Some(serde_json::json!({"name": "Mug", "cost_points": 2})), [200, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/program".into(), None, [200, 200, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/program/versions/1".into(), None, [200, 200, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/program/stamp-cards".into(), Some(serde_json::json!({"name": "Lunch card", "stamps_required": 5, "reward": "a free lunch"})), [201, 403, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/program/promotions".into(), Some(serde_json::json!({"name": "Bonus", "bonus_points": 5})), [201, 403, 403, 403, 401, 403, 403]),
            ("PUT", "/api/v1/orgs/alpha/program/bonuses".into(), Some(serde_json::json!({"signup_points": 0, "contact_points": 0})), [200, 403, 403, 403, 401, 403, 403]),
            ("DELETE", format!("/api/v1/orgs/alpha/program/rules/{promo_id}"), None, [200, 403, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/program/preview".into(), Some(serde_json::json!({"amount": "10.00", "customer_id": cid})), [200, 200, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/customers/{cid}/stamp-cards"), None, [200, 200, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/stamp-card-redemptions".into(), Some(serde_json::json!({"customer_id": cid, "card_id": card_id})), [409, 409, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/me".into(), None, [403, 403, 200, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/me/ledger".into(), None, [403, 403, 200, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/tokens".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/tokens".into(), Some(serde_json::json!({"name": "till 9", "role": "cashier"})), [201, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/audit".into(), None, [200, 403, 403, 200, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/exports/ledger".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/exports/balances".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/exports/purchases".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/exports/summary".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("PUT", "/api/v1/orgs/alpha/settings/points".into(), Some(serde_json::json!({"points_per_unit": "1", "min_purchase": "0", "expiry_days": null, "join_enabled": true})), [200, 403, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/customers/{cid}/export"), None, [200, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/checkpoints".into(), None, [200, 403, 403, 403, 401, 403, 403]),
            ("GET", format!("/api/v1/orgs/alpha/checkpoints/{cpid}"), None, [200, 403, 403, 403, 401, 403, 403]),
            ("GET", "/api/v1/orgs/alpha/me/export".into(), None, [403, 403, 200, 403, 401, 403, 403]),
            // Erasures last: they end what the rows above read.
            ("POST", format!("/api/v1/orgs/alpha/customers/{cid}/erase"), Some(serde_json::json!({"confirm": "ERASE"})), [200, 403, 403, 403, 401, 403, 403]),
            ("POST", "/api/v1/orgs/alpha/me/erase".into(), Some(serde_json::json!({"confirm": "ERASE"})), [403, 403, 200, 403, 401, 403, 403]),
        ];
        let alpha_secrets = [cid.clone(), pid.clone(), rid.clone(), own.id.to_string(), app.a.id.to_string(), cpid.clone()];
        let mut failures = Vec::new();
        for (method, path, body, expected) in rows {
            for (i, who) in people.iter().enumerate() {
                // Bodies that create something unique get a fresh value per caller.
                let body = body.clone().map(|mut b| {
                    if b.get("phone").is_some() { b["phone"] = fresh_phone().into(); }
                    if path.ends_with("/rewards") && method == "POST" { b["name"] = format!("Tea {i}").into(); }
                    b
                });
                let (status, answer) = app.call(who, method, &path, body).await;
                if status.as_u16() != expected[i] {
                    failures.push(format!("{method} {path} as {}: expected {}, got {status} {answer}", WHO[i], expected[i]));
                }
                if i >= 5 {
                    let text = answer.to_string();
                    for s in &alpha_secrets {
                        assert!(!text.contains(s.as_str()), "{method} {path} as {} leaked alpha data: {text}", WHO[i]);
                    }
                }
                if status.is_client_error() {
                    assert!(answer["error"]["code"].is_string(), "{method} {path} as {}: error without a code: {answer}", WHO[i]);
                }
            }
        }
        assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
    }

    async fn a_suspended_organization_refuses_every_call_and_keeps_its_data(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (s, c) = app.call(&admin, "POST", "/api/v1/orgs/alpha/customers", Some(serde_json::json!({"email": "x@example.com"}))).await;
        assert_eq!(s, 201);
        loyalty_core::service::orgs::suspend(app.db.store.as_ref(), "alpha", &loyalty_core::domain::ledger::Actor::operator("ops"), loyalty_testkit::fixed_clock_now()).await.unwrap();
        let (s, body) = app.call(&admin, "GET", &format!("/api/v1/orgs/alpha/customers/{}", c["id"].as_str().unwrap()), None).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (403, Some("org.suspended")));
        let (s, body) = app.call(&admin, "POST", "/api/v1/orgs/alpha/purchases", Some(serde_json::json!({"customer_id": c["id"], "amount": "1"}))).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (403, Some("org.suspended")));
        loyalty_core::service::orgs::activate(app.db.store.as_ref(), "alpha", &loyalty_core::domain::ledger::Actor::operator("ops"), loyalty_testkit::fixed_clock_now()).await.unwrap();
        let (s, _) = app.call(&admin, "GET", &format!("/api/v1/orgs/alpha/customers/{}", c["id"].as_str().unwrap()), None).await;
        assert_eq!(s, 200, "data kept");
    }

    async fn a_revoked_or_foreign_token_is_refused(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (s, t) = app.call(&admin, "POST", "/api/v1/orgs/alpha/tokens", Some(serde_json::json!({"name": "till 1", "role": "cashier"}))).await;
        assert_eq!(s, 201);
        let till = Who::Token(t["secret"].as_str().unwrap().to_owned());
        assert_eq!(app.call(&till, "GET", "/api/v1/orgs/alpha/customers", None).await.0, 200);
        assert_eq!(app.call(&till, "GET", "/api/v1/orgs/beta/customers", None).await.0, 403);
        let (s, _) = app.call(&admin, "DELETE", &format!("/api/v1/orgs/alpha/tokens/{}", t["id"].as_str().unwrap()), None).await;
        assert_eq!(s, 204);
        let (s, body) = app.call(&till, "GET", "/api/v1/orgs/alpha/customers", None).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (401, Some("auth.invalid_token")));
        let (s, body) = app.call(&Who::Token("not-ours".into()), "GET", "/api/v1/orgs/alpha/customers", None).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (401, Some("auth.invalid_token")));
        let (s, body) = app.call_raw(&admin, "GET", "/api/v1/orgs/alpha/customers", None, &[("x-organization", "beta")]).await;
        assert_eq!((s.as_u16(), body["error"]["code"].as_str()), (400, Some("org.mismatch")));
    }
}
