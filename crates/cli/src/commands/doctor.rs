//! `loyalty doctor`: checks the installation, and optionally one organization and one
//! person, and says how to fix what is broken.

use crate::UserError;
use crate::config::Config;
use crate::doctor::{Counts, Report, Scope, examine};
use loyalty_core::domain::{Email, OrgSlug, Username};
use std::io::Write;

/// Check the installation and say how to fix what is broken.
///
/// Checks, in order: the configuration loads; the database is reachable and migrated
/// (SQLite: the file is writable, the writer lock free or held by a running server);
/// the ledger invariants hold; the identity provider (an operator exists;
/// Authentik: reachable, API token valid and privileged, OpenID discovery and issuer,
/// redirect URI registered, client configured); the mail server greets when SMTP_HOST is
/// set; the clock agrees with the database's (or Authentik's) within 60 s; a backup set
/// younger than 26 h exists.
///
/// With --org: the organization exists and is active, its three groups exist, it has an
/// admin. With --user as well: that person exists, is active, is in one of the
/// organization's groups, has a membership row with the matching role, and can sign in.
///
/// Prints one line per check (OK, WARN, FAIL, SKIP), each FAIL and WARN followed by its
/// fix. Exit status: 0 when nothing FAILs, 1 when something does, 2 for bad flags.
///
/// Examples:
///   loyalty doctor
///   loyalty doctor --org nextdoor --user jane.smith@nextdoormarket.com
///   loyalty doctor --json | jq '.checks[] | select(.status == "FAIL")'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Also check this organization (its slug, such as nextdoor).
    #[arg(long, value_name = "SLUG")]
    org: Option<String>,
    /// Also check this person of the organization: email or username (needs --org).
    #[arg(long, value_name = "EMAIL", requires = "org")]
    user: Option<String>,
    /// Print JSON for scripts: {"ok", "counts": {"ok","warn","fail","skip"},
    /// "checks": [{"id","name","status","detail","fix"}]}.
    #[arg(long)]
    json: bool,
}

/// Checks the flags before anything is looked at (bad flags exit 2).
fn scope(args: &Args) -> Result<Scope, UserError> {
    if let Some(org) = &args.org {
        OrgSlug::parse(org).map_err(|e| {
            UserError(format!(
                "--org {org:?}: {e}; give the slug, as `loyalty org list` shows it"
            ))
        })?;
    }
    if let Some(user) = &args.user {
        if args.org.is_none() {
            return Err(UserError(
                "--user needs --org: people are checked within one organization".into(),
            ));
        }
        let valid = if user.contains('@') {
            Email::parse(user).map(|_| ()).map_err(|e| e.to_string())
        } else {
            Username::parse(user).map(|_| ()).map_err(|e| e.to_string())
        };
        valid.map_err(|e| {
            UserError(format!(
                "--user {user:?}: {e}; give the person's email or username"
            ))
        })?;
    }
    Ok(Scope {
        org: args.org.clone(),
        user: args.user.clone(),
    })
}

/// Runs the command. `config` is the configuration, or why it did not load.
pub async fn run(config: Result<Config, String>, args: Args) -> anyhow::Result<()> {
    let scope = scope(&args)?;
    let checks = examine(config.as_ref().map_err(Clone::clone), &scope).await;
    let counts = Counts::of(&checks);
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&Report::new(&checks, counts))?
        )
    } else {
        let mut text = String::new();
        for check in &checks {
            text.push_str(&check.render());
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&counts.summary());
        text.push('\n');
        text
    };
    // A reader that stops early (`| head`) is not an error of the checks.
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    if counts.fail > 0 {
        anyhow::bail!(
            "{} check(s) failed; each FAIL above says how to fix it",
            counts.fail
        );
    }
    Ok(())
}
