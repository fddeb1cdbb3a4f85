//! Apple Wallet pushes against a local HTTP/2 receiver playing APNs (h2c: HTTP/2 over
//! plain TCP with prior knowledge, the same client as against Apple's TLS endpoint): a
//! device registers its pass through the web service, an award queues one push in the
//! award's transaction, the sender posts it once (with the pass type as `apns-topic` and
//! an ES256 JWT that verifies with the APNs key's public half), and the device's next
//! requests find the pass changed and fetch the new balance. A device APNs calls gone
//! loses its registrations.

use axum::body::Body;
use axum::http::Request;
use loyalty_identity::wallet::apple::{AppleWallet, PassSigner};
use loyalty_identity::wallet::google::GoogleWallet;
use loyalty_ops::config::{ApnsConfig, AppleWalletConfig};
use loyalty_ops::wallet::{ApnsTransport, GoogleRest, send};
use loyalty_testkit::both_backends;
use loyalty_testkit::loyalty_core::clock::{Clock, FixedClock};
use loyalty_testkit::loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_testkit::loyalty_core::domain::{OrgStatus, Organization};
use loyalty_testkit::loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::loyalty_core::service::wallet::apple::AppleIssuer;
use loyalty_testkit::loyalty_core::service::wallet::updates;
use loyalty_testkit::{TestDb, fixed_clock};
use loyalty_web::{AppState, Identity, WebConfig};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

#[path = "../../../identity/tests/wallet/ca.rs"]
mod ca;

/// One request APNs' stand-in received.
#[derive(Debug, Clone)]
struct Received {
    version: axum::http::Version,
    path: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// An HTTP/2-only (h2c) server answering every push with `status`, recording each.
async fn apns_standin(status: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = axum::body::to_bytes(Body::new(body), 1 << 16)
                                .await
                                .unwrap();
                            log.lock().unwrap().push(Received {
                                version: parts.version,
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers,
                                body: body.to_vec(),
                            });
                            let answer = if status == 200 {
                                String::new()
                            } else {
                                r#"{"reason":"Unregistered"}"#.to_owned()
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Body::from(answer))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
            });
        }
    });
    (url, seen)
}

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        language: Some("en-US".into()),
        ..OnboardInput::default()
    };
    db.store
        .insert_organization(
            &input.validate().unwrap().org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .unwrap()
}

/// The APNs key (`apns.p8`, PKCS#8 P-256) and its public half (`apns.pub`).
fn apns_key(dir: &Path) {
    ca::openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "apns.p8",
        ],
    );
    ca::openssl(
        dir,
        &["pkey", "-in", "apns.p8", "-pubout", "-out", "apns.pub"],
    );
}

fn apple_config(dir: &Path, apns_url: &str) -> AppleWalletConfig {
    let path = |f: &str| Some(dir.join(f).display().to_string());
    AppleWalletConfig {
        pass_type_id: Some("pass.test.loyalty".into()),
        team_id: Some("TEAMID1234".into()),
        certificate: path("pass.pem"),
        key: path("pass.key"),
        wwdr_certificate: path("wwdr.pem"),
        apns: ApnsConfig {
            auth: Some("token".into()),
            key: path("apns.p8"),
            key_id: Some("KEYID12345".into()),
            url: apns_url.into(),
            poll_interval_secs: 1,
        },
        ..AppleWalletConfig::default()
    }
}

struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A request as Wallet on a phone sends it to the web service.
async fn device(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("ApplePass {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn balance_of(pkpass: &[u8]) -> serde_json::Value {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(pkpass.to_vec())).unwrap();
    let mut v = Vec::new();
    zip.by_name("pass.json")
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    let pass: serde_json::Value = serde_json::from_slice(&v).unwrap();
    pass["storeCard"]["primaryFields"][0]["value"].clone()
}

both_backends! {
    async fn an_award_pushes_once_to_apns_and_the_device_then_fetches_the_new_balance(db) {
        let dir = tempfile::tempdir().unwrap();
        ca::make_ca(dir.path());
        apns_key(dir.path());
        let (apns_url, seen) = apns_standin(200).await;
        let config = apple_config(dir.path(), &apns_url);
        let transport = ApnsTransport::from_config(&config).unwrap().expect("APNs configured");

        let clock = Arc::new(fixed_clock());
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let member = db.store.enroll_customer(a.id, &NewCustomer {
            phone: None, email: None, name: Some("Cus".into()), card_number: "400000000006".into(),
            identity_subject: None, created_by: None,
        }, &Actor::system(), now).await.unwrap();
        let signer = PassSigner::from_files(&dir.path().join("pass.pem"), &dir.path().join("pass.key"), &dir.path().join("wwdr.pem")).unwrap();
        let wallet = AppleWallet::new(AppleIssuer {
            pass_type_id: "pass.test.loyalty".into(),
            team_id: "TEAMID1234".into(),
            web_service_url: Some("http://127.0.0.1:8080/wallet/apple".into()),
        }, signer);
        let dir_clock: Arc<dyn Clock> = clock.clone();
        let directory = db.directory(dir_clock);
        let router = loyalty_web::router(AppState {
            store: db.store.clone(),
            directory: Arc::new(directory.clone()),
            clock: clock.clone(),
            identity: Identity::Builtin(directory),
            config: Arc::new(WebConfig { apple_wallet: Some(Arc::new(wallet)), ..WebConfig::default() }),
        });

        // The member's pass was downloaded; the phone registers it.
        let (token, _) = updates::issue(db.store.as_ref(), &a, member.id, now).await.unwrap();
        let serial = format!("{}.{}", a.id, member.id);
        let base = "/wallet/apple/alpha/v1";
        let push_token = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        let reg = format!("{base}/devices/device1/registrations/pass.test.loyalty/{serial}");
        let r = device(&router, "POST", &reg, Some(&token), Some(serde_json::json!({"pushToken": push_token}))).await;
        assert_eq!(r.status, 201);
        let list = format!("{base}/devices/device1/registrations/pass.test.loyalty");
        let r = device(&router, "GET", &list, None, None).await;
        let tag = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["lastUpdated"].as_str().unwrap().to_owned();

        // Nothing to push before a change.
        assert_eq!(send(db.store.as_ref(), clock.as_ref(), Some(&transport), None).await.unwrap().sent, 0);
        assert!(seen.lock().unwrap().is_empty());

        let award = PointsCommand::Award {
            customer: member.id, amount: rust_decimal::Decimal::new(5000, 2), currency: a.currency.to_string(), points: 50,
            metadata: serde_json::json!({}), receipt: false, unusual: None, program: None,
        };
        db.store.apply_points(a.id, &award, &Actor::system(), None, now).await.unwrap();
        let report = send(db.store.as_ref(), clock.as_ref(), Some(&transport), None).await.unwrap();
        assert_eq!(report.sent, 1, "{report:?}");
        // A second pass sends nothing more: the push is recorded as sent.
        assert_eq!(send(db.store.as_ref(), clock.as_ref(), Some(&transport), None).await.unwrap().sent, 0);

        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "exactly one push: {got:?}");
        let push = &got[0];
        assert_eq!(push.version, axum::http::Version::HTTP_2);
        assert_eq!(push.path, format!("/3/device/{push_token}"));
        assert_eq!(push.headers["apns-topic"], "pass.test.loyalty");
        assert_eq!(push.body, b"{}");
        let jwt = push.headers["authorization"].to_str().unwrap().strip_prefix("bearer ").unwrap();
        let public = std::fs::read(dir.path().join("apns.pub")).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(jwt, &jsonwebtoken::DecodingKey::from_ec_pem(&public).unwrap(), &validation).unwrap();
        assert_eq!(decoded.header.kid.as_deref(), Some("KEYID12345"));
        assert_eq!(decoded.claims["iss"], "TEAMID1234");
        assert!(decoded.claims["iat"].as_i64().is_some());
        // Another key does not verify it.
        ca::openssl(dir.path(), &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.p8"]);
        ca::openssl(dir.path(), &["pkey", "-in", "other.p8", "-pubout", "-out", "other.pub"]);
        let other = std::fs::read(dir.path().join("other.pub")).unwrap();
        assert!(jsonwebtoken::decode::<serde_json::Value>(jwt, &jsonwebtoken::DecodingKey::from_ec_pem(&other).unwrap(), &validation).is_err());

        // The phone, woken, asks what changed and fetches the pass: the new balance.
        let r = device(&router, "GET", &format!("{list}?passesUpdatedSince={tag}"), None, None).await;
        assert_eq!(r.status, 200);
        let changed: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(changed["serialNumbers"], serde_json::json!([serial]));
        let r = device(&router, "GET", &format!("{base}/passes/pass.test.loyalty/{serial}"), Some(&token), None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["content-type"], "application/vnd.apple.pkpass");
        assert_eq!(balance_of(&r.body), 50);
    }

    async fn a_device_apns_calls_gone_loses_its_registrations(db) {
        let dir = tempfile::tempdir().unwrap();
        ca::make_ca(dir.path());
        apns_key(dir.path());
        let (apns_url, seen) = apns_standin(410).await;
        let transport = ApnsTransport::from_config(&apple_config(dir.path(), &apns_url)).unwrap().expect("APNs configured");
        let clock = fixed_clock();
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let member = db.store.enroll_customer(a.id, &NewCustomer {
            phone: None, email: None, name: None, card_number: "400000000006".into(),
            identity_subject: None, created_by: None,
        }, &Actor::system(), now).await.unwrap();
        updates::issue(db.store.as_ref(), &a, member.id, now).await.unwrap();
        db.store.register_wallet_device(a.id, member.id, "device1", "0a1b2c3d", now).await.unwrap();
        let award = PointsCommand::Award {
            customer: member.id, amount: rust_decimal::Decimal::new(1000, 2), currency: a.currency.to_string(), points: 10,
            metadata: serde_json::json!({}), receipt: false, unusual: None, program: None,
        };
        db.store.apply_points(a.id, &award, &Actor::system(), None, now).await.unwrap();
        let report = send(db.store.as_ref(), &clock, Some(&transport), None).await.unwrap();
        assert_eq!(report.given_up, 1, "{report:?}");
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert!(db.store.wallet_passes_for_device(a.id, "device1", None).await.unwrap().is_empty());
        // Given up, it is not sent again.
        assert_eq!(send(db.store.as_ref(), &clock, Some(&transport), None).await.unwrap(), Default::default());
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}

/// What the Google stand-in saw: token requests' assertions, and object PATCHes.
#[derive(Default)]
struct GoogleSeen {
    assertions: Vec<String>,
    patches: Vec<(String, String, serde_json::Value)>,
}

/// Google's token endpoint and Wallet REST API, played over HTTP/1 on loopback.
async fn google_standin() -> (String, Arc<Mutex<GoogleSeen>>) {
    use axum::extract::{Path as UrlPath, State};
    use axum::routing::{patch, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<GoogleSeen>> = Arc::default();
    let app = axum::Router::new()
        .route("/token", post(|State(seen): State<Arc<Mutex<GoogleSeen>>>, body: String| async move {
            let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
            assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
            seen.lock().unwrap().assertions.push(form["assertion"].clone());
            axum::Json(serde_json::json!({"access_token": "access-123", "expires_in": 3600, "token_type": "Bearer"}))
        }))
        .route("/walletobjects/v1/loyaltyObject/{id}", patch(|State(seen): State<Arc<Mutex<GoogleSeen>>>, UrlPath(id): UrlPath<String>, headers: axum::http::HeaderMap, body: String| async move {
            let auth = headers["authorization"].to_str().unwrap().to_owned();
            seen.lock().unwrap().patches.push((id, auth, serde_json::from_str(&body).unwrap()));
            axum::Json(serde_json::json!({}))
        }))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn verify_rs256(jwt: &str, public_pem: &[u8], aud: &str) -> serde_json::Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.set_audience(&[aud]);
    jsonwebtoken::decode::<serde_json::Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_rsa_pem(public_pem).unwrap(),
        &validation,
    )
    .unwrap()
    .claims
}

both_backends! {
    async fn the_google_link_carries_the_members_object_and_an_award_updates_it_through_the_rest_api(db) {
        let dir = tempfile::tempdir().unwrap();
        ca::openssl(dir.path(), &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.pem"]);
        ca::openssl(dir.path(), &["pkey", "-in", "sa.pem", "-pubout", "-out", "sa.pub"]);
        let (google_url, seen) = google_standin().await;
        let token_uri = format!("{google_url}/token");
        std::fs::write(dir.path().join("sa.json"), serde_json::json!({
            "type": "service_account",
            "client_email": "loyalty@example-project.iam.gserviceaccount.com",
            "private_key": std::fs::read_to_string(dir.path().join("sa.pem")).unwrap(),
            "token_uri": token_uri,
        }).to_string()).unwrap();
        let wallet = GoogleWallet::from_key_file("3388000000012345678", &dir.path().join("sa.json"), "https://loyalty.example.com").unwrap();
        let public = std::fs::read(dir.path().join("sa.pub")).unwrap();

        let clock = fixed_clock();
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let member = db.store.enroll_customer(a.id, &NewCustomer {
            phone: None, email: None, name: Some("Cus".into()), card_number: "400000000006".into(),
            identity_subject: None, created_by: None,
        }, &Actor::system(), now).await.unwrap();

        // The link: a JWT the service account's public key verifies, holding the shop's
        // class and the member's object.
        let look = loyalty_testkit::loyalty_core::service::wallet::look::shop_look(db.store.as_ref(), &a).await.unwrap();
        let link = wallet.save_link(&a, &look, &member, now.unix_timestamp()).unwrap();
        let jwt = link.strip_prefix("https://pay.google.com/gp/v/save/").expect("a Save to Google Wallet link");
        let claims = verify_rs256(jwt, &public, "google");
        assert_eq!(claims["iss"], "loyalty@example-project.iam.gserviceaccount.com");
        assert_eq!(claims["typ"], "savetowallet");
        assert_eq!(claims["origins"], serde_json::json!(["https://loyalty.example.com"]));
        let class = &claims["payload"]["loyaltyClasses"][0];
        assert_eq!(class["id"], format!("3388000000012345678.{}", a.id));
        assert_eq!(class["issuerName"], "alpha market");
        assert_eq!(class["programLogo"]["sourceUri"]["uri"], "https://loyalty.example.com/o/alpha/wallet/logo.png");
        let object = &claims["payload"]["loyaltyObjects"][0];
        assert_eq!(object["id"], format!("3388000000012345678.{}", member.id));
        assert_eq!(object["classId"], class["id"]);
        assert_eq!(object["state"], "ACTIVE");
        assert_eq!(object["accountId"], "400000000006");
        assert_eq!(object["accountName"], "Cus");
        assert_eq!(object["barcode"]["value"], "400000000006");
        assert_eq!(object["loyaltyPoints"]["balance"]["int"], 0);
        // Another key does not verify it.
        ca::openssl(dir.path(), &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.pem"]);
        ca::openssl(dir.path(), &["pkey", "-in", "other.pem", "-pubout", "-out", "other.pub"]);
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.set_audience(&["google"]);
        assert!(jsonwebtoken::decode::<serde_json::Value>(jwt, &jsonwebtoken::DecodingKey::from_rsa_pem(&std::fs::read(dir.path().join("other.pub")).unwrap()).unwrap(), &validation).is_err());

        // The portal made the link: from now on an award updates the object.
        db.store.record_google_object(a.id, member.id, now).await.unwrap();
        let google = GoogleRest::new(wallet, &google_url).unwrap();
        assert_eq!(send(db.store.as_ref(), &clock, None, Some(&google)).await.unwrap().sent, 0);
        let award = PointsCommand::Award {
            customer: member.id, amount: rust_decimal::Decimal::new(5000, 2), currency: a.currency.to_string(), points: 50,
            metadata: serde_json::json!({}), receipt: false, unusual: None, program: None,
        };
        db.store.apply_points(a.id, &award, &Actor::system(), None, now).await.unwrap();
        let report = send(db.store.as_ref(), &clock, None, Some(&google)).await.unwrap();
        assert_eq!(report.sent, 1, "{report:?}");
        assert_eq!(send(db.store.as_ref(), &clock, None, Some(&google)).await.unwrap().sent, 0);

        {
        let got = seen.lock().unwrap();
        assert_eq!(got.assertions.len(), 1);
        let assertion = verify_rs256(&got.assertions[0], &public, &token_uri);
        assert_eq!(assertion["iss"], "loyalty@example-project.iam.gserviceaccount.com");
        assert_eq!(assertion["scope"], "https://www.googleapis.com/auth/wallet_object.issuer");
        assert_eq!(got.patches.len(), 1, "one update");
        let (id, auth, body) = &got.patches[0];
        assert_eq!(id, &format!("3388000000012345678.{}", member.id));
        assert_eq!(auth, "Bearer access-123");
        assert_eq!(body["loyaltyPoints"]["balance"]["int"], 50);
        assert_eq!(body["state"], "ACTIVE");
        }

        // Erasing the member sets their object inactive, without their name or card
        // number, through the same outbox: one PATCH.
        let admin = loyalty_testkit::loyalty_core::service::points::Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &a,
            actor: Actor { member_id: None, label: "ada".into(), role: "admin".into(), request_id: None },
            role: loyalty_testkit::loyalty_core::domain::Role::Admin,
        };
        let dir = db.directory(Arc::new(clock.clone()));
        loyalty_testkit::loyalty_core::service::erasure::erase_customer(&admin, &dir, None, member.id, "ERASE").await.expect("erase");
        let report = send(db.store.as_ref(), &clock, None, Some(&google)).await.unwrap();
        assert_eq!(report.sent, 1, "{report:?}");
        assert_eq!(send(db.store.as_ref(), &clock, None, Some(&google)).await.unwrap().sent, 0);
        let got = seen.lock().unwrap();
        assert_eq!(got.patches.len(), 2, "one more update");
        let (id, _, body) = &got.patches[1];
        assert_eq!(id, &format!("3388000000012345678.{}", member.id));
        assert_eq!(body["state"], "INACTIVE");
        let text = body.to_string();
        assert!(!text.contains("Cus") && !text.contains("400000000006"), "{text}");
        assert!(body["accountName"].as_str().unwrap().starts_with("erased-"), "{text}");
    }

    async fn erasing_a_member_who_never_saved_the_google_card_queues_nothing_for_google(db) {
        let clock = fixed_clock();
        let now = clock.now();
        let a = org(&db, "alpha", &clock).await;
        let member = db.store.enroll_customer(a.id, &NewCustomer {
            phone: None, email: None, name: Some("Cus".into()), card_number: "400000000006".into(),
            identity_subject: None, created_by: None,
        }, &Actor::system(), now).await.unwrap();
        let admin = loyalty_testkit::loyalty_core::service::points::Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &a,
            actor: Actor { member_id: None, label: "ada".into(), role: "admin".into(), request_id: None },
            role: loyalty_testkit::loyalty_core::domain::Role::Admin,
        };
        let dir = db.directory(Arc::new(clock.clone()));
        loyalty_testkit::loyalty_core::service::erasure::erase_customer(&admin, &dir, None, member.id, "ERASE").await.expect("erase");
        let due = db.store.claim_wallet_pushes(now, now + time::Duration::minutes(5), 10).await.unwrap();
        assert!(due.is_empty(), "{due:?}");
    }
}

#[test]
fn without_apns_settings_there_is_no_sender_and_a_wrong_auth_names_the_fix() {
    let mut apple = AppleWalletConfig::default();
    assert!(ApnsTransport::from_config(&apple).unwrap().is_none());
    apple.pass_type_id = Some("pass.test.loyalty".into());
    apple.apns.auth = Some("password".into());
    let err = ApnsTransport::from_config(&apple).unwrap_err().to_string();
    assert!(
        err.contains("wallet.apple.apns.auth") && err.contains("token"),
        "{err}"
    );
    apple.apns.auth = Some("token".into());
    let err = ApnsTransport::from_config(&apple).unwrap_err().to_string();
    assert!(err.contains("wallet.apple.apns.key"), "{err}");
}

/// A Pass Type ID certificate with its key as a Mac's Keychain exports it (PKCS#12, with a
/// password): the configuration refuses the file naming the `openssl` commands, and the
/// PEM files those very commands write sign passes.
#[test]
fn a_pkcs12_file_is_refused_naming_the_openssl_commands_that_convert_it() {
    let dir = tempfile::tempdir().unwrap();
    ca::make_ca(dir.path());
    ca::openssl(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-in",
            "pass.pem",
            "-inkey",
            "pass.key",
            "-out",
            "pass.p12",
            "-passout",
            "pass:keychain-secret",
        ],
    );
    std::fs::write(dir.path().join("p12.pass"), "keychain-secret\n").unwrap();
    let path = |f: &str| Some(dir.path().join(f).display().to_string());
    let mut apple = AppleWalletConfig {
        pass_type_id: Some("pass.test.loyalty".into()),
        team_id: Some("TEAMID1234".into()),
        wwdr_certificate: path("wwdr.pem"),
        p12: path("pass.p12"),
        p12_password_file: path("p12.pass"),
        ..AppleWalletConfig::default()
    };
    let err = apple
        .load("https://loyalty.example.com")
        .expect_err("p12 refused")
        .to_string();
    assert!(err.contains("wallet.apple.p12"), "{err}");
    assert!(
        err.contains("openssl pkcs12 -in pass.p12 -clcerts -nokeys -out pass.pem"),
        "{err}"
    );
    assert!(
        err.contains("openssl pkcs12 -in pass.p12 -nocerts -nodes -out pass.key"),
        "{err}"
    );
    assert!(
        !err.contains("keychain-secret"),
        "the password is never repeated: {err}"
    );
    apple.p12_password_file = None;
    apple.p12_password_env = Some("LOYALTY_TEST_P12_PASSWORD".into());
    assert!(
        apple.load("https://loyalty.example.com").is_err(),
        "with the password in a variable too"
    );

    // The named commands, run on the file, give PEM files that load and sign a pass.
    ca::openssl(
        dir.path(),
        &[
            "pkcs12",
            "-in",
            "pass.p12",
            "-clcerts",
            "-nokeys",
            "-out",
            "from-p12.pem",
            "-passin",
            "pass:keychain-secret",
        ],
    );
    ca::openssl(
        dir.path(),
        &[
            "pkcs12",
            "-in",
            "pass.p12",
            "-nocerts",
            "-nodes",
            "-out",
            "from-p12.key",
            "-passin",
            "pass:keychain-secret",
        ],
    );
    apple.p12 = None;
    apple.p12_password_env = None;
    apple.certificate = path("from-p12.pem");
    apple.key = path("from-p12.key");
    let wallet = apple
        .load("https://loyalty.example.com")
        .expect("PEM files load")
        .expect("configured");
    let signature = wallet.signer.sign(b"{}").expect("signs");
    assert!(!signature.is_empty());
}
