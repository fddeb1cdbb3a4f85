//! Built-in accounts lose access at once: a cashier deactivated by an admin, an admin
//! removed from `{prefix}-admins`, an account deactivated; not one request succeeds
//! afterwards (the counts are printed). A password change ends the account's other
//! sessions and keeps the changer's; a reset through a one-time link ends them all.

use super::app::{CSRF, TestApp, Who};
use loyalty_core::directory::{Directory, find_or_create_group};
use loyalty_core::domain::{Role, Username};
use loyalty_core::secret;
use loyalty_core::store::NewMember;
use loyalty_testkit::{both_backends, fixed_clock_now};

async fn pk_of(app: &TestApp, username: &str) -> i64 {
    app.directory()
        .find_user_by_username(&Username::parse(username).unwrap())
        .await
        .unwrap()
        .unwrap()
        .pk
}

/// Another session of the same account (another browser).
async fn another_session(app: &TestApp, who: &Who, pk: i64) -> Who {
    let token = secret::random_token();
    let now = fixed_clock_now();
    app.db
        .store
        .insert_session(
            &secret::hash_token(&token),
            pk,
            CSRF,
            now,
            now + time::Duration::hours(1),
        )
        .await
        .unwrap();
    Who {
        cookie: Some(token),
        uid: who.uid.clone(),
    }
}

async fn member(app: &TestApp, who: &Who, role: Role) -> uuid::Uuid {
    app.db
        .store
        .upsert_member(
            app.a.id,
            &NewMember {
                identity_subject: who.uid.clone(),
                role,
                email: None,
                name: None,
                created_by: None,
            },
            fixed_clock_now(),
        )
        .await
        .unwrap()
        .id
}

/// 20 rounds of a page and an API call: how many of the 40 succeeded.
async fn successes(app: &TestApp, who: &Who, page: &str) -> usize {
    let mut ok = 0;
    for _ in 0..20 {
        for path in [page, "/api/v1/orgs/alpha/rewards"] {
            let r = app.get(who, path).await;
            assert!(
                [200, 303, 401, 403].contains(&r.status.as_u16()),
                "{path}: {} {}",
                r.status,
                r.body
            );
            ok += usize::from(r.status == 200);
        }
    }
    ok
}

both_backends! {
    async fn built_in_accounts_lose_access_at_once(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        member(&app, &admin, Role::Admin).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let cashier_member = member(&app, &cashier, Role::Cashier).await;
        let boss = app.person("alpha_boss", &["alpha-admins"]).await;
        let gone = app.person("alpha_gone", &["alpha-admins"]).await;
        assert_eq!(successes(&app, &cashier, "/o/alpha/till").await, 40);
        assert_eq!(successes(&app, &boss, "/o/alpha/admin").await, 40);

        let r = app.post(&admin, &format!("/o/alpha/admin/users/{cashier_member}/deactivate"), &[("csrf", CSRF)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let n = successes(&app, &cashier, "/o/alpha/till").await;
        println!("built-in cashier deactivated by an admin: {n} of 40 requests succeeded afterwards");
        assert_eq!(n, 0);

        let dir = app.directory();
        let (admins, _) = find_or_create_group(&dir, "alpha-admins", serde_json::json!({})).await.unwrap();
        dir.remove_member(&admins, pk_of(&app, "alpha_boss").await).await.unwrap();
        let n = successes(&app, &boss, "/o/alpha/admin").await;
        println!("built-in admin removed from alpha-admins: {n} of 40 requests succeeded afterwards");
        assert_eq!(n, 0);

        dir.deactivate_user(pk_of(&app, "alpha_gone").await).await.unwrap();
        let n = successes(&app, &gone, "/o/alpha/admin").await;
        println!("built-in account deactivated: {n} of 40 requests succeeded afterwards");
        assert_eq!(n, 0);
        // The admin who acted is unaffected.
        assert_eq!(app.get(&admin, "/o/alpha/admin").await.status, 200);
    }

    async fn a_password_change_ends_the_other_sessions_and_a_reset_ends_all(db) {
        let app = TestApp::new(db).await;
        let here = app.person("alpha_admin", &["alpha-admins"]).await;
        let pk = pk_of(&app, "alpha_admin").await;
        let there = another_session(&app, &here, pk).await;
        let other = app.person("alpha_other", &["alpha-admins"]).await;
        for who in [&here, &there, &other] {
            assert_eq!(app.get(who, "/o/alpha/admin").await.status, 200);
        }
        let r = app.post(&here, "/account/password", &[("csrf", CSRF), ("current", "password-1234"), ("password", "a brand new passphrase"), ("confirm", "a brand new passphrase")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(app.get(&here, "/o/alpha/admin").await.status, 200, "the changer stays signed in");
        let r = app.get(&there, "/o/alpha/admin").await;
        assert_eq!((r.status.as_u16(), r.location()), (303, "/login?next=/o/alpha/admin"), "the other session ended");
        assert_eq!(app.get(&there, "/api/v1/orgs/alpha/rewards").await.status, 401);
        assert_eq!(app.get(&other, "/o/alpha/admin").await.status, 200, "another account is untouched");

        // A reset through a one-time link ends every session, the changer's too.
        let again = another_session(&app, &here, pk).await;
        let link = app.directory().password_set_link(pk).await.unwrap().unwrap();
        let url = secrecy::ExposeSecret::expose_secret(&link.url).to_owned();
        let token = url.split("token=").nth(1).unwrap().to_owned();
        let r = app.post(&Who::anonymous(), "/auth/set-password", &[("token", &token), ("password", "yet another passphrase"), ("confirm", "yet another passphrase")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for who in [&here, &again] {
            assert_eq!(app.get(who, "/o/alpha/admin").await.status, 303);
            assert_eq!(app.get(who, "/api/v1/orgs/alpha/rewards").await.status, 401);
        }
        assert_eq!(app.get(&other, "/o/alpha/admin").await.status, 200);
    }
}
