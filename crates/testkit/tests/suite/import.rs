//! Importing a customer file on both backends: 100,000 rows within the time the issue
//! sets (printed), a file with every kind of bad row (each reported, nothing written),
//! re-importing the same file (nothing changes), --skip-invalid and --dry-run.

use loyalty_core::clock::{Clock, FixedClock};
use loyalty_core::domain::ledger::{Actor, CustomerKey, TxType};
use loyalty_core::domain::{ConsentSource, OrgStatus, Organization, Role};
use loyalty_core::service::import::{ImportOptions, ImportReport, import_customers};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_core::service::points::Ctx;
use loyalty_testkit::{TestDb, both_backends, fixed_clock};
use std::fmt::Write as _;
use std::time::Instant;

async fn org(db: &TestDb, slug: &str, clock: &FixedClock) -> Organization {
    let input = OnboardInput {
        name: Some(format!("{slug} market")),
        slug: Some(slug.into()),
        admin_email: Some(format!("admin@{slug}.example.com")),
        admin_name: Some("Ada".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
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

fn ctx<'a>(db: &'a TestDb, clock: &'a FixedClock, org: &'a Organization) -> Ctx<'a> {
    Ctx {
        store: db.store.as_ref(),
        clock,
        org,
        actor: Actor::operator("importer"),
        role: Role::Admin,
    }
}

async fn run(c: &Ctx<'_>, file: &str, opts: ImportOptions) -> ImportReport {
    import_customers(c, "clientes.csv", file.as_bytes(), opts, &mut |_| {})
        .await
        .expect("import runs")
}

/// A pt-BR file of `n` customers: `;`, a BOM, an opening balance and consent each.
fn big_file(n: usize) -> String {
    let mut f = String::from(
        "\u{feff}Nome;E-mail;Telefone;Data de nascimento;Saldo inicial;Aceita marketing\r\n",
    );
    for i in 0..n {
        let phone = if i < 50_000 {
            format!("+55 11 9{:04}-{:04}", i / 10_000 + 1000, i % 10_000)
        } else {
            String::new()
        };
        let _ = write!(
            f,
            "Cliente {i};cliente{i}@example.com;{phone};{:02}/{:02}/19{:02};{};{}\r\n",
            i % 28 + 1,
            i % 12 + 1,
            i % 90 + 10,
            i % 500 + 1,
            if i % 2 == 0 { "sim" } else { "não" }
        );
    }
    f
}

both_backends! {
    async fn a_hundred_thousand_rows_import_and_again_change_nothing(db) {
        let clock = fixed_clock();
        let o = org(&db, "grande", &clock).await;
        let c = ctx(&db, &clock, &o);
        let n = 100_000;
        let file = big_file(n);
        let expected: i64 = (0..n).map(|i| (i % 500 + 1) as i64).sum();
        let started = Instant::now();
        let dry = run(&c, &file, ImportOptions { dry_run: true, skip_invalid: false }).await;
        println!("CHECK ONLY {:?} backend: {n} rows in {:.1} s", db.kind, started.elapsed().as_secs_f64());
        assert_eq!((dry.valid, dry.written), (n, false));
        assert!(db.store.customer_keys(o.id).await.expect("keys").is_empty(), "a dry run writes nothing");
        let started = Instant::now();
        let report = run(&c, &file, ImportOptions::default()).await;
        let took = started.elapsed();
        println!("IMPORT {:?} backend: {n} rows in {:.1} s", db.kind, took.as_secs_f64());
        assert_eq!(report.errors, vec![]);
        assert_eq!((report.rows, report.created, report.opening_points), (n, n as u64, expected));
        // The time is a figure for docs/PERFORMANCE.md (target: under 60 s), printed,
        // not asserted: a loaded machine must not fail the behaviour suite.
        let inv = db.store.check_invariants(Some(o.id)).await.expect("check");
        assert!(inv.holds(), "{inv:?}");
        assert_eq!(inv.customers, n as i64);
        let one = db.store.find_customer(o.id, &CustomerKey::Email("cliente7@example.com".into())).await.expect("find").expect("there");
        assert_eq!(one.balance, 8);
        assert_eq!(one.birth_date.map(|d| d.to_string()).as_deref(), Some("1917-08-08"));
        assert!(!one.marketing_consent.granted);
        assert_eq!(one.marketing_consent.source, Some(ConsentSource::Import));
        let entries = db.store.ledger(o.id, Some(one.id), None, None, None, 10).await.expect("ledger");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].transaction_type, TxType::Opening);
        assert_eq!(entries[0].notes.as_deref(), Some("import clientes.csv"));

        let started = Instant::now();
        let again = run(&c, &file, ImportOptions::default()).await;
        println!("RE-IMPORT {:?} backend: {n} rows in {:.1} s", db.kind, started.elapsed().as_secs_f64());
        assert_eq!((again.created, again.already_imported, again.opening_points), (0, n as u64, 0));
        let inv2 = db.store.check_invariants(Some(o.id)).await.expect("check");
        assert_eq!(inv2, inv);
    }

    async fn every_kind_of_bad_row_is_reported_and_nothing_is_written(db) {
        let clock = fixed_clock();
        let o = org(&db, "ruim", &clock).await;
        let c = ctx(&db, &clock, &o);
        let taken = loyalty_core::service::points::enroll(&c, &loyalty_core::service::points::EnrollInput {
            phone: None, email: Some("taken@example.com".into()), name: None,
        }, None).await.expect("enroll");
        let card = taken.card_number.clone();
        let bad_check = format!("{}{}", &card[..11], (card.as_bytes()[11] - b'0' + 1) % 10);
        let long_name = "x".repeat(256);
        let file = format!(
"name,email,phone,card number,birth date,opening balance,marketing consent
Good One,good1@example.com,,,1990-01-01,10,yes
Bad Email,not-an-email,,,,,
Bad Phone,,12,,,,
No Contact,,,,,5,
Bad Date,d1@example.com,,,1990/01/01x,,
Future,d2@example.com,,,2031-01-01,,
Feb 30,d3@example.com,,,1990-02-30,,
Short Card,c1@example.com,,1234,,,
Check Digit,c2@example.com,,{bad_check},,,
Negative,n1@example.com,,,,-5,
Decimal,n2@example.com,,,,12.5,
Words,n3@example.com,,,,ten,
Huge,n4@example.com,,,,99999999999,
Consent,k1@example.com,,,,,maybe
{long_name},l1@example.com,,,,,
Too Many,t1@example.com,,,,,,extra
Dup Email,good1@example.com,,,,,
Phone A,,+55 11 98888-7777,,,,
Dup Phone,p2@example.com,+5511988887777,,,,
Card A,ca@example.com,,{card2},,,
Dup Card,cb@example.com,,{card2},,,
Taken,taken@example.com,,,,,
Taken Card,tc@example.com,,{card},,,
Good Two,good2@example.com,,,,,no
\"Open quote,q@example.com,,,,,
",
            card2 = loyalty_core::domain::points::new_card_number(),
        );
        let report = run(&c, &file, ImportOptions::default()).await;
        let found: Vec<(usize, &str)> = report.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        let expected = vec![
            (3, "email"), (4, "phone"), (5, "email"), (6, "birth_date"), (7, "birth_date"),
            (8, "birth_date"), (9, "card_number"), (10, "card_number"), (11, "opening_balance"),
            (12, "opening_balance"), (13, "opening_balance"), (14, "opening_balance"),
            (15, "marketing_consent"), (16, "name"), (17, "row"), (18, "email"), (20, "phone"),
            (22, "card_number"), (23, "email"), (24, "card_number"), (26, "row"),
        ];
        for e in &report.errors {
            println!("{e}");
        }
        assert_eq!(found, expected);
        assert!(!report.written);
        assert_eq!(db.store.customer_keys(o.id).await.expect("keys").len(), 1, "nothing written");
        assert!(report.errors.iter().all(|e| !e.message.is_empty()));

        // With skip_invalid the good rows are written, the bad ones reported.
        let skipped = run(&c, &file, ImportOptions { skip_invalid: true, dry_run: false }).await;
        assert_eq!(skipped.errors.len(), expected.len());
        assert!(skipped.written);
        assert_eq!(skipped.created, 4, "{skipped:?}");
        assert_eq!(skipped.opening_points, 10);
        assert!(db.store.check_invariants(Some(o.id)).await.expect("check").holds());
    }

    async fn a_dry_run_and_a_bad_header_write_nothing(db) {
        let clock = fixed_clock();
        let o = org(&db, "seco", &clock).await;
        let c = ctx(&db, &clock, &o);
        let file = "Name,Email\nAna,ana@example.com\n";
        let dry = run(&c, file, ImportOptions { dry_run: true, skip_invalid: false }).await;
        assert_eq!((dry.valid, dry.written, dry.created), (1, false, 0));
        let header = run(&c, "Nome;Cor favorita\nAna;azul\n", ImportOptions::default()).await;
        let cols: Vec<(usize, &str)> = header.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(cols, vec![(1, "Cor favorita"), (1, "row")]);
        assert!(db.store.customer_keys(o.id).await.expect("keys").is_empty());
    }

    async fn a_cashier_cannot_import_and_tenants_stay_apart(db) {
        let clock = fixed_clock();
        let a = org(&db, "lojaa", &clock).await;
        let b = org(&db, "lojab", &clock).await;
        let file = "email,opening balance\nsame@example.com,7\n";
        let mut cashier = ctx(&db, &clock, &a);
        cashier.role = Role::Cashier;
        assert!(import_customers(&cashier, "f.csv", file.as_bytes(), ImportOptions::default(), &mut |_| {}).await.is_err());
        let ra = run(&ctx(&db, &clock, &a), file, ImportOptions::default()).await;
        let rb = run(&ctx(&db, &clock, &b), file, ImportOptions::default()).await;
        assert_eq!((ra.created, rb.created), (1, 1), "the same row key in another shop is another customer");
        assert_eq!(db.store.customer_keys(a.id).await.expect("keys").len(), 1);
    }
}
