//! Store behaviour both backends must share.

use loyalty_core::domain::{OrgSlug, OrgStatus, Role};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::store::{NewAccount, NewMember, StoreError};
use loyalty_testkit::{Kind, TestDb, both_backends};
use time::macros::datetime;

fn new_org(slug: &str) -> loyalty_core::domain::NewOrganization {
    OnboardInput {
        name: Some(format!("{slug} shop")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada Admin".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        contract_start: Some("2025-01-01".into()),
        ..OnboardInput::default()
    }
    .validate()
    .expect("valid")
    .org
}

fn slug(s: &str) -> OrgSlug {
    OrgSlug::parse(s).expect("slug")
}

fn member(subject: &str, role: Role) -> NewMember {
    NewMember {
        identity_subject: subject.into(),
        role,
        email: Some(format!("{subject}@x.com")),
        name: None,
        created_by: None,
    }
}

const NOW: time::OffsetDateTime = datetime!(2025-01-23 14:05:30.123456 UTC);

both_backends! {
    async fn a_fresh_database_lists_pending_migrations_and_migrate_makes_it_current(db) {
        let empty = TestDb::empty(db.kind).await;
        let before = empty.store.schema_status().await.expect("status");
        assert!(!before.is_current());
        assert_eq!(before.pending(), before.known);
        let after = empty.store.migrate().await.expect("migrate");
        assert!(after.is_current(), "{after:?}");
        assert!(empty.store.migrate().await.expect("again").is_current());
        assert!(db.store.schema_status().await.expect("status").is_current());
    }

    async fn the_server_names_its_version_and_postgresql_its_clock(db) {
        let info = db.store.server_info().await.expect("server info");
        match db.kind {
            Kind::Postgres => {
                assert!(info.version.starts_with("PostgreSQL 1"), "{info:?}");
                let skew = (time::OffsetDateTime::now_utc() - info.now.expect("clock")).whole_seconds();
                assert!(skew.abs() < 60, "{skew}");
            }
            Kind::Sqlite => {
                assert!(info.version.starts_with("SQLite 3."), "{info:?}");
                assert_eq!(info.now, None);
            }
        }
    }

    async fn an_organization_row_whose_codes_do_not_parse_is_a_storage_error_naming_the_column(db) {
        db.store.insert_organization(&new_org("fresh-mart"), OrgStatus::Active, NOW).await.expect("insert");
        let sql = "UPDATE organizations SET timezone = 'Mars/Olympus'";
        match db.kind {
            loyalty_testkit::Kind::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
                sqlx::query(sql).execute(&pool).await.expect("update");
            }
            loyalty_testkit::Kind::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.expect("pool");
                sqlx::query(sql).execute(&pool).await.expect("update");
            }
        }
        let err = db.store.organization_by_slug(&slug("fresh-mart")).await.expect_err("does not parse");
        assert!(err.to_string().contains("column timezone"), "{err}");
    }

    async fn organizations_round_trip_with_every_field(db) {
        let created = db.store.insert_organization(&new_org("fresh-mart"), OrgStatus::Active, NOW).await.expect("insert");
        let got = db.store.organization_by_slug(&slug("fresh-mart")).await.expect("get").expect("found");
        assert_eq!(created, got);
        assert_eq!(got.slug.as_str(), "fresh-mart");
        assert_eq!(got.group_prefix, "fresh-mart");
        assert_eq!(got.currency.as_str(), "BRL");
        assert_eq!(got.timezone.as_str(), "America/Sao_Paulo");
        assert_eq!(got.country.as_ref().map(|c| c.as_str()), Some("BR"));
        assert_eq!(got.contract_start, Some(time::macros::date!(2025-01-01)));
        assert_eq!(got.created_at, NOW);
        assert_eq!(got.status, OrgStatus::Active);
        assert!(db.store.organization_by_slug(&slug("other")).await.expect("get").is_none());
    }

    async fn a_taken_slug_is_a_conflict_and_writes_nothing(db) {
        db.store.insert_organization(&new_org("nextdoor"), OrgStatus::Active, NOW).await.expect("insert");
        let err = db.store.insert_organization(&new_org("nextdoor"), OrgStatus::Active, NOW).await.expect_err("dup");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(db.store.list_organizations().await.expect("list").len(), 1);
    }

    async fn status_changes_only_from_the_allowed_states(db) {
        db.store.insert_organization(&new_org("nextdoor"), OrgStatus::Onboarding, NOW).await.expect("insert");
        let s = slug("nextdoor");
        let unchanged = db.store.set_organization_status(&s, &[OrgStatus::Active], OrgStatus::Suspended, &loyalty_core::domain::ledger::Actor::operator("ops"), NOW).await.expect("set").expect("row");
        assert_eq!(unchanged.status, OrgStatus::Onboarding);
        let later = NOW + time::Duration::minutes(5);
        let active = db.store.set_organization_status(&s, &[OrgStatus::Onboarding], OrgStatus::Active, &loyalty_core::domain::ledger::Actor::operator("ops"), later).await.expect("set").expect("row");
        assert_eq!(active.status, OrgStatus::Active);
        assert_eq!(active.updated_at, later);
        assert!(db.store.set_organization_status(&slug("nobody"), &[OrgStatus::Active], OrgStatus::Suspended, &loyalty_core::domain::ledger::Actor::operator("ops"), NOW).await.expect("set").is_none());
    }

    async fn listing_counts_active_members_per_role_and_per_organization(db) {
        let a = db.store.insert_organization(&new_org("alpha"), OrgStatus::Active, NOW).await.expect("a");
        let b = db.store.insert_organization(&new_org("beta"), OrgStatus::Active, NOW).await.expect("b");
        db.store.upsert_member(a.id, &member("s1", Role::Admin), NOW).await.expect("m");
        db.store.upsert_member(a.id, &member("s2", Role::Cashier), NOW).await.expect("m");
        db.store.upsert_member(a.id, &member("s3", Role::Customer), NOW).await.expect("m");
        db.store.upsert_member(b.id, &member("s3", Role::Customer), NOW).await.expect("m");
        let list = db.store.list_organizations().await.expect("list");
        let counts: Vec<(String, i64, i64, i64)> = list.iter().map(|s| (s.org.slug.to_string(), s.admins, s.cashiers, s.customers)).collect();
        assert_eq!(counts, [("alpha".into(), 1, 1, 1), ("beta".into(), 0, 0, 1)]);
    }

    async fn members_are_unique_per_organization_and_invisible_across_organizations(db) {
        let a = db.store.insert_organization(&new_org("alpha"), OrgStatus::Active, NOW).await.expect("a");
        let b = db.store.insert_organization(&new_org("beta"), OrgStatus::Active, NOW).await.expect("b");
        let first = db.store.upsert_member(a.id, &member("jane", Role::Customer), NOW).await.expect("m");
        let again = db.store.upsert_member(a.id, &member("jane", Role::Admin), NOW).await.expect("m");
        assert_eq!(first.id, again.id, "upsert keeps one row per person per organization");
        assert_eq!(again.role, Role::Admin);
        assert!(db.store.member_by_subject(b.id, "jane").await.expect("get").is_none());
        assert!(db.store.list_members(b.id, None).await.expect("list").is_empty());
        assert_eq!(db.store.list_members(a.id, Some(Role::Admin)).await.expect("list").len(), 1);
        assert!(db.store.list_members(a.id, Some(Role::Cashier)).await.expect("list").is_empty());
        let in_b = db.store.upsert_member(b.id, &member("jane", Role::Cashier), NOW).await.expect("m");
        assert_ne!(in_b.id, first.id);
        assert_eq!(db.store.member_by_subject(a.id, "jane").await.expect("get").map(|m| m.role), Some(Role::Admin));
    }

    async fn accounts_have_case_insensitive_unique_usernames_and_find_by_email(db) {
        let new = NewAccount { uid: "u1".into(), username: "jane_admin".into(), name: "Jane".into(), email: Some("jane@x.com".into()), attributes: serde_json::json!({"k": 1}) };
        let a = db.store.insert_account(&new, NOW).await.expect("insert");
        assert!(a.pk > 0);
        assert!(a.is_active && a.password_hash.is_none() && !a.must_change_password);
        assert_eq!(a.attributes["k"], 1);
        let dup = NewAccount { uid: "u2".into(), username: "JANE_ADMIN".into(), ..new.clone() };
        assert!(matches!(db.store.insert_account(&dup, NOW).await, Err(StoreError::Conflict(_))));
        assert_eq!(db.store.account_by_username("Jane_Admin").await.expect("get").map(|x| x.pk), Some(a.pk));
        assert_eq!(db.store.accounts_by_email("JANE@x.com").await.expect("get").len(), 1);
        assert!(db.store.set_account_password(a.pk, "$argon2id$fake", true, None, NOW).await.expect("set"));
        assert!(!db.store.set_account_password(a.pk + 1000, "$argon2id$fake", true, None, NOW).await.expect("set"));
        let got = db.store.account_by_pk(a.pk).await.expect("get").expect("found");
        assert_eq!(got.password_hash.as_deref(), Some("$argon2id$fake"));
        assert!(got.must_change_password);
        assert!(db.store.set_account_active(a.pk, false, NOW).await.expect("deactivate"));
        assert!(!db.store.account_by_pk(a.pk).await.expect("get").expect("found").is_active);
    }

    async fn group_membership_is_idempotent(db) {
        let a = db.store.insert_account(&NewAccount { uid: "u1".into(), username: "u1".into(), name: "U".into(), email: None, attributes: serde_json::json!({}) }, NOW).await.expect("a");
        let g = db.store.insert_group("nextdoor-admins", &serde_json::json!({}), NOW).await.expect("g");
        assert!(matches!(db.store.insert_group("nextdoor-admins", &serde_json::json!({}), NOW).await, Err(StoreError::Conflict(_))));
        assert_eq!(db.store.group_by_name("nextdoor-admins").await.expect("get"), Some(g.clone()));
        assert!(db.store.add_group_member(g.pk, a.pk).await.expect("add"));
        assert!(db.store.add_group_member(g.pk, a.pk).await.expect("add again"));
        assert!(!db.store.add_group_member(g.pk, a.pk + 99).await.expect("unknown account"));
        assert_eq!(db.store.group_members(g.pk).await.expect("members").len(), 1);
        assert_eq!(db.store.account_groups(a.pk).await.expect("groups"), ["nextdoor-admins"]);
        db.store.remove_group_member(g.pk, a.pk).await.expect("remove");
        db.store.remove_group_member(g.pk, a.pk).await.expect("remove again");
        assert!(db.store.account_groups(a.pk).await.expect("groups").is_empty());
    }

    async fn one_time_tokens_work_once_before_expiry_and_a_new_one_revokes_the_old(db) {
        let a = db.store.insert_account(&NewAccount { uid: "u1".into(), username: "u1".into(), name: "U".into(), email: None, attributes: serde_json::json!({}) }, NOW).await.expect("a");
        let exp = NOW + time::Duration::hours(72);
        db.store.insert_account_token("h1", a.pk, "password_set", exp, NOW).await.expect("t1");
        db.store.insert_account_token("h2", a.pk, "password_set", exp, NOW).await.expect("t2");
        assert_eq!(db.store.consume_account_token("h1", "password_set", NOW).await.expect("c"), None, "revoked by the newer token");
        assert_eq!(db.store.consume_account_token("h2", "other_purpose", NOW).await.expect("c"), None);
        assert_eq!(db.store.consume_account_token("h2", "password_set", exp).await.expect("c"), None, "expired at its expiry instant");
        assert_eq!(db.store.consume_account_token("h2", "password_set", NOW).await.expect("c"), Some(a.pk));
        assert_eq!(db.store.consume_account_token("h2", "password_set", NOW).await.expect("c"), None, "used");
    }
}

