//! Amounts at a Brazilian till (pt-BR, BRL) in a real browser: "25.50" is shown live as
//! R$ 25,50 and awards 25 points; "2.550,00", above the shop's usual purchases, cannot be
//! confirmed until the cashier ticks the second confirmation, and its award is marked
//! in the audit log.

use super::harness::{
    Driver, Served, browser_available, click, fill, screenshots, wait_gone, wait_text,
};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;
use thirtyfour::prelude::*;

const PASSWORD: &str = "correct-horse-battery";

async fn amounts(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Padaria Gama".into()),
        slug: Some("gamma".into()),
        admin_email: Some("admin@gamma.example.com".into()),
        admin_name: Some("Bia Admin".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        language: Some("pt-BR".into()),
        currency: Some("BRL".into()),
        ..OnboardInput::default()
    }
    .validate()
    .unwrap();
    let report = onboard::onboard(
        db.store.as_ref(),
        &app.directory,
        app.state.clock.as_ref(),
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap();
    let Some(Credential::Link { url, .. }) = report.credential else {
        panic!("a link")
    };
    let org = report.org.clone();
    let browser = Driver::start().await;
    let d = browser.d();
    let shot = |name: &'static str| async move {
        d.screenshot(&screenshots().join(format!("{backend}-{name}.png")))
            .await
            .unwrap();
    };

    // The admin sets a password and signs in; admins use the till too.
    d.goto(url.expose_secret()).await.unwrap();
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_gone(d, "#confirm").await;
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "gamma_admin").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_gone(d, "form[action='/login']").await;
    d.goto(format!("{base}/o/gamma/till")).await.unwrap();
    click(d, "#enroll summary").await;
    fill(d, "email", "ana@example.com").await;
    fill(d, "name", "Ana Cliente").await;
    click(d, "form[action$='/till/enroll'] button[type=submit]").await;
    wait_text(d, "#cust-name", "Ana Cliente").await;

    // "25.50" is read as reais and cents, live and on the confirmation.
    fill(d, "amount", "25.50").await;
    let live = wait_text(d, "#points-preview", "25,50").await;
    assert!(live.contains("= 25 "), "{live}");
    shot("till-amount-pt-br").await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, "main .stats", "+25").await;
    click(d, "#confirm-award").await;
    wait_text(d, "#balance", "25").await;

    // 2.550,00 is above the usual purchases (no history: the floor, R$ 500,00).
    fill(d, "amount", "2.550,00").await;
    wait_text(d, "#points-preview", "2.550,00").await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, "#amount-unusual", "500,00").await;
    shot("till-unusual-amount").await;
    // The first confirmation alone does not send the form.
    click(d, "#confirm-award").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        d.find(By::Id("amount-unusual")).await.is_ok(),
        "still asking"
    );
    click(d, "#unusual-ok").await;
    click(d, "#confirm-award").await;
    wait_text(d, "#balance", "575").await;
    let log = db.store.audit_log(org.id, None, 20).await.unwrap();
    let marked = log
        .iter()
        .filter_map(|r| r.after.as_ref()?.get("unusual_amount").cloned())
        .collect::<Vec<_>>();
    assert_eq!(
        marked,
        vec![serde_json::json!({"bound": "500", "confirmed": true})]
    );
    super::harness::assert_no_problems(d).await;
    browser.quit().await;
}

both_backends! {
    async fn a_brazilian_till_reads_cents_and_asks_twice_for_an_unusual_amount(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        amounts(db, backend).await;
    }
}
