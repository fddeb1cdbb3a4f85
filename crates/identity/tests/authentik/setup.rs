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
            // The sign-out flow with its User Logout stage.
            "GET /flows/instances/",
            "POST /flows/instances/",
            "GET /flows/bindings/",
            "GET /stages/user_logout/",
            "POST /stages/user_logout/",
            "POST /flows/bindings/",
            // The recovery flow: password prompt -> user write -> user login.
            "GET /flows/instances/",
            "POST /flows/instances/",
            "GET /flows/bindings/",
            "GET /stages/prompt/stages/",
            "GET /stages/prompt/prompts/",
            "POST /stages/prompt/prompts/",
            "GET /stages/prompt/prompts/",
            "POST /stages/prompt/prompts/",
            "POST /stages/prompt/stages/",
            "POST /flows/bindings/",
            "GET /stages/user_write/",
            "POST /stages/user_write/",
            "POST /flows/bindings/",
            "GET /stages/user_login/",
            "POST /stages/user_login/",
            "POST /flows/bindings/",
            "GET /core/brands/current/",
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
    let mut plan = nextdoor();
    plan.invalidation_flow = "default-provider-invalidation-flow".into();
    let err = ak
        .directory()
        .setup_oidc_application(&plan)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("authentik: finding flow default-provider-invalidation-flow: no such flow"),
        "{err}"
    );
    assert!(err.contains("loyalty-invalidation-flow"), "{err}");
    assert!(ak.providers().is_empty());
    assert!(ak.flow_stages("loyalty-recovery-flow").is_empty());
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

