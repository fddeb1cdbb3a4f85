//! [`Directory`] on Authentik's API: which endpoint each operation calls and how its
//! answers map to the contract (`AlreadyExists`, `NotFound`, `None`).

use super::api::{PROVIDER, already_exists, failed, not_found};
use super::{AuthentikDirectory, ok, wire};
use async_trait::async_trait;
use loyalty_core::directory::{
    DirGroup, DirUser, Directory, DirectoryError, NewDirUser, SetPasswordLink, Standing,
};
use loyalty_core::domain::{Email, Username};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};

#[async_trait]
impl Directory for AuthentikDirectory {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    /// `GET /core/groups/?name=...`, exact name.
    async fn find_group(&self, name: &str) -> Result<Option<DirGroup>, DirectoryError> {
        let action = format!("finding group {name}");
        let filters = [("name", name.to_owned()), ("include_users", "false".into())];
        let groups: Vec<wire::Group> = self
            .list_all(&["core", "groups"], &filters, None, &action)
            .await?;
        Ok(groups
            .into_iter()
            .find(|g| g.name == name)
            .map(DirGroup::from))
    }

    /// `POST /core/groups/`; a 400 about the name means `AlreadyExists`.
    async fn create_group(
        &self,
        name: &str,
        attributes: serde_json::Value,
    ) -> Result<DirGroup, DirectoryError> {
        let action = format!("creating group {name}");
        let mut body = serde_json::json!({ "name": name });
        if attributes.is_object() {
            body["attributes"] = attributes;
        }
        let reply = self
            .send(Method::POST, &["core", "groups"], &body, &action)
            .await?;
        if reply.is_duplicate("name") {
            return Err(already_exists(&action));
        }
        let group: wire::Group = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
        Ok(group.into())
    }

