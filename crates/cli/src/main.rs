//! `loyalty`: the multi-tenant loyalty-points service and its operations commands.
//! Exit codes: 0 success, 2 bad input (the message names the field and the fix),
//! 1 any other failure.
// Output goes through `out!`/`outln!`, which stop quietly when the reader went away.
#![deny(clippy::print_stdout)]

// First, so that its `out!` and `outln!` macros are in scope in every module below.
#[macro_use]
mod output;
mod app;
mod commands;
mod progress;

// The operations the commands drive live in `loyalty-ops`; named here so that commands
// write `crate::config`, `crate::backup` ... as before.
use loyalty_ops::{backup, config, doctor, handoff, housekeeping, integrity, mail, webhooks};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Loyalty points for many shops on one installation.
///
/// With no configuration, `loyalty` keeps its data in SQLite at ./data/loyalty.db and its
/// own accounts (built-in identity). Set DATABASE_URL=postgres://... (or the runbook's
/// DATABASE_HOST and DATABASE_NAME) for PostgreSQL.
#[derive(Debug, Parser)]
#[command(
    name = "loyalty",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// TOML configuration file; environment variables override it.
    #[arg(long, global = true, env = "LOYALTY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (pages, API, /health, /ready, /metrics).
    Serve(commands::serve::Args),
    /// Apply pending database migrations, or show their status.
    Migrate(commands::migrate::Args),
    /// Onboard a client organization: org, groups, first admin, sign-in link.
    Onboard(Box<commands::onboard::Args>),
    /// List, show, suspend and reactivate organizations.
    #[command(subcommand)]
    Org(commands::org::Command),
    /// Set up loyalty's OpenID application in Authentik; check the connection.
    #[command(subcommand)]
    Authentik(commands::authentik::Command),
    /// Expire points; verify the ledger.
    #[command(subcommand)]
    Points(commands::points::Command),
    /// Import a shop's existing customers from a CSV file; print the template.
    #[command(subcommand)]
    Import(commands::import::Command),
    /// Export an organization's ledger, balances, purchases or summary (CSV or XLSX).
    Export(commands::export::Args),
    /// Manage people at the identity provider.
    #[command(subcommand)]
    User(commands::user::Command),
    /// Add, list and remove the installation's operators; issue them sign-in links.
    #[command(subcommand)]
    Operator(commands::operator::Command),
    /// Write an organization's system guide for the client (HTML and PDF).
    Handoff(Box<commands::handoff::Args>),
    /// Check SMTP, read and drive the mail outbox, change organizations' mail settings.
    #[command(subcommand)]
    Mail(commands::mail::Command),
    /// Read webhook endpoints and deliveries, send a test event, resend a delivery.
    #[command(subcommand)]
    Webhooks(commands::webhooks::Command),
    /// Remove rows past their retention (idempotency records, expired sessions, old mail ...).
    Housekeeping(commands::housekeeping::Args),
    /// Measure throughput and latency under load; check the ledger afterwards.
    Bench(Box<commands::bench::Args>),
    // Its help, short and long, is the doc comment of `commands::doctor::Args`.
    Doctor(commands::doctor::Args),
    /// Back up and restore the databases (loyalty's and the identity provider's).
    #[command(subcommand)]
    Backup(commands::backup::Command),
    // Its help, short and long, is the doc comment of `commands::move_backend::Args`.
    Move(commands::move_backend::Args),
    /// Show the effective configuration, secrets redacted.
    Config,
}

/// An error the person running the command can fix by changing the input.
pub use loyalty_ops::UserError;

fn exit_code(e: &anyhow::Error) -> u8 {
    let user = e.downcast_ref::<UserError>().is_some()
        || e.downcast_ref::<loyalty_core::Error>()
            .is_some_and(loyalty_core::Error::is_user_error);
    if user { 2 } else { 1 }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rustls needs its crypto provider before any HTTPS client is built.
    loyalty_identity::authentik::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let loaded = config::Config::load(cli.config.as_deref());
        let config = match cli.command {
            // The doctor reports a configuration that does not load as one of its checks.
            Command::Doctor(args) => {
                let log = loaded.as_ref().map(|c| &c.log);
                app::init_logging(log.unwrap_or(&config::LogConfig::default()), false);
                return commands::doctor::run(loaded.map_err(|e| format!("{e:#}")), args).await;
            }
            _ => loaded.map_err(|e| anyhow::Error::new(UserError(e.to_string())))?,
        };
        app::init_logging(&config.log, matches!(cli.command, Command::Serve(_)));
        match cli.command {
            Command::Serve(args) => commands::serve::run(config, args).await,
            Command::Migrate(args) => commands::migrate::run(config, args).await,
            Command::Onboard(args) => commands::onboard::run(config, *args).await,
            Command::Org(cmd) => commands::org::run(config, cmd).await,
            Command::User(cmd) => commands::user::run(config, cmd).await,
            Command::Operator(cmd) => commands::operator::run(config, cmd).await,
            Command::Export(args) => commands::export::run(config, args).await,
            Command::Import(cmd) => commands::import::run(config, cmd).await,
            Command::Points(cmd) => commands::points::run(config, cmd).await,
            Command::Authentik(cmd) => commands::authentik::run(config, cmd).await,
            Command::Handoff(args) => commands::handoff::run(config, *args).await,
            Command::Mail(cmd) => commands::mail::run(config, cmd).await,
            Command::Webhooks(cmd) => commands::webhooks::run(config, cmd).await,
            Command::Housekeeping(args) => commands::housekeeping::run(config, args).await,
            Command::Bench(args) => commands::bench::run(config, *args).await,
            // Handled above, before the configuration is required.
            Command::Doctor(_) => Ok(()),
            Command::Backup(cmd) => commands::backup::run(config, cmd).await,
            Command::Move(args) => commands::move_backend::run(config, args).await,
            Command::Config => {
                out!("{}", config.redacted_toml());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
