//! Claiming an online account in a real browser: a customer enrolled at the till (no
//! account) with a purchase; the cashier shows the claim QR link on the till; the
//! customer opens it, creates the account, sets a password, signs in and sees the
//! earlier purchase and balance, then gives marketing consent.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, fill, wait_text,
};
use loyalty_core::directory::{Directory, NewDirUser, find_or_create_group};
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_core::domain::{Email, GroupName, OrgStatus, Role, Username};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{TestDb, both_backends, fixed_clock_now};
use rust_decimal::Decimal;
use secrecy::SecretString;
use thirtyfour::prelude::*;

const PASSWORD: &str = "correct-horse-battery";

async fn sign_in(d: &WebDriver, base: &str, username: &str) {
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", username).await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Welcome").await;
}

async fn claim_story(db: TestDb) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Corner Shop".into()),
        slug: Some("corner".into()),
        admin_email: Some("admin@corner.example.com".into()),
        admin_name: Some("Cora".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    }
    .validate()
    .unwrap();
    let now = fixed_clock_now();
    let org = db
        .store
        .insert_organization(&plan.org, OrgStatus::Active, now)
        .await
        .unwrap();
    // A cashier account.
    let cashier = app
        .directory
        .create_user(&NewDirUser {
            username: Username::parse("corner_cashier").unwrap(),
            name: "Cass".into(),
            email: Some(Email::parse("cass@corner.example.com").unwrap()),
            attributes: serde_json::json!({}),
        })
        .await
        .unwrap();
    app.directory
        .set_password(cashier.pk, &SecretString::from(PASSWORD), false)
        .await
        .unwrap();
    let group = GroupName::new(&org.group_prefix, Role::Cashier).name();
    let (group, _) = find_or_create_group(&app.directory, &group, serde_json::json!({}))
        .await
        .unwrap();
    app.directory.add_member(&group, cashier.pk).await.unwrap();
    // Enrolled at the till by phone and email, with a purchase, no online account.
    let c = db
        .store
        .enroll_customer(
            org.id,
            &NewCustomer {
                phone: Some("+12025550188".into()),
                email: Some("dora@example.com".into()),
                name: Some("Dora Till".into()),
                card_number: "400000000022".into(),
                identity_subject: None,
                created_by: None,
            },
            &Actor::system(),
            now,
        )
        .await
        .unwrap();
    let award = PointsCommand::Award {
        customer: c.id,
        amount: Decimal::new(4200, 2),
        currency: org.currency.to_string(),
        points: 42,
        metadata: serde_json::json!({}),
        receipt: false,
        unusual: None,
        program: None,
    };
    db.store
        .apply_points(org.id, &award, &Actor::system(), None, now)
        .await
        .unwrap();

    let browser = Driver::start().await;
    let d = browser.d();
    sign_in(d, &base, "corner_cashier").await;
    d.goto(format!("{base}/o/corner/till/c/{}", c.id))
        .await
        .unwrap();
    wait_text(d, "#cust-name", "Dora Till").await;
    click(d, "form[action$='/claim'] button[value=show]").await;
    let url = wait_text(d, "#claim-url", "/o/corner/claim/").await;
    assert!(
        d.find(By::Css(".qr svg")).await.is_ok(),
        "a QR code is shown"
    );
    assert_no_problems(d).await;
    click(d, "form[action='/logout'] button").await;
    wait_text(d, "h1", "Sign in").await;

    // The customer opens the link (as the QR code would) and claims the account.
    d.goto(&url).await.unwrap();
    wait_text(d, "h1", "Corner Shop").await;
    wait_text(d, "#claim-balance", "42").await;
    click(d, "main form button[type=submit]").await;
    wait_text(d, "h1", "password").await;
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_text(d, "h1", "Your password is set").await;
    sign_in(d, &base, "dora@example.com").await;
    click(d, ".picker a").await;
    wait_text(d, "#my-balance", "42").await;
    wait_text(d, "main table", "Purchase").await;
    assert_no_problems(d).await;
    // Marketing consent, given in the portal.
    click(d, "#consent-form button").await;
    wait_text(d, ".notice", "Your choice is saved").await;
    wait_text(d, "#marketing-state", "You receive news and offers").await;
    browser.quit().await;
}

both_backends! {
    async fn a_customer_enrolled_at_the_till_claims_the_account_in_a_browser(db) {
        claim_story(db).await;
    }
}
