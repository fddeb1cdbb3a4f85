//! Sign-in through a REAL OpenID provider (the npm package `oidc-provider`, the script
//! of `crates/identity/tests/oidc/provider`) with OUR `/auth/login` and `/auth/callback`
//! on a served router and a test database; then pages and API for the provider's
//! groups, bearer JWTs on the API, and a tampered `state`.
//! The directory access re-checks people against is the schema-checking Authentik
//! stand-in of `loyalty-identity`'s tests, where the provider's one account (alice) is a
//! user with the same subject.
//! Without node and npm the tests fail naming them, unless `LOYALTY_TEST_SKIP` names `node`.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

/// The schema-checking Authentik stand-in of `loyalty-identity`'s tests, shared rather
/// than copied (a stand-in, not Authentik itself).
#[path = "../../../identity/tests/authentik"]
#[allow(dead_code, unused_imports)]
mod authentik {
    pub mod schema;
    pub mod standin;
}
/// The stand-in refers to its schema checker as `crate::schema`.
use authentik::schema;
use authentik::standin::StandIn;
use loyalty_core::directory::cache::CachedDirectory;
use loyalty_identity::authentik::AuthentikDirectory;

mod follows;

use loyalty_core::clock::{Clock, SystemClock};
use loyalty_core::domain::{OrgStatus, Organization};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_identity::oidc::{OidcClient, OidcConfig, OidcOptions};
use loyalty_testkit::{Kind, TestDb, skip_postgres};
use loyalty_web::{AppState, Identity, WebConfig};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

const CLIENT_ID: &str = "nextdoor-loyalty";
const CLIENT_SECRET: &str = "s3cret with spaces:and/colons";
const SUBJECT: &str = "5e982924df64d093d4828e8d7a5d3431660e81d84dbbd1f2c36dcca96c32917c";

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../identity/tests/oidc/provider")
}

/// `npm ci` once (file lock shared with the identity tests).
fn ensure_installed() -> Result<(), String> {
    let dir = provider_dir();
    let marker = dir.join("node_modules/oidc-provider/package.json");
    if marker.exists() {
        return Ok(());
    }
    let lock_path = std::env::temp_dir().join("loyalty-oidc-provider-npm.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    if marker.exists() {
        return Ok(());
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed: {status}"));
    }
    Ok(())
}

/// The provider, its issuer; `None` when `LOYALTY_TEST_SKIP` names `node` and node is missing.
async fn start_provider(redirect_uri: &str, groups: &str) -> Option<(Child, String)> {
    loyalty_identity::authentik::install_crypto_provider();
    let have = |cmd: &str| {
        std::process::Command::new(cmd)
            .arg("--version")
            .output()
            .is_ok()
    };
    if !loyalty_testkit::tools::required(
        "node",
        have("node") && have("npm"),
        "Node.js 20+ and npm (the OIDC tests' provider)",
        "apt-get install nodejs npm",
    ) {
        return None;
    }
    ensure_installed().expect("installing oidc-provider");
    let mut child = Command::new("node")
        .arg("server.js")
        .current_dir(provider_dir())
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", redirect_uri)
        .env("CLAIMS_IN", "id_token")
        .env("GROUPS", groups)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    // A whole suite on two cores can starve node's start for a while; one that never
    // starts still fails here.
    tokio::time::timeout(
        Duration::from_secs(120),
        BufReader::new(stdout).read_line(&mut first),
    )
    .await
    .expect("the provider starts in time")
    .expect("the provider's first line");
    let hello: serde_json::Value = serde_json::from_str(&first).expect("json");
    Some((child, hello["issuer"].as_str().unwrap().to_owned()))
}

struct Setup {
    _provider: Child,
    _db: TestDb,
    base: String,
    client: OidcClient,
    issuer: String,
    alpha: Organization,
    beta: Organization,
    /// Authentik (the stand-in), where alice is the user with the provider's subject.
    standin: StandIn,
    /// Her pk there.
    alice_pk: i64,
    /// The directory the server re-checks people with.
    dir: Arc<CachedDirectory<AuthentikDirectory>>,
}

async fn setup(kind: Kind) -> Option<Setup> {
    setup_with(
        kind,
        &["alpha-admins", "pending-users"],
        Duration::from_secs(30),
    )
    .await
}

