//! Identity providers behind the core's [`loyalty_core::directory::Directory`] interface.
//! `builtin`: accounts, groups and one-time links in our own database, passwords hashed
//! with argon2id. (Authentik's admin API lives beside it, behind the same interface.)
//! `oidc`: the OpenID Connect relying party that signs people in with Authentik (or any
//! OpenID provider) and checks API bearer tokens.

pub mod authentik;
pub mod builtin;
pub mod device;
pub mod oidc;
pub mod password;
pub mod wallet;

pub use builtin::BuiltinDirectory;
