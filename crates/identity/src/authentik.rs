//! Authentik behind [`Directory`]: groups, users and memberships through Authentik's
//! admin REST API v3 with an API token.
//!
//! Every call sends `Authorization: Bearer <token>`, has a timeout, and is repeated with
//! exponential backoff after a 5xx or a transport failure, never after a 4xx. Errors say
//! what was being done and what Authentik answered, such as
//! `authentik: creating group nextdoor-admins: 403 Token invalid/expired (...)`.
//!
//! What Authentik cannot express:
//! - whether a user has a usable password: [`DirUser::has_password`] is always `true`;
//! - "must change the password at next sign-in": `set_password` ignores `must_change`
//!   (a recovery link, which makes the person choose their own password, is the way to
//!   get that effect).
//!
//! HTTPS needs this crate's `tls` feature (see its Cargo.toml for why it is opt-in).

mod api;
mod wire;

use api::{Api, PROVIDER, Reply, already_exists, failed, not_found};
use async_trait::async_trait;
use loyalty_core::directory::{
    DirGroup, DirUser, Directory, DirectoryError, NewDirUser, SetPasswordLink,
};
use loyalty_core::domain::{Email, Username};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};
use url::Url;

/// Page size asked for in lists (Authentik may answer with smaller pages).
const PAGE_SIZE: &str = "100";
/// A list longer than this many pages is taken for a server that ignores `page`.
const MAX_PAGES: u64 = 10_000;

/// How the client talks to Authentik.
#[derive(Debug, Clone)]
pub struct AuthentikOptions {
    /// Time limit of one attempt of one call, connecting included (default 10 s).
    pub timeout: Duration,
    /// Further attempts after a 5xx or a transport failure (default 3).
    pub retries: u32,
    /// Pause before the first retry, doubled before each further one (default 200 ms).
    pub backoff: Duration,
    /// Authentik user path that new users are created under (default `loyalty`).
    pub user_path: String,
}

impl Default for AuthentikOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(200),
            user_path: "loyalty".into(),
        }
    }
}

/// What [`AuthentikDirectory::check`] found: Authentik answered and took the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The API root that answered (`https://auth.example.com/api/v3/`).
    pub api_url: String,
    /// The user the token belongs to.
    pub username: String,
    /// That user's key.
    pub pk: i64,
    /// Whether that user is a superuser (onboarding needs broad rights).
    pub is_superuser: bool,
    /// How long the call took.
    pub latency: Duration,
}

/// Authentik's admin API as a [`Directory`].
pub struct AuthentikDirectory {
    api: Api,
    user_path: String,
}

impl std::fmt::Debug for AuthentikDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthentikDirectory")
            .field("api", &self.api.root().as_str())
            .field("user_path", &self.user_path)
            .finish_non_exhaustive()
    }
}

/// The API root for a base URL given by a person: `https://auth.example.com`,
/// with or without a trailing slash or `/api/v3`.
fn api_root(base_url: &str) -> Result<Url, String> {
    let mut url = Url::parse(base_url.trim()).map_err(|e| {
        format!("{base_url:?} is not a URL ({e}); write it like https://auth.example.com")
    })?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(
                "https needs loyalty-identity's `tls` feature, which this build lacks".into(),
            );
        }
        other => return Err(format!("scheme {other:?} is not http or https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{base_url:?} has no host"));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/api/v3").unwrap_or(path).to_owned();
    url.set_path(&format!("{path}/api/v3/"));
    Ok(url)
}

/// Checks a user path the way Authentik does: no leading, trailing or doubled slashes.
fn check_user_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.split('/').any(str::is_empty) {
        return Err(format!(
            "user path {path:?} is not valid; write segments separated by single slashes, such as loyalty"
        ));
    }
    Ok(())
}

