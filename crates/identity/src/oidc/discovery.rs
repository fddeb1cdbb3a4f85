//! The provider's discovery document (`{issuer}.well-known/openid-configuration`): the
//! fields the relying party reads, and the checks that make it safe to use (the issuer is
//! the configured one, the signing algorithms are asymmetric and announced, PKCE S256).

use super::OidcError;
use super::http::{self, check_url};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use url::Url;

/// The fields of the discovery document that are read (others are ignored).
#[derive(Debug, Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    response_types_supported: Vec<String>,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret (the default of the spec).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// What the relying party keeps of the discovery document, checked.
#[derive(Debug, Clone)]
pub(super) struct Metadata {
    /// The issuer exactly as announced: the `iss` of every token must be this string.
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub userinfo_endpoint: Option<Url>,
    pub jwks_uri: Url,
    pub end_session_endpoint: Option<Url>,
    /// Announced and acceptable signing algorithms, in the announced order.
    pub algorithms: Vec<Algorithm>,
    pub client_auth: ClientAuth,
}

/// Algorithms accepted at all: asymmetric ones. `none` is not an [`Algorithm`], and
/// HMAC would make the client secret a signing key that anyone holding it could use.
fn acceptable(name: &str) -> Option<Algorithm> {
    use Algorithm::*;
    let alg = match name {
        "RS256" => RS256,
        "RS384" => RS384,
        "RS512" => RS512,
        "PS256" => PS256,
        "PS384" => PS384,
        "PS512" => PS512,
        "ES256" => ES256,
        "ES384" => ES384,
        "EdDSA" => EdDSA,
        _ => return None,
    };
    Some(alg)
}

