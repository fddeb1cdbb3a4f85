//! The runbook's steps 6.1-6.4 in a real browser: the admin signs in and creates a
//! cashier; the cashier sets a password through the one-time link, signs in, enrolls a
//! customer and awards points for a purchase, then redeems a reward; the customer signs
//! in and sees the balance, switches language; the admin downloads a CSV export and last
//! month's ledger as XLSX from the dashboard; a new
//! person joins through the public join page; the operator sees the console.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, download, fill, screenshots,
    wait_text,
};
use loyalty_core::directory::{Directory, NewDirUser, find_or_create_group};
use loyalty_core::domain::{Email, Username};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::{ExposeSecret, SecretString};
use thirtyfour::prelude::*;

pub(super) const PASSWORD: &str = "correct-horse-battery";

pub(super) async fn shot(d: &WebDriver, backend: &str, name: &str) {
    d.screenshot(&screenshots().join(format!("{backend}-{name}.png")))
        .await
        .unwrap();
}

/// Opens a one-time link, chooses the password, then signs in as `username`.
pub(super) async fn set_password_and_sign_in(
    d: &WebDriver,
    base: &str,
    link: &str,
    username: &str,
) {
    d.goto(link).await.unwrap();
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_text(d, "h1", "Your password is set").await;
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", username).await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    open_first_org(d).await;
}

/// From the start page, opens the first organization in the list.
async fn open_first_org(d: &WebDriver) {
    wait_text(d, "h1", "Welcome").await;
    click(d, ".picker a").await;
}

pub(super) async fn sign_out(d: &WebDriver) {
    click(d, "form[action='/logout'] button").await;
    wait_text(d, "h1", "Sign in").await;
}

