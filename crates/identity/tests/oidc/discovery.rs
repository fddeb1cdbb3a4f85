//! Discovery against the real provider: what it announces is kept, and a wrong issuer
//! or address gives an error that says so.

use crate::provider::{ClaimsIn, Provider};
use loyalty_identity::oidc::{ClientAuth, OidcClient, OidcError};
use url::Url;

#[tokio::test]
async fn discovery_keeps_the_issuer_the_announced_algorithm_and_basic_client_auth() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let client = provider.client().await;
    assert_eq!(client.issuer(), provider.issuer);
    assert_eq!(client.algorithms(), ["RS256"]);
    assert_eq!(client.client_auth(), ClientAuth::Basic);
    assert_eq!(client.cached_keys().await, 1);
    assert!(client.end_session_url().is_some());
}

#[tokio::test]
async fn a_provider_that_calls_itself_by_another_issuer_is_refused() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let mut config = provider.config();
    // Same server, another name: the document says 127.0.0.1.
    config.issuer = Url::parse(&provider.issuer.replace("127.0.0.1", "localhost")).unwrap();
    let err = OidcClient::discover(config).await.unwrap_err();
    assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err}");
    assert_eq!(err.code(), "auth.issuer_mismatch");
    assert!(err.to_string().contains(&provider.issuer), "{err}");
}

#[tokio::test]
async fn a_wrong_issuer_path_says_the_discovery_document_is_missing() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let mut config = provider.config();
    config.issuer = Url::parse(&format!("{}/application/o/loyalty/", provider.issuer)).unwrap();
    let err = OidcClient::discover(config).await.unwrap_err();
    assert!(matches!(err, OidcError::DiscoveryMissing { .. }), "{err}");
    assert_eq!(err.code(), "auth.discovery_missing");
    assert!(
        err.to_string()
            .contains("/application/o/loyalty/.well-known/openid-configuration (404"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_named() {
    let Some(provider) = Provider::start(ClaimsIn::IdToken).await else {
        return;
    };
    let mut config = provider.config();
    config.issuer = Url::parse("http://127.0.0.1:9/").unwrap();
    let err = OidcClient::discover(config).await.unwrap_err();
    assert!(matches!(err, OidcError::Unreachable { .. }), "{err}");
    assert_eq!(err.code(), "auth.provider_unavailable");
}
