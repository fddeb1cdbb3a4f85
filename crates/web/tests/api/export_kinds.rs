//! The balances, purchases and summary exports over the API on both backends: a
//! Brazilian shop's files with the decimal comma and local times, the summary's figures
//! checked against the ledger and the purchases (CSV and the XLSX's summary sheet read
//! back with calamine), the XLSX's frozen header and sheet names, and no temporary file
//! left behind.

use super::app::TestApp;
use super::exports::{brazilian_shop, customer, entry_at, get_raw, read_csv};
use calamine::{Data, Reader, Xlsx};
use loyalty_core::domain::ledger::TxType as TransactionType;
use loyalty_core::domain::ledger::{Actor, PointsCommand, RewardInput};
use loyalty_core::domain::{CustomerId, Organization};
use loyalty_testkit::both_backends;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::io::Read;
use time::OffsetDateTime;
use time::macros::datetime;

async fn purchase(
    app: &TestApp,
    org: &Organization,
    c: CustomerId,
    amount: &str,
    at: OffsetDateTime,
) {
    let amount: Decimal = amount.parse().unwrap();
    let cmd = PointsCommand::Award {
        customer: c,
        amount,
        currency: "BRL".into(),
        points: i64::try_from(amount.trunc().mantissa()).unwrap(),
        metadata: serde_json::json!({}),
        receipt: false,
        unusual: None,
        program: None,
    };
    app.db
        .store
        .apply_points(org.id, &cmd, &Actor::system(), None, at)
        .await
        .unwrap();
}

async fn redeem(
    app: &TestApp,
    org: &Organization,
    c: CustomerId,
    reward: loyalty_core::domain::RewardId,
    at: OffsetDateTime,
) {
    let cmd = PointsCommand::Redeem {
        customer: c,
        reward: Some(reward),
        points: None,
    };
    app.db
        .store
        .apply_points(org.id, &cmd, &Actor::system(), None, at)
        .await
        .unwrap();
}

/// A month of a Brazilian shop: purchases, a refund, redemptions of two rewards, an
/// expiry and adjustments in January 2025 (São Paulo time), some of it just outside.
async fn a_month(app: &TestApp, org: &Organization) -> [CustomerId; 3] {
    let store = &app.db.store;
    let [c1, c2, c3] = [
        customer(app, org, "400000000105").await,
        customer(app, org, "400000000113").await,
        customer(app, org, "400000000121").await,
    ];
    let coffee = store
        .create_reward(
            org.id,
            &RewardInput {
                name: "Café grátis".into(),
                cost_points: 20,
                active: true,
                stock: None,
            },
            &Actor::system(),
            datetime!(2024-12-01 12:00 UTC),
        )
        .await
        .unwrap();
    let bread = store
        .create_reward(
            org.id,
            &RewardInput {
                name: "Pão de queijo".into(),
                cost_points: 5,
                active: true,
                stock: None,
            },
            &Actor::system(),
            datetime!(2024-12-01 12:00 UTC),
        )
        .await
        .unwrap();
    // December (outside): c3 buys; those points expire in January.
    purchase(app, org, c3, "10.00", datetime!(2024-12-20 15:00 UTC)).await;
    // 23:30 on 31 December in São Paulo is 02:30 UTC on 1 January: still December.
    purchase(app, org, c1, "3.00", datetime!(2025-01-01 02:30 UTC)).await;
    purchase(app, org, c1, "25.50", datetime!(2025-01-10 13:00 UTC)).await;
    purchase(app, org, c2, "100.00", datetime!(2025-01-15 18:00 UTC)).await;
    purchase(app, org, c2, "40.25", datetime!(2025-01-16 18:00 UTC)).await;
    redeem(app, org, c1, coffee.id, datetime!(2025-01-16 12:00 UTC)).await;
    redeem(app, org, c2, coffee.id, datetime!(2025-01-17 12:00 UTC)).await;
    redeem(app, org, c2, coffee.id, datetime!(2025-01-18 12:00 UTC)).await;
    redeem(app, org, c2, bread.id, datetime!(2025-01-18 12:30 UTC)).await;
    // A refund of part of c2's first purchase.
    let bought = store
        .list_purchases(org.id, Some(c2), None, None, 10)
        .await
        .unwrap();
    let first = bought
        .iter()
        .find(|p| p.amount == Decimal::new(10000, 2))
        .unwrap();
    let cmd = PointsCommand::Reverse {
        purchase: first.id,
        amount: Some(Decimal::new(3000, 2)),
        not_before: None,
    };
    store
        .apply_points(
            org.id,
            &cmd,
            &Actor::system(),
            None,
            datetime!(2025-01-19 12:00 UTC),
        )
        .await
        .unwrap();
    entry_at(
        app,
        org,
        c1,
        -3,
        "Correção",
        datetime!(2025-01-19 13:00 UTC),
    )
    .await;
    let expired = store
        .expire_customer(
            org.id,
            c3,
            datetime!(2025-01-01 00:00 UTC),
            datetime!(2025-01-20 12:00 UTC),
            false,
        )
        .await
        .unwrap();
    assert_eq!(expired, 10);
    // February (outside).
    entry_at(app, org, c1, 7, "Depois", datetime!(2025-02-01 03:00 UTC)).await;
    [c1, c2, c3]
}

