//! One file per subcommand: its `Args` and its `run`.

pub mod migrate;
pub mod onboard;
pub mod org;
pub mod serve;
pub mod user;
