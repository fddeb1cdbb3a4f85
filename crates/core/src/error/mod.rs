//! The parts every error is made of, below everything else in the crate: the catalogue
//! of stable codes ([`ErrorCode`], which says whether an error is the caller's fault:
//! exit code 2 / HTTP 4xx), an invalid input field ([`FieldError`]) and what a storage
//! backend can fail with ([`StoreError`], [`Conflict`]). The use cases' own error,
//! [`crate::Error`], is built from these at the crate root.

mod code;
mod store;

pub use code::ErrorCode;
pub use store::{Conflict, StoreError};

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
