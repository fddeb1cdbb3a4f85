//! Housekeeping: one pass that forgets what has served its purpose, each kind after
//! its retention, in small batches so that awards never wait long on it. The ledger,
//! purchases and the audit log are kept for good: no sweep exists for them.

use crate::clock::Clock;
use crate::store::{Store, StoreError, Sweep};
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// What a pass does between two full batches. `serve`'s job and `loyalty housekeeping`
/// pause for a while (ops' duty cycle), so that a long backlog gives the database back
/// to requests between its batches; tests run at full speed.
#[async_trait]
pub trait Pace: Send + Sync {
    /// Called after each full batch (more rows may follow) with the time it took.
    async fn after_batch(&self, took: std::time::Duration);
}

/// No pause between batches.
#[derive(Debug, Clone, Copy, Default)]
pub struct FullSpeed;

#[async_trait]
impl Pace for FullSpeed {
    async fn after_batch(&self, _took: std::time::Duration) {}
}

/// How long each kind is kept, and how many rows one statement removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Idempotency records: a retry after this is a new request.
    pub idempotency: Duration,
    /// Sessions, sign-in flows and one-time tokens: kept this long after they expire.
    pub expired: Duration,
    /// Sent or given-up mail: its body is emptied after this.
    pub mail_body: Duration,
    /// Sent or given-up mail: its row is removed after this.
    pub mail_row: Duration,
    /// Sign-in throttle windows: removed this long after their last failure.
    pub throttle: Duration,
    /// Job leases: removed this long after they ran out.
    pub job_lease: Duration,
    /// Delivered or given-up webhook deliveries: removed this long after.
    pub webhook_delivery: Duration,
    /// Rows per statement.
    pub batch: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            idempotency: Duration::days(7),
            expired: Duration::ZERO,
            mail_body: Duration::days(30),
            mail_row: Duration::days(90),
            throttle: Duration::days(1),
            job_lease: Duration::days(7),
            webhook_delivery: Duration::days(30),
            batch: 1000,
        }
    }
}

impl Retention {
    /// How long rows of `kind` are kept.
    pub fn keep(&self, kind: Sweep) -> Duration {
        match kind {
            Sweep::IdempotencyKeys => self.idempotency,
            Sweep::Sessions | Sweep::LoginFlows | Sweep::AccountTokens | Sweep::WalletLinks => {
                self.expired
            }
            Sweep::MailBodies => self.mail_body,
            Sweep::MailRows => self.mail_row,
            Sweep::LoginThrottle => self.throttle,
            Sweep::JobLeases => self.job_lease,
            Sweep::WebhookDeliveries => self.webhook_delivery,
        }
    }

    /// Rows of `kind` older than this instant are past their retention at `now`.
    pub fn cutoff(&self, kind: Sweep, now: OffsetDateTime) -> OffsetDateTime {
        now - self.keep(kind)
    }
}

/// What a pass did (or, dry, would do) for one kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// The kind.
    pub kind: Sweep,
    /// Rows older than this were past retention.
    #[serde(with = "time::serde::rfc3339")]
    pub cutoff: OffsetDateTime,
    /// Rows removed (mail bodies: emptied); in a dry run, rows that would be.
    pub rows: u64,
}

/// What one housekeeping pass did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Whether nothing was changed (rows were only counted).
    pub dry_run: bool,
    /// One entry per kind, in the order they ran.
    pub kinds: Vec<SweepReport>,
    /// What the database did to give space back, if anything.
    pub reclaimed: Option<String>,
}

impl Report {
    /// Rows removed (or that would be) over every kind.
    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|k| k.rows).sum()
    }
}

/// Runs one pass over every kind at the clock's now. With `dry_run`, counts what would
/// go and changes nothing. Each batch is its own short transaction, so a request
/// waits at most for one batch; `pace` decides what happens between full batches.
pub async fn run(
    store: &dyn Store,
    clock: &dyn Clock,
    retention: &Retention,
    pace: &dyn Pace,
    dry_run: bool,
) -> Result<Report, StoreError> {
    let now = clock.now();
    let batch = retention.batch.max(1);
    let mut kinds = Vec::with_capacity(Sweep::ALL.len());
    for kind in Sweep::ALL {
        let cutoff = retention.cutoff(kind, now);
        let rows = if dry_run {
            store.sweep_candidates(kind, cutoff).await?
        } else {
            let mut total: u64 = 0;
            loop {
                let started = std::time::Instant::now();
                let n = store.sweep(kind, cutoff, batch).await?;
                total += n;
                if n < u64::from(batch) {
                    break;
                }
                pace.after_batch(started.elapsed()).await;
            }
            total
        };
        kinds.push(SweepReport { kind, cutoff, rows });
    }
    let reclaimed = if dry_run {
        None
    } else {
        store.reclaim_space().await?
    };
    Ok(Report {
        dry_run,
        kinds,
        reclaimed,
    })
}

/// A table holding far more than its retention implies: rows older than twice the
/// retention exist, so housekeeping is not running (or cannot keep up).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Overdue {
    /// The kind.
    pub kind: Sweep,
    /// Rows older than twice the retention.
    pub rows: u64,
}

/// The kinds with rows older than twice their retention (at least a day past it), for
/// `loyalty doctor`.
pub async fn overdue(
    store: &dyn Store,
    clock: &dyn Clock,
    retention: &Retention,
) -> Result<Vec<Overdue>, StoreError> {
    let now = clock.now();
    let mut out = Vec::new();
    for kind in Sweep::ALL {
        let keep = retention.keep(kind);
        let slack = std::cmp::max(keep * 2_i32, keep + Duration::days(1));
        let rows = store.sweep_candidates(kind, now - slack).await?;
        if rows > 0 {
            out.push(Overdue { kind, rows });
        }
    }
    Ok(out)
}
