//! Sign-in with the authorization code flow and PKCE against the real provider.

use crate::browser::{raw_tokens, sign_in};
use crate::provider::{ClaimsIn, Provider, SUBJECT};
use crate::tokens::peek;
use loyalty_identity::oidc::{Identity, OidcError, OidcOptions, TokenRejection, pkce_challenge};
use std::time::Duration;

fn assert_alice(identity: &Identity) {
    assert_eq!(identity.subject, SUBJECT);
    assert_eq!(identity.email.as_deref(), Some("alice@example.test"));
    assert_eq!(identity.email_verified, Some(false));
    assert_eq!(identity.name.as_deref(), Some("Alice Example"));
    assert_eq!(identity.preferred_username.as_deref(), Some("alice"));
    assert_eq!(
        identity.groups,
        ["corner-shop-cashiers", "nextdoor-admins", "pending-users"]
    );
}

#[tokio::test]
async fn a_person_signs_in_with_the_code_flow_and_pkce_and_gets_subject_email_and_groups() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider.client().await;
    let start = client.begin_login();
    let params: Vec<(String, String)> = start
        .authorize_url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("response_type"), Some("code"));
    assert_eq!(param("code_challenge_method"), Some("S256"));
    assert_eq!(
        param("code_challenge"),
        Some(pkce_challenge(&start.pkce_verifier).as_str())
    );
    assert_eq!(param("state"), Some(start.state.as_str()));
    assert_eq!(param("nonce"), Some(start.nonce.as_str()));
    assert!(param("scope").unwrap().starts_with("openid "));

    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    assert_eq!(callback.state, start.state);
    let identity = client
        .finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &start.nonce,
            &start.pkce_verifier,
        )
        .await
        .unwrap();
    assert_alice(&identity);
    assert!(identity.expires_at > time::OffsetDateTime::now_utc());
}

#[tokio::test]
async fn groups_and_profile_come_from_userinfo_when_the_id_token_carries_none() {
    let Some(provider) = Provider::start(ClaimsIn::Userinfo).await else {
        return;
    };
    let client = provider.client().await;
    let (id_token, _) = raw_tokens(&provider, &client).await;
    let claims = peek(&id_token);
    assert!(claims.get("groups").is_none(), "{claims}");
    assert!(claims.get("email").is_none(), "{claims}");

    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let identity = client
        .finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &start.nonce,
            &start.pkce_verifier,
        )
        .await
        .unwrap();
    assert_alice(&identity);
}

#[tokio::test]
async fn a_callback_with_another_state_is_refused_before_the_code_is_spent() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider.client().await;
    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let other = client.begin_login();
    let err = client
        .finish_login(
            &callback.code,
            &other.state,
            &callback.state,
            &start.nonce,
            &start.pkce_verifier,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::StateMismatch), "{err}");
    assert_eq!(err.code(), "auth.state_mismatch");
    // The code was not sent anywhere, so the right callback still works.
    client
        .finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &start.nonce,
            &start.pkce_verifier,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider.client().await;
    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let finish = || {
        client.finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &start.nonce,
            &start.pkce_verifier,
        )
    };
    finish().await.unwrap();
    let err = finish().await.unwrap_err();
    assert!(
        matches!(&err, OidcError::CodeRejected(d) if d.starts_with("invalid_grant")),
        "{err}"
    );
    assert_eq!(err.code(), "auth.code_rejected");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_makes_the_provider_refuse_the_code() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider.client().await;
    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let other = client.begin_login();
    let err = client
        .finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &start.nonce,
            &other.pkce_verifier,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::CodeRejected(d) if d.contains("invalid_grant")),
        "{err}"
    );
}

#[tokio::test]
async fn an_id_token_of_another_sign_in_is_refused_by_its_nonce() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider.client().await;
    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let other = client.begin_login();
    let err = client
        .finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &other.nonce,
            &start.pkce_verifier,
        )
        .await
        .unwrap_err();
    assert_eq!(err.rejection(), Some(&TokenRejection::Nonce), "{err}");
    assert_eq!(err.code(), "auth.invalid_token");
}

#[tokio::test]
async fn after_the_provider_rotates_its_key_new_tokens_are_accepted_after_one_jwks_fetch() {
    let Some(mut provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider
        .client_with(OidcOptions {
            jwks_refresh_interval: Duration::from_millis(200),
            ..provider.options()
        })
        .await;
    assert_eq!(client.cached_keys().await, 1);
    let old_kid = provider.kid.clone();
    let new_kid = provider.rotate().await;
    assert_ne!(old_kid, new_kid);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fetches = provider.jwks_fetches().await;

    let start = client.begin_login();
    let callback = sign_in(&start.authorize_url, SUBJECT).await;
    let identity = client
        .finish_login(
            &callback.code,
            &start.state,
            &callback.state,
            &start.nonce,
            &start.pkce_verifier,
        )
        .await
        .unwrap();
    assert_alice(&identity);
    assert_eq!(provider.jwks_fetches().await, fetches + 1);
    assert_eq!(client.cached_keys().await, 2);
}
