//! The directory contract on Authentik's API: the same semantics as the built-in
//! directory, plus retries, error messages and paging.

use crate::standin::{Fault, Recovery, StandIn, TOKEN};
use loyalty_core::directory::{
    DirGroup, Directory, DirectoryError, NewDirUser, Outcome, find_or_create_group,
};
use loyalty_core::domain::{Email, Username};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::time::Duration;

fn new_user(username: &str, email: &str) -> NewDirUser {
    NewDirUser {
        username: Username::parse(username).unwrap(),
        name: "Test Cashier".into(),
        email: Some(Email::parse(email).unwrap()),
        attributes: json!({"created_by": "loyalty"}),
    }
}

async fn group(dir: &dyn Directory, name: &str) -> DirGroup {
    find_or_create_group(dir, name, json!({"loyalty_org": "nextdoor"}))
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn finding_or_creating_a_group_twice_gives_one_group() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let (g1, o1) = find_or_create_group(&dir, "nextdoor-admins", json!({"source": "nextdoor"}))
        .await
        .unwrap();
    let (g2, o2) = find_or_create_group(&dir, "nextdoor-admins", json!({}))
        .await
        .unwrap();
    assert_eq!((o1, o2), (Outcome::Created, Outcome::Existing));
    assert_eq!(g1, g2);
    assert!(uuid::Uuid::parse_str(&g1.pk).is_ok(), "group pk is a UUID");
    assert_eq!(ak.group_names(), ["nextdoor-admins"]);
    let again = dir.create_group("nextdoor-admins", json!({})).await;
    assert!(
        matches!(again, Err(DirectoryError::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(
        again.unwrap_err().to_string(),
        "authentik: creating group nextdoor-admins: already exists"
    );
}

#[tokio::test]
async fn a_group_whose_name_only_contains_the_wanted_one_is_not_found() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    group(&dir, "big-nextdoor-admins").await;
    assert_eq!(dir.find_group("nextdoor-admins").await.unwrap(), None);
}

#[tokio::test]
async fn a_duplicate_username_is_already_exists() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("cashier_test", "test.cashier@nextdoor.com"))
        .await
        .unwrap();
    assert_eq!(u.uid.len(), 64, "the subject is Authentik's 64-hex uid");
    // Made without a password: Authentik's password_change_date is its creation time.
    assert!(u.is_active && u.has_password == Some(false));
    // Set minutes later (through a link): a password chosen.
    ak.choose_password("cashier_test", "chosen later");
    let later = dir.find_user(u.pk).await.unwrap().expect("user");
    assert_eq!(later.has_password, Some(true));
    assert_eq!(ak.password_of(u.pk).as_deref(), Some("chosen later"));
    let u = later;
    assert_eq!(u.email.as_deref(), Some("test.cashier@nextdoor.com"));
    let created = ak.user_json(u.pk).unwrap();
    assert_eq!(created["path"], "loyalty");
    assert_eq!(created["type"], "internal");
    assert_eq!(created["attributes"], json!({"created_by": "loyalty"}));

    let before = ak.call_count();
    let err = dir
        .create_user(&new_user("cashier_test", "other@nextdoor.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::AlreadyExists { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "authentik: creating user cashier_test: already exists"
    );
    assert_eq!(ak.call_count(), before + 1, "a 400 is not retried");

    let by_name = dir
        .find_user_by_username(&Username::parse("cashier_test").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name.map(|x| x.pk), Some(u.pk));
    let by_email = dir
        .find_users_by_email(&Email::parse("test.cashier@nextdoor.com").unwrap())
        .await
        .unwrap();
    assert_eq!(by_email, std::slice::from_ref(&u));
    assert_eq!(dir.find_user(u.pk).await.unwrap(), Some(u.clone()));
    assert_eq!(dir.find_user(u.pk + 1000).await.unwrap(), None);
    assert_eq!(
        dir.find_user_by_username(&Username::parse("nobody").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn adding_a_member_twice_is_fine_and_removing_a_non_member_too() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let g = group(&dir, "fresh-mart-admins").await;
    let u = dir
        .create_user(&new_user("fm_admin", "a@fresh-mart.com"))
        .await
        .unwrap();
    dir.add_member(&g, u.pk).await.unwrap();
    dir.add_member(&g, u.pk).await.unwrap();
    assert_eq!(
        ak.memberships(),
        [("fresh-mart-admins".to_owned(), "fm_admin".to_owned())]
    );
    assert_eq!(
        dir.list_members(&g).await.unwrap(),
        std::slice::from_ref(&u)
    );
    dir.remove_member(&g, u.pk).await.unwrap();
    dir.remove_member(&g, u.pk).await.unwrap();
    assert!(dir.list_members(&g).await.unwrap().is_empty());
}

#[tokio::test]
async fn adding_an_unknown_user_is_not_found() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let g = group(&dir, "fresh-mart-admins").await;
    let before = ak.call_count();
    let err = dir.add_member(&g, 999).await.unwrap_err();
    assert!(matches!(err, DirectoryError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "authentik: adding user 999 to group fresh-mart-admins: not found"
    );
    assert_eq!(ak.call_count(), before + 1, "a 404 is not retried");
    let gone = DirGroup {
        pk: uuid::Uuid::new_v4().to_string(),
        name: "deleted-admins".into(),
    };
    let u = dir
        .create_user(&new_user("fm_admin", "a@fresh-mart.com"))
        .await
        .unwrap();
    assert!(matches!(
        dir.add_member(&gone, u.pk).await,
        Err(DirectoryError::NotFound { .. })
    ));
    assert!(matches!(
        dir.list_members(&gone).await,
        Err(DirectoryError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_recovery_link_is_returned_when_the_brand_has_a_recovery_flow() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("jane_admin", "jane@x.com"))
        .await
        .unwrap();
    let link = dir.password_set_link(u.pk).await.unwrap().unwrap();
    assert!(
        link.url.expose_secret().starts_with(&format!(
            "{}/if/flow/default-recovery-flow/?flow_token=",
            ak.url
        )),
        "{}",
        link.url.expose_secret()
    );
    assert_eq!(link.expires_at, None, "Authentik does not say");
    let last = ak.calls().pop().unwrap();
    assert_eq!(last.operation, "POST /core/users/{id}/recovery/");
    assert!(matches!(
        dir.password_set_link(u.pk + 1000).await,
        Err(DirectoryError::NotFound { .. })
    ));
}

#[tokio::test]
async fn without_a_recovery_flow_there_is_no_link_on_current_and_older_authentik() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("jane_admin", "jane@x.com"))
        .await
        .unwrap();
    for recovery in [Recovery::NoFlow, Recovery::NoFlowLegacy] {
        ak.set_recovery(recovery);
        let before = ak.call_count();
        assert!(
            dir.password_set_link(u.pk).await.unwrap().is_none(),
            "{recovery:?}"
        );
        assert_eq!(
            ak.call_count(),
            before + 1,
            "{recovery:?}: one call, no retry"
        );
    }
}

#[tokio::test]
async fn set_password_sends_the_password_and_ignores_must_change() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("jane_admin", "jane@x.com"))
        .await
        .unwrap();
    dir.set_password(u.pk, &SecretString::from("a long enough password"), true)
        .await
        .unwrap();
    assert_eq!(
        ak.password_of(u.pk).as_deref(),
        Some("a long enough password")
    );
    assert!(matches!(
        dir.set_password(u.pk + 1000, &SecretString::from("x"), false)
            .await,
        Err(DirectoryError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_5xx_once_is_retried_and_then_succeeds() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    ak.fail_next(Fault::unavailable());
    let g = dir
        .create_group("nextdoor-admins", json!({}))
        .await
        .unwrap();
    assert_eq!(g.name, "nextdoor-admins");
    assert_eq!(
        ak.operations_since(0),
        ["POST /core/groups/", "POST /core/groups/"]
    );
    assert_eq!(ak.group_names(), ["nextdoor-admins"]);
}

#[tokio::test]
async fn a_call_without_an_answer_in_time_is_retried() {
    let ak = StandIn::start().await;
    let dir = ak.directory_opts(TOKEN, 3, Duration::from_secs(1));
    ak.fail_next(Fault::slow(Duration::from_secs(30)));
    assert_eq!(dir.find_group("nextdoor-admins").await.unwrap(), None);
    assert_eq!(ak.call_count(), 2);
}

#[tokio::test]
async fn persistent_5xx_fails_after_the_retries_with_a_clear_message() {
    let ak = StandIn::start().await;
    let dir = ak.directory_with(TOKEN, 2);
    for n in 1..=3 {
        ak.fail_call(n, Fault::unavailable());
    }
    let err = dir.find_group("nextdoor-admins").await.unwrap_err();
    assert_eq!(ak.call_count(), 3, "1 attempt and 2 retries");
    assert_eq!(
        err.to_string(),
        "authentik: finding group nextdoor-admins: 503 Service Unavailable after 3 attempts"
    );
}

#[tokio::test]
async fn a_4xx_is_not_retried() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    ak.fail_next(Fault::status(
        400,
        Some(json!({"name": ["Ensure this field has no more than 150 characters."]})),
    ));
    let err = dir
        .create_group("nextdoor-admins", json!({}))
        .await
        .unwrap_err();
    assert_eq!(ak.call_count(), 1);
    assert_eq!(
        err.to_string(),
        "authentik: creating group nextdoor-admins: 400 name: Ensure this field has no more than 150 characters."
    );
    ak.fail_next(Fault::status(404, Some(json!({"detail": "Not found."}))));
    assert!(dir.find_group("x").await.is_err());
    assert_eq!(ak.call_count(), 2);
}

#[tokio::test]
async fn a_bad_token_gives_a_message_naming_authentik_and_403() {
    let ak = StandIn::start().await;
    let dir = ak.directory_with("not-the-token", 3);
    let err = dir
        .create_group("nextdoor-admins", json!({}))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("authentik: creating group nextdoor-admins: 403 Token invalid/expired"),
        "{text}"
    );
    assert!(text.contains("API token"), "{text}");
    assert_eq!(ak.call_count(), 1, "a 403 is not retried");
    assert!(ak.group_names().is_empty());

    let check = dir.check().await.unwrap_err().to_string();
    assert!(
        check.contains("authentik") && check.contains("403"),
        "{check}"
    );
}

#[tokio::test]
async fn check_names_the_token_owner() {
    let ak = StandIn::start().await;
    let report = ak.directory().check().await.unwrap();
    assert_eq!(report.username, "akadmin");
    assert!(report.is_superuser);
    assert_eq!(report.api_url, format!("{}/api/v3/", ak.url));
    assert_eq!(ak.operations_since(0), ["GET /core/users/me/"]);
}

#[tokio::test]
async fn an_unreachable_authentik_is_retried_then_named() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = loyalty_identity::authentik::AuthentikDirectory::new(
        &format!("http://127.0.0.1:{port}"),
        SecretString::from(TOKEN),
        loyalty_identity::authentik::AuthentikOptions {
            backoff: Duration::from_millis(1),
            retries: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let text = dir.check().await.unwrap_err().to_string();
    assert!(
        text.starts_with(
            "authentik: checking the connection and the API token: cannot reach Authentik at 127.0.0.1"
        ),
        "{text}"
    );
    assert!(text.ends_with("(after 3 attempts)"), "{text}");
}

#[tokio::test]
async fn list_members_follows_every_page() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let g = group(&dir, "nextdoor-customers").await;
    let other = group(&dir, "nextdoor-cashiers").await;
    let mut pks = Vec::new();
    for i in 0..5 {
        let u = dir
            .create_user(&new_user(&format!("customer_{i}"), &format!("c{i}@x.com")))
            .await
            .unwrap();
        dir.add_member(&g, u.pk).await.unwrap();
        pks.push(u.pk);
    }
    let stranger = dir
        .create_user(&new_user("cashier_1", "k@x.com"))
        .await
        .unwrap();
    dir.add_member(&other, stranger.pk).await.unwrap();

    let before = ak.call_count();
    let mut members: Vec<i64> = dir
        .list_members(&g)
        .await
        .unwrap()
        .iter()
        .map(|u| u.pk)
        .collect();
    members.sort();
    assert_eq!(members, pks);
    let calls = &ak.calls()[before..];
    assert_eq!(calls.len(), 3, "5 members in pages of 2");
    let pages: Vec<_> = calls.iter().map(|c| c.param("page").unwrap()).collect();
    assert_eq!(pages, ["1", "2", "3"]);
    assert!(
        calls
            .iter()
            .all(|c| c.param("groups_by_name") == Some("nextdoor-customers"))
    );
}

#[tokio::test]
async fn deactivate_sets_is_active_false() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("leaver", "leaver@x.com"))
        .await
        .unwrap();
    dir.deactivate_user(u.pk).await.unwrap();
    assert_eq!(ak.user_json(u.pk).unwrap()["is_active"], false);
    assert!(!dir.find_user(u.pk).await.unwrap().unwrap().is_active);
    assert_eq!(ak.calls()[1].operation, "PATCH /core/users/{id}/");
    assert!(matches!(
        dir.deactivate_user(u.pk + 1000).await,
        Err(DirectoryError::NotFound { .. })
    ));
}

