//! Server-rendered pages (askama templates, checked at compile time): sign-in and
//! passwords (with the self-service reset), the organization picker, the operator
//! console, the org admin panel, the till, the customer portal and the public join
//! page. Handlers call the same service functions as the API; no business rule lives
//! here.

// A rejection here is a whole page, built once per request and answered at once;
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod account;
mod admin;
mod assets;
mod charts;
mod claim;
mod common;
mod error;
mod form;
mod guard;
mod home;
pub mod i18n;
mod join;
mod layout;
mod oidc;
mod operator;
mod params;
mod portal;
mod qr;
mod recovery;
mod redirect;
mod throttle;
mod till;
mod till_actions;
mod till_offline;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use layout::Chrome;

/// Every page route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(account::routes())
        .merge(recovery::routes())
        .merge(oidc::routes())
        .merge(home::routes())
        .merge(assets::routes())
        .merge(operator::routes())
        .merge(admin::routes())
        .merge(till::routes())
        .merge(till_actions::routes())
        .merge(till_offline::routes())
        .merge(portal::routes())
        .merge(join::routes())
        .merge(claim::routes())
}

/// Renders a template, or a plain error page if rendering fails.
pub(crate) fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1><p>Please try again.</p>".to_owned()),
            )
                .into_response()
        }
    }
}

/// A short page with a heading, a sentence and a link onwards.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message<'a> {
    pub c: Chrome,
    pub heading: &'a str,
    pub message: &'a str,
    pub link: &'a str,
    pub link_text: &'a str,
}

/// Answer for unknown routes: a page people understand for browsers (that ask for
/// HTML outside `/api`), the JSON error for every other client.
pub async fn fallback(req: axum::extract::Request) -> Response {
    let wants_html = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !wants_html || req.uri().path().starts_with("/api/") || req.uri().path() == "/api" {
        crate::error::ApiError::new(loyalty_core::ErrorCode::RouteNotFound, "no such route")
            .into_response()
    } else {
        not_found_page(layout_lang(req.headers()))
    }
}

/// An HTML page for unknown addresses outside the API.
pub(crate) fn not_found_page(lang: i18n::Lang) -> Response {
    let c = Chrome::anonymous(lang, "/");
    layout::problem(
        &c,
        StatusCode::NOT_FOUND,
        "page_not_found_heading",
        c.t("page_not_found_text"),
        "/",
        "back_to_start",
    )
}

/// The language to answer an anonymous request in.
pub(crate) fn layout_lang(headers: &axum::http::HeaderMap) -> i18n::Lang {
    layout::request_lang(headers)
}
