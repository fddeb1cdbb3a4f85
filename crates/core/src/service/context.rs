//! Who is acting, in which organization, with which role ([`Ctx`]), and the one check
//! every use case makes with it before touching anything.

use crate::Error;
use crate::clock::Clock;
use crate::domain::ledger::Actor;
use crate::domain::{OrgStatus, Organization, Role};
use crate::store::Store;

/// Who is acting, in which organization, with which role.
pub struct Ctx<'a> {
    /// Storage.
    pub store: &'a dyn Store,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// The organization (must be active).
    pub org: &'a Organization,
    /// The actor.
    pub actor: Actor,
    /// The actor's role in the organization.
    pub role: Role,
}

impl Ctx<'_> {
    /// Refuses unless the organization is active and the role is one of `allowed`;
    /// `what` completes the sentence "a cashier cannot ...".
    pub(crate) fn require(&self, allowed: &[Role], what: &str) -> Result<(), Error> {
        if self.org.status != OrgStatus::Active {
            return Err(Error::OrgSuspended(self.org.slug.clone()));
        }
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("a {} cannot {what}", self.role)))
        }
    }
}

/// Cashiers and admins.
pub(crate) const STAFF: &[Role] = &[Role::Admin, Role::Cashier];
/// Admins only.
pub(crate) const ADMIN: &[Role] = &[Role::Admin];

/// Checks that the caller is an admin of an active organization.
pub(crate) fn require_admin(ctx: &Ctx<'_>, what: &str) -> Result<(), Error> {
    if ctx.org.status != OrgStatus::Active {
        return Err(Error::OrgSuspended(ctx.org.slug.clone()));
    }
    if ctx.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("a {} cannot {what}", ctx.role)))
    }
}
