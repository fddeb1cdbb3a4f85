//! The OpenAPI document at `/api/openapi.json` describes exactly the `/api/v1` routes the
//! router serves, every operation documents its errors, and Swagger UI is served.

use super::app::{TestApp, Who};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use loyalty_core::ErrorCode;
use loyalty_testkit::{Kind, TestDb};
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

/// Every operation of `/api/v1`, as the router declares it.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/api/v1/orgs/{slug}"),
    ("get", "/api/v1/orgs/{slug}/customers"),
    ("post", "/api/v1/orgs/{slug}/customers"),
    ("get", "/api/v1/orgs/{slug}/customers/{id}"),
    ("put", "/api/v1/orgs/{slug}/customers/{id}/consent"),
    ("get", "/api/v1/orgs/{slug}/customers/{id}/balance"),
    ("get", "/api/v1/orgs/{slug}/customers/{id}/ledger"),
    ("get", "/api/v1/orgs/{slug}/ledger"),
    ("get", "/api/v1/orgs/{slug}/me"),
    ("get", "/api/v1/orgs/{slug}/me/ledger"),
    ("get", "/api/v1/orgs/{slug}/customers/{id}/export"),
    ("post", "/api/v1/orgs/{slug}/customers/{id}/erase"),
    ("get", "/api/v1/orgs/{slug}/me/export"),
    ("post", "/api/v1/orgs/{slug}/me/erase"),
    ("post", "/api/v1/orgs/{slug}/purchases"),
    ("get", "/api/v1/orgs/{slug}/purchases/{id}"),
    ("post", "/api/v1/orgs/{slug}/purchases/{id}/reverse"),
    ("post", "/api/v1/orgs/{slug}/redemptions"),
    ("post", "/api/v1/orgs/{slug}/adjustments"),
    ("get", "/api/v1/orgs/{slug}/rewards"),
    ("post", "/api/v1/orgs/{slug}/rewards"),
    ("put", "/api/v1/orgs/{slug}/rewards/{id}"),
    ("get", "/api/v1/orgs/{slug}/program"),
    ("get", "/api/v1/orgs/{slug}/program/versions/{version}"),
    ("post", "/api/v1/orgs/{slug}/program/stamp-cards"),
    ("post", "/api/v1/orgs/{slug}/program/promotions"),
    ("put", "/api/v1/orgs/{slug}/program/bonuses"),
    ("delete", "/api/v1/orgs/{slug}/program/rules/{id}"),
    ("post", "/api/v1/orgs/{slug}/program/tiers"),
    ("put", "/api/v1/orgs/{slug}/program/tier-rules"),
    ("get", "/api/v1/orgs/{slug}/customers/{id}/tier"),
    ("post", "/api/v1/orgs/{slug}/program/preview"),
    ("get", "/api/v1/orgs/{slug}/customers/{id}/stamp-cards"),
    ("post", "/api/v1/orgs/{slug}/stamp-card-redemptions"),
    ("get", "/api/v1/orgs/{slug}/tokens"),
    ("post", "/api/v1/orgs/{slug}/tokens"),
    ("delete", "/api/v1/orgs/{slug}/tokens/{id}"),
    ("put", "/api/v1/orgs/{slug}/settings/points"),
    ("get", "/api/v1/orgs/{slug}/audit"),
    ("get", "/api/v1/orgs/{slug}/exports/ledger"),
    ("get", "/api/v1/orgs/{slug}/exports/balances"),
    ("get", "/api/v1/orgs/{slug}/exports/purchases"),
    ("get", "/api/v1/orgs/{slug}/exports/summary"),
    ("get", "/api/v1/orgs/{slug}/checkpoints"),
    ("get", "/api/v1/orgs/{slug}/checkpoints/{id}"),
    ("get", "/api/v1/orgs/{slug}/webhooks"),
    ("post", "/api/v1/orgs/{slug}/webhooks"),
    ("put", "/api/v1/orgs/{slug}/webhooks/{id}"),
    ("delete", "/api/v1/orgs/{slug}/webhooks/{id}"),
    ("post", "/api/v1/orgs/{slug}/webhooks/{id}/rotate"),
    ("post", "/api/v1/orgs/{slug}/webhooks/{id}/test"),
    ("get", "/api/v1/orgs/{slug}/webhook-deliveries"),
    ("post", "/api/v1/orgs/{slug}/webhook-deliveries/{id}/resend"),
];

