//! The operator console on both backends: search, filters, order and pages over the
//! shops with their figures from one store query; organization checks run from the page
//! and kept; a shop's admin panel opened read-only for support, each visit in the shop's
//! audit log and every change refused with `operator.read_only`.

use super::app::{CSRF, TestApp};
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::points::{self, Ctx};
use loyalty_core::store::{ConsoleFilter, ConsoleSort};
use loyalty_testkit::{both_backends, fixed_clock, fixed_clock_now};

both_backends! {
    async fn the_console_searches_filters_sorts_and_pages_with_each_shops_figures(db) {
        let app = TestApp::new(db).await;
        let store = app.db.store.as_ref();
        let clock = fixed_clock();
        let ctx = Ctx { store, clock: &clock, org: &app.a, actor: Actor::system(), role: Role::Admin };
        for (i, phone) in ["202-555-0101", "202-555-0102", "202-555-0103"].iter().enumerate() {
            let c = points::enroll(&ctx, &points::EnrollInput { phone: Some((*phone).into()), ..Default::default() }, None).await.unwrap();
            loyalty_testkit::till::award(&ctx, c.id, "10.00", None, serde_json::json!({}), &format!("k{i}")).await.unwrap();
        }
        loyalty_core::service::checklist::mark(store, &app.a, "walkthrough", "ops", None, fixed_clock_now()).await.unwrap();

        // The store: one page, its figures, and how many match.
        let windows = loyalty_core::service::orgs::console_windows(fixed_clock_now());
        let page = store.console_page(&ConsoleFilter { sort: ConsoleSort::AwardsToday, descending: true, ..Default::default() }, windows).await.unwrap();
        assert_eq!(page.total, 2);
        let alpha = &page.shops[0];
        assert_eq!(alpha.summary.org.slug.as_str(), "alpha");
        assert_eq!((alpha.awards_today, alpha.awards_30d, alpha.checklist_done), (3, 3, 1));
        assert!(alpha.last_activity.is_some() && alpha.checks.is_none());
        assert_eq!((page.shops[1].awards_30d, page.shops[1].last_activity), (0, None));
        let later = loyalty_core::service::orgs::console_windows(fixed_clock_now() + time::Duration::days(2));
        let page = store.console_page(&ConsoleFilter { search: Some("alp".into()), ..Default::default() }, later).await.unwrap();
        assert_eq!((page.total, page.shops.len()), (1, 1));
        assert_eq!((page.shops[0].awards_today, page.shops[0].awards_30d), (0, 3), "today moved on; the 30 days did not");
        let second = store.console_page(&ConsoleFilter { limit: Some(1), offset: 1, ..Default::default() }, windows).await.unwrap();
        assert_eq!((second.total, second.shops.len()), (2, 1));
        assert_eq!(second.shops[0].summary.org.slug.as_str(), "beta");

        // The page.
        let ops = app.person("ops", &["loyalty-operators"]).await;
        let all = app.get(&ops, "/operator").await;
        assert_eq!(all.status, 200);
        assert!(all.body.contains("data-slug=\"alpha\"") && all.body.contains("data-slug=\"beta\""));
        let found = app.get(&ops, "/operator?q=ALPHA+mar&status=&plan=").await;
        assert_eq!(found.status, 200);
        assert!(found.body.contains("data-slug=\"alpha\"") && !found.body.contains("data-slug=\"beta\""), "{}", found.body);
        let progress = format!("1/{}", loyalty_core::service::orgs::checklist_items());
        assert!(found.body.contains(&progress), "checklist progress: {}", found.body);
        let suspended = app.get(&ops, "/operator?status=suspended").await;
        assert!(suspended.body.contains("No shop matches"), "{}", suspended.body);
        let premium = app.get(&ops, "/operator?plan=premium").await;
        assert!(!premium.body.contains("data-slug="), "{}", premium.body);
        let sorted = app.get(&ops, "/operator?sort=slug&dir=desc").await;
        let (b, a) = (sorted.body.find("data-slug=\"beta\"").unwrap(), sorted.body.find("data-slug=\"alpha\"").unwrap());
        assert!(b < a, "beta first when sorted by slug descending");
        for sort in ConsoleSort::ALL {
            let r = app.get(&ops, &format!("/operator?sort={}&dir=desc", sort.as_str())).await;
            assert_eq!(r.status, 200, "sort={}", sort.as_str());
        }
        assert_eq!(app.get(&ops, "/operator?sort=loudest").await.status, 400);
        assert_eq!(app.get(&ops, "/operator?page=x").await.status, 400);
        let past = app.get(&ops, "/operator?page=7").await;
        assert_eq!(past.status, 200);
        assert!(!past.body.contains("data-slug="));
    }

    async fn checks_run_from_the_console_are_kept_with_their_time(db) {
        let app = TestApp::new(db).await;
        let ops = app.person("ops", &["loyalty-operators"]).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        assert_eq!(app.post(&admin, "/operator/orgs/alpha/checks", &[("csrf", CSRF)]).await.status, 403);
        let r = app.post(&ops, "/operator/orgs/alpha/checks", &[("csrf", CSRF)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), "/operator/orgs/alpha?done=checked");
        let view = app.get(&ops, "/operator/orgs/alpha").await;
        // alpha's groups were never made in this test app: the checks say so.
        assert!(view.body.contains("FAIL") && view.body.contains("alpha-admins") && view.body.contains("ops"), "{}", view.body);
        // The shop's trend charts, with their numbers (30 days, or 90).
        assert!(view.body.contains("id=\"chart-points\"") && view.body.contains("id=\"chart-customers\""), "{}", view.body);
        assert!(view.body.matches("<tr><td>").count() >= 30);
        let ninety = app.get(&ops, "/operator/orgs/alpha?days=90").await;
        assert!(ninety.body.contains("<strong aria-current=\"true\">90 days</strong>"), "{}", ninety.body);
        let run = app.db.store.latest_org_checks(app.a.id).await.unwrap().expect("kept");
        assert_eq!((run.worst.as_str(), run.ran_by.as_str(), run.ran_at), ("fail", "ops", fixed_clock_now()));
        assert!(run.ok >= 2 && run.fail >= 1, "{run:?}");
        let console = app.get(&ops, "/operator").await;
        assert!(console.body.contains(">FAIL<"), "{}", console.body);
        assert!(app.db.store.latest_org_checks(app.b.id).await.unwrap().is_none(), "only alpha ran");
        assert_eq!(app.post(&ops, "/operator/orgs/nowhere/checks", &[("csrf", CSRF)]).await.status, 404);
    }

    async fn an_operator_reads_a_shops_admin_panel_read_only_and_each_visit_is_audited(db) {
        let app = TestApp::new(db).await;
        let ops = app.person("ops", &["loyalty-operators"]).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let page = app.get(&ops, "/o/alpha/admin/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<fieldset class=\"read-only\" disabled>") && page.body.contains("Read-only support view"), "{}", page.body);
        let before = app.get(&ops, "/o/alpha/admin/rewards").await;
        assert_eq!(before.status, 200);
        let refused = app.post(&ops, "/o/alpha/admin/rewards", &[("csrf", CSRF), ("name", "Free coffee"), ("points_cost", "100")]).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("read-only") || refused.body.contains("nothing can be changed"), "{}", refused.body);
        let rewards = app.db.store.list_rewards(app.a.id).await.unwrap();
        assert!(rewards.is_empty(), "nothing was written");

        let audit = app.get(&admin, "/o/alpha/admin/audit").await;
        assert_eq!(audit.status, 200);
        assert!(audit.body.contains("support.view") && audit.body.contains("/o/alpha/admin/settings") && audit.body.contains("/o/alpha/admin/rewards") && audit.body.contains("ops"), "{}", audit.body);
        let log = app.db.store.audit_log(app.a.id, None, 50).await.unwrap();
        let visits: Vec<_> = log.iter().filter(|r| r.action == "support.view").collect();
        assert_eq!(visits.len(), 2, "one record per page view: {visits:?}");
        assert!(visits.iter().all(|r| r.actor == "ops" && r.actor_role == "operator"));
        // The shop's own admin is no support visit, and writes nothing of the kind.
        let own = app.get(&admin, "/o/alpha/admin/settings").await;
        assert!(!own.body.contains("read-only"), "{}", own.body);
        let log = app.db.store.audit_log(app.a.id, None, 50).await.unwrap();
        assert_eq!(log.iter().filter(|r| r.action == "support.view").count(), 2);
        assert!(app.db.store.audit_log(app.b.id, None, 50).await.unwrap().iter().all(|r| r.action != "support.view"));
    }
}
