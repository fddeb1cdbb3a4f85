//! `loyalty backup`: take, list, restore and prune backup sets (see docs/backup.md).

use crate::UserError;
use crate::backup::{
    self, Backend, Decision, Entry, KIND_AUTHENTIK, KIND_LOYALTY, Set, postgres, sqlite,
};
use crate::config::Config;
use crate::output::{table, when};
use crate::progress::StderrProgress;
use indicatif::HumanBytes;
use loyalty_core::clock::{Clock, SystemClock};
use loyalty_core::domain::ledger::AuditRecord;
use loyalty_ops::backup::Progress;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;

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

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    let progress = StderrProgress::detect();
    match cmd {
        Command::Create { label, json } => {
            let created = backup::create(&config, label.as_deref(), &progress).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&created.set.manifest)?);
            } else {
                out!("{}", describe_created(&created));
            }
            Ok(())
        }
        Command::List { json } => list(&config, json),
        Command::Restore { set, yes } => restore(&config, &set, yes, &progress).await,
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

fn confirm(set: &Set, targets: &[String], yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UserError(format!(
            "standard input is not a terminal, so the restore cannot ask for confirmation; pass --yes to restore set {} without asking",
            set.name
        ))
        .into());
    }
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "About to restore backup set {} (taken {}{}, schema version {}).",
        set.name,
        when(set.manifest.created_at),
        set.manifest
            .label
            .as_deref()
            .map(|l| format!(", label {l}"))
            .unwrap_or_default(),
        set.manifest.schema_version
    );
    if !set.manifest.database.is_empty() {
        let _ = writeln!(err, "It was taken from {}", set.manifest.database);
    }
    let _ = writeln!(err, "and will be restored over:");
    for t in targets {
        let _ = writeln!(err, "  {t}");
    }
    let _ = write!(
        err,
        "Everything written after the backup is lost. Type yes to continue: "
    );
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        return Err(UserError("restore cancelled; nothing was changed".into()).into());
    }
    Ok(())
}

