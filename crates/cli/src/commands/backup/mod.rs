//! `loyalty backup`: take, list, restore and prune backup sets (see docs/backup.md).

mod restore;

use crate::backup::{self, Decision, Entry, KIND_AUTHENTIK};
use crate::config::Config;
use crate::output::{table, when};
use crate::progress::StderrProgress;
use indicatif::HumanBytes;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Backup commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Take a backup set now, while the server keeps running.
    ///
    /// PostgreSQL: pg_dump (custom format) of the loyalty database, gzip'd, and of the
    /// identity provider's database too when AUTHENTIK_DATABASE_URL is set. SQLite: a
    /// consistent copy of the file. The set is {backup.dir}/YYYYMMDD_HHMMSS/ with a
    /// manifest.json (versions, schema version, sizes, SHA-256 of every file).
    Create {
        /// Label the set, such as pre-onboard-nextdoor; labelled sets are kept
        /// backup.keep_labelled_days instead of backup.retention_days.
        #[arg(long)]
        label: Option<String>,
        /// Print the new set's manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the backup sets, oldest first, and any incomplete ones.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup set: the loyalty database (and the identity provider's, when the
    /// set holds it) as it was when the set was taken.
    ///
    /// Checks every file's SHA-256 and the pg_restore version first, refuses while a
    /// loyalty server is running against the database, asks for confirmation (unless
    /// --yes), then restores and reports what it restored. Everything written after the
    /// backup is lost; on SQLite the replaced file is kept as <db>.before-restore-<time>.
    /// The restore is then recorded in the restored database's audit log
    /// (backup.restore, by $USER), so its history shows the roll-back.
    Restore {
        /// `latest`, or a set's timestamp such as 20250123_140530.
        #[arg(value_name = "latest|YYYYMMDD_HHMMSS")]
        set: String,
        /// Do not ask for confirmation (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Delete old sets: unlabelled ones older than backup.retention_days, labelled ones
    /// older than backup.keep_labelled_days. The newest complete set is always kept.
    Prune {
        /// Show what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `work` unless Ctrl-C or SIGTERM comes first: then the work is dropped, which
/// stops its child processes (a PostgreSQL restore's transaction rolls back) and removes
/// its temporary files, before the command exits.
async fn until_stopped<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::select! {
        r = work => r,
        () = crate::app::stop_signal() => Err(anyhow::anyhow!(
            "stopped by a signal before finishing; its temporary files were removed; run the same command again to finish"
        )),
    }
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    let progress = StderrProgress::detect();
    match cmd {
        Command::Create { label, json } => {
            let created =
                until_stopped(backup::create(&config, label.as_deref(), &progress)).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&created.set.manifest)?);
            } else {
                out!("{}", describe_created(&created));
            }
            Ok(())
        }
        Command::List { json } => list(&config, json),
        Command::Restore { set, yes } => {
            until_stopped(restore::run(&config, &set, yes, &progress)).await
        }
        Command::Prune { dry_run } => prune(&config, dry_run),
    }
}

/// A summary of a new set, for people.
pub fn describe_created(created: &backup::Created) -> String {
    let set = &created.set;
    let mut out = format!(
        "Backup set {} written to {} in {:.1} s{}\n",
        set.name,
        set.path.display(),
        created.seconds,
        set.manifest
            .label
            .as_deref()
            .map(|l| format!(" (label {l})"))
            .unwrap_or_default()
    );
    for f in &set.manifest.files {
        out.push_str(&format!(
            "  {:<40} {:>10}  sha256 {}\n",
            f.name,
            HumanBytes(f.bytes).to_string(),
            f.sha256
        ));
    }
    out.push_str(&format!(
        "  schema version {}; {}\n",
        set.manifest.schema_version,
        counts(&set.manifest.row_counts)
    ));
    out
}

fn counts(c: &BTreeMap<String, i64>) -> String {
    if c.is_empty() {
        return "no loyalty tables".into();
    }
    c.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let dir = PathBuf::from(&config.backup.dir);
    let entries = backup::scan(&dir)?;
    if json {
        let items: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| match e {
                Entry::Complete(s) => serde_json::json!({
                    "name": s.name,
                    "complete": true,
                    "path": s.path,
                    "bytes": s.bytes(),
                    "manifest": s.manifest,
                }),
                Entry::Incomplete { name, reason } => serde_json::json!({
                    "name": name,
                    "complete": false,
                    "path": dir.join(name),
                    "reason": reason,
                }),
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(());
    }
    if entries.is_empty() {
        outln!(
            "No backup sets in {}; take one with `loyalty backup create`.",
            config.backup.dir
        );
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut incomplete = Vec::new();
    for e in &entries {
        match e {
            Entry::Complete(s) => rows.push(vec![
                s.name.clone(),
                when(s.manifest.created_at),
                s.manifest.label.clone().unwrap_or_else(|| "-".into()),
                s.manifest.backend.clone(),
                s.manifest.schema_version.to_string(),
                if s.manifest.files.iter().any(|f| f.kind == KIND_AUTHENTIK) {
                    "loyalty + identity".into()
                } else {
                    "loyalty".into()
                },
                HumanBytes(s.bytes()).to_string(),
            ]),
            Entry::Incomplete { name, reason } => incomplete.push(format!("{name}: {reason}")),
        }
    }
    outln!("Backup sets in {}:", config.backup.dir);
    out!(
        "{}",
        table(
            &[
                "SET",
                "CREATED",
                "LABEL",
                "BACKEND",
                "SCHEMA",
                "DATABASES",
                "SIZE"
            ],
            &rows
        )
    );
    if !incomplete.is_empty() {
        outln!("\nIncomplete (ignored by restore and prune):");
        for line in incomplete {
            outln!("  {line}");
        }
    }
    match backup::latest_backup(&dir) {
        Some(t) => {
            let hours = (time::OffsetDateTime::now_utc() - t).whole_hours();
            outln!("\nNewest complete set: {} ({hours} h ago)", when(t));
        }
        None => outln!("\nNo complete set yet."),
    }
    Ok(())
}

fn prune(config: &Config, dry_run: bool) -> anyhow::Result<()> {
    let dir = PathBuf::from(&config.backup.dir);
    let sets = backup::complete_sets(&dir)?;
    if sets.is_empty() {
        outln!("No backup sets in {}; nothing to prune.", config.backup.dir);
        return Ok(());
    }
    let decisions = backup::plan_prune(
        &sets,
        time::OffsetDateTime::now_utc(),
        config.backup.retention_days,
        config.backup.keep_labelled_days,
    );
    let mut deleted = 0usize;
    let mut freed = 0u64;
    for Decision {
        set,
        delete,
        reason,
    } in &decisions
    {
        let label = set
            .manifest
            .label
            .as_deref()
            .map(|l| format!(" [{l}]"))
            .unwrap_or_default();
        if *delete {
            if !dry_run {
                std::fs::remove_dir_all(&set.path)
                    .map_err(|e| anyhow::anyhow!("deleting {}: {e}", set.path.display()))?;
            }
            deleted += 1;
            freed += set.bytes();
            outln!(
                "{} {}{label}: {reason}",
                if dry_run { "would delete" } else { "deleted" },
                set.name
            );
        } else {
            outln!("kept {}{label}: {reason}", set.name);
        }
    }
    outln!(
        "{} {deleted} of {} sets ({}).",
        if dry_run { "Would delete" } else { "Deleted" },
        decisions.len(),
        HumanBytes(freed)
    );
    Ok(())
}
