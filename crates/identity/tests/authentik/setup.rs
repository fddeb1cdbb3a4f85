//! `setup_oidc_application` against the stand-in: the provider and application are
//! created as the runbook's step 3.2 describes, found on a rerun, and corrected when
//! they drift; every call and answer is checked against both Authentik schemas.

use crate::schema::{check_all, shared_file};
use crate::standin::StandIn;
use loyalty_identity::authentik::{OidcAppPlan, SetupOutcome};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

fn nextdoor() -> OidcAppPlan {
    OidcAppPlan::new("https://loyalty.nextdoor.com", Some("nextdoor"), None).unwrap()
}

#[test]
fn recorded_provider_and_application_answers_pass_both_schemas() {
    for (name, path) in [
        ("08_provider.json", "/providers/oauth2/"),
        ("09_app.json", "/core/applications/"),
    ] {
        let text = std::fs::read_to_string(shared_file(&format!("examples/{name}"))).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let errors = check_all(|schema| {
            let op = schema.operation("POST", path)?;
            Ok(schema.check_response(&op, 201, Some(&v["body"])))
        });
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[tokio::test]
async fn a_fresh_setup_creates_the_provider_and_application_and_a_rerun_only_finds_them() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let report = dir.setup_oidc_application(&nextdoor()).await.unwrap();
    assert_eq!(report.provider, SetupOutcome::Created);
    assert_eq!(report.application, SetupOutcome::Created);
    assert_eq!(report.client_id, "nextdoor-loyalty");
    assert_eq!(report.client_secret.expose_secret().len(), 128);
    assert_eq!(
        report.redirect_uri,
        "https://loyalty.nextdoor.com/auth/callback"
    );
    assert_eq!(
        report.issuer,
        format!("{}/application/o/nextdoor-loyalty/", ak.url)
    );
    assert_eq!(report.signing_key, "authentik Self-signed Certificate");
    assert_eq!(
        ak.operations_since(0),
        [
            "GET /flows/instances/",
            "GET /flows/instances/",
            "GET /propertymappings/provider/scope/",
            "GET /propertymappings/provider/scope/",
            "GET /propertymappings/provider/scope/",
            "GET /crypto/certificatekeypairs/",
            "GET /providers/oauth2/",
            "POST /providers/oauth2/",
            "GET /core/applications/{slug}/",
            "POST /core/applications/",
        ]
    );

    let providers = ak.providers();
    assert_eq!(providers.len(), 1);
    let p = &providers[0];
    assert_eq!(p["name"], "nextdoor-loyalty");
    assert_eq!(p["client_type"], "confidential");
    assert_eq!(
        p["redirect_uris"],
        json!([{"matching_mode": "strict", "url": "https://loyalty.nextdoor.com/auth/callback"}])
    );
    assert_eq!(
        p["property_mappings"],
        json!(["openid", "email", "profile"].map(|s| ak.scope_mapping_pk(s)))
    );
    assert_eq!(
        p["signing_key"],
        json!(ak.keypair_pk("authentik Self-signed Certificate"))
    );
    assert_eq!(p["sub_mode"], "hashed_user_id");
    assert_eq!(p["assigned_application_slug"], "nextdoor-loyalty");
    let apps = ak.applications();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["provider"], p["pk"]);
    assert_eq!(apps[0]["meta_launch_url"], "https://loyalty.nextdoor.com/");

    let from = ak.call_count();
    let again = dir.setup_oidc_application(&nextdoor()).await.unwrap();
    assert_eq!(again.provider, SetupOutcome::Existing);
    assert_eq!(again.application, SetupOutcome::Existing);
    assert_eq!(
        again.client_secret.expose_secret(),
        report.client_secret.expose_secret()
    );
    assert!(
        ak.operations_since(from)
            .iter()
            .all(|op| op.starts_with("GET ")),
        "{:?}",
        ak.operations_since(from)
    );
    assert_eq!(ak.providers().len(), 1);
    assert_eq!(ak.applications().len(), 1);
}

