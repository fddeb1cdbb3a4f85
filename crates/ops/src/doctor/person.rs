//! With `--user`: the person exists at the identity provider, is active, is in one of
//! the organization's groups, has a membership row whose role matches, and is not stuck
//! on a password change.

use super::Check;
use crate::config::{Config, IdentityMode};
use loyalty_core::directory::{DirUser, Directory};
use loyalty_core::domain::{Email, GroupName, Organization, Role, Username, resolve_memberships};
use loyalty_core::store::Store;

/// Finds the person by email (when the text has an @) or by username.
async fn find_person(dir: &dyn Directory, who: &str) -> Result<Vec<DirUser>, String> {
    if who.contains('@') {
        let email = Email::parse(who).map_err(|e| e.to_string())?;
        dir.find_users_by_email(&email)
            .await
            .map_err(|e| e.to_string())
    } else {
        let username = Username::parse(who).map_err(|e| e.to_string())?;
        dir.find_user_by_username(&username)
            .await
            .map(|u| u.into_iter().collect())
            .map_err(|e| e.to_string())
    }
}

/// The person's checks.
pub(super) async fn user_checks(
    config: &Config,
    store: &dyn Store,
    dir: &dyn Directory,
    mode: IdentityMode,
    org: &Organization,
    who: &str,
    checks: &mut Vec<Check>,
) {
    let slug = &org.slug;
    let authentik = mode == IdentityMode::Authentik;
    let recreate = format!(
        "an admin of {slug} re-creates them in the admin panel (Users > Create cashier or Create admin, same username and email), which restores the group and the membership row"
    );
    let exists = format!("{who} exists at the identity provider");
    let found = match find_person(dir, who).await {
        Ok(found) => found,
        Err(e) => {
            checks.push(Check::fail(
                "user.exists",
                exists,
                e,
                "see the identity provider checks above",
            ));
            return;
        }
    };
    // Several accounts may share an email: prefer an active one.
    let Some(user) = found
        .iter()
        .find(|u| u.is_active)
        .or_else(|| found.first())
        .cloned()
    else {
        checks.push(Check::fail(
            "user.exists",
            exists,
            format!("no user with this {} at the {} identity provider", if who.contains('@') { "email" } else { "username" }, dir.provider()),
            format!("check the spelling (the admin panel's Users page lists the staff of {slug}), or create them: {recreate}"),
        ));
        return;
    };
    let mut detail = format!("username {}", user.username);
    if found.len() > 1 {
        detail.push_str(&format!("; {} accounts share this email", found.len()));
    }
    checks.push(Check::ok("user.exists", exists, detail));

    let active = format!("{} is active", user.username);
    checks.push(if user.is_active {
        Check::ok("user.active", active, "")
    } else {
        Check::fail(
            "user.active",
            active,
            "the account is deactivated: it cannot sign in",
            if authentik {
                format!("activate it in Authentik > Directory > Users > {} (Activate)", user.username)
            } else {
                format!(
                    "no command reactivates a built-in account yet; run in the database: UPDATE accounts SET is_active = true WHERE username = '{}'",
                    user.username
                )
            },
        )
    });

    let in_group = format!("{} is in a group of {slug}", user.username);
    let groups = match dir.user_groups(user.pk).await {
        Ok(g) => g,
        Err(e) => {
            checks.push(Check::fail(
                "user.group",
                in_group,
                e.to_string(),
                "see the identity provider checks above",
            ));
            return;
        }
    };
    let roles: Vec<Role> = resolve_memberships(&groups)
        .into_iter()
        .filter(|m| m.prefix == org.group_prefix)
        .map(|m| m.role)
        .collect();
    let group_role = roles.iter().min().copied();
    checks.push(match group_role {
        Some(_) => Check::ok(
            "user.group",
            in_group,
            roles
                .iter()
                .map(|r| GroupName::new(&org.group_prefix, *r).name())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        None => Check::fail(
            "user.group",
            in_group,
            format!(
                "in none of {prefix}-admins, {prefix}-cashiers, {prefix}-customers (groups: {})",
                if groups.is_empty() { "none".into() } else { groups.join(", ") },
                prefix = org.group_prefix
            ),
            if authentik {
                format!("add them to the group of their role in Authentik > Directory > Groups (such as {}-cashiers), or: {recreate}", org.group_prefix)
            } else {
                recreate.clone()
            },
        ),
    });

    let row_name = format!("{} has a membership row in {slug}", user.username);
    let row = match store.member_by_subject(org.id, &user.uid).await {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail(
                "user.membership",
                row_name,
                e.to_string(),
                "check the database (see the checks above)",
            ));
            return;
        }
    };
    match &row {
        None => checks.push(Check::fail(
            "user.membership",
            row_name,
            format!("no row in users for subject {}", user.uid),
            if authentik {
                format!(
                    "have them sign in once at {}/o/{slug}/ (the row is made at sign-in from their groups), or: {recreate}",
                    config.server.public_url()
                )
            } else {
                recreate.clone()
            },
        )),
        Some(m) if m.status != "active" => checks.push(Check::fail(
            "user.membership",
            row_name,
            format!("the row is {} (deactivated in the admin panel)", m.status),
            recreate.clone(),
        )),
        Some(m) => checks.push(Check::ok("user.membership", row_name, format!("role {}", m.role))),
    }

    let role_name = format!("{}'s role matches the group", user.username);
    checks.push(match (&row, group_role) {
        (Some(m), Some(g)) if m.role == g => Check::ok("user.role", role_name, g.as_str()),
        (Some(m), Some(g)) => Check::fail(
            "user.role",
            role_name,
            format!(
                "the membership row says {}, the groups say {g}",
                m.role
            ),
            if authentik {
                "have them sign out and in again: the row follows the groups at sign-in".to_owned()
            } else {
                format!(
                    "put them in the group of the role they should have ({}-{}s) and out of the other, or: {recreate}",
                    org.group_prefix, m.role
                )
            },
        ),
        _ => Check::skip("user.role", role_name, "no group or no membership row"),
    });

    let password = format!("{} can sign in with a password", user.username);
    let link = format!(
        "`loyalty user link {}` issues a one-time link to set a password; send it over a secure channel",
        user.username
    );
    if authentik {
        checks.push(match user.has_password {
            Some(true) => Check::ok(
                "user.password",
                password,
                "chosen after the account was made (Authentik's password_change_date)",
            ),
            Some(false) => Check::warn(
                "user.password",
                password,
                "no password chosen since the account was made: the one-time link was not used yet",
                link,
            ),
            None => Check::skip(
                "user.password",
                password,
                "Authentik does not say when the password last changed",
            ),
        });
        return;
    }
    checks.push(match store.account_by_pk(user.pk).await {
        Ok(Some(a)) if a.password_hash.is_none() => Check::warn(
            "user.password",
            password,
            "no password set yet: the one-time link was not used",
            link,
        ),
        Ok(Some(a)) if a.must_change_password => Check::warn(
            "user.password",
            password,
            "must change the password at the next sign-in",
            format!("sign in and choose a new password; if the old one is lost, {link}"),
        ),
        Ok(Some(_)) => Check::ok("user.password", password, "set"),
        Ok(None) => Check::skip("user.password", password, "account not found"),
        Err(e) => Check::fail(
            "user.password",
            password,
            e.to_string(),
            "check the database (see the checks above)",
        ),
    });
}
