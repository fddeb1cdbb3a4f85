//! An erasure with Authentik signing people in: the person's user there is deleted (its
//! name, email and memberships with it), against the schema-checking stand-in of
//! `loyalty-identity`'s tests (Authentik itself cannot run here).

use crate::authentik::standin::StandIn;
use loyalty_core::clock::SystemClock;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::join::{self, JoinInput};
use loyalty_core::service::points::Ctx;
use loyalty_core::service::{erasure, onboard::OnboardInput};
use loyalty_testkit::both_backends;

both_backends! {
    async fn with_authentik_an_erasure_deletes_the_person_s_directory_user(db) {
        let standin = StandIn::start().await;
        let dir = standin.directory();
        let clock = SystemClock;
        let input = OnboardInput {
            name: Some("Padaria Zelda".into()),
            slug: Some("padaria".into()),
            admin_email: Some("dona@padaria.example.com".into()),
            admin_name: Some("Dona".into()),
            country: Some("BR".into()),
            timezone: Some("America/Sao_Paulo".into()),
            ..OnboardInput::default()
        };
        let org = db
            .store
            .insert_organization(&input.validate().expect("valid").org, loyalty_core::domain::OrgStatus::Active, time::OffsetDateTime::now_utc())
            .await
            .expect("org");
        let joined = join::join(db.store.as_ref(), &dir, &clock, &org, &JoinInput {
            name: "Zelda Quixote-Authentik".into(),
            email: "zelda.authentik@example.net".into(),
            phone: String::new(),
            marketing: false,
        })
        .await
        .expect("join");
        let subject = joined.customer.identity_subject.clone().expect("a subject");
        let user = standin.user_by_username("zelda.authentik@example.net").expect("joining made a user at Authentik");
        assert_eq!(user["uid"], subject.as_str());

        let admin = Ctx {
            store: db.store.as_ref(),
            clock: &clock,
            org: &org,
            actor: Actor { member_id: None, label: "dona".into(), role: "admin".into(), request_id: None },
            role: Role::Admin,
        };
        let done = erasure::erase_customer(&admin, &dir, None, joined.customer.id, "ERASE").await.expect("erase");
        assert!(done.directory_user_ended);
        assert!(standin.user_by_username("zelda.authentik@example.net").is_none(), "the user at Authentik is gone");
        assert!(standin.calls().iter().any(|c| c.operation == "DELETE /core/users/{id}/"));
        let left = standin.take_violations();
        assert!(left.is_empty(), "{left:#?}");
    }
}
