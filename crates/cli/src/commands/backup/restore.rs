//! `loyalty backup restore`: checks a set against the configuration, asks before
//! overwriting, restores loyalty's database (and the identity provider's) and records
//! the restore in the audit log.

use super::counts;
use crate::UserError;
use crate::backup::{self, Backend, KIND_AUTHENTIK, KIND_LOYALTY, Set, postgres, sqlite};
use crate::config::Config;
use crate::output::when;
use indicatif::HumanBytes;
use loyalty_core::clock::{Clock, SystemClock};
use loyalty_core::domain::ledger::AuditRecord;
use loyalty_ops::backup::Progress;
use secrecy::ExposeSecret;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;

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

/// Restores set `which` over the configured databases, after asking (unless `yes`).
pub(super) async fn run(
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
