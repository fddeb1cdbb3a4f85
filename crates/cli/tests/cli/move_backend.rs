//! `loyalty move` between SQLite and PostgreSQL: a small installation (an organization
//! with a program, customers with awards and a redemption, an API token, a built-in
//! account with a password and a session, a queued mail, a webhook endpoint with its
//! deliveries) moves either way with every row; on the target the password signs in,
//! the session and the token are found, balances and chains are the source's, and new
//! accounts get fresh keys. A move stopped half-way resumes without duplicates, a
//! server (its lock or a running job lease) blocks it, and a target with other data is
//! refused.

use super::support::{Server, command, stderr, stdout};
use loyalty_core::clock::{Clock, SystemClock};
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::program::{CardInput, ProgramInput};
use loyalty_core::domain::{CustomerId, OrgStatus, Organization, Role};
use loyalty_core::service::integrity::verify_chains;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_core::service::{program, tokens, webhooks};
use loyalty_core::store::{NewAccount, Store};
use loyalty_identity::BuiltinDirectory;
use loyalty_store_postgres::{PgSettings, PgStore};
use loyalty_store_sqlite::SqliteStore;
use loyalty_testkit::{Kind, TestDb};
use secrecy::SecretString;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::process::Output;
use std::sync::Arc;
use uuid::Uuid;

const PASSWORD: &str = "a long and good password";

/// What the fixture made that must still work on the target.
struct Fixture {
    api_token: String,
    session_hash: String,
    account_pk: i64,
    till_secret: String,
}

fn ctx<'a>(store: &'a dyn Store, clock: &'a SystemClock, org: &'a Organization) -> Ctx<'a> {
    Ctx {
        store,
        clock,
        org,
        actor: Actor {
            member_id: None,
            label: "ada".into(),
            role: "admin".into(),
            request_id: None,
        },
        role: Role::Admin,
    }
}

/// Fills `store` with a small installation of organization `slug`.
async fn populate(store: &dyn Store, slug: &str) -> Fixture {
    let clock = SystemClock;
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("US".into()),
        timezone: Some("America/New_York".into()),
        ..OnboardInput::default()
    };
    let org = store
        .insert_organization(
            &input.validate().expect("valid").org,
            OrgStatus::Active,
            clock.now(),
        )
        .await
        .expect("org");
    let admin = ctx(store, &clock, &org);
    program::change(
        &admin,
        ProgramInput::AddCard(CardInput {
            name: "Coffee card".into(),
            stamps_required: 5,
            min_amount: Some("3.00".into()),
            daily_limit: None,
            reward: "a free coffee".into(),
            reward_points: 0,
        }),
    )
    .await
    .expect("program");
    let org = store
        .organization_by_slug(&org.slug)
        .await
        .expect("read")
        .expect("org");
    let admin = ctx(store, &clock, &org);
    webhooks::create_endpoint(
        &admin,
        "https://93.184.216.34/hooks",
        &[],
        webhooks::TargetPolicy::default(),
    )
    .await
    .expect("endpoint");
    let mut customers: Vec<CustomerId> = Vec::new();
    for i in 0..7 {
        let c = points::enroll(
            &admin,
            &EnrollInput {
                phone: Some(format!("202-555-01{i:02}")),
                email: Some(format!("c{i}@{slug}.example.com")),
                name: Some(format!("Customer {i}")),
            },
            None,
        )
        .await
        .expect("enroll");
        customers.push(c.id);
    }
    for (i, c) in customers.iter().enumerate() {
        for j in 0..3 {
            loyalty_testkit::till::award(
                &admin,
                *c,
                &format!("{}.{j}5", 10 + i),
                None,
                serde_json::json!({"till": j}),
                &Uuid::new_v4().to_string(),
            )
            .await
            .expect("award");
        }
    }
    loyalty_testkit::till::redeem(&admin, customers[0], None, Some(5), "redeem-1")
        .await
        .expect("redeem");
    let api_token = format!("lyt_{}", loyalty_core::secret::random_token());
    tokens::create(
        &admin,
        "till 1",
        Role::Cashier,
        &loyalty_core::secret::hash_token(&api_token),
    )
    .await
    .expect("token");
    let account = store
        .insert_account(
            &NewAccount {
                uid: format!("uid-{slug}"),
                username: format!("{slug}_admin"),
                name: "Ada".into(),
                email: Some(format!("ada@{slug}.example.com")),
                attributes: serde_json::json!({}),
            },
            clock.now(),
        )
        .await
        .expect("account");
    let hash = loyalty_identity::password::hash(PASSWORD.into())
        .await
        .expect("hash");
    store
        .set_account_password(account.pk, &hash, false, None, clock.now())
        .await
        .expect("password");
    let session_hash = loyalty_core::secret::hash_token(&format!("session-{slug}"));
    store
        .insert_session(
            &session_hash,
            account.pk,
            "csrf",
            clock.now(),
            clock.now() + time::Duration::days(7),
        )
        .await
        .expect("session");
    assert!(
        store
            .enqueue_mail(&loyalty_core::mail::test_mail(
                &format!("ops@{slug}.example.com"),
                clock.now()
            ))
            .await
            .expect("mail")
    );
    // The till's signing secret, made on first use: a recorder token of a purchase
    // queued offline before the move must still verify after it.
    let till_secret = store.till_recorder_secret().await.expect("till secret");
    Fixture {
        api_token,
        session_hash,
        account_pk: account.pk,
        till_secret,
    }
}

