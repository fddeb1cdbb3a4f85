//! Organization lifecycle: look up, list, suspend, reactivate; the organizations a
//! person's memberships name.

use crate::Error;
use crate::domain::ledger::Actor;
use crate::domain::{Membership, OrgSlug, OrgStatus, Organization, OrganizationSummary};
use crate::error::ErrorCode;
use crate::store::{ConsoleFilter, ConsolePage, ConsoleWindows, Store};
use time::OffsetDateTime;

/// Parses a slug given by a person and finds its organization.
pub async fn get(store: &dyn Store, slug: &str) -> Result<Organization, Error> {
    let slug = OrgSlug::parse(slug).map_err(|e| Error::Validation(vec![e]))?;
    store
        .organization_by_slug(&slug)
        .await?
        .ok_or_else(|| Error::not_found(format!("organization {:?}", slug.as_str())))
}

/// The organizations a person's memberships name (by group prefix), by slug: what
/// their start page offers.
pub async fn of_memberships(
    store: &dyn Store,
    memberships: &[Membership],
) -> Result<Vec<Organization>, Error> {
    let prefixes: Vec<String> = memberships.iter().map(|m| m.prefix.clone()).collect();
    Ok(store.organizations_by_group_prefix(&prefixes).await?)
}

/// Every organization with its member counts.
pub async fn list(store: &dyn Store) -> Result<Vec<OrganizationSummary>, Error> {
    Ok(store.list_organizations().await?)
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusChange {
    /// The organization after the call.
    pub org: Organization,
    /// Whether the status changed (false when it already was the target).
    pub changed: bool,
}

/// Suspends an active organization, with an `org.suspend` audit record of `actor`.
/// Suspending a suspended one changes nothing.
pub async fn suspend(
    store: &dyn Store,
    slug: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<StatusChange, Error> {
    transition(store, slug, OrgStatus::Suspended, actor, now).await
}

/// Reactivates a suspended organization, with an `org.reactivate` audit record of
/// `actor`. Activating an active one changes nothing.
pub async fn activate(
    store: &dyn Store,
    slug: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<StatusChange, Error> {
    transition(store, slug, OrgStatus::Active, actor, now).await
}

async fn transition(
    store: &dyn Store,
    slug: &str,
    to: OrgStatus,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<StatusChange, Error> {
    let before = get(store, slug).await?;
    if before.status == OrgStatus::Onboarding {
        return Err(Error::Conflict(
            ErrorCode::OrgOnboarding,
            format!(
                "organization {} has not finished onboarding; re-run `loyalty onboard --slug {}` to complete it",
                before.slug, before.slug
            ),
        ));
    }
    let from = match to {
        OrgStatus::Suspended => [OrgStatus::Active],
        _ => [OrgStatus::Suspended],
    };
    let slug = before.slug.clone();
    let after = store
        .set_organization_status(&slug, &from, to, actor, now)
        .await?
        .ok_or_else(|| Error::not_found(format!("organization {:?}", slug.as_str())))?;
    Ok(StatusChange {
        changed: after.status != before.status,
        org: after,
    })
}

/// The time windows of the console's figures at `now`: the last 24 hours and the last
/// 30 days. Shops live in many time zones: a window that counts back from now is the
/// same length for every shop, so the column compares, and no shop's "day" is cut at
/// another zone's midnight.
pub fn console_windows(now: OffsetDateTime) -> ConsoleWindows {
    ConsoleWindows {
        today: now - time::Duration::hours(24),
        days_30: now - time::Duration::days(30),
    }
}

/// One page of the operator console: the shops the filter keeps, in its order, each
/// with its figures (awards today and in 30 days, last activity, checklist progress,
/// latest checks), read in one store query.
pub async fn console(
    store: &dyn Store,
    now: OffsetDateTime,
    filter: &ConsoleFilter,
) -> Result<ConsolePage, Error> {
    Ok(store.console_page(filter, console_windows(now)).await?)
}

/// How many items the post-handoff checklist has (the console's "n of N").
pub fn checklist_items() -> i64 {
    crate::service::checklist::ITEMS.len() as i64
}
