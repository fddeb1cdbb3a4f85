//! The built-in directory on both backends.

use loyalty_core::directory::{
    Directory, DirectoryError, NewDirUser, Outcome, find_or_create_group,
};
use loyalty_core::domain::{Email, Username};
use loyalty_identity::builtin::CredentialError;
use loyalty_testkit::{both_backends, fixed_clock};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

fn new_user(username: &str, email: &str) -> NewDirUser {
    NewDirUser {
        username: Username::parse(username).expect("username"),
        name: "Test Cashier".into(),
        email: Some(Email::parse(email).expect("email")),
        attributes: serde_json::json!({"created_by": "loyalty"}),
    }
}

fn token_of(url: &SecretString) -> String {
    url.expose_secret()
        .split("token=")
        .nth(1)
        .expect("token in link")
        .to_owned()
}

both_backends! {
    async fn groups_are_found_or_created_once(db) {
        let dir = db.directory(Arc::new(fixed_clock()));
        let (g1, o1) = find_or_create_group(&dir, "nextdoor-cashiers", serde_json::json!({})).await.expect("create");
        let (g2, o2) = find_or_create_group(&dir, "nextdoor-cashiers", serde_json::json!({})).await.expect("find");
        assert_eq!((o1, o2), (Outcome::Created, Outcome::Existing));
        assert_eq!(g1, g2);
        assert!(uuid::Uuid::parse_str(&g1.pk).is_ok(), "group pk is a UUID, as in Authentik");
        assert!(matches!(dir.create_group("nextdoor-cashiers", serde_json::json!({})).await, Err(DirectoryError::AlreadyExists { .. })));
    }

    async fn users_are_created_once_and_found_by_username_and_email(db) {
        let dir = db.directory(Arc::new(fixed_clock()));
        let u = dir.create_user(&new_user("cashier_test", "test.cashier@nextdoor.com")).await.expect("create");
        assert_eq!(u.uid.len(), 64, "subject is a 64-hex string like Authentik's hashed user id");
        assert!(u.has_password == Some(false) && u.is_active);
        let err = dir.create_user(&new_user("Cashier_Test", "other@nextdoor.com")).await.expect_err("duplicate");
        assert_eq!(err.to_string(), "builtin: creating user cashier_test: already exists");
        let by_name = dir.find_user_by_username(&Username::parse("CASHIER_TEST").expect("u")).await.expect("find");
        assert_eq!(by_name.map(|x| x.pk), Some(u.pk));
        let by_email = dir.find_users_by_email(&Email::parse("Test.Cashier@nextdoor.com").expect("e")).await.expect("find");
        assert_eq!(by_email.len(), 1);
    }

    async fn membership_add_remove_and_list(db) {
        let dir = db.directory(Arc::new(fixed_clock()));
        let (g, _) = find_or_create_group(&dir, "fresh-mart-admins", serde_json::json!({})).await.expect("group");
        let u = dir.create_user(&new_user("fm_admin", "a@fresh-mart.com")).await.expect("user");
        dir.add_member(&g, u.pk).await.expect("add");
        dir.add_member(&g, u.pk).await.expect("add again is fine");
        assert_eq!(dir.list_members(&g).await.expect("list").len(), 1);
        assert_eq!(dir.user_groups(u.pk).await.expect("groups"), ["fresh-mart-admins"]);
        assert!(matches!(dir.add_member(&g, u.pk + 1000).await, Err(DirectoryError::NotFound { .. })));
        dir.remove_member(&g, u.pk).await.expect("remove");
        assert!(dir.list_members(&g).await.expect("list").is_empty());
    }

    async fn a_one_time_link_sets_the_password_once_and_expires(db) {
        let clock = fixed_clock();
        let dir = db.directory(Arc::new(clock.clone()));
        let u = dir.create_user(&new_user("jane_admin", "jane@x.com")).await.expect("user");
        let link = dir.password_set_link(u.pk).await.expect("link").expect("builtin issues links");
        assert!(link.url.expose_secret().starts_with("http://127.0.0.1:8080/auth/set-password?token="));
        let pw = SecretString::from("a long enough password");
        assert_eq!(dir.redeem_link(&token_of(&link.url), &SecretString::from("short")).await.expect_err("policy"), CredentialError::Policy("password must have at least 12 characters".into()));
        let acct = dir.redeem_link(&token_of(&link.url), &pw).await.expect("redeem");
        assert_eq!(acct.pk, u.pk);
        assert_eq!(dir.redeem_link(&token_of(&link.url), &pw).await.expect_err("twice"), CredentialError::LinkInvalid);
        assert_eq!(dir.authenticate("JANE_ADMIN", &pw).await.expect("sign in").pk, u.pk);
        assert_eq!(dir.authenticate("jane_admin", &SecretString::from("wrong password!!")).await.expect_err("wrong"), CredentialError::Invalid);
        assert_eq!(dir.authenticate("nobody", &pw).await.expect_err("unknown"), CredentialError::Invalid);

        let late = dir.password_set_link(u.pk).await.expect("link").expect("some");
        clock.advance(time::Duration::hours(73));
        assert_eq!(dir.redeem_link(&token_of(&late.url), &pw).await.expect_err("expired"), CredentialError::LinkInvalid);
    }

    async fn a_deactivated_user_cannot_sign_in(db) {
        let dir = db.directory(Arc::new(fixed_clock()));
        let u = dir.create_user(&new_user("leaver", "leaver@x.com")).await.expect("user");
        let pw = SecretString::from("a long enough password");
        dir.set_password(u.pk, &pw, false).await.expect("set");
        assert!(dir.authenticate("leaver", &pw).await.is_ok());
        dir.deactivate_user(u.pk).await.expect("deactivate");
        assert_eq!(dir.authenticate("leaver", &pw).await.expect_err("inactive"), CredentialError::Invalid);
        assert!(matches!(dir.deactivate_user(u.pk + 1000).await, Err(DirectoryError::NotFound { .. })));
    }
}
