//! The checks of one organization that `loyalty doctor --org` makes and the operator
//! console runs on demand: the organization exists and is active, its three groups exist
//! at the identity provider, it has an active admin. [`Check`] is the result type of
//! every doctor check. A run from the console is kept with its time
//! ([`run_and_keep`]), and the console lists the latest run of each shop.

use crate::Error;
use crate::directory::{DirUser, Directory};
use crate::domain::ledger::Actor;
use crate::domain::{GroupName, OrgSlug, OrgStatus, Organization, Role};
use crate::store::{OrgCheckRun, Store};
use serde::Serialize;
use time::OffsetDateTime;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Works.
    #[serde(rename = "OK")]
    Ok,
    /// Works for now, but needs attention.
    #[serde(rename = "WARN")]
    Warn,
    /// Broken: something people rely on does not work.
    #[serde(rename = "FAIL")]
    Fail,
    /// Not looked at (not configured, or an earlier check failed).
    #[serde(rename = "SKIP")]
    Skip,
}

impl Status {
    /// `OK`, `WARN`, `FAIL` or `SKIP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One check's result. The JSON field names are stable: `id`, `name`, `status`,
/// `detail`, `fix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier for scripts, such as `database.reachable`.
    pub id: &'static str,
    /// What was checked, for people (`database reachable`).
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it (FAIL and WARN only).
    pub fix: Option<String>,
}

impl Check {
    /// A check that passed.
    pub fn ok(id: &'static str, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(id, name, Status::Ok, detail, None)
    }

    /// A check that failed, with its fix.
    pub fn fail(
        id: &'static str,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(id, name, Status::Fail, detail, Some(fix.into()))
    }

    /// A warning, with its fix.
    pub fn warn(
        id: &'static str,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::new(id, name, Status::Warn, detail, Some(fix.into()))
    }

    /// A check that was not made, and why.
    pub fn skip(id: &'static str, name: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(id, name, Status::Skip, why, None)
    }

    fn new(
        id: &'static str,
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            status,
            detail: detail.into(),
            fix,
        }
    }

    /// The check as people read it: `FAIL name (detail)` and an indented `fix:` line.
    pub fn render(&self) -> String {
        let mut out = format!("{:<4} {}", self.status.as_str(), self.name);
        if !self.detail.is_empty() {
            out.push_str(&format!(" ({})", self.detail));
        }
        if let Some(fix) = &self.fix {
            out.push_str(&format!("\n     fix: {fix}"));
        }
        out
    }
}

/// Exists and is active; the organization when it exists.
pub async fn org_checks(
    store: &dyn Store,
    slug: &str,
    checks: &mut Vec<Check>,
) -> Option<Organization> {
    let exists = format!("organization {slug} exists");
    let parsed = match OrgSlug::parse(slug) {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::fail(
                "org.exists",
                exists,
                e.to_string(),
                "`loyalty org list` shows the slugs",
            ));
            return None;
        }
    };
    let org = match store.organization_by_slug(&parsed).await {
        Ok(Some(org)) => org,
        Ok(None) => {
            checks.push(Check::fail(
                "org.exists",
                exists,
                format!("no organization with slug {slug}"),
                format!(
                    "`loyalty org list` shows the slugs; to create it: loyalty onboard --slug {slug} --name NAME --admin-email EMAIL --admin-name NAME"
                ),
            ));
            return None;
        }
        Err(e) => {
            checks.push(Check::fail(
                "org.exists",
                exists,
                e.to_string(),
                "check the database (see the checks above)",
            ));
            return None;
        }
    };
    checks.push(Check::ok("org.exists", exists, org.name.clone()));
    let active = format!("organization {slug} is active");
    checks.push(match org.status {
        OrgStatus::Active => Check::ok("org.active", active, ""),
        OrgStatus::Onboarding => Check::fail(
            "org.active",
            active,
            "still onboarding: the onboarding did not finish",
            format!(
                "run the same `loyalty onboard ... --slug {slug}` again: it finds what exists and finishes the remaining steps"
            ),
        ),
        OrgStatus::Suspended => Check::fail(
            "org.active",
            active,
            "suspended: nobody can sign in to it or record points",
            format!("`loyalty org activate {slug}` when the suspension is over"),
        ),
    });
    Some(org)
}

