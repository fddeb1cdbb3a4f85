//! The `loyalty` binary as an operator uses it, on both backends: exit codes, the
//! runbook's SQL against a running server, onboarding from the runbook's YAML, sign-in.
#![allow(clippy::panic, clippy::unwrap_used)]

mod mail;
mod onboard;
mod serve;
mod support;