#[tokio::test]
async fn delete_removes_the_user_and_its_memberships() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("erased", "erased@x.com"))
        .await
        .unwrap();
    let (group, _) = find_or_create_group(&dir, "nextdoor-customers", serde_json::json!({}))
        .await
        .unwrap();
    dir.add_member(&group, u.pk).await.unwrap();
    dir.delete_user(u.pk).await.unwrap();
    assert!(ak.user_json(u.pk).is_none());
    assert!(dir.find_user(u.pk).await.unwrap().is_none());
    assert!(dir.list_members(&group).await.unwrap().is_empty());
    assert!(
        ak.calls()
            .iter()
            .any(|c| c.operation == "DELETE /core/users/{id}/")
    );
    assert!(matches!(
        dir.delete_user(u.pk).await,
        Err(DirectoryError::NotFound { .. })
    ));
    assert!(ak.take_violations().is_empty());
}

#[tokio::test]
async fn user_groups_lists_the_names_of_every_group_the_user_is_in() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let u = dir
        .create_user(&new_user("multi", "multi@x.com"))
        .await
        .unwrap();
    for name in ["a-customers", "b-cashiers", "c-admins"] {
        let g = group(&dir, name).await;
        dir.add_member(&g, u.pk).await.unwrap();
    }
    group(&dir, "d-admins").await;
    let mut names = dir.user_groups(u.pk).await.unwrap();
    names.sort();
    assert_eq!(names, ["a-customers", "b-cashiers", "c-admins"]);
    assert!(matches!(
        dir.user_groups(u.pk + 1000).await,
        Err(DirectoryError::NotFound { .. })
    ));
}

