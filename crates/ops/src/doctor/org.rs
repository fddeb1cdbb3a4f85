//! With `--org`: the organization exists and is active, its three groups exist at the
//! identity provider, it has an admin; then the person of `--user` (see `person.rs`).

use super::database::Db;
use super::identity::Idp;
use super::{Check, Scope};
use crate::config::{Config, IdentityMode};
use loyalty_core::directory::{DirUser, Directory};
use loyalty_core::domain::{GroupName, OrgSlug, OrgStatus, Organization, Role};
use loyalty_core::store::Store;

/// Runs the organization's and the person's checks, when asked for.
pub async fn examine(
    config: &Config,
    db: Option<&Db>,
    idp: Option<&Idp>,
    scope: &Scope,
    checks: &mut Vec<Check>,
) {
    let Some(slug) = &scope.org else { return };
    let store = db.filter(|d| d.current).map(|d| d.store.as_ref());
    let Some(store) = store else {
        checks.push(Check::skip(
            "org.exists",
            format!("organization {slug} exists"),
            "the database cannot be read",
        ));
        return;
    };
    let Some(org) = org_checks(store, slug, checks).await else {
        return;
    };
    let dir = idp.and_then(|i| i.directory.as_deref());
    let Some(dir) = dir else {
        checks.push(Check::skip(
            "org.groups",
            format!("groups of {slug} exist"),
            "the identity provider cannot be asked (see above)",
        ));
        return;
    };
    group_checks(store, dir, &org, checks).await;
    if let Some(who) = &scope.user {
        let mode = idp.map_or(IdentityMode::Builtin, |i| i.mode);
        super::person::user_checks(config, store, dir, mode, &org, who, checks).await;
    }
}

/// Exists and is active; the organization when it exists.
async fn org_checks(
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
async fn group_checks(
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
