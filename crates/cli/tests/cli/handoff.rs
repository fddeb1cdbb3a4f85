//! `loyalty handoff` and `loyalty org checklist`: the guide in both languages, read
//! back from the PDF with `pdftotext`; the checklist ticking itself and by hand.

use super::support::{command, loyalty, stderr, stdout};
use loyalty_testkit::loyalty_core::clock::SystemClock;
use loyalty_testkit::loyalty_core::domain::ledger::Actor;
use loyalty_testkit::loyalty_core::domain::{OrgSlug, Role};
use loyalty_testkit::loyalty_core::service::points::{self, Ctx, EnrollInput};
use loyalty_testkit::loyalty_core::service::staff::{self, StaffInput};
use loyalty_testkit::{TestDb, both_backends};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

const PUBLIC_URL: &str = "https://loyalty.example.net";

fn onboard(db: &TestDb, name: &str, slug: &str, language: &str) {
    let out = loyalty(
        db,
        &[
            "onboard",
            "--name",
            name,
            "--slug",
            slug,
            "--admin-email",
            &format!("owner@{slug}.example.com"),
            "--admin-name",
            "Ana Conceição",
            "--language",
            language,
            "--country",
            if language == "pt-BR" { "BR" } else { "US" },
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `loyalty handoff` with a support contact and a public URL configured.
fn handoff(db: &TestDb, out_dir: &Path, extra: &[&str]) -> Output {
    command(&db.url)
        .env("LOYALTY_SERVER__PUBLIC_URL", PUBLIC_URL)
        .env("LOYALTY_SUPPORT__CONTACT_EMAIL", "help@loyalty.example.net")
        .env("LOYALTY_SUPPORT__CONTACT_PHONE", "+1 555-010-0199")
        .env("LOYALTY_SUPPORT__HOURS", "Mon-Fri 9:00-18:00")
        .arg("handoff")
        .arg("--out")
        .arg(out_dir)
        .args(extra)
        .output()
        .expect("loyalty runs")
}

/// The text of a PDF as `pdftotext` reads it; a missing `pdftotext` fails the test, and
/// `None` only when `LOYALTY_TEST_SKIP` names `pdf` (see `loyalty_testkit::tools`).
fn pdf_text(path: &Path) -> Option<String> {
    match std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).expect("pdftotext prints UTF-8"))
        }
        Err(e) => {
            let run = loyalty_testkit::tools::required(
                "pdf",
                false,
                &format!("pdftotext (Debian package poppler-utils; {e})"),
                "apt-get install poppler-utils",
            );
            assert!(!run, "pdftotext is missing");
            None
        }
    }
}

