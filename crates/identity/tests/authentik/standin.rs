//! A stand-in for Authentik, NOT Authentik itself: an in-memory axum server on
//! 127.0.0.1:0 that serves the admin API v3 endpoints `AuthentikDirectory` uses, keeps
//! groups, users and memberships, and answers with Authentik's shapes and error bodies
//! (from shared/SPEC.md, shared/authentik/examples/ and calls observed on a running
//! Authentik). Every request and every answer it gives is checked against Authentik's
//! OpenAPI schema; a mismatch is recorded and fails the test when the stand-in is
//! dropped. Faults can be injected by call number: a status before the work is done (the
//! call had no effect) or after it (the work is done but the answer is lost), or a delay.
//!
//! Outside the API it serves what a browser and loyalty meet: OpenID discovery and keys
//! of each application, the authorization endpoint (answered at once while the browser
//! has an Authentik session) and the provider's end-session endpoint, which runs the
//! provider's invalidation flow: the session ends only when that flow holds a User
//! Logout stage, as in Authentik 2025.12 (`default-provider-invalidation-flow` has none).
//!
//! Simplifications: lists are paged by at most `page_size` (2 by default, to exercise
//! paging) whatever `page_size` a client asks for; the token owner of `/core/users/me/`
//! is not in the user list; filters the directory does not use are refused (recorded as
//! a violation) rather than half-implemented.

mod browser;
mod flows;
mod oauth;
mod routes;
mod server;

use server::{Answer, answer, detail, empty, handle};

use loyalty_identity::authentik::{AuthentikDirectory, AuthentikOptions};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The API token the stand-in accepts.
pub const TOKEN: &str = "stand-in-token-0123456789";

/// What the stand-in does with one call instead of answering it normally.
#[derive(Debug, Clone)]
pub struct Fault {
    status: u16,
    body: Option<Value>,
    /// Do the work first, then answer with the fault (the answer was lost).
    after: bool,
    /// Wait this long before answering (longer than the client's timeout: no answer).
    delay: Option<Duration>,
}

impl Fault {
    /// 503 with no body before doing anything, as from a proxy while Authentik restarts.
    pub fn unavailable() -> Self {
        Self {
            status: 503,
            body: None,
            after: false,
            delay: None,
        }
    }

    /// The work is done, then a 500 with no body (as Authentik answers an internal
    /// error): the client cannot know that it worked.
    pub fn lost_answer() -> Self {
        Self {
            status: 500,
            body: None,
            after: true,
            delay: None,
        }
    }

    /// Any status and body, before doing anything.
    pub fn status(status: u16, body: Option<Value>) -> Self {
        Self {
            status,
            body,
            after: false,
            delay: None,
        }
    }

    /// No answer for `delay`, then the normal answer.
    pub fn slow(delay: Duration) -> Self {
        Self {
            status: 0,
            body: None,
            after: true,
            delay: Some(delay),
        }
    }
}

/// One call the stand-in received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `GET`.
    pub method: String,
    /// `/api/v3/core/users/5/`.
    pub path: String,
    /// Query pairs in order.
    pub query: Vec<(String, String)>,
    /// The schema operation, `GET /core/users/{id}/` (empty when none matched).
    pub operation: String,
}

impl Call {
    /// The value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the brand's recovery flow is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// A recovery flow is set (Authentik's example, `default-recovery-flow`): links are
    /// issued.
    Flow,
    /// None set, as Authentik 2025+ answers: 400 `{"non_field_errors": "No recovery flow set."}`.
    NoFlow,
    /// None set, as Authentik before 2024 answered: 404 `{"link": ""}`.
    NoFlowLegacy,
}

struct Group {
    uuid: Uuid,
    num_pk: i64,
    name: String,
    attributes: Value,
}

struct User {
    pk: i64,
    uuid: Uuid,
    uid: String,
    username: String,
    name: String,
    email: String,
    is_active: bool,
    path: String,
    kind: String,
    attributes: Value,
    date_joined: String,
    last_updated: String,
    password_change_date: String,
    password: Option<String>,
}

