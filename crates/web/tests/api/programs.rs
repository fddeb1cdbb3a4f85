//! The loyalty program through the API: an admin adds a stamp card and a promotion, the
//! till previews and awards with the breakdown, a refund takes every grant back, a full
//! card is exchanged for its reward, and bad input is refused field by field.

use super::app::TestApp;
use loyalty_testkit::both_backends;
use serde_json::json;

both_backends! {
    async fn the_award_answer_shows_the_breakdown_and_a_refund_takes_it_back(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/stamp-cards", Some(json!({
            "name": "Coffee card", "stamps_required": 2, "min_amount": "3.00", "reward": "a free coffee"}))).await;
        assert_eq!((s.as_u16(), p["version"].as_i64()), (201, Some(1)), "{p}");
        let card = p["stamp_cards"][0]["id"].as_str().unwrap().to_owned();
        // The test clock stands on a Thursday.
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/promotions", Some(json!({
            "name": "Thursday double", "multiplier": "2", "days": ["thursday"]}))).await;
        assert_eq!((s.as_u16(), p["version"].as_i64()), (201, Some(2)), "{p}");
        let (_, c) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/customers", Some(json!({"phone": "202-555-0100"}))).await;
        let cid = c["id"].as_str().unwrap().to_owned();

        let (s, pv) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/program/preview", Some(json!({"amount": "25.00", "customer_id": cid}))).await;
        assert_eq!(s, 200, "{pv}");
        assert_eq!(pv["summary"], "25 base + 25 Thursday double + 1 stamp Coffee card (1/2)");

        let (s, a) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(json!({"customer_id": cid, "amount": "25.00"}))).await;
        assert_eq!((s.as_u16(), a["balance"].as_i64()), (201, Some(50)), "{a}");
        let grants = a["purchase"]["grants"].as_array().unwrap();
        assert_eq!(grants.iter().map(|g| g["rule"].as_str().unwrap()).collect::<Vec<_>>(), ["base", "promotion", "stamp_card"]);
        assert_eq!(grants[2]["id"], card);
        assert_eq!(a["purchase"]["program_version"], 2);
        assert_eq!(a["stamps"][0]["balance_after"], 1);

        let pid = a["purchase"]["id"].as_str().unwrap();
        let (s, r) = app.call(&cashier, "POST", &format!("/api/v1/orgs/alpha/purchases/{pid}/reverse"), None).await;
        assert_eq!((s.as_u16(), r["balance"].as_i64(), r["stamps"][0]["stamps"].as_i64()), (201, Some(0), Some(-1)), "{r}");

        // Two more visits fill the card (it has no daily limit); the till offers and gives the reward.
        app.call(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(json!({"customer_id": cid, "amount": "3.00"}))).await;
        app.call(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(json!({"customer_id": cid, "amount": "3.00"}))).await;
        let (_, cards) = app.call(&cashier, "GET", &format!("/api/v1/orgs/alpha/customers/{cid}/stamp-cards"), None).await;
        assert_eq!((cards[0]["stamps"].as_i64(), cards[0]["full"].as_bool()), (Some(2), Some(true)), "{cards}");
        let (s, r) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/stamp-card-redemptions", Some(json!({"customer_id": cid, "card_id": card}))).await;
        assert_eq!((s.as_u16(), r["entry"]["notes"].as_str()), (201, Some("Coffee card: a free coffee")), "{r}");
        let (s, r) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/stamp-card-redemptions", Some(json!({"customer_id": cid, "card_id": card}))).await;
        assert_eq!((s.as_u16(), r["error"]["code"].as_str()), (409, Some("stamps.insufficient")), "{r}");
    }

    async fn bad_program_input_names_the_field(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/promotions", Some(json!({
            "name": "Too much", "multiplier": "11", "days": ["funday"], "from_time": "25:00"}))).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("validation.failed")), "{e}");
        let fields: Vec<&str> = e["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["multiplier", "days", "from_time"]);
        let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/stamp-cards", Some(json!({"name": "X", "stamps_required": 1, "reward": "r", "colour": "red"}))).await;
        assert_eq!(s.as_u16() / 100, 4, "{e}");
        let (s, e) = app.call(&admin, "DELETE", &format!("/api/v1/orgs/alpha/program/rules/{}", uuid::Uuid::new_v4()), None).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("validation.failed")), "{e}");
        let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/preview", Some(json!({"amount": "5", "at": "tuesday"}))).await;
        assert_eq!((s.as_u16(), e["error"]["fields"][0]["field"].as_str()), (422, Some("at")), "{e}");
        let (s, e) = app.call(&admin, "GET", "/api/v1/orgs/alpha/program/versions/3", None).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (404, Some("program.version_not_found")), "{e}");
    }
}
