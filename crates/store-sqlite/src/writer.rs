//! The single writer for points commands. SQLite allows one writer at a time, and with
//! full durability every commit waits for the disk; committing each award alone caps a
//! till network at a few hundred awards per second. So points commands go to one task
//! that owns a dedicated connection and commits whatever has queued up (up to
//! [`MAX_BATCH`]) in one transaction, each command inside its own savepoint: a refused
//! command rolls back alone, each keeps its own result and idempotency record, and no
//! answer is sent before the group's commit is durable.

use crate::map_err;
use crate::points::SqliteLedgerTx;
use loyalty_core::domain::OrgId;
use loyalty_core::domain::ledger::{
    Actor, IdempotencyKey, PointsCommand, PointsError, PointsOutcome,
};
use loyalty_core::ledger_tx;
use loyalty_core::store::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Largest number of commands committed together.
pub const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<PointsOutcome, PointsError>>;

/// One queued command.
pub(crate) struct Job {
    org: OrgId,
    cmd: PointsCommand,
    actor: Actor,
    idem: Option<IdempotencyKey>,
    now: OffsetDateTime,
    reply: Reply,
}

/// Handle to the writer task.
pub(crate) type Writer = mpsc::Sender<Job>;

/// Opens the writer's own connection and starts the writer task.
pub(crate) async fn start(options: &SqliteConnectOptions) -> Result<Writer, StoreError> {
    let conn = options.connect().await.map_err(map_err)?;
    let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
    tokio::spawn(run(conn, rx));
    Ok(tx)
}

/// Queues a command and waits for its result.
pub(crate) async fn submit(
    writer: &Writer,
    org: OrgId,
    cmd: &PointsCommand,
    actor: &Actor,
    idem: Option<&IdempotencyKey>,
    now: OffsetDateTime,
) -> Result<PointsOutcome, PointsError> {
    let (reply, answer) = oneshot::channel();
    let job = Job {
        org,
        cmd: cmd.clone(),
        actor: actor.clone(),
        idem: idem.cloned(),
        now,
        reply,
    };
    let gone = || PointsError::Store(StoreError::Backend("the SQLite writer has stopped".into()));
    writer.send(job).await.map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let results = commit_group(&mut conn, &batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

async fn commit_group(
    conn: &mut SqliteConnection,
    batch: &[Job],
) -> Vec<Result<PointsOutcome, PointsError>> {
    let failed = |e: &StoreError| {
        batch
            .iter()
            .map(|_| {
                Err(PointsError::Store(StoreError::Backend(
                    e.to_string().into(),
                )))
            })
            .collect()
    };
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        return failed(&e);
    }
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = exec(conn, "SAVEPOINT points_command").await {
            let _ = exec(conn, "ROLLBACK").await;
            return failed(&e);
        }
        let result = ledger_tx::apply(
            &mut SqliteLedgerTx(&mut *conn),
            job.org,
            &job.cmd,
            &job.actor,
            job.idem.as_ref(),
            job.now,
        )
        .await;
        let close = if result.is_ok() {
            exec(conn, "RELEASE points_command").await
        } else {
            match exec(conn, "ROLLBACK TO points_command").await {
                Ok(()) => exec(conn, "RELEASE points_command").await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = close {
            let _ = exec(conn, "ROLLBACK").await;
            return failed(&e);
        }
        results.push(result);
    }
    match exec(conn, "COMMIT").await {
        Ok(()) => results,
        Err(e) => {
            let _ = exec(conn, "ROLLBACK").await;
            failed(&e)
        }
    }
}
