//! Typed conflicts: each unique rule of the schema refuses a duplicate with its own
//! `Conflict`, on both backends, and enrolment tells the person what is taken.

use loyalty_core::domain::ledger::{Actor, NewCustomer, RewardInput};
use loyalty_core::domain::{OrgId, OrgStatus, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::store::{Conflict, NewAccount, NewMember, StoreError};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2025-01-23 14:05:30 UTC);

fn new_org(slug: &str, domain: Option<&str>) -> loyalty_core::domain::NewOrganization {
    OnboardInput {
        name: Some(format!("{slug} shop")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada Admin".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        custom_domain: domain.map(str::to_owned),
        ..OnboardInput::default()
    }
    .validate()
    .expect("valid")
    .org
}

async fn org(db: &TestDb, slug: &str) -> OrgId {
    db.store
        .insert_organization(&new_org(slug, None), OrgStatus::Active, NOW)
        .await
        .expect("org")
        .id
}

fn customer(card: &str, phone: Option<&str>, email: Option<&str>) -> NewCustomer {
    NewCustomer {
        phone: phone.map(str::to_owned),
        email: email.map(str::to_owned),
        name: None,
        card_number: card.into(),
        identity_subject: None,
        created_by: None,
    }
}

fn account(uid: &str, username: &str) -> NewAccount {
    NewAccount {
        uid: uid.into(),
        username: username.into(),
        name: "U".into(),
        email: None,
        attributes: serde_json::json!({}),
    }
}

fn reward(name: &str) -> RewardInput {
    RewardInput {
        name: name.into(),
        cost_points: 10,
        active: true,
        stock: None,
    }
}

/// The conflict a result failed with.
fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> Conflict {
    match r {
        Err(StoreError::Conflict(c)) => c,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

both_backends! {
    async fn a_taken_slug_is_an_org_slug_conflict(db) {
        org(&db, "nextdoor").await;
        let r = db.store.insert_organization(&new_org("nextdoor", None), OrgStatus::Active, NOW).await;
        assert_eq!(conflict(r), Conflict::OrgSlug);
    }

    async fn a_taken_custom_domain_is_its_own_conflict(db) {
        db.store.insert_organization(&new_org("alpha", Some("points.alpha.example.com")), OrgStatus::Active, NOW).await.expect("alpha");
        let r = db.store.insert_organization(&new_org("beta", Some("POINTS.alpha.example.com")), OrgStatus::Active, NOW).await;
        assert_eq!(conflict(r), Conflict::OrgCustomDomain);
    }

    async fn a_taken_username_in_any_case_is_a_username_conflict(db) {
        db.store.insert_account(&account("u1", "jane"), NOW).await.expect("a");
        assert_eq!(conflict(db.store.insert_account(&account("u2", "JANE"), NOW).await), Conflict::Username);
    }

    async fn a_taken_account_subject_is_an_account_uid_conflict(db) {
        db.store.insert_account(&account("u1", "jane"), NOW).await.expect("a");
        assert_eq!(conflict(db.store.insert_account(&account("u1", "john"), NOW).await), Conflict::AccountUid);
    }

    async fn a_taken_group_name_is_a_group_name_conflict(db) {
        db.store.insert_group("nextdoor-admins", &serde_json::json!({}), NOW).await.expect("g");
        assert_eq!(conflict(db.store.insert_group("nextdoor-admins", &serde_json::json!({}), NOW).await), Conflict::GroupName);
    }

    async fn customer_card_phone_and_email_conflict_each_by_name(db) {
        let o = org(&db, "nextdoor").await;
        let actor = Actor::system();
        db.store.enroll_customer(o, &customer("1000", Some("+12025550143"), Some("carla@example.com")), &actor, NOW).await.expect("first");
        let card = db.store.enroll_customer(o, &customer("1000", Some("+12025550199"), None), &actor, NOW).await;
        assert_eq!(conflict(card), Conflict::CustomerCard);
        let phone = db.store.enroll_customer(o, &customer("1001", Some("+12025550143"), None), &actor, NOW).await;
        assert_eq!(conflict(phone), Conflict::CustomerPhone);
        let email = db.store.enroll_customer(o, &customer("1002", None, Some("CARLA@example.com")), &actor, NOW).await;
        assert_eq!(conflict(email), Conflict::CustomerEmail);
        let other = org(&db, "other").await;
        db.store.enroll_customer(other, &customer("1000", Some("+12025550143"), Some("carla@example.com")), &actor, NOW).await.expect("another organization has its own customers");
    }

    async fn a_person_enrolled_twice_is_a_member_subject_conflict(db) {
        let o = org(&db, "nextdoor").await;
        db.store.upsert_member(o, &NewMember { identity_subject: "sub-1".into(), role: Role::Customer, email: None, name: None, created_by: None }, NOW).await.expect("member");
        let again = NewCustomer { identity_subject: Some("sub-1".into()), ..customer("2000", Some("+12025550100"), None) };
        assert_eq!(conflict(db.store.enroll_customer(o, &again, &Actor::system(), NOW).await), Conflict::MemberSubject);
    }

    async fn a_taken_reward_name_in_any_case_is_a_reward_name_conflict(db) {
        let o = org(&db, "nextdoor").await;
        let actor = Actor::system();
        db.store.create_reward(o, &reward("Coffee"), &actor, NOW).await.expect("coffee");
        let tea = db.store.create_reward(o, &reward("Tea"), &actor, NOW).await.expect("tea");
        assert_eq!(conflict(db.store.create_reward(o, &reward("COFFEE"), &actor, NOW).await), Conflict::RewardName);
        assert_eq!(conflict(db.store.update_reward(o, tea.id, &reward("coffee"), &actor, NOW).await), Conflict::RewardName);
    }

    async fn a_reused_token_hash_is_a_token_hash_conflict(db) {
        let o = org(&db, "nextdoor").await;
        let actor = Actor::system();
        db.store.insert_api_token(o, "till 1", Role::Cashier, "hash-1", &actor, NOW).await.expect("token");
        assert_eq!(conflict(db.store.insert_api_token(o, "till 2", Role::Cashier, "hash-1", &actor, NOW).await), Conflict::TokenHash);
    }

    async fn enrolment_says_which_detail_is_taken(db) {
        let clock = fixed_clock();
        let o = db.store.insert_organization(&new_org("nextdoor", None), OrgStatus::Active, NOW).await.expect("org");
        let cashier = Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &o,
            actor: Actor { member_id: None, label: "till".into(), role: "cashier".into(), request_id: None },
            role: Role::Cashier,
        };
        points::enroll(&cashier, &EnrollInput { phone: Some("+12025550143".into()), email: Some("carla@example.com".into()), name: None }, None).await.expect("enroll");
        let phone = points::enroll(&cashier, &EnrollInput { phone: Some("+12025550143".into()), ..EnrollInput::default() }, None).await.expect_err("phone");
        assert_eq!(phone.code(), "customer.exists");
        assert!(phone.to_string().contains("phone number"), "{phone}");
        let email = points::enroll(&cashier, &EnrollInput { email: Some("Carla@Example.com".into()), ..EnrollInput::default() }, None).await.expect_err("email");
        assert_eq!(email.code(), "customer.exists");
        assert!(email.to_string().contains("email address"), "{email}");
    }
}
