//! The address of a page read into types: [`PageQuery`] for the query string and
//! [`PagePath`] for path parameters. A value that does not parse (`?pts=abc`, an id that
//! is not a UUID) answers a page in the person's language, never axum's plain-text
//! rejection: 400 "that did not work" for a query, the 404 page for a path (an address
//! that names nothing).

use super::i18n::Lang;
use super::layout::{Chrome, problem, request_lang};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::de::DeserializeOwned;

/// Query-string parameters of a page.
#[derive(Debug)]
pub(crate) struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => {
                tracing::debug!(error = %e.body_text(), "a page's query string does not parse");
                let lang: Lang = request_lang(&parts.headers);
                let path = parts.uri.path().to_owned();
                let c = Chrome::anonymous(lang, &path);
                Err(problem(
                    &c,
                    StatusCode::BAD_REQUEST,
                    "problem_heading",
                    c.t("err_bad_request"),
                    &path,
                    "go_back",
                ))
            }
        }
    }
}

/// Path parameters of a page.
#[derive(Debug)]
pub(crate) struct PagePath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PagePath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(_) => Err(super::not_found_page(request_lang(&parts.headers))),
        }
    }
}