/// The figures of January 2025 in São Paulo, counted from the ledger and the purchases.
struct Expected {
    issued: i64,
    redeemed: i64,
    expired: i64,
    adjusted: i64,
    outstanding: i64,
    purchases: i64,
    amount: Decimal,
    refunded: Decimal,
    active: i64,
}

async fn expected(app: &TestApp, org: &Organization) -> Expected {
    let (start, end) = (
        datetime!(2025-01-01 03:00 UTC),
        datetime!(2025-02-01 03:00 UTC),
    );
    let all = app
        .db
        .store
        .ledger(org.id, None, None, None, None, 10_000)
        .await
        .unwrap();
    let sum = |t: TransactionType| {
        all.iter()
            .filter(|e| e.created_at >= start && e.created_at < end && e.transaction_type == t)
            .map(|e| e.points)
            .sum::<i64>()
    };
    let active: BTreeSet<CustomerId> = all
        .iter()
        .filter(|e| e.created_at >= start && e.created_at < end)
        .filter(|e| {
            matches!(
                e.transaction_type,
                TransactionType::Earned | TransactionType::Redeemed
            )
        })
        .map(|e| e.customer_id)
        .collect();
    let bought: Vec<_> = app
        .db
        .store
        .list_purchases(org.id, None, None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.created_at >= start && p.created_at < end)
        .collect();
    Expected {
        issued: sum(TransactionType::Earned),
        redeemed: -sum(TransactionType::Redeemed),
        expired: -sum(TransactionType::Expired),
        adjusted: sum(TransactionType::Adjusted) + sum(TransactionType::Reversed),
        outstanding: all
            .iter()
            .filter(|e| e.created_at < end)
            .map(|e| e.points)
            .sum(),
        purchases: bought.len() as i64,
        amount: bought.iter().map(|p| p.amount).sum(),
        refunded: bought.iter().map(|p| p.reversed_amount).sum(),
        active: active.len() as i64,
    }
}

fn workbook(body: Vec<u8>) -> Xlsx<std::io::Cursor<Vec<u8>>> {
    calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap()
}

/// One part of the XLSX zip, as text.
fn part(body: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();
    let mut out = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut out).unwrap();
    out
}

