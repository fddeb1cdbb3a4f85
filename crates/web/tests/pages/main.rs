//! The pages through the real router, on both backends: who sees which page, forms
//! refused without the session's anti-forgery token or from another origin, the session
//! cookie's flags, the sign-in rate limit, the till's idempotent forms, "Forgot your
//! password?", and the store methods the pages added.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

/// The schema-checking Authentik stand-in of `loyalty-identity`'s tests, shared rather
/// than copied (a stand-in, not Authentik itself).
#[path = "../../../identity/tests/authentik"]
#[allow(dead_code, unused_imports)]
mod authentik {
    pub mod schema;
    pub mod standin;
}
/// The stand-in refers to its schema checker as `crate::schema`.
use authentik::schema;

mod address;
mod amounts;
mod app;
mod console;
mod deploy;
mod forms;
mod halfmade;
mod headers;
mod host;
mod language;
mod matrix;
mod members;
mod metrics;
mod programs;
mod recovery;
mod redirects;
mod sessions;
mod store;
mod throttle;
mod till_offline;
mod wallet;
/// The wallet tests' certificate authority, shared with `loyalty-identity`'s tests.
#[path = "../../../identity/tests/wallet/ca.rs"]
mod wallet_ca;
