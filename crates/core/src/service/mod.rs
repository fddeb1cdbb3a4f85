//! Use cases: what the CLI, the API and the pages call. Each takes its dependencies
//! (store, directory, clock) explicitly.

pub mod audit;
pub mod bound;
pub mod checklist;
pub mod claim;
pub mod context;
pub mod customers;
pub mod erasure;
pub mod exports;
pub mod housekeeping;
pub mod import;
pub mod integrity;
pub mod join;
pub mod mail;
pub mod onboard;
pub mod onboard_file;
pub mod operators;
pub mod org_checks;
pub mod orgs;
pub mod points;
pub mod program;
pub mod recovery;
pub mod reports;
pub mod rewards;
pub mod settings;
pub mod signin;
pub mod staff;
pub mod tiers;
pub mod till;
pub mod tokens;
pub mod wallet;
pub mod webhooks;