/// Where the discovery document of `issuer` is: the issuer without its trailing slash,
/// then `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, section 4).
pub(super) fn discovery_url(issuer: &Url) -> Result<Url, OidcError> {
    let mut url = issuer.clone();
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{path}/.well-known/openid-configuration"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Whether the announced issuer is the configured one. URLs are compared as parsed, so
/// `https://h` and `https://h/` are the same issuer, but `.../o/app` and `.../o/app/` differ.
fn same_issuer(configured: &Url, announced: &str) -> bool {
    configured.as_str() == announced || Url::parse(announced).is_ok_and(|a| &a == configured)
}

/// Fetches and checks the discovery document of `issuer`.
pub(super) async fn discover(
    http_client: &reqwest::Client,
    issuer: &Url,
) -> Result<Metadata, OidcError> {
    let url = discovery_url(issuer)?;
    let answer = http::send(http_client.get(url.clone()))
        .await
        .map_err(|detail| OidcError::Unreachable {
            url: url.to_string(),
            detail,
        })?;
    if !answer.status.is_success() {
        return Err(OidcError::DiscoveryMissing {
            url: url.to_string(),
            detail: answer.describe(),
        });
    }
    let doc: Document = answer
        .json()
        .map_err(|detail| OidcError::DiscoveryMissing {
            url: url.to_string(),
            detail,
        })?;
    if !same_issuer(issuer, &doc.issuer) {
        return Err(OidcError::IssuerMismatch {
            configured: issuer.to_string(),
            announced: doc.issuer,
        });
    }
    check(&url, doc)
}

fn check(url: &Url, doc: Document) -> Result<Metadata, OidcError> {
    let invalid = |detail: String| OidcError::DiscoveryInvalid {
        url: url.to_string(),
        detail,
    };
    let endpoint = |what: &str, value: &str| -> Result<Url, OidcError> {
        let parsed = Url::parse(value).map_err(|e| invalid(format!("{what} {value:?}: {e}")))?;
        check_url(what, &parsed).map_err(invalid)?;
        Ok(parsed)
    };
    let optional = |what: &str, value: Option<&str>| -> Result<Option<Url>, OidcError> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| endpoint(what, v))
            .transpose()
    };
    if !doc.response_types_supported.is_empty()
        && !doc.response_types_supported.iter().any(|t| t == "code")
    {
        return Err(invalid(
            "the provider does not offer the authorization code flow (response type code)".into(),
        ));
    }
    if doc
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|m| !m.iter().any(|m| m == "S256"))
    {
        return Err(invalid(
            "the provider does not offer PKCE with S256 (code_challenge_methods_supported)".into(),
        ));
    }
    let algorithms: Vec<Algorithm> = doc
        .id_token_signing_alg_values_supported
        .iter()
        .filter_map(|a| acceptable(a))
        .collect();
    if algorithms.is_empty() {
        return Err(invalid(format!(
            "no acceptable ID token signing algorithm: it announces {:?}, and only asymmetric ones (RS256, ES256, ...) are accepted, never none or HS*; give the provider a signing key (Authentik: the provider's Signing Key)",
            doc.id_token_signing_alg_values_supported
        )));
    }
    let client_auth = match &doc.token_endpoint_auth_methods_supported {
        None => ClientAuth::Basic,
        Some(m) if m.iter().any(|m| m == "client_secret_basic") => ClientAuth::Basic,
        Some(m) if m.iter().any(|m| m == "client_secret_post") => ClientAuth::Post,
        Some(m) => {
            return Err(invalid(format!(
                "the token endpoint takes neither client_secret_basic nor client_secret_post (it announces {m:?})"
            )));
        }
    };
    Ok(Metadata {
        authorization_endpoint: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        token_endpoint: endpoint("token_endpoint", &doc.token_endpoint)?,
        userinfo_endpoint: optional("userinfo_endpoint", doc.userinfo_endpoint.as_deref())?,
        jwks_uri: endpoint("jwks_uri", &doc.jwks_uri)?,
        end_session_endpoint: optional(
            "end_session_endpoint",
            doc.end_session_endpoint.as_deref(),
        )?,
        issuer: doc.issuer,
        algorithms,
        client_auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authentik_document() -> Document {
        // shared/authentik/examples/10_discovery.json, as recorded from Authentik 2025.12.4.
        serde_json::from_value(serde_json::json!({
            "issuer": "http://127.0.0.1:9000/application/o/nextdoor-loyalty/",
            "authorization_endpoint": "http://127.0.0.1:9000/application/o/authorize/",
            "token_endpoint": "http://127.0.0.1:9000/application/o/token/",
            "userinfo_endpoint": "http://127.0.0.1:9000/application/o/userinfo/",
            "end_session_endpoint": "http://127.0.0.1:9000/application/o/nextdoor-loyalty/end-session/",
            "jwks_uri": "http://127.0.0.1:9000/application/o/nextdoor-loyalty/jwks/",
            "response_types_supported": ["code", "id_token", "id_token token", "code token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["plain", "S256"]
        }))
        .unwrap()
    }

    fn url() -> Url {
        Url::parse(
            "http://127.0.0.1:9000/application/o/nextdoor-loyalty/.well-known/openid-configuration",
        )
        .unwrap()
    }

    #[test]
    fn authentiks_discovery_document_is_read_with_rs256_and_basic_auth() {
        let m = check(&url(), authentik_document()).unwrap();
        assert_eq!(
            m.issuer,
            "http://127.0.0.1:9000/application/o/nextdoor-loyalty/"
        );
        assert_eq!(m.algorithms, [Algorithm::RS256]);
        assert_eq!(m.client_auth, ClientAuth::Basic);
        assert_eq!(
            m.jwks_uri.as_str(),
            "http://127.0.0.1:9000/application/o/nextdoor-loyalty/jwks/"
        );
    }

    #[test]
    fn the_discovery_url_follows_the_issuer_with_or_without_a_trailing_slash() {
        for issuer in [
            "https://auth.example.com/application/o/loyalty/",
            "https://auth.example.com/application/o/loyalty",
        ] {
            assert_eq!(
                discovery_url(&Url::parse(issuer).unwrap())
                    .unwrap()
                    .as_str(),
                "https://auth.example.com/application/o/loyalty/.well-known/openid-configuration"
            );
        }
        assert_eq!(
            discovery_url(&Url::parse("http://127.0.0.1:4000").unwrap())
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4000/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuers_must_match_exactly_up_to_an_empty_path() {
        let slash = Url::parse("https://auth.example.com/application/o/loyalty/").unwrap();
        assert!(same_issuer(
            &slash,
            "https://auth.example.com/application/o/loyalty/"
        ));
        assert!(!same_issuer(
            &slash,
            "https://auth.example.com/application/o/loyalty"
        ));
        assert!(!same_issuer(
            &slash,
            "https://auth.example.com/application/o/other/"
        ));
        let root = Url::parse("http://127.0.0.1:4000").unwrap();
        assert!(same_issuer(&root, "http://127.0.0.1:4000"));
        assert!(!same_issuer(&root, "http://localhost:4000"));
    }

    #[test]
    fn none_and_hmac_alone_are_refused() {
        for algs in [vec!["none"], vec!["HS256"], vec![]] {
            let mut doc = authentik_document();
            doc.id_token_signing_alg_values_supported =
                algs.iter().map(|s| s.to_string()).collect();
            let err = check(&url(), doc).unwrap_err();
            assert_eq!(err.code(), "auth.discovery_invalid", "{algs:?}");
            assert!(err.to_string().contains("never none"), "{err}");
        }
        let mut doc = authentik_document();
        doc.id_token_signing_alg_values_supported =
            vec!["none".into(), "HS256".into(), "ES256".into()];
        assert_eq!(check(&url(), doc).unwrap().algorithms, [Algorithm::ES256]);
    }

    #[test]
    fn a_provider_without_pkce_s256_is_refused() {
        let mut doc = authentik_document();
        doc.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(check(&url(), doc).unwrap_err().to_string().contains("S256"));
    }

    #[test]
    fn client_secret_post_is_used_when_basic_is_not_offered() {
        let mut doc = authentik_document();
        doc.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        assert_eq!(check(&url(), doc).unwrap().client_auth, ClientAuth::Post);
    }
}