async fn restore(
    config: &Config,
    which: &str,
    yes: bool,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let dir = PathBuf::from(&config.backup.dir);
    let set = backup::find(&config.backup.dir, &dir, which)?;
    let url = config.database.resolved_url()?;
    let backend = Backend::of(url.expose_secret())?;
    let shown = config.database.display_url();
    if set.manifest.backend != backend.as_str() {
        return Err(UserError(format!(
            "backup set {} is a {} backup but the configured database {shown} is {}; point DATABASE_URL at a {} database",
            set.name,
            set.manifest.backend,
            backend.as_str(),
            set.manifest.backend
        ))
        .into());
    }
    let main = set
        .manifest
        .files
        .iter()
        .find(|f| f.kind == KIND_LOYALTY)
        .cloned()
        .ok_or_else(|| {
            UserError(format!(
                "backup set {} holds no loyalty database; choose another set (`loyalty backup list`)",
                set.name
            ))
        })?;
    let idp_file = set
        .manifest
        .files
        .iter()
        .find(|f| f.kind == KIND_AUTHENTIK)
        .cloned();
    let idp_url = config.backup.authentik_database_url.clone();
    if idp_file.is_some() && idp_url.is_none() {
        return Err(UserError(format!(
            "backup set {} also holds the identity provider's database; set AUTHENTIK_DATABASE_URL (backup.authentik_database_url) so both roll back to the same moment",
            set.name
        ))
        .into());
    }
    if idp_file.is_none() && idp_url.is_some() {
        progress.note(&format!(
            "note: backup set {} has no identity provider database; only loyalty's database is restored",
            set.name
        ));
    }

    backup::verify(&set, progress)?;
    let mut targets = vec![format!("loyalty database {shown}  <-  {}", main.name)];
    let idp = match (&idp_file, &idp_url) {
        (Some(f), Some(u)) => {
            let shown = display(u.expose_secret());
            targets.push(format!(
                "identity provider database {shown}  <-  {}",
                f.name
            ));
            Some((f.clone(), u.clone()))
        }
        _ => None,
    };
    let _lock = match backend {
        Backend::Sqlite => {
            let db = sqlite::db_path(url.expose_secret())?;
            Some(sqlite::lock_writer(&db)?)
        }
        Backend::Postgres => {
            postgres::check_tools(set.manifest.pg_dump_version.as_deref()).await?;
            postgres::check_not_in_use(&url, KIND_LOYALTY).await?;
            None
        }
    };
    if let Some((_, u)) = &idp {
        postgres::check_tools(set.manifest.pg_dump_version.as_deref()).await?;
        postgres::check_not_in_use(u, KIND_AUTHENTIK).await?;
    }
    confirm(&set, &targets, yes)?;

    let mut report = format!(
        "Restored backup set {} (taken {}{})\n",
        set.name,
        when(set.manifest.created_at),
        set.manifest
            .label
            .as_deref()
            .map(|l| format!(", label {l}"))
            .unwrap_or_default()
    );
    let (schema_version, row_counts) = match backend {
        Backend::Sqlite => {
            let db = sqlite::db_path(url.expose_secret())?;
            let r = sqlite::restore(&db, &set.path.join(&main.name), progress).await?;
            report.push_str(&format!(
                "  {:<40} {:>10}  ->  {}\n",
                main.name,
                HumanBytes(main.bytes).to_string(),
                db.display()
            ));
            if let Some(kept) = &r.kept {
                report.push_str(&format!(
                    "  the replaced database is kept as {}\n",
                    kept.display()
                ));
            }
            (r.schema_version, r.row_counts)
        }
        Backend::Postgres => {
            // A server may have started while the operator read the prompt.
            postgres::check_not_in_use(&url, KIND_LOYALTY).await?;
            let r =
                postgres::restore(&url, &set.path.join(&main.name), KIND_LOYALTY, progress).await?;
            report.push_str(&format!(
                "  {:<40} {:>10}  ->  {shown} ({} tables)\n",
                main.name,
                HumanBytes(main.bytes).to_string(),
                r.tables
            ));
            (r.schema_version, r.row_counts)
        }
    };
    // Recorded as soon as loyalty's database is back, even if the identity provider's
    // restore fails below.
    let recorded = record_restore(config, &set, schema_version).await;
    if let Some((f, u)) = &idp {
        match postgres::restore(u, &set.path.join(&f.name), KIND_AUTHENTIK, progress).await {
            Ok(r) => report.push_str(&format!(
                "  {:<40} {:>10}  ->  {} ({} tables)\n",
                f.name,
                HumanBytes(f.bytes).to_string(),
                display(u.expose_secret()),
                r.tables
            )),
            Err(e) => {
                return Err(e.context(format!(
                    "the loyalty database WAS restored from set {}, but the identity provider's database was not; fix the cause and run `loyalty backup restore {} --yes` again",
                    set.name, set.name
                )));
            }
        }
    }
    report.push_str(&format!(
        "  schema version {schema_version}; {}\n",
        counts(&row_counts)
    ));
    if row_counts != set.manifest.row_counts && !set.manifest.row_counts.is_empty() {
        report.push_str(&format!(
            "  warning: the backup recorded {}\n",
            counts(&set.manifest.row_counts)
        ));
    }
    report.push_str(&recorded);
    let known = loyalty_store_postgres::MIGRATIONS
        .last()
        .map(|m| m.0)
        .unwrap_or_default();
    if schema_version < known {
        report.push_str(&format!(
            "  the restored schema is version {schema_version}; this loyalty knows {known}: run `loyalty migrate` before starting the server\n"
        ));
    }
    report.push_str(&format!(
        "Done in {:.1} s. Check with `loyalty points verify`, then start the server.\n",
        started.elapsed().as_secs_f64()
    ));
    out!("{report}");
    Ok(())
}

/// Writes the restore into the restored database's audit log (`backup.restore`, no
/// organization, the operator from `$USER`): its history then shows that everything
/// after the set's time was rolled back. The data is restored whatever happens here, so
/// a failure is reported, not raised. Returns the report's line.
async fn record_restore(config: &Config, set: &Set, schema_version: i64) -> String {
    // The audit log came with migration 2; an older set has nowhere to keep the record.
    if schema_version < 2 {
        return format!(
            "  note: the restored schema (version {schema_version}) has no audit log; the restore is not recorded in it\n"
        );
    }
    let actor = crate::commands::org::operator(None);
    let record = AuditRecord::new(
        None,
        &actor,
        "backup.restore",
        ("backup", set.name.clone()),
        None,
        Some(serde_json::json!({
            "set": set.name,
            "created_at": set.manifest.created_at.format(&Rfc3339).unwrap_or_default(),
            "label": set.manifest.label,
            "files": set.manifest.files,
        })),
        SystemClock.now(),
    );
    let written = async {
        let (store, sqlite) =
            loyalty_ops::database::connect_store(config, "loyalty-restore").await?;
        let written = store.append_audit(&record).await;
        if let Some(s) = sqlite {
            s.pool().close().await;
        }
        written.map_err(anyhow::Error::from)
    }
    .await;
    match written {
        Ok(()) => format!(
            "  recorded in the audit log as backup.restore by {}\n",
            actor.label
        ),
        Err(e) => format!("  warning: the restore could not be recorded in the audit log: {e:#}\n"),
    }
}

fn display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(invalid URL)".into(),
    }
}
