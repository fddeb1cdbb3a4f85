//! `loyalty export`: an organization's ledger, balances, purchases or the period's summary
//! for a date range, as a CSV or XLSX file, written by the same export the API streams
//! (`docs/exports.md`).

use crate::UserError;
use crate::app::{App, Schema};
use crate::config::Config;
use loyalty_core::domain::Role;
use loyalty_core::service::exports::{Export, ExportFormat, ExportKind, ExportParams};
use loyalty_core::service::orgs;
use loyalty_core::service::points::Ctx;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Export an organization's ledger, balances, purchases or summary for a date range in
/// its time zone (this month without --from/--to/--period).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// ledger (the default: every entry, oldest first), balances (every customer's
    /// balance now; the range does not apply), purchases (newest first) or summary (the
    /// period's figures: points issued, redeemed, expired, outstanding; purchases and
    /// their total; new and active customers; top rewards).
    #[arg(value_name = "KIND", default_value = "ledger")]
    kind: String,
    /// The organization.
    #[arg(long, value_name = "SLUG")]
    org: String,
    /// First day, YYYY-MM-DD, in the organization's time zone (with --to).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last day (included), YYYY-MM-DD (with --from).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// this-month or last-month, instead of --from and --to.
    #[arg(long)]
    period: Option<String>,
    /// csv (the default) or xlsx (needs --output; its temporary files go to a private
    /// folder inside backup.dir).
    #[arg(long)]
    format: Option<String>,
    /// local (the organization's separator, decimal mark, language and time zone; the
    /// default) or machine (",", ".", English headers, UTC times). Columns:
    /// docs/exports.md.
    #[arg(long)]
    style: Option<String>,
    /// Write the file here (it must not exist yet); without it, to standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    let app = App::open(&config, Schema::RequireCurrent).await?;
    let org = orgs::get(app.store.as_ref(), &args.org).await?;
    let ctx = Ctx {
        store: app.store.as_ref(),
        clock: app.clock.as_ref(),
        org: &org,
        actor: crate::commands::org::operator(None),
        role: Role::Admin,
    };
    let kind = ExportKind::parse(&args.kind)?;
    let mut export = Export::begin(
        &ctx,
        kind,
        &ExportParams {
            from: args.from,
            to: args.to,
            period: args.period,
            format: args.format,
            style: args.style,
        },
    )?;
    if export.format() == ExportFormat::Xlsx {
        let Some(path) = args.output else {
            return Err(UserError("--format xlsx writes a file: add --output FILE".into()).into());
        };
        let file = create_new(&path)?;
        let written = async {
            let book = export
                .build_xlsx(app.store.as_ref(), Path::new(&config.backup.dir))
                .await?;
            let mut out = std::io::BufWriter::new(file);
            book.save_to_writer(&mut out)?;
            out.flush()?;
            anyhow::Ok(())
        };
        if let Err(e) = written.await {
            remove_partial(&path);
            return Err(e);
        }
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    match args.output {
        Some(path) => {
            let file = create_new(&path)?;
            let mut out = std::io::BufWriter::new(file);
            let written = write_all(&mut export, &app, &mut out).await;
            if let Err(e) = written.and_then(|()| Ok(out.flush()?)) {
                remove_partial(&path);
                return Err(e);
            }
            eprintln!("wrote {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            write_all(&mut export, &app, &mut out).await?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The output file, which must not exist yet.
fn create_new(path: &Path) -> Result<std::fs::File, UserError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            UserError(format!(
                "--output {}: {e}; name a new file in a directory that exists",
                path.display()
            ))
        })
}

async fn write_all(export: &mut Export, app: &App, out: &mut impl Write) -> anyhow::Result<()> {
    while let Some(chunk) = export.next_chunk(app.store.as_ref()).await? {
        out.write_all(&chunk)?;
    }
    Ok(())
}

/// A file cut short by a failure is not left behind looking complete.
fn remove_partial(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        eprintln!("could not remove the partial file {}: {e}", path.display());
    }
}
