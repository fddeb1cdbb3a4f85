//! `loyalty move`: copy the installation into a database of the other backend (see
//! docs/scaling.md).

use crate::config::Config;
use crate::progress::StderrProgress;
use loyalty_ops::backend_move::{self, DEFAULT_BATCH, Options};
use secrecy::SecretString;

/// Move the installation to another backend: SQLite to PostgreSQL, or back.
///
/// Stop every `loyalty serve` and take a backup first. The move refuses while a server
/// writes to the source (SQLite: the file's writer lock; PostgreSQL: connections named
/// loyalty-serve; both: a running job lease). It migrates the target, copies every table
/// in foreign-key order in batches (each batch and its progress in one transaction of
/// the target), then checks row counts, the ledger's invariants, its hash chains and
/// every customer's chain head against the source, and prints the configuration change.
/// Run it again after a failure to resume where it stopped; --restart starts over.
/// The target must be empty or hold an earlier move of the same source.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database to move to, such as postgres://loyalty:...@db.example.com/loyalty or
    /// sqlite://./data/loyalty.db. A password on the command line is visible to other
    /// users of the machine: prefer LOYALTY_MOVE_TO.
    #[arg(
        long,
        value_name = "URL",
        env = "LOYALTY_MOVE_TO",
        hide_env_values = true
    )]
    to: String,
    /// The database to move from; by default the configured one (DATABASE_URL).
    #[arg(
        long,
        value_name = "URL",
        env = "LOYALTY_MOVE_FROM",
        hide_env_values = true
    )]
    from: Option<String>,
    /// Empty the target (only when it holds an earlier, unfinished move of the same
    /// source) and copy everything again instead of resuming.
    #[arg(long)]
    restart: bool,
    /// Rows per batch; each batch is one transaction of the target.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH)]
    batch: u32,
    /// Copy even while a job lease of the source is running. A stopped server's lease
    /// runs until it expires (up to an hour); use this only when you are sure that no
    /// server runs.
    #[arg(long)]
    ignore_leases: bool,
    /// Stop with an error after N committed batches (to rehearse resuming).
    #[arg(long, value_name = "N", hide = true)]
    stop_after_batches: Option<u64>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let from = match args.from {
        Some(f) => SecretString::from(f),
        None => config.database.resolved_url()?,
    };
    let opts = Options {
        from,
        to: SecretString::from(args.to),
        restart: args.restart,
        batch: args.batch,
        ignore_leases: args.ignore_leases,
        stop_after_batches: args.stop_after_batches,
    };
    let moved = backend_move::run(&opts, &StderrProgress::detect()).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&moved)?);
        return Ok(());
    }
    outln!("moved {} -> {}", moved.from, moved.to);
    if moved.resumed {
        outln!("(resumed an earlier, unfinished move)");
    }
    for t in &moved.tables {
        outln!(
            "  {:<24} {:>10} rows ({} copied now)",
            t.table,
            t.rows,
            t.copied_now
        );
    }
    outln!(
        "verified: row counts equal; ledger invariants hold ({} customers, {} entries); hash chains hold ({} entries); {} chain heads equal the source's",
        moved.invariants.customers,
        moved.invariants.entries,
        moved.chains.entries,
        moved.heads
    );
    outln!("took {:.1} s", moved.seconds);
    outln!();
    outln!("Now point loyalty at the new database, in the configuration file:");
    outln!("  [database]");
    outln!("  url = \"{}\"", moved.to);
    outln!(
        "(or DATABASE_URL={}), with the real password if it has one,",
        moved.to
    );
    outln!("then start `loyalty serve` and run `loyalty doctor`.");
    Ok(())
}
