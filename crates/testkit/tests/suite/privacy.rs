//! A person's data on both backends: the data package holds every record about them
//! and none about anyone else; an erasure leaves no personal value in any table, in a
//! later package or ledger export, keeps the ledger whole, and is applied again by the
//! replay of the erasure log that a restore runs.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, CustomerKey, RewardInput};
use loyalty_core::domain::{CustomerId, OrgStatus, Organization, Role};
use loyalty_core::service::erasure;
use loyalty_core::service::exports::{self, Export, ExportKind, ExportParams};
use loyalty_core::service::join::{self, JoinInput};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::rewards;
use loyalty_testkit::till::{adjust, award, redeem};
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::io::Read;
use uuid::Uuid;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    db.store
        .insert_organization(
            &input.validate().expect("valid").org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .expect("org")
}

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization, role: Role) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: format!("test-{role}"),
            role: role.as_str().into(),
            request_id: Some("req-1".into()),
        },
        role,
    }
}

fn key() -> String {
    Uuid::new_v4().to_string()
}

/// The personal values of a person, as they would appear anywhere.
struct Person {
    id: CustomerId,
    subject: Option<String>,
    values: Vec<String>,
}

/// Zelda joins online (a built-in account, a password link, a session, a queued mail),
/// buys twice, takes a reward, is corrected by hand; Bruno (same shop, at the till) and
/// Nina (another shop) do business too.
async fn story(db: &TestDb, clock: &FixedClock) -> (Organization, Person, Person, Person) {
    let alpha = org(db, "alpha", clock).await;
    let beta = org(db, "beta", clock).await;
    let dir = db.directory(std::sync::Arc::new(clock.clone()));
    let admin = ctx(db, clock, &alpha, Role::Admin);
    let cashier = ctx(db, clock, &alpha, Role::Cashier);

    let joined = join::join(
        db.store.as_ref(),
        &dir,
        clock,
        &alpha,
        &JoinInput {
            name: "Zelda Quixote-Privacy".into(),
            email: "zelda.privacy@example.net".into(),
            phone: "202-555-0177".into(),
            marketing: true,
        },
    )
    .await
    .expect("join");
    let zelda = joined.customer;
    // The box on the join page was ticked: recorded with its time and source.
    assert!(zelda.marketing_consent.granted);
    assert_eq!(
        zelda.marketing_consent.source,
        Some(loyalty_core::domain::ConsentSource::Join)
    );
    assert_eq!(zelda.marketing_consent.at, Some(clock.now()));
    let account = db
        .store
        .account_by_username("zelda.privacy@example.net")
        .await
        .expect("account")
        .expect("made");
    db.store
        .insert_session(
            "zelda-session-hash",
            account.pk,
            "zelda-csrf",
            clock.now(),
            clock.now() + time::Duration::days(1),
        )
        .await
        .expect("session");
    db.execute(&format!(
        "INSERT INTO mail_outbox (id, organization_id, kind, dedupe_key, to_address, subject, body_text, created_at, next_attempt_at) \
         VALUES ('{}', '{}', 'points_receipt', 'zelda-receipt', 'zelda.privacy@example.net', 'Your points, Zelda Quixote-Privacy', 'Hello Zelda Quixote-Privacy', '2025-01-23T14:05:30Z', '2025-01-23T14:05:30Z')",
        Uuid::new_v4(),
        alpha.id.0
    ))
    .await;

    let bruno = points::enroll(
        &cashier,
        &EnrollInput {
            phone: Some("202-555-0188".into()),
            email: Some("bruno.other@example.net".into()),
            name: Some("Bruno Otherperson".into()),
        },
        None,
    )
    .await
    .expect("enroll bruno");
    let nina = points::enroll(
        &ctx(db, clock, &beta, Role::Cashier),
        &EnrollInput {
            phone: Some("202-555-0199".into()),
            email: Some("nina.elsewhere@example.net".into()),
            name: Some("Nina Elsewhere".into()),
        },
        None,
    )
    .await
    .expect("enroll nina");

    let reward = rewards::create_reward(
        &admin,
        &RewardInput {
            name: "Free coffee".into(),
            cost_points: 5,
            active: true,
            stock: None,
        },
    )
    .await
    .expect("reward");
    for (who, amount) in [(zelda.id, "12.50"), (bruno.id, "30.00"), (zelda.id, "7.00")] {
        clock.advance(time::Duration::minutes(5));
        award(&cashier, who, amount, None, serde_json::json!({}), &key())
            .await
            .expect("award");
    }
    clock.advance(time::Duration::minutes(5));
    redeem(&cashier, zelda.id, Some(reward.id), None, &key())
        .await
        .expect("redeem");
    clock.advance(time::Duration::minutes(5));
    adjust(&admin, zelda.id, 3, "goodwill after a broken card", &key())
        .await
        .expect("adjust");
    clock.advance(time::Duration::minutes(5));
    award(
        &ctx(db, clock, &beta, Role::Cashier),
        nina.id,
        "9.00",
        None,
        serde_json::json!({}),
        &key(),
    )
    .await
    .expect("award nina");

    let person = |c: &loyalty_core::domain::ledger::Customer| Person {
        id: c.id,
        subject: c.identity_subject.clone(),
        values: [
            c.name.clone(),
            c.email.clone(),
            c.phone.clone(),
            Some(c.card_number.clone()),
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    let (z, b, n) = (person(&zelda), person(&bruno), person(&nina));
    (alpha, z, b, n)
}

/// Every file of a zip, as (name, text).
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).expect("entry");
            let mut text = String::new();
            f.read_to_string(&mut text).expect("utf-8");
            (f.name().expect("name").to_string(), text)
        })
        .collect()
}

