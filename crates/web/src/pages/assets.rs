//! The stylesheet and script, served from the binary, and the language switch.

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

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
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
