//! The operator console's store on both backends: the kept organization checks (the
//! latest run, per organization), the page of shops filtered by search, status and plan;
//! the operators group managed through the built-in directory.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Organization};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::operators::{self, NewOperator};
use loyalty_core::service::{org_checks, orgs};
use loyalty_core::store::{ConsoleFilter, ConsoleSort};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::sync::Arc;

async fn onboarded(db: &TestDb, clock: &Arc<FixedClock>, slug: &str, plan: &str) -> Organization {
    let dir = db.directory(clock.clone());
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        plan: Some(plan.into()),
        ..OnboardInput::default()
    };
    let plan = input.validate().expect("valid");
    onboard::onboard(
        db.store.as_ref(),
        &dir,
        clock.as_ref(),
        &plan,
        CredentialMode::Password,
        &NoHooks,
    )
    .await
    .expect("onboard")
    .org
}

both_backends! {
    async fn kept_checks_and_the_console_page_belong_to_their_organization(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let store = db.store.as_ref();
        let alpha = onboarded(&db, &clock, "alpha", "basic").await;
        let beta = onboarded(&db, &clock, "beta", "premium").await;
        let ops = Actor::operator("ops");
        let first = org_checks::run_and_keep(store, &dir, &alpha, &ops, clock.now()).await.unwrap();
        assert_eq!((first.worst.as_str(), first.fail, first.warn), ("ok", 0, 0), "{:?}", first.results);
        assert!(first.ok >= 4, "{first:?}");
        let later = clock.now() + time::Duration::minutes(5);
        orgs::suspend(store, "alpha", &ops, later).await.unwrap();
        let alpha = orgs::get(store, "alpha").await.unwrap();
        let second = org_checks::run_and_keep(store, &dir, &alpha, &ops, later).await.unwrap();
        assert_eq!(second.worst, "fail", "a suspended shop fails org.active");
        let latest = store.latest_org_checks(alpha.id).await.unwrap().unwrap();
        assert_eq!((latest.id, latest.ran_at, latest.ran_by.as_str()), (second.id, later, "ops"));
        assert!(latest.results.as_array().unwrap().iter().any(|c| c["id"] == "org.active" && c["status"] == "FAIL"));
        assert!(store.latest_org_checks(beta.id).await.unwrap().is_none());

        let windows = orgs::console_windows(later);
        let all = store.console_page(&ConsoleFilter::default(), windows).await.unwrap();
        assert_eq!(all.total, 2);
        let a = all.shops.iter().find(|s| s.summary.org.id == alpha.id).unwrap();
        let b = all.shops.iter().find(|s| s.summary.org.id == beta.id).unwrap();
        assert_eq!(a.checks.as_ref().map(|c| (c.worst.as_str(), c.ran_at)), Some(("fail", later)));
        assert!(b.checks.is_none());
        assert_eq!((a.summary.admins, b.summary.admins), (1, 1));
        let suspended = store.console_page(&ConsoleFilter { status: Some(OrgStatus::Suspended), ..Default::default() }, windows).await.unwrap();
        assert_eq!(suspended.shops.iter().map(|s| s.summary.org.slug.as_str()).collect::<Vec<_>>(), ["alpha"]);
        let premium = store.console_page(&ConsoleFilter { plan: Some("premium".into()), ..Default::default() }, windows).await.unwrap();
        assert_eq!(premium.shops.iter().map(|s| s.summary.org.slug.as_str()).collect::<Vec<_>>(), ["beta"]);
        let by_slug = store.console_page(&ConsoleFilter { search: Some("bet".into()), ..Default::default() }, windows).await.unwrap();
        assert_eq!((by_slug.total, by_slug.shops[0].summary.org.slug.as_str()), (1, "beta"));
        let none = store.console_page(&ConsoleFilter { search: Some("zzz".into()), ..Default::default() }, windows).await.unwrap();
        assert_eq!((none.total, none.shops.len()), (0, 0));
        let desc = store.console_page(&ConsoleFilter { sort: ConsoleSort::Slug, descending: true, limit: Some(1), ..Default::default() }, windows).await.unwrap();
        assert_eq!((desc.total, desc.shops.len(), desc.shops[0].summary.org.slug.as_str()), (2, 1, "beta"));
    }

    async fn operators_are_added_listed_and_removed_through_the_directory(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        assert!(operators::list(&dir, "loyalty-operators").await.unwrap().is_empty(), "no group yet");
        assert!(!operators::any_active(&dir, "loyalty-operators").await.unwrap());
        let new = NewOperator::parse("ana_ops", "Ana Souza", Some("ana@ops.example.com")).unwrap();
        let added = operators::add(&dir, "loyalty-operators", &new, CredentialMode::Link).await.unwrap();
        assert!(matches!(added.credential, loyalty_core::service::mail::Credential::Link { .. }));
        let again = operators::add(&dir, "loyalty-operators", &new, CredentialMode::Link).await.unwrap();
        assert_eq!(again.user.pk, added.user.pk);
        assert!(operators::any_active(&dir, "loyalty-operators").await.unwrap());
        let list = operators::list(&dir, "loyalty-operators").await.unwrap();
        assert_eq!(list.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["ana_ops"]);
        assert!(NewOperator::parse("no spaces", "", Some("x")).is_err());
        operators::remove(&dir, "loyalty-operators", "ana_ops").await.unwrap();
        assert!(operators::list(&dir, "loyalty-operators").await.unwrap().is_empty());
        let e = operators::remove(&dir, "loyalty-operators", "ana_ops").await.unwrap_err();
        assert_eq!(e.code(), loyalty_core::ErrorCode::NotFound);
    }
}
