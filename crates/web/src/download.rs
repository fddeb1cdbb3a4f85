//! A file the browser saves rather than shows: its media type, a file name the server
//! chose (never one taken from the request), and `Cache-Control: no-store`, since what
//! is downloaded here (exports, data packages, checkpoints, passes) is a shop's or a
//! person's own data.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `body` as an attachment named `file_name`, of type `content_type`, not cached.
pub fn attachment(content_type: &str, file_name: &str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