/// What the export's private folders left in the scratch folder (nothing, once done).
fn leftovers(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(app.scratch.path().join("backups"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

both_backends! {
    async fn the_summary_agrees_with_the_ledger_in_csv_and_in_the_xlsx(db) {
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        a_month(&app, &org).await;
        let want = expected(&app, &org).await;
        assert_eq!((want.issued, want.redeemed, want.expired, want.adjusted), (165, 65, 10, -33), "the month as seeded");
        assert_eq!((want.purchases, want.amount, want.refunded, want.active), (3, Decimal::new(16575, 2), Decimal::new(3000, 2), 2));

        // The machine CSV: stable names, `.` and plain integers.
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/summary?from=2025-01-01&to=2025-01-31&style=machine").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-disposition"], "attachment; filename=\"summary-padaria-2025-01-01-2025-01-31.csv\"");
        let rows = read_csv(&body, ',');
        assert_eq!(rows[0], ["metric", "reward", "value", "points"]);
        let value = |name: &str| rows.iter().find(|r| r[0] == name).unwrap_or_else(|| panic!("{name}: {rows:?}"))[2].clone();
        assert_eq!(value("points_issued").parse::<i64>().unwrap(), want.issued);
        assert_eq!(value("points_redeemed").parse::<i64>().unwrap(), want.redeemed);
        assert_eq!(value("points_expired").parse::<i64>().unwrap(), want.expired);
        assert_eq!(value("points_adjusted").parse::<i64>().unwrap(), want.adjusted);
        assert_eq!(value("points_outstanding").parse::<i64>().unwrap(), want.outstanding);
        assert_eq!(value("purchases").parse::<i64>().unwrap(), want.purchases);
        assert_eq!(value("purchases_amount").parse::<Decimal>().unwrap(), want.amount);
        assert_eq!(value("purchases_amount"), "165.75");
        assert_eq!(value("purchases_refunded").parse::<Decimal>().unwrap(), want.refunded);
        assert_eq!(value("new_customers"), "3", "enrolled on 23 January");
        assert_eq!(value("active_customers").parse::<i64>().unwrap(), want.active);
        let top: Vec<(String, String, String)> = rows.iter().filter(|r| r[0] == "top_reward").map(|r| (r[1].clone(), r[2].clone(), r[3].clone())).collect();
        assert_eq!(top, [("Café grátis".into(), "3".into(), "60".into()), ("Pão de queijo".into(), "1".into(), "5".into())]);

        // The shop's own CSV: Portuguese labels, `;` and the decimal comma.
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/summary?from=2025-01-01&to=2025-01-31").await;
        let rows = read_csv(&body, ';');
        assert_eq!(rows[0], ["Indicador", "Recompensa", "Valor", "Pontos"]);
        assert!(rows.contains(&vec!["Total das compras".to_owned(), String::new(), "165,75".to_owned(), String::new()]), "{rows:?}");
        assert!(rows.contains(&vec!["Recompensa mais resgatada".to_owned(), "Café grátis".to_owned(), "3".to_owned(), "60".to_owned()]), "{rows:?}");

        // The ledger's workbook carries the summary as its second sheet, numbers as numbers.
        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?from=2025-01-01&to=2025-01-31&format=xlsx").await;
        assert_eq!(status, 200);
        let mut book = workbook(body.clone());
        assert_eq!(book.sheet_names(), ["Extrato", "Resumo"]);
        let ledger = book.worksheet_range("Extrato").unwrap();
        let entries = app.db.store.ledger(org.id, None, Some(datetime!(2025-01-01 03:00 UTC)), Some(datetime!(2025-02-01 03:00 UTC)), None, 1000).await.unwrap();
        assert_eq!(ledger.height(), 2 + entries.len(), "a title, headers and every entry of January");
        let summary = book.worksheet_range("Resumo").unwrap();
        assert_eq!(summary.get((0, 0)).unwrap().to_string(), "Padaria São João: resumo de 2025-01-01 a 2025-01-31");
        let figure = |label: &str| -> Data {
            (2..summary.height()).find(|r| summary.get((*r, 0)) == Some(&Data::String(label.into()))).and_then(|r| summary.get((r, 2)).cloned()).unwrap_or_else(|| panic!("{label}"))
        };
        assert_eq!(figure("Pontos emitidos"), Data::Float(want.issued as f64));
        assert_eq!(figure("Pontos resgatados"), Data::Float(want.redeemed as f64));
        assert_eq!(figure("Pontos expirados"), Data::Float(want.expired as f64));
        assert_eq!(figure("Pontos ajustados (saldo)"), Data::Float(want.adjusted as f64));
        assert_eq!(figure("Pontos em aberto no fim"), Data::Float(want.outstanding as f64));
        assert_eq!(figure("Compras"), Data::Float(want.purchases as f64));
        assert_eq!(figure("Total das compras"), Data::Float(165.75));
        assert_eq!(figure("Devolvido"), Data::Float(30.0));
        assert_eq!(figure("Novos clientes"), Data::Float(3.0));
        assert_eq!(figure("Clientes ativos"), Data::Float(want.active as f64));
        assert_eq!(summary.get((12, 1)), Some(&Data::String("Café grátis".into())));
        assert_eq!(summary.get((12, 3)), Some(&Data::Float(60.0)));
        // The money's format is the currency's.
        let styles = part(&body, "xl/styles.xml");
        assert!(styles.contains("&quot;R$&quot; #,##0.00"), "{styles}");

        // The summary on its own.
        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/summary?from=2025-01-01&to=2025-01-31&format=xlsx").await;
        assert_eq!(status, 200);
        let mut book = workbook(body);
        assert_eq!(book.sheet_names(), ["Resumo"]);
        assert_eq!(book.worksheet_range("Resumo").unwrap().height(), 14, "a title, headers, ten figures and two rewards");
        assert!(leftovers(&app).is_empty(), "temporary folders left: {:?}", leftovers(&app));
    }

    async fn balances_and_purchases_are_written_like_the_ledger(db) {
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        let [c1, c2, _] = a_month(&app, &org).await;

        // Purchases of January, newest first, in the shop's CSV.
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/purchases?from=2025-01-01&to=2025-01-31").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-disposition"], "attachment; filename=\"purchases-padaria-2025-01-01-2025-01-31.csv\"");
        let rows = read_csv(&body, ';');
        assert_eq!(rows[0], ["Compra", "Data e hora", "Cliente", "Operador", "Valor", "Moeda", "Pontos ganhos", "Valor devolvido", "Pontos estornados", "Detalhamento"]);
        let amounts: Vec<&str> = rows.iter().skip(1).map(|r| r[4].as_str()).collect();
        assert_eq!(amounts, ["40,25", "100,00", "25,50"], "newest first, the decimal comma; the 31 December one is out");
        assert_eq!(rows[2][1], "2025-01-15 15:00:00", "São Paulo time");
        assert_eq!(rows[2][2], c2.to_string());
        assert_eq!(rows[2][7], "30,00");
        assert_eq!(rows[2][8], "30");
        // For programs: `.` and UTC.
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/purchases?from=2025-01-01&to=2025-01-31&style=machine").await;
        let rows = read_csv(&body, ',');
        assert_eq!(rows[0], ["purchase_id", "created_at", "customer_id", "cashier_id", "amount", "currency", "points_awarded", "reversed_amount", "points_reversed", "breakdown"]);
        assert_eq!((rows[2][1].as_str(), rows[2][4].as_str(), rows[2][5].as_str()), ("2025-01-15T18:00:00Z", "100.00", "BRL"));
        // As a workbook: amounts are numbers, dates are dates, the header is frozen.
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/purchases?from=2025-01-01&to=2025-01-31&format=xlsx").await;
        let mut book = workbook(body.clone());
        assert_eq!(book.sheet_names(), ["Compras", "Resumo"]);
        let sheet = book.worksheet_range("Compras").unwrap();
        assert_eq!(sheet.get((0, 0)).unwrap().to_string(), "Padaria São João: compras de 2025-01-01 a 2025-01-31");
        assert_eq!(sheet.get((3, 4)), Some(&Data::Float(100.0)));
        assert!(matches!(sheet.get((3, 1)), Some(Data::DateTime(_))), "{:?}", sheet.get((3, 1)));
        let xml = part(&body, "xl/worksheets/sheet1.xml");
        assert!(xml.contains(r#"<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>"#), "{xml}");

        // Balances: every customer now, the range does not apply.
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/balances?period=last-month").await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-disposition"], "attachment; filename=\"balances-padaria-2025-01-23.csv\"");
        let rows = read_csv(&body, ';');
        assert_eq!(rows[0], ["Cliente", "Cartão", "Nome", "E-mail", "Telefone", "Situação", "Saldo", "Cadastro em"]);
        assert_eq!(rows.len(), 4, "{rows:?}");
        let c1_row = rows.iter().find(|r| r[0] == c1.to_string()).unwrap();
        let c1_now = app.db.store.ledger(org.id, Some(c1), None, None, None, 1000).await.unwrap().last().unwrap().balance_after;
        assert_eq!(c1_row[6].parse::<i64>().unwrap(), c1_now);
        assert_eq!(c1_row[2], "João");
        assert_eq!(c1_row[7], "2025-01-23 11:05:30", "enrolled at the fixed clock, São Paulo time");
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/balances?format=xlsx").await;
        let mut book = workbook(body);
        assert_eq!(book.sheet_names(), ["Saldos"]);
        let sheet = book.worksheet_range("Saldos").unwrap();
        assert_eq!(sheet.get((0, 0)).unwrap().to_string(), "Padaria São João: saldos em 2025-01-23");
        assert_eq!(sheet.height(), 5);
        assert!(leftovers(&app).is_empty(), "temporary folders left: {:?}", leftovers(&app));
    }
}

