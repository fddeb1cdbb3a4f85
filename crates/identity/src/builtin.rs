//! The built-in identity provider: the directory kept in `loyalty`'s own database.

use crate::password;
use async_trait::async_trait;
use loyalty_core::clock::Clock;
use loyalty_core::directory::{
    DirGroup, DirUser, Directory, DirectoryError, NewDirUser, SetPasswordLink,
};
use loyalty_core::domain::{Email, Username};
use loyalty_core::secret;
use loyalty_core::store::{Account, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use time::Duration;

const PROVIDER: &str = "builtin";
/// Purpose of password-set tokens.
pub const PASSWORD_SET: &str = "password_set";

/// Built-in accounts, groups and one-time links.
#[derive(Clone)]
pub struct BuiltinDirectory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    public_url: String,
    link_ttl: Duration,
}

impl std::fmt::Debug for BuiltinDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinDirectory")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

fn failed(action: impl Into<String>) -> impl FnOnce(StoreError) -> DirectoryError {
    let action = action.into();
    move |e| DirectoryError::Failed {
        provider: PROVIDER,
        action,
        detail: e.to_string(),
    }
}

fn to_user(a: Account) -> DirUser {
    DirUser {
        pk: a.pk,
        uid: a.uid,
        username: a.username,
        name: a.name,
        email: a.email,
        is_active: a.is_active,
        has_password: Some(a.password_hash.is_some()),
        attributes: a.attributes,
    }
}

/// Why a sign-in or password change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// Unknown user, wrong password or inactive account (deliberately not told apart).
    #[error("wrong username or password")]
    Invalid,
    /// The link is unknown, used or expired.
    #[error("this link is invalid, already used or expired; ask an admin for a new one")]
    LinkInvalid,
    /// The new password breaks the policy.
    #[error("{0}")]
    Policy(String),
    /// The store failed.
    #[error("{0}")]
    Internal(String),
}

impl BuiltinDirectory {
    /// A directory on `store`, issuing links under `public_url` valid for `link_ttl`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        public_url: &str,
        link_ttl: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
            link_ttl,
        }
    }

    /// How long a one-time link works.
    pub fn link_ttl(&self) -> Duration {
        self.link_ttl
    }

    /// Checks a username and password; returns the account when both are right and the
    /// account is active.
    pub async fn authenticate(
        &self,
        username: &str,
        pw: &SecretString,
    ) -> Result<Account, CredentialError> {
        let account = self
            .store
            .account_by_username(username.trim())
            .await
            .map_err(|e| CredentialError::Internal(e.to_string()))?;
        let stored = account.as_ref().and_then(|a| a.password_hash.clone());
        let ok = password::verify(pw.expose_secret().to_owned(), stored).await;
        match account {
            Some(a) if ok && a.is_active => Ok(a),
            _ => Err(CredentialError::Invalid),
        }
    }

    /// The browser's device among `cookies` (name, value) that is valid for the active
    /// account `username`, if any (see [`crate::device`]).
    pub async fn recognized_device(
        &self,
        username: &str,
        cookies: &[(String, String)],
    ) -> Result<Option<crate::device::Device>, CredentialError> {
        if cookies.is_empty() {
            return Ok(None);
        }
        let account = self
            .store
            .account_by_username(username.trim())
            .await
            .map_err(|e| CredentialError::Internal(e.to_string()))?;
        Ok(account
            .filter(|a| a.is_active)
            .and_then(|a| crate::device::recognize(&a, cookies, self.clock.now())))
    }

    /// A device cookie for `account`, just signed in (see [`crate::device`]).
    pub fn issue_device(&self, account: &Account) -> Option<crate::device::DeviceCookie> {
        crate::device::issue(account, self.clock.now())
    }

    /// A password change by the account's owner, signed in with the session whose
    /// token hashes to `own_session`: the password is set and every other session of
    /// the account ends.
    pub async fn change_password(
        &self,
        pk: i64,
        pw: &SecretString,
        own_session: &str,
    ) -> Result<(), DirectoryError> {
        self.set_password_keeping(pk, pw, false, Some(own_session))
            .await
    }

    /// Sets the password and ends the account's sessions but `keep_session`, in one
    /// transaction.
    async fn set_password_keeping(
        &self,
        pk: i64,
        pw: &SecretString,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let action = format!("setting password of user {pk}");
        password::check_policy(pw.expose_secret()).map_err(|detail| DirectoryError::Failed {
            provider: PROVIDER,
            action: action.clone(),
            detail,
        })?;
        let hash = password::hash(pw.expose_secret().to_owned())
            .await
            .map_err(|detail| DirectoryError::Failed {
                provider: PROVIDER,
                action: action.clone(),
                detail,
            })?;
        let found = self
            .store
            .set_account_password(pk, &hash, must_change, keep_session, self.clock.now())
            .await
            .map_err(failed(action.clone()))?;
        if !found {
            return Err(DirectoryError::NotFound {
                provider: PROVIDER,
                action,
            });
        }
        Ok(())
    }

    /// Uses a one-time link: sets the password, ends every session of the account (a
    /// reset signs out everywhere) and returns the account.
    pub async fn redeem_link(
        &self,
        token: &str,
        new_password: &SecretString,
    ) -> Result<Account, CredentialError> {
        password::check_policy(new_password.expose_secret()).map_err(CredentialError::Policy)?;
        let hash = password::hash(new_password.expose_secret().to_owned())
            .await
            .map_err(CredentialError::Internal)?;
        let now = self.clock.now();
        let pk = self
            .store
            .consume_account_token(&secret::hash_token(token), PASSWORD_SET, now)
            .await
            .map_err(|e| CredentialError::Internal(e.to_string()))?
            .ok_or(CredentialError::LinkInvalid)?;
        // A reset ends every session of the account (whoever holds one).
        self.store
            .set_account_password(pk, &hash, false, None, now)
            .await
            .map_err(|e| CredentialError::Internal(e.to_string()))?;
        self.store
            .account_by_pk(pk)
            .await
            .map_err(|e| CredentialError::Internal(e.to_string()))?
            .ok_or(CredentialError::LinkInvalid)
    }
}

