//! `loyalty migrate`: apply pending migrations, or show their status.

use crate::app::{App, Schema};
use crate::config::Config;

/// Apply pending migrations (append-only; safe to run again).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only show which migrations are applied and pending; change nothing.
    #[arg(long)]
    status: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::Ignore).await?;
    let before = app.store.schema_status().await?;
    let after = if args.status {
        before.clone()
    } else {
        app.store.migrate().await?
    };
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "database": config.database.display_url(),
                "applied": after.applied,
                "pending": after.pending(),
                "current": after.is_current(),
                "newly_applied": after.applied.iter().filter(|v| !before.applied.contains(v)).collect::<Vec<_>>(),
            })
        );
    } else {
        outln!("database: {}", config.database.display_url());
        let newly: Vec<i64> = after
            .applied
            .iter()
            .copied()
            .filter(|v| !before.applied.contains(v))
            .collect();
        if !newly.is_empty() {
            outln!("applied now: {newly:?}");
        }
        outln!("{}", after.describe());
    }
    if args.status && !after.is_current() {
        anyhow::bail!("schema is not current");
    }
    Ok(())
}
