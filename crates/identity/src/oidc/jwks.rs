//! The provider's signing keys (JWKS), cached in memory and fetched again when a token
//! names a key id the cache lacks (key rotation), at most once per refresh interval so
//! that tokens with made-up key ids cannot make us hammer the provider.

use super::OidcError;
use super::TokenRejection;
use super::http;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// One usable signing key.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    /// The algorithm the key is pinned to, when the JWKS says.
    alg: Option<Algorithm>,
    family: Family,
    decoding: DecodingKey,
}

/// Key types, to match a key to a token's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ec,
    Okp,
}

fn family_of(alg: Algorithm) -> Option<Family> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(Family::Rsa),
        ES256 | ES384 => Some(Family::Ec),
        EdDSA => Some(Family::Okp),
        _ => None,
    }
}

impl Key {
    fn fits(&self, alg: Algorithm) -> bool {
        family_of(alg) == Some(self.family) && self.alg.is_none_or(|a| a == alg)
    }
}

/// The keys of one fetch.
#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
    fetched_at: Option<Instant>,
}

/// Reads a JWKS document, keeping the keys that can verify signatures: public RSA, EC
/// and OKP keys whose `use` is `sig` or unset. Keys of other kinds (encryption keys,
/// symmetric keys, types this build cannot read) are skipped, not fatal.
fn parse(body: &[u8]) -> Result<Vec<Key>, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut out = Vec::new();
    for value in doc.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            continue;
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Family::Rsa,
            AlgorithmParameters::EllipticCurve(_) => Family::Ec,
            AlgorithmParameters::OctetKeyPair(_) => Family::Okp,
            // Symmetric keys, and kinds this build cannot read.
            _ => continue,
        };
        let alg = match jwk.common.key_algorithm {
            Some(ka) => match ka.to_string().parse::<Algorithm>() {
                Ok(a) => Some(a),
                // An encryption algorithm such as RSA-OAEP: not a signing key.
                Err(_) => continue,
            },
            None => None,
        };
        let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            family,
            decoding,
        });
    }
    Ok(out)
}

/// The provider's keys, cached.
pub(super) struct Jwks {
    uri: Url,
    http: reqwest::Client,
    min_refresh: Duration,
    set: RwLock<KeySet>,
    /// Held while fetching, so that many requests with a new key id cause one fetch.
    fetching: Mutex<()>,
}

impl Jwks {
    /// A cache of the keys at `uri`, empty until [`Self::refresh`].
    pub fn new(uri: Url, http: reqwest::Client, min_refresh: Duration) -> Arc<Self> {
        Arc::new(Self {
            uri,
            http,
            min_refresh,
            set: RwLock::new(KeySet::default()),
            fetching: Mutex::new(()),
        })
    }

    /// Fetches the keys now.
    pub async fn refresh(&self) -> Result<usize, OidcError> {
        let _guard = self.fetching.lock().await;
        self.fetch().await
    }

    async fn fetch(&self) -> Result<usize, OidcError> {
        let err = |detail: String| OidcError::Jwks {
            url: self.uri.to_string(),
            detail,
        };
        // Count the attempt even when it fails, so a broken endpoint is not hammered.
        self.set.write().await.fetched_at = Some(Instant::now());
        let answer = http::send(self.http.get(self.uri.clone()))
            .await
            .map_err(err)?;
        if !answer.status.is_success() {
            return Err(err(answer.describe()));
        }
        let keys = parse(&answer.body).map_err(err)?;
        if keys.is_empty() {
            return Err(err(
                "it holds no signing key this client can use (RSA, EC or Ed25519 with use sig)"
                    .into(),
            ));
        }
        let count = keys.len();
        let mut set = self.set.write().await;
        set.keys = keys;
        set.fetched_at = Some(Instant::now());
        tracing::debug!(jwks = %self.uri, keys = count, "fetched the provider's signing keys");
        Ok(count)
    }