/// Rows of every table (those a move copies) and every customer's balance, read
/// through a connection of their own.
async fn snapshot(url: &str) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let skip = ["_sqlx_migrations", "backend_moves", "sqlite_sequence"];
    let mut counts = BTreeMap::new();
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut c)
                .await
                .expect("tables");
        for n in names.into_iter().filter(|n| !skip.contains(&n.as_str())) {
            let k: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM \"{n}\"")))
                    .fetch_one(&mut c)
                    .await
                    .expect("count");
            counts.insert(n, k);
        }
        if !counts.contains_key("users") {
            return (counts, BTreeMap::new());
        }
        let balances: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, balance FROM users WHERE role = 'customer'")
                .fetch_all(&mut c)
                .await
                .expect("balances");
        (counts, balances.into_iter().collect())
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.expect("postgres");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
        )
        .fetch_all(&mut c)
        .await
        .expect("tables");
        for n in names.into_iter().filter(|n| !skip.contains(&n.as_str())) {
            let k: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM \"{n}\"")))
                    .fetch_one(&mut c)
                    .await
                    .expect("count");
            counts.insert(n, k);
        }
        if !counts.contains_key("users") {
            return (counts, BTreeMap::new());
        }
        let balances: Vec<(String, i64)> =
            sqlx::query_as("SELECT id::text, balance FROM users WHERE role = 'customer'")
                .fetch_all(&mut c)
                .await
                .expect("balances");
        (counts, balances.into_iter().collect())
    }
}

/// A store on `url` (the target after the move).
async fn open(url: &str) -> Arc<dyn Store> {
    if url.starts_with("sqlite:") {
        Arc::new(SqliteStore::connect(url).await.expect("sqlite"))
    } else {
        Arc::new(
            PgStore::connect(url, &PgSettings::default())
                .await
                .expect("postgres"),
        )
    }
}

