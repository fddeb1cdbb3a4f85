//! Erasure of a customer (LGPD Art. 18, GDPR Art. 17): anonymised, not deleted. The
//! store clears the personal columns (the name becomes a pseudonym), ends sessions,
//! one-time links and mail, takes personal values out of the audit log and writes a
//! line in the erasure log and an audit record with no personal data, in one
//! transaction; the ledger and purchases stay for the totals and fiscal records. With
//! Authentik the person's directory user is then deactivated, unless they are a member
//! of another organization. Asked for by an admin (with a confirmation) or by the
//! customer. What is kept and why: `docs/privacy.md`.

use crate::Error;
use crate::directory::Directory;
use crate::domain::CustomerId;
use crate::domain::ledger::{Customer, CustomerKey, PointsError};
use crate::service::context::{ADMIN, Ctx};
use crate::service::customers;
use crate::store::{Erased, customer_erased_audit, erased_name};

/// The word a person types to confirm an erasure.
pub const CONFIRM_WORD: &str = "ERASE";

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The customer (the row stays, anonymised).
    pub customer_id: CustomerId,
    /// The name the row keeps.
    pub pseudonym: String,
    /// What the store ended.
    pub erased: Erased,
    /// Whether a directory user (Authentik) was deactivated.
    pub directory_user_ended: bool,
}

fn check_confirmation(confirm: &str) -> Result<(), Error> {
    if confirm.trim() == CONFIRM_WORD {
        Ok(())
    } else {
        Err(Error::field(
            "confirm",
            format!("type {CONFIRM_WORD} to confirm the erasure; it cannot be undone"),
        ))
    }
}

/// Erases a customer of the organization (admins), after `confirm` is [`CONFIRM_WORD`].
pub async fn erase_customer(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    id: CustomerId,
    confirm: &str,
) -> Result<Erasure, Error> {
    ctx.require(ADMIN, "erase a customer's data")?;
    check_confirmation(confirm)?;
    let customer = ctx
        .store
        .find_customer(ctx.org.id, &CustomerKey::Id(id))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))?;
    erase(ctx, dir, customer).await
}

/// Erases the caller's own customer record (a signed-in customer), after `confirm`.
pub async fn erase_own(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    subject: Option<&str>,
    confirm: &str,
) -> Result<Erasure, Error> {
    let me = customers::own(ctx, subject).await?;
    check_confirmation(confirm)?;
    erase(ctx, dir, me).await
}

async fn erase(ctx: &Ctx<'_>, dir: &dyn Directory, c: Customer) -> Result<Erasure, Error> {
    let pseudonym = erased_name(c.id);
    // A customer acting on themselves is named by the pseudonym, never their username.
    let mut actor = ctx.actor.clone();
    if ctx.role == crate::domain::Role::Customer {
        actor.label = pseudonym.clone();
    }
    let now = ctx.clock.now();
    let audit = customer_erased_audit(ctx.org.id, &actor, c.id, now);
    let erased = ctx
        .store
        .erase_customer(ctx.org.id, c.id, &audit, now)
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))?;
    let mut directory_user_ended = false;
    if dir.provider() == "authentik"
        && !erased.subject_in_use
        && let (Some(subject), Some(email)) = (&c.identity_subject, &c.email)
    {
        match end_directory_user(dir, subject, email).await {
            Ok(ended) => directory_user_ended = ended,
            // The data here is erased already; the operator finishes at the provider.
            Err(e) => tracing::warn!(
                customer = %c.id,
                error = %e,
                "erased; the directory user could not be deactivated; deactivate it at the identity provider"
            ),
        }
    }
    Ok(Erasure {
        customer_id: c.id,
        pseudonym,
        erased,
        directory_user_ended,
    })
}

async fn end_directory_user(
    dir: &dyn Directory,
    subject: &str,
    email: &str,
) -> Result<bool, Error> {
    let email = crate::domain::Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
    for user in dir.find_users_by_email(&email).await? {
        if user.uid == subject {
            dir.deactivate_user(user.pk).await?;
            return Ok(true);
        }
    }
    Ok(false)
}
