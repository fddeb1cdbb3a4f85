//! The till without a connection, in a real browser: the server is stopped (the
//! browser's requests fail as with a dropped connection), the cashier records 20
//! purchases and one for an unknown card, closes the page and opens it again (the
//! service worker serves the kept till page, the queue is still in IndexedDB), the
//! server comes back, and exactly 20 awards land once each with the server's points; the
//! unknown card is refused and shown. Then 20 more, with the server stopped and started
//! again in the middle of sending them. A deactivated cashier's queued purchases are
//! refused, also when someone else signs in on the till; a cashier's purchases sent
//! after another cashier signs in on the till are recorded as the first one's.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, fill, wait_text,
};
use super::story::{set_password_and_sign_in, shot, sign_out};
use loyalty_core::domain::ledger::{Actor, Purchase};
use loyalty_core::domain::{OrgId, Role};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;
use std::time::Duration;
use thirtyfour::prelude::*;

/// The purchases recorded offline (channel `till-offline`) of the organization.
async fn offline_purchases(db: &TestDb, org: OrgId) -> Vec<Purchase> {
    db.store
        .list_purchases(org, None, None, None, 500)
        .await
        .unwrap()
}

/// Waits until the status line says `state` with `waiting` purchases queued.
async fn wait_status(d: &WebDriver, state: &str, waiting: usize) {
    let css = format!("#till-status[data-state='{state}'][data-waiting='{waiting}']");
    for _ in 0..300 {
        if d.find(By::Css(&css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = d
        .find(By::Id("till-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    panic!("the till never showed {state} with {waiting} waiting (it shows {now:?})");
}

/// Records one purchase in the offline form.
async fn record(d: &WebDriver, card: &str, amount: &str, queued: usize) {
    fill(d, "offline-card", card).await;
    fill(d, "offline-amount", amount).await;
    click(d, "#offline-record").await;
    wait_status(d, "offline", queued).await;
}

/// Closes the till's tab and opens the till in a new one.
async fn reopen(d: &WebDriver, till: &str) {
    let old = d.window().await.unwrap();
    let fresh = d.new_tab().await.unwrap();
    d.switch_to_window(old).await.unwrap();
    d.close_window().await.unwrap();
    d.switch_to_window(fresh).await.unwrap();
    d.goto(till).await.unwrap();
}

async fn offline(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let mut app = Served::start(&db).await;
    let base = app.base.clone();
    let clock = app.state.clock.clone();
    let plan = OnboardInput {
        name: Some("Corner Market".into()),
        slug: Some("market".into()),
        admin_email: Some("admin@market.example.com".into()),
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
    let org = db
        .store
        .organization_by_slug(&loyalty_core::domain::OrgSlug::parse("market").unwrap())
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
    let mut cards = Vec::new();
    for (phone, email) in [
        ("+1 212 555 0101", "ana@example.com"),
        ("+1 212 555 0102", "bea@example.com"),
    ] {
        let input = EnrollInput {
            phone: Some(phone.into()),
            email: Some(email.into()),
            name: None,
        };
        cards.push(points::enroll(&ctx, &input, None).await.unwrap());
    }
    // A card number with a valid check digit that no customer holds.
    let unknown = (0..10)
        .map(|d| format!("98765432109{d}"))
        .find(|c| loyalty_core::domain::points::is_card_number(c))
        .unwrap();

    let browser = Driver::start().await;
    let d = browser.d();
    set_password_and_sign_in(d, &base, url.expose_secret(), "market_admin").await;
    let till = format!("{base}/o/market/till");
    // Online: the customer page is opened once (this till serves Ana), and the page is
    // kept by the service worker once it controls the page.
    d.goto(format!("{till}/c/{}", cards[0].id)).await.unwrap();
    wait_text(d, "#till-status", "Online").await;
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;
    for _ in 0..100 {
        let controlled: bool = d
            .execute("return !!navigator.serviceWorker.controller;", Vec::new())
            .await
            .unwrap()
            .convert()
            .unwrap();
        if controlled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A visit under the worker keeps the signed-in till page.
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;

    // The connection drops.
    app.stop().await;
    wait_status(d, "offline", 0).await;
    wait_text(d, "#till-status", "Offline").await;
    // Ana is found by her phone among the recent customers.
    fill(d, "q", "212 555 0101").await;
    d.find(By::Id("q"))
        .await
        .unwrap()
        .send_keys(Key::Enter)
        .await
        .unwrap();
    let found = d
        .find(By::Id("offline-card"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(found, cards[0].card_number);
    fill(d, "offline-amount", "12.00").await;
    wait_text(d, "#offline-estimate", "12 points").await;
    wait_text(d, "#offline-estimate", "estimate").await;
    click(d, "#offline-record").await;
    wait_status(d, "offline", 1).await;
    let mut expected = 12;
    for i in 1..20 {
        let amount = 10 + i;
        expected += amount;
        record(d, &cards[i % 2].card_number, &format!("{amount}.00"), i + 1).await;
    }
    record(d, &unknown, "5.00", 21).await;
    shot(d, backend, "till-offline-queue").await;
    assert!(offline_purchases(&db, org.id).await.is_empty());

    // The page is closed and opened again without a connection: the kept page, the
    // same queue.
    reopen(d, &till).await;
    wait_status(d, "offline", 21).await;

    // The connection returns: 20 awards, once each, with the server's points.
    app.restart().await;
    wait_status(d, "online", 0).await;
    let sent = d.find_all(By::Css("#offline-list li.sent")).await.unwrap();
    assert_eq!(sent.len(), 20);
    let refused = d
        .find_all(By::Css("#offline-list li.refused"))
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    let text = refused[0].text().await.unwrap();
    assert!(
        text.contains(&unknown) && text.contains("enroll"),
        "the refusal says which card and what to do: {text}"
    );
    wait_text(d, "#offline-list", "= 12 points (estimate was 12)").await;
    shot(d, backend, "till-offline-synced").await;
    let landed = offline_purchases(&db, org.id).await;
    assert_eq!(landed.len(), 20);
    assert_eq!(
        landed.iter().map(|p| p.points_awarded).sum::<i64>(),
        expected as i64
    );

    // 20 more offline; the server is stopped in the middle of sending them and started
    // again. Each request takes a little longer, so the stop lands mid-way.
    app.stop().await;
    wait_status(d, "offline", 0).await;
    for i in 0..20 {
        record(d, &cards[i % 2].card_number, "7.00", i + 1).await;
    }
    d.cdp()
        .send_raw("Network.enable", serde_json::json!({}))
        .await
        .unwrap();
    d.cdp()
        .send_raw(
            "Network.emulateNetworkConditions",
            serde_json::json!({
                "offline": false, "latency": 150,
                "downloadThroughput": -1, "uploadThroughput": -1
            }),
        )
        .await
        .unwrap();
    app.restart().await;
    let mut seen = 20;
    for _ in 0..600 {
        seen = offline_purchases(&db, org.id).await.len();
        if seen >= 25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.stop().await;
    let at_stop = offline_purchases(&db, org.id).await.len();
    assert!(
        (25..40).contains(&at_stop),
        "the server stopped in the middle of the sync ({seen} then {at_stop} of 40)"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.restart().await;
    wait_status(d, "online", 0).await;
    let landed = offline_purchases(&db, org.id).await;
    assert_eq!(landed.len(), 40, "every purchase once, none twice");
    assert_eq!(
        landed.iter().map(|p| p.points_awarded).sum::<i64>(),
        expected as i64 + 20 * 7
    );
    let sent = d.find_all(By::Css("#offline-list li.sent")).await.unwrap();
    assert_eq!(sent.len(), 40);
    let mut total = 0;
    for c in &cards {
        total += points::customer(&ctx, c.id).await.unwrap().balance;
    }
    assert_eq!(total, expected as i64 + 20 * 7);
    assert_no_problems(d).await;
    assert!(db.store.check_invariants(None).await.unwrap().holds());
    browser.quit().await;
}

/// A shop "kiosk" with one customer, whose admin added the cashiers `cashiers` on the
/// Users page (each has set a password); the browser is left signed out.
struct Kiosk {
    app: Served,
    base: String,
    org: loyalty_core::domain::Organization,
    customer: loyalty_core::domain::ledger::Customer,
}

impl Kiosk {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: self.app.state.store.as_ref(),
            clock: self.app.state.clock.as_ref(),
            org: &self.org,
            actor: Actor {
                member_id: None,
                label: "kiosk_admin".into(),
                role: "admin".into(),
                request_id: None,
            },
            role: Role::Admin,
        }
    }
}

async fn kiosk(db: &TestDb, d: &WebDriver, cashiers: &[(&str, &str)]) -> Kiosk {
    let app = Served::start(db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Kiosk".into()),
        slug: Some("kiosk".into()),
        admin_email: Some("admin@kiosk.example.com".into()),
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
    let org = db
        .store
        .organization_by_slug(&loyalty_core::domain::OrgSlug::parse("kiosk").unwrap())
        .await
        .unwrap()
        .unwrap();
    let enroll_ctx = Ctx {
        store: db.store.as_ref(),
        clock: app.state.clock.as_ref(),
        org: &org,
        actor: Actor {
            member_id: None,
            label: "kiosk_admin".into(),
            role: "admin".into(),
            request_id: None,
        },
        role: Role::Admin,
    };
    let customer = points::enroll(
        &enroll_ctx,
        &EnrollInput {
            phone: Some("+1 212 555 0103".into()),
            email: None,
            name: None,
        },
        None,
    )
    .await
    .unwrap();
    let k = Kiosk {
        app,
        base,
        org,
        customer,
    };
    let base = k.base.clone();
    set_password_and_sign_in(d, &base, url.expose_secret(), "kiosk_admin").await;
    let mut links = Vec::new();
    for (username, name) in cashiers {
        d.goto(format!("{base}/o/kiosk/admin/users")).await.unwrap();
        fill(d, "username", username).await;
        fill(d, "name", name).await;
        fill(d, "email", &format!("{username}@kiosk.example.com")).await;
        click(d, "form[action$='/admin/users'] button[type=submit]").await;
        links.push(wait_text(d, "#one-time-link", "/auth/set-password?token=").await);
    }
    sign_out(d).await;
    for ((username, _), link) in cashiers.iter().zip(links) {
        set_password_and_sign_in(d, &base, &link, username).await;
        sign_out(d).await;
    }
    k
}

/// Waits until the browser's storage under `key` holds `text`.
async fn wait_stored(d: &WebDriver, key: &str, text: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        last = d
            .execute(
                "return localStorage.getItem(arguments[0]) || '';",
                vec![serde_json::json!(key)],
            )
            .await
            .unwrap()
            .convert()
            .unwrap_or_default();
        if last.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{key} never held {text:?} (it holds {last:?})");
}

/// Blocks the browser's requests to these URL patterns (DevTools), none for `[]`.
async fn block(d: &WebDriver, urls: &[&str]) {
    d.cdp()
        .send_raw(
            "Network.setBlockedURLs",
            serde_json::json!({ "urls": urls }),
        )
        .await
        .unwrap();
}

/// Signs in with a password (the one `set_password_and_sign_in` set).
async fn sign_in(d: &WebDriver, username: &str) {
    fill(d, "username", username).await;
    fill(d, "password", super::story::PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Welcome").await;
}

/// The member row of a staff member, by username (their email).
async fn member(k: &Kiosk, username: &str) -> loyalty_core::store::Member {
    let email = format!("{username}@kiosk.example.com");
    loyalty_core::service::staff::list_staff(&k.ctx())
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email.as_deref() == Some(email.as_str()))
        .unwrap()
}

/// A cashier records purchases offline and is deactivated before they are sent: the
/// sending is refused and reported on the admin's list of tills, the till keeps them,
/// signing out warns, and when someone else signs in on the same till they are refused
/// for good (the recorder is no longer active), shown and reported, not recorded.
async fn deactivated(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let browser = Driver::start().await;
    let d = browser.d();
    let mut k = kiosk(&db, d, &[("kiosk_cashier", "Carl Cashier")]).await;
    let base = k.base.clone();
    let card = k.customer.card_number.clone();
    let till = format!("{base}/o/kiosk/till");
    d.goto(format!("{base}/login")).await.unwrap();
    sign_in(d, "kiosk_cashier").await;
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;

    k.app.stop().await;
    wait_status(d, "offline", 0).await;
    record(d, &card, "8.00", 1).await;
    record(d, &card, "9.00", 2).await;
    // Meanwhile the admin deactivates the cashier (on another device).
    let carl = member(&k, "kiosk_cashier").await;
    loyalty_core::service::staff::deactivate_staff(&k.ctx(), &k.app.directory, carl.id)
        .await
        .unwrap();

    // The connection returns: refused, shown, kept; the admin's list shows it.
    k.app.restart().await;
    wait_text(d, "#till-status", "no longer active").await;
    wait_status(d, "online", 2).await;
    shot(d, backend, "till-offline-refused-cashier").await;
    assert!(offline_purchases(&db, k.org.id).await.is_empty());
    let tills = loyalty_core::service::till::devices(&k.ctx())
        .await
        .unwrap();
    assert_eq!(tills.len(), 1);
    assert_eq!(tills[0].cashier, "kiosk_cashier");
    assert_eq!(tills[0].offline_purchases, 0);
    assert!(tills[0].refusals >= 1);
    assert_eq!(
        tills[0].last_refusal.as_ref().map(|r| r.0.as_str()),
        Some("auth.forbidden")
    );

    // Signing out warns that two purchases wait, and keeps them.
    click(d, "form[action='/logout'] button").await;
    let warning = d.get_alert_text().await.unwrap();
    assert!(
        warning.contains("2 purchases are still waiting"),
        "{warning}"
    );
    d.accept_alert().await.unwrap();
    wait_text(d, "h1", "Sign in").await;

    // The admin signs in on this till: the purchases are sent and refused, since the
    // person who recorded them is no longer active; nothing lands, the till says why.
    sign_in(d, "kiosk_admin").await;
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;
    wait_text(
        d,
        "#offline-list",
        "kiosk_cashier, who is no longer an active cashier",
    )
    .await;
    let refused = d
        .find_all(By::Css("#offline-list li.refused"))
        .await
        .unwrap();
    assert_eq!(refused.len(), 2);
    assert!(offline_purchases(&db, k.org.id).await.is_empty());
    let tills = loyalty_core::service::till::devices(&k.ctx())
        .await
        .unwrap();
    assert_eq!(tills.len(), 1, "{tills:?}");
    assert_eq!(tills[0].cashier, "kiosk_cashier");
    assert_eq!(
        tills[0].last_refusal.as_ref().map(|r| r.0.as_str()),
        Some("till.recorder_inactive")
    );
    d.goto(format!("{base}/o/kiosk/admin/users")).await.unwrap();
    wait_text(d, "#tills", "till.recorder_inactive").await;
    wait_text(d, "#tills", "kiosk_cashier").await;
    d.execute(
        "document.getElementById('tills').scrollIntoView();",
        Vec::new(),
    )
    .await
    .unwrap();
    shot(d, backend, "admin-tills").await;
    assert_no_problems(d).await;
    assert!(db.store.check_invariants(None).await.unwrap().holds());
    browser.quit().await;
}

/// Cashier A records three purchases offline and signs out (warned); cashier B signs
/// in on the same till and the connection returns: the three land as A's, not B's.
async fn handed_over(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let browser = Driver::start().await;
    let d = browser.d();
    let mut k = kiosk(
        &db,
        d,
        &[
            ("kiosk_carl", "Carl Cashier"),
            ("kiosk_dora", "Dora Cashier"),
        ],
    )
    .await;
    let base = k.base.clone();
    let card = k.customer.card_number.clone();
    let till = format!("{base}/o/kiosk/till");
    d.goto(format!("{base}/login")).await.unwrap();
    sign_in(d, "kiosk_carl").await;
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;

    k.app.stop().await;
    wait_status(d, "offline", 0).await;
    for (i, amount) in ["3.00", "4.00", "5.00"].iter().enumerate() {
        record(d, &card, amount, i + 1).await;
    }
    // The connection returns for everything but the sending (DevTools blocks it), so
    // the three still wait when Carl signs out: the till warns and keeps them.
    d.cdp()
        .send_raw("Network.enable", serde_json::json!({}))
        .await
        .unwrap();
    block(d, &["*/till/offline/purchases"]).await;
    k.app.restart().await;
    click(d, "form[action='/logout'] button").await;
    let warning = d.get_alert_text().await.unwrap();
    assert!(
        warning.contains("3 purchases are still waiting"),
        "{warning}"
    );
    d.accept_alert().await.unwrap();
    wait_text(d, "h1", "Sign in").await;
    assert!(offline_purchases(&db, k.org.id).await.is_empty());

    // Dora signs in on the same till: the three are sent and land as Carl's.
    sign_in(d, "kiosk_dora").await;
    d.goto(&till).await.unwrap();
    wait_text(d, "#till-status", "3 purchases waiting").await;
    block(d, &[]).await;
    wait_status(d, "online", 0).await;
    shot(d, backend, "till-offline-handed-over").await;
    let landed = offline_purchases(&db, k.org.id).await;
    assert_eq!(landed.len(), 3);
    let carl = member(&k, "kiosk_carl").await;
    assert!(
        landed.iter().all(|p| p.cashier_id == Some(carl.id)),
        "recorded as the cashier who recorded them: {landed:?}"
    );
    assert_eq!(landed.iter().map(|p| p.points_awarded).sum::<i64>(), 12);
    let tills = loyalty_core::service::till::devices(&k.ctx())
        .await
        .unwrap();
    assert_eq!(tills.len(), 1, "{tills:?}");
    assert_eq!(
        (tills[0].cashier.as_str(), tills[0].offline_purchases),
        ("kiosk_carl", 3)
    );
    assert_no_problems(d).await;
    browser.quit().await;
}

/// The admin allows 50 points a day offline (the Users page) and the customer has 100:
/// offline, the till takes 20, refuses 40 (above what is left of the limit), takes 25;
/// meanwhile the customer redeems 70 elsewhere. When the connection returns the 20
/// lands and the 25 is refused (the balance no longer covers it, never below zero) and
/// shown; the refusal stays on the till after a reload until the cashier dismisses it.
async fn redemptions(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let browser = Driver::start().await;
    let d = browser.d();
    let mut k = kiosk(&db, d, &[]).await;
    let base = k.base.clone();
    let card = k.customer.card_number.clone();
    let customer = k.customer.id;
    loyalty_testkit::till::award(
        &k.ctx(),
        customer,
        "100.00",
        None,
        serde_json::json!({}),
        "6d1f8c52-3f7e-4a55-9a55-0b6f7c0d2a11",
    )
    .await
    .unwrap();
    d.goto(format!("{base}/login")).await.unwrap();
    sign_in(d, "kiosk_admin").await;
    d.goto(format!("{base}/o/kiosk/admin/users")).await.unwrap();
    fill(d, "offline_redeem_limit", "50").await;
    click(d, "#offline-redeem-limit-form button[type=submit]").await;
    wait_text(d, ".notice.ok", "Settings saved").await;
    let org = db
        .store
        .organization_by_slug(&k.org.slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.offline_redeem_limit, 50);

    // Online: the till reads the program (with the limit), then the customer's page
    // (the balance it will redeem against).
    let till = format!("{base}/o/kiosk/till");
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;
    d.goto(format!("{till}/c/{customer}")).await.unwrap();
    wait_status(d, "online", 0).await;
    wait_stored(d, "loyalty-till-recent:kiosk", "\"balance\":100").await;
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;

    k.app.stop().await;
    wait_status(d, "offline", 0).await;
    fill(d, "offline-card", &card).await;
    fill(d, "offline-redeem-points", "20").await;
    click(d, "#offline-redeem-btn").await;
    wait_status(d, "offline", 1).await;
    fill(d, "offline-card", &card).await;
    fill(d, "offline-redeem-points", "40").await;
    click(d, "#offline-redeem-btn").await;
    wait_text(d, "#offline-estimate", "at most 30 points").await;
    wait_status(d, "offline", 1).await;
    fill(d, "offline-card", &card).await;
    fill(d, "offline-redeem-points", "25").await;
    click(d, "#offline-redeem-btn").await;
    wait_status(d, "offline", 2).await;

    // Elsewhere, online, the customer redeems 70: 30 left.
    loyalty_testkit::till::redeem(
        &k.ctx(),
        customer,
        None,
        Some(70),
        "7d1f8c52-3f7e-4a55-9a55-0b6f7c0d2a11",
    )
    .await
    .unwrap();
    k.app.restart().await;
    wait_status(d, "online", 0).await;
    wait_text(d, "#offline-list", "20 points redeemed. New balance 10.").await;
    wait_text(d, "#offline-list", "no longer has 25 points").await;
    assert_eq!(
        d.find_all(By::Css("#offline-list li.refused"))
            .await
            .unwrap()
            .len(),
        1
    );
    shot(d, backend, "till-offline-redemption-refused").await;
    let balance = points::customer(&k.ctx(), customer).await.unwrap().balance;
    assert_eq!(balance, 10, "never below zero");

    // The refusal is still there after a reload, until it is dismissed.
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;
    wait_text(d, "#offline-list", "no longer has 25 points").await;
    assert!(
        d.find_all(By::Css("#offline-list li.sent"))
            .await
            .unwrap()
            .is_empty()
    );
    click(d, "#offline-list li.refused button.dismiss").await;
    for _ in 0..50 {
        if d.find_all(By::Css("#offline-list li"))
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.goto(&till).await.unwrap();
    wait_status(d, "online", 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        d.find_all(By::Css("#offline-list li"))
            .await
            .unwrap()
            .is_empty(),
        "dismissed for good"
    );

    // The admin's list: one redemption landed, one refused with its code.
    let tills = loyalty_core::service::till::devices(&k.ctx())
        .await
        .unwrap();
    assert_eq!(tills.len(), 1, "{tills:?}");
    assert_eq!((tills[0].offline_redemptions, tills[0].refusals), (1, 1));
    d.goto(format!("{base}/o/kiosk/admin/users")).await.unwrap();
    wait_text(d, "#tills", "points.insufficient").await;
    assert_no_problems(d).await;
    assert!(db.store.check_invariants(None).await.unwrap().holds());
    browser.quit().await;
}

both_backends! {
    async fn a_deactivated_cashiers_offline_purchases_are_refused_and_reported(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        deactivated(db, backend).await;
    }

    async fn purchases_recorded_offline_land_as_the_cashier_who_recorded_them(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        handed_over(db, backend).await;
    }

    async fn offline_redemptions_within_the_limit_land_and_beyond_the_balance_are_refused(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        redemptions(db, backend).await;
    }

    async fn twenty_purchases_recorded_offline_land_once_each(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        offline(db, backend).await;
    }
}
