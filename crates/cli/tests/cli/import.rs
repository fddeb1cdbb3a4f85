//! `loyalty import customers` end to end, on both backends: a pt-BR file imports with
//! its opening balances, a second run changes nothing, a bad row exits 2 naming its line
//! and column with nothing written, and the template reads back.

use super::support::{loyalty, stderr, stdout};
use loyalty_core::domain::OrgStatus;
use loyalty_core::domain::ledger::CustomerKey;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::both_backends;

both_backends! {
    async fn the_operator_imports_a_shops_customer_file(db) {
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
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("clientes.csv");
        std::fs::write(&file, "\u{feff}Nome;E-mail;Telefone;Saldo inicial;Aceita marketing\r\nJoão;joao@example.com;(11) 91234-5678;1.200;sim\r\nMaria;maria@example.com;;30;não\r\n").expect("write");
        let path = file.to_str().expect("utf-8 path");

        let dry = loyalty(&db, &["import", "customers", "--org", "padaria", path, "--dry-run"]);
        assert!(dry.status.success(), "{}", stderr(&dry));
        assert!(stdout(&dry).contains("nothing written"), "{}", stdout(&dry));
        assert!(db.store.customer_keys(org.id).await.expect("keys").is_empty());

        let out = loyalty(&db, &["import", "customers", "--org", "padaria", path]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("created 2 customers"), "{}", stdout(&out));
        let joao = db.store.find_customer(org.id, &CustomerKey::Phone("+5511912345678".into())).await.expect("find").expect("imported");
        assert_eq!((joao.balance, joao.marketing_consent.granted), (1200, true));

        let again = loyalty(&db, &["import", "customers", "--org", "padaria", path, "--json"]);
        assert!(again.status.success(), "{}", stderr(&again));
        let report: serde_json::Value = serde_json::from_str(&stdout(&again)).expect("json");
        assert_eq!((report["created"].as_u64(), report["already_imported"].as_u64()), (Some(0), Some(2)));

        let bad = dir.path().join("ruim.csv");
        std::fs::write(&bad, "name,email,opening balance\nAna,ana@example.com,12.5\n").expect("write");
        let out = loyalty(&db, &["import", "customers", "--org", "padaria", bad.to_str().expect("path")]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stdout(&out).contains("line 2, opening_balance:"), "{}", stdout(&out));
        assert!(db.store.find_customer(org.id, &CustomerKey::Email("ana@example.com".into())).await.expect("find").is_none());

        let missing = loyalty(&db, &["import", "customers", "--org", "padaria", "/nonexistent.csv"]);
        assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
        assert!(stderr(&missing).contains("FILE"), "{}", stderr(&missing));

        let template = loyalty(&db, &["import", "template", "--lang", "pt-BR"]);
        assert!(stdout(&template).starts_with("Nome;E-mail;Telefone;"), "{}", stdout(&template));
    }
}
