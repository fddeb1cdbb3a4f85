//! `loyalty points`: operations on the ledger from the command line.

use crate::app::{App, Schema};
use crate::config::Config;
use loyalty_core::domain::OrgStatus;
use loyalty_core::service::{integrity, orgs, points};

/// Points commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Expire points older than each organization's policy (oldest points first).
    ///
    /// Organizations without an expiry policy are skipped. Safe to run at any time and
    /// repeatedly: points already expired are never expired twice. `serve` runs the same
    /// job periodically.
    Expire {
        /// Only this organization.
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
        /// Report what would expire; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the ledger: balance == sum of entries, balance >= 0, each entry's
    /// balance_after == previous balance_after + points, and every customer's hash chain
    /// (each entry's hash recomputed from its content and the previous entry, the last
    /// one against the customer's head). Names the first entry that fails (changed,
    /// deleted or inserted). Exit 1 if anything is broken.
    Verify {
        /// Only this organization.
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
        /// Also prove that nothing before this signed checkpoint (a file downloaded from
        /// the admin panel or written by `points checkpoint --out`) changed: each head it
        /// recorded must still be in the chain. Its signature is checked with the
        /// installation's key (`[integrity] signing_key`). Implies its organization.
        #[arg(long, value_name = "FILE")]
        from_checkpoint: Option<std::path::PathBuf>,
    },
    /// Record a signed checkpoint of every active organization's chain heads (or of one),
    /// with the installation's key (made on first use at `[integrity] signing_key`).
    /// `serve` takes one a day (`[integrity] checkpoint_interval_secs`).
    Checkpoint {
        /// Only this organization.
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
        /// Also write the checkpoint to this file (with --org only), for safekeeping
        /// away from the database.
        #[arg(long, value_name = "FILE", requires = "org")]
        out: Option<std::path::PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::RequireCurrent).await?;
    match cmd {
        Command::Expire { org, dry_run, json } => {
            let targets = match org {
                Some(slug) => vec![orgs::get(app.store.as_ref(), &slug).await?],
                None => orgs::list(app.store.as_ref())
                    .await?
                    .into_iter()
                    .map(|s| s.org)
                    .collect(),
            };
            let mut reports = Vec::new();
            for org in targets.iter().filter(|o| o.status == OrgStatus::Active) {
                reports.push(
                    points::expire(app.store.as_ref(), app.clock.as_ref(), org, dry_run).await?,
                );
            }
            if json {
                outln!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                for r in &reports {
                    let verb = if dry_run { "would expire" } else { "expired" };
                    outln!(
                        "{}: {verb} {} points of {} customers",
                        r.org,
                        r.points,
                        r.customers
                    );
                }
                let skipped = targets.iter().filter(|o| o.expiry_days.is_none()).count();
                if skipped > 0 {
                    outln!("({skipped} organizations have no expiry policy)");
                }
            }
        }
        Command::Verify {
            org,
            from_checkpoint,
        } => {
            let mut org_id = match org {
                Some(slug) => Some(orgs::get(app.store.as_ref(), &slug).await?.id),
                None => None,
            };
            let checkpoint = match from_checkpoint {
                Some(path) => {
                    let key = crate::integrity::load_key(
                        std::path::Path::new(&config.integrity.signing_key),
                        false,
                    )?;
                    let cp = crate::integrity::read_checkpoint(&path, &key)?;
                    if org_id.is_some_and(|o| o != cp.org) {
                        return Err(crate::UserError(
                            "--from-checkpoint: the checkpoint is of another organization than --org; leave --org out".into(),
                        )
                        .into());
                    }
                    org_id = Some(cp.org);
                    Some(cp)
                }
                None => None,
            };
            let report = app.store.check_invariants(org_id).await?;
            let chains = integrity::verify_chains(
                app.store.as_ref(),
                org_id,
                checkpoint.as_ref().map(|c| (c.org, c.heads.as_slice())),
            )
            .await?;
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "invariants": report,
                    "chains": chains,
                }))?
            );
            if let Some(broken) = &chains.first_failure {
                anyhow::bail!("the ledger's hash chain is broken at {broken}");
            }
            if !report.holds() {
                anyhow::bail!("ledger invariants are broken");
            }
        }
        Command::Checkpoint { org, out, json } => {
            let org_id = match org {
                Some(slug) => Some(orgs::get(app.store.as_ref(), &slug).await?.id),
                None => None,
            };
            let key = crate::integrity::load_key(
                std::path::Path::new(&config.integrity.signing_key),
                true,
            )?;
            let taken =
                crate::integrity::checkpoint(app.store.as_ref(), app.clock.as_ref(), &key, org_id)
                    .await?;
            if let (Some(path), Some(cp)) = (out, taken.first()) {
                std::fs::write(&path, cp.to_file())?;
            }
            if json {
                outln!("{}", serde_json::to_string_pretty(&taken)?);
            } else {
                for cp in &taken {
                    outln!(
                        "{}: checkpoint {} of {} customers, {} entries, root {}",
                        cp.org,
                        cp.id,
                        cp.customers,
                        cp.entries,
                        cp.root
                    );
                }
                outln!("signed with key {}", key.public_hex());
            }
        }
    }
    Ok(())
}
