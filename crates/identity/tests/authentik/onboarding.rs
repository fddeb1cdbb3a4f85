//! The onboarding use case (`loyalty_core::service::onboard`) on Authentik (the
//! stand-in) and SQLite: the exact calls of a fresh run, a re-run that changes nothing,
//! and a failure at every single call completed by a re-run.

use crate::standin::{Fault, StandIn, TOKEN};
use loyalty_core::clock::SystemClock;
use loyalty_core::directory::Outcome;
use loyalty_core::domain::OrgStatus;
use loyalty_core::service::onboard::{
    Credential, CredentialMode, NoHooks, OnboardInput, OnboardPlan, onboard,
};
use loyalty_core::store::{OrgStore, Store};
use loyalty_store_sqlite::SqliteStore;

/// The calls of a fresh onboarding, as schema operations.
const FRESH_RUN: [&str; 13] = [
    "GET /core/brands/current/", // a recovery flow, so that a link can be issued
    "GET /core/groups/",         // find {slug}-admins
    "POST /core/groups/",        // create it
    "GET /core/groups/",         // find {slug}-cashiers
    "POST /core/groups/",
    "GET /core/groups/", // find {slug}-customers
    "POST /core/groups/",
    "GET /core/users/",                         // {slug}_admin by username
    "GET /core/users/",                         // an account with the admin's email
    "POST /core/users/",                        // create the admin
    "GET /core/groups/",                        // the admin's groups
    "POST /core/groups/{group_uuid}/add_user/", // into {slug}-admins
    "POST /core/users/{id}/recovery/",          // the one-time link
];

/// The calls of a re-run after success: look-ups only.
const RERUN: [&str; 5] = [
    "GET /core/groups/",
    "GET /core/groups/",
    "GET /core/groups/",
    "GET /core/users/",
    "GET /core/groups/",
];

