//! Checking a JWT from the provider: the algorithm is one the provider announces (never
//! `none`, never HMAC), the signature verifies with a key of its JWKS (by `jsonwebtoken`),
//! then the claims: `iss` exactly, `aud` (and `azp`), `exp`, `iat` and `nbf` with a
//! leeway against our clock, and the sign-in's `nonce` for ID tokens.

use super::jwks::Jwks;
use super::{OidcError, TokenRejection};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

/// What a token must satisfy besides its signature.
pub(super) struct Expect<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub algorithms: &'a [Algorithm],
    /// Unix seconds, from the injected clock.
    pub now: i64,
    pub leeway: i64,
    /// The sign-in's nonce, for ID tokens.
    pub nonce: Option<&'a str>,
}

/// The verified claims of a token.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// `None` when the token has no `groups` claim (then userinfo may have it).
    #[serde(default)]
    pub groups: Option<Vec<Value>>,
}

/// The header fields looked at before any key is chosen.
struct Header {
    alg: String,
    kid: Option<String>,
}

fn malformed(why: impl Into<String>) -> OidcError {
    TokenRejection::Malformed(why.into()).into()
}

fn read_header(token: &str) -> Result<Header, OidcError> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a JWT has three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| malformed("the header is not base64url"))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| malformed("the header is not JSON"))?;
    let alg = value
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the header names no algorithm"))?
        .to_owned();
    if value.get("crit").is_some() {
        return Err(malformed("the header has critical extensions (crit)"));
    }
    let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok(Header { alg, kid })
}

/// Checks `token` completely and returns its claims.
pub(super) async fn verify(
    token: &str,
    jwks: &Jwks,
    expect: &Expect<'_>,
) -> Result<Claims, OidcError> {
    let header = read_header(token.trim())?;
    let alg = expect
        .algorithms
        .iter()
        .copied()
        .find(|a| format!("{a:?}") == header.alg)
        .ok_or_else(|| TokenRejection::Algorithm {
            alg: header.alg.clone(),
            allowed: expect.algorithms.iter().map(|a| format!("{a:?}")).collect(),
        })?;
    let key = jwks.key(header.kid.as_deref(), alg).await?;

    // The signature, by jsonwebtoken, with its claim checks off: those follow below,
    // against the injected clock and with messages that say which check failed.
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token.trim(), &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => OidcError::from(TokenRejection::Signature),
            ErrorKind::InvalidAlgorithm => TokenRejection::Algorithm {
                alg: header.alg.clone(),
                allowed: vec![format!("{alg:?}")],
            }
            .into(),
            other => malformed(format!("{other:?}")),
        }
    })?;
    check_claims(data.claims, expect)
}

fn single_or_list(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

fn seconds(claims: &Value, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            // Some providers write fractional seconds.
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| TokenRejection::MissingClaim(name).into()),
    }
}