#[tokio::test]
async fn sqlite_creates_its_folder_and_refuses_a_second_writer() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/deeper/loyalty.db").display()
    );
    let one = loyalty_store_sqlite::SqliteStore::connect(&url)
        .await
        .expect("opens");
    let lock = one.lock_writer().expect("first lock").expect("file-backed");
    let two = loyalty_store_sqlite::SqliteStore::connect(&url)
        .await
        .expect("opens");
    let err = two.lock_writer().expect_err("second writer refused");
    assert!(matches!(err, StoreError::Locked(_)), "{err:?}");
    assert!(err.to_string().contains("another loyalty server"), "{err}");
    drop(lock);
    assert!(two.lock_writer().expect("free again").is_some());
    let _ = Kind::Sqlite;
}

both_backends! {
    async fn sessions_live_until_expiry_or_sign_out_and_die_with_deactivation(db) {
        let a = db.store.insert_account(&NewAccount { uid: "u1".into(), username: "u1".into(), name: "U".into(), email: None, attributes: serde_json::json!({}) }, NOW).await.expect("a");
        let exp = NOW + time::Duration::hours(12);
        db.store.insert_session("s1", a.pk, "csrf1", NOW, exp).await.expect("insert");
        let s = db.store.session("s1", NOW).await.expect("get").expect("live");
        let loyalty_core::store::SessionPrincipal::Account(account) = &s.principal else { panic!("an account's session: {s:?}") };
        assert_eq!((account.pk, s.csrf_token.as_str(), s.expires_at), (a.pk, "csrf1", exp));
        assert!(db.store.session("s1", exp).await.expect("get").is_none(), "expired");
        assert!(db.store.session("other", NOW).await.expect("get").is_none());
        db.store.set_account_active(a.pk, false, NOW).await.expect("deactivate");
        assert!(db.store.session("s1", NOW).await.expect("get").is_none(), "inactive accounts have no sessions");
        db.store.set_account_active(a.pk, true, NOW).await.expect("activate");
        db.store.delete_session("s1").await.expect("delete");
        assert!(db.store.session("s1", NOW).await.expect("get").is_none(), "signed out");
    }
}

