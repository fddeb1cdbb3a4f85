//! `loyalty export` end to end, on both backends: the files the API would stream (ledger,
//! balances, summary), written where the operator asks (CSV or XLSX); bad flags exit 2
//! naming the flag, and no file is overwritten.

use super::support::{command, loyalty, stderr, stdout};
use loyalty_core::domain::OrgStatus;
use loyalty_core::domain::ledger::{Actor, NewCustomer, PointsCommand};
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::both_backends;
use time::macros::datetime;

both_backends! {
    async fn the_operator_exports_a_shops_ledger_for_a_range_to_a_file(db) {
        let input = OnboardInput {
            name: Some("Padaria São João".into()),
            slug: Some("padaria".into()),
            admin_email: Some("admin@padaria.example.com".into()),
            admin_name: Some("Ana".into()),
            currency: Some("BRL".into()),
            country: Some("BR".into()),
            timezone: Some("America/Sao_Paulo".into()),
            language: Some("pt-BR".into()),
            ..OnboardInput::default()
        };
        let now = loyalty_testkit::fixed_clock_now();
        let org = db.store.insert_organization(&input.validate().expect("valid").org, OrgStatus::Active, now).await.expect("org");
        let c = db.store.enroll_customer(org.id, &NewCustomer {
            phone: None, email: Some("joao@example.com".into()), name: Some("João".into()),
            card_number: "400000000055".into(), identity_subject: None, created_by: None,
        }, &Actor::system(), now).await.expect("customer").id;
        for (points, at) in [(5, datetime!(2025-01-31 12:00 UTC)), (7, datetime!(2025-02-01 03:00 UTC))] {
            let cmd = PointsCommand::Adjust { customer: c, points, reason: "Bônus".into() };
            db.store.apply_points(org.id, &cmd, &Actor::system(), None, at).await.expect("entry");
        }
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("janeiro.csv");
        let path = file.to_str().expect("utf-8 path");
        let out = loyalty(&db, &["export", "--org", "padaria", "--from", "2025-01-01", "--to", "2025-01-31", "--output", path]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(&file).expect("the file");
        let text = text.strip_prefix('\u{feff}').expect("byte-order mark");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Lançamento;Data e hora;"), "{}", lines[0]);
        assert_eq!(lines.len(), 2, "only January in São Paulo: {lines:?}");
        assert!(lines[1].contains(";2025-01-31 09:00:00;") && lines[1].ends_with(";Bônus;"), "the reason, then an empty breakdown (an adjustment): {}", lines[1]);

        // The same range in the machine style, to standard output.
        let out = loyalty(&db, &["export", "--org", "padaria", "--from", "2025-01-01", "--to", "2025-01-31", "--style", "machine"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains(",2025-01-31T12:00:00Z,"), "{}", stdout(&out));

        // An existing file is not overwritten; bad flags name themselves.
        let again = loyalty(&db, &["export", "--org", "padaria", "--period", "last-month", "--output", path]);
        assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
        assert!(stderr(&again).contains("--output"), "{}", stderr(&again));
        for (args, named) in [
            (vec!["--from", "2025-01-01"], "to"),
            (vec!["--period", "yesterday"], "period"),
            (vec!["--style", "excel"], "style"),
        ] {
            let mut all = vec!["export", "--org", "padaria"];
            all.extend(args);
            let out = loyalty(&db, &all);
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            assert!(stderr(&out).contains(&format!("{named}:")), "{}", stderr(&out));
        }
        // A workbook needs a file to go to.
        let xlsx = dir.path().join("janeiro.xlsx");
        let out = loyalty(&db, &["export", "--org", "padaria", "--format", "xlsx"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
        // Its temporary files go to a private folder in the backup folder, gone after.
        let backups = dir.path().join("backups");
        let out = command(&db.url)
            .env("LOYALTY_BACKUP__DIR", &backups)
            .args(["export", "--org", "padaria", "--from", "2025-01-01", "--to", "2025-01-31", "--format", "xlsx", "--output", xlsx.to_str().expect("utf-8 path")])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(std::fs::read(&xlsx).expect("the workbook").starts_with(b"PK"), "a zip file");
        assert_eq!(std::fs::read_dir(&backups).expect("the backup folder").count(), 0, "no temporary folder left");

        // The other exports: balances (now) and the month's summary.
        let out = loyalty(&db, &["export", "balances", "--org", "padaria", "--style", "machine"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.starts_with("\u{feff}customer_id,card_number,name,email,phone,status,balance,enrolled_at\r\n"), "{text}");
        assert!(text.contains(&format!("{c},400000000055,João,joao@example.com,,active,12,2025-01-23T14:05:30Z")), "{text}");
        let out = loyalty(&db, &["export", "summary", "--org", "padaria", "--from", "2025-01-01", "--to", "2025-01-31"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("Pontos ajustados (saldo);;5;\r\n"), "{text}");
        assert!(text.contains("Pontos em aberto no fim;;5;\r\n"), "{text}");
        let out = loyalty(&db, &["export", "refunds", "--org", "padaria"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("kind:"), "{}", stderr(&out));

        let unknown = loyalty(&db, &["export", "--org", "nowhere"]);
        assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    }
}
