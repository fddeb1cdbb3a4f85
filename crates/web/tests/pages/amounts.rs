//! Amounts typed at the till of a Brazilian shop (pt-BR, BRL): "25.50" is R$ 25,50 and
//! 25 points, never 2.550; an ambiguous "1.234" is shown back before confirming; a
//! malformed amount is refused with a way to write it.

use super::app::{CSRF, TestApp, Who, hidden};
use loyalty_core::clock::Clock;
use loyalty_core::domain::OrgStatus;
use loyalty_core::service::onboard::OnboardInput;
use loyalty_testkit::{both_backends, fixed_clock};

/// A pt-BR shop in reais (`gamma`), a cashier there, and the address of an enrolled customer.
pub async fn brazilian_till(app: &TestApp) -> (Who, String) {
    let input = OnboardInput {
        name: Some("Padaria Gama".into()),
        slug: Some("gamma".into()),
        admin_email: Some("admin@gamma.example.com".into()),
        admin_name: Some("Bia".into()),
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
            fixed_clock().now(),
        )
        .await
        .unwrap();
    let cashier = app.person("gamma_cashier", &["gamma-cashiers"]).await;
    let r = app
        .post(
            &cashier,
            "/o/gamma/till/enroll",
            &[
                ("csrf", CSRF),
                ("email", "ana@example.com"),
                ("name", "Ana"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let customer_url = r.location().split('?').next().unwrap().to_owned();
    (cashier, customer_url)
}

both_backends! {
    async fn a_brazilian_till_reads_25_point_50_as_reais_and_cents(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url) = brazilian_till(&app).await;
        let preview = app.get(&cashier, &format!("{customer_url}/award?amount=25.50")).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        assert!(preview.body.contains("R$ 25,50"), "{}", preview.body);
        assert!(preview.body.contains("+25<"), "25 points, not 2.550: {}", preview.body);
        assert!(!preview.body.contains("amount-ambiguous"), "25.50 is not ambiguous");
        let amount = hidden(&preview.body, "amount");
        assert_eq!(amount, "25.50");
        let idem = hidden(&preview.body, "idem");
        let r = app.post(&cashier, &format!("{customer_url}/award"), &[("csrf", CSRF), ("idem", &idem), ("amount", &amount)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location().contains("done=awarded&pts=25&"), "{}", r.location());
        let page = app.get(&cashier, &customer_url).await;
        assert!(page.body.contains("id=\"balance\">25 "), "{}", page.body);
        // The locale's own format reads the same.
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=R%24+25%2C50")).await;
        assert!(p.body.contains("+25<"), "{}", p.body);
        // The field asks phones for a decimal keypad and carries the reading rules.
        assert!(page.body.contains("inputmode=\"decimal\""));
        assert!(page.body.contains("data-decimal=\",\" data-minor=\"2\" data-currency=\"BRL\""), "{}", page.body);
    }

    async fn an_ambiguous_amount_follows_the_locale_and_is_shown_back(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url) = brazilian_till(&app).await;
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=1.234")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("id=\"amount-ambiguous\""), "{}", p.body);
        assert!(p.body.contains("R$ 1.234,00"), "{}", p.body);
        assert_eq!(hidden(&p.body, "amount"), "1234.00");
        // With both marks the last one is the decimal mark: nothing to ask.
        let p = app.get(&cashier, &format!("{customer_url}/award?amount=1.234%2C56")).await;
        assert!(!p.body.contains("amount-ambiguous"), "both marks are not ambiguous");
        assert_eq!(hidden(&p.body, "amount"), "1234.56");
    }

    async fn a_malformed_amount_is_refused_with_a_way_to_write_it(db) {
        let app = TestApp::new(db).await;
        let (cashier, customer_url) = brazilian_till(&app).await;
        for typed in ["12.34.56", "25%2C", "abc", "25%2C505"] {
            let p = app.get(&cashier, &format!("{customer_url}/award?amount={typed}")).await;
            assert_eq!(p.status, 422, "{typed}: {}", p.body);
            assert!(p.body.contains("25,50 or 1.234,56"), "{typed}: {}", p.body);
        }
    }
}
