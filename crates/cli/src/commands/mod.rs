//! One file per subcommand: its `Args` and its `run`.

pub mod authentik;
pub mod backup;
pub mod bench;
pub mod doctor;
pub mod export;
pub mod handoff;
pub mod housekeeping;
pub mod import;
pub mod mail;
pub mod migrate;
pub mod move_backend;
pub mod onboard;
pub mod operator;
pub mod org;
pub mod points;
pub mod serve;
pub mod user;
pub mod webhooks;
