//! The directory interface: groups, users and memberships at the identity provider.
//! Implemented by the built-in accounts (in our own database) and by Authentik's admin
//! API. Shapes follow Authentik: users have an integer `pk` and a text subject `uid`,
//! groups a UUID `pk`, first sign-in is a one-time link where the provider allows it.

use crate::domain::{Email, Username};
use async_trait::async_trait;

pub mod cache;
use secrecy::SecretString;
use time::OffsetDateTime;

/// Errors of a directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory refused because the object exists (duplicate name).
    #[error("{provider}: {action}: already exists")]
    AlreadyExists {
        /// `builtin` or `authentik`.
        provider: &'static str,
        /// What was being done (`creating group nextdoor-admins`).
        action: String,
    },
    /// The referenced user or group does not exist.
    #[error("{provider}: {action}: not found")]
    NotFound {
        /// `builtin` or `authentik`.
        provider: &'static str,
        /// What was being done.
        action: String,
    },
    /// Any other failure, with the provider's own words.
    #[error("{provider}: {action}: {detail}")]
    Failed {
        /// `builtin` or `authentik`.
        provider: &'static str,
        /// What was being done.
        action: String,
        /// What went wrong.
        detail: String,
    },
}

impl DirectoryError {
    /// The stable code of this error.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            DirectoryError::AlreadyExists { .. } => ErrorCode::DirectoryExists,
            DirectoryError::NotFound { .. } => ErrorCode::DirectoryNotFound,
            DirectoryError::Failed { .. } => ErrorCode::DirectoryFailed,
        }
    }
}

/// A user at the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUser {
    /// Integer key.
    pub pk: i64,
    /// Subject used in tokens and in our `users.identity_subject`.
    pub uid: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Whether the user may sign in.
    pub is_active: bool,
    /// Whether the user has a usable password; `None` when the provider does not say.
    /// Authentik does not say it outright: there it means a password was set a minute or
    /// more after the account was made (its `password_change_date`).
    pub has_password: Option<bool>,
    /// Free-form attributes; loyalty marks the users it makes with `loyalty_org` and
    /// `loyalty_role`.
    pub attributes: serde_json::Value,
}

/// A person at the identity provider as access re-checks them: the user (active or
/// not) and the names of the groups it is in now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The user.
    pub user: DirUser,
    /// Names of the groups it is in (direct memberships).
    pub groups: Vec<String>,
}

/// A group at the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGroup {
    /// Key (a UUID string).
    pub pk: String,
    /// Unique name.
    pub name: String,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewDirUser {
    /// Sign-in name.
    pub username: Username,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: Option<Email>,
    /// Attributes marking who made the user and why.
    pub attributes: serde_json::Value,
}

/// A one-time link with which a person sets their password.
#[derive(Debug, Clone)]
pub struct SetPasswordLink {
    /// The link; a secret until used.
    pub url: SecretString,
    /// When it stops working, if the provider says.
    pub expires_at: Option<OffsetDateTime>,
}

/// Groups, users and memberships at the identity provider.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// `builtin` or `authentik`.
    fn provider(&self) -> &'static str;
    /// Group by exact name.
    async fn find_group(&self, name: &str) -> Result<Option<DirGroup>, DirectoryError>;
    /// Creates a group; `AlreadyExists` when the name is taken.
    async fn create_group(
        &self,
        name: &str,
        attributes: serde_json::Value,
    ) -> Result<DirGroup, DirectoryError>;
    /// User by username.
    async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<DirUser>, DirectoryError>;
    /// Users with this email.
    async fn find_users_by_email(&self, email: &Email) -> Result<Vec<DirUser>, DirectoryError>;
    /// User by key.
    async fn find_user(&self, pk: i64) -> Result<Option<DirUser>, DirectoryError>;
    /// Creates a user; `AlreadyExists` when the username is taken.
    async fn create_user(&self, new: &NewDirUser) -> Result<DirUser, DirectoryError>;
    /// Sets a user's password; with `must_change`, the user must change it at next sign-in.
    async fn set_password(
        &self,
        pk: i64,
        password: &SecretString,
        must_change: bool,
    ) -> Result<(), DirectoryError>;
    /// Issues a one-time link to set a password; `None` when the provider cannot.
    async fn password_set_link(&self, pk: i64) -> Result<Option<SetPasswordLink>, DirectoryError>;
    /// Whether [`Self::password_set_link`] can issue links now, asked before anything is
    /// made (Authentik: the brand has a recovery flow). Yes unless the provider says no.
    async fn password_links_available(&self) -> Result<bool, DirectoryError> {
        Ok(true)
    }
    /// Adds a user to a group; adding a member again is not an error.
    async fn add_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError>;
    /// Removes a user from a group; removing a non-member is not an error.
    async fn remove_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError>;
    /// Members of a group.
    async fn list_members(&self, group: &DirGroup) -> Result<Vec<DirUser>, DirectoryError>;
    /// Names of the groups a user is in.
    async fn user_groups(&self, pk: i64) -> Result<Vec<String>, DirectoryError>;
    /// Stops a user from signing in.
    async fn deactivate_user(&self, pk: i64) -> Result<(), DirectoryError>;
    /// Deletes a user and what the provider holds about them (a person's erasure);
    /// `NotFound` when there is no such user.
    async fn delete_user(&self, pk: i64) -> Result<(), DirectoryError>;
    /// The user whose subject is `subject`, found by the `username` the provider gave at
    /// sign-in, with the groups it is in now; `None` when no user has both (removed,
    /// renamed, or a name that is not a username here).
    async fn standing(
        &self,
        username: &str,
        subject: &str,
    ) -> Result<Option<Standing>, DirectoryError> {
        let Ok(username) = Username::parse(username) else {
            return Ok(None);
        };
        let Some(user) = self
            .find_user_by_username(&username)
            .await?
            .filter(|u| u.uid == subject)
        else {
            return Ok(None);
        };
        let groups = self.user_groups(user.pk).await?;
        Ok(Some(Standing { user, groups }))
    }
}

/// Whether something was made now or was there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Made by this call.
    Created,
    /// Found as it was.
    Existing,
}

/// Finds a group or creates it; safe to repeat and safe against a concurrent creator.
pub async fn find_or_create_group(
    dir: &dyn Directory,
    name: &str,
    attributes: serde_json::Value,
) -> Result<(DirGroup, Outcome), DirectoryError> {
    if let Some(g) = dir.find_group(name).await? {
        return Ok((g, Outcome::Existing));
    }
    match dir.create_group(name, attributes).await {
        Ok(g) => Ok((g, Outcome::Created)),
        Err(DirectoryError::AlreadyExists { .. }) => dir
            .find_group(name)
            .await?
            .map(|g| (g, Outcome::Existing))
            .ok_or_else(|| DirectoryError::Failed {
                provider: dir.provider(),
                action: format!("creating group {name}"),
                detail: "reported as existing but cannot be found".into(),
            }),
        Err(e) => Err(e),
    }
}