async fn story(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("NextDoor Market".into()),
        slug: Some("nextdoor".into()),
        admin_email: Some("admin@nextdoor.com".into()),
        admin_name: Some("Nora Admin".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
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

    let browser = Driver::start().await;
    let d = browser.d();

    // 6.1 The admin sets a password, signs in and lands on the dashboard.
    set_password_and_sign_in(d, &base, url.expose_secret(), "nextdoor_admin").await;
    wait_text(d, "h1", "Dashboard").await;
    shot(d, backend, "admin-dashboard").await;

    // A reward to redeem later.
    d.goto(format!("{base}/o/nextdoor/admin/rewards"))
        .await
        .unwrap();
    fill(d, "name", "Free coffee").await;
    fill(d, "cost_points", "10").await;
    click(d, "form[action$='/admin/rewards'] button[type=submit]").await;
    wait_text(d, ".notice", "Reward added").await;
    shot(d, backend, "admin-rewards").await;

    // 6.2 Users -> Create Cashier.
    click(d, "nav.tabs a[href$='/admin/users']").await;
    fill(d, "username", "cashier_test").await;
    fill(d, "name", "Test Cashier").await;
    fill(d, "email", "test.cashier@nextdoor.com").await;
    shot(d, backend, "admin-users").await;
    click(d, "form[action$='/admin/users'] button[type=submit]").await;
    let cashier_link = wait_text(d, "#one-time-link", "/auth/set-password?token=").await;
    shot(d, backend, "cashier-link").await;
    sign_out(d).await;
    shot(d, backend, "sign-in").await;

    // 6.4 The cashier signs in, enrolls a customer with an online account, awards points.
    set_password_and_sign_in(d, &base, &cashier_link, "cashier_test").await;
    wait_text(d, "label[for=q]", "Find a customer").await;
    fill(d, "q", "(202) 555-0199").await;
    d.find(By::Id("q"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, ".notice", "No customer").await;
    fill(d, "email", "carla@example.com").await;
    fill(d, "name", "Carla Customer").await;
    click(d, "input[name=account]").await;
    shot(d, backend, "till-enroll").await;
    click(d, "form[action$='/till/enroll'] button[type=submit]").await;
    let customer_link = wait_text(d, "#one-time-link", "/auth/set-password?token=").await;
    shot(d, backend, "till-customer-link").await;
    click(d, "a.button").await;
    wait_text(d, "#cust-name", "Carla Customer").await;
    fill(d, "amount", "25.50").await;
    wait_text(d, "#points-preview", "25 points").await;
    shot(d, backend, "till-customer").await;
    d.find(By::Id("amount"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    wait_text(d, "h1", "Confirm the purchase").await;
    shot(d, backend, "till-confirm").await;
    // A double click sends the form once (and the idempotency key makes sure).
    let confirm = d.find(By::Id("confirm-award")).await.unwrap();
    confirm.click().await.unwrap();
    let _ = confirm.click().await;
    wait_text(d, "#balance", "25").await;
    wait_text(d, ".notice", "Awarded 25 points").await;
    // Redemption at the till.
    click(d, "form[action$='/redeem'] button[type=submit]").await;
    wait_text(d, ".notice", "Redeemed 10 points").await;
    wait_text(d, "#balance", "15").await;
    shot(d, backend, "till-redeemed").await;
    sign_out(d).await;

    // The customer signs in and sees the balance; then switches language.
    set_password_and_sign_in(d, &base, &customer_link, "carla@example.com").await;
    wait_text(d, "#my-balance", "15").await;
    d.set_window_rect(0, 0, 390, 844).await.unwrap();
    shot(d, backend, "customer-portal-phone").await;
    d.set_window_rect(0, 0, 1280, 900).await.unwrap();
    click(d, "footer a[lang='pt-BR']").await;
    wait_text(d, "main", "Seu saldo").await;
    wait_text(d, "form[action='/logout'] button", "Sair").await;
    shot(d, backend, "customer-portal-pt-br").await;
    click(d, "footer a[lang='en-US']").await;
    wait_text(d, "main", "Your balance").await;
    sign_out(d).await;

    // The admin downloads the purchases export.
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "nextdoor_admin").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    open_first_org(d).await;
    wait_text(d, "h1", "Dashboard").await;
    shot(d, backend, "admin-dashboard-after").await;
    let csv = d
        .execute_async(
            "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);",
            vec![serde_json::json!(format!("{base}/o/nextdoor/admin/exports/download?kind=purchases&period=this-month&format=csv-machine"))],
        )
        .await
        .unwrap();
    let csv: String = csv.convert().unwrap();
    // fetch's text() drops the byte-order mark.
    assert!(csv.starts_with("purchase_id,"), "{csv}");
    assert_eq!(csv.lines().count(), 2, "one purchase, recorded once: {csv}");
    assert!(csv.contains(",25.50,USD,25,"), "{csv}");
    // ... and last month's ledger as XLSX from the export page.
    click(d, "main a[href='/o/nextdoor/admin/exports']").await;
    wait_text(d, "h1", "Exports").await;
    click(d, "input[name=period][value=last-month]").await;
    let downloads = tempfile::tempdir().unwrap();
    let file = download(d, downloads.path(), "#export-form button[type=submit]").await;
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("ledger-nextdoor-") && name.ends_with(".xlsx"),
        "{name}"
    );
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&file).unwrap();
    let sheet = calamine::Reader::worksheet_range(&mut book, "Ledger").unwrap();
    assert!(
        sheet
            .get((0, 0))
            .unwrap()
            .to_string()
            .starts_with("NextDoor Market: ledger from "),
        "the title row"
    );
    assert_eq!(sheet.get((1, 0)).unwrap().to_string(), "Entry");
    d.goto(format!("{base}/o/nextdoor/admin/customers"))
        .await
        .unwrap();
    wait_text(d, "main", "Carla Customer").await;
    shot(d, backend, "admin-customers").await;
    d.goto(format!("{base}/o/nextdoor/admin/settings"))
        .await
        .unwrap();
    shot(d, backend, "admin-settings").await;
    sign_out(d).await;

    // 6.3 A new person joins through the public join page.
    d.goto(format!("{base}/o/nextdoor/join")).await.unwrap();
    fill(d, "name", "Jonas Joiner").await;
    fill(d, "email", "jonas@example.com").await;
    shot(d, backend, "join").await;
    click(d, "form[action$='/join'] button[type=submit]").await;
    wait_text(d, "h1", "Choose your password").await;
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_text(d, "h1", "Your password is set").await;
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "jonas@example.com").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    open_first_org(d).await;
    wait_text(d, "#my-balance", "0").await;
    sign_out(d).await;

    // The operator's console.
    let ops = app
        .directory
        .create_user(&NewDirUser {
            username: Username::parse("ops").unwrap(),
            name: "Olga Operator".into(),
            email: Some(Email::parse("ops@provider.example").unwrap()),
            attributes: serde_json::json!({}),
        })
        .await
        .unwrap();
    app.directory
        .set_password(ops.pk, &SecretString::from(PASSWORD), false)
        .await
        .unwrap();
    let (group, _) =
        find_or_create_group(&app.directory, "loyalty-operators", serde_json::json!({}))
            .await
            .unwrap();
    app.directory.add_member(&group, ops.pk).await.unwrap();
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "ops").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Welcome").await;
    click(d, "a[href='/operator']").await;
    wait_text(d, "h1", "Operator console").await;
    wait_text(d, "main table", "NextDoor Market").await;
    shot(d, backend, "operator-console").await;
    click(d, "a[href='/operator/orgs/nextdoor/suspend']").await;
    wait_text(d, "h1", "Suspend NextDoor Market?").await;
    shot(d, backend, "operator-confirm-suspend").await;
    click(d, "main form button[type=submit]").await;
    wait_text(d, ".notice", "now suspended").await;
    // Every page above ran under the Content-Security-Policy without breaking it.
    assert_no_problems(d).await;

    browser.quit().await;
}

both_backends! {
    async fn the_runbook_story_works_in_a_real_browser(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        story(db, backend).await;
    }
}
