//! Onboarding on both backends: success, a failure after every step then a re-run,
//! re-run after success, one run at a time (a claim that another run finds, and that
//! lapses when its run was killed), and bad input that writes nothing.

use loyalty_core::clock::Clock;
use loyalty_core::directory::{Directory, Outcome};
use loyalty_core::domain::{OrgSlug, OrgStatus, Role, Username};
use loyalty_core::service::onboard::{
    self, Credential, CredentialMode, NoHooks, OnboardInput, Step, StepHooks,
};
use loyalty_core::store::OnboardingClaim;
use loyalty_core::{Error, ErrorCode};
use loyalty_identity::BuiltinDirectory;
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

fn nextdoor() -> OnboardInput {
    OnboardInput {
        name: Some("NextDoor Market".into()),
        slug: Some("nextdoor".into()),
        admin_email: Some("jane.smith@nextdoormarket.com".into()),
        admin_name: Some("Jane Smith".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    }
}

struct FailAfter(Step);

impl StepHooks for FailAfter {
    fn after(&self, step: Step) -> Result<(), Error> {
        if step == self.0 {
            // A code onboarding never answers itself, so the test sees its own failure.
            Err(Error::Conflict(
                ErrorCode::OrgOnboarding,
                format!("injected failure after {step:?}"),
            ))
        } else {
            Ok(())
        }
    }
}

/// Everything onboarding should leave, as counts, so duplicates show.
async fn census(db: &TestDb, dir: &BuiltinDirectory) -> (usize, Vec<String>, usize, usize, usize) {
    let orgs = db.store.list_organizations().await.expect("orgs").len();
    let mut groups = Vec::new();
    let mut admin_group_members = 0;
    for g in ["nextdoor-admins", "nextdoor-cashiers", "nextdoor-customers"] {
        if let Some(group) = dir.find_group(g).await.expect("group") {
            groups.push(group.name.clone());
            if g == "nextdoor-admins" {
                admin_group_members = dir.list_members(&group).await.expect("members").len();
            }
        }
    }
    let admins = db
        .store
        .accounts_by_email("jane.smith@nextdoormarket.com")
        .await
        .expect("accounts")
        .len();
    let members = match db
        .store
        .organization_by_slug(&OrgSlug::parse("nextdoor").expect("slug"))
        .await
        .expect("org")
    {
        Some(org) => db
            .store
            .list_members(org.id, None)
            .await
            .expect("members")
            .len(),
        None => 0,
    };
    (orgs, groups, admins, admin_group_members, members)
}

fn link_token(c: &Option<Credential>) -> String {
    match c {
        Some(Credential::Link { url, .. }) => url
            .expose_secret()
            .split("token=")
            .nth(1)
            .expect("token")
            .to_owned(),
        other => panic!("expected a link, got {other:?}"),
    }
}

both_backends! {
    async fn a_run_that_finds_another_runs_claim_stops_and_a_lapsed_claim_is_taken_over(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let plan = nextdoor().validate().expect("valid");
        let slug = OrgSlug::parse("nextdoor").expect("slug");
        // A first run stopped right after creating the organization.
        onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Password, &FailAfter(Step::CreateOrganization))
            .await
            .expect_err("injected");
        let now = clock.now();
        let until = now + onboard::CLAIM_TTL;
        assert_eq!(db.store.claim_onboarding(&slug, "other-run", until, now).await.expect("claim"), OnboardingClaim::Claimed);
        assert_eq!(db.store.claim_onboarding(&slug, "third-run", until, now).await.expect("claim"), OnboardingClaim::Held { until });

        let err = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Password, &NoHooks)
            .await
            .expect_err("another run holds it");
        assert_eq!(err.code(), "onboard.in_progress");
        assert!(err.to_string().contains("organization nextdoor is being onboarded by another run"), "{err}");
        assert!(err.to_string().contains("2025-01-23T14:10:30Z"), "{err}");
        assert_eq!(census(&db, &dir).await.2, 0, "no admin account was made");

        // The other run was killed: its claim lapses and a new run takes over.
        clock.advance(onboard::CLAIM_TTL + time::Duration::seconds(1));
        let report = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Password, &NoHooks)
            .await
            .expect("completes");
        assert!(matches!(report.credential, Some(Credential::Password(_))));
        assert_eq!(report.org.status, OrgStatus::Active);
        // Nothing to claim once active; the claim of a finished run is gone.
        assert_eq!(db.store.claim_onboarding(&slug, "late-run", until, clock.now()).await.expect("claim"), OnboardingClaim::NotOnboarding);
        db.store.release_onboarding(&slug, "nobody").await.expect("release is harmless");
    }

    async fn onboarding_creates_the_org_groups_admin_and_a_working_one_time_link(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let plan = nextdoor().validate().expect("valid");
        let report = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Link, &NoHooks).await.expect("onboard");
        assert!(!report.already_onboarded);
        assert_eq!(report.org.status, OrgStatus::Active);
        assert_eq!(report.org.currency.as_str(), "USD");
        assert_eq!(report.groups, ["nextdoor-admins", "nextdoor-cashiers", "nextdoor-customers"]);
        assert_eq!(report.admin_username, "nextdoor_admin");
        assert!(report.steps.iter().all(|(_, o)| *o == Outcome::Created), "{:?}", report.steps);
        assert_eq!(census(&db, &dir).await, (1, report.groups.clone(), 1, 1, 1));

        let admin = dir.find_user_by_username(&Username::parse("nextdoor_admin").expect("u")).await.expect("find").expect("admin");
        let member = db.store.member_by_subject(report.org.id, &admin.uid).await.expect("member").expect("row");
        assert_eq!(member.role, Role::Admin);
        assert_eq!(member.email.as_deref(), Some("jane.smith@nextdoormarket.com"));
        let Some(Credential::Link { expires_at, .. }) = &report.credential else { panic!("link expected") };
        assert_eq!(*expires_at, Some(clock.now() + time::Duration::hours(72)));

        let pw = SecretString::from("jane's own passphrase");
        dir.redeem_link(&link_token(&report.credential), &pw).await.expect("link works");
        let signed_in = dir.authenticate("nextdoor_admin", &pw).await.expect("sign in");
        let groups = dir.user_groups(signed_in.pk).await.expect("groups");
        let roles = loyalty_core::domain::resolve_memberships(&groups);
        assert_eq!(roles.len(), 1);
        assert_eq!((roles[0].prefix.as_str(), roles[0].role), ("nextdoor", Role::Admin));
    }

    async fn a_failure_after_any_step_is_completed_by_a_re_run_without_duplicates(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let plan = nextdoor().validate().expect("valid");
        let mut expected = None;
        for step in Step::ALL {
            let fresh = TestDb::new(db.kind).await;
            let dir = fresh.directory(clock.clone());
            let err = onboard::onboard(fresh.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Link, &FailAfter(step))
                .await
                .expect_err("injected failure");
            assert_eq!(err.code(), ErrorCode::OrgOnboarding);
            let org = fresh.store.organization_by_slug(&plan.org.slug).await.expect("org").expect("created first");
            if step != Step::ActivateOrganization {
                assert_eq!(org.status, OrgStatus::Onboarding, "half-finished onboarding is not active (failed after {step:?})");
                assert!(loyalty_core::service::orgs::suspend(fresh.store.as_ref(), "nextdoor", &loyalty_core::domain::ledger::Actor::operator("ops"), clock.now()).await.is_err());
            }
            let report = onboard::onboard(fresh.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Link, &NoHooks)
                .await
                .expect("re-run completes");
            assert_eq!(report.org.status, OrgStatus::Active, "after failing at {step:?}");
            let counts = census(&fresh, &dir).await;
            assert_eq!(counts, (1, report.groups.clone(), 1, 1, 1), "after failing at {step:?}");
            if step != Step::ActivateOrganization {
                let pw = SecretString::from("a fine long password");
                dir.redeem_link(&link_token(&report.credential), &pw).await.expect("the re-run's link works");
            }
            expected.get_or_insert(counts);
        }
        drop(dir);
    }

    async fn re_running_after_success_reports_already_onboarded_and_changes_nothing(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let plan = nextdoor().validate().expect("valid");
        let first = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Link, &NoHooks).await.expect("first");
        let before = census(&db, &dir).await;
        clock.advance(time::Duration::minutes(10));
        let second = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Link, &NoHooks).await.expect("second");
        assert!(second.already_onboarded);
        assert!(second.credential.is_none(), "no new credential on a re-run after success");
        assert!(second.steps.iter().all(|(_, o)| *o == Outcome::Existing));
        assert_eq!(census(&db, &dir).await, before);
        assert_eq!(second.org.updated_at, first.org.updated_at);
        let pw = SecretString::from("still the first link");
        dir.redeem_link(&link_token(&first.credential), &pw).await.expect("first link still valid");
    }

    async fn the_password_option_sets_a_generated_password_that_must_be_changed(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let plan = nextdoor().validate().expect("valid");
        let report = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &plan, CredentialMode::Password, &NoHooks).await.expect("onboard");
        let Some(Credential::Password(pw)) = &report.credential else { panic!("password expected") };
        let account = dir.authenticate("nextdoor_admin", pw).await.expect("generated password signs in");
        assert!(account.must_change_password);
        assert!(account.password_hash.as_deref().is_some_and(|h| h.starts_with("$argon2id$")));
    }

    async fn one_person_can_administer_two_organizations_with_one_account(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let first = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &nextdoor().validate().expect("v"), CredentialMode::Link, &NoHooks).await.expect("one");
        dir.redeem_link(&link_token(&first.credential), &SecretString::from("jane's own passphrase")).await.expect("link");
        let second_input = OnboardInput { name: Some("Fresh Mart".into()), slug: Some("fresh-mart".into()), ..nextdoor() };
        let second = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &second_input.validate().expect("v"), CredentialMode::Link, &NoHooks).await.expect("two");
        assert_eq!(second.admin_username, "nextdoor_admin", "the existing account is reused");
        assert!(matches!(second.credential, Some(Credential::Existing)));
        let account = dir.authenticate("nextdoor_admin", &SecretString::from("jane's own passphrase")).await.expect("sign in");
        let roles = loyalty_core::domain::resolve_memberships(&dir.user_groups(account.pk).await.expect("groups"));
        let prefixes: Vec<&str> = roles.iter().map(|m| m.prefix.as_str()).collect();
        assert_eq!(prefixes, ["fresh-mart", "nextdoor"]);
    }

    async fn an_org_made_by_the_runbook_sql_is_completed_by_onboard_and_stays_active(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        // What runbook step 2.1 leaves: an active row with no groups and no admin.
        let mut input = nextdoor();
        input.name = Some("NextDoorMarket".into());
        db.store.insert_organization(&input.validate().expect("v").org, OrgStatus::Active, clock.now()).await.expect("sql step");
        let report = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &nextdoor().validate().expect("v"), CredentialMode::Link, &NoHooks).await.expect("onboard");
        assert!(!report.already_onboarded);
        assert_eq!(report.steps[0], (Step::CreateOrganization, Outcome::Existing));
        assert_eq!(report.org.name, "NextDoorMarket", "the existing row is kept as the operator wrote it");
        assert_eq!(report.org.status, OrgStatus::Active);
        assert_eq!(census(&db, &dir).await, (1, report.groups.clone(), 1, 1, 1));
    }

    async fn a_different_admin_email_on_a_re_run_is_refused_and_writes_nothing(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &nextdoor().validate().expect("v"), CredentialMode::Link, &NoHooks).await.expect("one");
        let before = census(&db, &dir).await;
        let other = OnboardInput { admin_email: Some("someone.else@nextdoormarket.com".into()), ..nextdoor() };
        let err = onboard::onboard(db.store.as_ref(), &dir, clock.as_ref(), &other.validate().expect("v"), CredentialMode::Link, &NoHooks).await.expect_err("mismatch");
        assert_eq!(err.code(), "onboard.admin_mismatch");
        assert!(err.is_user_error());
        assert_eq!(census(&db, &dir).await, before);
    }
}