async fn ledger_csv(c: &Ctx<'_>) -> String {
    let mut export = Export::begin(
        c,
        ExportKind::Ledger,
        &ExportParams {
            from: Some("2025-01-01".into()),
            to: Some("2025-01-31".into()),
            ..ExportParams::default()
        },
    )
    .expect("export");
    let mut out = Vec::new();
    while let Some(chunk) = export.next_chunk(c.store).await.expect("chunk") {
        out.extend(chunk);
    }
    String::from_utf8(out).expect("utf-8")
}

/// The tables and rows where any of `values` appears (case-insensitive).
async fn found(db: &TestDb, values: &[String]) -> Vec<(String, String)> {
    db.all_text()
        .await
        .into_iter()
        .filter(|(_, row)| {
            let row = row.to_lowercase();
            values.iter().any(|v| row.contains(&v.to_lowercase()))
        })
        .collect()
}

both_backends! {
    async fn the_package_holds_every_record_of_the_person_and_none_of_anyone_else(db) {
        let clock = fixed_clock();
        let (alpha, zelda, bruno, nina) = story(&db, &clock).await;
        let admin = ctx(&db, &clock, &alpha, Role::Admin);

        let package = exports::customer_package(&admin, zelda.id).await.expect("package");
        assert_eq!(package.content_type(), "application/zip");
        let files = unzip(&package.bytes);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["README.txt", "data.json", "profile.csv", "ledger.csv", "purchases.csv", "redemptions.csv", "audit.csv"]);
        let all: String = files.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n");

        for v in &zelda.values {
            assert!(all.contains(v.as_str()), "the package lacks {v}");
        }
        let entries = db.store.ledger(alpha.id, Some(zelda.id), None, None, None, 1000).await.expect("ledger");
        assert_eq!(entries.len(), 4, "two purchases, a redemption, an adjustment");
        for e in &entries {
            assert!(all.contains(&e.id.to_string()), "entry {} missing", e.id);
        }
        let purchases = db.store.list_purchases(alpha.id, Some(zelda.id), None, None, 100).await.expect("purchases");
        assert_eq!(purchases.len(), 2);
        for p in &purchases {
            assert!(files[4].1.contains(&p.id.to_string()), "purchase {} missing", p.id);
        }
        assert!(files[5].1.contains("Free coffee"), "the redemption names the reward");
        let audit = db.store.customer_audit(alpha.id, zelda.id).await.expect("audit");
        assert!(audit.iter().any(|a| a.action == "customer.enroll"));
        for a in &audit {
            assert!(files[6].1.contains(&a.id.to_string()), "audit record {} missing", a.action);
        }
        let data: serde_json::Value = serde_json::from_str(&files[1].1).expect("json");
        assert_eq!(data["ledger"].as_array().map(Vec::len), Some(4));
        assert_eq!(data["purchases"].as_array().map(Vec::len), Some(2));
        assert_eq!(data["redemptions"].as_array().map(Vec::len), Some(1));

        // Nothing about Bruno (same shop) or Nina (another shop), nor the staff's names.
        let others = db.store.ledger(alpha.id, Some(bruno.id), None, None, None, 1000).await.expect("ledger");
        for v in bruno.values.iter().chain(&nina.values).chain([&bruno.id.to_string(), &nina.id.to_string()]) {
            assert!(!all.contains(v.as_str()), "the package holds someone else's {v}");
        }
        for e in &others {
            assert!(!all.contains(&e.id.to_string()));
        }
        assert!(!all.contains("test-cashier") && !all.contains("test-admin"), "staff are named by role only");

        // The customer's own package is the same; a cashier gets none.
        let me = ctx(&db, &clock, &alpha, Role::Customer);
        let own = exports::own_package(&me, zelda.subject.as_deref()).await.expect("own package");
        assert_eq!(unzip(&own.bytes)[3], files[3]);
        let cashier = ctx(&db, &clock, &alpha, Role::Cashier);
        assert!(matches!(exports::customer_package(&cashier, zelda.id).await, Err(loyalty_core::Error::Forbidden(_))));
    }

    async fn after_an_erasure_no_personal_value_is_left_and_the_ledger_holds(db) {
        let clock = fixed_clock();
        let (alpha, zelda, bruno, nina) = story(&db, &clock).await;
        let admin = ctx(&db, &clock, &alpha, Role::Admin);
        let dir = db.directory(std::sync::Arc::new(clock.clone()));
        let before = found(&db, &zelda.values).await;
        let tables: std::collections::BTreeSet<&str> = before.iter().map(|(t, _)| t.as_str()).collect();
        for t in ["users", "accounts", "audit_log", "mail_outbox"] {
            assert!(tables.contains(t), "the story should put Zelda in {t}: {tables:?}");
        }
        let balance_before = db.store.find_customer(alpha.id, &CustomerKey::Id(zelda.id)).await.expect("find").expect("there").balance;

        // The confirmation word is required.
        match erasure::erase_customer(&admin, &dir, None, zelda.id, "yes").await {
            Err(loyalty_core::Error::Validation(f)) => assert_eq!(f[0].field, "confirm"),
            other => panic!("erased without confirmation: {other:?}"),
        }
        let cashier = ctx(&db, &clock, &alpha, Role::Cashier);
        assert!(matches!(erasure::erase_customer(&cashier, &dir, None, zelda.id, "ERASE").await, Err(loyalty_core::Error::Forbidden(_))));

        clock.advance(time::Duration::minutes(1));
        let done = erasure::erase_customer(&admin, &dir, None, zelda.id, "ERASE").await.expect("erase");
        assert_eq!(done.erased.sessions, 1);
        assert_eq!(done.erased.mails, 1);
        assert!(done.erased.account_removed);

        let left = found(&db, &zelda.values).await;
        assert!(left.is_empty(), "personal values left after the erasure: {left:#?}");
        // The scan finds what is there: the others are untouched.
        assert!(!found(&db, &bruno.values).await.is_empty());
        assert!(!found(&db, &nina.values).await.is_empty());

        // The row stays with its ledger, purchases and balance; the books still add up.
        let row = db.store.find_customer(alpha.id, &CustomerKey::Id(zelda.id)).await.expect("find").expect("kept");
        assert_eq!(row.balance, balance_before);
        assert_eq!((row.email, row.phone, row.identity_subject), (None, None, None));
        assert!(row.name.as_deref().is_some_and(|n| n.starts_with("erased-")));
        assert_eq!(db.store.ledger(alpha.id, Some(zelda.id), None, None, None, 1000).await.expect("ledger").len(), 4);
        assert_eq!(db.store.list_purchases(alpha.id, Some(zelda.id), None, None, 100).await.expect("purchases").len(), 2);
        assert!(db.store.check_invariants(None).await.expect("verify").holds());
        assert!(db.store.session("zelda-session-hash", clock.now()).await.expect("session").is_none());

        // The erasure is in the audit log without personal data, and in the erasure log.
        let audit = db.store.customer_audit(alpha.id, zelda.id).await.expect("audit");
        assert_eq!(audit.last().map(|a| a.action.as_str()), Some("customer.erase"));
        let log = db.store.erasure_log().await.expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].customer_id, log[0].actor_role.as_str()), (zelda.id, "admin"));

        // A later package and the ledger export hold none of it either.
        let package = exports::customer_package(&admin, zelda.id).await.expect("package");
        let text: String = unzip(&package.bytes).into_iter().map(|(_, t)| t).collect();
        let csv = ledger_csv(&admin).await;
        for v in &zelda.values {
            assert!(!text.contains(v.as_str()), "the package still holds {v}");
            assert!(!csv.contains(v.as_str()), "the ledger export holds {v}");
        }

        // Erasing again changes nothing and keeps the first log line.
        erasure::erase_customer(&admin, &dir, None, zelda.id, "ERASE").await.expect("again");
        assert_eq!(db.store.erasure_log().await.expect("log"), log);
    }

    async fn a_customer_erases_themselves_and_is_named_by_the_pseudonym(db) {
        let clock = fixed_clock();
        let (alpha, zelda, _, _) = story(&db, &clock).await;
        let dir = db.directory(std::sync::Arc::new(clock.clone()));
        let mut me = ctx(&db, &clock, &alpha, Role::Customer);
        me.actor.label = "zelda.privacy@example.net".into();
        let done = erasure::erase_own(&me, &dir, None, zelda.subject.as_deref(), "ERASE").await.expect("erase");
        let left = found(&db, &zelda.values).await;
        assert!(left.is_empty(), "personal values left: {left:#?}");
        let audit = db.store.customer_audit(alpha.id, zelda.id).await.expect("audit");
        let last = audit.last().expect("a record");
        assert_eq!((last.action.as_str(), last.actor.as_str(), last.actor_role.as_str()), ("customer.erase", done.pseudonym.as_str(), "customer"));
        // They are no longer a customer here: their own view is gone.
        assert!(exports::own_package(&me, zelda.subject.as_deref()).await.is_err());
    }

    async fn the_replay_of_the_erasure_log_erases_a_restored_row_again(db) {
        let clock = fixed_clock();
        let (alpha, zelda, _, _) = story(&db, &clock).await;
        let admin = ctx(&db, &clock, &alpha, Role::Admin);
        let dir = db.directory(std::sync::Arc::new(clock.clone()));
        erasure::erase_customer(&admin, &dir, None, zelda.id, "ERASE").await.expect("erase");
        let log = db.store.erasure_log().await.expect("log");
        // A restore of an older copy brings the row back as it was, without the log line.
        db.execute(&format!(
            "DELETE FROM erasures; UPDATE users SET name = 'Zelda Quixote-Privacy', email = 'zelda.privacy@example.net', phone = '+12025550177' WHERE id = '{}'",
            zelda.id
        ))
        .await;
        assert!(!found(&db, &zelda.values).await.is_empty());
        assert_eq!(db.store.replay_erasures(&log).await.expect("replay"), 1);
        assert!(found(&db, &zelda.values).await.is_empty());
        assert_eq!(db.store.erasure_log().await.expect("log"), log);
        // Lines about rows the database does not hold are skipped.
        let mut stray = log[0].clone();
        stray.customer_id = CustomerId(Uuid::new_v4());
        stray.id = Uuid::new_v4();
        assert_eq!(db.store.replay_erasures(&[stray]).await.expect("replay"), 0);
    }
}
