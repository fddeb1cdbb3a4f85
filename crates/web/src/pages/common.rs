//! Templates several sections share: the page that shows a one-time link once, and the
//! confirmation page before an action that is hard to undo.

use super::layout::Chrome;
use super::qr;
use super::render;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use loyalty_core::domain::TimeZoneName;
use loyalty_core::service::onboard::Credential;
use secrecy::ExposeSecret;

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage<'a> {
    c: &'a Chrome,
    heading: &'a str,
    intro: &'a str,
    username: &'a str,
    link: Option<String>,
    qr: Option<String>,
    expires: Option<String>,
    password: Option<String>,
    existing: bool,
    back: &'a str,
}

/// Shows how a new person signs in the first time: the one-time link (with a QR code
/// to scan with a phone) or a generated password, once.
pub(crate) fn credential_page(
    c: &Chrome,
    heading: &str,
    intro: &str,
    username: &str,
    credential: &Credential,
    tz: &TimeZoneName,
    back: &str,
) -> Response {
    let (link, expires, password, existing) = match credential {
        Credential::Link { url, expires_at } => (
            Some(url.expose_secret().to_owned()),
            expires_at.map(|t| c.lang.datetime(t, tz)),
            None,
            false,
        ),
        Credential::Password(p) => (None, None, Some(p.expose_secret().to_owned()), false),
        Credential::Existing => (None, None, None, true),
    };
    let qr = link.as_deref().and_then(qr::svg);
    let mut resp = render(
        StatusCode::OK,
        &LinkPage {
            c,
            heading,
            intro,
            username,
            link,
            qr,
            expires,
            password,
            existing,
            back,
        },
    );
    // A secret is on this page: never keep it in a cache.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct Confirm<'a> {
    c: &'a Chrome,
    heading: &'a str,
    text: &'a str,
    action: &'a str,
    hidden: Vec<(&'a str, String)>,
    button: &'a str,
    danger: bool,
    cancel: &'a str,
}

/// "Are you sure?": a page with one button that posts to `action`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn confirm_page(
    c: &Chrome,
    heading: &str,
    text: &str,
    action: &str,
    hidden: Vec<(&str, String)>,
    button: &str,
    danger: bool,
    cancel: &str,
) -> Response {
    render(
        StatusCode::OK,
        &Confirm {
            c,
            heading,
            text,
            action,
            hidden,
            button,
            danger,
            cancel,
        },
    )
}