fn checklist(db: &TestDb, slug: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["org", "checklist", slug, "--json"];
    args.extend_from_slice(extra);
    let out = loyalty(db, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn ticked(list: &serde_json::Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["done"] == true)
        .map(|i| i["item"].as_str().expect("key").to_owned())
        .collect()
}

both_backends! {
    async fn the_guide_is_written_as_html_and_pdf_in_the_organizations_language(db) {
        onboard(&db, "NextDoor Market", "nextdoor", "en-US");
        onboard(&db, "Padaria São João", "saojoao", "pt-BR");
        let dir = tempfile::tempdir().expect("dir");

        let out = handoff(&db, dir.path(), &["--org", "nextdoor"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("nextdoor-guide.en-US.pdf"), "{}", stdout(&out));
        let html = std::fs::read_to_string(dir.path().join("nextdoor-guide.en-US.html")).expect("html");
        for expected in ["<html lang=\"en-US\">", "https://loyalty.example.net/login", "https://loyalty.example.net/o/nextdoor/admin", "NextDoor Market", "help@loyalty.example.net", "+1 555-010-0199", "Mon-Fri 9:00-18:00", "@media print", "Frequently asked questions"] {
            assert!(html.contains(expected), "HTML lacks {expected:?}");
        }
        assert!(!html.contains("<link") && !html.contains("<script"), "self-contained");
        let pdf = dir.path().join("nextdoor-guide.en-US.pdf");
        assert!(std::fs::read(&pdf).expect("pdf").starts_with(b"%PDF-"));
        if let Some(text) = pdf_text(&pdf) {
            for expected in ["https://loyalty.example.net/login", "https://loyalty.example.net/o/nextdoor/till", "NextDoor Market", "help@loyalty.example.net", "+1 555-010-0199", "Cashier quick guide", "A purchase of $42.99 earns 42 points"] {
                assert!(text.contains(expected), "PDF text lacks {expected:?}:\n{text}");
            }
        }

        // pt-BR by the organization's language, accents intact.
        let out = handoff(&db, dir.path(), &["--org", "saojoao"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let html = std::fs::read_to_string(dir.path().join("saojoao-guide.pt-BR.html")).expect("html");
        assert!(html.contains("<html lang=\"pt-BR\">") && html.contains("Padaria São João") && html.contains("Configurações"));
        if let Some(text) = pdf_text(&dir.path().join("saojoao-guide.pt-BR.pdf")) {
            for expected in ["https://loyalty.example.net/login", "Padaria São João", "Guia rápido do caixa", "Configurações", "Página de adesão", "Sua conta de administrador é", "Uma compra de R$ 42,99 gera 42 pontos", "help@loyalty.example.net", "Perguntas frequentes", "O cliente perdeu o cartão."] {
                assert!(text.contains(expected), "PDF text lacks {expected:?}:\n{text}");
            }
        }
        // --lang overrides the organization's language.
        let out = handoff(&db, dir.path(), &["--org", "saojoao", "--lang", "en-US"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(dir.path().join("saojoao-guide.en-US.pdf").exists());

        let list = checklist(&db, "saojoao", &[]);
        let guide = list["items"].as_array().expect("items").iter().find(|i| i["item"] == "guide-sent").expect("guide-sent").clone();
        assert_eq!((guide["done"].clone(), guide["done_by"].clone()), (serde_json::json!(true), serde_json::json!("loyalty handoff")));
        assert!(guide["note"].as_str().expect("note").contains("saojoao-guide.en-US.pdf"));
    }

    async fn an_unknown_organization_or_language_exits_2_naming_it(db) {
        let dir = tempfile::tempdir().expect("dir");
        let out = handoff(&db, dir.path(), &["--org", "ghost"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("\"ghost\""), "{}", stderr(&out));
        onboard(&db, "NextDoor Market", "nextdoor", "en-US");
        let out = handoff(&db, dir.path(), &["--org", "nextdoor", "--lang", "fr-FR"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("--lang") && stderr(&out).contains("pt-BR"), "{}", stderr(&out));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "nothing written");
        let out = loyalty(&db, &["org", "checklist", "ghost"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("\"ghost\""), "{}", stderr(&out));
    }

    async fn the_checklist_ticks_itself_and_keeps_manual_ticks(db) {
        onboard(&db, "NextDoor Market", "nextdoor", "en-US");
        let backups = tempfile::tempdir().expect("backups");
        let backup_dir = backups.path().to_str().expect("path").to_owned();
        let list = checklist(&db, "nextdoor", &["--backup-dir", &backup_dir]);
        assert_eq!(list["total"], 11);
        assert!(ticked(&list).is_empty(), "{list}");

        // A cashier and a purchase, made through the same services the pages use.
        let org = db.store.organization_by_slug(&OrgSlug::parse("nextdoor").expect("slug")).await.expect("org").expect("exists");
        let clock = Arc::new(SystemClock);
        let dir = db.directory(clock.clone());
        let ctx = Ctx { store: db.store.as_ref(), clock: clock.as_ref(), org: &org, actor: Actor { member_id: None, label: "test-admin".into(), role: "admin".into(), request_id: None }, role: Role::Admin };
        staff::create_staff(&ctx, &dir, Role::Cashier, &StaffInput { username: "carol".into(), name: "Carol".into(), email: "carol@nextdoor.example.com".into() }).await.expect("cashier");
        let c = points::enroll(&ctx, &EnrollInput { phone: Some("202-555-0143".into()), ..EnrollInput::default() }, None).await.expect("enroll");
        loyalty_testkit::till::award(&ctx, c.id, "10.00", None, serde_json::json!({}), "first").await.expect("award");
        // A complete backup set taken after the onboarding.
        let set = backups.path().join("20990101_000000");
        std::fs::create_dir_all(&set).expect("set");
        std::fs::write(set.join("loyalty_db_20990101_000000.sqlite.gz"), b"12345").expect("file");
        let created = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("time");
        std::fs::write(set.join("manifest.json"), serde_json::json!({"created_at": created, "label": null, "backend": "sqlite", "schema_version": 8, "loyalty_version": "0.1.0", "files": [{"name": "loyalty_db_20990101_000000.sqlite.gz", "bytes": 5, "sha256": "-", "kind": "loyalty"}]}).to_string()).expect("manifest");

        let out = loyalty(&db, &["org", "checklist", "nextdoor", "--backup-dir", &backup_dir]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        for line in ["[x] first-cashier", "[x] first-purchase", "[x] backup", "[ ] walkthrough", "[ ] admin-password", "3 of 11 done"] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
        assert!(text.contains("by loyalty"), "{text}");

        let list = checklist(&db, "nextdoor", &["--done", "walkthrough", "--note", "video call, 40 min", "--by", "sam"]);
        let walk = list["items"].as_array().expect("items").iter().find(|i| i["item"] == "walkthrough").expect("item").clone();
        assert_eq!((walk["done"].clone(), walk["done_by"].clone(), walk["note"].clone()), (serde_json::json!(true), serde_json::json!("sam"), serde_json::json!("video call, 40 min")));
        // Persisted: shown again without flags (and without the backup folder).
        assert_eq!(ticked(&checklist(&db, "nextdoor", &[])), ["walkthrough", "first-cashier", "first-purchase", "backup"]);
        let list = checklist(&db, "nextdoor", &["--undo", "walkthrough"]);
        assert_eq!(ticked(&list), ["first-cashier", "first-purchase", "backup"]);

        let out = loyalty(&db, &["org", "checklist", "nextdoor", "--done", "party"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("--done") && err.contains("\"party\"") && err.contains("walkthrough, admin-password"), "{err}");
        let out = loyalty(&db, &["org", "checklist", "nextdoor", "--undo", "party"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("--undo"), "{}", stderr(&out));
    }
}