#[test]
fn every_bad_input_is_named_and_nothing_is_validated_half_way() {
    let cases: &[(&str, OnboardInput)] = &[
        (
            "name",
            OnboardInput {
                name: Some("   ".into()),
                ..nextdoor()
            },
        ),
        (
            "slug",
            OnboardInput {
                slug: Some("Next Door".into()),
                ..nextdoor()
            },
        ),
        (
            "slug",
            OnboardInput {
                slug: Some("api".into()),
                ..nextdoor()
            },
        ),
        (
            "slug",
            OnboardInput {
                slug: None,
                ..nextdoor()
            },
        ),
        (
            "admin-email",
            OnboardInput {
                admin_email: Some("jane-at-example".into()),
                ..nextdoor()
            },
        ),
        (
            "admin-name",
            OnboardInput {
                admin_name: Some("".into()),
                ..nextdoor()
            },
        ),
        (
            "plan",
            OnboardInput {
                plan: Some("gold".into()),
                ..nextdoor()
            },
        ),
        (
            "country",
            OnboardInput {
                country: Some("USA".into()),
                ..nextdoor()
            },
        ),
        (
            "timezone",
            OnboardInput {
                timezone: Some("America/Gotham".into()),
                ..nextdoor()
            },
        ),
        (
            "language",
            OnboardInput {
                language: Some("klingon!".into()),
                ..nextdoor()
            },
        ),
        (
            "currency",
            OnboardInput {
                currency: Some("DOGE".into()),
                ..nextdoor()
            },
        ),
    ];
    for (field, input) in cases {
        match input.validate() {
            Err(Error::Validation(errors)) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].field, *field, "{errors:?}");
            }
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }
    let all_bad = OnboardInput {
        name: None,
        slug: Some("-".into()),
        admin_email: None,
        admin_name: None,
        plan: Some("x".into()),
        ..OnboardInput::default()
    };
    let Err(Error::Validation(errors)) = all_bad.validate() else {
        panic!("accepted")
    };
    assert_eq!(errors.len(), 5, "every error reported at once: {errors:?}");
}
