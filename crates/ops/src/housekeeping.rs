//! Housekeeping for the operator and for `serve`: the `[housekeeping]` settings as
//! core's [`Retention`], one pass with metrics (`loyalty housekeeping`), and the job
//! `serve` runs on whichever instance holds its lease.

use crate::UserError;
use crate::config::HousekeepingConfig;
use loyalty_core::clock::Clock;
use loyalty_core::service::housekeeping::{self as service, Pace, Report, Retention};
use loyalty_core::store::{Store, TableSize};
use std::sync::Arc;
use std::time::Duration;

/// The name of the job's lease in `job_leases`.
pub const LEASE: &str = "housekeeping";

/// The settings as core's retention; a setting that would forget too early is the
/// operator's to fix.
pub fn retention(config: &HousekeepingConfig) -> Result<Retention, UserError> {
    if config.idempotency_days == 0 {
        return Err(UserError(
            "housekeeping.idempotency_days is 0: a retried award must find its first answer for a while; set 1 or more (default 7)".into(),
        ));
    }
    if config.batch_size == 0 || config.batch_size > 100_000 {
        return Err(UserError(format!(
            "housekeeping.batch_size is {}: give 1 to 100000 rows per statement (default 1000)",
            config.batch_size
        )));
    }
    if config.duty_percent == 0 || config.duty_percent > 100 {
        return Err(UserError(format!(
            "housekeeping.duty_percent is {}: give 1 to 100 (percent of a pass's time spent removing rows; default 10, 100 for no pauses)",
            config.duty_percent
        )));
    }
    if config.webhook_delivery_days == 0 {
        return Err(UserError(
            "housekeeping.webhook_delivery_days is 0: the delivery log must show what was sent for a while; set 1 or more (default 30)".into(),
        ));
    }
    if config.mail_row_days < config.mail_body_days {
        return Err(UserError(format!(
            "housekeeping.mail_row_days ({}) is less than mail_body_days ({}): rows go with their bodies, so keep rows at least as long",
            config.mail_row_days, config.mail_body_days
        )));
    }
    let days = |d: u32| time::Duration::days(i64::from(d));
    let hours = |h: u32| time::Duration::hours(i64::from(h));
    Ok(Retention {
        idempotency: days(config.idempotency_days),
        expired: hours(config.expired_hours),
        mail_body: days(config.mail_body_days),
        mail_row: days(config.mail_row_days),
        throttle: hours(config.throttle_hours),
        job_lease: days(config.job_lease_days),
        webhook_delivery: days(config.webhook_delivery_days),
        batch: config.batch_size,
    })
}

/// The pause between batches: a batch that took t is followed by
/// t x (100 - duty) / duty of rest, so the pass holds the database `duty` percent of
/// its time whatever the load (a slower database gets longer pauses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutyCycle {
    percent: u8,
}

impl DutyCycle {
    /// The settings' duty cycle (`duty_percent`, checked by [`retention`]).
    pub fn new(config: &HousekeepingConfig) -> Self {
        Self {
            percent: config.duty_percent.clamp(1, 100),
        }
    }

    /// How long to rest after a batch that took `took`.
    pub fn rest(&self, took: Duration) -> Duration {
        let duty = u32::from(self.percent);
        took.saturating_mul(100 - duty) / duty
    }
}

#[async_trait::async_trait]
impl Pace for DutyCycle {
    async fn after_batch(&self, took: Duration) {
        let rest = self.rest(took);
        if !rest.is_zero() {
            tokio::time::sleep(rest).await;
        }
    }
}

/// What `loyalty housekeeping` prints: the pass and the table sizes after it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The pass.
    #[serde(flatten)]
    pub report: Report,
    /// Sizes of the tables after the pass.
    pub tables: Vec<TableSize>,
}

/// One pass (or, with `dry_run`, a count of what would go), with the metrics updated.
pub async fn run(
    store: &dyn Store,
    clock: &dyn Clock,
    config: &HousekeepingConfig,
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let retention = retention(config)?;
    let pace = DutyCycle::new(config);
    let report = service::run(store, clock, &retention, &pace, dry_run).await?;
    if !dry_run {
        for k in &report.kinds {
            metrics::counter!("loyalty_housekeeping_rows_removed_total", "kind" => k.kind.as_str())
                .increment(k.rows);
        }
    }
    let tables = store.table_sizes().await?;
    record_sizes(&tables);
    Ok(Outcome { report, tables })
}

/// Sets the table-size gauges: `loyalty_table_rows{table}` and, where the database
/// tells cheaply, `loyalty_table_bytes{table}`.
pub fn record_sizes(tables: &[TableSize]) {
    for t in tables {
        metrics::gauge!("loyalty_table_rows", "table" => t.table.clone()).set(t.rows as f64);
        if let Some(bytes) = t.bytes {
            metrics::gauge!("loyalty_table_bytes", "table" => t.table.clone()).set(bytes as f64);
        }
    }
}

/// The job `serve` runs: a pass every `interval_secs`, on whichever instance holds the
/// lease, so several instances against one database run it once. A failed pass is
/// logged and tried again at the next tick.
pub async fn job(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: HousekeepingConfig) {
    let holder = loyalty_core::secret::random_token();
    let every = Duration::from_secs(config.interval_secs.max(60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock.now();
        let lease = time::Duration::seconds(i64::try_from(every.as_secs()).unwrap_or(3600));
        match store.try_lease(LEASE, &holder, now, now + lease).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "housekeeping: cannot take its lease");
                continue;
            }
        }
        match run(store.as_ref(), clock.as_ref(), &config, false).await {
            Ok(o) if o.report.total() > 0 => {
                tracing::info!(
                    rows = o.report.total(),
                    "housekeeping removed rows past their retention"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "housekeeping pass failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let r = retention(&HousekeepingConfig::default()).expect("defaults are valid");
        assert_eq!(r, Retention::default());
    }

    #[test]
    fn the_duty_cycle_rests_in_proportion_to_the_batch() {
        let at = |duty_percent| {
            DutyCycle::new(&HousekeepingConfig {
                duty_percent,
                ..HousekeepingConfig::default()
            })
        };
        let batch = Duration::from_millis(30);
        assert_eq!(at(10).rest(batch), Duration::from_millis(270));
        assert_eq!(at(50).rest(batch), Duration::from_millis(30));
        assert_eq!(at(100).rest(batch), Duration::ZERO);
        for bad in [0, 101] {
            let config = HousekeepingConfig {
                duty_percent: bad,
                ..HousekeepingConfig::default()
            };
            assert!(
                retention(&config)
                    .expect_err("out of range")
                    .0
                    .contains("duty_percent")
            );
        }
    }

    #[test]
    fn settings_that_forget_too_early_are_refused_with_the_field() {
        let zero = HousekeepingConfig {
            idempotency_days: 0,
            ..HousekeepingConfig::default()
        };
        assert!(
            retention(&zero)
                .expect_err("zero")
                .0
                .contains("idempotency_days")
        );
        let rows_before_bodies = HousekeepingConfig {
            mail_body_days: 30,
            mail_row_days: 10,
            ..HousekeepingConfig::default()
        };
        assert!(
            retention(&rows_before_bodies)
                .expect_err("rows")
                .0
                .contains("mail_row_days")
        );
        let batch = HousekeepingConfig {
            batch_size: 0,
            ..HousekeepingConfig::default()
        };
        assert!(
            retention(&batch)
                .expect_err("batch")
                .0
                .contains("batch_size")
        );
    }
}
