//! `loyalty backup restore`: asks before overwriting (unless `--yes`) and prints what
//! the restore did; the checks and the restore itself are `loyalty_ops::backup::restore`.

use super::counts;
use crate::UserError;
use crate::backup::Set;
use crate::backup::restore::{self, FileRestored, Recorded};
use crate::config::Config;
use crate::output::when;
use indicatif::HumanBytes;
use loyalty_core::clock::SystemClock;
use loyalty_ops::backup::Progress;
use std::io::{BufRead, IsTerminal, Write};

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
    let plan = restore::prepare(config, which, progress).await?;
    confirm(&plan.set, &plan.targets, yes)?;
    let set = plan.set.clone();
    let actor = crate::commands::org::operator(None);
    let done = restore::apply(config, plan, &actor, &SystemClock, progress).await?;

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
    report.push_str(&file_line(&done.loyalty));
    if let Some(kept) = &done.loyalty.kept {
        report.push_str(&format!(
            "  the replaced database is kept as {}\n",
            kept.display()
        ));
    }
    if let Some(identity) = &done.identity {
        report.push_str(&file_line(identity));
    }
    let schema_version = done.schema_version;
    report.push_str(&format!(
        "  schema version {schema_version}; {}\n",
        counts(&done.row_counts)
    ));
    if done.row_counts != set.manifest.row_counts && !set.manifest.row_counts.is_empty() {
        report.push_str(&format!(
            "  warning: the backup recorded {}\n",
            counts(&set.manifest.row_counts)
        ));
    }
    report.push_str(&match &done.recorded {
        Recorded::By(label) => {
            format!("  recorded in the audit log as backup.restore by {label}\n")
        }
        Recorded::NoAuditLog(version) => format!(
            "  note: the restored schema (version {version}) has no audit log; the restore is not recorded in it\n"
        ),
        Recorded::Failed(e) => {
            format!("  warning: the restore could not be recorded in the audit log: {e}\n")
        }
    });
    let (lines, cleared) = done.erasures;
    if lines > 0 {
        report.push_str(&format!(
            "  erasures applied again: {cleared} customers of the {lines} in the erasure log (the replaced database's, and the journal beside the backups)\n"
        ));
    }
    let known = done.known_schema;
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

/// `  file  size  ->  where (n tables)`.
fn file_line(r: &FileRestored) -> String {
    let tables = r
        .tables
        .map(|n| format!(" ({n} tables)"))
        .unwrap_or_default();
    format!(
        "  {:<40} {:>10}  ->  {}{tables}\n",
        r.file.name,
        HumanBytes(r.file.bytes).to_string(),
        r.into
    )
}
