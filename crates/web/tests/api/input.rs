//! Bad input on every writing endpoint: 4xx with a stable code, nothing written.

use super::app::{TestApp, Who};
use loyalty_testkit::both_backends;

both_backends! {
    async fn bad_input_on_every_endpoint_is_a_coded_4xx_and_writes_nothing(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (_, c) = app.call(&admin, "POST", "/api/v1/orgs/alpha/customers", Some(serde_json::json!({"phone": "202-555-0100"}))).await;
        let cid = c["id"].as_str().unwrap().to_owned();
        let (_, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/purchases", Some(serde_json::json!({"customer_id": cid, "amount": "10"}))).await;
        let pid = p["purchase"]["id"].as_str().unwrap().to_owned();
        let audit_before = app.call(&admin, "GET", "/api/v1/orgs/alpha/audit?limit=200", None).await.1["items"].as_array().unwrap().len();
        let missing = uuid::Uuid::new_v4().to_string();
        let big = "x".repeat(100 * 1024);
        let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some("{}".into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some(r#"{"phone": 5}"#.into()), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some(r#"{"phone": "12"}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some(r#"{"email": "nope"}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some(r#"{"phone": "202-555-0100"}"#.into()), 409, "customer.exists"),
            ("POST", "/api/v1/orgs/alpha/customers".into(), Some(r#"{"phone": "202-555-0199", "balance": 1000}"#.into()), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some("{".into()), 400, "request.malformed_json"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some("{}".into()), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}"}}"#)), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": true}}"#)), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "-1"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": 0}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "1.005"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "+5.00"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": " 10.00"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "10."}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": ".5"}}"#)), 422, "validation.failed"),
            ("POST", format!("/api/v1/orgs/alpha/purchases/{pid}/reverse"), Some(r#"{"amount": ".5"}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": 1e12}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "99999999999"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "5", "currency": "EUR"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{missing}", "amount": "5"}}"#)), 404, "customer.not_found"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(r#"{"customer_id": "not-a-uuid", "amount": "5"}"#.into()), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "5", "bonus": 1}}"#)), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/purchases".into(), Some(format!(r#"{{"customer_id": "{cid}", "amount": "5", "metadata": "{big}"}}"#)), 413, "request.too_large"),
            ("POST", format!("/api/v1/orgs/alpha/purchases/{missing}/reverse"), None, 404, "purchase.not_found"),
            ("POST", format!("/api/v1/orgs/alpha/purchases/{pid}/reverse"), Some(r#"{"amount": "11"}"#.into()), 422, "purchase.reverse_exceeds"),
            ("POST", format!("/api/v1/orgs/alpha/purchases/{pid}/reverse"), Some(r#"{"amount": "-1"}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/redemptions".into(), Some(format!(r#"{{"customer_id": "{cid}", "points": 1000}}"#)), 409, "points.insufficient"),
            ("POST", "/api/v1/orgs/alpha/redemptions".into(), Some(format!(r#"{{"customer_id": "{cid}", "points": -3}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/redemptions".into(), Some(format!(r#"{{"customer_id": "{cid}"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/redemptions".into(), Some(format!(r#"{{"customer_id": "{cid}", "reward_id": "{missing}"}}"#)), 404, "reward.not_found"),
            ("POST", "/api/v1/orgs/alpha/adjustments".into(), Some(format!(r#"{{"customer_id": "{cid}", "points": 5}}"#)), 422, "request.invalid_field"),
            ("POST", "/api/v1/orgs/alpha/adjustments".into(), Some(format!(r#"{{"customer_id": "{cid}", "points": 0, "reason": "x"}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/adjustments".into(), Some(format!(r#"{{"customer_id": "{cid}", "points": 5, "reason": ""}}"#)), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/rewards".into(), Some(r#"{"name": "", "cost_points": 0}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/rewards".into(), Some(r#"{"name": "X", "cost_points": 5, "stock": -1}"#.into()), 422, "validation.failed"),
            ("PUT", format!("/api/v1/orgs/alpha/rewards/{missing}"), Some(r#"{"name": "X", "cost_points": 5}"#.into()), 404, "reward.not_found"),
            ("POST", "/api/v1/orgs/alpha/tokens".into(), Some(r#"{"name": "", "role": "cashier"}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/tokens".into(), Some(r#"{"name": "t", "role": "customer"}"#.into()), 422, "validation.failed"),
            ("POST", "/api/v1/orgs/alpha/tokens".into(), Some(r#"{"name": "t", "role": "god"}"#.into()), 422, "request.invalid_field"),
            ("PUT", "/api/v1/orgs/alpha/settings/points".into(), Some(r#"{"points_per_unit": "-1", "min_purchase": "x", "expiry_days": 0, "join_enabled": true}"#.into()), 422, "validation.failed"),
            ("GET", "/api/v1/orgs/alpha/ledger?from=yesterday".into(), None, 422, "validation.failed"),
            ("GET", "/api/v1/orgs/alpha/ledger?cursor=zzz".into(), None, 400, "request.invalid_cursor"),
            ("GET", "/api/v1/orgs/alpha/ledger?limit=100000".into(), None, 422, "request.invalid_limit"),
            ("GET", "/api/v1/orgs/alpha/ledger?limit=abc".into(), None, 400, "request.query"),
            ("GET", "/api/v1/orgs/alpha/customers?limit=-1".into(), None, 400, "request.query"),
            ("GET", format!("/api/v1/orgs/alpha/customers/{cid}/ledger?limit=1.5"), None, 400, "request.query"),
            ("GET", "/api/v1/orgs/alpha/me/ledger?limit=abc".into(), None, 400, "request.query"),
            ("GET", "/api/v1/orgs/alpha/audit?limit=abc".into(), None, 400, "request.query"),
            ("GET", "/api/v1/orgs/alpha/customers/not-a-uuid".into(), None, 400, "request.path"),
            ("GET", "/api/v1/orgs/alpha/customers?q=nobody%40example.com".into(), None, 404, "customer.not_found"),
            ("GET", "/api/v1/orgs/NOPE/customers".into(), None, 404, "org.not_found"),
        ];
        for (method, path, body, status, code) in cases {
            let (s, answer) = app.call_raw(&admin, method, &path, body.clone(), &[]).await;
            assert_eq!((s.as_u16(), answer["error"]["code"].as_str()), (status, Some(code)), "{method} {path} {body:?}: {answer}");
            assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
            if code == "request.query" {
                assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("limit")), "names the parameter: {answer}");
            }
        }
        // A write without an Idempotency-Key is refused.
        let no_key = app.router.clone();
        let req = axum::http::Request::builder().method("POST").uri("/api/v1/orgs/alpha/redemptions")
            .header("cookie", match &admin { Who::Session(t) => format!("loyalty_session={t}"), _ => unreachable!() })
            .header("content-type", "application/json")
            .body(axum::body::Body::from(format!(r#"{{"customer_id": "{cid}", "points": 1}}"#))).unwrap();
        let resp = tower::ServiceExt::oneshot(no_key, req).await.unwrap();
        assert_eq!(resp.status(), 400);
        let audit_after = app.call(&admin, "GET", "/api/v1/orgs/alpha/audit?limit=200", None).await.1["items"].as_array().unwrap().len();
        assert_eq!(audit_before, audit_after, "nothing was written by any refused request");
        let (_, bal) = app.call(&admin, "GET", &format!("/api/v1/orgs/alpha/customers/{cid}/balance"), None).await;
        assert_eq!(bal["balance"], 10);
    }

    async fn a_retried_purchase_answers_the_same_and_awards_once(db) {
        let app = TestApp::new(db).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let (_, c) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/customers", Some(serde_json::json!({"email": "c@example.com"}))).await;
        let body = serde_json::json!({"customer_id": c["id"], "amount": 12.5}).to_string();
        let first = app.call_raw(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(body.clone()), &[("idempotency-key", "till-1-0001")]).await;
        let again = app.call_raw(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(body), &[("idempotency-key", "till-1-0001")]).await;
        assert_eq!(first.0, 201);
        assert_eq!(again.0, 201, "same status on a retry");
        assert_eq!(first.1["entry"], again.1["entry"]);
        assert_eq!(again.1["replayed"], true);
        assert_eq!(again.1["balance"], 12);
        let changed = serde_json::json!({"customer_id": c["id"], "amount": 13}).to_string();
        let (s, e) = app.call_raw(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(changed), &[("idempotency-key", "till-1-0001")]).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (409, Some("idempotency.mismatch")));
    }

    async fn staff_record_a_customer_s_marketing_consent_and_nobody_else_can(db) {
        let app = TestApp::new(db).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let (beta_admin, _) = app.person("beta_admin", &["beta-admins"]).await;
        let (customer, _) = app.person("alpha_customer", &["alpha-customers"]).await;
        let (_, c) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/customers", Some(serde_json::json!({"phone": "202-555-0100"}))).await;
        let cid = c["id"].as_str().unwrap().to_owned();
        assert_eq!(c["marketing_consent"]["granted"], false, "{c}");
        let path = format!("/api/v1/orgs/alpha/customers/{cid}/consent");

        let (s, body) = app.call(&cashier, "PUT", &path, Some(serde_json::json!({"granted": true}))).await;
        assert_eq!(s.as_u16(), 200, "{body}");
        assert_eq!(body["marketing_consent"]["granted"], true, "{body}");
        assert_eq!(body["marketing_consent"]["source"], "staff", "{body}");
        assert!(body["marketing_consent"]["at"].is_string(), "{body}");
        let (_, again) = app.call(&cashier, "GET", &format!("/api/v1/orgs/alpha/customers/{cid}"), None).await;
        assert_eq!(again["marketing_consent"]["granted"], true, "{again}");

        for (who, body, status, code) in [
            (&cashier, r#"{"granted": "yes"}"#, 422, "request.invalid_field"),
            (&cashier, r#"{}"#, 422, "request.invalid_field"),
            (&cashier, r#"{"granted": false, "source": "join"}"#, 422, "request.invalid_field"),
            (&customer, r#"{"granted": false}"#, 403, "auth.forbidden"),
        ] {
            let (s, e) = app.call_raw(who, "PUT", &path, Some(body.into()), &[]).await;
            assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (status, Some(code)), "{body}: {e}");
        }
        // Another shop's admin cannot reach this customer, by its own org or this one.
        let (s, _) = app.call(&beta_admin, "PUT", &format!("/api/v1/orgs/beta/customers/{cid}/consent"), Some(serde_json::json!({"granted": false}))).await;
        assert_eq!(s.as_u16(), 404);
        let (s, _) = app.call(&beta_admin, "PUT", &path, Some(serde_json::json!({"granted": false}))).await;
        assert!(matches!(s.as_u16(), 403 | 404), "{s}");
        let (_, still) = app.call(&cashier, "GET", &format!("/api/v1/orgs/alpha/customers/{cid}"), None).await;
        assert_eq!(still["marketing_consent"]["granted"], true, "nothing was changed by the refused calls: {still}");
    }
}
