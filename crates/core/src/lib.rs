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
pub mod secret;
pub mod service;
pub mod store;

pub use error::{Error, FieldError};
