//! The loyalty program through the API: an admin adds a stamp card and a promotion, the
//! till previews and awards with the breakdown, a refund takes every grant back, a full
//! card is exchanged for its reward, and bad input is refused field by field; the
//! ledger export's breakdown in the shop's language; tiers created, changed, listed and
//! ended (validation, roles, tenancy) and their place in the OpenAPI document.

use super::app::{TestApp, Who};
use super::exports::{brazilian_shop, entry_at, get_raw, read_csv};
use loyalty_testkit::both_backends;
use serde_json::json;
use time::macros::datetime;

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

    async fn the_ledger_export_says_what_each_award_earned_in_the_shops_language(db) {
        // The test clock stands on Thursday 23 January 2025, 11:05 in São Paulo.
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        let (cashier, _) = app.person("padaria_cashier", &["padaria-cashiers"]).await;
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/padaria/program/stamp-cards", Some(json!({
            "name": "Cartão do café", "stamps_required": 10, "min_amount": "3.00", "reward": "um café"}))).await;
        assert_eq!(s, 201, "{p}");
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/padaria/program/promotions", Some(json!({
            "name": "Quinta em dobro", "multiplier": "2", "days": ["thursday"]}))).await;
        assert_eq!(s, 201, "{p}");
        let (s, c) = app.call(&cashier, "POST", "/api/v1/orgs/padaria/customers", Some(json!({"email": "joao@example.com"}))).await;
        assert_eq!(s, 201, "{c}");
        let cid = c["id"].as_str().unwrap().to_owned();
        let (s, a) = app.call(&cashier, "POST", "/api/v1/orgs/padaria/purchases", Some(json!({"customer_id": cid, "amount": "25.00"}))).await;
        assert_eq!((s.as_u16(), a["balance"].as_i64()), (201, Some(50)), "{a}");
        let pid = a["purchase"]["id"].as_str().unwrap().to_owned();
        app.call(&cashier, "POST", &format!("/api/v1/orgs/padaria/purchases/{pid}/reverse"), None).await;
        entry_at(&app, &org, cid.parse().unwrap(), 5, "Cortesia", datetime!(2025-01-23 15:00 UTC)).await;

        // The shop's spreadsheet: `;`, Portuguese headers and words; the breakdown is the last column.
        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?from=2025-01-01&to=2025-01-31").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let rows = read_csv(&body, ';');
        assert_eq!(rows[0].last().map(String::as_str), Some("Detalhamento"));
        let said: Vec<(&str, &str)> = rows.iter().skip(1).map(|r| (r[3].as_str(), r[9].as_str())).collect();
        assert_eq!(said, [
            ("earned", "25 base + 25 Quinta em dobro + 1 selo Cartão do café (1/10)"),
            ("reversed", ""),
            ("adjusted", ""),
        ], "an award says what each rule gave; a refund and an adjustment say nothing more");
        // The machine style is English, whatever the shop's language.
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?from=2025-01-01&to=2025-01-31&style=machine").await;
        let rows = read_csv(&body, ',');
        assert_eq!((rows[0][9].as_str(), rows[1][9].as_str()), ("breakdown", "25 base + 25 Quinta em dobro + 1 stamp Cartão do café (1/10)"));
        // The purchases export says it the same way.
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/purchases?from=2025-01-01&to=2025-01-31").await;
        let rows = read_csv(&body, ';');
        assert_eq!(rows[1][9], "25 base + 25 Quinta em dobro + 1 selo Cartão do café (1/10)");
    }

    async fn tiers_are_created_changed_listed_and_ended_by_their_own_shops_admins_only(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let (beta_admin, _) = app.person("beta_admin", &["beta-admins"]).await;
        let silver = json!({"name": "Silver", "threshold": "100", "multiplier": "1.5"});
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/tiers", Some(silver.clone())).await;
        assert_eq!((s.as_u16(), p["version"].as_i64()), (201, Some(1)), "{p}");
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/tiers", Some(json!({
            "name": "Gold", "threshold": "500", "multiplier": "2", "entry_bonus": 50}))).await;
        assert_eq!((s.as_u16(), p["version"].as_i64()), (201, Some(2)), "{p}");
        let gold = p["tiers"].as_array().unwrap().iter().find(|t| t["name"] == "Gold").unwrap()["id"].as_str().unwrap().to_owned();

        // Changed: how every tier qualifies.
        let (s, p) = app.call(&admin, "PUT", "/api/v1/orgs/alpha/program/tier-rules", Some(json!({"basis": "points", "window_months": 6, "grace_months": 2}))).await;
        assert_eq!((s.as_u16(), p["version"].as_i64(), p["tier_rules"]["grace_months"].as_i64()), (200, Some(3), Some(2)), "{p}");

        // Listed with the program, lowest first as the admin wrote them.
        let (s, p) = app.call(&cashier, "GET", "/api/v1/orgs/alpha/program", None).await;
        assert_eq!(s, 200, "{p}");
        let listed: Vec<(&str, &str, &str, i64, bool)> = p["tiers"].as_array().unwrap().iter().map(|t| (
            t["name"].as_str().unwrap(), t["threshold"].as_str().unwrap(), t["multiplier"].as_str().unwrap(),
            t["entry_bonus"].as_i64().unwrap(), t["ended"].as_bool().unwrap())).collect();
        assert_eq!(listed, [("Silver", "100", "1.5", 0, false), ("Gold", "500", "2", 50, false)]);
        assert_eq!(p["tier_rules"], json!({"basis": "points", "window_months": 6, "grace_months": 2}));

        // Bad input: every wrong field named, with the stable code.
        let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/tiers", Some(json!({
            "name": "", "threshold": "0", "multiplier": "11", "entry_bonus": -1}))).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("validation.failed")), "{e}");
        let fields: Vec<&str> = e["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["name", "threshold", "multiplier", "entry_bonus"]);
        let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/tiers", Some(json!({"name": "silver", "threshold": "500"}))).await;
        let fields: Vec<&str> = e["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!((s.as_u16(), fields), (422, vec!["name", "threshold"]), "names and thresholds differ between running tiers: {e}");
        let (s, e) = app.call(&admin, "PUT", "/api/v1/orgs/alpha/program/tier-rules", Some(json!({"basis": "visits", "window_months": 0, "grace_months": 13}))).await;
        let fields: Vec<&str> = e["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!((s.as_u16(), e["error"]["code"].as_str(), fields), (422, Some("validation.failed"), vec!["basis", "window_months", "grace_months"]), "{e}");
        let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/tiers", Some(json!({"name": "Bronze", "threshold": "50", "colour": "brown"}))).await;
        assert_eq!((s.as_u16() / 100, e["error"]["code"].is_string()), (4, true), "an unknown field is refused: {e}");

        // A cashier reads, never changes; another shop's admin reaches nothing here.
        for (method, path, body) in [
            ("POST", "/api/v1/orgs/alpha/program/tiers", Some(json!({"name": "Bronze", "threshold": "50"}))),
            ("PUT", "/api/v1/orgs/alpha/program/tier-rules", Some(json!({"basis": "spend", "window_months": 12}))),
            ("DELETE", &format!("/api/v1/orgs/alpha/program/rules/{gold}") as &str, None),
        ] {
            let (s, e) = app.call(&cashier, method, path, body.clone()).await;
            assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (403, Some("auth.forbidden")), "{method} {path}: {e}");
            let (s, e) = app.call(&beta_admin, method, path, body).await;
            assert_eq!(s.as_u16(), 403, "{method} {path}: {e}");
        }
        let (_, beta) = app.call(&beta_admin, "GET", "/api/v1/orgs/beta/program", None).await;
        assert_eq!(beta["tiers"], json!([]), "{beta}");

        // Progress is computed: 460 points earned, no tier before the recalculation, 40 to Gold.
        let (_, c) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/customers", Some(json!({"phone": "202-555-0100"}))).await;
        let cid = c["id"].as_str().unwrap().to_owned();
        let (s, a) = app.call(&cashier, "POST", "/api/v1/orgs/alpha/purchases", Some(json!({"customer_id": cid, "amount": "460.00"}))).await;
        assert_eq!(s, 201, "{a}");
        let (s, t) = app.call(&cashier, "GET", &format!("/api/v1/orgs/alpha/customers/{cid}/tier"), None).await;
        assert_eq!(s, 200, "{t}");
        assert_eq!((t["tier"].clone(), t["value"].as_str(), t["next"].as_str(), t["missing"].as_str(), t["ends_at"].clone()),
            (json!(null), Some("460"), Some("Gold"), Some("40"), json!(null)), "{t}");
        let (s, e) = app.call(&beta_admin, "GET", &format!("/api/v1/orgs/beta/customers/{cid}/tier"), None).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (404, Some("customer.not_found")), "another shop's customer: {e}");

        // Ended: gone from the running tiers, kept in the program's history; twice is refused.
        let (s, p) = app.call(&admin, "DELETE", &format!("/api/v1/orgs/alpha/program/rules/{gold}"), None).await;
        assert_eq!((s.as_u16(), p["version"].as_i64()), (200, Some(4)), "{p}");
        let ended: Vec<(&str, bool)> = p["tiers"].as_array().unwrap().iter().map(|t| (t["name"].as_str().unwrap(), t["ended"].as_bool().unwrap())).collect();
        assert_eq!(ended, [("Silver", false), ("Gold", true)]);
        let (s, e) = app.call(&admin, "DELETE", &format!("/api/v1/orgs/alpha/program/rules/{gold}"), None).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("validation.failed")), "{e}");
        let (_, t) = app.call(&cashier, "GET", &format!("/api/v1/orgs/alpha/customers/{cid}/tier"), None).await;
        assert_eq!((t["next"].clone(), t["missing"].clone()), (json!(null), json!(null)), "Silver is all that runs: {t}");
        // A new tier may take the ended one's name.
        let (s, p) = app.call(&admin, "POST", "/api/v1/orgs/alpha/program/tiers", Some(json!({"name": "Gold", "threshold": "400"}))).await;
        assert_eq!(s, 201, "{p}");
        let _ = silver;
    }

    async fn the_tier_operations_are_in_the_openapi_document_with_their_errors(db) {
        let app = TestApp::new(db).await;
        let (s, doc) = app.call(&Who::Anonymous, "GET", "/api/openapi.json", None).await;
        assert_eq!(s, 200);
        for (path, method, codes) in [
            ("/api/v1/orgs/{slug}/program/tiers", "post", &["validation.failed", "auth.forbidden", "program.changed"][..]),
            ("/api/v1/orgs/{slug}/program/tier-rules", "put", &["validation.failed", "auth.forbidden"][..]),
            ("/api/v1/orgs/{slug}/program/rules/{id}", "delete", &["validation.failed", "auth.forbidden"][..]),
            ("/api/v1/orgs/{slug}/program", "get", &[][..]),
            ("/api/v1/orgs/{slug}/customers/{id}/tier", "get", &["customer.not_found"][..]),
        ] {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} is documented");
            let described = op["responses"].to_string();
            for code in codes {
                assert!(described.contains(code), "{method} {path} documents {code}: {described}");
            }
        }
        let progress = &doc["components"]["schemas"]["TierProgress"]["properties"];
        for field in ["tier", "value", "basis", "next", "missing", "ends_at"] {
            assert!(progress[field].is_object(), "TierProgress.{field}: {progress}");
        }
        let tier = &doc["components"]["schemas"]["TierInput"]["properties"];
        for field in ["name", "threshold", "multiplier", "entry_bonus"] {
            assert!(tier[field].is_object(), "TierInput.{field}: {tier}");
        }
    }
}
