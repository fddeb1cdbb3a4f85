//! The stylesheet and scripts, the till's icons, served from the binary, and the
//! language switch.

use super::i18n::{COOKIE, Lang};
use super::redirect::safe_back;
use crate::AppState;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
/// The till's offline module (its queue, status and sync); docs/till.md.
const TILL_JS: &str = include_str!("../../static/till.js");
const TILL_ICON: &str = include_str!("../../static/till-icon.svg");
const TILL_ICON_192: &[u8] = include_bytes!("../../static/till-icon-192.png");
const TILL_ICON_512: &[u8] = include_bytes!("../../static/till-icon-512.png");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/till.js", get(till_js))
        .route(
            "/static/till-icon.svg",
            get(|| file("image/svg+xml", TILL_ICON.as_bytes())),
        )
        .route(
            "/static/till-icon-192.png",
            get(|| file("image/png", TILL_ICON_192)),
        )
        .route(
            "/static/till-icon-512.png",
            get(|| file("image/png", TILL_ICON_512)),
        )
        .route("/lang/{tag}", get(switch))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

async fn till_js() -> Response {
    file("text/javascript; charset=utf-8", TILL_JS.as_bytes()).await
}

/// A file kept in the binary, with its type; browsers may keep it for an hour.
async fn file(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct Back {
    #[serde(default)]
    back: String,
}

/// Sets the person's language (a cookie for a year) and goes back to the page.
async fn switch(Path(tag): Path<String>, Query(q): Query<Back>) -> Response {
    let lang = Lang::parse(&tag).unwrap_or_default();
    let cookie = format!(
        "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(safe_back(&q.back)),
    )
        .into_response()
}
