//! With `--org`: the organization exists and is active, its three groups exist at the
//! identity provider, it has an admin; then the person of `--user` (see `person.rs`).

use super::database::Db;
use super::identity::Idp;
use super::{Check, Scope};
use crate::config::{Config, IdentityMode};
use loyalty_core::service::org_checks::{group_checks, org_checks};

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
