//! A Brazilian shop's admin downloads last month's ledger as XLSX from the admin panel
//! in a real browser: dashboard, export page, "last month", download. The file is read
//! back with calamine: the title and Portuguese headers, one row per entry of last
//! month in São Paulo time (an entry at 23:30 on its last day included, one of this
//! month left out), points as numbers, times as real dates, the header rows frozen.

use super::harness::{
    Driver, Served, assert_no_problems, browser_available, click, download, fill, screenshots,
    wait_gone, wait_text,
};
use calamine::{Data, Reader, Xlsx};
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_core::service::onboard::{self, Credential, CredentialMode, NoHooks, OnboardInput};
use loyalty_testkit::{TestDb, both_backends};
use secrecy::ExposeSecret;
use std::io::Read;
use time::macros::time;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const PASSWORD: &str = "correct-horse-battery";

/// São Paulo has been UTC-3 all year since 2019.
const SAO_PAULO: UtcOffset = match UtcOffset::from_hms(-3, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("offset"),
};

/// The Excel serial number (days since 1899-12-30) of a local date and time.
fn excel_serial(local: PrimitiveDateTime) -> f64 {
    let epoch = time::macros::datetime!(1899-12-30 0:00);
    (local - epoch).as_seconds_f64() / 86_400.0
}