impl AuthentikDirectory {
    /// A client of the Authentik at `base_url` (such as `https://auth.example.com`),
    /// authenticating with the API token `token`. Makes no call yet: see [`Self::check`].
    pub fn new(
        base_url: &str,
        token: SecretString,
        options: AuthentikOptions,
    ) -> Result<Self, DirectoryError> {
        const ACTION: &str = "configuring the client";
        let root = api_root(base_url).map_err(|e| failed(ACTION, e))?;
        if token.expose_secret().trim().is_empty() {
            return Err(failed(ACTION, "the API token is empty"));
        }
        check_user_path(&options.user_path).map_err(|e| failed(ACTION, e))?;
        #[cfg(feature = "tls")]
        {
            // Err only means a provider is installed already, which is what we want.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // A redirect would drop the token or turn a POST into a GET: report it instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("loyalty/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| failed(ACTION, e.to_string()))?;
        Ok(Self {
            api: Api::new(http, root, token, options.retries, options.backoff),
            user_path: options.user_path,
        })
    }

    /// The API root this client calls (`{base}/api/v3/`).
    pub fn api_url(&self) -> &str {
        self.api.root().as_str()
    }

    /// Checks that Authentik answers and accepts the token (`GET /core/users/me/`).
    pub async fn check(&self) -> Result<CheckReport, DirectoryError> {
        const ACTION: &str = "checking the connection and the API token";
        let started = Instant::now();
        let reply = self.get(&["core", "users", "me"], &[], ACTION).await?;
        let me: wire::SessionUser = ok(reply, StatusCode::OK, ACTION)?.json(ACTION)?;
        Ok(CheckReport {
            api_url: self.api_url().to_owned(),
            username: me.user.username,
            pk: me.user.pk,
            is_superuser: me.user.is_superuser,
            latency: started.elapsed(),
        })
    }

    async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        action: &str,
    ) -> Result<Reply, DirectoryError> {
        let url = self.api.url(segments, query);
        self.api.send(Method::GET, url, None, action).await
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: &serde_json::Value,
        action: &str,
    ) -> Result<Reply, DirectoryError> {
        let url = self.api.url(segments, &[]);
        self.api.send(method, url, Some(body), action).await
    }

    /// Every item of a list, page after page. A 400 naming `missing_field` (a filter
    /// whose value does not exist, such as an unknown group name) means `NotFound`.
    async fn list_all<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        filters: &[(&str, String)],
        missing_field: Option<&str>,
        action: &str,
    ) -> Result<Vec<T>, DirectoryError> {
        let mut items = Vec::new();
        let mut page: u64 = 1;
        loop {
            let mut query = filters.to_vec();
            query.push(("page", page.to_string()));
            query.push(("page_size", PAGE_SIZE.into()));
            let reply = self.get(segments, &query, action).await?;
            if let Some(field) = missing_field
                && reply.status == StatusCode::BAD_REQUEST
                && !reply.field_errors(field).is_empty()
            {
                return Err(not_found(action));
            }
            let body: wire::Page<T> = ok(reply, StatusCode::OK, action)?.json(action)?;
            items.extend(body.results);
            match body.pagination.next_page() {
                Some(next) if next > page && next <= MAX_PAGES => page = next,
                Some(next) if next <= page || next > MAX_PAGES => {
                    return Err(failed(
                        action,
                        format!("Authentik's pagination went from page {page} to {next}"),
                    ));
                }
                _ => return Ok(items),
            }
        }
    }

    async fn users_where(
        &self,
        filter: (&str, String),
        missing_field: Option<&str>,
        action: &str,
    ) -> Result<Vec<wire::User>, DirectoryError> {
        let filters = [filter, ("include_groups", "false".into())];
        self.list_all(&["core", "users"], &filters, missing_field, action)
            .await
    }

    /// Asks for a recovery link with `method`.
    async fn recovery(
        &self,
        pk: &str,
        method: Method,
        action: &str,
    ) -> Result<Reply, DirectoryError> {
        let url = self.api.url(&["core", "users", pk, "recovery"], &[]);
        self.api.send(method, url, None, action).await
    }
}

/// The reply when it has the `expected` status, else the error it stands for.
fn ok(reply: Reply, expected: StatusCode, action: &str) -> Result<Reply, DirectoryError> {
    if reply.status == expected {
        Ok(reply)
    } else {
        Err(failed(action, reply.detail()))
    }
}

#[async_trait]
impl Directory for AuthentikDirectory {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    /// `GET /core/groups/?name=...`, exact name.
    async fn find_group(&self, name: &str) -> Result<Option<DirGroup>, DirectoryError> {
        let action = format!("finding group {name}");
        let filters = [("name", name.to_owned()), ("include_users", "false".into())];
        let groups: Vec<wire::Group> = self
            .list_all(&["core", "groups"], &filters, None, &action)
            .await?;
        Ok(groups
            .into_iter()
            .find(|g| g.name == name)
            .map(DirGroup::from))
    }

