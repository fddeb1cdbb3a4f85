//! What can go wrong when signing in with OpenID Connect or checking a bearer token, in
//! words an operator can act on, each with a stable code.

use loyalty_core::ErrorCode;
use std::fmt;

/// Why a token (an ID token at sign-in, or a bearer token on the API) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    /// Not a JWT at all: an opaque token, or a garbled one.
    Malformed(String),
    /// The header names an algorithm that is not allowed (`none`, a symmetric one, or one
    /// the provider does not announce for ID tokens).
    Algorithm {
        /// What the token says, as written.
        alg: String,
        /// What is accepted.
        allowed: Vec<String>,
    },
    /// No key of the provider's JWKS fits the token (also after fetching the JWKS again).
    UnknownKey {
        /// The key id the token names, if any.
        kid: Option<String>,
    },
    /// The signature does not verify with the provider's key.
    Signature,
    /// A claim every token must carry is missing or has the wrong type.
    MissingClaim(&'static str),
    /// `iss` is not the provider's issuer.
    Issuer {
        /// The provider's issuer.
        expected: String,
        /// What the token says.
        found: String,
    },
    /// `aud` does not name our client id.
    Audience {
        /// Our client id.
        expected: String,
        /// What the token says.
        found: Vec<String>,
    },
    /// `azp` names another client.
    AuthorizedParty {
        /// Our client id.
        expected: String,
        /// What the token says (absent when a token with several audiences has none).
        found: Option<String>,
    },
    /// `exp` is past, beyond the leeway.
    Expired {
        /// `exp`, Unix seconds.
        exp: i64,
        /// Our clock, Unix seconds.
        now: i64,
    },
    /// `iat` lies in the future, beyond the leeway (check both clocks).
    IssuedInFuture {
        /// `iat`, Unix seconds.
        iat: i64,
        /// Our clock, Unix seconds.
        now: i64,
    },
    /// `nbf` lies in the future, beyond the leeway.
    NotYetValid {
        /// `nbf`, Unix seconds.
        nbf: i64,
        /// Our clock, Unix seconds.
        now: i64,
    },
    /// The ID token's `nonce` is not the one this sign-in sent (a replayed token).
    Nonce,
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not a signed JWT ({why})"),
            Self::Algorithm { alg, allowed } => write!(
                f,
                "algorithm {alg} is not accepted (accepted: {})",
                allowed.join(", ")
            ),
            Self::UnknownKey { kid: Some(kid) } => write!(
                f,
                "signed with key {kid}, which the provider's JWKS does not contain"
            ),
            Self::UnknownKey { kid: None } => write!(
                f,
                "names no key id and the provider's JWKS has no single key that fits"
            ),
            Self::Signature => write!(f, "signature does not verify with the provider's key"),
            Self::MissingClaim(claim) => write!(f, "claim {claim} is missing or malformed"),
            Self::Issuer { expected, found } => {
                write!(f, "issuer (iss) is {found:?}, expected {expected:?}")
            }
            Self::Audience { expected, found } => write!(
                f,
                "audience (aud) is {found:?}, which does not include our client id {expected:?}"
            ),
            Self::AuthorizedParty { expected, found } => write!(
                f,
                "authorized party (azp) is {found:?}, expected our client id {expected:?}"
            ),
            Self::Expired { exp, now } => write!(
                f,
                "expired {}s ago (exp {exp}, now {now})",
                now.saturating_sub(*exp)
            ),
            Self::IssuedInFuture { iat, now } => write!(
                f,
                "issued {}s in the future (iat {iat}, now {now}); check that both clocks are right",
                iat.saturating_sub(*now)
            ),
            Self::NotYetValid { nbf, now } => write!(
                f,
                "not valid for another {}s (nbf {nbf}, now {now})",
                nbf.saturating_sub(*now)
            ),
            Self::Nonce => write!(f, "nonce does not match this sign-in"),
        }
    }
}

/// An OpenID Connect failure. [`OidcError::code`] gives a stable code for responses and
/// logs; the message says what is wrong and, where it can, what to do.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The configuration cannot work (a URL that is not http(s), an empty client id).
    #[error("OIDC configuration: {0}")]
    Config(String),
    /// The provider did not answer (connection refused, DNS, timeout).
    #[error("cannot reach the identity provider at {url}: {detail}")]
    Unreachable {
        /// What was called.
        url: String,
        /// Why it failed.
        detail: String,
    },
    /// No discovery document where the issuer says it must be.
    #[error(
        "no OpenID Connect discovery document at {url} ({detail}); check the issuer URL (for Authentik: {{AUTHENTIK_URL}}/application/o/{{app-slug}}/, and that the application exists)"
    )]
    DiscoveryMissing {
        /// Where it was looked for.
        url: String,
        /// What was found instead.
        detail: String,
    },
    /// A discovery document that cannot be used (a missing endpoint, only `none` signing).
    #[error("the discovery document at {url} cannot be used: {detail}")]
    DiscoveryInvalid {
        /// Where it was read.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The discovery document names another issuer than the one configured.
    #[error(
        "issuer mismatch: configured {configured}, but the provider calls itself {announced}; configure exactly the provider's issuer"
    )]
    IssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The issuer in the discovery document.
        announced: String,
    },
    /// The provider's key set could not be fetched or read.
    #[error("cannot read the identity provider's keys at {url}: {detail}")]
    Jwks {
        /// The `jwks_uri`.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The `state` that came back is not the one this sign-in sent (a forged or stale
    /// callback, or a sign-in started in another tab).
    #[error("the sign-in answer does not belong to this sign-in (state mismatch); start again")]
    StateMismatch,
    /// The provider refused to exchange the authorization code.
    #[error("the identity provider refused the authorization code: {0}")]
    CodeRejected(String),
    /// The userinfo endpoint failed or answered for another subject.
    #[error("userinfo: {0}")]
    Userinfo(String),
    /// A token was refused; says which check failed.
    #[error("token refused: {0}")]
    InvalidToken(TokenRejection),
}

impl OidcError {
    /// The stable code, from the catalogue: `auth.invalid_token` for every refused ID or
    /// bearer token.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Config(_) => ErrorCode::AuthConfig,
            Self::Unreachable { .. } | Self::Jwks { .. } => ErrorCode::AuthProviderUnavailable,
            Self::DiscoveryMissing { .. } => ErrorCode::AuthDiscoveryMissing,
            Self::DiscoveryInvalid { .. } => ErrorCode::AuthDiscoveryInvalid,
            Self::IssuerMismatch { .. } => ErrorCode::AuthIssuerMismatch,
            Self::StateMismatch => ErrorCode::AuthStateMismatch,
            Self::CodeRejected(_) => ErrorCode::AuthCodeRejected,
            Self::Userinfo(_) => ErrorCode::AuthUserinfoFailed,
            Self::InvalidToken(_) => ErrorCode::AuthInvalidToken,
        }
    }

    /// The failed check, when a token was refused.
    pub fn rejection(&self) -> Option<&TokenRejection> {
        match self {
            Self::InvalidToken(r) => Some(r),
            _ => None,
        }
    }
}

impl From<TokenRejection> for OidcError {
    fn from(r: TokenRejection) -> Self {
        Self::InvalidToken(r)
    }
}
