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
mod token;

pub use discovery::ClientAuth;
pub use error::{OidcError, TokenRejection};

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

/// 32 random bytes, base64url: state, nonce and PKCE verifier (256 bits each).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636, 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749, 2.3.1 asks for
/// it in HTTP Basic client authentication).
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The answer of the token endpoint (the fields read).
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

/// An OAuth error answer (`{error, error_description}`).
#[derive(serde::Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
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

    /// Starts a sign-in: fresh `state`, `nonce` and PKCE verifier, and the authorization
    /// URL (response type `code`, S256 challenge).
    pub fn begin_login(&self) -> LoginStart {
        let state = random_token();
        let nonce = random_token();
        let pkce_verifier = random_token();
        let mut scopes = vec!["openid".to_owned()];
        for s in &self.inner.options.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let mut authorize_url = self.inner.meta.authorization_endpoint.clone();
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.config.client_id)
            .append_pair("redirect_uri", self.inner.config.redirect_url.as_str())
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        LoginStart {
            authorize_url,
            state,
            nonce,
            pkce_verifier,
        }
    }

    /// Finishes a sign-in at the callback: checks `state_received` against
    /// `state_expected`, exchanges `code` (with the PKCE verifier) at the token endpoint,
    /// verifies the ID token (signature, issuer, audience, expiry, `nonce`) and reads the
    /// person's claims; the groups come from the ID token's `groups` claim, else from
    /// the userinfo endpoint.
    pub async fn finish_login(
        &self,
        code: &str,
        state_expected: &str,
        state_received: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, OidcError> {
        if state_expected.is_empty()
            || !bool::from(state_expected.as_bytes().ct_eq(state_received.as_bytes()))
        {
            return Err(OidcError::StateMismatch);
        }
        if code.is_empty() {
            return Err(OidcError::CodeRejected(
                "the callback carries no code".into(),
            ));
        }
        let tokens = self.exchange(code, pkce_verifier).await?;
        let id_token = tokens.id_token.ok_or_else(|| {
            OidcError::CodeRejected(
                "the token answer has no id_token; check that the openid scope is allowed for this client".into(),
            )
        })?;
        let claims = self.verify(&id_token, Some(nonce)).await?;
        let mut identity = identity(&claims)?;
        if claims.groups.is_none() {
            self.complete_from_userinfo(&mut identity, &tokens.access_token)
                .await?;
        }
        Ok(identity)
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

    async fn exchange(&self, code: &str, verifier: &str) -> Result<TokenAnswer, OidcError> {
        let inner = &self.inner;
        let url = inner.meta.token_endpoint.clone();
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", inner.config.redirect_url.to_string()),
            ("code_verifier", verifier.to_owned()),
        ];
        let mut request = inner.http.post(url.clone());
        match inner.meta.client_auth {
            ClientAuth::Basic => {
                let pair = format!(
                    "{}:{}",
                    form_encode(&inner.config.client_id),
                    form_encode(inner.config.client_secret.expose_secret())
                );
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(pair)),
                );
            }
            ClientAuth::Post => {
                form.push(("client_id", inner.config.client_id.clone()));
                form.push((
                    "client_secret",
                    inner.config.client_secret.expose_secret().to_owned(),
                ));
            }
        }
        let answer =
            http::send(request.form(&form))
                .await
                .map_err(|detail| OidcError::Unreachable {
                    url: url.to_string(),
                    detail,
                })?;
        if !answer.status.is_success() {
            let detail = match answer.json::<OAuthError>() {
                Ok(e) => match e.error_description {
                    Some(d) if !d.is_empty() => format!("{}: {d}", e.error),
                    _ => e.error,
                },
                Err(_) => answer.describe(),
            };
            let hint = if detail.starts_with("invalid_client") {
                " (check the client id and secret)"
            } else if detail.starts_with("invalid_grant") {
                " (the code was used already, expired, or belongs to another redirect URI or PKCE verifier)"
            } else {
                ""
            };
            return Err(OidcError::CodeRejected(format!("{detail}{hint}")));
        }
        let tokens: TokenAnswer = answer.json().map_err(OidcError::CodeRejected)?;
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(OidcError::CodeRejected(format!(
                "token type {:?} is not Bearer",
                tokens.token_type.unwrap_or_default()
            )));
        }
        Ok(tokens)
    }

    /// Fills groups (and missing profile claims) from the userinfo endpoint.
    async fn complete_from_userinfo(
        &self,
        identity: &mut Identity,
        access_token: &str,
    ) -> Result<(), OidcError> {
        let Some(url) = self.inner.meta.userinfo_endpoint.clone() else {
            tracing::warn!(
                issuer = %self.inner.meta.issuer,
                "the ID token has no groups claim and the provider has no userinfo endpoint; signing in without groups"
            );
            return Ok(());
        };
        let answer = http::send(self.inner.http.get(url.clone()).bearer_auth(access_token))
            .await
            .map_err(|detail| OidcError::Unreachable {
                url: url.to_string(),
                detail,
            })?;
        if !answer.status.is_success() {
            return Err(OidcError::Userinfo(answer.describe()));
        }
        if answer
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/jwt"))
        {
            return Err(OidcError::Userinfo(
                "the provider answers with a signed JWT; configure it to answer JSON".into(),
            ));
        }
        let info: serde_json::Value = answer.json().map_err(OidcError::Userinfo)?;
        // OpenID Connect Core 5.3.2: the answer must be about the same subject.
        let sub = info.get("sub").and_then(serde_json::Value::as_str);
        if sub != Some(identity.subject.as_str()) {
            return Err(OidcError::Userinfo(format!(
                "answered for subject {sub:?}, not {:?}",
                identity.subject
            )));
        }
        let text = |name: &str| {
            info.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        identity.email = identity.email.take().or_else(|| text("email"));
        identity.email_verified = identity.email_verified.or_else(|| {
            info.get("email_verified")
                .and_then(serde_json::Value::as_bool)
        });
        identity.name = identity.name.take().or_else(|| text("name"));
        identity.preferred_username = identity
            .preferred_username
            .take()
            .or_else(|| text("preferred_username"));
        if let Some(serde_json::Value::Array(items)) = info.get("groups") {
            identity.groups = group_names(items);
        }
        Ok(())
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
    fn the_pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_43_characters_and_differ() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }

    #[test]
    fn group_claims_become_a_sorted_flat_list_of_names() {
        let items = serde_json::json!(["b-admins", "a-cashiers", "b-admins", {"name": "x"}, ""]);
        assert_eq!(
            group_names(items.as_array().unwrap()),
            ["a-cashiers", "b-admins"]
        );
    }

    #[test]
    fn basic_auth_credentials_are_form_encoded_first() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
    }

    #[test]
    fn the_pkce_verifier_never_shows_in_debug_output() {
        let start = LoginStart {
            authorize_url: Url::parse("https://auth.example.com/authorize").unwrap(),
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "very-secret-verifier".into(),
        };
        assert!(!format!("{start:?}").contains("very-secret-verifier"));
    }
}
