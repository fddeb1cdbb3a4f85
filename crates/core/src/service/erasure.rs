//! Erasure of a customer (LGPD Art. 18, GDPR Art. 17): anonymised, not deleted. The
//! store clears the personal columns (the name becomes a pseudonym), ends sessions,
//! one-time links and mail, takes personal values out of the audit log and writes a
//! line in the erasure log and an audit record with no personal data, in one
//! transaction; the ledger and purchases stay for the totals and fiscal records. With
//! Authentik the person's directory user is then deleted, unless they are a member
//! of another organization. Asked for by an admin (with a confirmation) or by the
//! customer. What is kept and why: `docs/privacy.md`.
//!
//! The erasure log is a table, so a restore of a set taken before an erasure finds it in
//! the database it replaces. When that database is lost, the journal beside the backups
//! ([`JOURNAL_FILE`] in `backup.dir`, one JSON line per erasure, ids and times only) is
//! the copy a restore reads instead.

use crate::Error;
use crate::directory::Directory;
use crate::domain::CustomerId;
use crate::domain::ledger::{Customer, CustomerKey, PointsError};
use crate::service::context::{ADMIN, Ctx};
use crate::service::customers;
use crate::store::{Erased, Erasure as LogLine, customer_erased_audit, erased_name};
use std::io::Write;
use std::path::Path;

/// The journal of erasures kept in the backup folder, outside the database.
pub const JOURNAL_FILE: &str = "erasure-journal.jsonl";

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
    /// Whether a directory user (Authentik) was deleted.
    pub directory_user_ended: bool,
    /// Whether the line went into the journal beside the backups (false without one,
    /// or when it could not be written: the erasure itself is done either way).
    pub journaled: bool,
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
    journal: Option<&Path>,
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
    erase(ctx, dir, journal, customer).await
}

/// Erases the caller's own customer record (a signed-in customer), after `confirm`.
pub async fn erase_own(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    journal: Option<&Path>,
    subject: Option<&str>,
    confirm: &str,
) -> Result<Erasure, Error> {
    let me = customers::own(ctx, subject).await?;
    check_confirmation(confirm)?;
    erase(ctx, dir, journal, me).await
}

async fn erase(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    journal: Option<&Path>,
    c: Customer,
) -> Result<Erasure, Error> {
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
    let mut journaled = false;
    if let Some(path) = journal
        && let Some(line) = ctx.store.erasure(ctx.org.id, c.id).await?
    {
        match append_journal(path, &line) {
            Ok(()) => journaled = true,
            // The erasure is done; only a restore after losing the database would miss it.
            Err(e) => tracing::error!(
                customer = %c.id,
                journal = %path.display(),
                error = %e,
                "erased; the line could not be added to the erasure journal beside the backups"
            ),
        }
    }
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
                "erased; the directory user could not be deleted; delete it at the identity provider"
            ),
        }
    }
    Ok(Erasure {
        customer_id: c.id,
        pseudonym,
        erased,
        directory_user_ended,
        journaled,
    })
}

/// Appends one line to the journal (created 0600 when missing) and syncs it to disk.
pub fn append_journal(path: &Path, line: &LogLine) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let json = serde_json::to_string(line).map_err(std::io::Error::other)?;
    writeln!(file, "{json}")?;
    file.sync_all()
}

/// The journal's lines; a missing file is an empty journal. A line that cannot be read
/// (a write cut short by a crash) is skipped and counted.
pub fn read_journal(path: &Path) -> std::io::Result<(Vec<LogLine>, usize)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut lines = Vec::new();
    let mut unreadable = 0;
    for raw in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(raw) {
            Ok(line) => lines.push(line),
            Err(_) => unreadable += 1,
        }
    }
    Ok((lines, unreadable))
}

async fn end_directory_user(
    dir: &dyn Directory,
    subject: &str,
    email: &str,
) -> Result<bool, Error> {
    let email = crate::domain::Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
    for user in dir.find_users_by_email(&email).await? {
        if user.uid == subject {
            dir.delete_user(user.pk).await?;
            return Ok(true);
        }
    }
    Ok(false)
}
