//! The Content-Security-Policy in a real browser: Swagger UI loads, opens an operation
//! and runs it under the policy without a violation, and the policy is really enforced
//! (an inline script a page would insert is blocked and reported).

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, problems, wait_text,
};
use loyalty_testkit::{TestDb, both_backends};
use thirtyfour::prelude::*;

async fn swagger_ui(db: TestDb) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let browser = Driver::start().await;
    let d = browser.d();

    // The watch sees what the policy blocks: an inline script inserted by a page.
    d.goto(format!("{}/login", app.base)).await.unwrap();
    wait_text(d, "h1", "Sign in").await;
    d.execute(
        "var s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s); return 1;",
        Vec::new(),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ran = d
        .execute("return window.__ran === 1;", Vec::new())
        .await
        .unwrap();
    assert!(
        !ran.convert::<bool>().unwrap(),
        "the inline script must not run"
    );
    let seen = problems(d).await;
    assert!(
        seen.iter().any(|p| p.contains("CSP script-src")),
        "the violation is reported: {seen:?}"
    );

    // Swagger UI: loads, opens an operation, and sends a request from "Try it out".
    d.goto(format!("{}/api/docs/", app.base)).await.unwrap();
    wait_text(d, ".information-container .title", "loyalty API").await;
    let op = "#operations-customers-list_or_lookup_customers";
    click(d, &format!("{op} .opblock-summary")).await;
    wait_text(d, &format!("{op} .opblock-body"), "Responses").await;
    click(d, &format!("{op} .try-out__btn")).await;
    let slug = d
        .find(By::Css(format!("{op} input[placeholder='slug']")))
        .await
        .unwrap();
    slug.send_keys("nextdoor").await.unwrap();
    click(d, &format!("{op} .execute")).await;
    // No such organization here: the API's own JSON answer, shown by Swagger UI.
    wait_text(d, &format!("{op} .live-responses-table"), "org.not_found").await;
    assert_no_problems(d).await;

    // The pages a visitor reaches without signing in, under the same policy.
    for path in ["/login", "/forgot-password", "/no/such/page"] {
        d.goto(format!("{}{path}", app.base)).await.unwrap();
        wait_text(d, "h1", "").await;
    }
    assert_no_problems(d).await;
    browser.quit().await;
}

both_backends! {
    async fn swagger_ui_and_the_pages_work_under_the_content_security_policy(db) {
        swagger_ui(db).await;
    }
}