both_backends! {
    async fn setting_a_password_ends_the_accounts_other_sessions_and_touches_no_other_account(db) {
        let new = |u: &str| NewAccount { uid: u.into(), username: u.into(), name: "U".into(), email: None, attributes: serde_json::json!({}) };
        let a = db.store.insert_account(&new("ua"), NOW).await.expect("a");
        let b = db.store.insert_account(&new("ub"), NOW).await.expect("b");
        let exp = NOW + time::Duration::hours(12);
        for (hash, pk) in [("a1", a.pk), ("a2", a.pk), ("a3", a.pk), ("b1", b.pk)] {
            db.store.insert_session(hash, pk, "csrf", NOW, exp).await.expect("insert");
        }
        let live = |h: &'static str| { let store = db.store.clone(); async move { store.session(h, NOW).await.expect("get").is_some() } };
        assert!(db.store.set_account_password(a.pk, "$argon2id$one", false, Some("a2"), NOW).await.expect("change"));
        assert!(!live("a1").await && live("a2").await && !live("a3").await, "only the kept one lives");
        assert!(live("b1").await, "another account's session is untouched");
        assert!(db.store.set_account_password(a.pk, "$argon2id$two", false, None, NOW).await.expect("reset"));
        assert!(!live("a2").await, "a reset ends them all");
        assert!(live("b1").await);
        assert!(!db.store.set_account_password(a.pk + 1000, "$argon2id$x", false, None, NOW).await.expect("unknown"));
        assert!(live("b1").await);
    }
}

