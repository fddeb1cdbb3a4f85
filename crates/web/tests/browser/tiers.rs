//! Tiers in a real browser, on a clock the test controls (a Tuesday): the admin creates
//! Silver and Gold through the program page's form and asks the calculator what a Gold
//! member earns; after the recalculation a cashier's till shows a customer's tier and
//! the progress to the next one.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, fill, wait_text,
};
use super::story::{set_password_and_sign_in, shot, sign_out};
use loyalty_core::clock::FixedClock;
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_core::domain::{OrgSlug, Role};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::points::{self, AwardRequest, Ctx};
use loyalty_core::service::tiers;
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;
use std::sync::Arc;
use thirtyfour::prelude::*;

async fn tier_story(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    // Tuesday 2026-12-08, noon in New York.
    let clock = Arc::new(FixedClock::new(
        time::macros::datetime!(2026-12-08 17:00 UTC),
    ));
    let app = Served::start_with_clock(&db, clock.clone()).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Tier Cafe".into()),
        slug: Some("tiercafe".into()),
        admin_email: Some("admin@tiercafe.example.com".into()),
        admin_name: Some("Ana Admin".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    }
    .validate()
    .unwrap();
    let report = onboard::onboard(
        db.store.as_ref(),
        &app.directory,
        clock.as_ref(),
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap();
    let Some(Credential::Link { url, .. }) = report.credential else {
        panic!("a link")
    };
    let browser = Driver::start().await;
    let d = browser.d();
    set_password_and_sign_in(d, &base, url.expose_secret(), "tiercafe_admin").await;
    wait_text(d, "h1", "Dashboard").await;

    // The admin adds Silver and Gold through the form.
    click(d, "nav.tabs a[href$='/admin/program']").await;
    wait_text(d, "h1", "Program").await;
    for (name, threshold, multiplier, bonus) in
        [("Silver", "100", "1.5", ""), ("Gold", "500", "2", "50")]
    {
        fill(d, "tier-name", name).await;
        fill(d, "tier-threshold", threshold).await;
        fill(d, "tier-multiplier", multiplier).await;
        fill(d, "tier-bonus", bonus).await;
        click(d, "#add-tier button[type=submit]").await;
        wait_text(d, ".notice", "Program saved").await;
        wait_text(d, "#tiers", name).await;
    }
    wait_text(d, "#program-version", "2").await;

    // The calculator: a 25.00 purchase by a Gold member doubles the base.
    fill(d, "calc-amount", "25.00").await;
    fill(d, "calc-date", "12/08/2026").await;
    click(d, "#calc-tier").await;
    d.find(By::XPath(
        "//select[@id='calc-tier']/option[normalize-space()='Gold']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    click(d, "#calculator button[type=submit]").await;
    wait_text(d, "#calc-result", "earns 50 points: 25 base + 25 Gold").await;
    shot(d, backend, "admin-tier-calculator").await;

    // A cashier.
    click(d, "nav.tabs a[href$='/admin/users']").await;
    fill(d, "username", "tiercafe_cashier").await;
    fill(d, "name", "Carl Cashier").await;
    fill(d, "email", "carl@tiercafe.example.com").await;
    click(d, "form[action$='/admin/users'] button[type=submit]").await;
    let cashier_link = wait_text(d, "#one-time-link", "/auth/set-password?token=").await;
    sign_out(d).await;

    // A customer earns 460 points; the recalculation makes them Silver.
    let org = db
        .store
        .organization_by_slug(&OrgSlug::parse("tiercafe").unwrap())
        .await
        .unwrap()
        .unwrap();
    let customer = db
        .store
        .enroll_customer(
            org.id,
            &NewCustomer {
                phone: None,
                email: Some("dora@example.com".into()),
                name: Some("Dora Customer".into()),
                card_number: "400000000014".into(),
                identity_subject: None,
                created_by: None,
            },
            &Actor::system(),
            loyalty_core::clock::Clock::now(clock.as_ref()),
        )
        .await
        .unwrap()
        .id;
    let ctx = Ctx {
        store: db.store.as_ref(),
        clock: clock.as_ref(),
        org: &org,
        actor: Actor {
            member_id: None,
            label: "till".into(),
            role: "cashier".into(),
            request_id: None,
        },
        role: Role::Cashier,
    };
    let req = AwardRequest {
        customer,
        amount: points::parse_amount(&ctx, "460.00").unwrap(),
        currency: None,
        metadata: serde_json::json!({}),
    };
    points::award(&ctx, req, "tier-story-award").await.unwrap();
    let moved = tiers::recalculate(db.store.as_ref(), clock.as_ref(), &org)
        .await
        .unwrap();
    assert_eq!(moved.up, 1, "{moved:?}");

    // The cashier's till: the tier and what is missing to the next one.
    set_password_and_sign_in(d, &base, &cashier_link, "tiercafe_cashier").await;
    d.goto(format!("{base}/o/tiercafe/till/c/{customer}"))
        .await
        .unwrap();
    wait_text(d, "#cust-name", "Dora Customer").await;
    wait_text(d, "#tier-name", "Silver").await;
    wait_text(d, "#tier-progress", "40 points to Gold").await;
    shot(d, backend, "till-tier-progress").await;
    // A Silver member's purchase: the tier's part in the breakdown.
    fill(d, "amount", "10.00").await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, "#breakdown", "10 base + 5 Silver").await;
    shot(d, backend, "till-tier-breakdown").await;
    assert_no_problems(d).await;
    browser.quit().await;
}

both_backends! {
    async fn an_admin_adds_tiers_and_the_till_shows_a_members_tier_and_progress(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        tier_story(db, backend).await;
    }
}