/// What access re-checks: one call gives the user's `is_active` and its groups now;
/// changes made in Authentik (membership, deactivation) show on the next look-up; a
/// username whose subject differs is nobody.
#[tokio::test]
async fn standing_shows_group_changes_and_deactivation_made_in_authentik() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let pk = ak.add_user_with_subject(
        "carla",
        "carla@example.test",
        &"c".repeat(64),
        &["nextdoor-cashiers", "other-admins"],
    );
    let before = ak.call_count();
    let s = dir
        .standing("carla", &"c".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ak.operations_since(before), ["GET /core/users/"]);
    assert!(s.user.is_active);
    let mut groups = s.groups.clone();
    groups.sort();
    assert_eq!(groups, ["nextdoor-cashiers", "other-admins"]);
    assert_eq!(dir.standing("carla", &"d".repeat(64)).await.unwrap(), None);
    assert_eq!(dir.standing("nobody", &"c".repeat(64)).await.unwrap(), None);

    // An Authentik admin removes her from a group, then deactivates her.
    let g = dir.find_group("nextdoor-cashiers").await.unwrap().unwrap();
    dir.remove_member(&g, pk).await.unwrap();
    let s = dir
        .standing("carla", &"c".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.groups, ["other-admins"]);
    dir.deactivate_user(pk).await.unwrap();
    let s = dir
        .standing("carla", &"c".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert!(!s.user.is_active);
    // A refusal is an error, never "no such user".
    ak.fail_operation(
        "GET /core/users/",
        Fault::status(403, Some(json!({"detail": "Token invalid/expired"}))),
    );
    let err = dir.standing("carla", &"c".repeat(64)).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
}

