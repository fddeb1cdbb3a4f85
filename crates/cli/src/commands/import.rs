//! `loyalty import customers`: a shop's existing customers from a spreadsheet (CSV),
//! through the same import the admin panel's upload runs (`docs/import.md`).

use crate::UserError;
use crate::app::{App, Schema};
use crate::config::Config;
use crate::progress::StderrProgress;
use loyalty_core::domain::Role;
use loyalty_core::service::import::{self, ImportOptions, ImportReport};
use loyalty_core::service::orgs;
use loyalty_core::service::points::Ctx;
use loyalty_ops::backup::Progress;
use std::path::PathBuf;

/// Import commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import customers from a CSV file (en-US or pt-BR headers, "," or ";").
    ///
    /// Columns: name, email, phone, card number, birth date, opening balance, marketing
    /// consent; each row needs an email or a phone. Every row is checked first and each
    /// problem is printed with its line and column; nothing is written when any row is
    /// bad (unless --skip-invalid) or with --dry-run. Opening balances become "opening"
    /// ledger entries noting the file name. Importing the same file again changes
    /// nothing: a row whose card number, else email, else phone was imported before is
    /// skipped. `loyalty import template` prints a file to start from.
    /// Exit status: 0 imported, 2 bad rows (or a bad flag), 1 any other failure.
    Customers {
        /// The organization.
        #[arg(long, value_name = "SLUG")]
        org: String,
        /// The CSV file.
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
        /// Check every row and report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the valid rows even when some are bad (the bad ones are listed).
        #[arg(long)]
        skip_invalid: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the template file: the header and one example row.
    Template {
        /// en-US (the default; "," separated) or pt-BR (";" separated, as Excel saves there).
        #[arg(long, default_value = "en-US")]
        lang: String,
    },
}

/// Runs the command.
pub async fn run(config: Config, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Template { lang } => {
            let pt_br = match lang.to_ascii_lowercase().as_str() {
                "en-us" | "en" => false,
                "pt-br" | "pt" => true,
                other => {
                    return Err(UserError(format!(
                        "--lang {other:?} is not known; use en-US or pt-BR"
                    ))
                    .into());
                }
            };
            crate::output::write_stdout(format_args!("{}", import::template(pt_br)));
            Ok(())
        }
        Command::Customers {
            org,
            file,
            dry_run,
            skip_invalid,
            json,
        } => {
            let bytes = std::fs::read(&file).map_err(|e| {
                UserError(format!(
                    "cannot read FILE {}: {e}; give the path of the CSV file",
                    file.display()
                ))
            })?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.display().to_string());
            let app = App::open(&config, Schema::RequireCurrent).await?;
            let org = orgs::get(app.store.as_ref(), &org).await?;
            let ctx = Ctx {
                store: app.store.as_ref(),
                clock: app.clock.as_ref(),
                org: &org,
                actor: crate::commands::org::operator(None),
                role: Role::Admin,
            };
            let progress = StderrProgress::detect();
            let what = if dry_run { "checking" } else { "importing" };
            let mut task = progress.task(&format!("{what} {name}"), Some(bytes.len() as u64));
            let mut done = 0u64;
            let report = import::import_customers(
                &ctx,
                &name,
                &bytes,
                ImportOptions {
                    dry_run,
                    skip_invalid,
                },
                &mut |at| {
                    task.inc(at.saturating_sub(done));
                    done = done.max(at);
                },
            )
            .await;
            task.finish();
            let report = report?;
            print(&report, dry_run, json)?;
            let imported_anyway = skip_invalid && report.written;
            if !report.errors.is_empty() && !imported_anyway {
                return Err(UserError(format!(
                    "{} problem(s) in {name}; fix the rows listed (or add --skip-invalid to import the valid ones)",
                    report.errors.len()
                ))
                .into());
            }
            Ok(())
        }
    }
}

fn print(report: &ImportReport, dry_run: bool, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    for e in &report.errors {
        outln!("{e}");
    }
    outln!(
        "{}: {} rows, {} valid, {} with problems",
        report.file,
        report.rows,
        report.valid,
        report.errors.len()
    );
    if dry_run {
        outln!("dry run: nothing written");
    } else if report.written {
        outln!(
            "created {} customers, {} already imported (skipped), opening balances {} points",
            report.created,
            report.already_imported,
            report.opening_points
        );
    } else if !report.errors.is_empty() {
        outln!("nothing written");
    }
    Ok(())
}
