//! Self-service password reset ("Forgot your password?") for built-in accounts: finds
//! the account by username or email, counts the request per account and per client
//! address, and queues the reset mail through [`queue_password_reset_in`], the same path
//! as an admin's or operator's reset. Whatever happens, the caller answers the same, so
//! nobody learns whether an account exists.

use crate::Error;
use crate::clock::Clock;
use crate::directory::{DirUser, Directory};
use crate::domain::{Email, OrgStatus, Organization, Username, resolve_memberships};
use crate::secret;
use crate::service::mail::queue_password_reset_in;
use crate::store::Store;
use time::Duration;

/// Length of a counting window.
pub const WINDOW: Duration = Duration::hours(1);
/// Reset mails per account in a window; further requests queue nothing.
pub const MAX_PER_ACCOUNT: i64 = 3;
/// Reset requests per client address in a window; further requests queue nothing.
pub const MAX_PER_ADDRESS: i64 = 10;

/// A reset request as typed on the page.
#[derive(Debug, Clone, Copy)]
pub struct ResetRequest<'a> {
    /// Username or email address.
    pub login: &'a str,
    /// The client's address (for the per-address limit).
    pub client: &'a str,
    /// The language the person chose on the pages, if they did (BCP 47).
    pub chosen_language: Option<&'a str>,
    /// The browser's language, used when neither a choice nor the organization says.
    pub browser_language: &'a str,
    /// The organization the request's host is pinned to, if any.
    pub pinned_org: Option<&'a str>,
}

/// What a request did; for logs and tests only, never shown to the requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetOutcome {
    /// A reset mail was queued to this address.
    Queued(String),
    /// No account has this username or email.
    NoMatch,
    /// Several active accounts share this email; the person must give the username.
    Ambiguous,
    /// The account is inactive or has no email address.
    NotEligible,
    /// Over the per-account or per-address limit.
    Throttled,
}

/// What [`check_reset`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetDecision {
    /// Mail this account (see [`send_reset`]).
    Send(Box<DirUser>),
    /// Send nothing, for this reason.
    Skip(ResetOutcome),
}

/// Handles a self-service reset request from start to end: [`check_reset`], then
/// [`send_reset`] when it says so.
pub async fn request_password_reset(
    store: &dyn Store,
    clock: &dyn Clock,
    dir: &dyn Directory,
    req: &ResetRequest<'_>,
) -> Result<ResetOutcome, Error> {
    match check_reset(store, clock, dir, req).await? {
        ResetDecision::Send(user) => send_reset(store, clock, dir, &user, req).await,
        ResetDecision::Skip(outcome) => Ok(outcome),
    }
}

/// Finds the account and counts the request. Every request is counted against the
/// account (or, when none matches, against what was typed) and the address, so an
/// unknown name costs the same work here as a known one; the page can answer after this
/// and leave [`send_reset`] to run on its own.
pub async fn check_reset(
    store: &dyn Store,
    clock: &dyn Clock,
    dir: &dyn Directory,
    req: &ResetRequest<'_>,
) -> Result<ResetDecision, Error> {
    let login = req.login.trim();
    let matches = find_accounts(dir, login).await?;
    let active: Vec<&DirUser> = matches.iter().filter(|u| u.is_active).collect();
    let account_key = match active.as_slice() {
        [one] => format!("reset:account:{}", one.pk),
        _ => format!(
            "reset:unknown:{}",
            secret::hash_token(&login.to_lowercase())
        ),
    };
    let now = clock.now();
    let since = now - WINDOW;
    let per_account = store.record_login_failure(&account_key, since, now).await?;
    let per_address = store
        .record_login_failure(&format!("reset:addr:{}", req.client), since, now)
        .await?;
    let user = match (matches.is_empty(), active.as_slice()) {
        (true, _) => return Ok(ResetDecision::Skip(ResetOutcome::NoMatch)),
        (false, []) => return Ok(ResetDecision::Skip(ResetOutcome::NotEligible)),
        (false, [one]) => *one,
        (false, _) => return Ok(ResetDecision::Skip(ResetOutcome::Ambiguous)),
    };
    if per_account > MAX_PER_ACCOUNT || per_address > MAX_PER_ADDRESS {
        return Ok(ResetDecision::Skip(ResetOutcome::Throttled));
    }
    if user.email.is_none() {
        return Ok(ResetDecision::Skip(ResetOutcome::NotEligible));
    }
    Ok(ResetDecision::Send(Box::new(user.clone())))
}

/// Issues the link and queues the reset mail for an account [`check_reset`] chose, in
/// the person's chosen language, else their organization's, else their browser's.
pub async fn send_reset(
    store: &dyn Store,
    clock: &dyn Clock,
    dir: &dyn Directory,
    user: &DirUser,
    req: &ResetRequest<'_>,
) -> Result<ResetOutcome, Error> {
    let org = home_org(store, dir, user, req.pinned_org).await?;
    let language = req
        .chosen_language
        .or(org.as_ref().map(|o| o.language.as_str()))
        .unwrap_or(req.browser_language);
    let to = queue_password_reset_in(store, clock, dir, user, org.as_ref(), Some(language)).await?;
    Ok(ResetOutcome::Queued(to))
}

/// Accounts with this username, or with this email when it looks like one.
async fn find_accounts(dir: &dyn Directory, login: &str) -> Result<Vec<DirUser>, Error> {
    if login.contains('@') {
        if let Ok(email) = Email::parse(login) {
            let mut found = dir.find_users_by_email(&email).await?;
            // Customers who joined have their email as username, too.
            if found.is_empty()
                && let Ok(name) = Username::parse(login)
            {
                found.extend(dir.find_user_by_username(&name).await?);
            }
            return Ok(found);
        }
        return Ok(Vec::new());
    }
    match Username::parse(login) {
        Ok(name) => Ok(dir
            .find_user_by_username(&name)
            .await?
            .into_iter()
            .collect()),
        Err(_) => Ok(Vec::new()),
    }
}

/// The organization whose name, sender and language the mail carries: the pinned one
/// when the person belongs to it, else their only organization; none (the
/// installation's own sender) when they belong to several or none.
async fn home_org(
    store: &dyn Store,
    dir: &dyn Directory,
    user: &DirUser,
    pinned: Option<&str>,
) -> Result<Option<Organization>, Error> {
    let groups = dir.user_groups(user.pk).await?;
    let mut prefixes: Vec<String> = resolve_memberships(&groups)
        .into_iter()
        .map(|m| m.prefix)
        .collect();
    prefixes.dedup();
    if prefixes.is_empty() {
        return Ok(None);
    }
    let mut orgs: Vec<Organization> = store
        .organizations_by_group_prefix(&prefixes)
        .await?
        .into_iter()
        .filter(|o| o.status == OrgStatus::Active)
        .collect();
    if let Some(i) = pinned.and_then(|slug| orgs.iter().position(|o| o.slug.as_str() == slug)) {
        return Ok(Some(orgs.swap_remove(i)));
    }
    Ok(if orgs.len() == 1 { orgs.pop() } else { None })
}
