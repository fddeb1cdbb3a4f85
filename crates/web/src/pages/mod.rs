//! Server-rendered pages (askama templates, checked at compile time).

mod account;
mod home;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Every page route.
pub fn routes() -> Router<AppState> {
    Router::new().merge(account::routes()).merge(home::routes())
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
    pub heading: &'a str,
    pub message: &'a str,
    pub link: &'a str,
    pub link_text: &'a str,
}

/// Answer to a form post that does not come from our own pages.
pub(crate) fn forged() -> Response {
    render(
        StatusCode::FORBIDDEN,
        &Message {
            heading: "This form has expired",
            message: "The form was not sent from this site, or it is too old. Go back, reload the page and send it again.",
            link: "/",
            link_text: "Back to the start",
        },
    )
}
