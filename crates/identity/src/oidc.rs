//! An OpenID Connect relying party for the web layer: sign-in with the authorization
//! code flow and PKCE (S256), `state` and `nonce`; ID tokens and API bearer tokens
//! verified against the provider's JWKS (issuer, audience, expiry with a leeway, the
//! algorithm pinned to what discovery announces, never `none` or HMAC).
//!
//! Built on `jsonwebtoken` (signatures, keys) with the protocol written out here
//! (discovery, authorization URL, code exchange, userinfo): smaller than `openidconnect`,
//! which would bring a second HTTP stack (reqwest 0.12) and `chrono`, and still need
//! `jsonwebtoken`-style code for bearer tokens and key rotation.
//!
//! Flow for the web layer:
//! 1. [`OidcClient::discover`] once at start-up; share the client (it is cheap to clone).
//! 2. `/auth/login`: [`OidcClient::begin_login`]; keep `state`, `nonce` and
//!    `pkce_verifier` server-side (or in an encrypted, HttpOnly cookie) and redirect to
//!    `authorize_url`.
//! 3. `/auth/callback?code&state`: [`OidcClient::finish_login`] gives the [`Identity`].
//! 4. API: `Authorization: Bearer <JWT>` goes to [`OidcClient::verify_bearer`].
//!
//! The provider's HTTP answers are never followed through redirects; HTTPS needs this
//! crate's `tls` feature.

mod discovery;
mod error;
mod http;
mod jwks;
mod login;
mod token;

pub use discovery::ClientAuth;
pub use error::{OidcError, TokenRejection};
pub use login::pkce_challenge;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use loyalty_core::clock::{Clock, SystemClock};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use url::Url;

/// Which provider and client to use.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer, exactly as it announces it; for Authentik
    /// `https://auth.example.com/application/o/{app-slug}/` (trailing slash included).
    pub issuer: Url,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret (confidential client).
    pub client_secret: SecretString,
    /// Where the provider sends people back: `{public URL}/auth/callback`.
    pub redirect_url: Url,
}

/// How the relying party behaves; the defaults suit production.
#[derive(Clone)]
pub struct OidcOptions {
    /// Time limit of each call to the provider (default 10 s).
    pub timeout: Duration,
    /// Clock difference forgiven on `exp`, `iat` and `nbf` (default 60 s).
    pub leeway: Duration,
    /// Shortest time between two fetches of the JWKS caused by unknown key ids
    /// (default 60 s).
    pub jwks_refresh_interval: Duration,
    /// Scopes asked for (default `openid email profile`; `openid` is always sent).
    pub scopes: Vec<String>,
    /// The clock tokens are checked against.
    pub clock: Arc<dyn Clock>,
}

impl Default for OidcOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            leeway: Duration::from_secs(60),
            jwks_refresh_interval: Duration::from_secs(60),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for OidcOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcOptions")
            .field("timeout", &self.timeout)
            .field("leeway", &self.leeway)
            .field("jwks_refresh_interval", &self.jwks_refresh_interval)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The start of a sign-in: send the browser to `authorize_url`, keep the rest until the
/// callback (never in a place the browser can read or change unsigned).
#[derive(Clone)]
pub struct LoginStart {
    /// The provider's authorization URL with every parameter.
    pub authorize_url: Url,
    /// Random value the callback must bring back.
    pub state: String,
    /// Random value the ID token must carry.
    pub nonce: String,
    /// PKCE code verifier (43 characters); only its S256 hash went to the provider.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for LoginStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStart")
            .field("authorize_url", &self.authorize_url.as_str())
            .field("state", &self.state)
            .field("nonce", &self.nonce)
            .field("pkce_verifier", &"[redacted]")
            .finish()
    }
}

/// Who signed in, or whose bearer token it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject (`sub`); text, such as Authentik's 64-hex hashed user id.
    pub subject: String,
    /// Email address, if the provider gives one.
    pub email: Option<String>,
    /// Whether the provider verified the email address, if it says.
    pub email_verified: Option<bool>,
    /// Display name.
    pub name: Option<String>,
    /// Username at the provider.
    pub preferred_username: Option<String>,
    /// Group names (a flat list, as Authentik's `groups` claim), sorted, no duplicates.
    pub groups: Vec<String>,
    /// When the token expires.
    pub expires_at: OffsetDateTime,
}

struct Inner {
    config: OidcConfig,
    options: OidcOptions,
    http: reqwest::Client,
    meta: discovery::Metadata,
    jwks: Arc<jwks::Jwks>,
}

