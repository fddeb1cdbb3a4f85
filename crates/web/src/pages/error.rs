//! What a page handler returns when it cannot go on: [`PageError`], a whole page that
//! says what happened and what to do, so handlers read "extract, call one service,
//! redirect" and use `?`. A failed use case becomes page text in one place,
//! [`describe`].

use super::i18n::Lang;
use super::layout::{Chrome, problem};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loyalty_core::Error;
use loyalty_core::domain::ledger::PointsError;

/// A page answered instead of the one asked for (a refused guard, a forged form, a
/// failed use case).
#[derive(Debug)]
pub(crate) struct PageError(Response);

impl PageError {
    /// A failed use case, in the page's frame, with a link back to `back`.
    pub fn failed(c: &Chrome, e: &Error, back: &str) -> Self {
        let (status, text) = describe(c.lang, e);
        let mut page = problem(c, status, "problem_heading", &text, back, "go_back");
        if e.code() == loyalty_core::ErrorCode::Unavailable {
            page.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(crate::error::RETRY_AFTER_SECS),
            );
        }
        Self(page)
    }

    /// 403: the person has no role here that allows this page.
    pub fn forbidden(c: &Chrome) -> Self {
        Self(problem(
            c,
            StatusCode::FORBIDDEN,
            "forbidden_heading",
            c.t("forbidden_text"),
            "/",
            "back_to_start",
        ))
    }

    /// 403: a form post that does not come from our own pages (or from an expired one).
    pub fn forged(c: &Chrome) -> Self {
        Self(problem(
            c,
            StatusCode::FORBIDDEN,
            "expired_heading",
            c.t("expired_text"),
            "/",
            "back_to_start",
        ))
    }

    /// 404: an address that names nothing.
    pub fn not_found(lang: Lang) -> Self {
        Self(super::not_found_page(lang))
    }
}

/// Guard rejections are already pages.
impl From<Response> for PageError {
    fn from(r: Response) -> Self {
        Self(r)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0
    }
}

/// Turns a use case's error into the page that says so: `service(..).await.or_page(&c, back)?`.
pub(crate) trait OrPage<T> {
    /// The value, or the page for the error in `c`'s frame with a link back to `back`.
    fn or_page(self, c: &Chrome, back: &str) -> Result<T, PageError>;
}

impl<T, E: Into<Error>> OrPage<T> for Result<T, E> {
    fn or_page(self, c: &Chrome, back: &str) -> Result<T, PageError> {
        self.map_err(|e| PageError::failed(c, &e.into(), back))
    }
}

/// A sentence for a failed use case, in the page's language where we know the case.
pub(crate) fn error_text(lang: Lang, e: &Error) -> String {
    describe(lang, e).1
}

/// What a failed use case means on a page: its status and a sentence in `lang`. The one
/// place where core errors become page text: the text of the error's code in the
/// catalogue, with the invalid fields or the balance where the person needs them. The
/// status is the code's, except that the server's own failures say "try again" (503).
pub(crate) fn describe(lang: Lang, e: &Error) -> (StatusCode, String) {
    let code = e.code();
    let status = if code.is_user_error() {
        crate::error::status_of(code)
    } else {
        tracing::error!(error = %e, %code, "page action failed");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let text = match e {
        Error::Validation(fields) => format!(
            "{} {}",
            lang.t(code.i18n_key()),
            fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Error::Points(PointsError::Insufficient { balance, needed }) => format!(
            "{} ({} {}, {} {})",
            lang.t(code.i18n_key()),
            lang.int(*balance),
            lang.t("points"),
            lang.t("needed_word"),
            lang.int(*needed)
        ),
        _ => lang.t(code.i18n_key()).into(),
    };
    (status, text)
}
