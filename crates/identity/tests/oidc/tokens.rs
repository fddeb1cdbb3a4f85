//! Tokens made in the tests: signed with the provider's key (or another), with claims
//! that fail one check at a time; and edits of the provider's real tokens.

use crate::provider::{CLIENT_ID, Provider, SUBJECT};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Now, Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Claims that pass every check for `provider`.
pub fn good_claims(provider: &Provider) -> Value {
    json!({
        "iss": provider.issuer,
        "sub": SUBJECT,
        "aud": CLIENT_ID,
        "iat": now(),
        "exp": now() + 300,
        "email": "alice@example.test",
        "groups": ["nextdoor-admins"],
    })
}

/// `claims` signed RS256 with `pem` under `kid`.
pub fn sign(claims: &Value, pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// `claims` signed with the provider's current key.
pub fn sign_as_provider(provider: &Provider, claims: &Value) -> String {
    sign(claims, &provider.private_key_pem, &provider.kid)
}

/// An unsigned token (`alg: none`, empty signature).
pub fn unsigned(claims: &Value, kid: &str) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `claims` signed HS256 with the client secret (a key anyone with the secret has).
pub fn hmac_with_secret(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// `token` with one character of its signature changed.
pub fn flip_signature(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    bytes[10] ^= 0x01;
    format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// `token` with its claims edited by `edit`, the signature kept.
pub fn edit_claims(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts.join(".")
}

/// The claims of `token`, unverified (to look at what the provider issued).
pub fn peek(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
