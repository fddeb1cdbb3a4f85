//! Staff of an organization, managed by its admins (runbook step 6.2, "Users -> Create
//! Cashier"): create a cashier or admin at the identity provider, put them in the
//! organization's group, record their `users` row and issue a one-time link; list them;
//! deactivate them (out of the group, row suspended; their account stays, since the same
//! person may hold roles in other organizations).

use crate::Error;
use crate::directory::{self, DirUser, Directory, NewDirUser};
use crate::domain::{Email, GroupName, PersonName, Role, Username};
use crate::error::{ErrorCode, FieldError};
use crate::secret;
use crate::service::context::{Ctx, require_admin};
use crate::service::mail::Credential;
use crate::store::{Member, NewMember};
use secrecy::SecretString;
use uuid::Uuid;

/// A staff member to create, as typed by an admin.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct StaffInput {
    /// Sign-in name, such as `cashier_test`.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// What creating a staff member did.
#[derive(Debug, Clone)]
pub struct StaffCreated {
    /// The person at the identity provider.
    pub user: DirUser,
    /// Their row in the organization.
    pub member: Member,
    /// How they sign in the first time (`Existing` when they already can).
    pub credential: Credential,
}

/// Creates a cashier or admin (safe to repeat: an existing account with the same
/// username and email is reused and gets the role).
pub async fn create_staff(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    role: Role,
    input: &StaffInput,
) -> Result<StaffCreated, Error> {
    require_admin(ctx, "create staff")?;
    if role == Role::Customer {
        return Err(Error::field("role", "staff are cashiers or admins"));
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let username = Username::parse(&input.username)
        .map_err(|e| errors.push(e))
        .ok();
    let name = PersonName::parse(&input.name)
        .map_err(|e| errors.push(e.renamed("name")))
        .ok();
    let email = Email::parse(&input.email)
        .map_err(|e| errors.push(e.renamed("email")))
        .ok();
    let (Some(username), Some(name), Some(email)) = (username, name, email) else {
        return Err(Error::Validation(errors));
    };
    let user = match dir.find_user_by_username(&username).await? {
        Some(u) if u.email.as_deref() == Some(email.as_str()) => u,
        Some(_) => {
            return Err(Error::Conflict(
                ErrorCode::UserExists,
                format!(
                    "the username {username} is taken by someone else; choose another, such as {username}2"
                ),
            ));
        }
        None => {
            dir.create_user(&NewDirUser {
                username: username.clone(),
                name: name.as_str().to_owned(),
                email: Some(email.clone()),
                attributes: serde_json::json!({
                    "created_by": ctx.actor.label,
                    "loyalty_org": ctx.org.slug,
                    "loyalty_role": role.as_str(),
                }),
            })
            .await?
        }
    };
    let group_name = GroupName::new(&ctx.org.group_prefix, role).name();
    let (group, _) = directory::find_or_create_group(
        dir,
        &group_name,
        serde_json::json!({"loyalty_org": ctx.org.slug, "loyalty_role": role.as_str()}),
    )
    .await?;
    dir.add_member(&group, user.pk).await?;
    let member = ctx
        .store
        .upsert_staff(
            ctx.org.id,
            &NewMember {
                identity_subject: user.uid.clone(),
                role,
                email: Some(email.as_str().to_owned()),
                name: Some(name.as_str().to_owned()),
                created_by: ctx.actor.member_id,
            },
            &ctx.actor,
            ctx.clock.now(),
        )
        .await?;
    let credential = if user.has_password == Some(true) {
        Credential::Existing
    } else {
        issue_link(dir, user.pk).await?
    };
    // The link also goes by mail (sent when SMTP is configured). The person exists
    // already, and the admin sees the link on screen, so a failure here is only logged.
    if let Err(e) = crate::service::mail::queue_sign_in_link(
        ctx.store,
        ctx.clock,
        ctx.org,
        &user,
        role,
        &credential,
    )
    .await
    {
        tracing::warn!(org = %ctx.org.slug, user = %user.username, error = %e, "cannot queue the sign-in link mail");
    }
    tracing::info!(org = %ctx.org.slug, user = %user.username, role = %role, by = %ctx.actor.label, "staff created");
    Ok(StaffCreated {
        user,
        member,
        credential,
    })
}

/// A one-time link to set a password, or a generated password to change at first
/// sign-in when the identity provider cannot issue links.
pub(crate) async fn issue_link(dir: &dyn Directory, pk: i64) -> Result<Credential, Error> {
    if let Some(link) = dir.password_set_link(pk).await? {
        return Ok(Credential::Link {
            url: link.url,
            expires_at: link.expires_at,
        });
    }
    let password = SecretString::from(secret::generate_password());
    dir.set_password(pk, &password, true).await?;
    Ok(Credential::Password(password))
}

/// The organization's admins and cashiers, oldest first.
pub async fn list_staff(ctx: &Ctx<'_>) -> Result<Vec<Member>, Error> {
    require_admin(ctx, "see staff")?;
    let mut all = ctx.store.list_members(ctx.org.id, None).await?;
    all.retain(|m| m.role != Role::Customer);
    Ok(all)
}

/// Deactivates a cashier or admin: removes them from the organization's group (so they
/// lose access at once) and marks their row suspended. An admin cannot deactivate
/// themself, so an organization never locks out its last admin by accident.
pub async fn deactivate_staff(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    member: Uuid,
) -> Result<Member, Error> {
    require_admin(ctx, "deactivate staff")?;
    let target = list_staff(ctx)
        .await?
        .into_iter()
        .find(|m| m.id == member)
        .ok_or_else(|| Error::not_found("staff member"))?;
    if ctx.actor.member_id == Some(target.id) {
        return Err(Error::Conflict(
            ErrorCode::StaffSelf,
            "you cannot deactivate yourself; ask another admin".into(),
        ));
    }
    if let Some(subject) = &target.identity_subject {
        let name = GroupName::new(&ctx.org.group_prefix, target.role).name();
        if let Some(group) = dir.find_group(&name).await? {
            let members = dir.list_members(&group).await?;
            if let Some(user) = members.iter().find(|u| &u.uid == subject) {
                dir.remove_member(&group, user.pk).await?;
            }
        }
    }
    let updated = ctx
        .store
        .set_member_status(
            ctx.org.id,
            target.id,
            "suspended",
            &ctx.actor,
            ctx.clock.now(),
        )
        .await?
        .ok_or_else(|| Error::not_found("staff member"))?;
    tracing::info!(org = %ctx.org.slug, member = %target.id, by = %ctx.actor.label, "staff deactivated");
    Ok(updated)
}

/// Mails a staff member a password-reset link (an admin's action): a fresh one-time link
/// (earlier ones stop working) in the organization's language and sender. Returns the
/// address it goes to. Not for oneself: use the account page to change your password.
pub async fn send_password_reset(
    ctx: &Ctx<'_>,
    dir: &dyn Directory,
    member: Uuid,
) -> Result<String, Error> {
    require_admin(ctx, "reset staff passwords")?;
    let target = list_staff(ctx)
        .await?
        .into_iter()
        .find(|m| m.id == member && m.status == "active")
        .ok_or_else(|| Error::not_found("staff member"))?;
    let subject = target
        .identity_subject
        .as_deref()
        .ok_or_else(|| Error::not_found("staff member's account"))?;
    let group = GroupName::new(&ctx.org.group_prefix, target.role).name();
    let group = dir
        .find_group(&group)
        .await?
        .ok_or_else(|| Error::not_found(format!("group {group}")))?;
    let user = dir
        .list_members(&group)
        .await?
        .into_iter()
        .find(|u| u.uid == subject)
        .ok_or_else(|| Error::not_found("staff member's account"))?;
    let to =
        crate::service::mail::queue_password_reset(ctx.store, ctx.clock, dir, &user, Some(ctx.org))
            .await?;
    tracing::info!(org = %ctx.org.slug, member = %target.id, by = %ctx.actor.label, "password reset mailed");
    Ok(to)
}
