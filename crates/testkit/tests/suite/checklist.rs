//! The post-handoff checklist on both backends: ticks persist per organization, the
//! items the system sees tick themselves, unknown items are refused.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::directory::Directory;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{Organization, Role, Username};
use loyalty_core::service::checklist::{self, Observed};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::staff::{self, StaffInput};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use secrecy::SecretString;
use std::sync::Arc;

async fn onboarded(db: &TestDb, clock: &Arc<FixedClock>, slug: &str) -> Organization {
    let dir = db.directory(clock.clone());
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    let plan = input.validate().expect("valid");
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

fn admin<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "admin".into(),
            role: "admin".into(),
            request_id: None,
        },
        role: Role::Admin,
    }
}

fn done(entries: &[checklist::Entry]) -> Vec<&'static str> {
    entries.iter().filter(|e| e.done).map(|e| e.item).collect()
}

both_backends! {
    async fn ticks_persist_per_organization_and_can_be_undone(db) {
        let clock = Arc::new(fixed_clock());
        let a = onboarded(&db, &clock, "alpha").await;
        let b = onboarded(&db, &clock, "bravo").await;
        let store = db.store.as_ref();
        assert!(store.checklist_marks(a.id).await.expect("marks").is_empty());

        let m = checklist::mark(store, &a, "Walkthrough", "jane", Some("  video call  "), clock.now()).await.expect("mark");
        assert_eq!((m.item.as_str(), m.done_by.as_str(), m.note.as_deref(), m.done_at), ("walkthrough", "jane", Some("video call"), clock.now()));
        clock.advance(time::Duration::hours(1));
        let again = checklist::mark(store, &a, "walkthrough", "joe", None, clock.now()).await.expect("again");
        assert_eq!((again.done_by.as_str(), again.note, again.done_at), ("joe", None, clock.now()));
        assert!(!store.mark_checklist_item_once(a.id, "walkthrough", "loyalty", None, clock.now()).await.expect("once"), "a tick is kept");
        assert_eq!(store.checklist_marks(a.id).await.expect("marks").len(), 1);
        assert!(store.checklist_marks(b.id).await.expect("other org").is_empty(), "ticks belong to one organization");

        assert!(checklist::unmark(store, &a, "walkthrough", "jane", clock.now()).await.expect("undo"));
        assert!(!checklist::unmark(store, &a, "walkthrough", "jane", clock.now()).await.expect("undo twice"));
        assert!(store.checklist_marks(a.id).await.expect("marks").is_empty());

        for bad in ["nope", ""] {
            let e = checklist::mark(store, &a, bad, "jane", None, clock.now()).await.expect_err(bad);
            assert_eq!(e.code(), "validation.failed");
            assert!(e.to_string().contains("--done") && e.to_string().contains("first-cashier"), "{e}");
        }
        let e = checklist::unmark(store, &a, "nope", "jane", clock.now()).await.expect_err("undo unknown");
        assert!(e.to_string().contains("--undo"), "{e}");
        assert!(store.checklist_marks(a.id).await.expect("marks").is_empty(), "nothing written");
    }

    async fn items_the_system_sees_tick_themselves(db) {
        let clock = Arc::new(fixed_clock());
        let org = onboarded(&db, &clock, "nextdoor").await;
        let store = db.store.as_ref();
        let dir = db.directory(clock.clone());

        let seen = checklist::observe(store, None, &org, None).await.expect("observe");
        assert_eq!(seen, Observed { admin_password_changed: Some(false), cashier: false, purchase: false, backup: false });
        let entries = checklist::show(store, &org, &seen, clock.now()).await.expect("show");
        assert!(done(&entries).is_empty(), "{entries:?}");

        // The admin replaces the generated password with their own.
        let account = dir.find_user_by_username(&Username::parse("nextdoor_admin").expect("name")).await.expect("find").expect("admin");
        dir.set_password(account.pk, &SecretString::from("a long passphrase of my own"), false).await.expect("password");
        // A cashier, a customer and a purchase.
        let ctx = admin(&db, &clock, &org);
        staff::create_staff(&ctx, &dir, Role::Cashier, &StaffInput { username: "carol".into(), name: "Carol".into(), email: "carol@nextdoor.example.com".into() }).await.expect("cashier");
        let c = points::enroll(&ctx, &EnrollInput { phone: Some("202-555-0143".into()), ..EnrollInput::default() }, None).await.expect("enroll");
        loyalty_testkit::till::award(&ctx, c.id, "12.50", None, serde_json::json!({}), "k1").await.expect("award");
        // A backup older than the onboarding does not count; a newer one does.
        let old = checklist::observe(store, None, &org, Some(org.created_at - time::Duration::days(1))).await.expect("observe");
        assert!(!old.backup);

        clock.advance(time::Duration::minutes(5));
        let seen = checklist::observe(store, None, &org, Some(org.created_at + time::Duration::minutes(1))).await.expect("observe");
        assert_eq!(seen, Observed { admin_password_changed: Some(true), cashier: true, purchase: true, backup: true });
        let entries = checklist::show(store, &org, &seen, clock.now()).await.expect("show");
        assert_eq!(done(&entries), ["admin-password", "first-cashier", "first-purchase", "backup"]);
        let first = entries.iter().find(|e| e.item == "first-cashier").expect("entry");
        assert_eq!((first.done_by.as_deref(), first.done_at), (Some(checklist::SYSTEM), Some(clock.now())));

        // Shown again later, the first sighting is kept.
        clock.advance(time::Duration::hours(2));
        let entries = checklist::show(store, &org, &seen, clock.now()).await.expect("show");
        let first = entries.iter().find(|e| e.item == "first-cashier").expect("entry");
        assert_eq!(first.done_at, Some(clock.now() - time::Duration::hours(2)));
    }
}