/// The three groups exist; the admins group has an active member.
pub async fn group_checks(
    store: &dyn Store,
    dir: &dyn Directory,
    org: &Organization,
    checks: &mut Vec<Check>,
) {
    let slug = &org.slug;
    let names: Vec<String> = Role::ALL
        .iter()
        .map(|r| GroupName::new(&org.group_prefix, *r).name())
        .collect();
    let name = format!("groups {} exist", names.join(", "));
    let mut missing = Vec::new();
    let mut admins_group = None;
    for (role, group) in Role::ALL.iter().zip(&names) {
        match dir.find_group(group).await {
            Ok(Some(g)) => {
                if *role == Role::Admin {
                    admins_group = Some(g);
                }
            }
            Ok(None) => missing.push(group.clone()),
            Err(e) => {
                checks.push(Check::fail(
                    "org.groups",
                    name,
                    e.to_string(),
                    "see the identity provider checks above",
                ));
                return;
            }
        }
    }
    checks.push(if missing.is_empty() {
        Check::ok("org.groups", name, dir.provider())
    } else {
        Check::fail(
            "org.groups",
            name,
            format!("missing at the {} identity provider: {}", dir.provider(), missing.join(", ")),
            format!(
                "run `loyalty onboard` for {slug} again (same flags): it finds or creates the groups"
            ),
        )
    });

    let name = format!("{slug} has an admin");
    let fix = format!(
        "run `loyalty onboard` for {slug} again to restore its first admin ({}_admin), or have an operator create an admin in the admin panel (Users > Create admin)",
        org.group_prefix.replace('-', "_")
    );
    let Some(group) = admins_group else {
        checks.push(Check::skip(
            "org.admin",
            name,
            format!(
                "{} is missing",
                GroupName::new(&org.group_prefix, Role::Admin)
            ),
        ));
        return;
    };
    let members = match dir.list_members(&group).await {
        Ok(m) => m,
        Err(e) => {
            checks.push(Check::fail(
                "org.admin",
                name,
                e.to_string(),
                "see the identity provider checks above",
            ));
            return;
        }
    };
    let rows = store
        .list_members(org.id, Some(Role::Admin))
        .await
        .unwrap_or_default();
    let admins: Vec<&DirUser> = members
        .iter()
        .filter(|u| {
            u.is_active
                && rows.iter().any(|r| {
                    r.identity_subject.as_deref() == Some(u.uid.as_str()) && r.status == "active"
                })
        })
        .collect();
    checks.push(match admins.first() {
        Some(_) => Check::ok(
            "org.admin",
            name,
            admins
                .iter()
                .map(|u| u.username.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        None if members.iter().any(|u| u.is_active) => Check::warn(
            "org.admin",
            name,
            format!(
                "{} has active members, but none has an active admin membership row in {slug}",
                group.name
            ),
            format!(
                "`loyalty doctor --org {slug} --user NAME` for one of {} says what is missing",
                members
                    .iter()
                    .filter(|u| u.is_active)
                    .map(|u| u.username.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        None => {
            let inactive: Vec<&str> = members
                .iter()
                .filter(|u| !u.is_active)
                .map(|u| u.username.as_str())
                .collect();
            let fix = if inactive.is_empty() {
                fix
            } else {
                format!(
                    "reactivate one of {} (`loyalty doctor --org {slug} --user NAME` says how), or: {fix}",
                    inactive.join(", ")
                )
            };
            Check::fail(
                "org.admin",
                name,
                format!("{} has no active member", group.name),
                fix,
            )
        }
    });
}

/// The checks `loyalty doctor --org` makes about one organization (without a person),
/// in order; `dir` is `None` when the identity provider cannot be asked.
pub async fn examine(store: &dyn Store, dir: Option<&dyn Directory>, slug: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let Some(org) = org_checks(store, slug, &mut checks).await else {
        return checks;
    };
    match dir {
        Some(dir) => group_checks(store, dir, &org, &mut checks).await,
        None => checks.push(Check::skip(
            "org.groups",
            format!("groups of {slug} exist"),
            "the identity provider cannot be asked",
        )),
    }
    checks
}

/// Runs an organization's checks for an operator and keeps the result with its time
/// (the console shows the latest run of each shop).
pub async fn run_and_keep(
    store: &dyn Store,
    dir: &dyn Directory,
    org: &Organization,
    by: &Actor,
    now: OffsetDateTime,
) -> Result<OrgCheckRun, Error> {
    let checks = examine(store, Some(dir), org.slug.as_str()).await;
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count() as i64;
    let (ok, warn, fail) = (count(Status::Ok), count(Status::Warn), count(Status::Fail));
    let worst = if fail > 0 {
        "fail"
    } else if warn > 0 {
        "warn"
    } else {
        "ok"
    };
    let run = OrgCheckRun {
        id: crate::store::new_id(),
        ran_at: now,
        ran_by: by.label.clone(),
        worst: worst.into(),
        ok,
        warn,
        fail,
        results: serde_json::to_value(&checks).unwrap_or_default(),
    };
    store.record_org_checks(org.id, &run).await?;
    Ok(run)
}

/// The latest kept run of an organization's checks.
pub async fn latest(store: &dyn Store, org: &Organization) -> Result<Option<OrgCheckRun>, Error> {
    Ok(store.latest_org_checks(org.id).await?)
}