#[tokio::test]
async fn the_shared_setup_uses_client_id_and_application_loyalty() {
    let ak = StandIn::start().await;
    let plan = OidcAppPlan::new("http://127.0.0.1:8080/", None, None).unwrap();
    let report = ak.directory().setup_oidc_application(&plan).await.unwrap();
    assert_eq!(report.client_id, "loyalty");
    assert_eq!(report.issuer, format!("{}/application/o/loyalty/", ak.url));
    assert_eq!(report.redirect_uri, "http://127.0.0.1:8080/auth/callback");
}

#[tokio::test]
async fn a_provider_whose_redirect_uri_differs_is_patched_to_loyaltys() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let old = OidcAppPlan::new("http://127.0.0.1:8080", Some("nextdoor"), None).unwrap();
    dir.setup_oidc_application(&old).await.unwrap();
    ak.edit_provider("nextdoor-loyalty", |p| {
        p["redirect_uris"]
            .as_array_mut()
            .unwrap()
            .push(json!({"matching_mode": "regex", "url": "https://.*"}));
    });
    let from = ak.call_count();
    let report = dir.setup_oidc_application(&nextdoor()).await.unwrap();
    assert_eq!(
        report.provider,
        SetupOutcome::Updated(vec![
            "redirect URIs [http://127.0.0.1:8080/auth/callback (strict), https://.* (regex)] -> [https://loyalty.nextdoor.com/auth/callback (strict)]".into()
        ])
    );
    assert!(
        ak.operations_since(from)
            .contains(&"PATCH /providers/oauth2/{id}/".to_owned())
    );
    assert_eq!(
        ak.providers()[0]["redirect_uris"],
        json!([{"matching_mode": "strict", "url": "https://loyalty.nextdoor.com/auth/callback"}])
    );
    assert_eq!(report.application, SetupOutcome::Existing);
}

#[tokio::test]
async fn a_provider_without_signing_key_or_scope_mappings_gets_them() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    dir.setup_oidc_application(&nextdoor()).await.unwrap();
    let offline = ak.scope_mapping_pk("offline_access");
    ak.edit_provider("nextdoor-loyalty", |p| {
        p["signing_key"] = Value::Null;
        p["property_mappings"] = json!([offline]);
    });
    let report = dir.setup_oidc_application(&nextdoor()).await.unwrap();
    assert_eq!(
        report.provider,
        SetupOutcome::Updated(vec![
            "signing key none -> authentik Self-signed Certificate".into(),
            "scope mappings openid, email, profile added".into(),
        ])
    );
    let p = &ak.providers()[0];
    assert_eq!(
        p["signing_key"],
        json!(ak.keypair_pk("authentik Self-signed Certificate"))
    );
    // The mapping an admin added stays.
    assert_eq!(p["property_mappings"].as_array().unwrap().len(), 4);
    assert_eq!(p["property_mappings"][0], json!(offline));
}

#[tokio::test]
async fn authentiks_own_scope_mappings_are_preferred_over_custom_ones() {
    let ak = StandIn::start().await;
    let custom = ak.add_scope_mapping("profile", "my profile mapping");
    ak.directory()
        .setup_oidc_application(&nextdoor())
        .await
        .unwrap();
    let mappings = ak.providers()[0]["property_mappings"].clone();
    assert!(!mappings.as_array().unwrap().contains(&json!(custom)));
    assert!(
        mappings
            .as_array()
            .unwrap()
            .contains(&json!(ak.scope_mapping_pk("profile")))
    );
}

