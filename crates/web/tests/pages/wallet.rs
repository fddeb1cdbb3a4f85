//! "Add to Apple Wallet" on the customer portal: the signed pass of the signed-in member,
//! with their card number and balance, signed with a certificate authority made in the
//! test; other roles are refused, and without `[wallet.apple]` there is no link and the
//! pass is 404.

use super::app::{TestApp, Who};
use super::wallet_ca::{make_ca, openssl};
use axum::body::Body;
use axum::http::Request;
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_core::service::wallet::apple::AppleIssuer;
use loyalty_identity::wallet::apple::{AppleWallet, PassSigner};
use loyalty_testkit::both_backends;
use loyalty_web::WebConfig;
use rust_decimal::Decimal;
use std::io::Read;
use std::sync::Arc;
use tower::ServiceExt;

fn wallet(dir: &std::path::Path) -> AppleWallet {
    wallet_with(dir, None)
}

/// The wallet with its web service at `web_service_url` (`None`: no updates).
fn wallet_with(dir: &std::path::Path, web_service_url: Option<&str>) -> AppleWallet {
    make_ca(dir);
    let signer = PassSigner::from_files(
        &dir.join("pass.pem"),
        &dir.join("pass.key"),
        &dir.join("wwdr.pem"),
    )
    .unwrap();
    AppleWallet::new(
        AppleIssuer {
            pass_type_id: "pass.test.loyalty".into(),
            team_id: "TEAMID1234".into(),
            web_service_url: web_service_url.map(str::to_owned),
        },
        signer,
    )
}

both_backends! {
    async fn the_portal_hands_the_member_a_signed_apple_wallet_pass(db) {
        let ca = tempfile::tempdir().unwrap();
        let app = TestApp::with_config(db, WebConfig {
            apple_wallet: Some(Arc::new(wallet(ca.path()))),
            ..WebConfig::default()
        }).await;
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        app.db.store.enroll_customer(app.a.id, &NewCustomer {
            phone: None, email: Some("alpha_customer@example.com".into()), name: Some("Cus".into()),
            card_number: "400000000006".into(), identity_subject: Some(customer.uid.clone()), created_by: None,
        }, &Actor::system(), loyalty_testkit::fixed_clock_now()).await.unwrap();

        let page = app.get(&customer, "/o/alpha/me").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("href=\"/o/alpha/me/wallet.pkpass\""), "{}", page.body);
        assert!(page.body.contains("Add to Apple Wallet"));

        let r = app.get(&customer, "/o/alpha/me/wallet.pkpass").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["content-type"], "application/vnd.apple.pkpass");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.raw.clone())).unwrap();
        let mut read = |name: &str| {
            let mut v = Vec::new();
            zip.by_name(name).unwrap().read_to_end(&mut v).unwrap();
            v
        };
        let pass: serde_json::Value = serde_json::from_slice(&read("pass.json")).unwrap();
        // The fields Apple's Pass reference requires at the top level, and a store card.
        for key in ["formatVersion", "passTypeIdentifier", "serialNumber", "teamIdentifier", "organizationName", "description"] {
            assert!(!pass[key].is_null(), "pass.json lacks {key}: {pass}");
        }
        assert_eq!(pass["formatVersion"], 1);
        assert_eq!(pass["passTypeIdentifier"], "pass.test.loyalty");
        assert_eq!(pass["teamIdentifier"], "TEAMID1234");
        assert_eq!(pass["organizationName"], "alpha market");
        assert!(pass["serialNumber"].as_str().unwrap().starts_with(&app.a.id.to_string()));
        assert_eq!(pass["barcodes"][0]["format"], "PKBarcodeFormatQR");
        assert_eq!(pass["barcodes"][0]["message"], "400000000006");
        assert_eq!(pass["barcodes"][1]["format"], "PKBarcodeFormatCode128");
        assert_eq!(pass["storeCard"]["primaryFields"][0]["key"], "balance");
        assert_eq!(pass["storeCard"]["primaryFields"][0]["value"], 0);
        assert!(pass["backgroundColor"].as_str().unwrap().starts_with("rgb("));
        assert!(pass["storeCard"]["backFields"][0]["value"].as_str().unwrap().contains("alpha market"));
        assert!(pass.get("webServiceURL").is_none(), "no web service is configured");
        read("icon.png");
        read("icon@2x.png");
        std::fs::write(ca.path().join("manifest.json"), read("manifest.json")).unwrap();
        std::fs::write(ca.path().join("signature"), read("signature")).unwrap();
        openssl(ca.path(), &["cms", "-verify", "-binary", "-inform", "DER", "-in", "signature", "-content", "manifest.json", "-CAfile", "root.pem", "-purpose", "any", "-out", "/dev/null"]);

        // Only the member's own card, only for customers.
        assert_eq!(app.get(&cashier, "/o/alpha/me/wallet.pkpass").await.status, 403);
        assert_eq!(app.get(&customer, "/o/beta/me/wallet.pkpass").await.status, 403);
        let anonymous = Who::anonymous();
        assert_eq!(app.get(&anonymous, "/o/alpha/me/wallet.pkpass").await.status, 303);
    }

    async fn without_apple_wallet_settings_the_portal_offers_no_pass(db) {
        let app = TestApp::new(db).await;
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        app.db.store.enroll_customer(app.a.id, &NewCustomer {
            phone: None, email: None, name: None,
            card_number: "400000000006".into(), identity_subject: Some(customer.uid.clone()), created_by: None,
        }, &Actor::system(), loyalty_testkit::fixed_clock_now()).await.unwrap();
        let page = app.get(&customer, "/o/alpha/me").await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("wallet.pkpass"));
        let r = app.get(&customer, "/o/alpha/me/wallet.pkpass").await;
        assert_eq!(r.status, 404);
        assert!(r.body.contains("<h1>"));
    }
}