    /// `POST /core/groups/`; a 400 about the name means `AlreadyExists`.
    async fn create_group(
        &self,
        name: &str,
        attributes: serde_json::Value,
    ) -> Result<DirGroup, DirectoryError> {
        let action = format!("creating group {name}");
        let mut body = serde_json::json!({ "name": name });
        if attributes.is_object() {
            body["attributes"] = attributes;
        }
        let reply = self
            .send(Method::POST, &["core", "groups"], &body, &action)
            .await?;
        if reply.is_duplicate("name") {
            return Err(already_exists(&action));
        }
        let group: wire::Group = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
        Ok(group.into())
    }

    /// `GET /core/users/?username=...` (Authentik matches it exactly).
    async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<DirUser>, DirectoryError> {
        let action = format!("finding user {username}");
        let users = self
            .users_where(("username", username.as_str().to_owned()), None, &action)
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username.as_str()))
            .map(DirUser::from))
    }

    /// `GET /core/users/?email=...`, people only (service accounts are left out).
    async fn find_users_by_email(&self, email: &Email) -> Result<Vec<DirUser>, DirectoryError> {
        let action = format!("finding users by email {email}");
        let users = self
            .users_where(("email", email.as_str().to_owned()), None, &action)
            .await?;
        Ok(users
            .into_iter()
            .filter(|u| !u.is_service_account())
            .filter(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email.as_str()))
            })
            .map(DirUser::from)
            .collect())
    }

    /// `GET /core/users/{pk}/`; 404 means `None`.
    async fn find_user(&self, pk: i64) -> Result<Option<DirUser>, DirectoryError> {
        let action = format!("finding user {pk}");
        let reply = self
            .get(&["core", "users", &pk.to_string()], &[], &action)
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let user: wire::User = ok(reply, StatusCode::OK, &action)?.json(&action)?;
        Ok(Some(user.into()))
    }

    /// `POST /core/users/` as an active internal user under the configured path; a 400
    /// about the username means `AlreadyExists`.
    async fn create_user(&self, new: &NewDirUser) -> Result<DirUser, DirectoryError> {
        let action = format!("creating user {}", new.username);
        let mut body = serde_json::json!({
            "username": new.username.as_str(),
            "name": new.name,
            "is_active": true,
            "path": self.user_path,
            "type": "internal",
        });
        if let Some(email) = &new.email {
            body["email"] = email.as_str().into();
        }
        if new.attributes.is_object() {
            body["attributes"] = new.attributes.clone();
        }
        let reply = self
            .send(Method::POST, &["core", "users"], &body, &action)
            .await?;
        if reply.is_duplicate("username") {
            return Err(already_exists(&action));
        }
        let user: wire::User = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
        Ok(user.into())
    }

    /// `POST /core/users/{pk}/set_password/`. Authentik has no "must change at next
    /// sign-in", so `must_change` is ignored (and logged).
    async fn set_password(
        &self,
        pk: i64,
        password: &SecretString,
        must_change: bool,
    ) -> Result<(), DirectoryError> {
        let action = format!("setting password of user {pk}");
        if must_change {
            tracing::info!(
                user = pk,
                "Authentik cannot require a password change at next sign-in; the password is set as is"
            );
        }
        let body = serde_json::json!({ "password": password.expose_secret() });
        let reply = self
            .send(
                Method::POST,
                &["core", "users", &pk.to_string(), "set_password"],
                &body,
                &action,
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(not_found(&action));
        }
        ok(reply, StatusCode::NO_CONTENT, &action).map(drop)
    }

    /// `POST /core/users/{pk}/recovery/` (both schemas, 2025.12 and 2026.2, say POST;
    /// older Authentik used GET, tried after a 405). `None` when the brand has no
    /// recovery flow: Authentik 2025+ answers 400 "No recovery flow set.", older ones
    /// 404 `{"link": ""}`. The link's lifetime is Authentik's (brand setting), unknown here.
    async fn password_set_link(&self, pk: i64) -> Result<Option<SetPasswordLink>, DirectoryError> {
        let action = format!("issuing a password link for user {pk}");
        let pk_text = pk.to_string();
        let mut reply = self.recovery(&pk_text, Method::POST, &action).await?;
        if reply.status == StatusCode::METHOD_NOT_ALLOWED {
            reply = self.recovery(&pk_text, Method::GET, &action).await?;
        }
        match reply.status {
            StatusCode::OK => {
                let link: wire::Link = reply.json(&action)?;
                Ok((!link.link.is_empty()).then(|| SetPasswordLink {
                    url: SecretString::from(link.link),
                    expires_at: None,
                }))
            }
            // `{"detail": "No User matches the given query."}`: the user is unknown.
            StatusCode::NOT_FOUND if reply.is_detail_error() => Err(not_found(&action)),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::BAD_REQUEST
                if reply
                    .field_errors("non_field_errors")
                    .iter()
                    .any(|m| m.to_lowercase().contains("recovery flow")) =>
            {
                Ok(None)
            }
            _ => Err(failed(&action, reply.detail())),
        }
    }

    /// `POST /core/groups/{uuid}/add_user/` (204 also for a member); 404 means `NotFound`.
    async fn add_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("adding user {pk} to group {}", group.name);
        membership(self, group, pk, "add_user", &action).await
    }

    /// `POST /core/groups/{uuid}/remove_user/` (204 also for a non-member); 404 means
    /// `NotFound` (unknown user or group).
    async fn remove_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("removing user {pk} from group {}", group.name);
        membership(self, group, pk, "remove_user", &action).await
    }

    /// `GET /core/users/?groups_by_name=...`, every page.
    async fn list_members(&self, group: &DirGroup) -> Result<Vec<DirUser>, DirectoryError> {
        let action = format!("listing members of group {}", group.name);
        let users = self
            .users_where(
                ("groups_by_name", group.name.clone()),
                Some("groups_by_name"),
                &action,
            )
            .await?;
        Ok(users.into_iter().map(DirUser::from).collect())
    }

    /// `GET /core/groups/?members_by_pk=...`, every page: direct memberships, as in the
    /// ID token's `groups` claim.
    async fn user_groups(&self, pk: i64) -> Result<Vec<String>, DirectoryError> {
        let action = format!("listing groups of user {pk}");
        let filters = [
            ("members_by_pk", pk.to_string()),
            ("include_users", "false".into()),
        ];
        let groups: Vec<wire::Group> = self
            .list_all(
                &["core", "groups"],
                &filters,
                Some("members_by_pk"),
                &action,
            )
            .await?;
        Ok(groups.into_iter().map(|g| g.name).collect())
    }

    /// `PATCH /core/users/{pk}/` `{is_active: false}`; 404 means `NotFound`.
    async fn deactivate_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("deactivating user {pk}");
        let body = serde_json::json!({ "is_active": false });
        let reply = self
            .send(
                Method::PATCH,
                &["core", "users", &pk.to_string()],
                &body,
                &action,
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(not_found(&action));
        }
        ok(reply, StatusCode::OK, &action).map(drop)
    }
}

