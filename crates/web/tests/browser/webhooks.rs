//! A shop's admin adds a webhook endpoint in a real browser: the secret is shown once,
//! "Send test event" queues a `webhook.test` that appears in the delivery log, a real
//! receiver on 127.0.0.1 gets it and the log shows it delivered, and the dashboard's
//! charts render (SVG with a table of the numbers beside).

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, fill, screenshots, wait_gone,
    wait_text,
};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;

const PASSWORD: &str = "correct-horse-battery";

/// A receiver on 127.0.0.1 that answers every post 204 and keeps the `webhook-id`s.
async fn receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = ids.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        if let Some(id) = head.lines().find_map(|l| l.strip_prefix("webhook-id:")) {
                            seen.lock().unwrap().push(id.trim().to_owned());
                        }
                        break;
                    }
                }
            }
            let _ = sock
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    (port, ids)
}

/// Posts deliveries over HTTP, as `serve` does.
struct Post;

#[async_trait::async_trait]
impl loyalty_core::service::webhooks::WebhookTransport for Post {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<loyalty_core::service::webhooks::Answer, loyalty_core::service::webhooks::PostError>
    {
        let mut request = reqwest::Client::new().post(url).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response =
            request
                .send()
                .await
                .map_err(|e| loyalty_core::service::webhooks::PostError {
                    message: e.to_string(),
                    permanent: false,
                })?;
        Ok(loyalty_core::service::webhooks::Answer {
            status: response.status().as_u16(),
            excerpt: String::new(),
        })
    }
}

async fn webhooks_page(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Corner Coffee".into()),
        slug: Some("corner".into()),
        admin_email: Some("admin@corner.example.com".into()),
        admin_name: Some("Cora Admin".into()),
        country: Some("US".into()),
        timezone: Some("America/Chicago".into()),
        language: Some("en-US".into()),
        currency: Some("USD".into()),
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
    d.goto(url.expose_secret()).await.unwrap();
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_gone(d, "#confirm").await;
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "corner_admin").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_gone(d, "form[action='/login']").await;

    d.goto(format!("{base}/o/corner/admin")).await.unwrap();
    wait_text(d, "h1", "Dashboard").await;
    click(d, "nav.tabs a[href='/o/corner/admin/webhooks']").await;
    wait_text(d, "h1", "Webhooks").await;
    wait_text(d, "main", "No endpoints yet").await;

    // Add an endpoint for points events: the secret is shown this once.
    let (port, received) = receiver().await;
    let hook_url = format!("http://127.0.0.1:{port}/hooks/loyalty");
    fill(d, "url", &hook_url).await;
    click(d, "input[name='event.points.earned']").await;
    click(d, "input[name='event.webhook.test']").await;
    click(
        d,
        "form[action='/o/corner/admin/webhooks'] button[type=submit]",
    )
    .await;
    let secret = wait_text(d, "#webhook-secret", "whsec_").await;
    assert!(secret.contains("not shown again"), "{secret}");
    let row = wait_text(d, "#webhook-endpoints", &hook_url).await;
    assert!(row.contains("points.earned, webhook.test"), "{row}");

    // Send a test event: it is in the delivery log.
    click(d, "#webhook-endpoints form[action$='/test'] button").await;
    wait_text(d, "main", "Test event queued").await;
    let log = wait_text(d, "#webhook-deliveries", "webhook.test").await;
    assert!(log.contains("pending"), "{log}");
    // The sender posts it to the receiver; after a reload the log shows it delivered
    // (and the secret is no longer shown).
    let sent = loyalty_core::service::webhooks::deliver_due(
        db.store.as_ref(),
        app.state.clock.as_ref(),
        &Post,
        10,
    )
    .await
    .unwrap();
    assert_eq!(sent.delivered, 1, "{sent:?}");
    let ids = received.lock().unwrap().clone();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].starts_with("test_"), "{ids:?}");
    d.goto(format!("{base}/o/corner/admin/webhooks"))
        .await
        .unwrap();
    let log = wait_text(d, "#webhook-deliveries", "delivered").await;
    assert!(log.contains("webhook.test") && log.contains("204"), "{log}");
    d.execute(
        "document.getElementById('webhook-deliveries').scrollIntoView({block: 'center'})",
        vec![],
    )
    .await
    .unwrap();
    d.screenshot(&screenshots().join(format!("{backend}-admin-webhooks.png")))
        .await
        .unwrap();
    assert!(
        d.find(thirtyfour::By::Id("webhook-secret")).await.is_err(),
        "the secret is shown once"
    );
    assert_no_problems(d).await;

    // The dashboard's charts render, with the table of their numbers: 30 days, then 90.
    let org = report.org.clone();
    let ctx = loyalty_core::service::points::Ctx {
        store: db.store.as_ref(),
        clock: app.state.clock.as_ref(),
        org: &org,
        actor: loyalty_core::domain::ledger::Actor::system(),
        role: loyalty_core::domain::Role::Admin,
    };
    let carla = loyalty_core::service::points::enroll(
        &ctx,
        &loyalty_core::service::points::EnrollInput {
            phone: None,
            email: Some("carla@example.com".into()),
            name: Some("Carla".into()),
        },
        None,
    )
    .await
    .unwrap()
    .id;
    loyalty_testkit::till::award(&ctx, carla, "42.00", None, serde_json::json!({}), "chart-1")
        .await
        .unwrap();
    d.goto(format!("{base}/o/corner/admin")).await.unwrap();
    wait_text(d, "#trends h2", "Trends").await;
    for id in ["chart-points", "chart-customers"] {
        let svg = d.find(thirtyfour::By::Id(id)).await.unwrap();
        let rect = svg.rect().await.unwrap();
        assert!(
            rect.width > 100.0 && rect.height > 30.0,
            "{id} is drawn: {rect:?}"
        );
    }
    let bars = d
        .find_all(thirtyfour::By::Css("#chart-points rect title"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 1, "one day with points issued");
    let rows = d
        .find_all(thirtyfour::By::Css("#trend-numbers tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 30);
    d.execute("document.getElementById('trends').scrollIntoView()", vec![])
        .await
        .unwrap();
    d.screenshot(&screenshots().join(format!("{backend}-admin-dashboard-charts.png")))
        .await
        .unwrap();
    click(d, "#trends a[href='?days=90']").await;
    wait_text(d, "#trends strong", "90 days").await;
    let rows = d
        .find_all(thirtyfour::By::Css("#trend-numbers tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 90);
    assert_no_problems(d).await;
    browser.quit().await;
}

both_backends! {
    async fn an_admin_adds_a_webhook_endpoint_sends_a_test_event_and_sees_it_in_the_log(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        webhooks_page(db, backend).await;
    }
}