fn run_move(from: &str, args: &[&str]) -> Output {
    command(from)
        .arg("move")
        .args(args)
        .output()
        .expect("loyalty runs")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Everything the fixture made works on the target `url`.
async fn works_on_target(url: &str, fixture: &Fixture) {
    let store = open(url).await;
    let now = SystemClock.now();
    let dir = BuiltinDirectory::new(
        store.clone(),
        Arc::new(SystemClock),
        "http://127.0.0.1:8080",
        time::Duration::hours(72),
    );
    let account = dir
        .authenticate("corner_admin", &SecretString::from(PASSWORD))
        .await
        .expect("the password signs in on the target");
    assert_eq!(account.pk, fixture.account_pk);
    assert_eq!(
        store.till_recorder_secret().await.expect("till secret"),
        fixture.till_secret,
        "the till's signing secret moved with the installation"
    );
    assert!(
        dir.authenticate("corner_admin", &SecretString::from("not the password"))
            .await
            .is_err()
    );
    assert!(
        store
            .session(&fixture.session_hash, now)
            .await
            .expect("session")
            .is_some(),
        "the session still signs in"
    );
    let (token, org) = store
        .api_token_with_org(&loyalty_core::secret::hash_token(&fixture.api_token))
        .await
        .expect("token")
        .expect("the API token is found");
    assert_eq!(token.role, Role::Cashier);
    assert_eq!(org.slug.as_str(), "corner");
    let chains = verify_chains(store.as_ref(), None, None)
        .await
        .expect("walk");
    assert!(chains.holds() && chains.entries > 20, "{chains:?}");
    assert!(
        store
            .check_invariants(None)
            .await
            .expect("invariants")
            .holds()
    );
    // A new account gets a key past the copied ones (the identity sequence moved on).
    let new = store
        .insert_account(
            &NewAccount {
                uid: "uid-new".into(),
                username: "newcomer".into(),
                name: "New".into(),
                email: None,
                attributes: serde_json::json!({}),
            },
            now,
        )
        .await
        .expect("a new account on the target");
    assert!(new.pk > fixture.account_pk);
    // The ledger on the target takes new entries after the copied chain.
    let org = store
        .organization_by_slug(&org.slug)
        .await
        .expect("read")
        .expect("org");
    let clock = SystemClock;
    let admin = ctx(store.as_ref(), &clock, &org);
    let (_, balances) = snapshot(url).await;
    let (id, before) = balances.iter().next().expect("a customer");
    let customer = CustomerId(Uuid::parse_str(id).expect("uuid"));
    let out = loyalty_testkit::till::award(
        &admin,
        customer,
        "20.00",
        None,
        serde_json::json!({}),
        "after-move",
    )
    .await
    .expect("award on the target");
    assert!(out.balance > *before);
    assert!(
        verify_chains(store.as_ref(), None, None)
            .await
            .expect("walk")
            .holds()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_moves_to_postgres_with_sign_ins_tokens_and_balances() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let source = TestDb::new(Kind::Sqlite).await;
    let fixture = populate(source.store.as_ref(), "corner").await;
    let target = TestDb::empty(Kind::Postgres).await;
    let before = snapshot(&source.url).await;
    assert!(before.0["points_transactions"] > 20 && before.0["mail_outbox"] == 1);
    assert!(before.0["webhook_deliveries"] > 0 && before.0["stamp_entries"] > 0);
    let out = ok(&run_move(&source.url, &["--to", &target.url]));
    assert!(
        out.contains("[database]") && out.contains("url = \"postgres://"),
        "{out}"
    );
    assert!(out.contains("chain heads equal the source's"), "{out}");
    assert_eq!(snapshot(&target.url).await, before, "every row moved once");
    // A second run finds a finished move of the same source: nothing to copy.
    let again = ok(&run_move(&source.url, &["--to", &target.url]));
    assert!(again.contains("(0 copied now)"), "{again}");
    assert_eq!(snapshot(&target.url).await, before);
    works_on_target(&target.url, &fixture).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_moves_back_to_sqlite() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let source = TestDb::new(Kind::Postgres).await;
    let fixture = populate(source.store.as_ref(), "corner").await;
    let dir = tempfile::tempdir().expect("dir");
    let target = format!("sqlite://{}", dir.path().join("moved.db").display());
    // A server's connections block the move, then a running job lease (as on SQLite).
    let server = Server::start(&source.url, &[]).expect("serve");
    let refused = run_move(&source.url, &["--to", &target]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("loyalty-serve")
            && stderr(&refused).contains("run the move again"),
        "{}",
        stderr(&refused)
    );
    server.stop();
    let now = SystemClock.now();
    source
        .store
        .try_lease(
            "move-test.job",
            "other-server",
            now,
            now + time::Duration::minutes(10),
        )
        .await
        .expect("lease");
    let refused = run_move(&source.url, &["--to", &target]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("move-test.job"),
        "{}",
        stderr(&refused)
    );
    let before = snapshot(&source.url).await;
    // Stopped half-way, then started over: the SQLite file is made again.
    let stopped = run_move(
        &source.url,
        &[
            "--to",
            &target,
            "--batch",
            "4",
            "--ignore-leases",
            "--stop-after-batches",
            "12",
        ],
    );
    assert_eq!(stopped.status.code(), Some(1), "{}", stderr(&stopped));
    let out = ok(&run_move(
        &source.url,
        &[
            "--to",
            &target,
            "--batch",
            "4",
            "--ignore-leases",
            "--restart",
        ],
    ));
    assert!(out.contains("url = \"sqlite://"), "{out}");
    assert_eq!(snapshot(&target).await, before, "every row moved once");
    // Starting over kept the ledger append-only.
    let mut c = sqlx::SqliteConnection::connect(&target)
        .await
        .expect("sqlite");
    let deleted = sqlx::query("DELETE FROM points_transactions")
        .execute(&mut c)
        .await;
    assert!(deleted.is_err(), "the append-only trigger is back");
    works_on_target(&target, &fixture).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_stopped_half_way_resumes_without_duplicates() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let source = TestDb::new(Kind::Sqlite).await;
    populate(source.store.as_ref(), "corner").await;
    let target = TestDb::empty(Kind::Postgres).await;
    let before = snapshot(&source.url).await;
    let stopped = run_move(
        &source.url,
        &[
            "--to",
            &target.url,
            "--batch",
            "3",
            "--stop-after-batches",
            "9",
        ],
    );
    assert_eq!(stopped.status.code(), Some(1), "{}", stderr(&stopped));
    assert!(
        stderr(&stopped).contains("stopped after 9 batches"),
        "{}",
        stderr(&stopped)
    );
    let partial = snapshot(&target.url).await.0;
    let copied: i64 = partial.values().sum();
    assert!(
        copied > 0 && copied < before.0.values().sum(),
        "{partial:?}"
    );
    // Stopped again, later, then resumed to the end.
    let stopped = run_move(
        &source.url,
        &[
            "--to",
            &target.url,
            "--batch",
            "3",
            "--stop-after-batches",
            "5",
        ],
    );
    assert_eq!(stopped.status.code(), Some(1), "{}", stderr(&stopped));
    // --restart empties an unfinished move's target and starts over (stopped again).
    let stopped = run_move(
        &source.url,
        &[
            "--to",
            &target.url,
            "--batch",
            "3",
            "--restart",
            "--stop-after-batches",
            "20",
        ],
    );
    assert_eq!(stopped.status.code(), Some(1), "{}", stderr(&stopped));
    assert!(
        stderr(&stopped).contains("emptying"),
        "{}",
        stderr(&stopped)
    );
    let resumed = ok(&run_move(
        &source.url,
        &["--to", &target.url, "--batch", "3"],
    ));
    assert!(resumed.contains("resumed an earlier"), "{resumed}");
    assert_eq!(
        snapshot(&target.url).await,
        before,
        "no row twice, none left out"
    );
    // --restart never empties a finished move: a server may have written to it since.
    let refused = run_move(&source.url, &["--to", &target.url, "--restart"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("finished move"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(snapshot(&target.url).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_is_refused_while_a_server_writes_to_the_source() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let source = TestDb::new(Kind::Sqlite).await;
    populate(source.store.as_ref(), "corner").await;
    let target = TestDb::empty(Kind::Postgres).await;
    let server = Server::start(&source.url, &[]).expect("serve");
    let refused = run_move(&source.url, &["--to", &target.url]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        stderr(&refused).contains("already using"),
        "{}",
        stderr(&refused)
    );
    server.stop();
    // A job lease of a server (on another machine, or just stopped) is still running.
    let now = SystemClock.now();
    source
        .store
        .try_lease(
            "move-test.job",
            "other-server",
            now,
            now + time::Duration::minutes(10),
        )
        .await
        .expect("lease");
    let refused = run_move(&source.url, &["--to", &target.url]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("job leases are running")
            && stderr(&refused).contains("move-test.job"),
        "{}",
        stderr(&refused)
    );
    let untouched = snapshot(&target.url).await.0;
    assert!(untouched.is_empty(), "nothing was created: {untouched:?}");
    ok(&run_move(
        &source.url,
        &["--to", &target.url, "--ignore-leases"],
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_other_data_or_the_same_backend_is_refused() {
    if super::support::skip(Kind::Postgres) {
        return;
    }
    let source = TestDb::new(Kind::Sqlite).await;
    populate(source.store.as_ref(), "corner").await;
    let target = TestDb::new(Kind::Postgres).await;
    populate(target.store.as_ref(), "other").await;
    let before = snapshot(&target.url).await;
    for args in [
        vec!["--to", target.url.as_str()],
        vec!["--to", target.url.as_str(), "--restart"],
    ] {
        let refused = run_move(&source.url, &args);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(
            stderr(&refused).contains("already holds data"),
            "{}",
            stderr(&refused)
        );
    }
    assert_eq!(
        snapshot(&target.url).await,
        before,
        "the target is untouched"
    );
    let dir = tempfile::tempdir().expect("dir");
    let other = format!("sqlite://{}", dir.path().join("other.db").display());
    let same = run_move(&source.url, &["--to", &other]);
    assert_eq!(same.status.code(), Some(2));
    assert!(
        stderr(&same).contains("loyalty backup"),
        "{}",
        stderr(&same)
    );
}