struct Inner {
    base_url: String,
    page_size: usize,
    recovery: Recovery,
    groups: Vec<Group>,
    users: Vec<User>,
    /// (group, user pk).
    members: BTreeSet<(Uuid, i64)>,
    calls: Vec<Call>,
    /// By call number, 1-based from the start of the stand-in.
    faults: BTreeMap<usize, Fault>,
    /// By schema operation (`POST /core/users/`), each used once, in order.
    op_faults: Vec<(String, Fault)>,
    violations: Vec<String>,
    /// Every call is answered 503 before anything is done (Authentik down).
    down: bool,
    next_pk: i64,
    next_num_pk: i64,
    /// Flows, scope mappings, key pairs, OAuth2 providers and applications, as
    /// Authentik shows them (see `oauth.rs`).
    flows: Vec<Value>,
    scope_mappings: Vec<Value>,
    keypairs: Vec<Value>,
    providers: Vec<Value>,
    applications: Vec<Value>,
    next_provider_pk: i64,
    /// Flows' stages of every kind, their bindings, prompt fields and brands (see
    /// `flows.rs`).
    stages: Vec<Value>,
    bindings: Vec<Value>,
    prompts: Vec<Value>,
    brands: Vec<Value>,
    /// Authentik sessions: cookie value -> username.
    sessions: BTreeMap<String, String>,
}

