//! Reading the audit log: an organization's own records (its admins, and operators),
//! and the operator's view that adds the installation's records (such as restores).

use super::context::Ctx;
use crate::Error;
use crate::domain::ledger::AuditRecord;
use crate::domain::{Organization, Role};
use crate::store::Store;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who reads an audit log: their role in the organization (if any) and whether they
/// operate the installation.
pub struct Reader<'a> {
    /// Storage.
    pub store: &'a dyn Store,
    /// The organization whose log is read.
    pub org: &'a Organization,
    /// The reader's role there, `None` for an operator without one.
    pub role: Option<Role>,
    /// Whether the reader is an operator of the installation.
    pub operator: bool,
}

impl<'a> Reader<'a> {
    /// A member acting in their role.
    pub fn member(ctx: &'a Ctx<'a>) -> Self {
        Self {
            store: ctx.store,
            org: ctx.org,
            role: Some(ctx.role),
            operator: false,
        }
    }
}

/// Which records to read: newest first, before a cursor, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Before {
    /// The cursor `(created_at, id)` of the last record already read.
    pub cursor: Option<(OffsetDateTime, Uuid)>,
    /// How many records at most.
    pub limit: u32,
}

/// The organization's audit records, newest first: its admins and operators only.
pub async fn org_log(reader: &Reader<'_>, page: Before) -> Result<Vec<AuditRecord>, Error> {
    if reader.role != Some(Role::Admin) && !reader.operator {
        return Err(Error::Forbidden(
            "only admins and operators read the audit log".into(),
        ));
    }
    Ok(reader
        .store
        .audit_log(reader.org.id, page.cursor, page.limit)
        .await?)
}

/// The organization's records with the whole installation's (a restore rolls every
/// organization back): the operator's view, never shown to a tenant.
pub async fn installation_log(
    reader: &Reader<'_>,
    page: Before,
) -> Result<Vec<AuditRecord>, Error> {
    if !reader.operator {
        return Err(Error::Forbidden(
            "only operators read the installation's records".into(),
        ));
    }
    Ok(reader
        .store
        .operator_audit_log(reader.org.id, page.cursor, page.limit)
        .await?)
}

/// Writes an operator's read-only support visit to a page of the shop's admin panel
/// into the shop's audit log (its admins see who looked at what, and when). Called for
/// every page of such a visit, before the page is shown.
pub async fn record_support_visit(
    store: &dyn Store,
    access: &crate::access::Access,
    path: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    if !access.is_support() {
        return Ok(());
    }
    let mut actor = access.actor.clone();
    actor.role = "operator".into();
    let record = crate::store::support_visit_audit(access.org.id, &actor, path, now);
    Ok(store.append_audit(&record).await?)
}
