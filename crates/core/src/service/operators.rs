//! The installation's operators: the people in the operators group (configuration
//! `identity.operators_group`), who open the operator console and onboard shops. Added,
//! listed, removed and given a new one-time link through the [`Directory`], so the same
//! calls manage the built-in accounts' group and the group at Authentik.

use crate::Error;
use crate::directory::{self, DirGroup, DirUser, Directory, NewDirUser, Outcome};
use crate::domain::{Email, PersonName, Username};
use crate::error::ErrorCode;
use crate::service::mail::Credential;
use crate::service::onboard::{CredentialMode, issue_credential};

/// An operator to add, parsed from what was typed.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// Sign-in name.
    pub username: Username,
    /// Display name.
    pub name: PersonName,
    /// Email, for password-reset mail.
    pub email: Option<Email>,
}

impl NewOperator {
    /// Parses the typed values; every invalid field is named.
    pub fn parse(username: &str, name: &str, email: Option<&str>) -> Result<Self, Error> {
        let mut errors = Vec::new();
        let username = Username::parse(username).map_err(|e| errors.push(e)).ok();
        let name = PersonName::parse(name).map_err(|e| errors.push(e)).ok();
        let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Email::parse(e).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        match (username, name) {
            (Some(username), Some(name)) if errors.is_empty() => Ok(Self {
                username,
                name,
                email,
            }),
            _ => Err(Error::Validation(errors)),
        }
    }
}

/// What [`add`] did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The operator's account.
    pub user: DirUser,
    /// Whether the account was made now or an existing one was put in the group.
    pub account: Outcome,
    /// Whether the account was put in the group now or was there already.
    pub membership: Outcome,
    /// The first sign-in credential; [`Credential::Existing`] when the account already
    /// had a password.
    pub credential: Credential,
    /// The operators group.
    pub group: String,
}

/// Makes `new` an operator: finds or creates the group and the account, puts the account
/// in the group, and issues a one-time link (or, with [`CredentialMode::Password`], a
/// generated password to change at first sign-in) when the account has no password yet.
/// Safe to repeat. An existing account with the same username is reused (a shop's admin
/// may also be an operator).
pub async fn add(
    dir: &dyn Directory,
    group_name: &str,
    new: &NewOperator,
    mode: CredentialMode,
) -> Result<Added, Error> {
    let (group, _) = directory::find_or_create_group(
        dir,
        group_name,
        serde_json::json!({"created_by": "loyalty", "loyalty_role": "operator"}),
    )
    .await?;
    let (user, account) = find_or_create(dir, new).await?;
    let membership = if dir
        .user_groups(user.pk)
        .await?
        .iter()
        .any(|g| g == &group.name)
    {
        Outcome::Existing
    } else {
        dir.add_member(&group, user.pk).await?;
        Outcome::Created
    };
    let credential = if account == Outcome::Created || user.has_password == Some(false) {
        issue_credential(dir, user.pk, mode).await?
    } else {
        Credential::Existing
    };
    Ok(Added {
        user,
        account,
        membership,
        credential,
        group: group.name,
    })
}

async fn find_or_create(
    dir: &dyn Directory,
    new: &NewOperator,
) -> Result<(DirUser, Outcome), Error> {
    if let Some(user) = dir.find_user_by_username(&new.username).await? {
        return Ok((user, Outcome::Existing));
    }
    let create = NewDirUser {
        username: new.username.clone(),
        name: new.name.as_str().to_owned(),
        email: new.email.clone(),
        attributes: serde_json::json!({"created_by": "loyalty", "loyalty_role": "operator"}),
    };
    match dir.create_user(&create).await {
        Ok(user) => Ok((user, Outcome::Created)),
        Err(directory::DirectoryError::AlreadyExists { .. }) => dir
            .find_user_by_username(&new.username)
            .await?
            .map(|u| (u, Outcome::Existing))
            .ok_or_else(|| Error::not_found(format!("user {}", new.username))),
        Err(e) => Err(e.into()),
    }
}

/// The operators, by username; none when the group does not exist yet.
pub async fn list(dir: &dyn Directory, group_name: &str) -> Result<Vec<DirUser>, Error> {
    let Some(group) = dir.find_group(group_name).await? else {
        return Ok(Vec::new());
    };
    let mut users = dir.list_members(&group).await?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(users)
}

/// Whether anyone active is an operator (what `serve` asks before it says how to make
/// the first one).
pub async fn any_active(dir: &dyn Directory, group_name: &str) -> Result<bool, Error> {
    Ok(list(dir, group_name).await?.iter().any(|u| u.is_active))
}

/// The operator `username` and the group; `not_found` naming them otherwise.
async fn operator(
    dir: &dyn Directory,
    group_name: &str,
    username: &str,
) -> Result<(DirUser, DirGroup), Error> {
    let not_operator = || {
        Error::NotFound(
            ErrorCode::NotFound,
            format!("operator {username:?} (in group {group_name})"),
        )
    };
    let parsed = Username::parse(username).map_err(|e| Error::Validation(vec![e]))?;
    let user = dir
        .find_user_by_username(&parsed)
        .await?
        .ok_or_else(not_operator)?;
    let group = dir.find_group(group_name).await?.ok_or_else(not_operator)?;
    if !dir
        .user_groups(user.pk)
        .await?
        .iter()
        .any(|g| g == group_name)
    {
        return Err(not_operator());
    }
    Ok((user, group))
}

/// Takes `username` out of the operators group. The account stays (it may hold roles in
/// shops); with the built-in accounts its next request is no longer an operator's.
pub async fn remove(
    dir: &dyn Directory,
    group_name: &str,
    username: &str,
) -> Result<DirUser, Error> {
    let (user, group) = operator(dir, group_name, username).await?;
    dir.remove_member(&group, user.pk).await?;
    Ok(user)
}

/// A new one-time link for the operator `username` (the previous one stops working with
/// the built-in accounts); `identity.no_links` when the provider cannot issue links.
pub async fn link(
    dir: &dyn Directory,
    group_name: &str,
    username: &str,
) -> Result<(DirUser, directory::SetPasswordLink), Error> {
    let (user, _) = operator(dir, group_name, username).await?;
    let link = dir.password_set_link(user.pk).await?.ok_or_else(|| {
        Error::Conflict(
            ErrorCode::IdentityNoLinks,
            "the identity provider has no recovery flow configured, so it cannot issue links; use `loyalty operator add --password-output` for a new account, or set the password at the provider".into(),
        )
    })?;
    Ok((user, link))
}
