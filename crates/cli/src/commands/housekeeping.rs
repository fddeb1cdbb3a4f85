//! `loyalty housekeeping`: one pass that removes rows past their retention
//! (`[housekeeping]`), or with `--dry-run` counts them; then the table sizes.

use crate::app::{App, Schema};
use crate::config::Config;
use crate::output::{table, when};

/// Remove idempotency records, expired sessions and sign-in flows, finished mail,
/// old throttle windows and finished job leases past their retention ([housekeeping]
/// in `loyalty config`). The ledger, purchases and the audit log are never touched.
/// `serve` runs the same pass every housekeeping.interval_secs.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Count what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    // Checked before opening the database, so a bad setting names itself first.
    crate::housekeeping::retention(&config.housekeeping)?;
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let outcome = crate::housekeeping::run(
        app.store.as_ref(),
        app.clock.as_ref(),
        &config.housekeeping,
        args.dry_run,
    )
    .await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&outcome)?);
        return Ok(());
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let rows: Vec<Vec<String>> = outcome
        .report
        .kinds
        .iter()
        .map(|k| {
            vec![
                k.kind.as_str().to_owned(),
                when(k.cutoff),
                k.rows.to_string(),
            ]
        })
        .collect();
    out!("{}", table(&["kind", "older than", verb], &rows));
    if let Some(note) = &outcome.report.reclaimed {
        outln!("space: {note}");
    }
    let sizes: Vec<Vec<String>> = outcome
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.rows.to_string(),
                t.bytes.map_or_else(|| "-".into(), |b| b.to_string()),
            ]
        })
        .collect();
    out!("{}", table(&["table", "rows", "bytes"], &sizes));
    outln!(
        "{} {} rows in total{}.",
        if args.dry_run {
            "Would remove"
        } else {
            "Removed"
        },
        outcome.report.total(),
        if args.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    Ok(())
}
