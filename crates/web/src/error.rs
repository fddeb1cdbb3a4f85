//! JSON errors: `{"error": {"code": "...", "message": "..."}}` with stable codes. Details
//! of server-side failures are logged here, once, and never sent to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loyalty_core::{Error, ErrorCode};
use serde::Serialize;

/// An error answer of the API. Its status comes from the code's row in the catalogue.
#[derive(Debug)]
pub struct ApiError {
    /// Stable code, such as `org.suspended`.
    pub code: ErrorCode,
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
    code: ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [loyalty_core::FieldError],
}

/// The HTTP status of a code: the one mapping from the catalogue to HTTP.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// The answer for a failure of the server itself, whose details stay in the log.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "internal error; the details are in the server log",
        )
    }

    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
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
        let mut response = (self.status(), Json(body)).into_response();
        if self.code == ErrorCode::Unavailable {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// Seconds a client waits before retrying when the database cannot be reached
/// (`Retry-After` of every `unavailable` answer, API and pages).
pub const RETRY_AFTER_SECS: &str = "5";

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        if code.public() != code {
            tracing::error!(error = %e, %code, "request failed");
            return ApiError::internal();
        }
        if code == ErrorCode::Unavailable {
            // The cause's own words stay in the log: they name hosts, ports and paths.
            tracing::error!(error = %e, %code, "request failed");
            let what = match e {
                Error::Store(_) => "the database cannot be reached",
                _ => {
                    "a service this server depends on (the identity provider or its own folders) cannot be used"
                }
            };
            return ApiError::new(
                code,
                format!("{what} for now; nothing was changed, retry shortly"),
            );
        }
        match e {
            Error::Validation(fields) => ApiError {
                code,
                message: fields
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                fields,
            },
            Error::OrgSuspended(slug) => ApiError::new(
                code,
                format!("organization {slug} is suspended; contact your service provider"),
            ),
            other => ApiError::new(code, other.to_string()),
        }
    }
}

/// Answer when a handler panicked: logged, and a plain 500 to the client.
pub fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}
