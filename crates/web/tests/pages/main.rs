//! The pages through the real router, on both backends: who sees which page, forms
//! refused without the session's anti-forgery token or from another origin, the session
//! cookie's flags, the sign-in rate limit, the till's idempotent forms, "Forgot your
//! password?", and the store methods the pages added.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod address;
mod amounts;
mod app;
mod console;
mod deploy;
mod forms;
mod headers;
mod host;
mod language;
mod matrix;
mod members;
mod metrics;
mod recovery;
mod redirects;
mod store;
mod throttle;
