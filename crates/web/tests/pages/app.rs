//! A router on a test database with two organizations, and people in every role.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use loyalty_core::clock::Clock;
use loyalty_core::directory::{Directory, NewDirUser, find_or_create_group};
use loyalty_core::domain::{Email, OrgStatus, Organization, Username};
use loyalty_core::secret;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{TestDb, fixed_clock};
use loyalty_web::{AppState, Identity, WebConfig};
use secrecy::SecretString;
use std::sync::Arc;
use tower::ServiceExt;

pub const CSRF: &str = "test-csrf-token-0123456789";
pub const ORIGIN: &str = "http://127.0.0.1:8080";

pub struct TestApp {
    pub db: TestDb,
    pub router: axum::Router,
    pub a: Organization,
    pub b: Organization,
}

/// A signed-in person: their session cookie value and identity subject.
#[derive(Debug, Clone)]
pub struct Who {
    pub cookie: Option<String>,
    pub uid: String,
}

impl Who {
    pub fn anonymous() -> Self {
        Who {
            cookie: None,
            uid: String::new(),
        }
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body's bytes, for answers that are not text.
    pub raw: Vec<u8>,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The bearer token that opens `/metrics` on the test apps' public router.
pub const METRICS_TOKEN: &str = "metrics-test-token";

impl TestApp {
    pub async fn new(db: TestDb) -> Self {
        Self::with_url(db, "http://127.0.0.1:8080").await
    }

    pub async fn with_url(db: TestDb, public_url: &str) -> Self {
        Self::with_config(
            db,
            WebConfig {
                public_url: public_url.into(),
                ..WebConfig::default()
            },
        )
        .await
    }

    pub async fn with_config(db: TestDb, config: WebConfig) -> Self {
        Self::build(db, config, true).await
    }

    /// Sign-in through an identity provider: no built-in accounts to sign in with.
    pub async fn provider_mode(db: TestDb, config: WebConfig) -> Self {
        Self::build(db, config, false).await
    }

    /// Sign-in through Authentik, whose directory is `dir` (the stand-in).
    pub async fn with_directory(db: TestDb, dir: Arc<dyn Directory>) -> Self {
        Self::build_with(db, WebConfig::default(), false, Some(dir)).await
    }

    async fn build(db: TestDb, config: WebConfig, builtin: bool) -> Self {
        Self::build_with(db, config, builtin, None).await
    }

    async fn build_with(
        db: TestDb,
        mut config: WebConfig,
        builtin: bool,
        directory: Option<Arc<dyn Directory>>,
    ) -> Self {
        config
            .metrics_token
            .get_or_insert_with(|| METRICS_TOKEN.into());
        let clock = Arc::new(fixed_clock());
        let dir = Arc::new(db.directory(clock.clone()));
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
        let state = AppState {
            store: db.store.clone(),
            directory: directory.unwrap_or_else(|| dir.clone()),
            clock: clock.clone(),
            identity: if builtin {
                Identity::Builtin((*dir).clone())
            } else {
                Identity::Authentik { oidc: None }
            },
            config: Arc::new(config),
        };
        let b = orgs.pop().unwrap();
        let a = orgs.pop().unwrap();
        TestApp {
            db,
            router: loyalty_web::router(state),
            a,
            b,
        }
    }

    pub fn directory(&self) -> loyalty_identity::BuiltinDirectory {
        self.db.directory(Arc::new(fixed_clock()))
    }

    /// A person in `groups` with password `password-1234`, signed in, with a member row
    /// in each organization where a group gives them a staff role.
    pub async fn person(&self, username: &str, groups: &[&str]) -> Who {
        let dir = self.directory();
        let user = dir
            .create_user(&NewDirUser {
                username: Username::parse(username).unwrap(),
                name: username.into(),
                email: Some(Email::parse(&format!("{username}@example.com")).unwrap()),
                attributes: serde_json::json!({}),
            })
            .await
            .unwrap();
        dir.set_password(user.pk, &SecretString::from("password-1234"), false)
            .await
            .unwrap();
        for g in groups {
            let (group, _) = find_or_create_group(&dir, g, serde_json::json!({}))
                .await
                .unwrap();
            dir.add_member(&group, user.pk).await.unwrap();
        }
        let token = secret::random_token();
        let now = fixed_clock().now();
        self.db
            .store
            .insert_session(
                &secret::hash_token(&token),
                user.pk,
                CSRF,
                now,
                now + time::Duration::hours(1),
            )
            .await
            .unwrap();
        Who {
            cookie: Some(token),
            uid: user.uid,
        }
    }

    pub async fn get(&self, who: &Who, path: &str) -> Answer {
        self.send(who, "GET", path, None, &[]).await
    }

    /// A form post from our own origin.
    pub async fn post(&self, who: &Who, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.send(who, "POST", path, Some(form(fields)), &[("origin", ORIGIN)])
            .await
    }

    pub async fn send(
        &self,
        who: &Who,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = &who.cookie {
            req = req.header("cookie", format!("loyalty_session={t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = match body {
            Some(b) => req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(b))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        if let Some((_, ip)) = headers.iter().find(|(k, _)| *k == "x-test-peer") {
            let addr: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
        }
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            raw: bytes.to_vec(),
        }
    }
}

/// The value of a hidden input named `name` in a page.
pub fn hidden(body: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no field {name} in {body}"))
        + needle.len();
    body[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
