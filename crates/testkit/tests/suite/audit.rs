//! Operator and staff actions in the audit log on both backends: onboarding, suspending,
//! reactivating, checklist ticks, staff created and deactivated, each written with its
//! change; an organization's admins see their own organization's records only.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, AuditRecord};
use loyalty_core::domain::{Organization, Role};
use loyalty_core::service::checklist;
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::orgs;
use loyalty_core::service::points::Ctx;
use loyalty_core::service::staff::{self, StaffInput};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::sync::Arc;

async fn onboarded(db: &TestDb, clock: &Arc<FixedClock>, slug: &str, by: &str) -> Organization {
    let dir = db.directory(clock.clone());
    let mut plan = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        ..OnboardInput::default()
    }
    .validate()
    .expect("valid");
    plan.operator = by.into();
    onboard::onboard(
        db.store.as_ref(),
        &dir,
        clock.as_ref(),
        &plan,
        CredentialMode::Password,
        &NoHooks,
    )
    .await
    .expect("onboard")
    .org
}

/// Records of `org`, oldest first, as (actor, role, action).
async fn log(db: &TestDb, org: &Organization) -> Vec<AuditRecord> {
    let mut all = db
        .store
        .audit_log(org.id, None, 500)
        .await
        .expect("audit log");
    all.reverse();
    all
}

fn summary(records: &[AuditRecord]) -> Vec<(String, String, String)> {
    records
        .iter()
        .map(|r| (r.actor.clone(), r.actor_role.clone(), r.action.clone()))
        .collect()
}

fn row(actor: &str, role: &str, action: &str) -> (String, String, String) {
    (actor.into(), role.into(), action.into())
}