both_backends! {
    async fn a_job_lease_has_one_holder_until_it_expires(db) {
        let until = NOW + time::Duration::minutes(10);
        assert!(db.store.try_lease("points.expire", "instance-a", NOW, until).await.expect("a"));
        assert!(!db.store.try_lease("points.expire", "instance-b", NOW + time::Duration::minutes(5), until).await.expect("b"));
        assert!(db.store.try_lease("points.expire", "instance-a", NOW + time::Duration::minutes(5), until + time::Duration::minutes(5)).await.expect("renew"));
        assert!(db.store.try_lease("points.expire", "instance-b", until + time::Duration::minutes(5), until + time::Duration::minutes(20)).await.expect("after expiry"));
        assert!(db.store.try_lease("other-job", "instance-a", NOW, until).await.expect("independent"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_tenant_transaction_sees_and_writes_only_its_own_organization() {
    if loyalty_testkit::skip_postgres() {
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let a = db
        .store
        .insert_organization(&new_org("alpha"), OrgStatus::Active, NOW)
        .await
        .expect("a");
    let b = db
        .store
        .insert_organization(&new_org("beta"), OrgStatus::Active, NOW)
        .await
        .expect("b");
    db.store
        .upsert_member(a.id, &member("s1", Role::Customer), NOW)
        .await
        .expect("m");
    db.store
        .upsert_member(b.id, &member("s2", Role::Customer), NOW)
        .await
        .expect("m");
    let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query(
        "SELECT set_config('role', 'loyalty_tenant', true), set_config('loyalty.org_id', $1, true)",
    )
    .bind(a.id.0.to_string())
    .execute(&mut *tx)
    .await
    .expect("enter tenant");
    // A query that forgot its organization filter still sees only alpha.
    let seen: Vec<String> = sqlx::query_scalar("SELECT identity_subject FROM users")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(seen, ["s1"]);
    // Writing into beta fails closed.
    let write = sqlx::query("INSERT INTO users (id, organization_id, identity_subject, role) VALUES (gen_random_uuid(), $1, 'x', 'customer')")
        .bind(b.id.0)
        .execute(&mut *tx)
        .await;
    assert!(
        write.is_err(),
        "row-level security refuses another organization's rows"
    );
    tx.rollback().await.expect("rollback");
    // Without a tenant setting (also on a connection where an earlier transaction had
    // one), the tenant role sees nothing at all.
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SELECT set_config('loyalty.org_id', '', true)")
        .execute(&mut *tx)
        .await
        .expect("blank");
    sqlx::query("SET LOCAL ROLE loyalty_tenant")
        .execute(&mut *tx)
        .await
        .expect("role");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

both_backends! {
    async fn a_sign_in_counts_the_person_as_active_in_each_organization_and_role_within_each_window(db) {
        let a = db.store.insert_organization(&new_org("fresh-mart"), OrgStatus::Active, NOW).await.expect("a").id;
        let b = db.store.insert_organization(&new_org("corner-shop"), OrgStatus::Active, NOW).await.expect("b").id;
        let acct = db.store.insert_account(&NewAccount { uid: "u1".into(), username: "u1".into(), name: "U".into(), email: None, attributes: serde_json::json!({}) }, NOW).await.expect("account");
        db.store.upsert_member(a, &member("u1", Role::Admin), NOW).await.expect("m");
        db.store.upsert_member(b, &member("u1", Role::Cashier), NOW).await.expect("m");
        db.store.upsert_member(a, &member("never", Role::Cashier), NOW).await.expect("m");
        db.store.upsert_member(b, &member("ext", Role::Customer), NOW).await.expect("m");
        let day = time::Duration::days(1);
        let windows = [NOW - day, NOW - 30 * day];
        assert!(db.store.active_members(&windows).await.expect("none yet").is_empty());

        // Built-in sign-in ten days ago: active in 30 days, not in 24 hours.
        db.store.insert_session("s1", acct.pk, "c", NOW - 10 * day, NOW).await.expect("session");
        // External (OpenID Connect) sign-in an hour ago.
        let ext = loyalty_core::store::ExternalSubject { subject: "ext".into(), username: "ext".into(), name: "E".into(), email: None, groups: vec![] };
        db.store.insert_external_session("s2", &ext, "c", NOW - time::Duration::hours(1), NOW + day).await.expect("session");
        // The session reads back as the subject it was opened for, with its snapshot.
        let s2 = db.store.session("s2", NOW).await.expect("get").expect("live");
        assert_eq!(s2.principal, loyalty_core::store::SessionPrincipal::Subject(ext.clone()));

        let mut got: Vec<(String, Role, Vec<i64>)> = db.store.active_members(&windows).await.expect("active")
            .into_iter().map(|m| (m.org, m.role, m.counts)).collect();
        got.sort_by(|x, y| (&x.0, x.1.as_str()).cmp(&(&y.0, y.1.as_str())));
        assert_eq!(got, vec![
            ("corner-shop".to_owned(), Role::Cashier, vec![0, 1]),
            ("corner-shop".to_owned(), Role::Customer, vec![1, 1]),
            ("fresh-mart".to_owned(), Role::Admin, vec![0, 1]),
        ]);
    }

    async fn pool_stats_report_a_bounded_pool(db) {
        db.store.ping().await.expect("ping");
        let p = db.store.pool_stats();
        assert!(p.max >= 1, "{p:?}");
        assert!(p.idle + p.in_use <= p.max, "{p:?}");
    }
}

both_backends! {
    async fn the_active_users_count_has_an_index_on_the_sign_in_time(db) {
        let sql = match db.kind {
            Kind::Postgres => "SELECT indexdef FROM pg_indexes WHERE indexname = 'users_last_seen_idx'",
            Kind::Sqlite => "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'users_last_seen_idx'",
        };
        let def: String = match db.kind {
            Kind::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.expect("pool");
                let def = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("index");
                pool.close().await;
                def
            }
            Kind::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.expect("pool");
                let def = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("index");
                if let Some(plan) = sqlx::query_as::<_, (i64, i64, i64, String)>(
                    "EXPLAIN QUERY PLAN SELECT count(*) FROM users WHERE last_seen_at >= '2025-01-01'",
                )
                .fetch_all(&pool)
                .await
                .expect("plan")
                .into_iter()
                .map(|r| r.3)
                .find(|d| d.contains("users"))
                {
                    assert!(plan.contains("users_last_seen_idx"), "{plan}");
                }
                pool.close().await;
                def
            }
        };
        assert!(def.contains("last_seen_at") && def.to_lowercase().contains("where"), "{def}");
    }

    async fn a_periods_summary_counts_one_organization_and_one_period(db) {
        use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
        use rust_decimal::Decimal;
        let a = db.store.insert_organization(&new_org("shop-a"), OrgStatus::Active, NOW).await.expect("a");
        let b = db.store.insert_organization(&new_org("shop-b"), OrgStatus::Active, NOW).await.expect("b");
        let (from, to) = (datetime!(2025-01-01 03:00 UTC), datetime!(2025-02-01 03:00 UTC));
        let empty = db.store.period_summary(a.id, from, to, 5).await.expect("summary");
        assert_eq!(empty, loyalty_core::store::PeriodSummary::default());
        for (org, card, amount, at) in [
            (&a, "400000000147", "12.34", datetime!(2025-01-10 12:00 UTC)),
            (&a, "400000000154", "0.66", datetime!(2025-01-31 23:00 UTC)),
            (&a, "400000000162", "50.00", datetime!(2025-02-01 03:00 UTC)),
            (&b, "400000000170", "99.99", datetime!(2025-01-10 12:00 UTC)),
        ] {
            let c = db.store.enroll_customer(org.id, &NewCustomer {
                phone: None, email: None, name: None, card_number: card.into(), identity_subject: None, created_by: None,
            }, &Actor::system(), at).await.expect("customer").id;
            let amount: Decimal = amount.parse().expect("amount");
            let cmd = PointsCommand::Award {
                customer: c, amount, currency: "BRL".into(), points: 10, metadata: serde_json::json!({}), receipt: false, unusual: None, program: None,
            };
            db.store.apply_points(org.id, &cmd, &Actor::system(), None, at).await.expect("award");
        }
        let got = db.store.period_summary(a.id, from, to, 5).await.expect("summary");
        assert_eq!((got.purchases, got.purchases_amount, got.points_issued), (2, Decimal::new(1300, 2), 20), "{got:?}");
        assert_eq!((got.new_customers, got.active_customers, got.points_outstanding), (2, 2, 20), "{got:?}");
        assert!(got.top_rewards.is_empty());
    }
}
