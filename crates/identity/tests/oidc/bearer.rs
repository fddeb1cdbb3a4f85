//! Bearer tokens on the API: the provider's JWT access tokens are accepted; opaque,
//! tampered, expired, foreign, misaddressed and unsigned tokens are refused, each with
//! the check that failed and the code `auth.invalid_token`.

use crate::browser::raw_tokens;
use crate::provider::{CLIENT_ID, CLIENT_SECRET, ClaimsIn, Provider, SUBJECT};
use crate::tokens::{
    edit_claims, flip_signature, good_claims, hmac_with_secret, now, peek, sign, sign_as_provider,
    unsigned,
};
use loyalty_core::clock::FixedClock;
use loyalty_identity::oidc::{Identity, OidcClient, OidcError, OidcOptions, TokenRejection};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The rejection of a refused token, after checking its code.
fn refused(result: Result<Identity, OidcError>) -> TokenRejection {
    let err = result.expect_err("the token must be refused");
    assert_eq!(err.code(), "auth.invalid_token", "{err}");
    err.rejection().cloned().unwrap()
}

async fn started() -> Option<(Provider, OidcClient)> {
    let provider = Provider::start(ClaimsIn::IdToken).await?;
    let client = provider.client().await;
    Some((provider, client))
}

#[tokio::test]
async fn the_providers_jwt_access_token_is_accepted_with_its_groups() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let (_, access_token) = raw_tokens(&provider, &client).await;
    assert_eq!(peek(&access_token)["aud"], json!(CLIENT_ID));
    let identity = client.verify_bearer(&access_token).await.unwrap();
    assert_eq!(identity.subject, SUBJECT);
    assert_eq!(
        identity.groups,
        ["corner-shop-cashiers", "nextdoor-admins", "pending-users"]
    );
}

#[tokio::test]
async fn a_token_made_with_the_providers_key_and_right_claims_is_accepted() {
    // The control for the refusals below: the same recipe with one thing wrong.
    let Some((provider, client)) = started().await else {
        return;
    };
    let token = sign_as_provider(&provider, &good_claims(&provider));
    let identity = client.verify_bearer(&token).await.unwrap();
    assert_eq!(identity.groups, ["nextdoor-admins"]);
}

#[tokio::test]
async fn an_opaque_access_token_is_refused() {
    let Some(provider) = Provider::start(ClaimsIn::Userinfo).await else {
        return;
    };
    let client = provider.client().await;
    let (_, access_token) = raw_tokens(&provider, &client).await;
    assert!(!access_token.contains('.'), "opaque: {access_token}");
    let r = refused(client.verify_bearer(&access_token).await);
    assert!(matches!(r, TokenRejection::Malformed(_)), "{r}");
}

#[tokio::test]
async fn a_real_token_whose_signature_was_changed_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let (id_token, access_token) = raw_tokens(&provider, &client).await;
    for token in [id_token, access_token] {
        let r = refused(client.verify_bearer(&flip_signature(&token)).await);
        assert_eq!(r, TokenRejection::Signature);
    }
}

#[tokio::test]
async fn a_real_token_whose_claims_were_changed_after_signing_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let (_, access_token) = raw_tokens(&provider, &client).await;
    let forged = edit_claims(&access_token, |c| {
        c["groups"] = json!(["loyalty-operators"]);
    });
    assert_eq!(
        refused(client.verify_bearer(&forged).await),
        TokenRejection::Signature
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_but_one_within_the_leeway_is_accepted() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let mut claims = good_claims(&provider);
    claims["iat"] = json!(now() - 3600);
    claims["exp"] = json!(now() - 120);
    let r = refused(
        client
            .verify_bearer(&sign_as_provider(&provider, &claims))
            .await,
    );
    assert!(matches!(r, TokenRejection::Expired { .. }), "{r}");
    assert!(r.to_string().starts_with("expired 12"), "{r}");

    claims["exp"] = json!(now() - 30);
    client
        .verify_bearer(&sign_as_provider(&provider, &claims))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_real_token_is_refused_once_our_clock_passes_its_expiry_and_the_leeway() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let (_, access_token) = raw_tokens(&provider, &client).await;
    let exp = peek(&access_token)["exp"].as_i64().unwrap();
    let clock = FixedClock::new(time::OffsetDateTime::from_unix_timestamp(exp + 59).unwrap());
    let late = provider
        .client_with(OidcOptions {
            clock: Arc::new(clock.clone()),
            ..provider.options()
        })
        .await;
    late.verify_bearer(&access_token).await.unwrap();
    clock.advance(time::Duration::seconds(2));
    let r = refused(late.verify_bearer(&access_token).await);
    assert_eq!(r, TokenRejection::Expired { exp, now: exp + 61 });
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let mut claims = good_claims(&provider);
    claims["aud"] = json!("another-client");
    let r = refused(
        client
            .verify_bearer(&sign_as_provider(&provider, &claims))
            .await,
    );
    assert!(matches!(r, TokenRejection::Audience { .. }), "{r}");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let mut claims = good_claims(&provider);
    claims["iss"] = json!("https://auth.example.com/application/o/loyalty/");
    let r = refused(
        client
            .verify_bearer(&sign_as_provider(&provider, &claims))
            .await,
    );
    assert!(matches!(r, TokenRejection::Issuer { .. }), "{r}");
}

#[tokio::test]
async fn an_unsigned_token_with_alg_none_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let token = unsigned(&good_claims(&provider), &provider.kid);
    let r = refused(client.verify_bearer(&token).await);
    assert_eq!(
        r,
        TokenRejection::Algorithm {
            alg: "none".into(),
            allowed: vec!["RS256".into()]
        }
    );
}

#[tokio::test]
async fn a_token_signed_hs256_with_the_client_secret_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    let token = hmac_with_secret(&good_claims(&provider), CLIENT_SECRET);
    let r = refused(client.verify_bearer(&token).await);
    assert!(
        matches!(&r, TokenRejection::Algorithm { alg, .. } if alg == "HS256"),
        "{r}"
    );
}

#[tokio::test]
async fn a_token_signed_with_a_key_the_provider_does_not_have_is_refused() {
    let Some((provider, client)) = started().await else {
        return;
    };
    // Right claims, the provider's key id, someone else's key.
    let token = sign(
        &good_claims(&provider),
        &provider.foreign_key_pem,
        &provider.kid,
    );
    assert_eq!(
        refused(client.verify_bearer(&token).await),
        TokenRejection::Signature
    );
}

#[tokio::test]
async fn a_token_naming_an_unknown_key_is_refused_and_fetches_the_jwks_at_most_once_per_interval() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider
        .client_with(OidcOptions {
            jwks_refresh_interval: Duration::from_secs(1),
            ..provider.options()
        })
        .await;
    let token = sign(
        &good_claims(&provider),
        &provider.foreign_key_pem,
        "a-key-nobody-published",
    );
    let unknown = TokenRejection::UnknownKey {
        kid: Some("a-key-nobody-published".into()),
    };
    let fetches = provider.jwks_fetches().await;
    // Just after discovery fetched it: not again.
    assert_eq!(refused(client.verify_bearer(&token).await), unknown);
    assert_eq!(provider.jwks_fetches().await, fetches);
    // After the interval: fetched once more, and still unknown.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(refused(client.verify_bearer(&token).await), unknown);
    assert_eq!(provider.jwks_fetches().await, fetches + 1);
    // Many more at once: no further fetch within the interval.
    for _ in 0..5 {
        assert_eq!(refused(client.verify_bearer(&token).await), unknown);
    }
    assert_eq!(provider.jwks_fetches().await, fetches + 1);
}
