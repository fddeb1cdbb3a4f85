//! No half-made people, against the Authentik stand-in: the join page and the till's
//! "also create an online account" check every input before anything is made at
//! Authentik (a typo'd phone leaves no user there), and a failure after the user was
//! made is finished by the retry, which gets its set-password link.

use super::app::{TestApp, Who};
use crate::authentik::standin::{Fault, StandIn};
use loyalty_core::directory::Directory;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{Actor, CustomerKey};
use loyalty_core::service::join;
use loyalty_core::service::mail::Credential;
use loyalty_core::service::points::{Ctx, EnrollInput};
use loyalty_testkit::{both_backends, fixed_clock};
use serde_json::json;
use std::sync::Arc;

const RECOVERY: &str = "POST /core/users/{id}/recovery/";
const ADD_USER: &str = "POST /core/groups/{group_uuid}/add_user/";

async fn app_on(db: loyalty_testkit::TestDb) -> (TestApp, StandIn) {
    let ak = StandIn::start().await;
    let app = TestApp::with_directory(db, Arc::new(ak.directory())).await;
    (app, ak)
}

fn lost(detail: &str) -> Fault {
    Fault::status(403, Some(json!({ "detail": detail })))
}

both_backends! {
    async fn the_join_page_checks_everything_before_making_a_user_and_a_retry_finishes_one(db) {
        let (app, ak) = app_on(db).await;
        // A typo'd phone: refused, nobody made at Authentik.
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &[("name", "Joana"), ("email", "joana@example.com"), ("phone", "55-12")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("phone"), "{}", r.body);
        assert!(ak.usernames().is_empty(), "{:?}", ak.usernames());
        // Every field at once.
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &[("name", ""), ("email", "not-an-email"), ("phone", "55-12")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(ak.usernames().is_empty());

        // The link cannot be issued after the user was made: the retry finishes it.
        ak.fail_operation(RECOVERY, lost("Permission denied."));
        let fields = [("name", "Joana"), ("email", "joana@example.com"), ("phone", "(212) 555-0142")];
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &fields).await;
        assert!(r.status != 303 && r.status.as_u16() < 500, "{} {}", r.status, r.body);
        assert_eq!(ak.usernames(), ["joana@example.com"], "made, but not finished");
        assert!(ak.memberships().is_empty());
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location().contains("flow_token="), "the retry gets its link: {}", r.location());
        assert_eq!(ak.usernames(), ["joana@example.com"], "one user");
        assert_eq!(ak.memberships(), [("alpha-customers".to_owned(), "joana@example.com".to_owned())]);
        let uid = ak.user_by_username("joana@example.com").unwrap()["uid"].as_str().unwrap().to_owned();
        let c = app.db.store.find_customer(app.a.id, &CustomerKey::Subject(uid)).await.unwrap().expect("enrolled once");
        assert_eq!(c.phone.as_deref(), Some("+12125550142"));

        // Finished: a third try is the "sign in first" answer, as for any account.
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &fields).await;
        assert!(r.status == 422 && r.body.contains("already has an account"), "{}", r.body);

        // The group is the last step: a failure there is finished by the retry too.
        ak.fail_operation(ADD_USER, lost("Permission denied."));
        let fields = [("name", "Bia"), ("email", "bia@example.com"), ("phone", "")];
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &fields).await;
        assert!(r.status != 303 && r.status.as_u16() < 500, "{} {}", r.status, r.body);
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(ak.memberships().contains(&("alpha-customers".to_owned(), "bia@example.com".to_owned())));

        // An account someone else made in Authentik is never taken over by a join.
        let outside = ak.directory();
        outside.create_user(&loyalty_core::directory::NewDirUser {
            username: loyalty_core::domain::Username::parse("carol@example.com").unwrap(),
            name: "Carol".into(),
            email: Some(loyalty_core::domain::Email::parse("carol@example.com").unwrap()),
            attributes: json!({}),
        }).await.unwrap();
        let r = app.post(&Who::anonymous(), "/o/alpha/join", &[("name", "Carol"), ("email", "carol@example.com")]).await;
        assert!(r.status == 422 && r.body.contains("already has an account"), "{}", r.body);
        assert!(!ak.memberships().iter().any(|(_, u)| u == "carol@example.com"));
    }

    async fn the_till_checks_everything_before_making_an_account_and_a_retry_finishes_one(db) {
        let (app, ak) = app_on(db).await;
        let dir = ak.directory();
        let clock = fixed_clock();
        let ctx = Ctx {
            store: app.db.store.as_ref(),
            clock: &clock,
            org: &app.a,
            actor: Actor { member_id: None, label: "alpha_cashier".into(), role: "cashier".into(), request_id: None },
            role: Role::Cashier,
        };
        let input = |phone: &str| EnrollInput { phone: Some(phone.into()), email: Some("dani@example.com".into()), name: Some("Dani".into()) };
        let err = join::enroll_with_account(&ctx, &dir, &input("55-12")).await.unwrap_err();
        assert!(err.to_string().contains("phone"), "{err}");
        assert!(ak.usernames().is_empty(), "a typo'd phone makes nobody");
        let err = join::enroll_with_account(&ctx, &dir, &EnrollInput { email: Some("nope".into()), ..input("55-12") }).await.unwrap_err();
        assert!(err.to_string().contains("phone") && err.to_string().contains("email"), "every field at once: {err}");

        ak.fail_operation(RECOVERY, lost("Permission denied."));
        assert!(join::enroll_with_account(&ctx, &dir, &input("(212) 555-0143")).await.is_err());
        assert_eq!(ak.usernames(), ["dani@example.com"]);
        let (customer, credential) = join::enroll_with_account(&ctx, &dir, &input("(212) 555-0143")).await.unwrap();
        assert!(matches!(credential, Credential::Link { .. }), "the retry gets its link: {credential:?}");
        assert_eq!(customer.phone.as_deref(), Some("+12125550143"));
        assert_eq!(ak.usernames(), ["dani@example.com"]);
        assert_eq!(ak.memberships(), [("alpha-customers".to_owned(), "dani@example.com".to_owned())]);
        // Finished: enrolling again is refused as already enrolled.
        let err = join::enroll_with_account(&ctx, &dir, &input("(212) 555-0143")).await.unwrap_err();
        assert!(err.to_string().contains("already enrolled"), "{err}");
        assert!(dir.find_user(customer_pk(&ak)).await.unwrap().is_some());
    }
}

fn customer_pk(ak: &StandIn) -> i64 {
    ak.user_by_username("dani@example.com").unwrap()["pk"]
        .as_i64()
        .unwrap()
}
