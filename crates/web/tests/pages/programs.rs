//! The loyalty program on the pages, on both backends: the customer portal's history
//! says what each rule gave an award, in the customer's language, beside their tier and
//! the progress to the next one; the till shows the same progress and today's purchases
//! with their breakdowns; another shop's customer sees none of it.

use super::app::{TestApp, Who};
use loyalty_core::clock::Clock;
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_core::domain::program::{CardInput, ProgramInput, PromotionInput, TierInput};
use loyalty_core::domain::{CustomerId, Organization, Role};
use loyalty_core::service::points::Ctx;
use loyalty_core::service::program;
use loyalty_testkit::{both_backends, fixed_clock, till};

fn ctx<'a>(app: &'a TestApp, clock: &'a dyn Clock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: app.db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: format!("test-{role}"),
            role: role.as_str().into(),
            request_id: None,
        },
        role,
    }
}

/// Alpha's program: a coffee card, a Thursday double (the test clock stands on a
/// Thursday), Silver from 100 points and Gold from 500.
async fn alpha_program(app: &TestApp, clock: &dyn Clock) -> Organization {
    let changes = [
        ProgramInput::AddCard(CardInput {
            name: "Coffee card".into(),
            stamps_required: 10,
            min_amount: Some("3.00".into()),
            daily_limit: Some(1),
            reward: "a free coffee".into(),
            reward_points: 0,
        }),
        ProgramInput::AddPromotion(PromotionInput {
            name: "Thursday double".into(),
            multiplier: Some("2".into()),
            days: vec!["thursday".into()],
            ..PromotionInput::default()
        }),
        ProgramInput::AddTier(TierInput {
            name: "Silver".into(),
            threshold: "100".into(),
            multiplier: Some("1.5".into()),
            entry_bonus: 0,
        }),
        ProgramInput::AddTier(TierInput {
            name: "Gold".into(),
            threshold: "500".into(),
            multiplier: Some("2".into()),
            entry_bonus: 50,
        }),
    ];
    let mut org = app.a.clone();
    for change in changes {
        program::change(&ctx(app, clock, &org, Role::Admin), change)
            .await
            .unwrap();
        org = app
            .db
            .store
            .organization_by_slug(&org.slug)
            .await
            .unwrap()
            .unwrap();
    }
    org
}

async fn member(app: &TestApp, org: &Organization, who: &Who, card: &str) -> CustomerId {
    app.db
        .store
        .enroll_customer(
            org.id,
            &NewCustomer {
                phone: None,
                email: None,
                name: Some("Ann".into()),
                card_number: card.into(),
                identity_subject: Some(who.uid.clone()),
                created_by: None,
            },
            &Actor::system(),
            loyalty_testkit::fixed_clock_now(),
        )
        .await
        .unwrap()
        .id
}

/// The text of the element with `id`, tags left out.
fn text_of(body: &str, id: &str) -> String {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</").unwrap();
    rest[open..close].to_owned()
}

both_backends! {
    async fn the_portal_and_the_till_explain_each_award_and_show_the_tier_progress(db) {
        let app = TestApp::new(db).await;
        let clock = fixed_clock();
        let org = alpha_program(&app, &clock).await;
        let ann = app.person("alpha_customer", &["alpha-customers"]).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let id = member(&app, &org, &ann, "400000000014").await;
        let staff = ctx(&app, &clock, &org, Role::Cashier);
        till::award(&staff, id, "25.00", None, serde_json::json!({}), "award-1").await.unwrap();
        till::award(&staff, id, "2.00", None, serde_json::json!({}), "award-2").await.unwrap();

        // The portal in English: each award's breakdown, the tier and the progress.
        let me = app.get(&ann, "/o/alpha/me").await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert!(me.body.contains("25 base + 25 Thursday double + 1 stamp Coffee card (1/10)"), "{}", me.body);
        assert!(me.body.contains("2 base + 2 Thursday double"), "{}", me.body);
        assert_eq!(text_of(&me.body, "tier-name"), "No tier yet");
        assert_eq!(text_of(&me.body, "tier-progress"), "46 points to Silver");

        // In Portuguese, the customer's own choice.
        let cookie = format!("loyalty_session={}; loyalty_lang=pt-BR", ann.cookie.clone().unwrap());
        let pt = app.send(&Who::anonymous(), "GET", "/o/alpha/me", None, &[("cookie", &cookie)]).await;
        assert_eq!(pt.status, 200, "{}", pt.body);
        assert!(pt.body.contains("25 base + 25 Thursday double + 1 selo Coffee card (1/10)"), "{}", pt.body);
        assert_eq!(text_of(&pt.body, "tier-name"), "Nenhum nível ainda");
        assert_eq!(text_of(&pt.body, "tier-progress"), "46 pontos para Silver");

        // The till: the same progress, and today's purchases with what each rule gave.
        let t = app.get(&cashier, &format!("/o/alpha/till/c/{id}")).await;
        assert_eq!(t.status, 200, "{}", t.body);
        assert_eq!(text_of(&t.body, "tier-progress"), "46 points to Silver");
        assert!(t.body.contains("25 base + 25 Thursday double + 1 stamp Coffee card (1/10)"), "{}", t.body);
        assert!(!t.body.contains("tier-ends"), "a customer who qualifies has no end date");

        // Another shop's customer sees neither Ann's history nor a tier (beta has none).
        let bea = app.person("beta_customer", &["beta-customers"]).await;
        member(&app, &app.b, &bea, "400000000022").await;
        let other = app.get(&bea, "/o/beta/me").await;
        assert_eq!(other.status, 200, "{}", other.body);
        assert!(!other.body.contains("Thursday double") && !other.body.contains("tier-progress"), "{}", other.body);
    }
}
