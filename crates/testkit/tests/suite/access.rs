//! The one role rule (`loyalty_core::access`) and the provider sign-in service, on both
//! backends: built-in accounts re-checked on every request, tokens bound to their
//! organization, provider subjects with the groups the directory has now, operators,
//! suspended organizations.

use loyalty_core::Error;
use loyalty_core::access::{self, Deps, OrgToken, Principal};
use loyalty_core::clock::Clock;
use loyalty_core::directory::{Directory, NewDirUser, find_or_create_group};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgSlug, OrgStatus, Organization, Role, Username};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::signin;
use loyalty_core::store::{ExternalSubject, NewMember, SessionPrincipal};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::sync::Arc;

const OPERATORS: &str = "loyalty-operators";

async fn org(db: &TestDb, slug: &str) -> Organization {
    let new = OnboardInput {
        name: Some(format!("{slug} shop")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada Admin".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        contract_start: Some("2025-01-01".into()),
        ..OnboardInput::default()
    }
    .validate()
    .expect("valid")
    .org;
    db.store
        .insert_organization(&new, OrgStatus::Active, fixed_clock().now())
        .await
        .expect("org")
}

fn subject(groups: &[&str]) -> ExternalSubject {
    ExternalSubject {
        subject: "sub-1".into(),
        username: "ext.person".into(),
        name: "Ext Person".into(),
        email: Some("ext@example.com".into()),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

both_backends! {
    async fn a_built_in_account_acts_in_its_most_powerful_role_with_groups_read_on_each_request(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let deps = Deps { store: db.store.as_ref(), directory: &dir, clock: clock.as_ref(), operators_group: OPERATORS };
        let shop = org(&db, "fresh-mart").await;
        let user = dir.create_user(&NewDirUser {
            username: Username::parse("ana").expect("username"),
            name: "Ana".into(),
            email: None,
            attributes: serde_json::json!({}),
        }).await.expect("user");
        let (admins, _) = find_or_create_group(&dir, "fresh-mart-admins", serde_json::json!({})).await.expect("group");
        let (cashiers, _) = find_or_create_group(&dir, "fresh-mart-cashiers", serde_json::json!({})).await.expect("group");
        dir.add_member(&admins, user.pk).await.expect("member");
        dir.add_member(&cashiers, user.pk).await.expect("member");
        let row = db.store.upsert_member(shop.id, &NewMember { identity_subject: user.uid.clone(), role: Role::Admin, email: None, name: None, created_by: None }, clock.now()).await.expect("row");
        let account = || async { Principal::Account(db.store.account_by_pk(user.pk).await.expect("read").expect("account")) };

        let a = access::enter(deps, shop.clone(), account().await, Some("req-1".into())).await.expect("enter");
        assert_eq!(a.role, Some(Role::Admin));
        assert!(a.roles.contains(&Role::Cashier) && a.roles.contains(&Role::Admin));
        assert_eq!((a.member_id, a.actor.label.as_str(), a.actor.request_id.as_deref()), (Some(row.id), "ana", Some("req-1")));
        let ctx = a.ctx_as(deps, Role::Cashier);
        assert_eq!((ctx.role, ctx.actor.role.as_str()), (Role::Cashier, "cashier"));

        // Groups are read on each request: leaving the admins group takes effect at once.
        dir.remove_member(&admins, user.pk).await.expect("leave");
        let a = access::enter(deps, shop.clone(), account().await, None).await.expect("enter");
        assert_eq!(a.role, Some(Role::Cashier));

        // A deactivated account is refused.
        dir.deactivate_user(user.pk).await.expect("deactivate");
        assert!(matches!(access::enter(deps, shop.clone(), account().await, None).await, Err(Error::Forbidden(_))));
    }

    async fn a_token_acts_only_in_its_own_active_organization_with_its_role(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let deps = Deps { store: db.store.as_ref(), directory: &dir, clock: clock.as_ref(), operators_group: OPERATORS };
        let shop = org(&db, "fresh-mart").await;
        let other = org(&db, "corner-shop").await;
        let token = db.store.insert_api_token(shop.id, "till-1", Role::Cashier, "hash-1", &Actor::system(), clock.now()).await.expect("token");
        let principal = Principal::Token(Box::new(OrgToken { token, org: shop.clone() }));

        let a = access::enter(deps, shop.clone(), principal.clone(), None).await.expect("own org");
        assert_eq!((a.role, a.actor.label.as_str(), a.member_id, a.subject.as_deref()), (Some(Role::Cashier), "token:till-1", None, None));
        assert!(matches!(access::enter(deps, other, principal.clone(), None).await, Err(Error::Forbidden(_))));

        let slug = OrgSlug::parse("fresh-mart").expect("slug");
        let suspended = db.store.set_organization_status(&slug, &[OrgStatus::Active], OrgStatus::Suspended, &Actor::system(), clock.now()).await.expect("suspend").expect("org");
        assert!(matches!(access::enter(deps, suspended, principal, None).await, Err(Error::OrgSuspended(_))));
        assert!(matches!(access::active_org(db.store.as_ref(), "fresh-mart").await, Err(Error::OrgSuspended(_))));
        assert!(matches!(access::active_org(db.store.as_ref(), "no-such-shop").await, Err(Error::NotFound(..))));
        assert!(matches!(access::active_org(db.store.as_ref(), "Not A Slug").await, Err(Error::NotFound(..))));
        assert_eq!(access::active_org(db.store.as_ref(), "corner-shop").await.expect("active").slug.as_str(), "corner-shop");
    }

    async fn a_provider_subject_acts_by_the_groups_the_directory_has_now_and_operators_enter_without_a_role(db) {
        let clock = Arc::new(fixed_clock());
        let dir = db.directory(clock.clone());
        let deps = Deps { store: db.store.as_ref(), directory: &dir, clock: clock.as_ref(), operators_group: OPERATORS };
        let shop = org(&db, "fresh-mart").await;
        let user = dir.create_user(&NewDirUser {
            username: Username::parse("ext.person").expect("username"),
            name: "Ext Person".into(),
            email: None,
            attributes: serde_json::json!({}),
        }).await.expect("user");
        let group = |name: &'static str| { let dir = &dir; async move { find_or_create_group(dir, name, serde_json::json!({})).await.expect("group").0 } };
        let (customers, admins, operators) = (group("fresh-mart-customers").await, group("corner-shop-admins").await, group(OPERATORS).await);
        dir.add_member(&customers, user.pk).await.expect("member");
        dir.add_member(&admins, user.pk).await.expect("member");
        let me = |groups: &[&str]| Principal::Subject(ExternalSubject { subject: user.uid.clone(), ..subject(groups) });

        // The directory's groups count, not the snapshot the session or token carries.
        let customer = access::enter(deps, shop.clone(), me(&["fresh-mart-admins"]), None).await.expect("enter");
        assert_eq!((customer.role, customer.roles.clone()), (Some(Role::Customer), vec![Role::Customer]));
        assert_eq!((customer.actor.label.as_str(), customer.subject.as_deref()), ("ext.person", Some(user.uid.as_str())));

        dir.remove_member(&customers, user.pk).await.expect("leave");
        let stranger = access::enter(deps, shop.clone(), me(&["fresh-mart-customers"]), None).await;
        assert!(matches!(stranger, Err(Error::Forbidden(_))));

        dir.add_member(&operators, user.pk).await.expect("member");
        let operator = access::enter(deps, shop.clone(), me(&[]), None).await.expect("operator");
        assert!(operator.operator && operator.role.is_none() && operator.roles.is_empty());
        assert_eq!(operator.actor.role, "operator");
        assert!(matches!(operator.ctx(deps), Err(Error::Forbidden(_))));

        // A subject the directory does not have (another subject under the same
        // username), and a deactivated user, are refused.
        let impostor = Principal::Subject(subject(&[OPERATORS]));
        assert!(matches!(access::enter(deps, shop.clone(), impostor, None).await, Err(Error::Forbidden(_))));
        dir.deactivate_user(user.pk).await.expect("deactivate");
        assert!(matches!(access::enter(deps, shop.clone(), me(&[OPERATORS]), None).await, Err(Error::Forbidden(_))));
    }

    async fn a_provider_sign_in_writes_member_rows_for_the_organizations_its_groups_name_and_opens_its_session(db) {
        let now = fixed_clock().now();
        let shop = org(&db, "fresh-mart").await;
        let other = org(&db, "corner-shop").await;
        let who = subject(&["fresh-mart-cashiers", "fresh-mart-admins", "unknown-shop-admins", OPERATORS]);
        let report = signin::sign_in_subject(db.store.as_ref(), &who, "session-hash", "csrf", now, now + time::Duration::hours(1)).await.expect("sign in");
        assert!(report.failed_memberships.is_empty() && report.failed_lookup.is_none());
        let row = db.store.member_by_subject(shop.id, "sub-1").await.expect("read").expect("member row");
        assert_eq!((row.role, row.name.as_deref()), (Role::Admin, Some("Ext Person")));
        assert!(db.store.member_by_subject(other.id, "sub-1").await.expect("read").is_none());
        let session = db.store.session("session-hash", now).await.expect("read").expect("live");
        assert_eq!(session.principal, SessionPrincipal::Subject(who));
    }
}