/// The till's writes, which require an `Idempotency-Key`.
const IDEMPOTENT: &[&str] = &[
    "/api/v1/orgs/{slug}/purchases",
    "/api/v1/orgs/{slug}/purchases/{id}/reverse",
    "/api/v1/orgs/{slug}/redemptions",
    "/api/v1/orgs/{slug}/adjustments",
    "/api/v1/orgs/{slug}/stamp-card-redemptions",
];

/// Codes the API answers outside any one operation, documented in the description's table.
/// Actions on one resource that take no body.
const BODILESS: &[&str] = &[
    "/api/v1/orgs/{slug}/webhooks/{id}/rotate",
    "/api/v1/orgs/{slug}/webhooks/{id}/test",
    "/api/v1/orgs/{slug}/webhook-deliveries/{id}/resend",
];

const NOT_PER_OPERATION: &[ErrorCode] = &[ErrorCode::RouteNotFound, ErrorCode::OrgMissing];

/// The codes in a generated response description (`Codes: `a` (..), `b` (..).`), each
/// written as a code in backticks followed by what it means.
fn codes_in(description: &str) -> Vec<ErrorCode> {
    description
        .split('`')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].starts_with(" ("))
        .filter_map(|w| ErrorCode::parse(w[0]))
        .collect()
}

async fn app() -> TestApp {
    TestApp::new(TestDb::new(Kind::Sqlite).await).await
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_every_api_route_and_its_errors() {
    let app = app().await;
    let (status, doc) = app
        .call(&Who::Anonymous, "GET", "/api/openapi.json", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc,
        serde_json::to_value(loyalty_web::api::openapi::document()).unwrap()
    );

    // Exactly the expected operations under /api/v1.
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1"))
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
                .map(move |m| (m.clone(), p.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);

    // The router serves each of them: no 404 route.not_found, no 405.
    for (method, path) in OPERATIONS {
        let uri = path
            .replace("{slug}", "alpha")
            .replace("{id}", "00000000-0000-0000-0000-000000000000");
        let (status, body) = app
            .call(&Who::Anonymous, &method.to_uppercase(), &uri, None)
            .await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_ne!(body["error"]["code"], "route.not_found", "{method} {uri}");
    }

    let mut documented_codes = BTreeSet::new();
    for (method, path) in OPERATIONS {
        let op = &doc["paths"][path][method];
        let what = format!("{method} {path}");
        assert!(op["operationId"].is_string(), "{what}");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what}: no success response"
        );
        assert!(
            responses.keys().any(|s| s.starts_with('4')),
            "{what}: no 4xx response"
        );
        assert!(responses.contains_key("500"), "{what}: no 500 response");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let description = response["description"].as_str().unwrap();
                assert!(
                    description.contains('`'),
                    "{what} {status}: no codes in {description:?}"
                );
                // Each code is documented under the status the API sends it with.
                for code in codes_in(description) {
                    assert_eq!(code.status().to_string(), *status, "{what}: {code}");
                    documented_codes.insert(code);
                }
                // Every JSON error names the shared error body.
                if let Some(content) = response.get("content") {
                    assert_eq!(
                        content["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{what} {status}"
                    );
                }
            }
        }
        // Everything but the public organization facts needs a session or a token.
        if *path != "/api/v1/orgs/{slug}" {
            let schemes: Vec<&str> = op["security"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
                .collect();
            assert!(schemes.contains(&"session"), "{what}");
            assert!(
                responses.contains_key("401"),
                "{what}: authenticated but no 401"
            );
        }
        // Path parameters, the X-Organization header and, on the till's writes, the
        // required Idempotency-Key header.
        let params = op["parameters"].as_array().unwrap();
        let param = |name: &str, place: &str| {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == place)
                .cloned()
        };
        for name in ["slug", "id"] {
            if path.contains(&format!("{{{name}}}")) {
                assert_eq!(param(name, "path").unwrap()["required"], true, "{what}");
            }
        }
        assert_eq!(
            param("X-Organization", "header").unwrap()["required"],
            false,
            "{what}"
        );
        let key = param("Idempotency-Key", "header");
        if IDEMPOTENT.contains(path) {
            assert_eq!(key.unwrap()["required"], true, "{what}");
            assert!(responses.contains_key("409"), "{what}");
        } else {
            assert!(key.is_none(), "{what}");
        }
        // Operations with a JSON body document it (the webhook actions take none).
        if (*method == "post" || *method == "put") && !BODILESS.contains(path) {
            assert!(
                op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{what}: no request body"
            );
        }
    }
    // Every code the API sends is documented on some operation, or in the description.
    let description = doc["info"]["description"].as_str().unwrap();
    for code in loyalty_web::api::openapi::api_codes() {
        if NOT_PER_OPERATION.contains(&code) {
            assert!(description.contains(&format!("`{code}`")), "{code}");
        } else {
            assert!(
                documented_codes.contains(&code),
                "code {code} is documented on no response"
            );
        }
    }
    for code in &documented_codes {
        assert!(
            code.in_api(),
            "{code} is documented but never sent as it is"
        );
    }

    // Security schemes and schemas.
    let components = &doc["components"];
    assert_eq!(components["securitySchemes"]["session"]["type"], "apiKey");
    assert_eq!(components["securitySchemes"]["session"]["in"], "cookie");
    assert_eq!(
        components["securitySchemes"]["session"]["name"],
        "loyalty_session"
    );
    assert_eq!(components["securitySchemes"]["api_token"]["type"], "http");
    assert_eq!(
        components["securitySchemes"]["api_token"]["scheme"],
        "bearer"
    );
    let schemas = components["schemas"].as_object().unwrap();
    let codes = schemas["ErrorDetail"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap();
    for code in loyalty_web::api::openapi::api_codes() {
        assert!(
            codes.contains(&Value::from(code.as_str())),
            "{code} not in enum"
        );
    }
    let purchase = &schemas["Purchase"]["properties"];
    assert_eq!(purchase["amount"]["type"], "string");
    assert_eq!(purchase["id"]["format"], "uuid");
    assert_eq!(purchase["created_at"]["format"], "date-time");
    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    for r in all_refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_is_served() {
    let app = app().await;
    let get = |uri: &str| {
        app.router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
    };
    let resp = get("/api/docs/").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains("swagger-ui"), "{html}");
    // The UI's configuration points at the document.
    let resp = get("/api/docs/swagger-initializer.js").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let js = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&js).contains("/api/openapi.json"));
    // Without the slash: redirected to it.
    let resp = get("/api/docs").await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(resp.headers()[header::LOCATION], "/api/docs/");
}

