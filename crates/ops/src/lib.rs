//! Operations of a loyalty installation, as a library: the configuration, backup and
//! restore, moving between backends, the doctor's checks, the client's handoff guide, mail delivery and housekeeping. The
//! `loyalty` command parses flags and prints; the work is here, so that `serve` (and
//! later the pages) can run it without the command line. Long steps report progress
//! through [`backup::Progress`], which the caller implements.

pub mod authentik;
pub mod backend_move;
pub mod backup;
pub mod config;
pub mod database;
pub mod doctor;
pub mod handoff;
pub mod housekeeping;
pub mod integrity;
pub mod mail;
pub mod programs;
pub mod wallet;
pub mod webhooks;

/// An error the person running an operation can fix by changing the input (the
/// command line maps it to exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// A timestamp for people: `2025-01-23 14:05 UTC`.
pub fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}