/// A running stand-in.
pub struct StandIn {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
        let violations = std::mem::take(&mut self.state().violations);
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "the stand-in Authentik saw requests or gave answers that Authentik's schema rejects:\n  {}",
                violations.join("\n  ")
            );
        }
    }
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl StandIn {
    /// Starts a stand-in with no users or groups, pages of 2 and a recovery flow.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let inner = Arc::new(Mutex::new(Inner {
            base_url: url.clone(),
            page_size: 2,
            recovery: Recovery::Flow,
            groups: Vec::new(),
            users: Vec::new(),
            members: BTreeSet::new(),
            calls: Vec::new(),
            faults: BTreeMap::new(),
            op_faults: Vec::new(),
            violations: Vec::new(),
            down: false,
            next_pk: 5,
            next_num_pk: 29399,
            flows: Vec::new(),
            scope_mappings: Vec::new(),
            keypairs: Vec::new(),
            providers: Vec::new(),
            applications: Vec::new(),
            next_provider_pk: 1,
            stages: Vec::new(),
            bindings: Vec::new(),
            prompts: Vec::new(),
            brands: Vec::new(),
            sessions: BTreeMap::new(),
        }));
        oauth::seed(&mut inner.lock().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner, server }
    }

    fn state(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A directory on this stand-in with the right token, 3 retries and a 2 ms backoff.
    pub fn directory(&self) -> AuthentikDirectory {
        self.directory_with(TOKEN, 3)
    }

    /// A directory on this stand-in with `token` and `retries`.
    pub fn directory_with(&self, token: &str, retries: u32) -> AuthentikDirectory {
        self.directory_opts(token, retries, Duration::from_secs(5))
    }

    /// A directory on this stand-in with `token`, `retries` and `timeout`.
    pub fn directory_opts(
        &self,
        token: &str,
        retries: u32,
        timeout: Duration,
    ) -> AuthentikDirectory {
        AuthentikDirectory::new(
            &self.url,
            SecretString::from(token),
            AuthentikOptions {
                timeout,
                retries,
                backoff: Duration::from_millis(2),
                user_path: "loyalty".into(),
            },
        )
        .expect("directory")
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// How many calls so far.
    pub fn call_count(&self) -> usize {
        self.state().calls.len()
    }

    /// The schema operations of the calls from number `from` (0-based) on.
    pub fn operations_since(&self, from: usize) -> Vec<String> {
        self.state().calls[from..]
            .iter()
            .map(|c| c.operation.clone())
            .collect()
    }

    /// Makes call number `n` (1-based, counted from the start) fail with `fault`.
    pub fn fail_call(&self, n: usize, fault: Fault) {
        self.state().faults.insert(n, fault);
    }

    /// Makes the next call of the schema operation `operation` (such as
    /// `POST /core/users/{id}/recovery/`) fail with `fault`.
    pub fn fail_operation(&self, operation: &str, fault: Fault) {
        self.state().op_faults.push((operation.to_owned(), fault));
    }

    /// Makes the next call fail with `fault`.
    pub fn fail_next(&self, fault: Fault) {
        let n = self.call_count() + 1;
        self.fail_call(n, fault);
    }

    /// Makes every call answer 503 before doing anything (as a proxy does while
    /// Authentik is down), or serve again.
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    /// A user as if made in Authentik's admin pages, with its subject (`uid`) given so
    /// that it matches the `sub` of another provider's tokens, in `groups` (made when
    /// missing). Returns its pk.
    pub fn add_user_with_subject(
        &self,
        username: &str,
        email: &str,
        uid: &str,
        groups: &[&str],
    ) -> i64 {
        let mut st = self.state();
        let stamp = now();
        let pk = st.next_pk;
        st.next_pk += 1;
        st.users.push(User {
            pk,
            uuid: Uuid::new_v4(),
            uid: uid.to_owned(),
            username: username.to_owned(),
            name: username.to_owned(),
            email: email.to_owned(),
            is_active: true,
            path: "users".into(),
            kind: "internal".into(),
            attributes: json!({}),
            date_joined: stamp.clone(),
            last_updated: stamp.clone(),
            password_change_date: stamp,
            password: None,
        });
        for name in groups {
            let uuid = match st.groups.iter().find(|g| g.name == *name) {
                Some(g) => g.uuid,
                None => {
                    let g = Group {
                        uuid: Uuid::new_v4(),
                        num_pk: st.next_num_pk,
                        name: (*name).to_owned(),
                        attributes: json!({}),
                    };
                    st.next_num_pk += 1;
                    let uuid = g.uuid;
                    st.groups.push(g);
                    uuid
                }
            };
            st.members.insert((uuid, pk));
        }
        pk
    }

    /// Sets how the brand's recovery flow is set up: `Flow` sets Authentik's example
    /// flow on the brand, the others leave the brand without one (a fresh Authentik).
    pub fn set_recovery(&self, recovery: Recovery) {
        let mut st = self.state();
        st.recovery = recovery;
        let flow = match recovery {
            Recovery::Flow => st
                .flows
                .iter()
                .find(|f| f["slug"] == "default-recovery-flow")
                .map_or(Value::Null, |f| f["pk"].clone()),
            Recovery::NoFlow | Recovery::NoFlowLegacy => Value::Null,
        };
        let i = st.brand_index();
        st.brands[i]["flow_recovery"] = flow;
    }

    /// The slug of the brand's recovery flow, if it has one.
    pub fn brand_recovery_flow(&self) -> Option<String> {
        let st = self.state();
        let brand = &st.brands[st.brand_index()];
        st.flow_by_pk(&brand["flow_recovery"])
            .and_then(|f| f["slug"].as_str())
            .map(str::to_owned)
    }

    /// The model names of the stages bound to the flow `slug`, in order.
    pub fn flow_stages(&self, slug: &str) -> Vec<String> {
        let st = self.state();
        st.flows
            .iter()
            .find(|f| f["slug"] == slug)
            .map(|f| st.flow_stage_models(&f["pk"]))
            .unwrap_or_default()
    }

    /// The slug of the invalidation flow of the provider with `client_id`.
    pub fn provider_invalidation_flow(&self, client_id: &str) -> Option<String> {
        let st = self.state();
        let p = st.providers.iter().find(|p| p["client_id"] == client_id)?;
        st.flow_by_pk(&p["invalidation_flow"])
            .and_then(|f| f["slug"].as_str())
            .map(str::to_owned)
    }

    /// The person `username` chooses a password through a one-time link, some minutes
    /// after the account was made (Authentik's user write stage sets
    /// `password_change_date`).
    pub fn choose_password(&self, username: &str, password: &str) {
        let mut st = self.state();
        if let Some(u) = st.users.iter_mut().find(|u| u.username == username) {
            let joined = OffsetDateTime::parse(&u.date_joined, &Rfc3339)
                .unwrap_or_else(|_| OffsetDateTime::now_utc());
            u.password = Some(password.to_owned());
            u.password_change_date = (joined + time::Duration::minutes(5))
                .format(&Rfc3339)
                .unwrap_or_default();
        }
    }

    /// Removes the bindings of stages of model `model` from the flow `slug`, as an admin
    /// may have done in Authentik's flow editor.
    pub fn unbind_stages(&self, slug: &str, model: &str) {
        let mut st = self.state();
        let Some(flow) = st
            .flows
            .iter()
            .find(|f| f["slug"] == slug)
            .map(|f| f["pk"].clone())
        else {
            return;
        };
        let stages: Vec<Value> = st
            .stages
            .iter()
            .filter(|s| s["meta_model_name"] == model)
            .map(|s| s["pk"].clone())
            .collect();
        st.bindings
            .retain(|b| !(b["target"] == flow && stages.contains(&b["stage"])));
    }

    /// Signs `username` in as the authentication flow would (password checked), and
    /// returns the `authentik_session` cookie value the browser then holds.
    pub fn sign_in(&self, username: &str) -> String {
        let cookie = Uuid::new_v4().simple().to_string();
        self.state()
            .sessions
            .insert(cookie.clone(), username.to_owned());
        cookie
    }

    /// Whose Authentik session the cookie value still opens, if any.
    pub fn session(&self, cookie: &str) -> Option<String> {
        self.state().sessions.get(cookie).cloned()
    }

    /// Group names, sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.state().groups.iter().map(|g| g.name.clone()).collect();
        names.sort();
        names
    }

    /// Usernames, sorted.
    pub fn usernames(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .state()
            .users
            .iter()
            .map(|u| u.username.clone())
            .collect();
        names.sort();
        names
    }

    /// Memberships as (group name, username), sorted.
    pub fn memberships(&self) -> Vec<(String, String)> {
        let st = self.state();
        let mut out: Vec<(String, String)> = st
            .members
            .iter()
            .filter_map(|(g, pk)| {
                let group = st.groups.iter().find(|x| x.uuid == *g)?;
                let user = st.users.iter().find(|u| u.pk == *pk)?;
                Some((group.name.clone(), user.username.clone()))
            })
            .collect();
        out.sort();
        out
    }

    /// A user as Authentik shows it.
    pub fn user_json(&self, pk: i64) -> Option<Value> {
        let st = self.state();
        st.users
            .iter()
            .find(|u| u.pk == pk)
            .map(|u| st.user_json(u, true))
    }

    /// A user as Authentik shows it, by username.
    pub fn user_by_username(&self, username: &str) -> Option<Value> {
        let st = self.state();
        st.users
            .iter()
            .find(|u| u.username == username)
            .map(|u| st.user_json(u, true))
    }

    /// The password last set for a user.
    pub fn password_of(&self, pk: i64) -> Option<String> {
        self.state()
            .users
            .iter()
            .find(|u| u.pk == pk)
            .and_then(|u| u.password.clone())
    }

    /// OAuth2 providers as Authentik shows them.
    pub fn providers(&self) -> Vec<Value> {
        let st = self.state();
        st.providers.iter().map(|p| st.provider_json(p)).collect()
    }

    /// Applications as Authentik shows them.
    pub fn applications(&self) -> Vec<Value> {
        let st = self.state();
        st.applications
            .iter()
            .map(|a| st.application_json(a))
            .collect()
    }

    /// Changes a stored provider as an admin would in Authentik's UI.
    pub fn edit_provider(&self, client_id: &str, edit: impl FnOnce(&mut Value)) {
        let mut st = self.state();
        let p = st
            .providers
            .iter_mut()
            .find(|p| p["client_id"] == client_id)
            .expect("provider");
        edit(p);
    }

    /// Adds an application with no provider, as an admin may have made by hand.
    pub fn add_application_without_provider(&self, slug: &str) {
        self.state().applications.push(json!({
            "pk": Uuid::new_v4(), "name": slug, "slug": slug, "provider": null,
            "backchannel_providers": [], "backchannel_providers_obj": [],
            "open_in_new_tab": false, "meta_launch_url": "", "meta_icon": "",
            "meta_icon_url": null, "meta_icon_themed_urls": null, "meta_description": "",
            "meta_publisher": "", "policy_engine_mode": "any", "group": "",
        }));
    }

    /// Removes the flow with `slug` (as on an Authentik older than the flow).
    pub fn remove_flow(&self, slug: &str) {
        self.state().flows.retain(|f| f["slug"] != slug);
    }

    /// Adds a scope mapping (such as a custom one for a scope Authentik maps already).
    pub fn add_scope_mapping(&self, scope: &str, name: &str) -> String {
        let m = oauth::scope_mapping(scope, name, None);
        let pk = m["pk"].as_str().unwrap().to_owned();
        self.state().scope_mappings.insert(0, m);
        pk
    }

    /// The pk of the scope mapping named `name`.
    pub fn scope_mapping_pk(&self, scope: &str) -> String {
        let managed = format!("goauthentik.io/providers/oauth2/scope-{scope}");
        self.state()
            .scope_mappings
            .iter()
            .find(|m| m["managed"] == managed.as_str())
            .and_then(|m| m["pk"].as_str())
            .unwrap()
            .to_owned()
    }

    /// The pk of the key pair named `name`.
    pub fn keypair_pk(&self, name: &str) -> String {
        self.state()
            .keypairs
            .iter()
            .find(|k| k["name"] == name)
            .and_then(|k| k["pk"].as_str())
            .unwrap()
            .to_owned()
    }

    /// Replaces the key pairs with `pairs` of (name, has a key, key type).
    pub fn set_keypairs(&self, pairs: &[(&str, bool, Option<&str>)]) {
        self.state().keypairs = pairs
            .iter()
            .map(|(name, has_key, kind)| oauth::keypair(name, *has_key, *kind))
            .collect();
    }

    /// Takes the schema violations recorded so far (so that a test that provokes them
    /// on purpose can check them and still pass).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.state().violations)
    }
}