/// The cache of access: an answer is kept for the bound, dropped at once by a change
/// loyalty makes through it, and an Authentik that is down is an error, never a kept
/// answer past the bound.
#[tokio::test]
async fn the_cached_directory_keeps_answers_for_the_bound_only() {
    use loyalty_core::clock::FixedClock;
    use loyalty_core::directory::cache::CachedDirectory;
    use std::sync::Arc;
    let ak = StandIn::start().await;
    let outside = ak.directory();
    let pk = ak.add_user_with_subject("dora", "dora@example.test", &"d".repeat(64), &["x-admins"]);
    // A clock the test moves: how slow the machine is cannot age an answer early.
    let clock = FixedClock::new(time::OffsetDateTime::now_utc());
    let cached = CachedDirectory::new(
        ak.directory_with(TOKEN, 0),
        time::Duration::seconds(2),
        Arc::new(clock.clone()),
    );
    let subject = "d".repeat(64);
    let look = || cached.standing("dora", &subject);
    assert_eq!(look().await.unwrap().unwrap().groups, ["x-admins"]);
    let g = outside.find_group("x-admins").await.unwrap().unwrap();
    // Removed in Authentik: still kept within the bound, seen after it.
    outside.remove_member(&g, pk).await.unwrap();
    let calls = ak.call_count();
    clock.advance(time::Duration::milliseconds(1900));
    assert_eq!(look().await.unwrap().unwrap().groups, ["x-admins"]);
    assert_eq!(ak.call_count(), calls, "a kept answer asks nothing");
    clock.advance(time::Duration::milliseconds(200));
    assert!(look().await.unwrap().unwrap().groups.is_empty());
    // Added back through the cache (as loyalty does): seen at once.
    cached.add_member(&g, pk).await.unwrap();
    assert_eq!(look().await.unwrap().unwrap().groups, ["x-admins"]);
    // Down: the kept answer until the bound, then an error.
    ak.set_down(true);
    clock.advance(time::Duration::milliseconds(1900));
    assert!(look().await.is_ok());
    clock.advance(time::Duration::milliseconds(200));
    let err = look().await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    ak.set_down(false);
    assert!(look().await.is_ok());
}