#[test]
fn the_document_describes_the_purchase_bound() {
    let doc = serde_json::to_value(loyalty_web::api::openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let award = schemas["AwardAnswer"].to_string();
    assert!(award.contains("unusual_amount"), "{award}");
    assert!(
        schemas["UnusualAmount"]["properties"]["bound"].is_object(),
        "{}",
        schemas["UnusualAmount"]
    );
    for field in ["purchase_bound", "daily_points_flag"] {
        assert!(
            schemas["SettingsBody"]["properties"][field].is_object(),
            "{field}: {}",
            schemas["SettingsBody"]
        );
        assert!(
            schemas["SettingsView"]["properties"][field].is_object(),
            "{field}: {}",
            schemas["SettingsView"]
        );
    }
    let op = doc["paths"]["/api/v1/orgs/{slug}/purchases"]["post"]["responses"]["201"].to_string();
    assert!(op.contains("AwardAnswer"), "{op}");
}

#[test]
fn typed_ids_are_plain_uuid_strings_in_the_document() {
    let doc = serde_json::to_value(loyalty_web::api::openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("Customer", "id"),
        ("Purchase", "id"),
        ("Purchase", "customer_id"),
        ("Reward", "id"),
        ("LedgerEntry", "id"),
        ("LedgerEntry", "customer_id"),
        ("ApiToken", "id"),
        ("Balance", "customer_id"),
    ] {
        let p = &schemas[schema]["properties"][field];
        assert_eq!(
            (p["type"].as_str(), p["format"].as_str()),
            (Some("string"), Some("uuid")),
            "{schema}.{field}: {p}"
        );
    }
}

/// Every documented request body refuses a field it does not know (`{"balance": 1000}`
/// on an enrolment), with the code every body uses: walks the document's operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_body_refuses_unknown_fields() {
    let app = app().await;
    let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
    let doc = serde_json::to_value(loyalty_web::api::openapi::document()).unwrap();
    let mut walked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            let uri = path
                .replace("{slug}", "alpha")
                .replace("{id}", &uuid::Uuid::new_v4().to_string());
            let (status, answer) = app
                .call_raw(
                    &admin,
                    &method.to_uppercase(),
                    &uri,
                    Some(r#"{"balance": 1000}"#.into()),
                    &[],
                )
                .await;
            assert_eq!(
                (status.as_u16(), answer["error"]["code"].as_str()),
                (422, Some("request.invalid_field")),
                "{method} {path}: {answer}"
            );
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("unknown field `balance`")),
                "{method} {path}: {answer}"
            );
            walked += 1;
        }
    }
    assert!(walked >= 8, "walked {walked} bodies");
}
