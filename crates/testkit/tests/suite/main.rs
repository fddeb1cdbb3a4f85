//! The behaviour suite: every case runs on SQLite and on PostgreSQL.

mod directory;
mod onboarding;
mod store;
