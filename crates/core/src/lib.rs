//! The heart of `loyalty`: domain types built by parsing, the use cases (onboarding,
//! organization lifecycle) and the two interfaces the rest of the system plugs into:
//! [`store::Store`] (PostgreSQL or SQLite) and [`directory::Directory`] (built-in
//! accounts or Authentik). Who may act in which organization is decided once, in
//! [`access`]. Nothing here knows about HTTP or SQL.

pub mod access;
pub mod clock;
pub mod directory;
pub mod domain;
pub mod error;
pub mod ledger_tx;
pub mod mail;
pub mod scratch;
pub mod secret;
pub mod service;
pub mod store;
pub mod webhook;

pub use error::{ErrorCode, FieldError};

use directory::DirectoryError;
use store::StoreError;

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more inputs are invalid; nothing was written.
    #[error("invalid input:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Validation(Vec<FieldError>),
    /// The named thing does not exist (code, what was looked for).
    #[error("{1} not found")]
    NotFound(ErrorCode, String),
    /// The request conflicts with the current state (code, message).
    #[error("{1}")]
    Conflict(ErrorCode, String),
    /// The organization is suspended.
    #[error("organization {0} is suspended")]
    OrgSuspended(domain::OrgSlug),
    /// The storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The identity provider failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// A points operation was refused (or its store failed).
    #[error(transparent)]
    Points(#[from] crate::domain::ledger::PointsError),
    /// The request carries no credential, or one that is not valid here (code, message).
    #[error("{1}")]
    Unauthenticated(ErrorCode, String),
    /// The person may not do this in this organization.
    #[error("{0}")]
    Forbidden(String),
    /// A service this depends on (the identity provider) cannot be reached now; the
    /// message says what could not be done, for the log.
    #[error("{0}")]
    Unavailable(String),
    /// A file the use case writes (an export's workbook) could not be written.
    #[error("{0}")]
    File(String),
}

impl Error {
    /// A validation error about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// A thing that does not exist, under the generic `not_found` code.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(ErrorCode::NotFound, what.into())
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::ValidationFailed,
            Error::NotFound(code, _)
            | Error::Conflict(code, _)
            | Error::Unauthenticated(code, _) => *code,
            Error::OrgSuspended(_) => ErrorCode::OrgSuspended,
            Error::Store(e) => e.code(),
            Error::Directory(e) => e.code(),
            Error::Points(e) => e.code(),
            Error::Forbidden(_) => ErrorCode::AuthForbidden,
            Error::File(_) => ErrorCode::Internal,
            Error::Unavailable(_) => ErrorCode::Unavailable,
        }
    }

    /// Whether the caller can fix this by changing the input (exit code 2, HTTP 4xx).
    pub fn is_user_error(&self) -> bool {
        self.code().is_user_error()
    }
}
