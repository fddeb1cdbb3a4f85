//! The single writer for points commands. SQLite allows one writer at a time, and with
//! full durability every commit waits for the disk; committing each award alone caps a
//! till network at a few hundred awards per second. So points commands (and expiry)
//! go to one thread that owns a dedicated connection and commits whatever has queued
//! up (up to [`MAX_BATCH`]) in one transaction, each command inside its own savepoint: a
//! refused command rolls back alone, each keeps its own result and idempotency record,
//! and no answer is sent before the group's commit is durable.

use crate::sync_tx::{SyncLedgerTx, sq};
use loyalty_core::domain::ledger::{
    Actor, IdempotencyKey, PointsCommand, PointsError, PointsOutcome,
};
use loyalty_core::domain::{CustomerId, OrgId};
use loyalty_core::ledger_tx;
use loyalty_core::store::{ImportWritten, ImportedCustomer, StoreError, TierPass};
use rusqlite::Connection;
use std::future::Future;
use std::path::Path;
use std::task::{Context, Poll, Waker};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Largest number of commands committed together.
pub const MAX_BATCH: usize = 256;

/// What the writer can do. Values live briefly in the channel; boxing the large
/// variant would only add an allocation per command.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Work {
    /// A points command.
    Apply {
        org: OrgId,
        cmd: PointsCommand,
        actor: Actor,
        idem: Option<IdempotencyKey>,
        now: OffsetDateTime,
        reply: oneshot::Sender<Result<PointsOutcome, PointsError>>,
    },
    /// Expire one customer's old points.
    Expire {
        org: OrgId,
        customer: CustomerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
        dry_run: bool,
        reply: oneshot::Sender<Result<i64, StoreError>>,
    },
    /// One batch of a customer file import.
    Import {
        org: OrgId,
        rows: Vec<ImportedCustomer>,
        reason: String,
        actor: Actor,
        now: OffsetDateTime,
        reply: oneshot::Sender<Result<ImportWritten, StoreError>>,
    },
    /// One tier recalculation's changes.
    Tiers {
        org: OrgId,
        pass: TierPass,
        actor: Actor,
        now: OffsetDateTime,
        reply: oneshot::Sender<Result<i64, StoreError>>,
    },
}

/// Handle to the writer thread.
pub(crate) type Writer = mpsc::Sender<Work>;

/// Opens the writer's own connection to the database file and starts the writer thread.
pub(crate) fn start(path: &Path) -> Result<Writer, StoreError> {
    let conn = Connection::open(path).map_err(sq)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
         PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
    )
        .map_err(sq)?;
    conn.set_prepared_statement_cache_capacity(64);
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
    std::thread::Builder::new()
        .name("loyalty-sqlite-writer".into())
        .spawn(move || run(conn, rx))
        .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}").into()))?;
    Ok(tx)
}

fn gone() -> StoreError {
    StoreError::Backend("the SQLite writer has stopped".into())
}

/// Queues a points command and waits for its durable result.
pub(crate) async fn apply(
    writer: &Writer,
    org: OrgId,
    cmd: &PointsCommand,
    actor: &Actor,
    idem: Option<&IdempotencyKey>,
    now: OffsetDateTime,
) -> Result<PointsOutcome, PointsError> {
    let (reply, answer) = oneshot::channel();
    let work = Work::Apply {
        org,
        cmd: cmd.clone(),
        actor: actor.clone(),
        idem: idem.cloned(),
        now,
        reply,
    };
    writer
        .send(work)
        .await
        .map_err(|_| PointsError::Store(gone()))?;
    answer.await.map_err(|_| PointsError::Store(gone()))?
}

/// Queues an expiry and waits for its result.
pub(crate) async fn expire(
    writer: &Writer,
    org: OrgId,
    customer: CustomerId,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<i64, StoreError> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(Work::Expire {
            org,
            customer,
            cutoff,
            now,
            dry_run,
            reply,
        })
        .await
        .map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}

/// Queues one batch of a customer import and waits for its durable result.
pub(crate) async fn import(
    writer: &Writer,
    org: OrgId,
    rows: &[ImportedCustomer],
    reason: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<ImportWritten, StoreError> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(Work::Import {
            org,
            rows: rows.to_vec(),
            reason: reason.to_owned(),
            actor: actor.clone(),
            now,
            reply,
        })
        .await
        .map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}

/// Queues a tier recalculation's changes and waits for their durable result: the
/// entry bonus points given.
pub(crate) async fn tiers(
    writer: &Writer,
    org: OrgId,
    pass: &TierPass,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    let (reply, answer) = oneshot::channel();
    writer
        .send(Work::Tiers {
            org,
            pass: pass.clone(),
            actor: actor.clone(),
            now,
            reply,
        })
        .await
        .map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}

/// Runs a synchronous ledger operation on the writer's connection to its result.
pub(crate) fn run_sync<T, E: From<StoreError>>(
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    run_now(fut).unwrap_or_else(|| Err(stuck().into()))
}

