//! The dashboard's trend numbers on both backends: per local day of the organization's
//! time zone (a day of 25 hours included), read by grouped queries, equal to the ledger
//! and the enrolments counted day by day, and to the dashboard's own totals per day.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, TxType};
use loyalty_core::domain::{OrgStatus, Role};
use loyalty_core::service::customers::{self, LedgerRange};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput, day_start};
use loyalty_core::service::reports::{self, local_date};
use loyalty_testkit::{both_backends, till};
use std::collections::{BTreeMap, BTreeSet};
use time::macros::datetime;

#[derive(Debug, Default, PartialEq, Eq)]
struct Day {
    issued: i64,
    redeemed: i64,
    active: BTreeSet<String>,
    new: i64,
}

both_backends! {
    async fn trend_numbers_per_local_day_match_the_ledger_in_the_shops_time_zone(db) {
        // New York: midnight is 04:00 UTC in summer time, 05:00 UTC in winter; summer
        // time ends on 3 November 2024, a day of 25 hours.
        let clock = FixedClock::new(datetime!(2024-10-30 12:00 UTC));
        let input = OnboardInput {
            name: Some("Corner market".into()), slug: Some("corner".into()),
            admin_email: Some("admin@corner.example.com".into()), admin_name: Some("Ada".into()),
            country: Some("US".into()), timezone: Some("America/New_York".into()), language: Some("en-US".into()),
            ..OnboardInput::default()
        };
        let org = db.store.insert_organization(&input.validate().expect("valid").org, OrgStatus::Active, clock.now())
            .await.expect("org");
        let other_input = OnboardInput {
            name: Some("Other market".into()), slug: Some("other".into()),
            admin_email: Some("admin@other.example.com".into()), admin_name: Some("Otto".into()),
            country: Some("US".into()), timezone: Some("America/New_York".into()), language: Some("en-US".into()),
            ..OnboardInput::default()
        };
        let other = db.store.insert_organization(&other_input.validate().expect("valid").org, OrgStatus::Active, clock.now())
            .await.expect("other");
        let admin = Ctx { store: db.store.as_ref(), clock: &clock, org: &org, role: Role::Admin,
            actor: Actor { member_id: None, label: "ada".into(), role: "admin".into(), request_id: None } };
        let enroll = |email: &'static str| EnrollInput { phone: None, email: Some(email.into()), name: None };
        let mut enrolled = vec![points::enroll(&admin, &enroll("a@example.com"), None).await.expect("a")];
        enrolled.push(points::enroll(&admin, &enroll("b@example.com"), None).await.expect("b"));
        let (a, b) = (enrolled[0].id, enrolled[1].id);
        // Another shop's activity never shows.
        let other_admin = Ctx { store: db.store.as_ref(), clock: &clock, org: &other, role: Role::Admin,
            actor: Actor { member_id: None, label: "otto".into(), role: "admin".into(), request_id: None } };
        let z = points::enroll(&other_admin, &enroll("z@example.com"), None).await.expect("z").id;

        let moments = [
            datetime!(2024-11-02 03:55 UTC), // 1 Nov 23:55 EDT
            datetime!(2024-11-02 04:05 UTC), // 2 Nov 00:05 EDT
            datetime!(2024-11-03 04:30 UTC), // 3 Nov 00:30 EDT
            datetime!(2024-11-04 04:30 UTC), // 3 Nov 23:30 EST (the 25-hour day)
            datetime!(2024-11-04 05:10 UTC), // 4 Nov 00:10 EST
            datetime!(2025-01-22 04:59 UTC), // 21 Jan 23:59 EST
            datetime!(2025-01-22 05:00 UTC), // 22 Jan 00:00 EST
            datetime!(2025-01-23 14:00 UTC), // today
        ];
        for (i, at) in moments.iter().enumerate() {
            clock.advance(*at - clock.now());
            till::award(&admin, a, &format!("{}.00", 10 + i), None, serde_json::json!({}), &format!("a{i}")).await.expect("award");
            till::award(&other_admin, z, "99.00", None, serde_json::json!({}), &format!("z{i}")).await.expect("other");
            if i % 2 == 1 {
                till::award(&admin, b, "30.00", None, serde_json::json!({}), &format!("b{i}")).await.expect("award");
                till::redeem(&admin, b, None, Some(5 + i as i64), &format!("r{i}")).await.expect("redeem");
            }
            if i == 3 {
                enrolled.push(points::enroll(&admin, &enroll("c@example.com"), None).await.expect("c"));
            }
        }
        clock.advance(datetime!(2025-01-23 14:05:30 UTC) - clock.now());

        // What the ledger and the enrolments say, day by day in New York.
        let tz = &org.timezone;
        let mut want: BTreeMap<time::Date, Day> = BTreeMap::new();
        for e in customers::ledger(&admin, None, LedgerRange::first(1000)).await.expect("ledger") {
            let day = want.entry(local_date(e.created_at, tz)).or_default();
            match e.transaction_type {
                TxType::Earned => day.issued += e.points,
                TxType::Redeemed => day.redeemed -= e.points,
                _ => continue,
            }
            day.active.insert(e.customer_id.to_string());
        }
        for c in &enrolled {
            want.entry(local_date(c.created_at, tz)).or_default().new += 1;
        }
        assert!(want.len() >= 8, "the moments fall on distinct local days: {want:?}");

        for days in [30, 90] {
            let trends = reports::trends(&admin, days).await.expect("trends");
            assert_eq!(trends.days.len(), usize::from(days));
            assert_eq!(trends.days.last().expect("today").date, local_date(clock.now(), tz));
            let mut seen = 0;
            for d in &trends.days {
                let got = Day {
                    issued: d.issued,
                    redeemed: d.redeemed,
                    active: BTreeSet::new(),
                    new: d.new_customers,
                };
                let w = want.get(&d.date);
                assert_eq!((got.issued, got.redeemed, got.new, d.active_customers),
                    w.map_or((0, 0, 0, 0), |w| (w.issued, w.redeemed, w.new, w.active.len() as i64)), "{}", d.date);
                // The dashboard's totals for that one day say the same.
                let next = d.date.next_day().expect("next");
                let t = db.store.activity_totals(org.id, day_start(d.date, tz), day_start(next, tz)).await.expect("totals");
                assert_eq!((t.points_issued, t.points_redeemed, t.active_customers), (d.issued, d.redeemed, d.active_customers), "{}", d.date);
                seen += usize::from(w.is_some());
            }
            // Within 90 days lie every moment's day; within 30 only January's.
            let in_range = want.keys().filter(|k| **k >= trends.days[0].date).count();
            assert_eq!(seen, in_range);
        }
    }
}