/// The server, with alice in `groups` both in the provider's claims and at Authentik,
/// and access re-checking her at most `bound` after a change made in Authentik.
async fn setup_with(kind: Kind, groups: &[&str], bound: Duration) -> Option<Setup> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redirect = format!("{base}/auth/callback");
    let (provider, issuer) = start_provider(&redirect, &groups.join(",")).await?;
    let standin = StandIn::start().await;
    let alice_pk = standin.add_user_with_subject("alice", "alice@example.test", SUBJECT, groups);
    let client = OidcClient::discover_with(
        OidcConfig {
            issuer: Url::parse(&issuer).unwrap(),
            client_id: CLIENT_ID.into(),
            client_secret: SecretString::from(CLIENT_SECRET),
            redirect_url: Url::parse(&redirect).unwrap(),
        },
        OidcOptions {
            // `api` makes the provider issue JWT access tokens (like Authentik).
            scopes: ["openid", "email", "profile", "api"]
                .map(String::from)
                .to_vec(),
            ..OidcOptions::default()
        },
    )
    .await
    .expect("discovery");
    let db = TestDb::new(kind).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut orgs = Vec::new();
    for slug in ["alpha", "beta"] {
        let input = OnboardInput {
            name: Some(format!("{slug} market")),
            slug: Some(slug.into()),
            admin_email: Some(format!("admin@{slug}.example.com")),
            admin_name: Some("Ada".into()),
            country: Some("US".into()),
            timezone: Some("America/New_York".into()),
            ..OnboardInput::default()
        };
        orgs.push(
            db.store
                .insert_organization(
                    &input.validate().unwrap().org,
                    OrgStatus::Active,
                    clock.now(),
                )
                .await
                .unwrap(),
        );
    }
    let dir = Arc::new(CachedDirectory::new(
        standin.directory(),
        time::Duration::try_from(bound).unwrap(),
        clock.clone(),
    ));
    let state = AppState {
        store: db.store.clone(),
        directory: dir.clone(),
        clock,
        identity: Identity::Authentik {
            oidc: Some(Arc::new(client.clone())),
        },
        config: Arc::new(WebConfig {
            public_url: base.clone(),
            ..WebConfig::default()
        }),
    };
    tokio::spawn(loyalty_web::serve(listener, state, std::future::pending()));
    Some(Setup {
        _provider: provider,
        _db: db,
        base,
        client,
        issuer,
        beta: orgs.swap_remove(1),
        alpha: orgs.swap_remove(0),
        standin,
        alice_pk,
        dir,
    })
}

