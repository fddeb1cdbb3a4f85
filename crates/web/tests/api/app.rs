//! A router on a test database with two organizations and people in every role.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use loyalty_core::clock::Clock;
use loyalty_core::directory::{Directory, NewDirUser, find_or_create_group};
use loyalty_core::domain::{Email, OrgStatus, Organization, Username};
use loyalty_core::secret;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{TestDb, fixed_clock};
use loyalty_web::{AppState, Identity, WebConfig};
use std::sync::Arc;
use tower::ServiceExt;

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub router: axum::Router,
    pub a: Organization,
    pub b: Organization,
    /// The folder the XLSX exports make their private folders in (as `backup.dir`).
    pub scratch: tempfile::TempDir,
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    Session(String),
    Token(String),
}

impl TestApp {
    pub async fn new(db: TestDb) -> Self {
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
        let scratch = tempfile::tempdir().unwrap();
        let state = AppState {
            store: db.store.clone(),
            directory: dir.clone(),
            clock: clock.clone(),
            identity: Identity::Builtin((*dir).clone()),
            config: Arc::new(WebConfig {
                scratch_dir: scratch.path().join("backups"),
                ..WebConfig::default()
            }),
        };
        let b = orgs.pop().unwrap();
        let a = orgs.pop().unwrap();
        TestApp {
            db,
            scratch,
            router: loyalty_web::router(state.clone()),
            state,
            a,
            b,
        }
    }

    /// A person in `groups`, signed in; returns their session cookie value.
    pub async fn person(&self, username: &str, groups: &[&str]) -> (Who, String) {
        let clock = fixed_clock();
        let dir = self.db.directory(Arc::new(clock.clone()));
        let user = dir
            .create_user(&NewDirUser {
                username: Username::parse(username).unwrap(),
                name: username.into(),
                email: Some(Email::parse(&format!("{username}@example.com")).unwrap()),
                attributes: serde_json::json!({}),
            })
            .await
            .unwrap();
        for g in groups {
            let (group, _) = find_or_create_group(&dir, g, serde_json::json!({}))
                .await
                .unwrap();
            dir.add_member(&group, user.pk).await.unwrap();
        }
        let token = secret::random_token();
        self.db
            .store
            .insert_session(
                &secret::hash_token(&token),
                user.pk,
                "csrf",
                clock.now(),
                clock.now() + time::Duration::hours(1),
            )
            .await
            .unwrap();
        (Who::Session(token), user.uid)
    }

    /// An API token of `org` with `role`.
    pub async fn token(&self, org: &Organization, role: loyalty_core::domain::Role) -> Who {
        let secret_value = format!("lyt_{}", secret::random_token());
        let actor = loyalty_core::domain::ledger::Actor {
            member_id: None,
            label: "setup".into(),
            role: "admin".into(),
            request_id: None,
        };
        self.db
            .store
            .insert_api_token(
                org.id,
                "till",
                role,
                &secret::hash_token(&secret_value),
                &actor,
                fixed_clock().now(),
            )
            .await
            .unwrap();
        Who::Token(secret_value)
    }

    pub async fn call(
        &self,
        who: &Who,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        self.call_raw(who, method, path, body.map(|b| b.to_string()), &[])
            .await
    }

    pub async fn call_raw(
        &self,
        who: &Who,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(path);
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("idempotency-key"))
        {
            req = req.header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        match who {
            Who::Anonymous => {}
            Who::Session(t) => req = req.header("cookie", format!("loyalty_session={t}")),
            Who::Token(t) => req = req.header("authorization", format!("Bearer {t}")),
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        });
        (status, json)
    }
}