async fn exports(db: TestDb, backend: &str) {
    if !browser_available() {
        return;
    }
    let app = Served::start(&db).await;
    let base = app.base.clone();
    let plan = OnboardInput {
        name: Some("Padaria Delta".into()),
        slug: Some("delta".into()),
        admin_email: Some("admin@delta.example.com".into()),
        admin_name: Some("Bia Admin".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        language: Some("pt-BR".into()),
        currency: Some("BRL".into()),
        ..OnboardInput::default()
    }
    .validate()
    .unwrap();
    let now = app.state.clock.now();
    let report = onboard::onboard(
        db.store.as_ref(),
        &app.directory,
        app.state.clock.as_ref(),
        &plan,
        CredentialMode::Link,
        &NoHooks,
    )
    .await
    .unwrap();
    let Some(Credential::Link { url, .. }) = report.credential else {
        panic!("a link")
    };
    let org = report.org.clone();

    // Last month where the shop is, and three entries: its 10th at 09:00, its last day
    // at 23:30 (already the next day in UTC), and the first day of this month.
    let today = now.to_offset(SAO_PAULO).date();
    let this_month = today.replace_day(1).unwrap();
    let last_day = this_month.previous_day().unwrap();
    let first_day = last_day.replace_day(1).unwrap();
    let at = |d: Date, t: time::Time| PrimitiveDateTime::new(d, t).assume_offset(SAO_PAULO);
    let customer = db
        .store
        .enroll_customer(
            org.id,
            &NewCustomer {
                phone: None,
                email: Some("joao@example.com".into()),
                name: Some("João".into()),
                card_number: "400000000139".into(),
                identity_subject: None,
                created_by: None,
            },
            &Actor::system(),
            at(first_day, time!(8:00)).to_offset(UtcOffset::UTC),
        )
        .await
        .unwrap();
    let entries: [(i64, &str, OffsetDateTime); 3] = [
        (
            1500,
            "Bônus de aniversário",
            at(first_day.replace_day(10).unwrap(), time!(9:00)),
        ),
        (-250, "Correção", at(last_day, time!(23:30))),
        (99, "Este mês", at(this_month, time!(0:30))),
    ];
    for (points, reason, when) in entries {
        let cmd = PointsCommand::Adjust {
            customer: customer.id,
            points,
            reason: reason.into(),
        };
        db.store
            .apply_points(
                org.id,
                &cmd,
                &Actor::system(),
                None,
                when.to_offset(UtcOffset::UTC),
            )
            .await
            .unwrap();
    }

    let browser = Driver::start().await;
    let d = browser.d();
    d.goto(url.expose_secret()).await.unwrap();
    fill(d, "password", PASSWORD).await;
    fill(d, "confirm", PASSWORD).await;
    click(d, "main form button[type=submit]").await;
    wait_gone(d, "#confirm").await;
    d.goto(format!("{base}/login")).await.unwrap();
    fill(d, "username", "delta_admin").await;
    fill(d, "password", PASSWORD).await;
    click(d, "form[action='/login'] button").await;
    wait_gone(d, "form[action='/login']").await;

    // From the dashboard to the export page; last month's ledger as XLSX.
    d.goto(format!("{base}/o/delta/admin")).await.unwrap();
    wait_text(d, "h1", "Painel").await;
    click(d, "main a[href='/o/delta/admin/exports']").await;
    wait_text(d, "h1", "Exportações").await;
    click(d, "input[name=kind][value=ledger]").await;
    click(d, "input[name=period][value=last-month]").await;
    click(d, "input[name=format][value=xlsx]").await;
    d.screenshot(&screenshots().join(format!("{backend}-admin-exports.png")))
        .await
        .unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let file = download(d, downloads.path(), "#export-form button[type=submit]").await;
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, format!("ledger-delta-{first_day}-{last_day}.xlsx"));

    let bytes = std::fs::read(&file).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    assert!(
        xml.contains(
            r#"<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>"#
        ),
        "the header rows are frozen: {xml}"
    );
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["Extrato", "Resumo"]);
    let sheet = book.worksheet_range("Extrato").unwrap();
    assert_eq!(
        sheet.get((0, 0)).unwrap().to_string(),
        format!("Padaria Delta: extrato de {first_day} a {last_day}")
    );
    assert_eq!(sheet.get((1, 1)).unwrap().to_string(), "Data e hora");
    assert_eq!(sheet.get((1, 4)).unwrap().to_string(), "Pontos");
    assert_eq!(
        sheet.height(),
        4,
        "a title, headers and last month's two entries"
    );
    for (row, (points, reason, when)) in (2..).zip(&entries[..2]) {
        let local = when.to_offset(SAO_PAULO);
        let local = PrimitiveDateTime::new(local.date(), local.time());
        match sheet.get((row, 1)).unwrap() {
            Data::DateTime(d) => assert!(
                (d.as_f64() - excel_serial(local)).abs() < 1e-6,
                "row {row}: {d} is not {local}, São Paulo time"
            ),
            other => panic!("a date, not {other:?}"),
        }
        assert_eq!(sheet.get((row, 4)), Some(&Data::Float(*points as f64)));
        assert_eq!(sheet.get((row, 8)), Some(&Data::String((*reason).into())));
    }
    assert_eq!(
        sheet.get((3, 5)),
        Some(&Data::Float(1250.0)),
        "the balance after"
    );
    // Nothing of the workbook's temporary files is left.
    let left: Vec<_> = std::fs::read_dir(app.scratch.path().join("backups"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // A range that ends before it starts is a page that says so.
    click(d, "nav.tabs a[href='/o/delta/admin/exports']").await;
    wait_text(d, "h1", "Exportações").await;
    click(d, "input[name=period][value=custom]").await;
    d.execute(
        "document.getElementById('from').value = '2025-02-01'; document.getElementById('to').value = '2025-01-01';",
        vec![],
    )
    .await
    .unwrap();
    click(d, "#export-form button[type=submit]").await;
    wait_text(d, "main", "the last day is before the first day").await;
    assert_no_problems(d).await;
    browser.quit().await;
}

both_backends! {
    async fn the_admin_downloads_last_months_ledger_as_xlsx_from_the_admin_panel(db) {
        let backend = match db.kind {
            loyalty_testkit::Kind::Sqlite => "sqlite",
            loyalty_testkit::Kind::Postgres => "postgres",
        };
        exports(db, backend).await;
    }
}
