//! A loyalty program in a real browser, on a clock the test controls (a Tuesday): the
//! admin creates a 10-stamp coffee card and a Tuesday double-points promotion and tries
//! them in the calculator; a cashier sees the breakdown before confirming and awards; the
//! customer sees the points and 1/10 stamps; the tenth visit offers the free coffee; a
//! refund takes that visit's stamp and promotion points back; the coffee is given.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, fill, wait_gone, wait_text,
};
use super::story::{set_password_and_sign_in, shot, sign_out};
use loyalty_core::clock::FixedClock;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{CustomerId, Role};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::points::{self, AwardRequest, Ctx};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;
use std::sync::Arc;
use thirtyfour::prelude::*;

async fn programs(db: TestDb, backend: &str) {
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
        name: Some("Corner Cafe".into()),
        slug: Some("cafe".into()),
        admin_email: Some("admin@cafe.example.com".into()),
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
    set_password_and_sign_in(d, &base, url.expose_secret(), "cafe_admin").await;
    wait_text(d, "h1", "Dashboard").await;

    // The admin creates the coffee card (no daily limit, so a test day holds ten visits)
    // and the Tuesday double, then tries a purchase in the calculator.
    click(d, "nav.tabs a[href$='/admin/program']").await;
    wait_text(d, "h1", "Program").await;
    fill(d, "card-name", "Coffee card").await;
    fill(d, "stamps_required", "10").await;
    fill(d, "card-min", "3.00").await;
    fill(d, "daily_limit", "").await;
    fill(d, "card-reward", "a free coffee").await;
    click(d, "#add-card button[type=submit]").await;
    wait_text(d, ".notice", "Program saved").await;
    fill(d, "promo-name", "Tuesday double").await;
    fill(d, "multiplier", "2").await;
    click(d, "#day-tuesday").await;
    click(d, "#add-promotion button[type=submit]").await;
    wait_text(d, ".notice", "Program saved").await;
    wait_text(d, "#program-version", "2").await;
    wait_text(d, "#promotions", "Tuesday double").await;
    fill(d, "signup_points", "5").await;
    click(d, "#bonuses button[type=submit]").await;
    wait_text(d, ".notice", "Program saved").await;
    wait_text(d, "#program-version", "3").await;
    fill(d, "calc-amount", "25.00").await;
    fill(d, "calc-date", "12/08/2026").await;
    click(d, "#calculator button[type=submit]").await;
    wait_text(
        d,
        "#calc-result",
        "earns 50 points: 25 base + 25 Tuesday double + 1 stamp Coffee card (1/10)",
    )
    .await;
    shot(d, backend, "admin-program").await;

    // A cashier.
    click(d, "nav.tabs a[href$='/admin/users']").await;
    fill(d, "username", "cafe_cashier").await;
    fill(d, "name", "Carl Cashier").await;
    fill(d, "email", "carl@cafe.example.com").await;
    click(d, "form[action$='/admin/users'] button[type=submit]").await;
    let cashier_link = wait_text(d, "#one-time-link", "/auth/set-password?token=").await;
    sign_out(d).await;

    // The cashier enrolls a customer with an online account, sees the breakdown, awards.
    set_password_and_sign_in(d, &base, &cashier_link, "cafe_cashier").await;
    fill(d, "q", "(202) 555-0123").await;
    d.find(By::Id("q"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, ".notice", "No customer").await;
    fill(d, "email", "dora@example.com").await;
    fill(d, "name", "Dora Customer").await;
    click(d, "input[name=account]").await;
    click(d, "form[action$='/till/enroll'] button[type=submit]").await;
    let customer_link = wait_text(d, "#one-time-link", "/auth/set-password?token=").await;
    click(d, "a.button").await;
    wait_text(d, "#cust-name", "Dora Customer").await;
    let till_url = d.current_url().await.unwrap().to_string();
    let customer = CustomerId(
        till_url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
    );
    fill(d, "amount", "25.00").await;
    wait_text(
        d,
        "#points-preview",
        "25 points (base; the next step adds promotions and stamps)",
    )
    .await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(
        d,
        "#breakdown",
        "25 base + 25 Tuesday double + 1 stamp Coffee card (1/10)",
    )
    .await;
    shot(d, backend, "till-breakdown").await;
    click(d, "#confirm-award").await;
    wait_text(d, ".notice", "Awarded 50 points").await;
    wait_text(d, "#stamp-cards", "1/10").await;
    sign_out(d).await;

    // The customer sees the points and the stamps.
    set_password_and_sign_in(d, &base, &customer_link, "dora@example.com").await;
    // 50 for the purchase, 5 for enrolling.
    wait_text(d, "#my-balance", "55").await;
    wait_text(d, "#my-cards", "Coffee card 1/10").await;
    shot(d, backend, "customer-stamps").await;
    sign_out(d).await;

    // Visits two to nine, at the till's use case.
    let org = db
        .store
        .organization_by_slug(&loyalty_core::domain::OrgSlug::parse("cafe").unwrap())
        .await
        .unwrap()
        .unwrap();
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
    for _ in 2..=9 {
        let amount = points::parse_amount(&ctx, "4.00").unwrap();
        let req = AwardRequest {
            customer,
            amount,
            currency: None,
            metadata: serde_json::json!({}),
        };
        points::award(&ctx, req, &uuid::Uuid::new_v4().to_string())
            .await
            .unwrap();
    }

    // The tenth visit fills the card: the till offers the free coffee.
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "cafe_cashier").await;
    fill(d, "password", super::story::PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Welcome").await;
    d.goto(&till_url).await.unwrap();
    wait_text(d, "#stamp-cards", "9/10").await;
    fill(d, "amount", "25.00").await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, "#breakdown", "1 stamp Coffee card (10/10)").await;
    click(d, "#confirm-award").await;
    wait_text(d, ".notice", "Awarded 50 points").await;
    wait_text(d, "#stamp-cards", "10/10").await;
    wait_text(d, "#stamp-cards button", "Give: a free coffee").await;
    let balance = 5 + 50 + 8 * 4 + 8 * 4 + 50;
    wait_text(d, "#balance", &balance.to_string()).await;
    shot(d, backend, "till-card-full").await;

    // A refund of that visit takes its stamp and its promotion points back.
    let newest = d
        .find(By::Css("a[href*='/reverse/']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    d.goto(format!("{base}{newest}")).await.unwrap();
    click(d, "main form button[type=submit]").await;
    wait_text(d, ".notice", "Reversed 50 points").await;
    wait_text(d, "#stamp-cards", "9/10").await;
    wait_gone(d, "#stamp-cards button").await;
    wait_text(d, "#balance", &(balance - 50).to_string()).await;

    // The visit again, and the coffee is given.
    fill(d, "amount", "25.00").await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, "#breakdown", "(10/10)").await;
    click(d, "#confirm-award").await;
    wait_text(d, "#stamp-cards button", "Give: a free coffee").await;
    click(d, "#stamp-cards button").await;
    wait_text(d, ".notice", "Stamp card reward given").await;
    wait_text(d, "#stamp-cards", "0/10").await;
    shot(d, backend, "till-coffee-given").await;
    assert_no_problems(d).await;
    assert!(db.store.check_invariants(None).await.unwrap().holds());
    browser.quit().await;
}

both_backends! {
    async fn a_coffee_card_and_a_tuesday_double_in_a_real_browser(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        programs(db, backend).await;
    }
}
