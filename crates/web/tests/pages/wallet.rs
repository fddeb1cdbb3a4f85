//! "Add to Apple Wallet" on the customer portal: the signed pass of the signed-in member,
//! with their card number and balance, signed with a certificate authority made in the
//! test; other roles are refused, and without `[wallet.apple]` there is no link and the
//! pass is 404.

use super::app::{TestApp, Who};
use super::wallet_ca::{make_ca, openssl};
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_core::service::wallet::apple::AppleIssuer;
use loyalty_identity::wallet::apple::{AppleWallet, PassSigner};
use loyalty_testkit::both_backends;
use loyalty_web::WebConfig;
use std::io::Read;
use std::sync::Arc;

fn wallet(dir: &std::path::Path) -> AppleWallet {
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
            web_service_url: None,
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
