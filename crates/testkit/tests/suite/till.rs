//! The till's purchases recorded offline on both backends: sent with the key the device
//! made, recorded once however often they are sent, an unknown card refused; each till's
//! record (last send, landed, refused) kept per organization for its admins; each
//! purchase recorded as the person its recorder token names, whoever sends it, and
//! refused when the token is not valid here or that person was deactivated.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Organization, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::till::{self, OfflinePurchase, OfflineRedemption};
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

fn purchase(card: &str, amount: &str, device: Uuid, recorder: &str) -> OfflinePurchase {
    OfflinePurchase {
        card: card.into(),
        amount: amount.into(),
        key: Uuid::new_v4().to_string(),
        recorded_at: "2026-12-05T14:30:00Z".into(),
        device,
        recorder: recorder.into(),
    }
}

/// A staff member's context with their own label (their member row is made by the first
/// recorder token, as for a person whose role comes from their groups).
fn staff<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, label: &str) -> Ctx<'a> {
    let mut c = ctx(db, clock, org, Role::Cashier);
    c.actor.label = label.into();
    c
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
        let rec = till::recorder_token(&c, Some("uid-maria"), device).await.unwrap();

        // Sent three times (answers lost on the way): one purchase, one ledger entry.
        let p = purchase(&ana.card_number, "25.50", device, &rec);
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
        let e = till::record_offline(&c, &purchase(&unknown, "5.00", device, &rec)).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::CustomerNotFound);
        let e = till::record_offline(&c, &purchase("12345", "5.00", device, &rec)).await.unwrap_err();
        assert!(matches!(e, Error::Validation(ref f) if f[0].field == "card"), "{e:?}");
        let mut bad_key = purchase(&ana.card_number, "5.00", device, &rec);
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
        let rec2 = till::recorder_token(&c, Some("uid-maria"), second).await.unwrap();
        till::record_offline(&c, &purchase(&ana.card_number, "3.00", second, &rec2)).await.unwrap();
        let tills = till::devices(&admin).await.unwrap();
        assert_eq!(tills.len(), 2);
        assert_eq!(tills[0].device, second);
        assert_eq!(tills[0].offline_purchases, 1);
        assert_eq!(tills[0].last_sync_at, clock.now());
        assert!(tills[0].last_refusal.is_none());
        assert!(db.store.check_invariants(None).await.unwrap().holds());
    }

    async fn offline_purchases_are_recorded_as_who_recorded_them(db) {
        let clock = fixed_clock();
        let shop = org(&db, &clock, "corner").await;
        let other = org(&db, &clock, "elsewhere").await;
        let ana = staff(&db, &clock, &shop, "cashier_ana");
        let bob = staff(&db, &clock, &shop, "cashier_bob");
        let admin = ctx(&db, &clock, &shop, Role::Admin);
        let customer = points::enroll(&ana, &EnrollInput { phone: Some("202-555-0102".into()), email: None, name: None }, None)
            .await
            .unwrap();
        let till_a = Uuid::new_v4();
        let ana_token = till::recorder_token(&ana, Some("uid-ana"), till_a).await.unwrap();
        let ana_member = db.store.member_by_subject(shop.id, "uid-ana").await.unwrap().unwrap();
        // Asked again (every read of the program), the same member row is named.
        let again = till::recorder_token(&ana, Some("uid-ana"), till_a).await.unwrap();
        assert_ne!(again, "");
        assert_eq!(db.store.list_members(shop.id, Some(Role::Cashier)).await.unwrap().len(), 1);
        // No person, no token.
        let e = till::recorder_token(&ana, None, till_a).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthForbidden);
        let bob_token = till::recorder_token(&bob, Some("uid-bob"), till_a).await.unwrap();

        // Ana records three offline and signs out; Bob signs in on the same till and sends
        // them: they are Ana's in the ledger.
        let queued: Vec<OfflinePurchase> = ["4.00", "5.00", "6.00"]
            .iter()
            .map(|a| purchase(&customer.card_number, a, till_a, &ana_token))
            .collect();
        for p in &queued {
            till::record_offline(&bob, p).await.unwrap();
        }
        let bought = db.store.list_purchases(shop.id, Some(customer.id), None, None, 10).await.unwrap();
        assert_eq!(bought.len(), 3);
        assert!(bought.iter().all(|p| p.cashier_id == Some(ana_member.id)), "{bought:?}");
        let (_, replay) = till::record_offline(&bob, &queued[0]).await.unwrap();
        assert!(replay.outcome.replayed);

        // Refused and counted under the sender: a token changed on the device, one of
        // another till, one of another organization, one older than seven days, none.
        let code = |e: Error| e.code();
        let mut changed = ana_token.clone();
        let last = changed.pop().unwrap();
        changed.push(if last == '0' { '1' } else { '0' });
        let other_till = till::recorder_token(&ana, Some("uid-ana"), Uuid::new_v4()).await.unwrap();
        let elsewhere = staff(&db, &clock, &other, "cashier_eve");
        let other_org = till::recorder_token(&elsewhere, Some("uid-eve"), till_a).await.unwrap();
        for token in [changed.as_str(), other_till.as_str(), other_org.as_str(), ""] {
            let e = till::record_offline(&bob, &purchase(&customer.card_number, "7.00", till_a, token)).await.unwrap_err();
            assert_eq!(code(e), ErrorCode::TillRecorderRefused, "{token}");
        }
        let old = purchase(&customer.card_number, "7.00", till_a, &ana_token);
        clock.advance(time::Duration::days(7));
        let e = till::record_offline(&bob, &old).await.unwrap_err();
        assert_eq!(code(e), ErrorCode::TillRecorderRefused);
        clock.advance(time::Duration::days(-7));
        // The sender must be staff here: a customer's session sends nothing.
        let customer_ctx = ctx(&db, &clock, &shop, Role::Customer);
        let e = till::record_offline(&customer_ctx, &old).await.unwrap_err();
        assert_eq!(code(e), ErrorCode::AuthForbidden);
        // ... and of this organization: Eve's own purchase, sent to her shop, is hers only.
        let e = till::record_offline(&elsewhere, &purchase(&customer.card_number, "7.00", till_a, &ana_token)).await.unwrap_err();
        assert_eq!(code(e), ErrorCode::TillRecorderRefused);

        // The admin deactivates Ana: her purchase still waiting is refused when Bob
        // sends it, and counted under her name with its code; Bob's own still land.
        db.store
            .set_member_status(shop.id, ana_member.id, "suspended", &admin.actor, clock.now())
            .await
            .unwrap()
            .unwrap();
        let e = till::record_offline(&bob, &old).await.unwrap_err();
        assert_eq!(code(e), ErrorCode::TillRecorderInactive);
        till::record_offline(&bob, &purchase(&customer.card_number, "2.00", till_a, &bob_token)).await.unwrap();
        let bought = db.store.list_purchases(shop.id, Some(customer.id), None, None, 10).await.unwrap();
        assert_eq!(bought.len(), 4);
        assert_eq!(points::customer(&admin, customer.id).await.unwrap().balance, 4 + 5 + 6 + 2);

        let tills = till::devices(&admin).await.unwrap();
        let row = |who: &str| tills.iter().find(|t| t.cashier == who).cloned().unwrap();
        let (a, b) = (row("cashier_ana"), row("cashier_bob"));
        assert_eq!((a.offline_purchases, a.refusals), (3, 1));
        assert_eq!(a.last_refusal.map(|r| r.0), Some("till.recorder_inactive".to_owned()));
        assert_eq!((b.offline_purchases, b.refusals), (1, 5));
        assert_eq!(b.last_refusal.map(|r| r.0), Some("till.recorder_refused".to_owned()));
        assert_eq!(tills.len(), 2, "{tills:?}");
        // The other organization saw Eve's refusal only.
        let other_admin = ctx(&db, &clock, &other, Role::Admin);
        let theirs = till::devices(&other_admin).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!((theirs[0].cashier.as_str(), theirs[0].refusals), ("cashier_eve", 1));
        assert!(db.store.check_invariants(None).await.unwrap().holds());
    }

    async fn offline_redemptions_keep_to_the_limit_and_never_overdraw(db) {
        let clock = fixed_clock();
        let mut shop = org(&db, &clock, "corner").await;
        let other = org(&db, &clock, "elsewhere").await;
        let device = Uuid::new_v4();
        let (ana_token, customer) = {
            let ana = staff(&db, &clock, &shop, "cashier_ana");
            let token = till::recorder_token(&ana, Some("uid-ana"), device).await.unwrap();
            let customer = points::enroll(&ana, &EnrollInput { phone: Some("202-555-0103".into()), email: None, name: None }, None)
                .await
                .unwrap();
            till::record_offline(&ana, &purchase(&customer.card_number, "100.00", device, &token)).await.unwrap();
            (token, customer)
        };
        let redemption = |n: i64| OfflineRedemption {
            card: customer.card_number.clone(),
            points: n,
            key: Uuid::new_v4().to_string(),
            recorded_at: "2026-12-05T14:35:00Z".into(),
            device,
            recorder: ana_token.clone(),
        };

        // By default (0) a redemption offline is refused, and only admins change it.
        {
            let ana = staff(&db, &clock, &shop, "cashier_ana");
            let e = till::redeem_offline(&ana, &redemption(10)).await.unwrap_err();
            assert_eq!(e.code(), ErrorCode::TillOfflineRedeemRefused);
            assert_eq!(till::program(&ana).unwrap().offline_redeem_limit, 0);
            let e = till::set_offline_redeem_limit(&ana, "50").await.unwrap_err();
            assert_eq!(e.code(), ErrorCode::AuthForbidden);
            let admin = ctx(&db, &clock, &shop, Role::Admin);
            for bad in ["abc", "-5", "2000000000"] {
                let e = till::set_offline_redeem_limit(&admin, bad).await.unwrap_err();
                assert!(matches!(e, Error::Validation(ref f) if f[0].field == "offline_redeem_limit"), "{bad}: {e:?}");
            }
            assert_eq!(till::set_offline_redeem_limit(&admin, "1.000").await.unwrap(), 1000);
            assert_eq!(till::set_offline_redeem_limit(&admin, "50").await.unwrap(), 50);
        }
        shop = db.store.organization_by_slug(&shop.slug).await.unwrap().unwrap();
        assert_eq!(shop.offline_redeem_limit, 50);
        assert_eq!(db.store.organization_by_slug(&other.slug).await.unwrap().unwrap().offline_redeem_limit, 0);
        let bob = staff(&db, &clock, &shop, "cashier_bob");
        assert_eq!(till::program(&bob).unwrap().offline_redeem_limit, 50);

        // Above the limit: refused. Within it: redeemed once however often it is sent,
        // as Ana (who recorded it), though Bob sends it.
        let e = till::redeem_offline(&bob, &redemption(60)).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::TillOfflineRedeemRefused);
        let r = redemption(40);
        let (who, first) = till::redeem_offline(&bob, &r).await.unwrap();
        assert_eq!(who.id, customer.id);
        assert_eq!((first.balance, first.replayed), (60, false));
        let (_, again) = till::redeem_offline(&bob, &r).await.unwrap();
        assert_eq!((again.balance, again.replayed), (60, true));
        let entries = db.store.ledger(shop.id, Some(customer.id), None, None, None, 10).await.unwrap();
        let ana_member = db.store.member_by_subject(shop.id, "uid-ana").await.unwrap().unwrap();
        assert!(entries.iter().any(|e| e.points == -40 && e.created_by == Some(ana_member.id)), "{entries:?}");

        // Meanwhile the customer redeems 50 online: a second redemption offline the
        // balance no longer covers is refused, and the balance stays 10.
        let admin = ctx(&db, &clock, &shop, Role::Admin);
        loyalty_testkit::till::redeem(&admin, customer.id, None, Some(50), &Uuid::new_v4().to_string()).await.unwrap();
        let e = till::redeem_offline(&bob, &redemption(30)).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::PointsInsufficient);
        assert_eq!(points::customer(&admin, customer.id).await.unwrap().balance, 10);

        // The admin's list: one purchase and one redemption landed, three refusals.
        let tills = till::devices(&admin).await.unwrap();
        assert_eq!(tills.len(), 1, "{tills:?}");
        assert_eq!((tills[0].offline_purchases, tills[0].offline_redemptions, tills[0].refusals), (1, 1, 3));
        assert_eq!(tills[0].last_refusal.as_ref().map(|r| r.0.as_str()), Some("points.insufficient"));
        assert!(till::devices(&ctx(&db, &clock, &other, Role::Admin)).await.unwrap().is_empty());
        assert!(db.store.check_invariants(None).await.unwrap().holds());
    }
}
