//! How long access may trust what the identity provider said about a person.
//!
//! [`CachedDirectory`] wraps a directory (Authentik's) and keeps each person's
//! [`Standing`] for at most its bound, so that `access::verify` asks the provider about
//! a signed-in person at most once per bound instead of on every request. Every change
//! loyalty makes to a user through it (a membership added or removed, the user
//! deactivated, a password set) drops that user's entry at once, so the next request
//! sees the change. Changes made elsewhere (in Authentik's admin pages, or by another
//! `loyalty` process) are seen within the bound. A failed look-up is never kept.

use super::{DirGroup, DirUser, Directory, DirectoryError, NewDirUser, SetPasswordLink, Standing};
use crate::clock::Clock;
use crate::domain::{Email, Username};
use async_trait::async_trait;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

/// The longest bound allowed: a person removed at the provider loses access at most
/// this long after.
pub const MAX_BOUND: Duration = Duration::seconds(60);

/// Entries kept before the expired ones are swept.
const SWEEP_AT: usize = 4096;

struct Entry {
    at: OffsetDateTime,
    standing: Option<Standing>,
}

/// A directory whose [`Directory::standing`] answers are kept for at most a bound.
pub struct CachedDirectory<D> {
    inner: D,
    bound: Duration,
    clock: Arc<dyn Clock>,
    /// By subject, with the number of drops so far (an answer read while a drop
    /// happened may predate the change, so it is not kept).
    entries: Mutex<(HashMap<String, Entry>, u64)>,
}

impl<D: Directory> CachedDirectory<D> {
    /// Wraps `inner`, keeping answers for `bound` (at most [`MAX_BOUND`]; zero asks the
    /// provider on every request).
    pub fn new(inner: D, bound: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            bound: bound.clamp(Duration::ZERO, MAX_BOUND),
            clock,
            entries: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// How long an answer is kept.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// The wrapped directory.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    fn entries(&self) -> MutexGuard<'_, (HashMap<String, Entry>, u64)> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops what is kept about the user `pk` (loyalty changed it).
    pub fn forget_user(&self, pk: i64) {
        let mut entries = self.entries();
        entries
            .0
            .retain(|_, e| e.standing.as_ref().is_none_or(|s| s.user.pk != pk));
        entries.1 += 1;
    }

    /// Drops everything kept.
    pub fn forget_all(&self) {
        let mut entries = self.entries();
        entries.0.clear();
        entries.1 += 1;
    }
}

#[async_trait]
impl<D: Directory> Directory for CachedDirectory<D> {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    async fn find_group(&self, name: &str) -> Result<Option<DirGroup>, DirectoryError> {
        self.inner.find_group(name).await
    }

    async fn create_group(
        &self,
        name: &str,
        attributes: serde_json::Value,
    ) -> Result<DirGroup, DirectoryError> {
        self.inner.create_group(name, attributes).await
    }

    async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<DirUser>, DirectoryError> {
        self.inner.find_user_by_username(username).await
    }

    async fn find_users_by_email(&self, email: &Email) -> Result<Vec<DirUser>, DirectoryError> {
        self.inner.find_users_by_email(email).await
    }

    async fn find_user(&self, pk: i64) -> Result<Option<DirUser>, DirectoryError> {
        self.inner.find_user(pk).await
    }

    async fn create_user(&self, new: &NewDirUser) -> Result<DirUser, DirectoryError> {
        self.inner.create_user(new).await
    }

    async fn set_password(
        &self,
        pk: i64,
        password: &SecretString,
        must_change: bool,
    ) -> Result<(), DirectoryError> {
        let result = self.inner.set_password(pk, password, must_change).await;
        self.forget_user(pk);
        result
    }

    async fn password_set_link(&self, pk: i64) -> Result<Option<SetPasswordLink>, DirectoryError> {
        self.inner.password_set_link(pk).await
    }

    async fn password_links_available(&self) -> Result<bool, DirectoryError> {
        self.inner.password_links_available().await
    }

    async fn add_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        // Dropped whatever the answer: a lost answer may hide a change that was made.
        let result = self.inner.add_member(group, pk).await;
        self.forget_user(pk);
        result
    }

    async fn remove_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let result = self.inner.remove_member(group, pk).await;
        self.forget_user(pk);
        result
    }

    async fn list_members(&self, group: &DirGroup) -> Result<Vec<DirUser>, DirectoryError> {
        self.inner.list_members(group).await
    }

    async fn user_groups(&self, pk: i64) -> Result<Vec<String>, DirectoryError> {
        self.inner.user_groups(pk).await
    }

    async fn deactivate_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let result = self.inner.deactivate_user(pk).await;
        self.forget_user(pk);
        result
    }

    async fn delete_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let result = self.inner.delete_user(pk).await;
        self.forget_user(pk);
        result
    }

    /// The kept answer while it is younger than the bound, else the provider's (kept
    /// from now on). A failure is not kept, so it is asked again on the next request.
    async fn standing(
        &self,
        username: &str,
        subject: &str,
    ) -> Result<Option<Standing>, DirectoryError> {
        let now = self.clock.now();
        let drops = {
            let entries = self.entries();
            if let Some(e) = entries.0.get(subject)
                && now - e.at < self.bound
                && e.at <= now
            {
                return Ok(e.standing.clone());
            }
            entries.1
        };
        let standing = self.inner.standing(username, subject).await?;
        let mut entries = self.entries();
        if entries.1 != drops {
            return Ok(standing);
        }
        if entries.0.len() >= SWEEP_AT {
            let bound = self.bound;
            entries.0.retain(|_, e| now - e.at < bound);
        }
        entries.0.insert(
            subject.to_owned(),
            Entry {
                at: now,
                standing: standing.clone(),
            },
        );
        Ok(standing)
    }
}
