//! Browser tests in real headless Chromium, driven through WebDriver (`chromedriver`
//! started here on a free port) against the real router served on a free port, on both
//! backends. Screenshots of the main pages go to `target/screenshots/`. Without
//! Chromium the tests fail naming the packages, unless `LOYALTY_TEST_SKIP` names `browser`.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod amounts;
mod claim;
mod console;
mod csp;
mod exports;
mod harness;
mod privacy;
mod programs;
mod story;
mod tiers;
mod till_offline;
mod webhooks;
