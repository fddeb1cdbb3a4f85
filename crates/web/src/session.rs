//! Sign-in sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure when
//! served over https); the database keeps only its hash. Forms of signed-in people carry
//! the session's anti-forgery token, and every page POST must come from our own origin.

use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use loyalty_core::secret;
use loyalty_core::store::Session;
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const COOKIE: &str = "loyalty_session";
/// How long a session lasts.
pub const LIFETIME: time::Duration = time::Duration::hours(12);

/// The session token from the request's cookies.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    let value = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        LIFETIME.whole_seconds(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("loyalty_session=; Path=/; Max-Age=0"))
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "loyalty_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("loyalty_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }
}

/// A new session token and anti-forgery token.
pub fn new_tokens() -> (String, String) {
    (secret::random_token(), secret::random_token())
}

/// Whether a state-changing request comes from our own pages: its `Origin` (or, without
/// one, its `Referer`) is the public URL's origin or the host the browser addressed.
pub fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let origin_of = |url: &str| -> Option<String> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split('/').next()?;
        Some(format!("{scheme}://{authority}"))
    };
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v != "null")
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(origin_of)
        });
    let Some(claimed) = claimed else { return false };
    if origin_of(public_url).is_some_and(|o| o == claimed) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(|h| {
        claimed
            .split_once("://")
            .is_some_and(|(_, authority)| authority == h)
    })
}

/// Compares anti-forgery tokens in constant time.
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !given.is_empty() && expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// A signed-in person (a built-in account or a subject of the identity provider).
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The live session.
    pub session: Session,
    /// Hash of the cookie token (the session's key).
    pub token_hash: String,
}

impl SignedIn {
    /// Who the session belongs to, for [`loyalty_core::access`].
    pub fn principal(&self) -> loyalty_core::access::Principal {
        self.session.principal.clone().into()
    }
}

/// Sends people who are not signed in to the sign-in page.
#[derive(Debug)]
pub struct NotSignedIn;

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_from(&parts.headers).ok_or(NotSignedIn)?;
        let token_hash = secret::hash_token(&token);
        match state.store.session(&token_hash, state.clock.now()).await {
            Ok(Some(session)) => Ok(SignedIn {
                session,
                token_hash,
            }),
            Ok(None) => Err(NotSignedIn),
            Err(e) => {
                tracing::error!(error = %e, "reading session");
                Err(NotSignedIn)
            }
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn same_origin_accepts_our_origin_or_the_addressed_host_only() {
        let public = "https://loyalty.example.com";
        assert!(same_origin(
            &headers(&[("origin", "https://loyalty.example.com")]),
            public
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://localhost:8080"),
                ("host", "localhost:8080")
            ]),
            public
        ));
        assert!(same_origin(
            &headers(&[("referer", "https://loyalty.example.com/login")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "loyalty.example.com")
            ]),
            public
        ));
        assert!(!same_origin(&headers(&[]), public));
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_over_https() {
        let c = set_cookie(&"a".repeat(64), true);
        let c = c.to_str().expect("ascii");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(
            !set_cookie(&"a".repeat(64), false)
                .to_str()
                .expect("ascii")
                .contains("Secure")
        );
        let h = headers(&[("cookie", &format!("a=b; {COOKIE}={}", "f".repeat(64)))]);
        assert_eq!(token_from(&h), Some("f".repeat(64)));
        assert_eq!(
            token_from(&headers(&[("cookie", "loyalty_session=short")])),
            None
        );
    }
}