async fn membership(
    dir: &AuthentikDirectory,
    group: &DirGroup,
    pk: i64,
    verb: &str,
    action: &str,
) -> Result<(), DirectoryError> {
    let body = serde_json::json!({ "pk": pk });
    let reply = dir
        .send(
            Method::POST,
            &["core", "groups", &group.pk, verb],
            &body,
            action,
        )
        .await?;
    if reply.status == StatusCode::NOT_FOUND {
        return Err(not_found(action));
    }
    ok(reply, StatusCode::NO_CONTENT, action).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_read_as_people_write_them() {
        for base in [
            "http://auth.example.com",
            "http://auth.example.com/",
            "http://auth.example.com/api/v3",
            "http://auth.example.com/api/v3/",
            " http://auth.example.com?x=1 ",
        ] {
            assert_eq!(
                api_root(base).unwrap().as_str(),
                "http://auth.example.com/api/v3/",
                "{base}"
            );
        }
        assert_eq!(
            api_root("http://example.com/authentik/").unwrap().as_str(),
            "http://example.com/authentik/api/v3/"
        );
        assert!(api_root("auth.example.com").is_err());
        assert!(api_root("ftp://auth.example.com").is_err());
    }

    #[test]
    fn user_paths_follow_authentiks_rules() {
        assert!(check_user_path("loyalty").is_ok());
        assert!(check_user_path("loyalty/customers").is_ok());
        for bad in ["", "/loyalty", "loyalty/", "a//b"] {
            assert!(check_user_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_token_is_refused_before_any_call() {
        let err = AuthentikDirectory::new(
            "http://127.0.0.1:9",
            SecretString::from(" "),
            AuthentikOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "authentik: configuring the client: the API token is empty"
        );
    }

    #[test]
    fn segments_are_encoded_so_a_value_cannot_change_the_endpoint() {
        let dir = AuthentikDirectory::new(
            "http://127.0.0.1:9",
            SecretString::from("t"),
            AuthentikOptions::default(),
        )
        .unwrap();
        let url = dir.api.url(
            &["core", "groups", "../users/1", "add_user"],
            &[("name", "a&b".into())],
        );
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/api/v3/core/groups/..%2Fusers%2F1/add_user/?name=a%26b"
        );
    }
}
