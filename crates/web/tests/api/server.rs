//! The listeners: a connection that sends half a request is closed after the header
//! timeout; `/metrics` is not anonymous on the public listener (404 without a token, 401
//! without the right one) and is served by the metrics listener.

use super::app::TestApp;
use loyalty_testkit::{Kind, TestDb};
use loyalty_web::{AppState, WebConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `router` on a free port until the returned sender is dropped.
async fn start(
    router: axum::Router,
    header_timeout: Duration,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(loyalty_web::serve_router(
        listener,
        router,
        header_timeout,
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

fn with_config(app: &TestApp, config: WebConfig) -> AppState {
    AppState {
        config: Arc::new(config),
        ..app.state.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_half_a_request_is_closed_after_the_header_timeout() {
    let app = TestApp::new(TestDb::new(Kind::Sqlite).await).await;
    let state = with_config(
        &app,
        WebConfig {
            header_read_timeout: Duration::from_secs(1),
            ..WebConfig::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(loyalty_web::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // Half a request: the request line and one header, never the blank line.
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: loyalty.example\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the half-sent connection is still open after 10 s"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );

    // A whole request on another connection is answered as before, peer address and all.
    let mut whole = tokio::net::TcpStream::connect(addr).await.unwrap();
    whole
        .write_all(b"GET /health HTTP/1.1\r\nHost: loyalty.example\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), whole.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_on_the_public_listener_and_none_on_their_own() {
    loyalty_identity::authentik::install_crypto_provider();
    let app = TestApp::new(TestDb::new(Kind::Sqlite).await).await;
    let client = reqwest::Client::new();
    let timeout = Duration::from_secs(10);

    // No token configured: the public listener does not serve /metrics at all.
    let (public, _stop) = start(loyalty_web::router(app.state.clone()), timeout).await;
    let r = client
        .get(format!("http://{public}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route.not_found", "{body}");

    // With a token: only with it.
    let state = with_config(
        &app,
        WebConfig {
            metrics_token: Some("s3cret-metrics".into()),
            ..WebConfig::default()
        },
    );
    let (public, _stop2) = start(loyalty_web::router(state), timeout).await;
    let url = format!("http://{public}/metrics");
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer "),
        Some("s3cret-metrics"),
        Some("Bearer s3cret-metricsX"),
    ] {
        let mut req = client.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "auth.invalid_token", "{body}");
    }
    let r = client
        .get(&url)
        .bearer_auth("s3cret-metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("loyalty_build_info"));

    // The metrics listener: /metrics without a token, and nothing else.
    let (metrics, _stop3) = start(loyalty_web::metrics::router(app.state.clone()), timeout).await;
    let r = client
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("loyalty_build_info"));
    assert_eq!(
        client
            .get(format!("http://{metrics}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client
            .get(format!("http://{metrics}/api/v1/orgs/alpha"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