#[tokio::test]
async fn the_signing_key_is_the_self_signed_one_else_the_first_rsa_key_with_a_private_key() {
    type Pairs = &'static [(&'static str, bool, Option<&'static str>)];
    let cases: [(Pairs, &str); 3] = [
        (
            &[
                ("imported CA", false, Some("rsa")),
                ("ec key", true, Some("ec")),
                ("rsa key", true, Some("rsa")),
                ("authentik Self-signed Certificate", true, Some("rsa")),
            ],
            "authentik Self-signed Certificate",
        ),
        (
            &[
                ("imported CA", false, Some("rsa")),
                ("ec key", true, Some("ec")),
                ("rsa key", true, Some("rsa")),
            ],
            "rsa key",
        ),
        (&[("ec key", true, Some("ec"))], "ec key"),
    ];
    for (pairs, expected) in cases {
        let ak = StandIn::start().await;
        ak.set_keypairs(pairs);
        let report = ak
            .directory()
            .setup_oidc_application(&nextdoor())
            .await
            .unwrap();
        assert_eq!(report.signing_key, expected, "{pairs:?}");
        assert_eq!(
            ak.providers()[0]["signing_key"],
            json!(ak.keypair_pk(expected))
        );
    }
}

#[tokio::test]
async fn without_a_key_pair_nothing_is_created_and_the_fix_is_named() {
    let ak = StandIn::start().await;
    ak.set_keypairs(&[("imported CA", false, Some("rsa"))]);
    let err = ak
        .directory()
        .setup_oidc_application(&nextdoor())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "authentik: finding a signing key: Authentik has no certificate with a private key; create one under System > Certificates"
    );
    assert!(ak.providers().is_empty());
}

#[tokio::test]
async fn a_missing_invalidation_flow_is_named_by_its_slug_before_anything_is_created() {
    let ak = StandIn::start().await;
    ak.remove_flow("default-provider-invalidation-flow");
    let err = ak
        .directory()
        .setup_oidc_application(&nextdoor())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("authentik: finding flow default-provider-invalidation-flow: no such flow"),
        "{err}"
    );
    assert!(err.contains("2024.10"), "{err}");
    assert!(ak.providers().is_empty());
}

#[tokio::test]
async fn an_application_of_another_provider_is_not_taken_over() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let shared = OidcAppPlan::new(
        "https://loyalty.example.com",
        None,
        Some("nextdoor-loyalty"),
    )
    .unwrap();
    dir.setup_oidc_application(&shared).await.unwrap();
    let err = dir
        .setup_oidc_application(&nextdoor())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("application nextdoor-loyalty uses another provider"),
        "{err}"
    );
    assert!(err.contains("--app-slug"), "{err}");
    let apps = ak.applications();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["provider_obj"]["name"], "loyalty");
}

#[tokio::test]
async fn an_application_without_a_provider_gets_loyaltys() {
    let ak = StandIn::start().await;
    ak.add_application_without_provider("loyalty");
    let plan = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();
    let report = ak.directory().setup_oidc_application(&plan).await.unwrap();
    assert_eq!(
        report.application,
        SetupOutcome::Updated(vec!["provider none -> loyalty".into()])
    );
    assert_eq!(ak.applications()[0]["provider"], json!(report.provider_pk));
    // Authentik answers `provider_obj: null` for an application without a provider; the
    // 2026.2 schema allows that, the 2025.12.4 schema does not (fixed upstream).
    let violations = ak.take_violations();
    assert!(!violations.is_empty());
    for v in violations {
        assert!(
            v.contains("body.provider_obj: null, but not nullable (schema 2025.12.4 only)"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn the_registered_redirect_uris_are_read_back_from_the_provider() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    assert_eq!(
        dir.provider_redirect_uris("nextdoor-loyalty")
            .await
            .unwrap(),
        None
    );
    dir.setup_oidc_application(&nextdoor()).await.unwrap();
    let from = ak.call_count();
    let uris = dir
        .provider_redirect_uris("nextdoor-loyalty")
        .await
        .unwrap()
        .expect("the provider exists");
    assert_eq!(
        uris,
        [loyalty_identity::authentik::RegisteredRedirect {
            matching_mode: "strict".into(),
            url: "https://loyalty.nextdoor.com/auth/callback".into(),
        }]
    );
    assert_eq!(ak.operations_since(from), ["GET /providers/oauth2/"]);
}
