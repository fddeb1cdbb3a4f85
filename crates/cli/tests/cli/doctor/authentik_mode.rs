//! `loyalty doctor` in Authentik mode, against the schema-checking stand-in of
//! `loyalty-identity`'s tests (a stand-in, not Authentik itself), also behind a small
//! front at another address that serves the discovery document, key set and health
//! endpoint under its own address (the issuer must be the address loyalty calls).

use super::{assert_fails, check, doctor_with, failing, sql};
use crate::authentik::standin::{StandIn, TOKEN};
use crate::support::{command, stderr};
use loyalty_testkit::{Kind, TestDb};
use serde_json::Value;
use std::process::Output;

/// Violations the stand-in records for paths outside the admin API that it does not
/// serve.
fn outside_api_only(standin: &StandIn) {
    let left: Vec<String> = standin
        .take_violations()
        .into_iter()
        .filter(|v| !v.contains("not under /api/v3"))
        .collect();
    assert!(left.is_empty(), "schema violations: {left:#?}");
}

/// A front for the stand-in at its own address: Authentik's discovery document and key
/// set for application `loyalty` (the recorded examples in shared/authentik/examples,
/// re-addressed to the front) and its health endpoint; everything else is passed to the
/// stand-in. Returns the front's base URL.
async fn front(standin: &str) -> String {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let example = |name: &str| -> String {
        let path = crate::schema::shared_file(&format!("examples/{name}"));
        let recorded: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        recorded["body"]
            .to_string()
            .replace("http://127.0.0.1:9000", &base)
            .replace(
                "/application/o/nextdoor-loyalty/",
                "/application/o/loyalty/",
            )
    };
    let (discovery, jwks) = (example("10_discovery.json"), example("11_jwks.json"));
    let standin = standin.to_owned();
    let http = crate::support::http();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let (discovery, jwks, standin, http) = (
            discovery.clone(),
            jwks.clone(),
            standin.clone(),
            http.clone(),
        );
        async move {
            let json =
                |body: String| ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            match req.uri().path() {
                "/application/o/loyalty/.well-known/openid-configuration" => {
                    return json(discovery);
                }
                "/application/o/loyalty/jwks/" => return json(jwks),
                "/-/health/live/" => return StatusCode::OK.into_response(),
                _ => {}
            }
            let target = format!(
                "{standin}{}",
                req.uri().path_and_query().map_or("/", |p| p.as_str())
            );
            let mut forward = http.request(req.method().clone(), target);
            for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
                if let Some(v) = req.headers().get(&name) {
                    forward = forward.header(name, v.clone());
                }
            }
            let body = to_bytes(req.into_body(), usize::MAX).await.unwrap();
            let answer = forward.body(body).send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let kind = answer.headers().get(header::CONTENT_TYPE).cloned();
            let bytes = answer.bytes().await.unwrap();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            if let Some(kind) = kind {
                response.headers_mut().insert(header::CONTENT_TYPE, kind);
            }
            response
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_authentik_installation_passes_every_check_and_exits_0() {
    if crate::support::skip(Kind::Postgres) {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let standin = StandIn::start().await;
    let plan =
        loyalty_identity::authentik::OidcAppPlan::new("https://loyalty.example.com", None, None)
            .unwrap();
    standin
        .directory()
        .setup_oidc_application(&plan)
        .await
        .unwrap();
    let base = front(&standin.url).await;
    let (url, b) = (db.url.clone(), base.clone());
    let out = tokio::task::spawn_blocking(move || {
        command(&url)
            .env("LOYALTY_IDENTITY__MODE", "authentik")
            .env("AUTHENTIK_URL", &b)
            .env("AUTHENTIK_API_TOKEN", TOKEN)
            .env("LOYALTY_IDENTITY__OIDC_CLIENT_ID", "loyalty")
            .env("LOYALTY_IDENTITY__OIDC_CLIENT_SECRET", "secret")
            .env("LOYALTY_SERVER__PUBLIC_URL", "https://loyalty.example.com")
            .args([
                "onboard",
                "--name",
                "NextDoor",
                "--slug",
                "nextdoor",
                "--admin-email",
                "jane@nextdoor.example.com",
                "--admin-name",
                "Jane Smith",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (out, report) = doctor_authentik(
        &db.url,
        &base,
        TOKEN,
        &["--org", "nextdoor", "--user", "jane@nextdoor.example.com"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{:#?}", failing(&report));
    for id in [
        "authentik.reachable",
        "authentik.token",
        "authentik.permissions",
        "oidc.client",
        "oidc.discovery",
        "oidc.issuer",
        "oidc.redirect_uri",
        "org.groups",
        "org.admin",
        "user.exists",
        "user.group",
        "user.membership",
        "user.role",
        "clock.skew",
    ] {
        assert_eq!(check(&report, id)["status"], "OK", "{id}: {report:#}");
    }
    assert_eq!(
        check(&report, "oidc.issuer")["detail"],
        format!("{base}/application/o/loyalty/")
    );
    let operators = check(&report, "identity.operators");
    assert_eq!(operators["status"], "WARN", "{operators}");
    assert!(
        operators["fix"]
            .as_str()
            .unwrap()
            .contains("Authentik > Directory > Groups"),
        "{operators}"
    );

    // The wrong application slug: discovery finds nothing there.
    let (url, b) = (db.url.clone(), base.clone());
    let (out, report) = tokio::task::spawn_blocking(move || {
        doctor_with(
            &url,
            &[
                ("LOYALTY_IDENTITY__MODE", "authentik"),
                ("AUTHENTIK_URL", &b),
                ("AUTHENTIK_API_TOKEN", TOKEN),
                ("LOYALTY_IDENTITY__OIDC_CLIENT_ID", "loyalty"),
                ("LOYALTY_IDENTITY__OIDC_CLIENT_SECRET", "secret"),
                ("LOYALTY_IDENTITY__APP_SLUG", "shop"),
                ("LOYALTY_SERVER__PUBLIC_URL", "https://loyalty.example.com"),
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert_fails(
        &out,
        &report,
        "oidc.discovery",
        "no application shop in Authentik",
    );
    outside_api_only(&standin);
}

async fn doctor_authentik(url: &str, base: &str, token: &str, args: &[&str]) -> (Output, Value) {
    let (url, base, token) = (url.to_owned(), base.to_owned(), token.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        doctor_with(
            &url,
            &[
                ("LOYALTY_IDENTITY__MODE", "authentik"),
                ("AUTHENTIK_URL", &base),
                ("AUTHENTIK_API_TOKEN", &token),
                ("LOYALTY_IDENTITY__OIDC_CLIENT_ID", "loyalty"),
                ("LOYALTY_IDENTITY__OIDC_CLIENT_SECRET", "secret"),
                ("LOYALTY_SERVER__PUBLIC_URL", "https://loyalty.example.com"),
            ],
            &args,
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_authentik_token_fails_with_where_to_make_a_new_one() {
    let db = TestDb::new(Kind::Sqlite).await;
    let standin = StandIn::start().await;
    let (out, report) = doctor_authentik(
        &db.url,
        &standin.url,
        "expired-token",
        &["--org", "nextdoor"],
    )
    .await;
    assert_fails(&out, &report, "authentik.token", "Directory > Tokens");
    assert!(
        check(&report, "authentik.token")["fix"]
            .as_str()
            .unwrap()
            .contains("AUTHENTIK_API_TOKEN")
    );
    assert!(
        check(&report, "authentik.token")["detail"]
            .as_str()
            .unwrap()
            .contains("403")
    );
    assert_eq!(check(&report, "authentik.reachable")["status"], "OK");
    assert_eq!(check(&report, "oidc.redirect_uri")["status"], "SKIP");
    outside_api_only(&standin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_authentik_mode_groups_people_and_the_redirect_uri_are_read_from_authentik() {
    let db = TestDb::new(Kind::Sqlite).await;
    let standin = StandIn::start().await;
    let dir = standin.directory();
    let plan =
        loyalty_identity::authentik::OidcAppPlan::new("https://loyalty.example.com", None, None)
            .unwrap();
    dir.setup_oidc_application(&plan).await.unwrap();
    let (url, base) = (db.url.clone(), standin.url.clone());
    let out = tokio::task::spawn_blocking(move || {
        command(&url)
            .env("LOYALTY_IDENTITY__MODE", "authentik")
            .env("AUTHENTIK_URL", &base)
            .env("AUTHENTIK_API_TOKEN", TOKEN)
            .env("LOYALTY_IDENTITY__OIDC_CLIENT_ID", "loyalty")
            .env("LOYALTY_IDENTITY__OIDC_CLIENT_SECRET", "secret")
            .env("LOYALTY_SERVER__PUBLIC_URL", "https://loyalty.example.com")
            .args([
                "onboard",
                "--name",
                "NextDoor",
                "--slug",
                "nextdoor",
                "--admin-email",
                "jane@nextdoor.example.com",
                "--admin-name",
                "Jane Smith",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (out, report) = doctor_authentik(
        &db.url,
        &standin.url,
        TOKEN,
        &["--org", "nextdoor", "--user", "jane@nextdoor.example.com"],
    )
    .await;
    for id in [
        "authentik.reachable",
        "authentik.token",
        "authentik.permissions",
        "oidc.client",
        "oidc.redirect_uri",
        "org.groups",
        "org.admin",
        "user.exists",
        "user.active",
        "user.group",
        "user.membership",
        "user.role",
        "oidc.discovery",
    ] {
        assert_eq!(check(&report, id)["status"], "OK", "{id}: {report:#}");
    }
    // Authentik's password_change_date is still the account's creation time.
    let password = check(&report, "user.password");
    assert_eq!(password["status"], "WARN", "{password}");
    assert!(
        password["fix"]
            .as_str()
            .unwrap()
            .contains("loyalty user link nextdoor_admin"),
        "{password}"
    );
    assert!(failing(&report).is_empty(), "{:#?}", failing(&report));
    assert_eq!(out.status.code(), Some(0));

    // Without a membership row, Authentik people get one by signing in.
    sql(
        &db,
        "DELETE FROM users WHERE email = 'jane@nextdoor.example.com'",
    )
    .await;
    let (out, report) = doctor_authentik(
        &db.url,
        &standin.url,
        TOKEN,
        &["--org", "nextdoor", "--user", "jane@nextdoor.example.com"],
    )
    .await;
    assert_fails(
        &out,
        &report,
        "user.membership",
        "sign in once at https://loyalty.example.com/o/nextdoor/",
    );

    // An admin changed the provider's redirect URI in Authentik.
    standin.edit_provider("loyalty", |p| {
        p["redirect_uris"] = serde_json::json!([{"matching_mode": "strict", "url": "https://old.example.com/auth/callback"}]);
    });
    let (out, report) = doctor_authentik(&db.url, &standin.url, TOKEN, &[]).await;
    assert_fails(
        &out,
        &report,
        "oidc.redirect_uri",
        "loyalty authentik setup --base-url https://loyalty.example.com",
    );
    assert!(
        check(&report, "oidc.redirect_uri")["detail"]
            .as_str()
            .unwrap()
            .contains("old.example.com")
    );
    outside_api_only(&standin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authentik_that_does_not_answer_fails_with_where_to_look() {
    let db = TestDb::new(Kind::Sqlite).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (out, report) = doctor_authentik(&db.url, &closed, TOKEN, &[]).await;
    assert_fails(
        &out,
        &report,
        "authentik.reachable",
        "start Authentik or correct AUTHENTIK_URL",
    );
    assert_eq!(check(&report, "authentik.token")["status"], "SKIP");
    assert_eq!(check(&report, "oidc.discovery")["status"], "FAIL");
}
