//! `AuthentikDirectory` against a stand-in for Authentik (not Authentik itself) that
//! checks every request and answer against Authentik's OpenAPI schema: the directory
//! contract, retries and errors, the onboarding use case end to end with SQLite, and the
//! OpenID application setup (provider and application).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod onboarding;
mod schema;
mod setup;
mod standin;
mod validator;