/// 2,500 purchases, ten at each minute from 10 January 2025 12:00 UTC, written by one
/// INSERT: the export pages through them (1,000 at a time, ties broken by id).
fn bulk_purchases(kind: loyalty_testkit::Kind, org: &str, customer: &str) -> String {
    match kind {
        loyalty_testkit::Kind::Postgres => format!(
            "INSERT INTO purchases (id, organization_id, customer_id, amount, currency, points_awarded, created_at) \
             SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, '{org}', '{customer}', 1.50, 'BRL', 1, \
             timestamptz '2025-01-10 12:00:00+00' + ((g / 10) * interval '1 minute') \
             FROM generate_series(1, 2500) g"
        ),
        loyalty_testkit::Kind::Sqlite => format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2500) \
             INSERT INTO purchases (id, organization_id, customer_id, amount, currency, points_awarded, created_at) \
             SELECT printf('00000000-0000-4000-8000-%012d', n), '{org}', '{customer}', '1.50', 'BRL', 1, \
             strftime('%Y-%m-%dT%H:%M:%S', 1736510400 + (n / 10) * 60, 'unixepoch') || '.000000Z' FROM g"
        ),
    }
}

both_backends! {
    async fn the_purchases_export_pages_through_ties_without_losing_or_repeating_one(db) {
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        let c = customer(&app, &org, "400000000188").await;
        app.db.execute(&bulk_purchases(app.db.kind, &org.id.to_string(), &c.to_string())).await;
        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/purchases?from=2025-01-01&to=2025-01-31&style=machine").await;
        assert_eq!(status, 200);
        let rows = read_csv(&body, ',');
        let ids: Vec<&str> = rows.iter().skip(1).map(|r| r[0].as_str()).collect();
        assert_eq!(ids.len(), 2500);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 2500, "none twice");
        let keys: Vec<(&str, &str)> = rows.iter().skip(1).map(|r| (r[1].as_str(), r[0].as_str())).collect();
        assert!(keys.windows(2).all(|w| w[0] > w[1]), "newest first, then by id");
        assert_eq!(rows[1][4], "1.50");
    }
}