/// Runs a future that never waits (the synchronous ledger operations) to completion.
fn run_now<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[allow(clippy::large_enum_variant)]
enum Done {
    Apply(
        oneshot::Sender<Result<PointsOutcome, PointsError>>,
        Result<PointsOutcome, PointsError>,
    ),
    Expire(
        oneshot::Sender<Result<i64, StoreError>>,
        Result<i64, StoreError>,
    ),
    Import(
        oneshot::Sender<Result<ImportWritten, StoreError>>,
        Result<ImportWritten, StoreError>,
    ),
    Tiers(
        oneshot::Sender<Result<i64, StoreError>>,
        Result<i64, StoreError>,
    ),
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Work>) {
    let mut batch: Vec<Work> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let done = commit_group(&mut conn, &mut batch);
        for d in done {
            match d {
                Done::Apply(reply, r) => {
                    let _ = reply.send(r);
                }
                Done::Expire(reply, r) => {
                    let _ = reply.send(r);
                }
                Done::Import(reply, r) => {
                    let _ = reply.send(r);
                }
                Done::Tiers(reply, r) => {
                    let _ = reply.send(r);
                }
            }
        }
    }
}

fn stuck() -> StoreError {
    StoreError::Backend("a ledger operation did not complete synchronously".into())
}

fn commit_group(conn: &mut Connection, batch: &mut Vec<Work>) -> Vec<Done> {
    let mut outcomes: Vec<Option<Result<PointsOutcome, PointsError>>> =
        Vec::with_capacity(batch.len());
    let mut expired: Vec<Option<Result<i64, StoreError>>> = Vec::with_capacity(batch.len());
    let mut imported: Vec<Option<Result<ImportWritten, StoreError>>> =
        Vec::with_capacity(batch.len());
    let mut tiered: Vec<Option<Result<i64, StoreError>>> = Vec::with_capacity(batch.len());
    let began = conn.execute_batch("BEGIN IMMEDIATE").map_err(sq);
    let mut group_error: Option<StoreError> = began.err();
    for work in batch.iter() {
        if group_error.is_some() {
            outcomes.push(None);
            expired.push(None);
            imported.push(None);
            tiered.push(None);
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT command") {
            group_error = Some(sq(e));
            outcomes.push(None);
            expired.push(None);
            imported.push(None);
            tiered.push(None);
            continue;
        }
        let mut tx = SyncLedgerTx(&mut *conn);
        let ok = match work {
            Work::Apply {
                org,
                cmd,
                actor,
                idem,
                now,
                ..
            } => {
                let r = run_now(ledger_tx::apply(
                    &mut tx,
                    *org,
                    cmd,
                    actor,
                    idem.as_ref(),
                    *now,
                ))
                .unwrap_or_else(|| Err(PointsError::Store(stuck())));
                let ok = r.is_ok();
                outcomes.push(Some(r));
                expired.push(None);
                imported.push(None);
                tiered.push(None);
                ok
            }
            Work::Expire {
                org,
                customer,
                cutoff,
                now,
                dry_run,
                ..
            } => {
                let r = run_now(ledger_tx::expire(
                    &mut tx, *org, *customer, *cutoff, *now, *dry_run,
                ))
                .unwrap_or_else(|| Err(stuck()));
                let ok = r.is_ok() && !*dry_run;
                outcomes.push(None);
                expired.push(Some(r));
                imported.push(None);
                tiered.push(None);
                ok
            }
            Work::Import {
                org,
                rows,
                reason,
                actor,
                now,
                ..
            } => {
                let r = crate::customers::import_batch(&mut tx, *org, rows, reason, actor, *now);
                let ok = r.is_ok();
                outcomes.push(None);
                expired.push(None);
                imported.push(Some(r));
                tiered.push(None);
                ok
            }
            Work::Tiers {
                org,
                pass,
                actor,
                now,
                ..
            } => {
                let r = run_now(ledger_tx::apply_tier_changes(
                    &mut tx, *org, pass, actor, *now,
                ))
                .unwrap_or_else(|| Err(PointsError::Store(stuck())))
                .map_err(|e| match e {
                    PointsError::Store(e) => e,
                    other => StoreError::Backend(other.to_string().into()),
                });
                let ok = r.is_ok();
                outcomes.push(None);
                expired.push(None);
                imported.push(None);
                tiered.push(Some(r));
                ok
            }
        };
        let close = if ok {
            conn.execute_batch("RELEASE command")
        } else {
            conn.execute_batch("ROLLBACK TO command; RELEASE command")
        };
        if let Err(e) = close {
            group_error = Some(sq(e));
        }
    }
    if group_error.is_none()
        && let Err(e) = conn.execute_batch("COMMIT")
    {
        group_error = Some(sq(e));
    }
    if group_error.is_some() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let message = group_error.map(|e| e.to_string());
    batch
        .drain(..)
        .zip(outcomes.into_iter().zip(expired).zip(imported).zip(tiered))
        .map(|(work, (((outcome, exp), imp), tie))| {
            let failure =
                || StoreError::Backend(message.clone().unwrap_or_else(|| "not run".into()).into());
            match work {
                Work::Apply { reply, .. } => {
                    let r = match (&message, outcome) {
                        (None, Some(r)) => r,
                        _ => Err(PointsError::Store(failure())),
                    };
                    Done::Apply(reply, r)
                }
                Work::Expire { reply, .. } => {
                    let r = match (&message, exp) {
                        (None, Some(r)) => r,
                        _ => Err(failure()),
                    };
                    Done::Expire(reply, r)
                }
                Work::Import { reply, .. } => {
                    let r = match (&message, imp) {
                        (None, Some(r)) => r,
                        _ => Err(failure()),
                    };
                    Done::Import(reply, r)
                }
                Work::Tiers { reply, .. } => {
                    let r = match (&message, tie) {
                        (None, Some(r)) => r,
                        _ => Err(failure()),
                    };
                    Done::Tiers(reply, r)
                }
            }
        })
        .collect()
}
