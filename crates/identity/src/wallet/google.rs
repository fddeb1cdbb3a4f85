//! Google Wallet signing: the "Save to Google Wallet" link (a JWT signed RS256 with the
//! operator's service account key) and the service account's assertion that buys an
//! OAuth access token for the Google Wallet REST API. The content is
//! `loyalty_core::service::wallet::google`'s.

use loyalty_core::domain::Organization;
use loyalty_core::domain::ledger::Customer;
use loyalty_core::service::wallet::google::{self, GoogleIssuer};
use serde::Deserialize;
use std::path::Path;

/// The OAuth scope of the Google Wallet API.
pub const SCOPE: &str = "https://www.googleapis.com/auth/wallet_object.issuer";

/// A service account key file (the JSON Google Cloud hands out), the fields used.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    token_uri: Option<String>,
}

/// The operator's Google Wallet issuer with its service account's signing key.
#[derive(Clone)]
pub struct GoogleWallet {
    /// Issuer id, service account, origin.
    pub issuer: GoogleIssuer,
    /// Where access tokens are bought (the key file's `token_uri`).
    pub token_uri: String,
    key: jsonwebtoken::EncodingKey,
}

impl std::fmt::Debug for GoogleWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleWallet")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl GoogleWallet {
    /// Reads the service account key file; the error names the key and the fix.
    pub fn from_key_file(issuer_id: &str, key_file: &Path, origin: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(key_file).map_err(|e| {
            format!(
                "wallet.google.service_account_key {}: {e}; give the path of the service account's JSON key file",
                key_file.display()
            )
        })?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "wallet.google.service_account_key {}: not a service account key file ({e}); download a JSON key of the service account",
                key_file.display()
            )
        })?;
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(file.private_key.as_bytes()).map_err(|e| {
                format!(
                    "wallet.google.service_account_key {}: its private_key is not an RSA key ({e})",
                    key_file.display()
                )
            })?;
        Ok(Self {
            issuer: GoogleIssuer {
                issuer_id: issuer_id.to_owned(),
                service_account: file.client_email,
                origin: origin.to_owned(),
            },
            token_uri: file
                .token_uri
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned()),
            key,
        })
    }

    fn sign(&self, claims: &serde_json::Value) -> Result<String, String> {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            claims,
            &self.key,
        )
        .map_err(|e| format!("cannot sign the Google Wallet JWT: {e}"))
    }

    /// The "Save to Google Wallet" link of `customer`'s card at `org` in the shop's
    /// `look`, made at `iat`.
    pub fn save_link(
        &self,
        org: &Organization,
        look: &loyalty_core::service::wallet::apple::ShopLook,
        customer: &Customer,
        iat: i64,
    ) -> Result<String, String> {
        let jwt = self.sign(&google::save_claims(&self.issuer, org, look, customer, iat))?;
        Ok(format!("https://pay.google.com/gp/v/save/{jwt}"))
    }

    /// The service account's assertion for an access token (RFC 7523), valid an hour.
    pub fn token_assertion(&self, iat: i64) -> Result<String, String> {
        self.sign(&serde_json::json!({
            "iss": self.issuer.service_account,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": iat,
            "exp": iat + 3600,
        }))
    }
}
