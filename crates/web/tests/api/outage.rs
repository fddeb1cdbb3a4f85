//! The database out of reach: the API answers 503 `unavailable` with `Retry-After`, never
//! 500 `internal`, and answers again once the database is back.

use super::app::{TestApp, Who};
use axum::body::Body;
use axum::http::Request;
use loyalty_core::domain::Role;
use loyalty_testkit::both_backends;
use tower::ServiceExt;

async fn get(app: &TestApp, who: &Who, path: &str) -> (u16, Option<String>, serde_json::Value) {
    let mut req = Request::builder().method("GET").uri(path);
    if let Who::Token(t) = who {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        retry,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

both_backends! {
    async fn losing_the_database_answers_503_unavailable_with_retry_after(db) {
        let app = TestApp::new(db).await;
        let token = app.token(&app.a, Role::Admin).await;
        let (status, _, _) = get(&app, &token, "/api/v1/orgs/alpha/customers").await;
        assert_eq!(status, 200);

        app.db.lose_connection().await;
        for _ in 0..2 {
            let (status, retry, body) = get(&app, &token, "/api/v1/orgs/alpha/customers").await;
            assert_eq!((status, body["error"]["code"].as_str()), (503, Some("unavailable")), "{body}");
            assert_eq!(retry.as_deref(), Some("5"));
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("retry"), "{message}");
            assert!(!message.contains("127.0.0.1") && !message.contains("loyalty_test"), "no database details: {message}");
        }

        app.db.restore_connection().await;
        if app.db.kind == loyalty_testkit::Kind::Postgres {
            let (status, _, body) = get(&app, &token, "/api/v1/orgs/alpha/customers").await;
            assert_eq!(status, 200, "answers again once the database is back: {body}");
        }
    }
}