/// A browser: one cookie jar (cookies ignore ports), redirects followed by hand, the
/// provider's development login and consent forms filled.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn jar(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, url: &Url, form: Option<Vec<(&str, String)>>) -> reqwest::Response {
        let mut request = match form {
            Some(fields) => self.http.post(url.clone()).form(&fields),
            None => self.http.get(url.clone()),
        };
        let jar = self.jar();
        if !jar.is_empty() {
            request = request.header(COOKIE, jar);
        }
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                let lower = text.to_ascii_lowercase();
                if value.is_empty()
                    || lower.contains("max-age=0")
                    || lower.contains("expires=thu, 01 jan 1970")
                {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        response
    }

    /// Follows redirects from `start` until `stop` says a URL is the end (not fetched);
    /// returns it.
    async fn drive(&mut self, start: Url, stop: impl Fn(&Url) -> bool) -> Url {
        let mut url = start;
        let mut form = None;
        for _ in 0..25 {
            let response = self.send(&url, form.take()).await;
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
                let next = url.join(&location).unwrap();
                if stop(&next) {
                    return next;
                }
                url = next;
                continue;
            }
            let body = response.text().await.unwrap();
            assert_eq!(status, 200, "at {url}: {body}");
            if body.contains(r#"name="prompt" value="login""#) {
                form = Some(vec![
                    ("prompt", "login".into()),
                    ("login", SUBJECT.into()),
                    ("password", "any password".into()),
                ]);
            } else if body.contains(r#"name="prompt" value="consent""#) {
                form = Some(vec![("prompt", "consent".into())]);
            } else {
                panic!("no login or consent form at {url}: {body}");
            }
        }
        panic!("too many steps");
    }

    async fn get(&mut self, url: &str) -> (u16, String) {
        let r = self.send(&Url::parse(url).unwrap(), None).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

async fn signs_in_through_our_routes(kind: Kind) {
    let Some(s) = setup(kind).await else { return };
    let mut b = Browser::new();
    let (status, body) = b.get(&format!("{}/login", s.base)).await;
    assert_eq!(status, 200);
    assert!(body.contains("Sign in with your organization") && body.contains("/auth/login"));

    let base = s.base.clone();
    let end = b
        .drive(Url::parse(&format!("{base}/auth/login")).unwrap(), |u| {
            u.as_str() == format!("{base}/")
        })
        .await;
    assert_eq!(end.path(), "/");
    assert!(b.cookies.contains_key("loyalty_session"), "{:?}", b.cookies);
    assert!(!b.cookies.contains_key("loyalty_oidc"));

    // Pages: home lists alpha (admin), the admin panel opens, beta's does not.
    let (status, body) = b.get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(body.contains("alpha market"), "{body}");
    assert!(!body.contains("beta market"), "{body}");
    let (status, _) = b.get(&format!("{base}/o/alpha/admin")).await;
    assert_eq!(status, 200);
    let (status, _) = b.get(&format!("{base}/o/beta/admin")).await;
    assert_ne!(status, 200);

    // API with the session cookie.
    let (status, body) = b.get(&format!("{base}/api/v1/orgs/alpha/rewards")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = b.get(&format!("{base}/api/v1/orgs/beta/rewards")).await;
    assert_eq!(status, 403);

    // Just-in-time member row.
    let member = s.alpha.id;
    let row = s_member(&s, member).await;
    assert_eq!(row.as_deref(), Some("Alice Example"));

    // The callback works once: replaying the flow is refused.
    let (status, _) = b.get(&format!("{base}/auth/callback?code=x&state=y")).await;
    assert_eq!(status, 400);
}

async fn s_member(s: &Setup, org: loyalty_core::domain::OrgId) -> Option<String> {
    s._db
        .store
        .member_by_subject(org, SUBJECT)
        .await
        .unwrap()
        .and_then(|m| m.name)
}

async fn a_tampered_state_is_refused(kind: Kind) {
    let Some(s) = setup(kind).await else { return };
    let mut b = Browser::new();
    let base = s.base.clone();
    let callback = format!("{base}/auth/callback");
    let at_callback = b
        .drive(Url::parse(&format!("{base}/auth/login")).unwrap(), |u| {
            u.as_str().starts_with(&callback)
        })
        .await;
    let mut tampered = at_callback.clone();
    let pairs: Vec<(String, String)> = at_callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let r = b.send(&tampered, None).await;
    assert_eq!(r.status(), 401);
    assert!(!b.cookies.contains_key("loyalty_session"));
    // The provider's error answer is refused too.
    let (status, _) = b
        .get(&format!("{callback}?error=access_denied&state=x"))
        .await;
    assert_ne!(status, 303);
    assert!(!b.cookies.contains_key("loyalty_session"));
}

/// A JWT access token of the code flow, through the browser `b`.
async fn bearer_token(s: &Setup, b: &mut Browser) -> String {
    let callback = format!("{}/auth/callback", s.base);
    let start = s.client.begin_login();
    let at_callback = b
        .drive(start.authorize_url.clone(), |u| {
            u.as_str().starts_with(&callback)
        })
        .await;
    let code = at_callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", s.issuer))
        .basic_auth(
            CLIENT_ID,
            Some(
                url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>(),
            ),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &callback),
            ("code_verifier", &start.pkce_verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = answer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt.split('.').count(), 3, "a JWT access token: {answer}");
    jwt
}

async fn bearer_jwts_work_on_the_api(kind: Kind) {
    let Some(s) = setup(kind).await else { return };
    let mut b = Browser::new();
    let jwt = bearer_token(&s, &mut b).await;
    let api = reqwest::Client::new();
    let call = |slug: &str, token: &str| {
        api.get(format!("{}/api/v1/orgs/{slug}/rewards", s.base))
            .bearer_auth(token)
            .send()
    };
    let r = call("alpha", &jwt).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = call("beta", &jwt).await.unwrap();
    assert_eq!(r.status(), 403);
    // Tampered: one character of the signature changed.
    let mut tampered = jwt.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "opaque-token-value"] {
        let r = call("alpha", bad).await.unwrap();
        assert_eq!(r.status(), 401);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "auth.invalid_token", "{body}");
    }
}

#[tokio::test]
async fn sqlite_sign_in_through_our_routes() {
    signs_in_through_our_routes(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_sign_in_through_our_routes() {
    if skip_postgres() {
        return;
    }
    signs_in_through_our_routes(Kind::Postgres).await;
}

#[tokio::test]
async fn sqlite_tampered_state() {
    a_tampered_state_is_refused(Kind::Sqlite).await;
}

#[tokio::test]
async fn sqlite_bearer_jwt() {
    bearer_jwts_work_on_the_api(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_bearer_jwt() {
    if skip_postgres() {
        return;
    }
    bearer_jwts_work_on_the_api(Kind::Postgres).await;
}
