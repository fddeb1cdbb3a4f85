//! `loyalty doctor`'s checks: the runbook's troubleshooting list made automatic. Each
//! check is a small function that returns a [`Check`] (name, status, what it found and,
//! when something is wrong, one concrete sentence saying how to fix it). Checks only
//! read; the one exception is SQLite's lock file, which taking the lock creates when it
//! is missing (as `serve` would).

mod database;
mod identity;
mod integrity;
mod org;
mod person;
mod system;

use system::{backups, clock};

use secrecy::ExposeSecret;

use crate::config::Config;
use serde::Serialize;

pub use loyalty_core::service::org_checks::{Check, Status};

/// What to examine beyond the installation itself.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// An organization's slug.
    pub org: Option<String>,
    /// A person of that organization: email or username.
    pub user: Option<String>,
}

/// Counts of each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed.
    pub ok: usize,
    /// Warnings.
    pub warn: usize,
    /// Failures.
    pub fail: usize,
    /// Not checked.
    pub skip: usize,
}

impl Counts {
    /// Counts `checks`.
    pub fn of(checks: &[Check]) -> Self {
        let mut c = Counts::default();
        for check in checks {
            match check.status {
                Status::Ok => c.ok += 1,
                Status::Warn => c.warn += 1,
                Status::Fail => c.fail += 1,
                Status::Skip => c.skip += 1,
            }
        }
        c
    }

    /// `14 checks: 12 OK, 1 WARN, 1 FAIL, 0 SKIP`.
    pub fn summary(&self) -> String {
        format!(
            "{} checks: {} OK, {} WARN, {} FAIL, {} SKIP",
            self.ok + self.warn + self.fail + self.skip,
            self.ok,
            self.warn,
            self.fail,
            self.skip
        )
    }
}

/// The doctor's JSON document: stable field names (`ok`, `counts`, `checks`) for scripts.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// No check failed.
    pub ok: bool,
    /// How many checks ended in each status.
    pub counts: Counts,
    /// Every check, in the order made.
    pub checks: &'a [Check],
}

impl<'a> Report<'a> {
    /// The report of `checks`, counted as `counts`.
    pub fn new(checks: &'a [Check], counts: Counts) -> Self {
        Self {
            ok: counts.fail == 0,
            counts,
            checks,
        }
    }
}

/// Runs every check that applies, in order: configuration, database, the ledger's
/// signing key and checkpoints, identity provider, organization and person (when
/// asked), mail, clock, backups and their leftovers.
pub async fn examine(config: Result<&Config, String>, scope: &Scope) -> Vec<Check> {
    let mut checks = Vec::new();
    let config = match config {
        Ok(c) => {
            checks.push(Check::ok(
                "config.loads",
                "configuration loads",
                format!(
                    "database {}, identity provider {}",
                    c.database.display_url(),
                    identity::mode_name(c)
                ),
            ));
            c
        }
        Err(e) => {
            checks.push(Check::fail(
                "config.loads",
                "configuration loads",
                e,
                "correct the file named by --config / LOYALTY_CONFIG or the LOYALTY_* variable the message names (`loyalty config` shows the result once it loads)",
            ));
            checks.push(Check::skip(
                "checks.rest",
                "other checks",
                "the configuration did not load",
            ));
            return checks;
        }
    };

    let db = database::examine(config, &mut checks).await;
    checks.push(integrity::signing_key(&config.integrity));
    match db.as_ref().filter(|d| d.current) {
        Some(d) => checks.push(
            integrity::recent_checkpoint(
                d.store.as_ref(),
                &config.integrity,
                time::OffsetDateTime::now_utc(),
            )
            .await,
        ),
        None => checks.push(Check::skip(
            "integrity.checkpoint",
            "recent ledger checkpoint",
            "the database cannot be read",
        )),
    }
    let idp = identity::examine(config, db.as_ref(), &mut checks).await;
    org::examine(config, db.as_ref(), idp.as_ref(), scope, &mut checks).await;
    checks.push(system::smtp_configured(&config.mail).await);
    checks.push(clock(db.as_ref().and_then(|d| d.info.now), idp.as_ref()).await);
    let backup_dir = std::path::Path::new(&config.backup.dir);
    checks.push(system::backup_dir_writable(backup_dir));
    checks.push(backups(backup_dir, time::OffsetDateTime::now_utc()));
    let db = config
        .database
        .resolved_url()
        .ok()
        .and_then(|u| crate::backup::sqlite::sqlite_file(u.expose_secret()));
    checks.push(system::leftovers(backup_dir, db.as_deref()));
    checks
}

/// The checks that show a newly onboarded organization works (runbook step 6): the
/// identity provider (with Authentik: reachable, token, OpenID discovery and issuer, the
/// provider's redirect URI), the organization (active, its groups, an admin) and its
/// admin `admin` (at the provider, active, in the admins group, membership row, role,
/// password). `store` is the database onboarding just wrote to.
pub async fn onboarded(
    config: &Config,
    store: std::sync::Arc<dyn loyalty_core::store::Store>,
    slug: &str,
    admin: &str,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let info = match store.server_info().await {
        Ok(info) => info,
        Err(e) => {
            checks.push(Check::fail(
                "database.reachable",
                "database reachable",
                e.to_string(),
                "run `loyalty doctor` for the database checks",
            ));
            return checks;
        }
    };
    let db = database::Db {
        store,
        info,
        current: true,
    };
    let idp = identity::examine(config, Some(&db), &mut checks).await;
    let scope = Scope {
        org: Some(slug.to_owned()),
        user: Some(admin.to_owned()),
    };
    org::examine(config, Some(&db), idp.as_ref(), &scope, &mut checks).await;
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_prints_its_fix_on_an_indented_line() {
        let c = Check::fail(
            "x",
            "organization exists",
            "no organization nextdoor",
            "run it",
        );
        assert_eq!(
            c.render(),
            "FAIL organization exists (no organization nextdoor)\n     fix: run it"
        );
        assert_eq!(Check::ok("x", "a", "").render(), "OK   a");
    }

    #[test]
    fn counts_add_up_in_the_summary() {
        let checks = [
            Check::ok("a", "a", ""),
            Check::warn("b", "b", "", "f"),
            Check::fail("c", "c", "", "f"),
            Check::skip("d", "d", ""),
            Check::ok("e", "e", ""),
        ];
        assert_eq!(
            Counts::of(&checks).summary(),
            "5 checks: 2 OK, 1 WARN, 1 FAIL, 1 SKIP"
        );
    }
}