fn check_claims(claims: Value, expect: &Expect<'_>) -> Result<Claims, OidcError> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(TokenRejection::MissingClaim("iss"))?;
    if iss != expect.issuer {
        return Err(TokenRejection::Issuer {
            expected: expect.issuer.to_owned(),
            found: iss.to_owned(),
        }
        .into());
    }
    let aud = single_or_list(claims.get("aud")).ok_or(TokenRejection::MissingClaim("aud"))?;
    if !aud.iter().any(|a| a == expect.audience) {
        return Err(TokenRejection::Audience {
            expected: expect.audience.to_owned(),
            found: aud,
        }
        .into());
    }
    // OpenID Connect Core 3.1.3.7: with several audiences, azp must name us; when
    // present, it must name us anyway.
    let azp = claims.get("azp").and_then(Value::as_str);
    if azp.is_some_and(|a| a != expect.audience) || (aud.len() > 1 && azp.is_none()) {
        return Err(TokenRejection::AuthorizedParty {
            expected: expect.audience.to_owned(),
            found: azp.map(str::to_owned),
        }
        .into());
    }
    let now = expect.now;
    let exp = seconds(&claims, "exp")?.ok_or(TokenRejection::MissingClaim("exp"))?;
    if now > exp.saturating_add(expect.leeway) {
        return Err(TokenRejection::Expired { exp, now }.into());
    }
    if let Some(iat) = seconds(&claims, "iat")?
        && iat > now.saturating_add(expect.leeway)
    {
        return Err(TokenRejection::IssuedInFuture { iat, now }.into());
    }
    if let Some(nbf) = seconds(&claims, "nbf")?
        && nbf > now.saturating_add(expect.leeway)
    {
        return Err(TokenRejection::NotYetValid { nbf, now }.into());
    }
    if let Some(nonce) = expect.nonce {
        let found = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if found.is_empty() || !bool::from(found.as_bytes().ct_eq(nonce.as_bytes())) {
            return Err(TokenRejection::Nonce.into());
        }
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => {}
        _ => return Err(TokenRejection::MissingClaim("sub").into()),
    }
    serde_json::from_value(claims).map_err(|e| malformed(format!("claims: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(nonce: Option<&str>) -> Expect<'_> {
        Expect {
            issuer: "http://127.0.0.1:9000/application/o/nextdoor-loyalty/",
            audience: "nextdoor-loyalty",
            algorithms: &[Algorithm::RS256],
            now: 1_795_473_500,
            leeway: 60,
            nonce,
        }
    }

    /// shared/authentik/examples/12_id_token_claims.json, recorded from Authentik 2025.12.4.
    fn authentik_claims() -> Value {
        json!({
            "iss": "http://127.0.0.1:9000/application/o/nextdoor-loyalty/",
            "sub": "5e982924df64d093d4828e8d7a5d3431660e81d84dbbd1f2c36dcca96c32917c",
            "aud": "nextdoor-loyalty", "exp": 1795477064, "iat": 1795473464,
            "auth_time": 1795473462, "acr": "goauthentik.io/providers/oauth2/default",
            "amr": ["pwd"], "nonce": "p97ise3HgPKQmZ47kaz6cQ",
            "sid": "055a528544ea8099aa7f3f0f039b42c3dbca953b7d36985ea167e65031f17758",
            "email": "alice@example.test", "email_verified": false, "name": "Alice Example",
            "given_name": "Alice Example", "preferred_username": "alice", "nickname": "alice",
            "groups": ["nextdoor-admins"]
        })
    }

    fn rejection(claims: Value, nonce: Option<&str>) -> TokenRejection {
        check_claims(claims, &expect(nonce))
            .unwrap_err()
            .rejection()
            .cloned()
            .unwrap()
    }

    #[test]
    fn authentiks_recorded_id_token_claims_pass() {
        let c = check_claims(authentik_claims(), &expect(Some("p97ise3HgPKQmZ47kaz6cQ"))).unwrap();
        assert_eq!(c.preferred_username.as_deref(), Some("alice"));
        assert_eq!(c.groups, Some(vec![json!("nextdoor-admins")]));
    }

    #[test]
    fn each_claim_check_names_what_failed() {
        let mut c = authentik_claims();
        c["iss"] = json!("http://127.0.0.1:9000/application/o/other/");
        assert!(matches!(rejection(c, None), TokenRejection::Issuer { .. }));

        let mut c = authentik_claims();
        c["aud"] = json!(["someone-else"]);
        assert!(matches!(
            rejection(c, None),
            TokenRejection::Audience { .. }
        ));

        let mut c = authentik_claims();
        c["aud"] = json!(["nextdoor-loyalty", "someone-else"]);
        assert!(matches!(
            rejection(c, None),
            TokenRejection::AuthorizedParty { found: None, .. }
        ));

        let mut c = authentik_claims();
        c["exp"] = json!(1_795_473_500 - 61);
        assert!(matches!(rejection(c, None), TokenRejection::Expired { .. }));

        let mut c = authentik_claims();
        c["iat"] = json!(1_795_473_500 + 61);
        assert!(matches!(
            rejection(c, None),
            TokenRejection::IssuedInFuture { .. }
        ));

        let mut c = authentik_claims();
        c["nbf"] = json!(1_795_473_500 + 61);
        assert!(matches!(
            rejection(c, None),
            TokenRejection::NotYetValid { .. }
        ));

        assert_eq!(
            rejection(authentik_claims(), Some("another-nonce")),
            TokenRejection::Nonce
        );

        let mut c = authentik_claims();
        c.as_object_mut().unwrap().remove("exp");
        assert_eq!(rejection(c, None), TokenRejection::MissingClaim("exp"));

        let mut c = authentik_claims();
        c["sub"] = json!("");
        assert_eq!(rejection(c, None), TokenRejection::MissingClaim("sub"));
    }

    #[test]
    fn the_leeway_forgives_small_clock_differences() {
        let mut c = authentik_claims();
        c["exp"] = json!(1_795_473_500 - 59);
        c["iat"] = json!(1_795_473_500 + 59);
        assert!(check_claims(c, &expect(None)).is_ok());
    }

    #[test]
    fn headers_without_a_usable_algorithm_are_malformed_or_refused() {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", enc(json!({"alg": "none"})), enc(json!({})));
        assert_eq!(read_header(&none).unwrap().alg, "none");
        assert!(read_header("opaque-access-token").is_err());
        let crit = format!(
            "{}.{}.sig",
            enc(json!({"alg": "RS256", "crit": ["exp"]})),
            enc(json!({}))
        );
        assert!(read_header(&crit).is_err());
    }
}
