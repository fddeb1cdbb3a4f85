//! JSON errors: `{"error": {"code": "...", "message": "..."}}` with stable codes. Details
//! of server-side failures are logged here, once, and never sent to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loyalty_core::Error;
use loyalty_core::domain::ledger::PointsError;
use serde::Serialize;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, such as `org.suspended`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Invalid fields, for validation errors.
    pub fields: Vec<loyalty_core::FieldError>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [loyalty_core::FieldError],
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        match e {
            Error::Validation(fields) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code,
                message: fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                fields,
            },
            Error::NotFound(what) => {
                ApiError::new(StatusCode::NOT_FOUND, code, format!("{what} not found"))
            }
            Error::Conflict(_, message) => ApiError::new(StatusCode::CONFLICT, code, message),
            Error::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, code, message),
            Error::Points(p) if !matches!(p, PointsError::Store(_)) => {
                let status = match &p {
                    PointsError::CustomerNotFound
                    | PointsError::PurchaseNotFound
                    | PointsError::RewardNotFound => StatusCode::NOT_FOUND,
                    PointsError::ReverseTooOld => StatusCode::FORBIDDEN,
                    PointsError::ReverseTooMuch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::CONFLICT,
                };
                ApiError::new(status, code, p.to_string())
            }
            Error::OrgSuspended(slug) => ApiError::new(
                StatusCode::FORBIDDEN,
                code,
                format!("organization {slug} is suspended; contact your service provider"),
            ),
            other => {
                tracing::error!(error = %other, code, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the details are in the server log",
                )
            }
        }
    }
}

/// Answer for unknown routes: a page people understand for browsers (that ask for
/// HTML outside `/api`), the JSON error for every other client.
pub async fn not_found(req: axum::extract::Request) -> Response {
    let wants_html = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !wants_html || req.uri().path().starts_with("/api/") || req.uri().path() == "/api" {
        ApiError::new(StatusCode::NOT_FOUND, "route.not_found", "no such route").into_response()
    } else {
        crate::pages::not_found_page(crate::pages::layout_lang(req.headers()))
    }
}

/// Answer when a handler panicked: logged, and a plain 500 to the client.
pub fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; the details are in the server log",
    )
    .into_response()
}
