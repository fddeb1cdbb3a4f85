//! The ledger export over the API on both backends: a Brazilian shop's CSV read as its
//! spreadsheet would (`;`, byte-order mark, accents, local times, Portuguese headers),
//! the machine style against the JSON ledger, the edges of a range in the shop's time
//! zone, and bad parameters.

use super::app::{TestApp, Who};
use axum::body::Body;
use axum::http::Request;
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_core::domain::{CustomerId, OrgStatus, Organization};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{both_backends, fixed_clock_now};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

/// A shop in Brazil: pt-BR, BRL, America/Sao_Paulo (UTC-3 all year since 2019).
pub async fn brazilian_shop(app: &TestApp) -> Organization {
    let input = OnboardInput {
        name: Some("Padaria São João".into()),
        slug: Some("padaria".into()),
        admin_email: Some("admin@padaria.example.com".into()),
        admin_name: Some("Ana".into()),
        country: Some("BR".into()),
        timezone: Some("America/Sao_Paulo".into()),
        language: Some("pt-BR".into()),
        currency: Some("BRL".into()),
        ..OnboardInput::default()
    };
    app.db
        .store
        .insert_organization(
            &input.validate().unwrap().org,
            OrgStatus::Active,
            fixed_clock_now(),
        )
        .await
        .unwrap()
}

pub async fn customer(app: &TestApp, org: &Organization, card: &str) -> CustomerId {
    let new = NewCustomer {
        phone: None,
        email: Some(format!("c{card}@example.com")),
        name: Some("João".into()),
        card_number: card.into(),
        identity_subject: None,
        created_by: None,
    };
    app.db
        .store
        .enroll_customer(org.id, &new, &Actor::system(), fixed_clock_now())
        .await
        .unwrap()
        .id
}

/// An adjustment of `points` with `reason`, recorded at `at`.
pub async fn entry_at(
    app: &TestApp,
    org: &Organization,
    c: CustomerId,
    points: i64,
    reason: &str,
    at: OffsetDateTime,
) {
    let cmd = PointsCommand::Adjust {
        customer: c,
        points,
        reason: reason.into(),
    };
    app.db
        .store
        .apply_points(org.id, &cmd, &Actor::system(), None, at)
        .await
        .unwrap();
}

/// Status, headers and the raw body of a GET.
pub async fn get_raw(
    app: &TestApp,
    who: &Who,
    path: &str,
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(path);
    match who {
        Who::Anonymous => {}
        Who::Session(t) => req = req.header("cookie", format!("loyalty_session={t}")),
        Who::Token(t) => req = req.header("authorization", format!("Bearer {t}")),
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

/// Reads CSV as a spreadsheet does: a UTF-8 byte-order mark, then fields separated by
/// `sep`, quoted with `"` when they hold it, rows ending in CRLF.
pub fn read_csv(bytes: &[u8], sep: char) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark first");
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, c) if c == sep => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "the last row ends with CRLF"
    );
    rows
}

