//! Each role sees only its pages: every person against every page of two
//! organizations, with the expected status in each cell (303 = sent to sign in).
//! Operators read every shop's admin panel read-only, for support (see `console.rs`).

use super::app::{CSRF, TestApp, Who};
use loyalty_core::domain::ledger::{Actor, NewCustomer};
use loyalty_testkit::both_backends;

const WHO: [&str; 6] = [
    "anonymous",
    "customer",
    "cashier",
    "admin",
    "operator",
    "beta-admin",
];

both_backends! {
    async fn every_role_sees_exactly_its_pages_in_both_organizations(db) {
        let app = TestApp::new(db).await;
        let anonymous = Who::anonymous();
        let customer = app.person("alpha_customer", &["alpha-customers"]).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let operator = app.person("ops", &["loyalty-operators"]).await;
        let beta_admin = app.person("beta_admin", &["beta-admins", "authentik Admins"]).await;
        app.db.store.enroll_customer(app.a.id, &NewCustomer {
            phone: None, email: Some("alpha_customer@example.com".into()), name: Some("Cus".into()),
            card_number: "400000000006".into(), identity_subject: Some(customer.uid.clone()), created_by: None,
        }, &Actor::system(), loyalty_testkit::fixed_clock_now()).await.unwrap();
        let people = [anonymous, customer, cashier, admin, operator, beta_admin];

        let rows: &[(&str, [u16; 6])] = &[
            ("/login", [200, 303, 303, 303, 303, 303]),
            ("/operator", [303, 403, 403, 403, 200, 403]),
            ("/operator/orgs/alpha", [303, 403, 403, 403, 200, 403]),
            ("/o/alpha/admin", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/users", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/customers", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/rewards", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/settings", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/audit", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/exports", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/exports/download?kind=ledger&period=this-month&format=csv-local", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/import", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/admin/import/template.csv", [303, 403, 403, 200, 200, 403]),
            ("/o/alpha/claim/0123abcd", [404, 404, 404, 404, 404, 404]),
            ("/o/alpha/till", [303, 403, 200, 200, 403, 403]),
            ("/o/alpha/me", [303, 200, 403, 403, 403, 403]),
            ("/o/alpha/join", [200, 200, 200, 200, 200, 200]),
            ("/o/beta/admin", [303, 403, 403, 403, 200, 200]),
            ("/o/beta/till", [303, 403, 403, 403, 403, 200]),
            ("/o/beta/me", [303, 403, 403, 403, 403, 403]),
            ("/o/nowhere/admin", [303, 404, 404, 404, 404, 404]),
        ];
        let mut wrong = Vec::new();
        for (path, expected) in rows {
            for (i, who) in people.iter().enumerate() {
                let got = app.get(who, path).await;
                if got.status.as_u16() != expected[i] {
                    wrong.push(format!("{} GET {path}: expected {}, got {}", WHO[i], expected[i], got.status));
                }
                if got.status == 403 || got.status == 404 {
                    assert!(got.body.contains("<h1>") && !got.body.contains("\"error\""), "{path} answers a page, not JSON");
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));

        // Anonymous people are sent to sign in and brought back afterwards.
        let r = app.get(&people[0], "/o/alpha/till").await;
        assert_eq!(r.location(), "/login?next=/o/alpha/till");
        // Unknown pages outside the API are pages; the API keeps its JSON.
        let r = app
            .send(&people[0], "GET", "/no/such/page", None, &[("accept", "text/html,*/*")])
            .await;
        assert_eq!(r.status, 404);
        assert!(r.body.contains("<h1>"));
        let r = app.get(&people[0], "/api/v1/nothing").await;
        assert!(r.body.contains("route.not_found"));
    }

    async fn operator_actions_show_in_their_organizations_audit_pages_only(db) {
        let app = TestApp::new(db).await;
        let alpha_admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let beta_admin = app.person("beta_admin", &["beta-admins"]).await;
        let operator = app.person("olga", &["loyalty-operators"]).await;
        for action in ["suspend", "activate"] {
            let r = app.post(&operator, &format!("/operator/orgs/alpha/{action}"), &[("csrf", CSRF)]).await;
            assert_eq!(r.status, 303, "{action}: {}", r.body);
        }
        let restore = loyalty_core::domain::ledger::AuditRecord::new(
            None, &Actor::operator("olga"), "backup.restore", ("backup", "20250123_140530".into()),
            None, Some(serde_json::json!({"set": "20250123_140530"})), loyalty_testkit::fixed_clock_now(),
        );
        app.db.store.append_audit(&restore).await.unwrap();

        let alpha = app.get(&alpha_admin, "/o/alpha/admin/audit").await;
        assert_eq!(alpha.status, 200);
        assert!(alpha.body.contains("org.suspend") && alpha.body.contains("org.reactivate") && alpha.body.contains("olga"), "{}", alpha.body);
        assert!(!alpha.body.contains("backup.restore"), "installation records are the operator's");
        let beta = app.get(&beta_admin, "/o/beta/admin/audit").await;
        assert_eq!(beta.status, 200);
        for hidden in ["org.suspend", "org.reactivate", "olga", "backup.restore"] {
            assert!(!beta.body.contains(hidden), "beta's admin sees {hidden}: {}", beta.body);
        }
        assert_eq!(app.get(&beta_admin, "/o/alpha/admin/audit").await.status, 403);

        let view = app.get(&operator, "/operator/orgs/alpha").await;
        assert_eq!(view.status, 200);
        for shown in ["org.suspend", "org.reactivate", "olga", "backup.restore"] {
            assert!(view.body.contains(shown), "operator view lacks {shown}: {}", view.body);
        }
        let view = app.get(&operator, "/operator/orgs/beta").await;
        assert!(view.body.contains("backup.restore") && !view.body.contains("org.suspend"), "{}", view.body);
        assert_eq!(app.get(&operator, "/operator/orgs/nowhere").await.status, 404);
    }

    async fn a_suspended_organization_answers_a_page_that_says_so(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        loyalty_core::service::orgs::suspend(app.db.store.as_ref(), "alpha", &loyalty_core::domain::ledger::Actor::operator("ops"), loyalty_testkit::fixed_clock_now()).await.unwrap();
        let r = app.get(&admin, "/o/alpha/admin").await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("paused"), "{}", r.body);
    }
}
