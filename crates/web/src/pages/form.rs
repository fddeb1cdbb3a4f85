//! Form posts checked before the handler runs: every page POST must come from our own
//! origin and carry an anti-forgery token, or it is answered with the "expired" page.
//! Which token depends on who can be posting:
//! - [`CsrfForm`]: signed-in people; the session's token.
//! - [`OpenForm`]: pages open to everyone (the join page); the session's token when the
//!   person is signed in.
//! - [`CookieForm`]: the forgot-password form; a token set in a cookie with the form
//!   (nobody is signed in to hold a session token).
//! - [`SignInForm`]: the sign-in and set-password forms; their origin only (the password
//!   or the one-time link is the proof).
//! - [`CsrfJson`]: a JSON body sent by a page's own script (the till's offline queue):
//!   our origin and the session's token in the `X-CSRF-Token` header, answered as JSON.

use super::error::PageError;
use super::layout::{Chrome, cookie_lang, request_lang};
use crate::AppState;
use crate::api::extract::ApiJson;
use crate::error::ApiError;
use crate::session::{self, SignedIn};
use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use loyalty_core::ErrorCode;
use serde::de::DeserializeOwned;

/// Name of the cookie holding the forgot-password form's anti-forgery token.
pub(crate) const FORGOT_COOKIE: &str = "loyalty_forgot";

/// A form posted by the signed-in person from one of our pages.
pub(crate) struct CsrfForm<T>(pub T);

/// A form of a page open to everyone, posted from one of our pages.
pub(crate) struct OpenForm<T>(pub T);

/// The forgot-password form, with the token of its cookie.
pub(crate) struct CookieForm<T>(pub T);

/// A sign-in form, posted from one of our pages.
pub(crate) struct SignInForm<T>(pub T);

/// A JSON body posted by the signed-in person's page script, with the session's token in
/// the [`CSRF_HEADER`] header.
pub(crate) struct CsrfJson<T>(pub T);

/// The header a page script sends the session's anti-forgery token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// A form with nothing to read but its token (a button).
#[derive(serde::Deserialize)]
pub(crate) struct Empty {}

/// Where the token a form must carry comes from.
#[derive(Clone, Copy)]
enum Token {
    /// The session's token; the person must be signed in.
    Session,
    /// The session's token if the person is signed in, none otherwise.
    SessionIfSignedIn,
    /// The forgot-password cookie's token.
    FormCookie,
    /// No token: the origin alone.
    None,
}

/// The forgot-password form's token from the request's cookies.
pub(crate) fn form_cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FORGOT_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The `csrf` field of a URL-encoded body. Tokens are hex, so they are never encoded.
fn given_token(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "csrf")
        .map(|(_, value)| value)
}

/// The token the form must carry, `Ok(None)` when none is needed, `Err` when one is
/// needed and there is none to compare with.
async fn expected_token(
    parts: &mut Parts,
    state: &AppState,
    token: Token,
) -> Result<Option<String>, ()> {
    match token {
        Token::None => Ok(None),
        Token::FormCookie => form_cookie_token(&parts.headers).map(Some).ok_or(()),
        Token::Session | Token::SessionIfSignedIn => {
            // A guard that already read the session may leave it in the request's
            // extensions; otherwise it is read here.
            if let Some(s) = parts.extensions.get::<SignedIn>() {
                return Ok(Some(s.session.csrf_token.clone()));
            }
            match <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
                Ok(s) => Ok(Some(s.session.csrf_token)),
                Err(_) if matches!(token, Token::SessionIfSignedIn) => Ok(None),
                Err(_) => Err(()),
            }
        }
    }
}

/// Checks the origin and the token, then reads the form.
async fn checked<T: DeserializeOwned>(
    req: Request,
    state: &AppState,
    token: Token,
) -> Result<T, PageError> {
    let (mut parts, body) = req.into_parts();
    let forged = |parts: &Parts| {
        let lang = cookie_lang(&parts.headers).unwrap_or_else(|| request_lang(&parts.headers));
        PageError::forged(&Chrome::anonymous(lang, parts.uri.path()))
    };
    if !session::same_origin(&parts.headers, &state.config.public_url) {
        return Err(forged(&parts));
    }
    let Ok(expected) = expected_token(&mut parts, state, token).await else {
        return Err(forged(&parts));
    };
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|e| PageError::from(e.into_response()))?;
    if let Some(expected) = expected
        && !given_token(&bytes).is_some_and(|given| session::csrf_ok(&expected, given))
    {
        return Err(forged(&parts));
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    match Form::<T>::from_request(req, state).await {
        Ok(Form(form)) => Ok(form),
        Err(e) => Err(PageError::from(e.into_response())),
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        checked(req, state, Token::Session).await.map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for OpenForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        checked(req, state, Token::SessionIfSignedIn)
            .await
            .map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for CookieForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        checked(req, state, Token::FormCookie).await.map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for SignInForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        checked(req, state, Token::None).await.map(Self)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let forged = || {
            ApiError::new(
                ErrorCode::AuthForbidden,
                "this request did not come from this site's pages; reload the page",
            )
        };
        if !session::same_origin(&parts.headers, &state.config.public_url) {
            return Err(forged());
        }
        let Ok(Some(expected)) = expected_token(&mut parts, state, Token::Session).await else {
            return Err(ApiError::new(
                ErrorCode::AuthRequired,
                "your session has ended; sign in again",
            ));
        };
        let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !given.is_some_and(|given| session::csrf_ok(&expected, given)) {
            return Err(forged());
        }
        ApiJson::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map(|ApiJson(v)| Self(v))
    }
}

#[cfg(test)]
mod tests {
    use super::given_token;

    #[test]
    fn the_token_is_read_from_the_csrf_field_only() {
        assert_eq!(given_token(b"a=1&csrf=abc&b=2"), Some("abc"));
        assert_eq!(given_token(b"csrf=&b=2"), Some(""));
        assert_eq!(given_token(b"xcsrf=abc"), None);
        assert_eq!(given_token(b""), None);
    }
}
