//! The behaviour suite: every case runs on SQLite and on PostgreSQL.
#![allow(clippy::panic, clippy::unwrap_used)]

mod access;
mod audit;
mod bound;
mod chain;
mod checklist;
mod claim;
mod conflicts;
mod console;
mod directory;
mod housekeeping;
mod import;
mod mail;
mod onboarding;
mod points;
mod privacy;
mod programs;
mod store;
mod tiers;
mod till;
mod trends;
mod wallet;
mod webhooks;
