//! Security headers on every kind of response: a page, the JSON API, a static file,
//! Swagger UI, a 404 page and a 404 JSON answer; HSTS only when the public URL is https.

use super::app::{TestApp, Who};
use loyalty_testkit::both_backends;

const KINDS: &[(&str, &str, u16)] = &[
    ("/login", "text/html", 200),
    ("/api/v1/orgs/alpha/customers", "application/json", 401),
    ("/static/app.js", "text/javascript", 200),
    ("/static/app.css", "text/css", 200),
    ("/api/openapi.json", "application/json", 200),
    ("/api/docs/", "text/html", 200),
    ("/no/such/page", "text/html", 404),
    ("/api/v1/no-such-route", "application/json", 404),
];

async fn check(app: &TestApp, hsts: bool) {
    for (path, kind, status) in KINDS {
        let r = app
            .send(
                &Who::anonymous(),
                "GET",
                path,
                None,
                &[("accept", "text/html")],
            )
            .await;
        assert_eq!(r.status.as_u16(), *status, "{path}: {}", r.body);
        let header = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            header("content-type").starts_with(kind),
            "{path}: {}",
            header("content-type")
        );
        let csp = header("content-security-policy");
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {part} missing in {csp:?}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        if hsts {
            assert_eq!(
                header("strict-transport-security"),
                "max-age=31536000",
                "{path}"
            );
        } else {
            assert!(
                r.headers.get("strict-transport-security").is_none(),
                "{path}: no HSTS over http"
            );
        }
    }
}

both_backends! {
    async fn every_kind_of_response_carries_the_security_headers(db) {
        let app = TestApp::new(db).await;
        check(&app, false).await;
    }

    async fn over_https_every_response_tells_browsers_to_stay_on_https(db) {
        let app = TestApp::with_url(db, "https://loyalty.example.com").await;
        check(&app, true).await;
    }
}
