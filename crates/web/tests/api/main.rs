//! The JSON API through the real router, on both backends: the authorisation matrix,
//! bad input on every endpoint, idempotent retries, the database out of reach.
#![allow(clippy::panic, clippy::unwrap_used)]

mod app;
mod checkpoints;
mod export_kinds;
mod export_stream;
mod exports;
mod input;
mod matrix;
mod openapi;
mod outage;
mod programs;
mod server;
mod webhooks;