/// A request as an iPhone's Wallet sends it to the pass's web service: JSON body,
/// `Authorization: ApplePass <token>`, `If-Modified-Since`; no cookie.
async fn device(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
    if_modified_since: Option<&str>,
) -> super::app::Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("ApplePass {t}"));
    }
    if let Some(ims) = if_modified_since {
        req = req.header("if-modified-since", ims);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    super::app::Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        raw: bytes.to_vec(),
    }
}

fn pass_json_of(pkpass: &[u8]) -> serde_json::Value {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(pkpass.to_vec())).unwrap();
    let mut v = Vec::new();
    zip.by_name("pass.json")
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    serde_json::from_slice(&v).unwrap()
}

both_backends! {
    async fn a_device_registers_the_pass_learns_of_a_new_balance_and_fetches_it(db) {
        let ca = tempfile::tempdir().unwrap();
        let app = TestApp::with_config(db, WebConfig {
            apple_wallet: Some(Arc::new(wallet_with(ca.path(), Some("http://127.0.0.1:8080/wallet/apple")))),
            ..WebConfig::default()
        }).await;
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        let member = app.db.store.enroll_customer(app.a.id, &NewCustomer {
            phone: None, email: None, name: Some("Cus".into()),
            card_number: "400000000006".into(), identity_subject: Some(customer.uid.clone()), created_by: None,
        }, &Actor::system(), loyalty_testkit::fixed_clock_now()).await.unwrap();

        // The download names the shop's web service and carries a token.
        let r = app.get(&customer, "/o/alpha/me/wallet.pkpass").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let pass = pass_json_of(&r.raw);
        assert_eq!(pass["webServiceURL"], "http://127.0.0.1:8080/wallet/apple/alpha");
        let token = pass["authenticationToken"].as_str().unwrap().to_owned();
        assert!(token.len() >= 16, "Apple asks for at least 16 characters");
        let serial = pass["serialNumber"].as_str().unwrap().to_owned();
        let base = "/wallet/apple/alpha/v1";
        let dev = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
        let reg = format!("{base}/devices/{dev}/registrations/pass.test.loyalty/{serial}");
        let push = serde_json::json!({"pushToken": "00ff00ff00ff00ff00ff00ff00ff00ff"});

        // Registration: the pass's token is required.
        let r = device(&app, "POST", &reg, None, Some(push.clone()), None).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("auth.required"), "{}", r.body);
        let r = device(&app, "POST", &reg, Some("0123456789abcdef0123456789abcdef"), Some(push.clone()), None).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("auth.invalid_token"), "{}", r.body);
        let r = device(&app, "POST", &reg, Some(&token), Some(serde_json::json!({"pushToken": "no spaces allowed"})), None).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("pushToken"), "{}", r.body);
        assert_eq!(device(&app, "POST", &reg, Some(&token), Some(push.clone()), None).await.status, 201);
        assert_eq!(device(&app, "POST", &reg, Some(&token), Some(push.clone()), None).await.status, 200);

        // What changed: everything at first, nothing since the tag.
        let list = format!("{base}/devices/{dev}/registrations/pass.test.loyalty");
        let r = device(&app, "GET", &list, None, None, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let changed: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(changed["serialNumbers"], serde_json::json!([serial]));
        let tag = changed["lastUpdated"].as_str().unwrap().to_owned();
        let r = device(&app, "GET", &format!("{list}?passesUpdatedSince={tag}"), None, None, None).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(device(&app, "GET", &format!("{list}?passesUpdatedSince=yesterday"), None, None, None).await.status, 422);

        // The latest pass, and 304 while it has not changed.
        let latest = format!("{base}/passes/pass.test.loyalty/{serial}");
        assert_eq!(device(&app, "GET", &latest, None, None, None).await.status, 401);
        let r = device(&app, "GET", &latest, Some(&token), None, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["content-type"], "application/vnd.apple.pkpass");
        let modified = r.headers["last-modified"].to_str().unwrap().to_owned();
        assert_eq!(pass_json_of(&r.raw)["storeCard"]["primaryFields"][0]["value"], 0);
        let r = device(&app, "GET", &latest, Some(&token), None, Some(&modified)).await;
        assert_eq!(r.status, 304);

        // An award moves the pass: it is listed since the tag, and is no longer 304.
        let award = PointsCommand::Award {
            customer: member.id,
            amount: Decimal::new(5000, 2),
            currency: app.a.currency.to_string(),
            points: 50,
            metadata: serde_json::json!({}),
            receipt: false,
            unusual: None,
            program: None,
        };
        app.db.store.apply_points(app.a.id, &award, &Actor::system(), None, loyalty_testkit::fixed_clock_now()).await.unwrap();
        let r = device(&app, "GET", &format!("{list}?passesUpdatedSince={tag}"), None, None, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let changed: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(changed["serialNumbers"], serde_json::json!([serial]));
        assert_ne!(changed["lastUpdated"].as_str().unwrap(), tag);
        let r = device(&app, "GET", &latest, Some(&token), None, Some(&modified)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let fresh = pass_json_of(&r.raw);
        assert_eq!(fresh["storeCard"]["primaryFields"][0]["value"], 50);
        assert_eq!(fresh["authenticationToken"], token.as_str(), "the new version keeps the device's token");
        assert_ne!(r.headers["last-modified"].to_str().unwrap(), modified);

        // Another shop's web service knows nothing of this pass or device.
        let other = format!("/wallet/apple/beta/v1/passes/pass.test.loyalty/{serial}");
        assert_eq!(device(&app, "GET", &other, Some(&token), None, None).await.status, 404);
        let other_list = format!("/wallet/apple/beta/v1/devices/{dev}/registrations/pass.test.loyalty");
        assert_eq!(device(&app, "GET", &other_list, None, None, None).await.status, 204);
        // Another pass type is not ours.
        let foreign = format!("{base}/passes/pass.other.type/{serial}");
        assert_eq!(device(&app, "GET", &foreign, Some(&token), None, None).await.status, 404);

        // The log, then unregistering: nothing is listed any more.
        let r = device(&app, "POST", &format!("{base}/log"), None, Some(serde_json::json!({"logs": ["Web service error"]})), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(device(&app, "DELETE", &reg, None, None, None).await.status, 401);
        assert_eq!(device(&app, "DELETE", &reg, Some(&token), None, None).await.status, 200);
        assert_eq!(device(&app, "GET", &list, None, None, None).await.status, 204);
    }

    async fn without_apple_wallet_the_web_service_is_not_there(db) {
        let app = TestApp::new(db).await;
        let r = device(&app, "GET", "/wallet/apple/alpha/v1/devices/abc/registrations/pass.test.loyalty", None, None, None).await;
        assert_eq!(r.status, 404);
    }

    async fn the_portal_offers_save_to_google_wallet_and_serves_the_shops_logo(db) {
        let dir = tempfile::tempdir().unwrap();
        openssl(dir.path(), &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.pem"]);
        std::fs::write(dir.path().join("sa.json"), serde_json::json!({
            "client_email": "loyalty@example-project.iam.gserviceaccount.com",
            "private_key": std::fs::read_to_string(dir.path().join("sa.pem")).unwrap(),
        }).to_string()).unwrap();
        let google = loyalty_identity::wallet::google::GoogleWallet::from_key_file(
            "3388000000012345678", &dir.path().join("sa.json"), "http://127.0.0.1:8080",
        ).unwrap();
        let app = TestApp::with_config(db, WebConfig {
            google_wallet: Some(Arc::new(google)),
            ..WebConfig::default()
        }).await;
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        app.db.store.enroll_customer(app.a.id, &NewCustomer {
            phone: None, email: None, name: None,
            card_number: "400000000006".into(), identity_subject: Some(customer.uid.clone()), created_by: None,
        }, &Actor::system(), loyalty_testkit::fixed_clock_now()).await.unwrap();
        let page = app.get(&customer, "/o/alpha/me").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("href=\"https://pay.google.com/gp/v/save/ey"), "{}", page.body);
        assert!(page.body.contains("Save to Google Wallet"));
        assert!(!page.body.contains("wallet.pkpass"), "no Apple Wallet without its settings");

        let anonymous = Who::anonymous();
        let logo = app.get(&anonymous, "/o/alpha/wallet/logo.png").await;
        assert_eq!(logo.status, 200);
        assert_eq!(logo.headers["content-type"], "image/png");
        assert!(logo.raw.starts_with(b"\x89PNG"));
        assert_eq!(app.get(&anonymous, "/o/nosuchshop/wallet/logo.png").await.status, 404);
    }
}