/// A relying party of one provider, discovered and with its keys loaded. Cloning shares
/// the key cache.
#[derive(Clone)]
pub struct OidcClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.inner.meta.issuer)
            .field("client_id", &self.inner.config.client_id)
            .field("algorithms", &self.inner.meta.algorithms)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// Discovers the provider with default options: fetches
    /// `{issuer}.well-known/openid-configuration`, checks it (the issuer matches exactly,
    /// an asymmetric signing algorithm is announced, PKCE S256 is offered) and loads the
    /// JWKS.
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        Self::discover_with(config, OidcOptions::default()).await
    }

    /// [`Self::discover`] with `options`.
    pub async fn discover_with(
        config: OidcConfig,
        options: OidcOptions,
    ) -> Result<Self, OidcError> {
        http::check_url("issuer", &config.issuer).map_err(OidcError::Config)?;
        http::check_url("redirect URL", &config.redirect_url).map_err(OidcError::Config)?;
        if config.client_id.trim().is_empty() {
            return Err(OidcError::Config("the client id is empty".into()));
        }
        if config.client_secret.expose_secret().is_empty() {
            return Err(OidcError::Config("the client secret is empty".into()));
        }
        if config.issuer.scheme() == "http"
            && !matches!(
                config.issuer.host_str(),
                Some("127.0.0.1" | "localhost" | "[::1]")
            )
        {
            tracing::warn!(issuer = %config.issuer, "the OIDC issuer is plain http: tokens and client secret travel unencrypted; use https outside a private network");
        }
        let http = http::client(options.timeout).map_err(OidcError::Config)?;
        let meta = discovery::discover(&http, &config.issuer).await?;
        let jwks = jwks::Jwks::new(
            meta.jwks_uri.clone(),
            http.clone(),
            options.jwks_refresh_interval,
        );
        jwks.refresh().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                options,
                http,
                meta,
                jwks,
            }),
        })
    }

    /// The provider's issuer as it announces it (the `iss` every token must carry).
    pub fn issuer(&self) -> &str {
        &self.inner.meta.issuer
    }

    /// Our client id (the audience tokens must name).
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// The signing algorithms accepted: the provider's announced ones that are asymmetric.
    pub fn algorithms(&self) -> Vec<String> {
        self.inner
            .meta
            .algorithms
            .iter()
            .map(|a| format!("{a:?}"))
            .collect()
    }

    /// How the client authenticates at the token endpoint.
    pub fn client_auth(&self) -> ClientAuth {
        self.inner.meta.client_auth
    }

    /// The provider's logout URL (`end_session_endpoint`), if it has one.
    pub fn end_session_url(&self) -> Option<&Url> {
        self.inner.meta.end_session_endpoint.as_ref()
    }

    /// How many signing keys are cached.
    pub async fn cached_keys(&self) -> usize {
        self.inner.jwks.len().await
    }

    /// Verifies an API bearer token (a JWT from the provider): signature, issuer,
    /// audience (our client id), expiry; no nonce. Opaque tokens are refused. Groups come
    /// from the token's `groups` claim only (no userinfo call per request).
    pub async fn verify_bearer(&self, jwt: &str) -> Result<Identity, OidcError> {
        let claims = self.verify(jwt, None).await?;
        identity(&claims)
    }

    async fn verify(&self, jwt: &str, nonce: Option<&str>) -> Result<token::Claims, OidcError> {
        let inner = &self.inner;
        let expect = token::Expect {
            issuer: &inner.meta.issuer,
            audience: &inner.config.client_id,
            algorithms: &inner.meta.algorithms,
            now: inner.options.clock.now().unix_timestamp(),
            leeway: i64::try_from(inner.options.leeway.as_secs()).unwrap_or(i64::MAX),
            nonce,
        };
        token::verify(jwt, &inner.jwks, &expect).await
    }
}

/// Group names from a `groups` claim: strings kept, anything else (such as objects
/// some providers send) ignored; sorted, without duplicates.
fn group_names(items: &[serde_json::Value]) -> Vec<String> {
    let mut names: Vec<String> = items
        .iter()
        .filter_map(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn identity(claims: &token::Claims) -> Result<Identity, OidcError> {
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
        .map_err(|_| TokenRejection::MissingClaim("exp"))?;
    Ok(Identity {
        subject: claims.sub.clone(),
        email: claims.email.clone().filter(|e| !e.is_empty()),
        email_verified: claims.email_verified,
        name: claims.name.clone().filter(|n| !n.is_empty()),
        preferred_username: claims.preferred_username.clone().filter(|n| !n.is_empty()),
        groups: claims
            .groups
            .as_deref()
            .map(group_names)
            .unwrap_or_default(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_claims_become_a_sorted_flat_list_of_names() {
        let items = serde_json::json!(["b-admins", "a-cashiers", "b-admins", {"name": "x"}, ""]);
        assert_eq!(
            group_names(items.as_array().unwrap()),
            ["a-cashiers", "b-admins"]
        );
    }
}
