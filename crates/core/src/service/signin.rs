//! Sign-in of a subject of the identity provider: the member rows its groups call for
//! (made just in time, one per organization the groups name) and its session.

use crate::Error;
use crate::domain::resolve_memberships;
use crate::store::{ExternalSubject, NewMember, Store, StoreError};
use time::OffsetDateTime;

/// What a sign-in did besides opening the session.
#[derive(Debug, Default)]
pub struct SignIn {
    /// Organizations (by slug) whose member row could not be written; the session is
    /// opened anyway, since the person's roles come from their groups.
    pub failed_memberships: Vec<(String, StoreError)>,
    /// Set when the organizations the groups name could not be read (no member rows
    /// were written).
    pub failed_lookup: Option<StoreError>,
}

/// Writes the member rows of `subject` in every organization whose group prefix its
/// groups name (with the most powerful role named there), then opens its session.
/// Only the session's failure is an error.
pub async fn sign_in_subject(
    store: &dyn Store,
    subject: &ExternalSubject,
    token_hash: &str,
    csrf_token: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<SignIn, Error> {
    let mut report = SignIn::default();
    let memberships = resolve_memberships(&subject.groups);
    if !memberships.is_empty() {
        let prefixes: Vec<String> = memberships.iter().map(|m| m.prefix.clone()).collect();
        match store.organizations_by_group_prefix(&prefixes).await {
            Ok(orgs) => {
                for org in orgs {
                    let Some(role) = memberships
                        .iter()
                        .filter(|m| m.prefix == org.group_prefix)
                        .map(|m| m.role)
                        .min()
                    else {
                        continue;
                    };
                    let member = NewMember {
                        identity_subject: subject.subject.clone(),
                        role,
                        email: subject.email.clone(),
                        name: Some(subject.name.clone()),
                        created_by: None,
                    };
                    if let Err(e) = store.upsert_member(org.id, &member, now).await {
                        report.failed_memberships.push((org.slug.to_string(), e));
                    }
                }
            }
            Err(e) => report.failed_lookup = Some(e),
        }
    }
    store
        .insert_external_session(token_hash, subject, csrf_token, now, expires_at)
        .await?;
    Ok(report)
}

/// Ends the session whose token hashes to `token_hash` (signing out). Ending one that is
/// already gone is not an error.
pub async fn sign_out(store: &dyn Store, token_hash: &str) -> Result<(), Error> {
    Ok(store.delete_session(token_hash).await?)
}
