//! The sign-in half of the relying party: the authorization URL with `state`, `nonce`
//! and a PKCE verifier, the code exchange at the token endpoint, and the userinfo call
//! that completes an ID token without groups.

use super::*;

/// 32 random bytes, base64url: state, nonce and PKCE verifier (256 bits each).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636, 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749, 2.3.1 asks for
/// it in HTTP Basic client authentication).
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The answer of the token endpoint (the fields read).
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

/// An OAuth error answer (`{error, error_description}`).
#[derive(serde::Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl OidcClient {
    /// Starts a sign-in: fresh `state`, `nonce` and PKCE verifier, and the authorization
    /// URL (response type `code`, S256 challenge).
    pub fn begin_login(&self) -> LoginStart {
        let state = random_token();
        let nonce = random_token();
        let pkce_verifier = random_token();
        let mut scopes = vec!["openid".to_owned()];
        for s in &self.inner.options.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let mut authorize_url = self.inner.meta.authorization_endpoint.clone();
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.config.client_id)
            .append_pair("redirect_uri", self.inner.config.redirect_url.as_str())
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        LoginStart {
            authorize_url,
            state,
            nonce,
            pkce_verifier,
        }
    }

    /// Finishes a sign-in at the callback: checks `state_received` against
    /// `state_expected`, exchanges `code` (with the PKCE verifier) at the token endpoint,
    /// verifies the ID token (signature, issuer, audience, expiry, `nonce`) and reads the
    /// person's claims; the groups come from the ID token's `groups` claim, else from
    /// the userinfo endpoint.
    pub async fn finish_login(
        &self,
        code: &str,
        state_expected: &str,
        state_received: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, OidcError> {
        if state_expected.is_empty()
            || !bool::from(state_expected.as_bytes().ct_eq(state_received.as_bytes()))
        {
            return Err(OidcError::StateMismatch);
        }
        if code.is_empty() {
            return Err(OidcError::CodeRejected(
                "the callback carries no code".into(),
            ));
        }
        let tokens = self.exchange(code, pkce_verifier).await?;
        let id_token = tokens.id_token.ok_or_else(|| {
            OidcError::CodeRejected(
                "the token answer has no id_token; check that the openid scope is allowed for this client".into(),
            )
        })?;
        let claims = self.verify(&id_token, Some(nonce)).await?;
        let mut identity = identity(&claims)?;
        if claims.groups.is_none() {
            self.complete_from_userinfo(&mut identity, &tokens.access_token)
                .await?;
        }
        Ok(identity)
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<TokenAnswer, OidcError> {
        let inner = &self.inner;
        let url = inner.meta.token_endpoint.clone();
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", inner.config.redirect_url.to_string()),
            ("code_verifier", verifier.to_owned()),
        ];
        let mut request = inner.http.post(url.clone());
        match inner.meta.client_auth {
            ClientAuth::Basic => {
                let pair = format!(
                    "{}:{}",
                    form_encode(&inner.config.client_id),
                    form_encode(inner.config.client_secret.expose_secret())
                );
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(pair)),
                );
            }
            ClientAuth::Post => {
                form.push(("client_id", inner.config.client_id.clone()));
                form.push((
                    "client_secret",
                    inner.config.client_secret.expose_secret().to_owned(),
                ));
            }
        }
        let answer =
            http::send(request.form(&form))
                .await
                .map_err(|detail| OidcError::Unreachable {
                    url: url.to_string(),
                    detail,
                })?;
        if !answer.status.is_success() {
            let detail = match answer.json::<OAuthError>() {
                Ok(e) => match e.error_description {
                    Some(d) if !d.is_empty() => format!("{}: {d}", e.error),
                    _ => e.error,
                },
                Err(_) => answer.describe(),
            };
            let hint = if detail.starts_with("invalid_client") {
                " (check the client id and secret)"
            } else if detail.starts_with("invalid_grant") {
                " (the code was used already, expired, or belongs to another redirect URI or PKCE verifier)"
            } else {
                ""
            };
            return Err(OidcError::CodeRejected(format!("{detail}{hint}")));
        }
        let tokens: TokenAnswer = answer.json().map_err(OidcError::CodeRejected)?;
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(OidcError::CodeRejected(format!(
                "token type {:?} is not Bearer",
                tokens.token_type.unwrap_or_default()
            )));
        }
        Ok(tokens)
    }

    /// Fills groups (and missing profile claims) from the userinfo endpoint.
    async fn complete_from_userinfo(
        &self,
        identity: &mut Identity,
        access_token: &str,
    ) -> Result<(), OidcError> {
        let Some(url) = self.inner.meta.userinfo_endpoint.clone() else {
            tracing::warn!(
                issuer = %self.inner.meta.issuer,
                "the ID token has no groups claim and the provider has no userinfo endpoint; signing in without groups"
            );
            return Ok(());
        };
        let answer = http::send(self.inner.http.get(url.clone()).bearer_auth(access_token))
            .await
            .map_err(|detail| OidcError::Unreachable {
                url: url.to_string(),
                detail,
            })?;
        if !answer.status.is_success() {
            return Err(OidcError::Userinfo(answer.describe()));
        }
        if answer
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/jwt"))
        {
            return Err(OidcError::Userinfo(
                "the provider answers with a signed JWT; configure it to answer JSON".into(),
            ));
        }
        let info: serde_json::Value = answer.json().map_err(OidcError::Userinfo)?;
        // OpenID Connect Core 5.3.2: the answer must be about the same subject.
        let sub = info.get("sub").and_then(serde_json::Value::as_str);
        if sub != Some(identity.subject.as_str()) {
            return Err(OidcError::Userinfo(format!(
                "answered for subject {sub:?}, not {:?}",
                identity.subject
            )));
        }
        let text = |name: &str| {
            info.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        identity.email = identity.email.take().or_else(|| text("email"));
        identity.email_verified = identity.email_verified.or_else(|| {
            info.get("email_verified")
                .and_then(serde_json::Value::as_bool)
        });
        identity.name = identity.name.take().or_else(|| text("name"));
        identity.preferred_username = identity
            .preferred_username
            .take()
            .or_else(|| text("preferred_username"));
        if let Some(serde_json::Value::Array(items)) = info.get("groups") {
            identity.groups = group_names(items);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_43_characters_and_differ() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }

    #[test]
    fn basic_auth_credentials_are_form_encoded_first() {
        assert_eq!(form_encode("a b:c/d"), "a+b%3Ac%2Fd");
    }

    #[test]
    fn the_pkce_verifier_never_shows_in_debug_output() {
        let start = LoginStart {
            authorize_url: Url::parse("https://auth.example.com/authorize").unwrap(),
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "very-secret-verifier".into(),
        };
        assert!(!format!("{start:?}").contains("very-secret-verifier"));
    }
}
