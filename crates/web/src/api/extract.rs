//! Request extractors of the API: JSON bodies whose every rejection is a JSON error
//! with a stable code, the `Idempotency-Key` header, and pagination cursors.

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use loyalty_core::ErrorCode;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

/// A JSON body; malformed, mistyped or oversized bodies answer 400/413/415 with a code.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    ApiError::new(ErrorCode::RequestInvalidField, e.body_text())
                }
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::new(ErrorCode::RequestMalformedJson, e.body_text())
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    ErrorCode::RequestContentType,
                    "send the body as JSON with Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(ErrorCode::RequestTooLarge, "the request body is too large")
                }
                other => ApiError::new(ErrorCode::RequestInvalid, other.body_text()),
            }),
        }
    }
}

/// The `Idempotency-Key` header, required on every mutating till call.
#[derive(Debug, Clone)]
pub struct IdempotencyKeyHeader(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
        {
            Some(v) if !v.trim().is_empty() => Ok(Self(v.trim().to_owned())),
            _ => Err(ApiError::new(
                ErrorCode::IdempotencyMissing,
                "send an Idempotency-Key header: a new random value (a UUID) per operation, the same one on retries",
            )),
        }
    }
}

/// Encodes a `(created_at, id)` position as an opaque cursor; `id` is a bare UUID or
/// one of the domain's id types.
pub fn cursor(at: OffsetDateTime, id: impl Into<Uuid>) -> String {
    format!(
        "{}.{}",
        at.unix_timestamp_nanos() / 1000,
        id.into().simple()
    )
}

/// Decodes a cursor made by [`cursor`], its id as the type the listing pages by.
pub fn parse_cursor<I: From<Uuid>>(s: &str) -> Result<(OffsetDateTime, I), ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::RequestInvalidCursor,
            "cursor is not one this server gave out; start again without it",
        )
    };
    let (micros, id) = s.split_once('.').ok_or_else(bad)?;
    let micros: i128 = micros.parse().map_err(|_| bad())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).map_err(|_| bad())?;
    Ok((at, I::from(Uuid::parse_str(id).map_err(|_| bad())?)))
}

/// A page size from a query parameter: 1-200, default 50.
pub fn limit(v: Option<u32>) -> Result<u32, ApiError> {
    match v {
        None => Ok(50),
        Some(n) if (1..=200).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::new(
            ErrorCode::RequestInvalidLimit,
            "limit must be from 1 to 200",
        )),
    }
}

/// Query-string parameters; one that does not parse (`limit=abc`) answers 400
/// `request.query` naming it, in the JSON error format.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::new(ErrorCode::RequestQuery, e.body_text())),
        }
    }
}

/// Path parameters; a malformed one (an id that is not a UUID) answers 400 `request.path`.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::new(ErrorCode::RequestPath, e.body_text())),
        }
    }
}
