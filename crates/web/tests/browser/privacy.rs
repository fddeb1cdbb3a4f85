//! A customer's own data in a real browser: they download their data package from the
//! portal ("Download my data") and erase their account there; afterwards their name,
//! email and phone are gone, their ledger stays, and they can no longer sign in.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, download, fill, wait_text,
};
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{Actor, CustomerKey};
use loyalty_core::service::join::{self, JoinInput};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::points::Ctx;
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;
use std::io::Read;

const PASSWORD: &str = "correct-horse-battery";

async fn journey(db: TestDb) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Padaria Privada".into()),
        slug: Some("padaria".into()),
        admin_email: Some("admin@padaria.example.com".into()),
        admin_name: Some("Paula Admin".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    }
    .validate()
    .unwrap();
    let org = onboard::onboard(
        db.store.as_ref(),
        &app.directory,
        app.state.clock.as_ref(),
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap()
    .org;
    let joined = join::join(
        db.store.as_ref(),
        &app.directory,
        app.state.clock.as_ref(),
        &org,
        &JoinInput {
            name: "Renata Privacidade".into(),
            email: "renata.privacidade@example.net".into(),
            phone: "202-555-0142".into(),
            marketing: false,
        },
    )
    .await
    .unwrap();
    let Some(Credential::Link { url, .. }) = joined.credential else {
        panic!("a link")
    };
    let cashier = Ctx {
        store: db.store.as_ref(),
        clock: app.state.clock.as_ref(),
        org: &org,
        actor: Actor {
            member_id: None,
            label: "till-1".into(),
            role: "cashier".into(),
            request_id: None,
        },
        role: Role::Cashier,
    };
    loyalty_testkit::till::award(
        &cashier,
        joined.customer.id,
        "18.00",
        None,
        serde_json::json!({}),
        "privacy-award-1",
    )
    .await
    .unwrap();

    let browser = Driver::start().await;
    let d = browser.d();
    d.goto(url.expose_secret()).await.unwrap();
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_text(d, "h1", "Your password is set").await;
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "renata.privacidade@example.net").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Welcome").await;
    d.goto(format!("{base}/o/padaria/me")).await.unwrap();
    wait_text(d, "#my-balance", "18").await;
    assert_no_problems(d).await;

    // "Download my data": a zip with the README, the JSON and the CSVs.
    let downloads = tempfile::tempdir().unwrap();
    let file = download(d, downloads.path(), "#download-my-data").await;
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("my-data-padaria-") && name.ends_with(".zip"),
        "{name}"
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
    let mut profile = String::new();
    zip.by_name("profile.csv")
        .unwrap()
        .read_to_string(&mut profile)
        .unwrap();
    assert!(profile.contains("Renata Privacidade"), "{profile}");
    assert!(
        profile.contains("renata.privacidade@example.net"),
        "{profile}"
    );
    let mut purchases = String::new();
    zip.by_name("purchases.csv")
        .unwrap()
        .read_to_string(&mut purchases)
        .unwrap();
    assert!(purchases.contains(",18.00,USD,18,"), "{purchases}");
    assert!(zip.by_name("README.txt").is_ok() && zip.by_name("data.json").is_ok());

    // "Erase my account", confirmed with the word.
    fill(d, "confirm-erase", "ERASE").await;
    click(d, "#erase-my-account").await;
    wait_text(d, "h1", "Your account was erased").await;
    assert_no_problems(d).await;
    let row = db
        .store
        .find_customer(org.id, &CustomerKey::Id(joined.customer.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.email, row.phone, row.identity_subject),
        (None, None, None)
    );
    assert!(row.name.unwrap().starts_with("erased-"));
    assert_eq!(row.balance, 18, "the ledger stays");

    // Signed out, and the account is gone.
    d.goto(format!("{base}/o/padaria/me")).await.unwrap();
    wait_text(d, "h1", "Sign in").await;
    fill(d, "username", "renata.privacidade@example.net").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Sign in").await;
    let page = d.source().await.unwrap();
    assert!(!page.contains("Renata Privacidade"));
    browser.quit().await;
}

both_backends! {
    async fn a_customer_downloads_their_data_and_erases_their_account(db) {
        journey(db).await;
    }
}
