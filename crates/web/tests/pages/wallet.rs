//! "Add to Apple Wallet" on the customer portal: the signed pass of the signed-in member,
//! with their card number and balance, signed with a certificate authority made in the
//! test; other roles are refused, and without `[wallet.apple]` there is no link and the
//! pass is 404.

use super::app::{CSRF, TestApp, Who};
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

/// The CRC-32 of PNG chunks.
fn png_crc(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The built-in icon (a real PNG) with its header saying `width` x `height`.
fn png_sized(width: u32, height: u32) -> Vec<u8> {
    let mut v = loyalty_identity::wallet::apple::DEFAULT_ICON_2X.to_vec();
    v[16..20].copy_from_slice(&width.to_be_bytes());
    v[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = png_crc(&v[12..29]);
    v[29..33].copy_from_slice(&crc.to_be_bytes());
    v
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

both_backends! {
    async fn the_admin_gives_the_cards_colours_and_a_logo_and_phones_are_told(db) {
        let ca = tempfile::tempdir().unwrap();
        let app = TestApp::with_config(db, WebConfig {
            apple_wallet: Some(Arc::new(wallet_with(ca.path(), Some("http://127.0.0.1:8080/wallet/apple")))),
            ..WebConfig::default()
        }).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let beta_admin = app.person("beta_admin", &["beta-admins"]).await;
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        app.db.store.enroll_customer(app.a.id, &NewCustomer {
            phone: None, email: None, name: Some("Cus".into()),
            card_number: "400000000006".into(), identity_subject: Some(customer.uid.clone()), created_by: None,
        }, &Actor::system(), loyalty_testkit::fixed_clock_now()).await.unwrap();
        // A phone holds the pass and registered for its updates.
        let first = pass_json_of(&app.get(&customer, "/o/alpha/me/wallet.pkpass").await.raw);
        let token = first["authenticationToken"].as_str().unwrap().to_owned();
        let serial = first["serialNumber"].as_str().unwrap().to_owned();
        let dev = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
        let reg = format!("/wallet/apple/alpha/v1/devices/{dev}/registrations/pass.test.loyalty/{serial}");
        let push = serde_json::json!({"pushToken": "00ff00ff00ff00ff00ff00ff00ff00ff"});
        assert_eq!(device(&app, "POST", &reg, Some(&token), Some(push), None).await.status, 201);
        let list = format!("/wallet/apple/alpha/v1/devices/{dev}/registrations/pass.test.loyalty");
        let tag: serde_json::Value = serde_json::from_str(&device(&app, "GET", &list, None, None, None).await.body).unwrap();
        let tag = tag["lastUpdated"].as_str().unwrap().to_owned();

        // The form is on the settings page.
        let page = app.get(&admin, "/o/alpha/admin/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("action=\"/o/alpha/admin/settings/wallet\""), "{}", page.body);
        assert!(page.body.contains("data-base64-into=\"wallet-logo\""));

        let logo = png_sized(480, 150);
        let path = "/o/alpha/admin/settings/wallet";
        let good = [("csrf", CSRF), ("background", "#0A3D62"), ("foreground", "#ffffff"), ("label", "#f8c291")];
        let mut fields = good.to_vec();
        let encoded = b64(&logo);
        fields.push(("logo", encoded.as_str()));
        let r = app.post(&admin, path, &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), "/o/alpha/admin/settings?done=wallet_saved");
        let page = app.get(&admin, "/o/alpha/admin/settings?done=wallet_saved").await;
        assert!(page.body.contains("value=\"#0a3d62\""), "{}", page.body);
        assert!(page.body.contains("480 x 150"), "{}", page.body);
        assert!(page.body.contains("The card&#39;s look was saved") || page.body.contains("The card's look was saved"), "{}", page.body);

        // The phone learns of the change and fetches the new look.
        let r = device(&app, "GET", &format!("{list}?passesUpdatedSince={tag}"), None, None, None).await;
        assert_eq!(r.status, 200, "the change moved the pass: {}", r.body);
        let due = app.db.store.claim_wallet_pushes(
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
            time::OffsetDateTime::now_utc() + time::Duration::days(2), 10,
        ).await.unwrap();
        assert_eq!(due.iter().filter(|p| p.target == "00ff00ff00ff00ff00ff00ff00ff00ff").count(), 1, "{due:?}");
        let r = device(&app, "GET", &format!("/wallet/apple/alpha/v1/passes/pass.test.loyalty/{serial}"), Some(&token), None, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.raw.clone())).unwrap();
        let mut read = |name: &str| {
            let mut v = Vec::new();
            zip.by_name(name).unwrap().read_to_end(&mut v).unwrap();
            v
        };
        let pass: serde_json::Value = serde_json::from_slice(&read("pass.json")).unwrap();
        assert_eq!(pass["backgroundColor"], "rgb(10, 61, 98)");
        assert_eq!(pass["foregroundColor"], "rgb(255, 255, 255)");
        assert_eq!(pass["labelColor"], "rgb(248, 194, 145)");
        assert_eq!(read("logo.png"), logo);
        assert_eq!(read("logo@2x.png"), logo);
        let manifest: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
        assert!(manifest["logo.png"].is_string() && manifest["logo@2x.png"].is_string(), "{manifest}");

        // The public logo for Google's class, with caching headers.
        let anonymous = Who::anonymous();
        let served = app.get(&anonymous, "/o/alpha/wallet/logo.png").await;
        assert_eq!(served.status, 200);
        assert_eq!(served.raw, logo);
        assert_eq!(served.headers["cache-control"], "public, max-age=3600");
        let etag = served.headers["etag"].to_str().unwrap().to_owned();
        let again = app.send(&anonymous, "GET", "/o/alpha/wallet/logo.png", None, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304);
        // The other shop still has the built-in look.
        let beta_logo = app.get(&anonymous, "/o/beta/wallet/logo.png").await;
        assert_eq!(beta_logo.raw, loyalty_identity::wallet::apple::DEFAULT_ICON_2X);
        assert_eq!(app.db.store.wallet_look(app.b.id).await.unwrap(), None);

        // Refusals: nothing changes, the page says why with the catalogue's text.
        let jpeg = [b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01".as_slice(), &[0u8; 600]].concat();
        let encoded = b64(&jpeg);
        let mut fields = good.to_vec();
        fields.push(("logo", encoded.as_str()));
        let r = app.post(&admin, path, &fields).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("The logo is not a PNG image"), "{}", r.body);
        let mut too_big = png_sized(100, 100);
        too_big.resize(300 * 1024, 0);
        let encoded = b64(&too_big);
        let mut fields = good.to_vec();
        fields.push(("logo", encoded.as_str()));
        let r = app.post(&admin, path, &fields).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("The logo is too large"), "{}", r.body);
        let encoded = b64(&png_sized(800, 100));
        let mut fields = good.to_vec();
        fields.push(("logo", encoded.as_str()));
        let r = app.post(&admin, path, &fields).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("The logo is too large"), "{}", r.body);
        let r = app.post(&admin, path, &[("csrf", CSRF), ("background", "blue"), ("foreground", "#fff"), ("label", "#000000")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("#rrggbb"), "{}", r.body);
        assert!(r.body.contains("value=\"blue\""), "the colours as typed: {}", r.body);
        let stored = app.db.store.wallet_look(app.a.id).await.unwrap().unwrap();
        assert_eq!(stored.logo.unwrap().png, logo);
        assert_eq!(stored.colours.unwrap().background, "#0a3d62");

        // Only the shop's admins, with the page's token.
        assert_eq!(app.post(&cashier, path, &good).await.status, 403);
        assert_eq!(app.post(&beta_admin, path, &good).await.status, 403);
        let r = app.post(&admin, path, &good[1..]).await;
        assert_ne!(r.status, 303, "a post without the token changes nothing");

        // Colours kept, logo removed; a low contrast is pointed out.
        let r = app.post(&admin, path, &[("csrf", CSRF), ("background", "#777777"), ("foreground", "#808080"), ("label", "#000000"), ("remove_logo", "on")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = app.get(&admin, "/o/alpha/admin/settings").await;
        assert!(page.body.contains("id=\"wallet-contrast\""), "{}", page.body);
        assert_eq!(app.db.store.wallet_look(app.a.id).await.unwrap().unwrap().logo, None);
        let pass = pass_json_of(&app.get(&customer, "/o/alpha/me/wallet.pkpass").await.raw);
        assert_eq!(pass["backgroundColor"], "rgb(119, 119, 119)");
        let audit = app.db.store.audit_log(app.a.id, None, 50).await.unwrap();
        let changes: Vec<_> = audit.iter().filter(|r| r.action == "org.wallet_look").collect();
        assert_eq!(changes.len(), 2, "one record per saved change, none for the refusals");
        let logged = changes[1].after.as_ref().unwrap().to_string();
        assert!(logged.contains("\"width\":480") && !logged.contains(&b64(&logo)[..40]), "the size, not the bytes: {logged}");
    }
}

both_backends! {
    async fn the_tills_qr_opens_the_members_card_once_within_its_minutes_and_only_theirs(db) {
        use loyalty_core::clock::FixedClock;
        use loyalty_core::domain::Role;
        use loyalty_core::service::points::Ctx;
        use loyalty_core::service::wallet::links;
        let ca = tempfile::tempdir().unwrap();
        openssl(ca.path(), &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.pem"]);
        std::fs::write(ca.path().join("sa.json"), serde_json::json!({
            "client_email": "loyalty@example-project.iam.gserviceaccount.com",
            "private_key": std::fs::read_to_string(ca.path().join("sa.pem")).unwrap(),
        }).to_string()).unwrap();
        let google = loyalty_identity::wallet::google::GoogleWallet::from_key_file(
            "3388000000012345678", &ca.path().join("sa.json"), "http://127.0.0.1:8080",
        ).unwrap();
        let app = TestApp::with_config(db, WebConfig {
            apple_wallet: Some(Arc::new(wallet_with(ca.path(), Some("http://127.0.0.1:8080/wallet/apple")))),
            google_wallet: Some(Arc::new(google)),
            ..WebConfig::default()
        }).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let enrol = |card: &str| NewCustomer {
            phone: None, email: None, name: Some("Cus".into()), card_number: card.into(),
            identity_subject: None, created_by: None,
        };
        let now = loyalty_testkit::fixed_clock_now();
        let member = app.db.store.enroll_customer(app.a.id, &enrol("400000000006"), &Actor::system(), now).await.unwrap();
        let other = app.db.store.enroll_customer(app.a.id, &enrol("400000000014"), &Actor::system(), now).await.unwrap();

        // The till shows the code for the open customer.
        let page = app.get(&cashier, &format!("/o/alpha/till/c/{}", member.id)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let at = page.body.find("id=\"till-wallet\"").expect("the wallet code");
        assert!(page.body[at..].contains("<svg"), "{}", page.body);

        let clock = FixedClock::new(now);
        let ctx = |org, role| Ctx { store: app.db.store.as_ref(), clock: &clock, org, actor: Actor::system(), role };
        let anonymous = Who::anonymous();
        let open = |org: &str, token: &str| format!("/o/{org}/wallet/link/{token}");

        // Once: the member's own pass, then no more.
        let token = links::till_link(&ctx(&app.a, Role::Cashier), member.id).await.unwrap();
        let r = app.get(&anonymous, &open("alpha", &token)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["content-type"], "application/vnd.apple.pkpass");
        let pass = pass_json_of(&r.raw);
        assert_eq!(pass["serialNumber"], format!("{}.{}", app.a.id, member.id));
        assert_eq!(pass["barcodes"][0]["message"], "400000000006");
        let again = app.get(&anonymous, &open("alpha", &token)).await;
        assert_eq!(again.status, 404);
        assert!(again.body.contains("already used or has expired"), "{}", again.body);

        // Another shop's address does not open it (nor use it up); a changed token opens nothing.
        let token = links::till_link(&ctx(&app.a, Role::Cashier), other.id).await.unwrap();
        assert_eq!(app.get(&anonymous, &open("beta", &token)).await.status, 404);
        let mut changed = token.clone();
        changed.replace_range(63.., if token.ends_with('0') { "1" } else { "0" });
        assert_eq!(app.get(&anonymous, &open("alpha", &changed)).await.status, 404);
        assert_eq!(app.get(&anonymous, &open("alpha", "not-a-token")).await.status, 404);
        // An Android phone is sent to Google's save link for the same member.
        let r = app.send(&anonymous, "GET", &open("alpha", &token), None, &[("user-agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8)")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location().starts_with("https://pay.google.com/gp/v/save/ey"), "{}", r.location());

        // Expired: a link made eleven minutes ago.
        let earlier = FixedClock::new(now - time::Duration::minutes(11));
        let old = links::till_link(&Ctx { store: app.db.store.as_ref(), clock: &earlier, org: &app.a, actor: Actor::system(), role: Role::Cashier }, member.id).await.unwrap();
        let r = app.get(&anonymous, &open("alpha", &old)).await;
        assert_eq!(r.status, 404);
        // Made nine minutes ago: still open.
        let recent = FixedClock::new(now - time::Duration::minutes(9));
        let fresh = links::till_link(&Ctx { store: app.db.store.as_ref(), clock: &recent, org: &app.a, actor: Actor::system(), role: Role::Cashier }, member.id).await.unwrap();
        assert_eq!(app.get(&anonymous, &open("alpha", &fresh)).await.status, 200);

        // Only staff, only for the shop's own customers.
        assert!(links::till_link(&ctx(&app.a, Role::Customer), member.id).await.is_err());
        assert!(links::till_link(&ctx(&app.b, Role::Cashier), member.id).await.is_err());
    }
}
