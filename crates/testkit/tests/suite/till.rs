//! The till's purchases recorded offline on both backends: sent with the key the device
//! made, recorded once however often they are sent, an unknown card refused; each till's
//! record (last send, landed, refused) kept per organization for its admins.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::till::{self, OfflinePurchase};
use loyalty_core::{Error, ErrorCode};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use uuid::Uuid;

async fn org(db: &TestDb, clock: &FixedClock, slug: &str) -> Organization {
    let input = OnboardInput {
        name: Some(format!("Shop {slug}")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    db.store
        .insert_organization(
            &input.validate().unwrap().org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .unwrap()
}

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "cashier_maria".into(),
            role: role.as_str().into(),
            request_id: None,
        },
        role,
    }
}

fn purchase(card: &str, amount: &str, device: Uuid) -> OfflinePurchase {
    OfflinePurchase {
        card: card.into(),
        amount: amount.into(),
        key: Uuid::new_v4().to_string(),
        recorded_at: "2026-12-05T14:30:00Z".into(),
        device,
    }
}

both_backends! {
    async fn offline_purchases_land_once_and_each_till_is_counted(db) {
        let clock = fixed_clock();
        let shop = org(&db, &clock, "corner").await;
        let other = org(&db, &clock, "elsewhere").await;
        let c = ctx(&db, &clock, &shop, Role::Cashier);
        let ana = points::enroll(&c, &EnrollInput { phone: Some("202-555-0101".into()), email: None, name: None }, None)
            .await
            .unwrap();
        let device = Uuid::new_v4();

        // Sent three times (answers lost on the way): one purchase, one ledger entry.
        let p = purchase(&ana.card_number, "25.50", device);
        let (who, first) = till::record_offline(&c, &p).await.unwrap();
        assert_eq!(who.id, ana.id);
        assert!(!first.outcome.replayed);
        assert_eq!(first.outcome.entry.points, 25);
        for _ in 0..2 {
            let (_, again) = till::record_offline(&c, &p).await.unwrap();
            assert!(again.outcome.replayed);
            assert_eq!(again.outcome.entry.points, 25);
            assert_eq!(again.outcome.balance, 25);
        }
        let bought = db.store.list_purchases(shop.id, Some(ana.id), None, None, 10).await.unwrap();
        assert_eq!(bought.len(), 1);
        assert_eq!(points::customer(&c, ana.id).await.unwrap().balance, 25);

        // An unknown card and a card number that is not one are refused and counted.
        let unknown = (0..10)
            .map(|d| format!("98765432109{d}"))
            .find(|s| loyalty_core::domain::points::is_card_number(s))
            .unwrap();
        let e = till::record_offline(&c, &purchase(&unknown, "5.00", device)).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::CustomerNotFound);
        let e = till::record_offline(&c, &purchase("12345", "5.00", device)).await.unwrap_err();
        assert!(matches!(e, Error::Validation(ref f) if f[0].field == "card"), "{e:?}");
        let mut bad_key = purchase(&ana.card_number, "5.00", device);
        bad_key.key = "not-a-key".into();
        let e = till::record_offline(&c, &bad_key).await.unwrap_err();
        assert!(matches!(e, Error::Validation(ref f) if f[0].field == "key"), "{e:?}");

        // The admin sees the till: one landed (not three), three refused, the last code.
        clock.advance(time::Duration::minutes(5));
        let admin = ctx(&db, &clock, &shop, Role::Admin);
        let tills = till::devices(&admin).await.unwrap();
        assert_eq!(tills.len(), 1);
        assert_eq!(tills[0].device, device);
        assert_eq!(tills[0].cashier, "cashier_maria");
        assert_eq!(tills[0].offline_purchases, 1);
        assert_eq!(tills[0].refusals, 3);
        assert_eq!(tills[0].last_refusal.as_ref().map(|r| r.0.as_str()), Some("validation.failed"));
        // Cashiers do not read the list; another organization sees none of it.
        assert!(till::devices(&c).await.is_err());
        assert!(till::devices(&ctx(&db, &clock, &other, Role::Admin)).await.unwrap().is_empty());

        // A second till and a later send: the most recent first.
        let second = Uuid::new_v4();
        till::record_offline(&c, &purchase(&ana.card_number, "3.00", second)).await.unwrap();
        let tills = till::devices(&admin).await.unwrap();
        assert_eq!(tills.len(), 2);
        assert_eq!(tills[0].device, second);
        assert_eq!(tills[0].offline_purchases, 1);
        assert_eq!(tills[0].last_sync_at, clock.now());
        assert!(tills[0].last_refusal.is_none());
        assert!(db.store.check_invariants(None).await.unwrap().holds());
    }
}
