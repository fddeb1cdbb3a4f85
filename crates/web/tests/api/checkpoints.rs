//! The organization's signed ledger checkpoints over the API and the admin panel, on
//! both backends: an admin lists and downloads them as the file `loyalty points
//! checkpoint --out` writes (with the public key inside), the file proves the chains it
//! covers, a cashier is refused, and another organization's admin sees only her own.

use super::app::TestApp;
use super::exports::{customer, entry_at, get_raw};
use loyalty_core::domain::chain::Checkpoint;
use loyalty_core::service::integrity::{CheckpointSigner, take_checkpoint, verify_chains};
use loyalty_testkit::{both_backends, fixed_clock_now};
use time::Duration;

/// A stand-in for the installation's key: a fixed public key and signature (the
/// Ed25519 signature of a downloaded file is checked by the command line's tests).
pub struct TestSigner;

impl CheckpointSigner for TestSigner {
    fn public_key(&self) -> String {
        "ab".repeat(32)
    }

    fn sign(&self, _message: &[u8]) -> String {
        "cd".repeat(64)
    }
}

both_backends! {
    async fn an_admin_downloads_her_organizations_checkpoints_and_no_one_else_does(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (cashier, _) = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let (beta_admin, _) = app.person("beta_admin", &["beta-admins"]).await;
        let cashier_token = app.token(&app.a, loyalty_core::domain::Role::Cashier).await;
        let admin_token = app.token(&app.a, loyalty_core::domain::Role::Admin).await;
        let now = fixed_clock_now();
        let (c1, c2) = (customer(&app, &app.a, "400000000001").await, customer(&app, &app.a, "400000000002").await);
        entry_at(&app, &app.a, c1, 10, "opening", now).await;
        entry_at(&app, &app.a, c2, 20, "opening", now).await;
        let store = app.db.store.as_ref();
        let first = take_checkpoint(store, app.a.id, &TestSigner, now).await.unwrap();
        entry_at(&app, &app.a, c1, 5, "later", now + Duration::hours(1)).await;
        let second = take_checkpoint(store, app.a.id, &TestSigner, now + Duration::hours(2)).await.unwrap();
        let b1 = customer(&app, &app.b, "400000000003").await;
        entry_at(&app, &app.b, b1, 7, "opening", now).await;
        let beta_cp = take_checkpoint(store, app.b.id, &TestSigner, now).await.unwrap();

        // The list: newest first, with what each covers and the key that signed it.
        let (s, list) = app.call(&admin, "GET", "/api/v1/orgs/alpha/checkpoints", None).await;
        assert_eq!(s, 200, "{list}");
        let ids: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [second.id.to_string(), first.id.to_string()]);
        assert_eq!(list[0]["entries"], 3);
        assert_eq!(list[1]["customers"], 2);
        assert_eq!(list[0]["public_key"], "ab".repeat(32));
        assert_eq!(list[0]["root"], second.root.to_string());

        // The file: the same bytes `points checkpoint --out` writes, the key inside.
        for who in [&admin, &admin_token] {
            let (s, headers, body) = get_raw(&app, who, &format!("/api/v1/orgs/alpha/checkpoints/{}", first.id)).await;
            assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(headers["content-disposition"], "attachment; filename=\"alpha-checkpoint-2025-01-23.json\"");
            assert_eq!(body, first.to_file().into_bytes());
            let file: Checkpoint = serde_json::from_slice(&body).unwrap();
            assert_eq!(file, first);
            assert!(file.consistent());
            assert_eq!(file.public_key, "ab".repeat(32));
        }
        // What `verify --from-checkpoint` checks after the signature: the file's heads
        // are found again in the chains (and a later entry does not disturb them).
        let report = verify_chains(store, Some(app.a.id), Some((app.a.id, first.heads.as_slice()))).await.unwrap();
        assert!(report.holds(), "{report:?}");
        assert_eq!(report.checkpoint_heads, 2);

        // A cashier is refused, by session or by token.
        for who in [&cashier, &cashier_token] {
            for path in ["/api/v1/orgs/alpha/checkpoints".to_owned(), format!("/api/v1/orgs/alpha/checkpoints/{}", first.id)] {
                let (s, body) = app.call(who, "GET", &path, None).await;
                assert_eq!(s, 403, "{path}: {body}");
                assert_eq!(body["error"]["code"], "auth.forbidden", "{path}: {body}");
            }
        }
        // Beta's admin: refused in alpha, and sees only beta's checkpoint in beta; an
        // alpha checkpoint's id is not found there.
        let (s, body) = app.call(&beta_admin, "GET", "/api/v1/orgs/alpha/checkpoints", None).await;
        assert_eq!(s, 403, "{body}");
        let (s, body) = app.call(&beta_admin, "GET", &format!("/api/v1/orgs/alpha/checkpoints/{}", first.id), None).await;
        assert_eq!(s, 403, "{body}");
        let (s, list) = app.call(&beta_admin, "GET", "/api/v1/orgs/beta/checkpoints", None).await;
        assert_eq!(s, 200, "{list}");
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["id"], beta_cp.id.to_string());
        let (s, body) = app.call(&beta_admin, "GET", &format!("/api/v1/orgs/beta/checkpoints/{}", first.id), None).await;
        assert_eq!(s, 404, "{body}");
        assert_eq!(body["error"]["code"], "checkpoint.not_found");
        let (s, body) = app.call(&admin, "GET", "/api/v1/orgs/alpha/checkpoints/not-a-uuid", None).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(body["error"]["code"], "request.path");

        // The admin panel: the export page lists them with a link to each file, which
        // is the same file; a cashier gets no page and no file.
        let (s, _, html) = get_raw(&app, &admin, "/o/alpha/admin/exports").await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(s, 200, "{html}");
        let link = format!("/o/alpha/admin/exports/checkpoints/{}", first.id);
        assert!(html.contains(&link), "{html}");
        assert!(html.contains(&format!("/o/alpha/admin/exports/checkpoints/{}", second.id)), "{html}");
        assert!(html.contains(&"ab".repeat(32)), "the public key is shown: {html}");
        assert!(!html.contains(&beta_cp.id.to_string()), "{html}");
        let (s, headers, body) = get_raw(&app, &admin, &link).await;
        assert_eq!(s, 200);
        assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(body, first.to_file().into_bytes());
        let (s, _, _) = get_raw(&app, &admin, &format!("/o/alpha/admin/exports/checkpoints/{}", beta_cp.id)).await;
        assert_eq!(s, 404);
        for path in ["/o/alpha/admin/exports".to_owned(), link.clone()] {
            let (s, _, body) = get_raw(&app, &cashier, &path).await;
            assert_eq!(s, 403, "{path}: {}", String::from_utf8_lossy(&body));
        }
        let (s, _, _) = get_raw(&app, &beta_admin, &link).await;
        assert_eq!(s, 403);
    }

    async fn the_export_page_says_when_there_is_no_checkpoint_yet(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        let (s, list) = app.call(&admin, "GET", "/api/v1/orgs/alpha/checkpoints", None).await;
        assert_eq!(s, 200, "{list}");
        assert_eq!(list, serde_json::json!([]));
        let (s, _, html) = get_raw(&app, &admin, "/o/alpha/admin/exports").await;
        assert_eq!(s, 200);
        assert!(String::from_utf8(html).unwrap().contains("No checkpoint yet"));
    }
}