    fn pick(set: &KeySet, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        match kid {
            Some(kid) => set
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.fits(alg))
                .map(|k| k.decoding.clone()),
            None => {
                let mut fitting = set.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(only), None) => Some(only.decoding.clone()),
                    _ => None,
                }
            }
        }
    }

    /// The key for a token that names `kid` (or none) and is signed with `alg`. When no
    /// cached key fits, the JWKS is fetched again, unless it was fetched less than the
    /// refresh interval ago.
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, OidcError> {
        if let Some(key) = Self::pick(&*self.set.read().await, kid, alg) {
            return Ok(key);
        }
        let _guard = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let recent = {
            let set = self.set.read().await;
            if let Some(key) = Self::pick(&set, kid, alg) {
                return Ok(key);
            }
            set.fetched_at
                .is_some_and(|at| at.elapsed() < self.min_refresh)
        };
        if !recent {
            self.fetch().await?;
            if let Some(key) = Self::pick(&*self.set.read().await, kid, alg) {
                return Ok(key);
            }
        }
        Err(TokenRejection::UnknownKey {
            kid: kid.map(str::to_owned),
        }
        .into())
    }

    /// How many usable keys are cached.
    pub async fn len(&self) -> usize {
        self.set.read().await.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentiks_recorded_jwks_gives_one_rs256_key() {
        // From shared/authentik/examples/11_jwks.json (Authentik 2025.12.4), shortened
        // to the fields that matter: the modulus is the recorded one.
        let doc = serde_json::json!({"keys": [
            {"alg": "RS256", "kid": "e9efc1a6b47f834b8d672607d9bf4aa4", "kty": "RSA", "use": "sig",
             "n": "tTYuQFm0QbB7aYX2KDq5wd_T9OPd0LaFiSO9fLoRnlaLnPYLVPx2ZDH1VgH_0cUBJ054huMQGpgcFaN5lbAGnOywGhN9QeupJMI3dYI9U8HSVdeXNJzWw1xM45PSxAoGwOP0AZfLQ5UEh0RyouYpERsmjnNwWY2CXyQj5s24M1TZC2hm0T3HIRY9jkCGdabQtjcDFRE9czI_AjZNxj3pB6h5CGx0DIv9W4DHDtVa0o0CuLAnnmQ_g5-qIdtbJYoPgmjbtJ2GFvSqX6170kSeS61SBUHKuCWpDq0spUJcwNAo1v3QcS-DoP2eij6-dQQg0-I7M1eG8spMNQk-r1PNvuhiRo8cMd6Do6r4-gBnWn6ycrHM0ZpWuvPwdd04usk6Tf5m8sDVP08tYzmlgJKFrmye-Gnk1hbBgWRxxdSayTLyMEmNvm0AKKB_DjMUpLZbyVTcOegx6LQtMKmqAR-dFxak_iFFT7heuBy6h-15NUDbEYJp4k9ash8gtYbnRtI6otQqJ1MQA1xxjrJXgkHULiWbkDuKEWHHpyFUvtGSHRKHgOd9PoHI6kFBwP8I5pusRdvnzcqHHs5X8lrxsVoVe539-EmFaqgfQ4Wbp2Tq8J8h_zuSQjFNquKuyEhopJVy1CcQM1G92wd9Tm6BPzm2ixLSJ58xofX8uY90KXzuges",
             "e": "AQAB"},
            {"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "weird", "kid": "x"}
        ]});
        let keys = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys[0].kid.as_deref(),
            Some("e9efc1a6b47f834b8d672607d9bf4aa4")
        );
        assert!(keys[0].fits(Algorithm::RS256));
        assert!(
            !keys[0].fits(Algorithm::RS512),
            "pinned to RS256 by the JWKS"
        );
        assert!(!keys[0].fits(Algorithm::ES256));
        assert!(!keys[0].fits(Algorithm::HS256));
    }
}