both_backends! {
    async fn onboarding_suspending_and_reactivating_are_audited_with_the_operator(db) {
        let clock = Arc::new(fixed_clock());
        let org = onboarded(&db, &clock, "alpha", "olga").await;
        let store = db.store.as_ref();
        let ops = Actor::operator("olga");
        clock.advance(time::Duration::minutes(1));
        assert!(orgs::suspend(store, "alpha", &ops, clock.now()).await.expect("suspend").changed);
        clock.advance(time::Duration::minutes(1));
        assert!(!orgs::suspend(store, "alpha", &ops, clock.now()).await.expect("again").changed);
        clock.advance(time::Duration::minutes(1));
        assert!(orgs::activate(store, "alpha", &Actor::operator("  "), clock.now()).await.expect("activate").changed);

        let records = log(&db, &org).await;
        let ops_records: Vec<_> = records.iter().filter(|r| r.action.starts_with("org.")).cloned().collect();
        assert_eq!(summary(&ops_records), vec![
            row("olga", "operator", "org.onboard"),
            row("olga", "operator", "org.suspend"),
            row("operator", "operator", "org.reactivate"),
        ], "a suspend that changed nothing writes nothing");
        let suspend = &ops_records[1];
        assert_eq!(suspend.organization_id, Some(org.id));
        assert_eq!((suspend.target_type.as_deref(), suspend.target_id.clone()), (Some("organization"), Some(org.id.0.to_string())));
        assert_eq!(suspend.before.as_ref().and_then(|b| b["status"].as_str()), Some("active"));
        assert_eq!(suspend.after.as_ref().and_then(|a| a["status"].as_str()), Some("suspended"));
        assert_eq!(suspend.created_at, fixed_clock().now() + time::Duration::minutes(1));
        assert_eq!(ops_records[0].before.as_ref().and_then(|b| b["status"].as_str()), Some("onboarding"));

        // Onboarding again (already done) writes no second record.
        onboarded(&db, &clock, "alpha", "olga").await;
        assert_eq!(log(&db, &org).await.iter().filter(|r| r.action == "org.onboard").count(), 1);
    }

    async fn checklist_ticks_and_unticks_are_audited(db) {
        let clock = Arc::new(fixed_clock());
        let org = onboarded(&db, &clock, "alpha", "olga").await;
        let store = db.store.as_ref();
        checklist::mark(store, &org, "walkthrough", "jane", Some("video call"), clock.now()).await.expect("mark");
        checklist::mark(store, &org, "walkthrough", "joe", None, clock.now()).await.expect("again");
        assert!(checklist::unmark(store, &org, "walkthrough", "jane", clock.now()).await.expect("undo"));
        assert!(!checklist::unmark(store, &org, "walkthrough", "jane", clock.now()).await.expect("undo twice"));
        assert!(store.mark_checklist_item_once(org.id, "backup", checklist::SYSTEM, None, clock.now()).await.expect("once"));
        assert!(!store.mark_checklist_item_once(org.id, "backup", checklist::SYSTEM, None, clock.now()).await.expect("twice"));

        let records: Vec<_> = log(&db, &org).await.into_iter().filter(|r| r.action.starts_with("checklist.")).collect();
        assert_eq!(summary(&records), vec![
            row("jane", "operator", "checklist.tick"),
            row("joe", "operator", "checklist.tick"),
            row("jane", "operator", "checklist.untick"),
            row("loyalty", "system", "checklist.tick"),
        ], "an untick of nothing and a second automatic tick write nothing");
        assert_eq!(records[0].target_id.as_deref(), Some("walkthrough"));
        assert_eq!(records[0].after.as_ref().and_then(|a| a["note"].as_str()), Some("video call"));
        assert_eq!(records[1].before.as_ref().and_then(|b| b["done_by"].as_str()), Some("jane"));
        assert_eq!(records[2].before.as_ref().and_then(|b| b["done_by"].as_str()), Some("joe"));
        assert!(records[2].after.is_none());
    }

    async fn staff_created_deactivated_and_reactivated_are_audited(db) {
        let clock = Arc::new(fixed_clock());
        let org = onboarded(&db, &clock, "alpha", "olga").await;
        let dir = db.directory(clock.clone());
        let ctx = Ctx {
            store: db.store.as_ref(),
            clock: clock.as_ref(),
            org: &org,
            actor: Actor { member_id: None, label: "ada".into(), role: "admin".into(), request_id: Some("req-1".into()) },
            role: Role::Admin,
        };
        let input = StaffInput { username: "carol".into(), name: "Carol".into(), email: "carol@alpha.example.com".into() };
        let created = staff::create_staff(&ctx, &dir, Role::Cashier, &input).await.expect("create");
        staff::deactivate_staff(&ctx, &dir, created.member.id).await.expect("deactivate");
        staff::deactivate_staff(&ctx, &dir, created.member.id).await.expect("deactivate twice");
        let again = staff::create_staff(&ctx, &dir, Role::Cashier, &input).await.expect("again");
        assert_eq!((again.member.id, again.member.status.as_str()), (created.member.id, "active"));

        let records: Vec<_> = log(&db, &org).await.into_iter().filter(|r| r.action.starts_with("staff.")).collect();
        assert_eq!(summary(&records), vec![
            row("ada", "admin", "staff.create"),
            row("ada", "admin", "staff.deactivate"),
            row("ada", "admin", "staff.reactivate"),
        ]);
        assert!(records.iter().all(|r| r.target_id == Some(created.member.id.to_string()) && r.request_id.as_deref() == Some("req-1")));
        assert_eq!(records[0].after.as_ref().and_then(|a| a["role"].as_str()), Some("cashier"));
        assert!(records[0].before.is_none());
        assert_eq!(records[1].after.as_ref().and_then(|a| a["status"].as_str()), Some("suspended"));
    }

    async fn an_admin_of_one_organization_never_sees_another_organizations_operator_records(db) {
        let clock = Arc::new(fixed_clock());
        let a = onboarded(&db, &clock, "alpha", "olga").await;
        let b = onboarded(&db, &clock, "bravo", "olga").await;
        let store = db.store.as_ref();
        let ops = Actor::operator("olga");
        orgs::suspend(store, "alpha", &ops, clock.now()).await.expect("suspend");
        orgs::activate(store, "alpha", &ops, clock.now()).await.expect("activate");
        checklist::mark(store, &a, "walkthrough", "olga", None, clock.now()).await.expect("mark");
        checklist::unmark(store, &a, "walkthrough", "olga", clock.now()).await.expect("unmark");
        let restore = AuditRecord::new(None, &ops, "backup.restore", ("backup", "20250123_140530".into()), None, Some(serde_json::json!({"set": "20250123_140530"})), clock.now());
        store.append_audit(&restore).await.expect("installation record");

        let seen_by_b = store.audit_log(b.id, None, 500).await.expect("b's log");
        assert!(seen_by_b.iter().all(|r| r.organization_id == Some(b.id)), "{seen_by_b:?}");
        assert_eq!(summary(&seen_by_b), vec![row("olga", "operator", "org.onboard")], "bravo's own onboarding only");
        let seen_by_a = store.audit_log(a.id, None, 500).await.expect("a's log");
        assert_eq!(seen_by_a.len(), 5, "{seen_by_a:?}");
        assert!(seen_by_a.iter().all(|r| r.organization_id == Some(a.id)), "no installation records for a tenant");

        // The operator's view of an organization adds the installation's records only.
        let operator_b = store.operator_audit_log(b.id, None, 500).await.expect("operator view");
        assert_eq!(summary(&operator_b), vec![row("olga", "operator", "backup.restore"), row("olga", "operator", "org.onboard")]);
        assert_eq!(operator_b[0], restore);
        assert_eq!(store.operator_audit_log(a.id, None, 500).await.expect("operator view").len(), 6);
    }
}
