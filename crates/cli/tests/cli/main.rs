//! The `loyalty` binary as an operator uses it, on both backends: exit codes, the
//! runbook's SQL against a running server, onboarding from the runbook's YAML, sign-in,
//! the client guide and the post-handoff checklist, the doctor's checks.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod bench;
mod doctor;
mod erasure_authentik;
mod export;
mod handoff;
mod housekeeping;
mod import;
mod logs;
mod mail;
mod onboard;
mod onboard_authentik;
mod operator;
mod serve;
mod support;
mod wallet;
mod webhooks;

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
mod systemd;
