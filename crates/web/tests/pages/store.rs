//! The store methods the pages added, on both backends: sign-in counters with their
//! window, activity totals in a period, purchases newest first.

use super::app::TestApp;
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_core::service::points::{self, Ctx};
use loyalty_testkit::{both_backends, fixed_clock, fixed_clock_now};
use time::Duration;

both_backends! {
    async fn sign_in_counters_count_within_their_window_and_reset(db) {
        let store = db.store.clone();
        let now = fixed_clock_now();
        let since = now - Duration::minutes(15);
        assert_eq!(store.login_failures("user:a", since).await.unwrap(), 0);
        assert_eq!(store.record_login_failure("user:a", since, now).await.unwrap(), 1);
        assert_eq!(store.record_login_failure("user:a", since, now).await.unwrap(), 2);
        assert_eq!(store.login_failures("user:a", since).await.unwrap(), 2);
        assert_eq!(store.login_failures("user:b", since).await.unwrap(), 0);
        let later = now + Duration::minutes(16);
        assert_eq!(store.login_failures("user:a", later - Duration::minutes(15)).await.unwrap(), 0, "the window ran out");
        assert_eq!(store.record_login_failure("user:a", later - Duration::minutes(15), later).await.unwrap(), 1, "a new window starts");
        store.clear_login_failures("user:a").await.unwrap();
        assert_eq!(store.login_failures("user:a", since).await.unwrap(), 0);
    }

    async fn activity_totals_and_purchases_cover_their_period(db) {
        let app = TestApp::new(db).await;
        let store = app.db.store.as_ref();
        let clock = fixed_clock();
        let ctx = Ctx { store, clock: &clock, org: &app.a, actor: Actor::system(), role: Role::Admin };
        let mut ids = Vec::new();
        for (i, phone) in ["202-555-0101", "202-555-0102"].iter().enumerate() {
            let c = points::enroll(&ctx, &points::EnrollInput { phone: Some((*phone).into()), ..Default::default() }, None).await.unwrap();
            loyalty_testkit::till::award(&ctx, c.id, &format!("{}.00", 10 * (i + 1)), None, serde_json::json!({}), &format!("k{i}")).await.unwrap();
            ids.push(c.id);
        }
        loyalty_testkit::till::redeem(&ctx, ids[1], None, Some(5), "r1").await.unwrap();
        // Another organization's activity never counts.
        let beta = Ctx { store, clock: &clock, org: &app.b, actor: Actor::system(), role: Role::Admin };
        let other = points::enroll(&beta, &points::EnrollInput { phone: Some("202-555-0109".into()), ..Default::default() }, None).await.unwrap();
        loyalty_testkit::till::award(&beta, other.id, "99.00", None, serde_json::json!({}), "b1").await.unwrap();
        let now = fixed_clock_now();
        let t = store.activity_totals(app.a.id, now - Duration::hours(1), now + Duration::hours(1)).await.unwrap();
        assert_eq!((t.purchases, t.points_issued, t.points_redeemed, t.active_customers), (2, 30, 5, 2));
        let none = store.activity_totals(app.a.id, now + Duration::hours(1), now + Duration::hours(2)).await.unwrap();
        assert_eq!(none, Default::default());
        let b = store.balance_totals(app.a.id).await.unwrap();
        assert_eq!((b.customers, b.outstanding), (2, 25));
        let all = store.list_purchases(app.a.id, None, None, None, 10).await.unwrap();
        assert_eq!(all.len(), 2);
        let mine = store.list_purchases(app.a.id, Some(ids[0]), Some(now), None, 10).await.unwrap();
        assert_eq!(mine.len(), 1);
        let page2 = store.list_purchases(app.a.id, None, None, Some((all[0].created_at, all[0].id)), 10).await.unwrap();
        assert_eq!(page2.len(), 1);
        assert_eq!(page2[0].id, all[1].id);
        let _ = NewCustomer { phone: None, email: None, name: None, card_number: String::new(), identity_subject: None, created_by: None };
        // The dashboard page shows them.
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let page = app.get(&admin, "/o/alpha/admin").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<span class=\"v\">25</span>"), "outstanding points shown: {}", page.body);
        let csv = app.get(&admin, "/o/alpha/admin/exports/download?kind=purchases&period=this-month&format=csv-machine").await;
        assert_eq!(csv.status, 200);
        assert!(csv.headers.get("content-disposition").unwrap().to_str().unwrap().contains("purchases-alpha-"));
        assert_eq!(csv.body.lines().count(), 3, "{}", csv.body);
        // A bad range is a page that says what to fix, not the API's JSON.
        let bad = app.get(&admin, "/o/alpha/admin/exports/download?kind=ledger&period=custom&from=2025-02-01&to=2025-01-01&format=xlsx").await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(bad.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
        assert!(bad.body.contains("the last day is before the first day"), "{}", bad.body);
        assert!(bad.body.contains("/o/alpha/admin/exports"), "a way back: {}", bad.body);
        let page = app.get(&admin, "/o/alpha/admin/exports").await;
        assert_eq!(page.status, 200);
        for choice in ["value=\"ledger\"", "value=\"balances\"", "value=\"purchases\"", "value=\"summary\"", "value=\"last-month\"", "value=\"custom\"", "value=\"csv-machine\""] {
            assert!(page.body.contains(choice), "{choice}: {}", page.body);
        }
    }
}