#[async_trait]
impl Directory for BuiltinDirectory {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    async fn find_group(&self, name: &str) -> Result<Option<DirGroup>, DirectoryError> {
        let g = self
            .store
            .group_by_name(name)
            .await
            .map_err(failed(format!("finding group {name}")))?;
        Ok(g.map(|g| DirGroup {
            pk: g.pk.to_string(),
            name: g.name,
        }))
    }

    async fn create_group(
        &self,
        name: &str,
        attributes: serde_json::Value,
    ) -> Result<DirGroup, DirectoryError> {
        let action = format!("creating group {name}");
        match self
            .store
            .insert_group(name, &attributes, self.clock.now())
            .await
        {
            Ok(g) => Ok(DirGroup {
                pk: g.pk.to_string(),
                name: g.name,
            }),
            Err(StoreError::Conflict(_)) => Err(DirectoryError::AlreadyExists {
                provider: PROVIDER,
                action,
            }),
            Err(e) => Err(failed(action)(e)),
        }
    }

    async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<DirUser>, DirectoryError> {
        let a = self
            .store
            .account_by_username(username.as_str())
            .await
            .map_err(failed(format!("finding user {username}")))?;
        Ok(a.map(to_user))
    }

    async fn find_users_by_email(&self, email: &Email) -> Result<Vec<DirUser>, DirectoryError> {
        let a = self
            .store
            .accounts_by_email(email.as_str())
            .await
            .map_err(failed(format!("finding users by email {email}")))?;
        Ok(a.into_iter().map(to_user).collect())
    }

    async fn find_user(&self, pk: i64) -> Result<Option<DirUser>, DirectoryError> {
        let a = self
            .store
            .account_by_pk(pk)
            .await
            .map_err(failed(format!("finding user {pk}")))?;
        Ok(a.map(to_user))
    }

