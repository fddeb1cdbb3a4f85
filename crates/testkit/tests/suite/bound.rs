//! The purchase bound on both backends: the 95th percentile of the last 90 days'
//! purchases, read in the store (PostgreSQL's percentile_disc, SQLite's ordered offset),
//! times ten, with a floor; the bound an admin sets wins.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgSlug, OrgStatus, Organization, Role};
use loyalty_core::service::bound;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use rust_decimal::Decimal;
use uuid::Uuid;

async fn org(db: &TestDb, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some("Bound market".into()),
        slug: Some("bound".into()),
        admin_email: Some("admin@bound.example.com".into()),
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

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "test-admin".into(),
            role: "admin".into(),
            request_id: None,
        },
        role: Role::Admin,
    }
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

both_backends! {
    async fn the_bound_is_ten_times_the_95th_percentile_of_90_days_with_a_floor(db) {
        let clock = fixed_clock();
        let o = org(&db, &clock).await;
        let c = ctx(&db, &clock, &o);
        let who = points::enroll(&c, &EnrollInput { phone: Some("202-555-0101".into()), email: None, name: None }, None)
            .await
            .unwrap()
            .id;
        let award = |amount: String| {
            let c = &c;
            async move {
                loyalty_testkit::till::award(c, who, &amount, None, serde_json::json!({}), &Uuid::new_v4().to_string()).await.unwrap();
            }
        };
        // Large purchases long ago are outside the window.
        for _ in 0..5 {
            award("90000.00".into()).await;
        }
        clock.advance(time::Duration::days(91));
        assert_eq!(db.store.purchase_percentile(o.id, clock.now() - time::Duration::days(90), 950).await.unwrap(), (0, None));
        assert_eq!(bound::purchase_bound(&c).await.unwrap(), d("500"), "no purchases: the floor");
        // 10.00, 20.00 ... 190.00: 19 purchases are too few, the floor holds.
        for i in 1..=19 {
            award(format!("{}.00", i * 10)).await;
        }
        assert_eq!(bound::purchase_bound(&c).await.unwrap(), d("500"));
        // The 20th (200.00): the 95th percentile is the 19th of 20, 190.00 (text order
        // would say 90.00), so the bound is 1900.00.
        award("200.00".into()).await;
        let (n, p) = db.store.purchase_percentile(o.id, clock.now() - time::Duration::days(90), 950).await.unwrap();
        assert_eq!((n, p), (20, Some(d("190"))));
        assert_eq!(bound::purchase_bound(&c).await.unwrap(), d("1900"));
        assert_eq!(bound::unusual(&c, d("1900.01")).await.unwrap(), Some(d("1900")));
        assert_eq!(bound::unusual(&c, d("1900")).await.unwrap(), None);
        assert_eq!(bound::unusual(&c, d("499")).await.unwrap(), None);
        // An admin's bound wins, and is kept by a settings change that does not name it.
        let limits = points::Limits { purchase_bound: Some("250.00".into()), daily_points_flag: Some(400) };
        points::update_settings_with_limits(&c, "1", "0", None, true, &limits).await.unwrap();
        let o2 = db.store.organization_by_slug(&OrgSlug::parse("bound").unwrap()).await.unwrap().unwrap();
        assert_eq!(o2.purchase_bound, Some(d("250")));
        assert_eq!(o2.daily_points_flag, Some(400));
        let c2 = ctx(&db, &clock, &o2);
        assert_eq!(bound::unusual(&c2, d("300")).await.unwrap(), Some(d("250")));
        points::update_settings(&c2, "2", "0", None, true).await.unwrap();
        let o3 = db.store.organization_by_slug(&OrgSlug::parse("bound").unwrap()).await.unwrap().unwrap();
        assert_eq!((o3.purchase_bound, o3.daily_points_flag), (Some(d("250")), Some(400)));
        // A bound that is not a positive amount is refused on its field.
        let bad = points::Limits { purchase_bound: Some("0".into()), daily_points_flag: Some(0) };
        let e = points::update_settings_with_limits(&c2, "1", "0", None, true, &bad).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("purchase_bound") && text.contains("daily_points_flag"), "{text}");
    }
}
