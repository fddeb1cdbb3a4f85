//! Authentik behind [`Directory`]: groups, users and memberships through Authentik's
//! admin REST API v3 with an API token.
//!
//! Every call sends `Authorization: Bearer <token>`, has a timeout, and is repeated with
//! exponential backoff after a 5xx or a transport failure, never after a 4xx. Errors say
//! what was being done and what Authentik answered, such as
//! `authentik: creating group nextdoor-admins: 403 Token invalid/expired (...)`.
//!
//! What Authentik cannot express:
//! - whether a user has a usable password: [`DirUser::has_password`] is read from
//!   `password_change_date`, which Authentik sets when the account is made and whenever
//!   a password is set: a change a minute or more after `date_joined` counts as a
//!   password chosen (through a link, or set by an admin or `--password-output`);
//! - "must change the password at next sign-in": `set_password` ignores `must_change`
//!   (a recovery link, which makes the person choose their own password, is the way to
//!   get that effect).
//!
//! A create that is retried after its answer was lost may find its own object and answer
//! `AlreadyExists`; callers find or create (as onboarding does), so that converges.
//!
//! [`AuthentikDirectory::setup_oidc_application`] (in [`setup`]) registers loyalty as an
//! OpenID Connect application.
//!
//! HTTPS needs this crate's `tls` feature (see its Cargo.toml for why it is opt-in) and
//! [`install_crypto_provider`] early in `main`.

mod api;
mod directory;
pub mod flows;
pub mod setup;
mod wire;

pub use flows::{BrandRecovery, FlowReport};
pub use setup::{OidcAppPlan, OidcAppReport, RegisteredRedirect, SetupOutcome};

use api::{Api, Reply, failed, not_found};
use loyalty_core::directory::DirectoryError;
#[cfg(doc)]
use loyalty_core::directory::{DirUser, Directory};
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

/// Installs ring as the process's rustls crypto provider when the `tls` feature is on
/// (else does nothing). With that feature every reqwest client of the process, not only
/// this module's, panics when built before a provider is installed: call this first in
/// `main` and in tests. Repeating it is harmless.
pub fn install_crypto_provider() {
    #[cfg(feature = "tls")]
    {
        // Err only means a provider is installed already, which is what we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
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
        install_crypto_provider();
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