    async fn create_user(&self, new: &NewDirUser) -> Result<DirUser, DirectoryError> {
        let action = format!("creating user {}", new.username);
        let account = loyalty_core::store::NewAccount {
            uid: secret::random_token(),
            username: new.username.as_str().to_owned(),
            name: new.name.clone(),
            email: new.email.as_ref().map(|e| e.as_str().to_owned()),
            attributes: new.attributes.clone(),
        };
        match self.store.insert_account(&account, self.clock.now()).await {
            Ok(a) => Ok(to_user(a)),
            Err(StoreError::Conflict(_)) => Err(DirectoryError::AlreadyExists {
                provider: PROVIDER,
                action,
            }),
            Err(e) => Err(failed(action)(e)),
        }
    }

    /// Sets the password and ends every session of the account (an admin's reset, a
    /// generated first password). The account page keeps the changer's own session
    /// with [`BuiltinDirectory::change_password`].
    async fn set_password(
        &self,
        pk: i64,
        pw: &SecretString,
        must_change: bool,
    ) -> Result<(), DirectoryError> {
        self.set_password_keeping(pk, pw, must_change, None).await
    }

    async fn password_set_link(&self, pk: i64) -> Result<Option<SetPasswordLink>, DirectoryError> {
        let action = format!("issuing a password link for user {pk}");
        if self
            .store
            .account_by_pk(pk)
            .await
            .map_err(failed(action.clone()))?
            .is_none()
        {
            return Err(DirectoryError::NotFound {
                provider: PROVIDER,
                action,
            });
        }
        let token = secret::random_token();
        let now = self.clock.now();
        let expires_at = now + self.link_ttl;
        self.store
            .insert_account_token(
                &secret::hash_token(&token),
                pk,
                PASSWORD_SET,
                expires_at,
                now,
            )
            .await
            .map_err(failed(action))?;
        Ok(Some(SetPasswordLink {
            url: SecretString::from(format!(
                "{}/auth/set-password?token={token}",
                self.public_url
            )),
            expires_at: Some(expires_at),
        }))
    }

    async fn add_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("adding user {pk} to group {}", group.name);
        let gpk = group.pk.parse().map_err(|_| DirectoryError::NotFound {
            provider: PROVIDER,
            action: action.clone(),
        })?;
        if self
            .store
            .add_group_member(gpk, pk)
            .await
            .map_err(failed(action.clone()))?
        {
            Ok(())
        } else {
            Err(DirectoryError::NotFound {
                provider: PROVIDER,
                action,
            })
        }
    }

    async fn remove_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("removing user {pk} from group {}", group.name);
        let gpk = group.pk.parse().map_err(|_| DirectoryError::NotFound {
            provider: PROVIDER,
            action: action.clone(),
        })?;
        self.store
            .remove_group_member(gpk, pk)
            .await
            .map_err(failed(action))
    }

    async fn list_members(&self, group: &DirGroup) -> Result<Vec<DirUser>, DirectoryError> {
        let action = format!("listing members of group {}", group.name);
        let gpk = group.pk.parse().map_err(|_| DirectoryError::NotFound {
            provider: PROVIDER,
            action: action.clone(),
        })?;
        let members = self
            .store
            .group_members(gpk)
            .await
            .map_err(failed(action))?;
        Ok(members.into_iter().map(to_user).collect())
    }

    async fn user_groups(&self, pk: i64) -> Result<Vec<String>, DirectoryError> {
        self.store
            .account_groups(pk)
            .await
            .map_err(failed(format!("listing groups of user {pk}")))
    }

    async fn delete_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("deleting user {pk}");
        if self
            .store
            .delete_account(pk)
            .await
            .map_err(failed(action.clone()))?
        {
            Ok(())
        } else {
            Err(DirectoryError::NotFound {
                provider: PROVIDER,
                action,
            })
        }
    }

    async fn deactivate_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("deactivating user {pk}");
        if self
            .store
            .set_account_active(pk, false, self.clock.now())
            .await
            .map_err(failed(action.clone()))?
        {
            Ok(())
        } else {
            Err(DirectoryError::NotFound {
                provider: PROVIDER,
                action,
            })
        }
    }
}
