//! The JSON API through the real router, on both backends: the authorisation matrix,
//! bad input on every endpoint, idempotent retries.
#![allow(clippy::panic, clippy::unwrap_used)]

mod app;
mod input;
mod matrix;
mod openapi;