both_backends! {
    async fn a_brazilian_shop_gets_a_csv_its_spreadsheet_reads_with_accents_and_local_times(db) {
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        let c = customer(&app, &org, "400000000014").await;
        // 23:30 on 31 January in São Paulo is 02:30 UTC on 1 February.
        entry_at(&app, &org, c, 150, "Bônus São João; aniversário", datetime!(2025-02-01 02:30 UTC)).await;
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?from=2025-01-01&to=2025-01-31").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert_eq!(headers["content-disposition"], "attachment; filename=\"ledger-padaria-2025-01-01-2025-01-31.csv\"");
        assert!(body.starts_with(&[0xEF, 0xBB, 0xBF]), "byte-order mark");
        let rows = read_csv(&body, ';');
        assert_eq!(rows[0], ["Lançamento", "Data e hora", "Cliente", "Tipo", "Pontos", "Saldo após", "Referência", "Id da referência", "Observações", "Detalhamento"]);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let r = &rows[1];
        assert_eq!(r[1], "2025-01-31 23:30:00", "the shop's local time");
        assert_eq!(r[2], c.to_string());
        assert_eq!(r[3], "adjusted");
        assert_eq!(r[4].parse::<i64>().unwrap(), 150, "points are whole numbers");
        assert_eq!(r[5].parse::<i64>().unwrap(), 150);
        assert_eq!(r[8], "Bônus São João; aniversário", "accents and the separator survive");
    }

    async fn the_range_is_whole_days_in_the_shops_time_zone(db) {
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        let c = customer(&app, &org, "400000000022").await;
        // Local São Paulo times (UTC-3): before, first instant, last half hour, next day.
        entry_at(&app, &org, c, 1, "before", datetime!(2025-01-01 02:59:59 UTC)).await;
        entry_at(&app, &org, c, 2, "first", datetime!(2025-01-01 03:00 UTC)).await;
        entry_at(&app, &org, c, 3, "last", datetime!(2025-02-01 02:30 UTC)).await;
        entry_at(&app, &org, c, 4, "after", datetime!(2025-02-01 03:00 UTC)).await;
        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?from=2025-01-01&to=2025-01-31&style=machine").await;
        assert_eq!(status, 200);
        let notes: Vec<String> = read_csv(&body, ',').into_iter().skip(1).map(|r| r[8].clone()).collect();
        assert_eq!(notes, ["first", "last"]);
        // "Last month" seen from the fixed clock's 23 January 2025 is December 2024.
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?period=last-month").await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-disposition"], "attachment; filename=\"ledger-padaria-2024-12-01-2024-12-31.csv\"");
        let rows = read_csv(&body, ';');
        assert_eq!(rows.iter().skip(1).map(|r| r[8].as_str()).collect::<Vec<_>>(), ["before"]);
    }

    async fn the_machine_style_round_trips_to_the_json_ledger(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let c = customer(&app, &app.a, "400000000030").await;
        let org = app.a.clone();
        for (i, minute) in [1, 2, 3].into_iter().enumerate() {
            entry_at(&app, &org, c, 10 * (i as i64 + 1), "a \"quoted\", note", datetime!(2025-01-10 12:00 UTC) + time::Duration::minutes(minute)).await;
        }
        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/alpha/exports/ledger?from=2025-01-01&to=2025-01-31&style=machine&format=csv").await;
        assert_eq!(status, 200);
        let rows = read_csv(&body, ',');
        assert_eq!(rows[0], ["entry_id", "created_at", "customer_id", "type", "points", "balance_after", "reference_type", "reference_id", "notes", "breakdown"]);
        let (s, json) = app.call(&admin, "GET", "/api/v1/orgs/alpha/ledger?from=2025-01-01&to=2025-01-31", None).await;
        assert_eq!(s, 200);
        let items = json["items"].as_array().unwrap();
        assert_eq!(rows.len() - 1, items.len());
        for (row, e) in rows.iter().skip(1).zip(items) {
            assert_eq!(row[0], e["id"].as_str().unwrap());
            let csv_time = OffsetDateTime::parse(&row[1], &time::format_description::well_known::Rfc3339).unwrap();
            let json_time = OffsetDateTime::parse(e["created_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
            assert_eq!(csv_time, json_time);
            assert!(row[1].ends_with('Z'), "UTC: {}", row[1]);
            assert_eq!(row[4].parse::<i64>().unwrap(), e["points"].as_i64().unwrap());
            assert_eq!(row[5].parse::<i64>().unwrap(), e["balance_after"].as_i64().unwrap());
            assert_eq!(row[8], e["notes"].as_str().unwrap());
        }
        // An American shop's local style: `,`, English headers, New York time.
        let (_, _, body) = get_raw(&app, &admin, "/api/v1/orgs/alpha/exports/ledger?from=2025-01-01&to=2025-01-31").await;
        let rows = read_csv(&body, ',');
        assert_eq!(rows[0][1], "Date and time");
        assert_eq!(rows[1][1], "2025-01-10 07:01:00");
    }

    async fn bad_parameters_name_their_field_and_other_shops_are_refused(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (beta_admin, _) = app.person("beta_admin", &["beta-admins"]).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let cases = [
            ("from=2025-01-01", 422, "validation.failed", Some("to")),
            ("from=2025-02-01&to=2025-01-01", 422, "validation.failed", Some("to")),
            ("from=01/02/2025&to=2025-03-01", 422, "validation.failed", Some("from")),
            ("period=yesterday", 422, "validation.failed", Some("period")),
            ("period=last-month&from=2025-01-01", 422, "validation.failed", Some("period")),
            ("format=pdf", 422, "validation.failed", Some("format")),
            ("style=excel", 422, "validation.failed", Some("style")),
            ("colour=blue", 400, "request.query", None),
        ];
        for (query, status, code, field) in cases {
            let (s, body) = app.call(&admin, "GET", &format!("/api/v1/orgs/alpha/exports/ledger?{query}"), None).await;
            assert_eq!(s.as_u16(), status, "{query}: {body}");
            assert_eq!(body["error"]["code"], code, "{query}: {body}");
            if let Some(f) = field {
                assert_eq!(body["error"]["fields"][0]["field"], f, "{query}: {body}");
            }
        }
        let (s, body) = app.call(&beta_admin, "GET", "/api/v1/orgs/alpha/exports/ledger", None).await;
        assert_eq!(s, 403, "{body}");
        let (s, body) = app.call(&cashier, "GET", "/api/v1/orgs/alpha/exports/ledger", None).await;
        assert_eq!(s, 403, "{body}");
        assert_eq!(body["error"]["code"], "auth.forbidden");
    }
}

/// The Excel serial number (days since 1899-12-30) of a local date and time.
fn excel_serial(local: time::PrimitiveDateTime) -> f64 {
    let epoch = time::macros::datetime!(1899-12-30 0:00);
    (local - epoch).as_seconds_f64() / 86_400.0
}

both_backends! {
    async fn the_xlsx_has_numbers_as_numbers_local_dates_and_a_title(db) {
        use calamine::{Data, Reader, Xlsx};
        let app = TestApp::new(db).await;
        let org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        let c = customer(&app, &org, "400000000063").await;
        entry_at(&app, &org, c, 1250, "Bônus São João", datetime!(2025-02-01 02:30 UTC)).await;
        entry_at(&app, &org, c, -50, "Correção", datetime!(2025-01-02 12:00 UTC)).await;
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?period=last-month&format=xlsx").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        assert_eq!(headers["content-disposition"], "attachment; filename=\"ledger-padaria-2024-12-01-2024-12-31.xlsx\"");
        // Last month seen from 23 January 2025 is empty: a title and headers only.
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
        let sheet = book.worksheet_range("Extrato").unwrap();
        assert_eq!(sheet.height(), 2);

        let (status, _, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?from=2025-01-01&to=2025-01-31&format=xlsx").await;
        assert_eq!(status, 200);
        // The sheet's name and its frozen header rows, as Excel reads them.
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&body)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut xml).unwrap();
        assert!(xml.contains(r#"<sheet name="Extrato" sheetId="1""#), "{xml}");
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
        assert!(xml.contains(r#"<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>"#), "{xml}");
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
        assert_eq!(book.sheet_names(), ["Extrato", "Resumo"]);
        let sheet = book.worksheet_range("Extrato").unwrap();
        let title = sheet.get((0, 0)).unwrap().to_string();
        assert_eq!(title, "Padaria São João: extrato de 2025-01-01 a 2025-01-31");
        let headers: Vec<String> = (0..10).map(|c| sheet.get((1, c)).unwrap().to_string()).collect();
        assert_eq!(headers, ["Lançamento", "Data e hora", "Cliente", "Tipo", "Pontos", "Saldo após", "Referência", "Id da referência", "Observações", "Detalhamento"]);
        assert_eq!(sheet.height(), 4, "a title, headers and two entries");
        // Oldest first: the correction, then the bonus at 23:30 local on the 31st.
        let first = 2;
        match sheet.get((first, 1)).unwrap() {
            Data::DateTime(d) => assert!((d.as_f64() - excel_serial(datetime!(2025-01-02 09:00))).abs() < 1e-6, "{d}"),
            other => panic!("a date, not {other:?}"),
        }
        assert_eq!(sheet.get((first, 4)), Some(&Data::Float(-50.0)));
        assert_eq!(sheet.get((first, 8)), Some(&Data::String("Correção".into())));
        let last = 3;
        match sheet.get((last, 1)).unwrap() {
            Data::DateTime(d) => assert!((d.as_f64() - excel_serial(datetime!(2025-01-31 23:30))).abs() < 1e-6, "{d}"),
            other => panic!("a date, not {other:?}"),
        }
        assert_eq!(sheet.get((last, 4)), Some(&Data::Float(1250.0)));
        assert_eq!(sheet.get((last, 5)), Some(&Data::Float(1250.0)), "recorded before the correction");
        assert_eq!(sheet.get((first, 5)), Some(&Data::Float(1200.0)));
        assert_eq!(sheet.get((last, 2)), Some(&Data::String(c.to_string())));
        assert_eq!(sheet.get((last, 8)), Some(&Data::String("Bônus São João".into())));
    }

    async fn an_xlsx_without_a_writable_folder_is_unavailable_not_a_server_error(db) {
        let app = TestApp::new(db).await;
        let _org = brazilian_shop(&app).await;
        let (admin, _) = app.person("padaria_admin", &["padaria-admins"]).await;
        // The backup folder is a file: no private folder can be made inside it.
        std::fs::write(app.scratch.path().join("backups"), b"not a folder").unwrap();
        let (status, headers, body) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?period=last-month&format=xlsx").await;
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        assert!(headers.contains_key("retry-after"));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "unavailable");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(!message.contains("backups"), "no path in the answer: {message}");
        // CSV needs no folder and still answers.
        let (status, _, _) = get_raw(&app, &admin, "/api/v1/orgs/padaria/exports/ledger?period=last-month&format=csv").await;
        assert_eq!(status, 200);
    }
}