    /// `GET /core/users/?username=...` (Authentik matches it exactly).
    async fn find_user_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<DirUser>, DirectoryError> {
        let action = format!("finding user {username}");
        let users = self
            .users_where(("username", username.as_str().to_owned()), None, &action)
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username.as_str()))
            .map(DirUser::from))
    }

    /// `GET /core/users/?email=...`, people only (service accounts are left out).
    async fn find_users_by_email(&self, email: &Email) -> Result<Vec<DirUser>, DirectoryError> {
        let action = format!("finding users by email {email}");
        let users = self
            .users_where(("email", email.as_str().to_owned()), None, &action)
            .await?;
        Ok(users
            .into_iter()
            .filter(|u| !u.is_service_account())
            .filter(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email.as_str()))
            })
            .map(DirUser::from)
            .collect())
    }

    /// `GET /core/users/{pk}/`; 404 means `None`.
    async fn find_user(&self, pk: i64) -> Result<Option<DirUser>, DirectoryError> {
        let action = format!("finding user {pk}");
        let reply = self
            .get(&["core", "users", &pk.to_string()], &[], &action)
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let user: wire::User = ok(reply, StatusCode::OK, &action)?.json(&action)?;
        Ok(Some(user.into()))
    }

    /// `POST /core/users/` as an active internal user under the configured path; a 400
    /// about the username means `AlreadyExists`.
    async fn create_user(&self, new: &NewDirUser) -> Result<DirUser, DirectoryError> {
        let action = format!("creating user {}", new.username);
        let mut body = serde_json::json!({
            "username": new.username.as_str(),
            "name": new.name,
            "is_active": true,
            "path": self.user_path,
            "type": "internal",
        });
        if let Some(email) = &new.email {
            body["email"] = email.as_str().into();
        }
        if new.attributes.is_object() {
            body["attributes"] = new.attributes.clone();
        }
        let reply = self
            .send(Method::POST, &["core", "users"], &body, &action)
            .await?;
        if reply.is_duplicate("username") {
            return Err(already_exists(&action));
        }
        let user: wire::User = ok(reply, StatusCode::CREATED, &action)?.json(&action)?;
        Ok(user.into())
    }

    /// `POST /core/users/{pk}/set_password/`. Authentik has no "must change at next
    /// sign-in", so `must_change` is ignored (and logged).
    async fn set_password(
        &self,
        pk: i64,
        password: &SecretString,
        must_change: bool,
    ) -> Result<(), DirectoryError> {
        let action = format!("setting password of user {pk}");
        if must_change {
            tracing::info!(
                user = pk,
                "Authentik cannot require a password change at next sign-in; the password is set as is"
            );
        }
        let body = serde_json::json!({ "password": password.expose_secret() });
        let reply = self
            .send(
                Method::POST,
                &["core", "users", &pk.to_string(), "set_password"],
                &body,
                &action,
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(not_found(&action));
        }
        ok(reply, StatusCode::NO_CONTENT, &action).map(drop)
    }

    /// `POST /core/users/{pk}/recovery/` (both schemas, 2025.12 and 2026.2, say POST;
    /// older Authentik used GET, tried after a 405). `None` when the brand has no
    /// recovery flow: Authentik 2025+ answers 400 "No recovery flow set.", older ones
    /// 404 `{"link": ""}`. The link's lifetime is Authentik's (brand setting), unknown here.
    async fn password_set_link(&self, pk: i64) -> Result<Option<SetPasswordLink>, DirectoryError> {
        let action = format!("issuing a password link for user {pk}");
        let pk_text = pk.to_string();
        let mut reply = self.recovery(&pk_text, Method::POST, &action).await?;
        if reply.status == StatusCode::METHOD_NOT_ALLOWED {
            reply = self.recovery(&pk_text, Method::GET, &action).await?;
        }
        match reply.status {
            StatusCode::OK => {
                let link: wire::Link = reply.json(&action)?;
                Ok((!link.link.is_empty()).then(|| SetPasswordLink {
                    url: SecretString::from(link.link),
                    expires_at: None,
                }))
            }
            // `{"detail": "No User matches the given query."}`: the user is unknown.
            StatusCode::NOT_FOUND if reply.is_detail_error() => Err(not_found(&action)),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::BAD_REQUEST
                if reply
                    .field_errors("non_field_errors")
                    .iter()
                    .any(|m| m.to_lowercase().contains("recovery flow")) =>
            {
                Ok(None)
            }
            _ => Err(failed(&action, reply.detail())),
        }
    }

    /// `GET /core/brands/current/`: links need a recovery flow on the brand.
    async fn password_links_available(&self) -> Result<bool, DirectoryError> {
        self.has_recovery_flow().await
    }

    /// `POST /core/groups/{uuid}/add_user/` (204 also for a member); 404 means `NotFound`.
    async fn add_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("adding user {pk} to group {}", group.name);
        membership(self, group, pk, "add_user", &action).await
    }

    /// `POST /core/groups/{uuid}/remove_user/` (204 also for a non-member); 404 means
    /// `NotFound` (unknown user or group).
    async fn remove_member(&self, group: &DirGroup, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("removing user {pk} from group {}", group.name);
        membership(self, group, pk, "remove_user", &action).await
    }

    /// `GET /core/users/?groups_by_name=...`, every page.
    async fn list_members(&self, group: &DirGroup) -> Result<Vec<DirUser>, DirectoryError> {
        let action = format!("listing members of group {}", group.name);
        let users = self
            .users_where(
                ("groups_by_name", group.name.clone()),
                Some("groups_by_name"),
                &action,
            )
            .await?;
        Ok(users.into_iter().map(DirUser::from).collect())
    }

    /// `GET /core/groups/?members_by_pk=...`, every page: direct memberships, as in the
    /// ID token's `groups` claim.
    async fn user_groups(&self, pk: i64) -> Result<Vec<String>, DirectoryError> {
        let action = format!("listing groups of user {pk}");
        let filters = [
            ("members_by_pk", pk.to_string()),
            ("include_users", "false".into()),
        ];
        let groups: Vec<wire::Group> = self
            .list_all(
                &["core", "groups"],
                &filters,
                Some("members_by_pk"),
                &action,
            )
            .await?;
        Ok(groups.into_iter().map(|g| g.name).collect())
    }

    /// `PATCH /core/users/{pk}/` `{is_active: false}`; 404 means `NotFound`.
    async fn deactivate_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("deactivating user {pk}");
        let body = serde_json::json!({ "is_active": false });
        let reply = self
            .send(
                Method::PATCH,
                &["core", "users", &pk.to_string()],
                &body,
                &action,
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(not_found(&action));
        }
        ok(reply, StatusCode::OK, &action).map(drop)
    }

    /// `DELETE /core/users/{pk}/` (204); 404 means `NotFound`.
    async fn delete_user(&self, pk: i64) -> Result<(), DirectoryError> {
        let action = format!("deleting user {pk}");
        let url = self.api.url(&["core", "users", &pk.to_string()], &[]);
        let reply = self.api.send(Method::DELETE, url, None, &action).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(not_found(&action));
        }
        ok(reply, StatusCode::NO_CONTENT, &action).map(drop)
    }

    /// One call, `GET /core/users/?username=...&include_groups=true`: the user with
    /// this username and subject (`uid`, the ID token's `sub` in the provider's
    /// `hashed_user_id` mode), its `is_active` and the names of its groups.
    async fn standing(
        &self,
        username: &str,
        subject: &str,
    ) -> Result<Option<Standing>, DirectoryError> {
        let action = format!("re-checking user {username}");
        let filters = [
            ("username", username.to_owned()),
            ("include_groups", "true".into()),
        ];
        let users: Vec<wire::User> = self
            .list_all(&["core", "users"], &filters, None, &action)
            .await?;
        Ok(users.into_iter().find(|u| u.uid == subject).map(|mut u| {
            let groups = u
                .groups_obj
                .take()
                .unwrap_or_default()
                .into_iter()
                .map(|g| g.name)
                .collect();
            Standing {
                user: u.into(),
                groups,
            }
        }))
    }
}

async fn membership(
    dir: &AuthentikDirectory,
    group: &DirGroup,
    pk: i64,
    verb: &str,
    action: &str,
) -> Result<(), DirectoryError> {
    let body = serde_json::json!({ "pk": pk });
    let reply = dir
        .send(
            Method::POST,
            &["core", "groups", &group.pk, verb],
            &body,
            action,
        )
        .await?;
    if reply.status == StatusCode::NOT_FOUND {
        return Err(not_found(action));
    }
    ok(reply, StatusCode::NO_CONTENT, action).map(drop)
}
