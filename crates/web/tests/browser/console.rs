//! The operator console with 300 shops in a real browser: the operator finds one by
//! typing part of its name, sees its figures, runs its checks, opens its admin panel
//! read-only (no form there submits), and the shop's admin sees that visit in the audit
//! log. The 300 shops are written straight through the store (one onboarding through the
//! service for the shop the story follows).

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, fill, screenshots, wait_text,
};
use loyalty_core::directory::Directory;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Role, Username};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::operators::{self, NewOperator};
use loyalty_core::service::points::{self, Ctx};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::SecretString;
use std::time::Instant;
use thirtyfour::prelude::*;

const PASSWORD: &str = "correct-horse-battery";
const SHOPS: usize = 300;

async fn sign_in(d: &WebDriver, base: &str, username: &str) {
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", username).await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_text(d, "h1", "Welcome").await;
}

/// 300 shops straight through the store, and the shop the story follows onboarded with
/// its admin, two purchases today and a password the admin signs in with.
async fn seed(db: &TestDb, app: &Served) -> std::time::Duration {
    let store = db.store.as_ref();
    let now = app.state.clock.now();
    let started = Instant::now();
    for i in 0..SHOPS {
        let org = OnboardInput {
            name: Some(format!("Loja {i:03} Bairro")),
            slug: Some(format!("loja-{i:03}")),
            admin_email: Some(format!("admin@loja-{i:03}.example.com")),
            admin_name: Some("Ana".into()),
            plan: Some(if i % 3 == 0 { "premium" } else { "basic" }.into()),
            ..OnboardInput::default()
        }
        .validate()
        .unwrap()
        .org;
        store
            .insert_organization(&org, OrgStatus::Active, now)
            .await
            .unwrap();
    }
    let seeded = started.elapsed();
    let plan = OnboardInput {
        name: Some("Padaria Estrela".into()),
        slug: Some("padaria-estrela".into()),
        admin_email: Some("dona@estrela.example.com".into()),
        admin_name: Some("Dona Estrela".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        language: Some("en-US".into()),
        ..OnboardInput::default()
    }
    .validate()
    .unwrap();
    let report = onboard::onboard(
        store,
        &app.directory,
        app.state.clock.as_ref(),
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap();
    let admin = app
        .directory
        .find_user_by_username(&Username::parse(&report.admin_username).unwrap())
        .await
        .unwrap()
        .unwrap();
    app.directory
        .set_password(admin.pk, &SecretString::from(PASSWORD), false)
        .await
        .unwrap();
    let ctx = Ctx {
        store,
        clock: app.state.clock.as_ref(),
        org: &report.org,
        actor: Actor::system(),
        role: Role::Admin,
    };
    for (i, phone) in ["11 95555-0101", "11 95555-0102"].iter().enumerate() {
        let c = points::enroll(
            &ctx,
            &points::EnrollInput {
                phone: Some((*phone).into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
        loyalty_testkit::till::award(
            &ctx,
            c.id,
            "12.00",
            None,
            serde_json::json!({}),
            &format!("p{i}"),
        )
        .await
        .unwrap();
    }
    let ops = NewOperator::parse("ops", "Olga Operator", Some("ops@provider.example")).unwrap();
    let added = operators::add(
        &app.directory,
        "loyalty-operators",
        &ops,
        CredentialMode::Link,
    )
    .await
    .unwrap();
    app.directory
        .set_password(added.user.pk, &SecretString::from(PASSWORD), false)
        .await
        .unwrap();
    seeded
}

async fn console(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let seeded = seed(&db, &app).await;
    let browser = Driver::start().await;
    let d = browser.d();

    sign_in(d, &base, "ops").await;
    let started = Instant::now();
    d.goto(format!("{base}/operator")).await.unwrap();
    wait_text(d, "#shop-count", "Shops found: 301").await;
    let first_page = started.elapsed();
    let rows = d.find_all(By::Css("#shops tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 50, "one page of 50 shops");

    // The page itself, timed without the browser: the console's one query.
    let cookie = d.get_named_cookie("loyalty_session").await.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut served = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = client
            .get(format!("{base}/operator?sort=awards_30d&dir=desc"))
            .header("cookie", format!("loyalty_session={}", cookie.value))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        size = r.text().await.unwrap().len();
        served.push(t.elapsed());
    }
    served.sort();
    eprintln!(
        "[{backend}] {SHOPS} shops written through the store in {seeded:?}; console first page in the browser {first_page:?}; served in {:?} (median of 5, {size} bytes)",
        served[2]
    );
    assert!(
        served[2] < std::time::Duration::from_millis(500),
        "the console's page is fast: {served:?}"
    );

    // Finds the shop by typing part of its name.
    fill(d, "q", "estrel").await;
    click(d, "form[role=search] button[type=submit]").await;
    wait_text(d, "#shop-count", "Shops found: 1 ").await;
    let row = d
        .find(By::Css("#shops tbody tr[data-slug='padaria-estrela']"))
        .await
        .unwrap();
    assert_eq!(
        d.find_all(By::Css("#shops tbody tr")).await.unwrap().len(),
        1
    );
    let figure = |name: &'static str| {
        let row = row.clone();
        async move {
            row.find(By::Css(format!("[data-figure='{name}']")))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(figure("awards_today").await, "2");
    assert_eq!(figure("awards_30d").await, "2");
    assert_ne!(figure("last_activity").await, "never");
    assert!(figure("checks").await.contains("not run yet"));
    d.screenshot(&screenshots().join(format!("{backend}-operator-console-search.png")))
        .await
        .unwrap();

    // Runs its checks.
    click(
        d,
        "#shops tr[data-slug='padaria-estrela'] form[action$='/checks'] button",
    )
    .await;
    wait_text(d, ".notice", "Checks done").await;
    let checks = wait_text(d, "#checks", "OK").await;
    assert!(
        checks.contains("padaria-estrela has an admin") && checks.contains("ops"),
        "{checks}"
    );
    d.screenshot(&screenshots().join(format!("{backend}-operator-checks.png")))
        .await
        .unwrap();
    d.goto(format!("{base}/operator?q=estrel")).await.unwrap();
    wait_text(
        d,
        "#shops tr[data-slug='padaria-estrela'] [data-figure='checks']",
        "OK",
    )
    .await;

    // Opens its admin panel read-only: every control is disabled.
    click(
        d,
        "#shops tr[data-slug='padaria-estrela'] a[href='/o/padaria-estrela/admin']",
    )
    .await;
    wait_text(d, "#read-only", "Read-only support view").await;
    d.goto(format!("{base}/o/padaria-estrela/admin/rewards"))
        .await
        .unwrap();
    wait_text(d, "#read-only", "Read-only support view").await;
    let buttons = d
        .find_all(By::Css("main form button[type=submit]"))
        .await
        .unwrap();
    assert!(!buttons.is_empty(), "the rewards page has its forms");
    for b in &buttons {
        assert!(!b.is_enabled().await.unwrap(), "a form button is enabled");
    }
    let _ = buttons[0].click().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        d.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/rewards"),
        "nothing submitted"
    );
    d.screenshot(&screenshots().join(format!("{backend}-operator-read-only.png")))
        .await
        .unwrap();
    // And a post sent anyway is refused by the server.
    let csrf = d
        .find(By::Css("main input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let refused = client
        .post(format!("{base}/o/padaria-estrela/admin/rewards"))
        .header("cookie", format!("loyalty_session={}", cookie.value))
        .header("origin", &base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Free bread"),
            ("points_cost", "10"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("read-only"));
    assert!(
        db.store
            .list_rewards(
                db.store
                    .organization_by_slug(
                        &loyalty_core::domain::OrgSlug::parse("padaria-estrela").unwrap()
                    )
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_no_problems(d).await;
    click(d, "form[action='/logout'] button").await;
    wait_text(d, "h1", "Sign in").await;

    // The shop's admin sees the visit in the audit log.
    sign_in(d, &base, "padaria-estrela_admin").await;
    d.goto(format!("{base}/o/padaria-estrela/admin/audit"))
        .await
        .unwrap();
    let log = wait_text(d, "main table", "support.view").await;
    assert!(
        log.contains("ops") && log.contains("/o/padaria-estrela/admin/rewards"),
        "{log}"
    );
    d.screenshot(&screenshots().join(format!("{backend}-admin-sees-support-visit.png")))
        .await
        .unwrap();
    assert_no_problems(d).await;
    browser.quit().await;
}

both_backends! {
    async fn an_operator_finds_one_of_300_shops_checks_it_and_reads_its_panel_read_only(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        console(db, backend).await;
    }
}
