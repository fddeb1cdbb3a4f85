//! The error type of the use cases. Every variant has a stable code (for JSON bodies and
//! scripts) and knows whether it is the caller's fault (exit code 2 / HTTP 4xx).

use crate::directory::DirectoryError;
use crate::store::StoreError;
use std::fmt;

/// One invalid input field: which field, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field as the user named it (`slug`, `Admin Contact.email`).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error reported under another field name (for example the YAML key).
    pub fn renamed(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more inputs are invalid; nothing was written.
    #[error("invalid input:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Validation(Vec<FieldError>),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (code, message).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The organization is suspended.
    #[error("organization {0} is suspended")]
    OrgSuspended(String),
    /// The storage backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The identity provider failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// A points operation was refused (or its store failed).
    #[error(transparent)]
    Points(#[from] crate::domain::ledger::PointsError),
    /// The person may not do this in this organization.
    #[error("{0}")]
    Forbidden(String),
}

impl Error {
    /// A validation error about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable code of this error, as sent to API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation.failed",
            Error::NotFound(_) => "not_found",
            Error::Conflict(code, _) => code,
            Error::OrgSuspended(_) => "org.suspended",
            Error::Store(StoreError::Conflict(_)) => "conflict",
            Error::Store(_) => "internal.store",
            Error::Directory(e) => e.code(),
            Error::Points(e) => e.code(),
            Error::Forbidden(_) => "auth.forbidden",
        }
    }

    /// Whether the caller can fix this by changing the input (exit code 2, HTTP 4xx).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Validation(_)
            | Error::NotFound(_)
            | Error::Conflict(..)
            | Error::OrgSuspended(_)
            | Error::Forbidden(_) => true,
            Error::Points(e) => !matches!(e, crate::domain::ledger::PointsError::Store(_)),
            Error::Store(_) | Error::Directory(_) => false,
        }
    }
}