/// Authorization at the stand-in with the browser's Authentik session cookie: where it
/// sends the browser (loyalty's callback at once, or Authentik's sign-in to type a
/// password).
async fn authorize(ak: &StandIn, cookie: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = url::Url::parse(&format!("{}/application/o/authorize/", ak.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "loyalty")
        .append_pair("redirect_uri", "https://loyalty.example.com/auth/callback")
        .append_pair("response_type", "code")
        .append_pair("state", "s1");
    let answer = http
        .get(url)
        .header("cookie", format!("authentik_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// loyalty's sign-out: the browser goes to the provider's end-session endpoint.
async fn end_session(ak: &StandIn, cookie: &str) -> String {
    reqwest::Client::new()
        .get(format!("{}/application/o/loyalty/end-session/", ak.url))
        .header("cookie", format!("authentik_session={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_out_ends_the_authentik_session_once_setup_has_run_again_on_an_old_installation() {
    let ak = StandIn::start().await;
    // A fresh Authentik: its brand has no recovery flow (setup sets loyalty's).
    ak.set_recovery(crate::standin::Recovery::NoFlow);
    let dir = ak.directory();
    // The installation as the old setup left it: Authentik's provider invalidation flow,
    // which says "You've logged out" and keeps the session.
    let mut old = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();
    old.invalidation_flow = "default-provider-invalidation-flow".into();
    let report = dir.setup_oidc_application(&old).await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("no User Logout stage")),
        "{:?}",
        report.warnings
    );
    let cashier = ak.sign_in("cashier_one");
    assert!(
        authorize(&ak, &cashier)
            .await
            .starts_with("https://loyalty.example.com/auth/callback?code=")
    );
    assert_eq!(
        end_session(&ak, &cashier).await,
        "You've logged out of Loyalty."
    );
    // The next person at the till is signed in as the previous one, without a password.
    assert_eq!(ak.session(&cashier).as_deref(), Some("cashier_one"));
    assert!(
        authorize(&ak, &cashier)
            .await
            .starts_with("https://loyalty.example.com/auth/callback?code=")
    );

    // Setup run again repairs the installation and says so.
    let plan = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();
    let report = dir.setup_oidc_application(&plan).await.unwrap();
    assert_eq!(
        report.provider,
        SetupOutcome::Updated(vec![
            "invalidation flow -> loyalty-invalidation-flow".into()
        ])
    );
    assert_eq!(report.invalidation_flow.slug, "loyalty-invalidation-flow");
    assert_eq!(report.invalidation_flow.outcome, SetupOutcome::Created);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        ak.provider_invalidation_flow("loyalty").as_deref(),
        Some("loyalty-invalidation-flow")
    );
    assert_eq!(
        ak.flow_stages("loyalty-invalidation-flow"),
        ["authentik_stages_user_logout.userlogoutstage"]
    );
    assert_eq!(end_session(&ak, &cashier).await, "You are signed out.");
    assert_eq!(ak.session(&cashier), None);
    let next = authorize(&ak, &cashier).await;
    assert!(
        next.starts_with(&format!("{}/if/flow/default-authentication-flow/", ak.url)),
        "the next sign-in asks for a password: {next}"
    );

    // A third run finds everything as needed.
    let again = dir.setup_oidc_application(&plan).await.unwrap();
    assert_eq!(again.provider, SetupOutcome::Existing);
    assert_eq!(again.invalidation_flow.outcome, SetupOutcome::Existing);
}

#[tokio::test]
async fn an_invalidation_flow_given_for_an_existing_provider_is_applied_and_reported() {
    let ak = StandIn::start().await;
    // A fresh Authentik: its brand has no recovery flow (setup sets loyalty's).
    ak.set_recovery(crate::standin::Recovery::NoFlow);
    let dir = ak.directory();
    let mut plan = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();
    dir.setup_oidc_application(&plan).await.unwrap();
    // Authentik's own brand sign-out flow, which holds a User Logout stage.
    plan.invalidation_flow = "default-invalidation-flow".into();
    let report = dir.setup_oidc_application(&plan).await.unwrap();
    assert_eq!(
        report.provider,
        SetupOutcome::Updated(vec![
            "invalidation flow -> default-invalidation-flow".into()
        ])
    );
    assert_eq!(report.invalidation_flow.outcome, SetupOutcome::Existing);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        ak.provider_invalidation_flow("loyalty").as_deref(),
        Some("default-invalidation-flow")
    );
    // Authentik's flow is used as it is: nothing is bound to it.
    assert_eq!(
        ak.flow_stages("default-invalidation-flow"),
        ["authentik_stages_user_logout.userlogoutstage"]
    );
}

#[tokio::test]
async fn the_recovery_flow_is_made_and_set_on_a_brand_without_one_and_another_is_kept_unless_replaced()
 {
    use loyalty_identity::authentik::BrandRecovery;
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let plan = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();

    // A brand with another recovery flow keeps it, and setup says what to do.
    let report = dir.setup_oidc_application(&plan).await.unwrap();
    assert_eq!(report.recovery_flow.slug, "loyalty-recovery-flow");
    assert_eq!(report.recovery_flow.outcome, SetupOutcome::Created);
    assert_eq!(
        ak.flow_stages("loyalty-recovery-flow"),
        [
            "authentik_stages_prompt.promptstage",
            "authentik_stages_user_write.userwritestage",
            "authentik_stages_user_login.userloginstage",
        ]
    );
    assert_eq!(
        report.brand_recovery,
        BrandRecovery::Kept {
            domain: "authentik-default".into(),
            flow: "default-recovery-flow".into()
        }
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("--replace-brand-recovery")),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        ak.brand_recovery_flow().as_deref(),
        Some("default-recovery-flow")
    );

    // Asked to, setup replaces it.
    let mut replace = plan.clone();
    replace.replace_brand_recovery = true;
    let report = dir.setup_oidc_application(&replace).await.unwrap();
    assert_eq!(report.recovery_flow.outcome, SetupOutcome::Existing);
    assert_eq!(
        report.brand_recovery,
        BrandRecovery::Replaced {
            domain: "authentik-default".into(),
            previous: "default-recovery-flow".into()
        }
    );
    assert_eq!(
        ak.brand_recovery_flow().as_deref(),
        Some("loyalty-recovery-flow")
    );
    let again = dir.setup_oidc_application(&plan).await.unwrap();
    assert_eq!(
        again.brand_recovery,
        BrandRecovery::Existing {
            domain: "authentik-default".into()
        }
    );

    // A fresh Authentik's brand has none: setup sets loyalty's, and links use it.
    let fresh = StandIn::start().await;
    fresh.set_recovery(crate::standin::Recovery::NoFlow);
    let report = fresh
        .directory()
        .setup_oidc_application(&plan)
        .await
        .unwrap();
    assert_eq!(
        report.brand_recovery,
        BrandRecovery::Set {
            domain: "authentik-default".into()
        }
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        fresh.brand_recovery_flow().as_deref(),
        Some("loyalty-recovery-flow")
    );
}

#[tokio::test]
async fn a_rerun_binds_a_stage_missing_from_loyaltys_flows() {
    let ak = StandIn::start().await;
    let dir = ak.directory();
    let plan = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();
    dir.setup_oidc_application(&plan).await.unwrap();
    ak.unbind_stages(
        "loyalty-recovery-flow",
        "authentik_stages_user_write.userwritestage",
    );
    ak.unbind_stages(
        "loyalty-invalidation-flow",
        "authentik_stages_user_logout.userlogoutstage",
    );
    let report = dir.setup_oidc_application(&plan).await.unwrap();
    assert_eq!(
        report.recovery_flow.outcome,
        SetupOutcome::Updated(vec!["user write stage bound".into()])
    );
    assert_eq!(
        report.invalidation_flow.outcome,
        SetupOutcome::Updated(vec!["User Logout stage bound".into()])
    );
    assert_eq!(ak.flow_stages("loyalty-recovery-flow").len(), 3);
    assert_eq!(
        ak.flow_stages("loyalty-invalidation-flow"),
        ["authentik_stages_user_logout.userlogoutstage"]
    );
}

#[tokio::test]
async fn another_recovery_flow_is_used_as_it_is_with_a_warning_for_what_it_lacks() {
    let ak = StandIn::start().await;
    let mut plan = OidcAppPlan::new("https://loyalty.example.com", None, None).unwrap();
    plan.recovery_flow = "default-recovery-flow".into();
    let report = ak.directory().setup_oidc_application(&plan).await.unwrap();
    assert_eq!(report.recovery_flow.outcome, SetupOutcome::Existing);
    assert_eq!(
        report.brand_recovery,
        loyalty_identity::authentik::BrandRecovery::Existing {
            domain: "authentik-default".into()
        }
    );
    assert_eq!(
        report.warnings,
        [
            "the recovery flow default-recovery-flow has no password prompt, no user write, no user login stage: a one-time link through it may not let the person set a password; run setup without --recovery-flow to use loyalty-recovery-flow"
        ]
    );
    assert!(
        ak.flow_stages("default-recovery-flow").is_empty(),
        "nothing bound to it"
    );

    plan.recovery_flow = "no-such-flow".into();
    let err = ak
        .directory()
        .setup_oidc_application(&plan)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("authentik: finding flow no-such-flow: no such flow"),
        "{err}"
    );
}