async fn sqlite(dir: &tempfile::TempDir) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn plan(slug: &str) -> OnboardPlan {
    OnboardInput {
        name: Some(format!("Shop {slug}")),
        slug: Some(slug.into()),
        admin_email: Some(format!("owner@{slug}.example.com")),
        admin_name: Some("Olive Owner".into()),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

/// Checks that Authentik and the database hold one complete onboarding of `slug`.
async fn assert_complete(ak: &StandIn, store: &SqliteStore, slug: &str) {
    assert_eq!(
        ak.group_names(),
        [
            format!("{slug}-admins"),
            format!("{slug}-cashiers"),
            format!("{slug}-customers")
        ],
        "{slug}: exactly 3 groups"
    );
    assert_eq!(
        ak.usernames(),
        [format!("{slug}_admin")],
        "{slug}: exactly 1 user"
    );
    assert_eq!(
        ak.memberships(),
        [(format!("{slug}-admins"), format!("{slug}_admin"))],
        "{slug}: exactly 1 membership"
    );
    let org = store
        .organization_by_slug(&plan(slug).org.slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.status, OrgStatus::Active, "{slug}");
}

#[tokio::test]
async fn a_fresh_onboarding_makes_exactly_these_calls_and_a_rerun_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = sqlite(&tmp).await;
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let plan = plan("nextdoor");

    let report = onboard(
        &store,
        &dir,
        &SystemClock,
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap();
    assert_eq!(ak.operations_since(0), FRESH_RUN);
    assert!(
        ak.calls()
            .iter()
            .all(|c| c.param("page_size").is_none() || c.param("page") == Some("1"))
    );
    assert!(report.steps.iter().all(|(_, o)| *o == Outcome::Created));
    match report.credential {
        Some(Credential::Link { url, .. }) => {
            assert!(
                secrecy::ExposeSecret::expose_secret(&url)
                    .contains("/if/flow/default-recovery-flow/")
            )
        }
        other => panic!("expected a recovery link, got {other:?}"),
    }
    assert_complete(&ak, &store, "nextdoor").await;
    let admin = ak.user_by_username("nextdoor_admin").unwrap();
    let member = store
        .member_by_subject(report.org.id, admin["uid"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the admin's users row carries Authentik's uid as subject");
    assert_eq!(member.role, loyalty_core::domain::Role::Admin);

    let before = ak.call_count();
    let again = onboard(
        &store,
        &dir,
        &SystemClock,
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap();
    assert!(again.already_onboarded);
    assert!(again.credential.is_none());
    assert_eq!(ak.operations_since(before), RERUN);
    assert_complete(&ak, &store, "nextdoor").await;
}

#[tokio::test]
async fn a_failure_at_any_call_is_completed_by_a_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let store = sqlite(&tmp).await;
    let kinds = [
        ("refused", Fault::unavailable()),
        ("lost", Fault::lost_answer()),
        (
            "token",
            Fault::status(
                403,
                Some(serde_json::json!({"detail": "Token invalid/expired"})),
            ),
        ),
    ];
    for n in 1..=FRESH_RUN.len() {
        for (kind, fault) in &kinds {
            let slug = format!("shop-{n}-{kind}");
            let plan = plan(&slug);
            let ak = StandIn::start().await;
            ak.fail_call(n, fault.clone());
            // No retries, so the injected failure ends the first run.
            let first = onboard(
                &store,
                &ak.directory_with(TOKEN, 0),
                &SystemClock,
                &plan,
                CredentialMode::Link,
                &NoHooks,
            )
            .await;
            let err = first.expect_err(&format!("{slug}: call {n} ({}) fails", FRESH_RUN[n - 1]));
            assert!(err.to_string().starts_with("authentik: "), "{slug}: {err}");
            let org = store.organization_by_slug(&plan.org.slug).await.unwrap();
            if n == 1 {
                // The brand is asked before anything is made.
                assert!(
                    org.is_none(),
                    "{slug}: nothing made before the brand answers"
                );
            } else {
                assert_eq!(
                    org.map(|o| o.status),
                    Some(OrgStatus::Onboarding),
                    "{slug}: not active after a failure"
                );
            }

            let rerun = onboard(
                &store,
                &ak.directory(),
                &SystemClock,
                &plan,
                CredentialMode::Link,
                &NoHooks,
            )
            .await
            .unwrap_or_else(|e| panic!("{slug}: re-run after a failure at call {n}: {e}"));
            assert!(!rerun.already_onboarded, "{slug}");
            assert!(rerun.credential.is_some(), "{slug}");
            assert_complete(&ak, &store, &slug).await;
        }
    }
}

#[tokio::test]
async fn without_a_recovery_flow_onboarding_refuses_before_making_anything_unless_a_password_is_asked_for()
 {
    let tmp = tempfile::tempdir().unwrap();
    let store = sqlite(&tmp).await;
    let ak = StandIn::start().await;
    ak.set_recovery(crate::standin::Recovery::NoFlow);
    let dir = ak.directory();
    let plan = plan("nextdoor");
    let err = onboard(
        &store,
        &dir,
        &SystemClock,
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), loyalty_core::ErrorCode::IdentityNoLinks);
    let text = err.to_string();
    assert!(text.contains("loyalty authentik setup"), "{text}");
    assert!(text.contains("--password-output"), "{text}");
    assert_eq!(ak.operations_since(0), ["GET /core/brands/current/"]);
    assert!(ak.group_names().is_empty() && ak.usernames().is_empty());
    assert!(
        store
            .organization_by_slug(&plan.org.slug)
            .await
            .unwrap()
            .is_none()
    );

    // Asked for, a generated password is given (and set at Authentik).
    let report = onboard(
        &store,
        &dir,
        &SystemClock,
        &plan,
        CredentialMode::Password,
        &NoHooks,
    )
    .await
    .unwrap();
    let Some(Credential::Password(p)) = &report.credential else {
        panic!("expected a password, got {:?}", report.credential);
    };
    let admin = ak.user_by_username("nextdoor_admin").unwrap();
    assert_eq!(
        ak.password_of(admin["pk"].as_i64().unwrap()).as_deref(),
        Some(secrecy::ExposeSecret::expose_secret(p))
    );

    // Once setup gave the brand loyalty's recovery flow, links go through it.
    let setup =
        loyalty_identity::authentik::OidcAppPlan::new("https://loyalty.example.com", None, None)
            .unwrap();
    dir.setup_oidc_application(&setup).await.unwrap();
    assert!(
        loyalty_core::directory::Directory::password_links_available(&dir)
            .await
            .unwrap()
    );
    let link =
        loyalty_core::directory::Directory::password_set_link(&dir, admin["pk"].as_i64().unwrap())
            .await
            .unwrap()
            .expect("a link");
    assert!(
        secrecy::ExposeSecret::expose_secret(&link.url).contains("/if/flow/loyalty-recovery-flow/")
    );
}
