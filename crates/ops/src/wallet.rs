//! The wallet outbox's transports and the worker `serve` runs: pushes to Apple Wallet
//! over APNs (HTTP/2), signed in with an APNs key (an ES256 JWT, renewed every 40
//! minutes as Apple asks) or with the Pass Type ID certificate; and updates of Google
//! Wallet objects through its REST API with an access token bought with the service
//! account's assertion. Metrics: `loyalty_wallet_pushes_sent_total`,
//! `loyalty_wallet_pushes_failed_total`.

use crate::config::AppleWalletConfig;
use anyhow::Context as _;
use async_trait::async_trait;
use loyalty_core::clock::Clock;
use loyalty_core::service::wallet::google::GoogleIssuer;
use loyalty_core::service::wallet::push::{
    self as service, GoogleTransport, PushAnswer, PushTransport,
};
use loyalty_core::store::Store;
use loyalty_identity::wallet::google::GoogleWallet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most pushes claimed per database round trip.
const BATCH: u32 = 16;
/// How long one APNs JWT is used (Apple refuses one older than an hour and asks that it
/// be renewed no more than every 20 minutes).
const JWT_LIFETIME_SECS: i64 = 40 * 60;

/// How the sender signs in to APNs.
enum Auth {
    /// An APNs key: each request carries `authorization: bearer <JWT>`.
    Token {
        key: jsonwebtoken::EncodingKey,
        key_id: String,
        team_id: String,
        cached: Mutex<Option<(String, i64)>>,
    },
    /// The Pass Type ID certificate, as the TLS client certificate.
    Certificate,
}

/// The APNs sender built from `[wallet.apple]` and `[wallet.apple.apns]`.
pub struct ApnsTransport {
    client: reqwest::Client,
    url: String,
    topic: String,
    auth: Auth,
}

impl std::fmt::Debug for ApnsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsTransport")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn need<'a>(v: &'a Option<String>, key: &str, fix: &str) -> anyhow::Result<&'a str> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow::anyhow!("wallet.apple.{key} is missing; {fix}"))
}

impl ApnsTransport {
    /// The sender, `None` while `wallet.apple.apns.auth` (or Apple Wallet itself) is
    /// unset; an error naming the key and the fix when the rest is missing or unreadable.
    pub fn from_config(apple: &AppleWalletConfig) -> anyhow::Result<Option<Self>> {
        let Some(auth) = apple
            .apns
            .auth
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        let topic = need(
            &apple.pass_type_id,
            "pass_type_id",
            "APNs pushes are for the passes of the Pass Type ID: set it first",
        )?
        .to_owned();
        loyalty_identity::authentik::install_crypto_provider();
        let url = apple.apns.url.trim_end_matches('/').to_owned();
        let mut builder = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none());
        let auth = match auth {
            "token" => {
                let path = need(
                    &apple.apns.key,
                    "apns.key",
                    "give the path of the APNs key file (AuthKey_XXXXXXXXXX.p8)",
                )?;
                let pem = std::fs::read(path).with_context(|| {
                    format!("wallet.apple.apns.key {path}: cannot read it; give the path of a readable .p8 file")
                })?;
                let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).map_err(|e| {
                    anyhow::anyhow!(
                        "wallet.apple.apns.key {path}: not an APNs key (.p8, EC P-256): {e}"
                    )
                })?;
                Auth::Token {
                    key,
                    key_id: need(
                        &apple.apns.key_id,
                        "apns.key_id",
                        "give the 10-character id Apple shows beside the key",
                    )?
                    .to_owned(),
                    team_id: need(
                        &apple.team_id,
                        "team_id",
                        "give the 10-character team identifier",
                    )?
                    .to_owned(),
                    cached: Mutex::new(None),
                }
            }
            "certificate" => {
                let cert = need(
                    &apple.certificate,
                    "certificate",
                    "the Pass Type ID certificate signs in to APNs",
                )?;
                let key = need(&apple.key, "key", "the certificate's key signs in to APNs")?;
                let mut pem = std::fs::read(cert)
                    .with_context(|| format!("wallet.apple.certificate {cert}: cannot read it"))?;
                pem.push(b'\n');
                pem.extend(
                    std::fs::read(key)
                        .with_context(|| format!("wallet.apple.key {key}: cannot read it"))?,
                );
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    anyhow::anyhow!("wallet.apple.certificate and wallet.apple.key: not a PEM certificate and key for APNs ({e})")
                })?;
                builder = builder.identity(identity);
                Auth::Certificate
            }
            other => anyhow::bail!(
                "wallet.apple.apns.auth is {other:?}; give \"token\" (an APNs key) or \"certificate\" (the Pass Type ID certificate)"
            ),
        };
        let client = builder.build().context("cannot build the APNs client")?;
        Ok(Some(Self {
            client,
            url,
            topic,
            auth,
        }))
    }

    /// The bearer JWT of the moment (token auth): made again once it is 40 minutes old.
    fn bearer(&self) -> Result<Option<String>, String> {
        let Auth::Token {
            key,
            key_id,
            team_id,
            cached,
        } = &self.auth
        else {
            return Ok(None);
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut cached = cached
            .lock()
            .map_err(|_| "APNs token cache poisoned".to_owned())?;
        if let Some((jwt, made)) = cached.as_ref()
            && now - made < JWT_LIFETIME_SECS
        {
            return Ok(Some(jwt.clone()));
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(key_id.clone());
        let claims = serde_json::json!({"iss": team_id, "iat": now});
        let jwt = jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| format!("cannot sign the APNs token: {e}"))?;
        *cached = Some((jwt.clone(), now));
        Ok(Some(jwt))
    }
}

#[async_trait]
impl PushTransport for ApnsTransport {
    async fn push(&self, push_token: &str) -> PushAnswer {
        let bearer = match self.bearer() {
            Ok(b) => b,
            Err(e) => return PushAnswer::Failed(None, e),
        };
        let mut req = self
            .client
            .post(format!("{}/3/device/{push_token}", self.url))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "background")
            .header("apns-priority", "5")
            .header("content-type", "application/json")
            .body("{}");
        if let Some(jwt) = bearer {
            req = req.header("authorization", format!("bearer {jwt}"));
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return PushAnswer::Failed(None, format!("APNs cannot be reached: {e}")),
        };
        let status = resp.status().as_u16();
        if status == 200 {
            return PushAnswer::Sent(status);
        }
        let body = resp.text().await.unwrap_or_default();
        let reason = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        if status == 410 || (status == 400 && reason == "BadDeviceToken") {
            PushAnswer::Gone(status, reason)
        } else {
            PushAnswer::Failed(Some(status), reason)
        }
    }
}

/// Updates of members' Google Wallet objects through the REST API.
pub struct GoogleRest {
    wallet: GoogleWallet,
    client: reqwest::Client,
    api_url: String,
    token: tokio::sync::Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for GoogleRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleRest")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GoogleRest {
    /// The sender for `wallet`, calling the API at `api_url`.
    pub fn new(wallet: GoogleWallet, api_url: &str) -> anyhow::Result<Self> {
        loyalty_identity::authentik::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the Google Wallet client")?;
        Ok(Self {
            wallet,
            client,
            api_url: api_url.trim_end_matches('/').to_owned(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// An access token of the moment, bought again five minutes before it expires.
    async fn access_token(&self) -> Result<String, String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && now < *until
        {
            return Ok(token.clone());
        }
        let assertion = self.wallet.token_assertion(now)?;
        let resp = self
            .client
            .post(&self.wallet.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("the Google token endpoint cannot be reached: {e}"))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let Some(token) = body["access_token"]
            .as_str()
            .filter(|_| status.is_success())
        else {
            return Err(format!(
                "the Google token endpoint refused the service account ({status}): {}",
                body["error"].as_str().unwrap_or("no reason given")
            ));
        };
        let lasts = body["expires_in"].as_i64().unwrap_or(3600);
        *cached = Some((token.to_owned(), now + lasts - 300));
        Ok(token.to_owned())
    }
}

#[async_trait]
impl GoogleTransport for GoogleRest {
    fn issuer(&self) -> &GoogleIssuer {
        &self.wallet.issuer
    }

    async fn update_object(&self, object_id: &str, update: &serde_json::Value) -> PushAnswer {
        let token = match self.access_token().await {
            Ok(t) => t,
            Err(e) => return PushAnswer::Failed(None, e),
        };
        let resp = match self
            .client
            .patch(format!(
                "{}/walletobjects/v1/loyaltyObject/{object_id}",
                self.api_url
            ))
            .bearer_auth(token)
            .json(update)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return PushAnswer::Failed(None, format!("Google Wallet cannot be reached: {e}"));
            }
        };
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return PushAnswer::Sent(status);
        }
        let body = resp.text().await.unwrap_or_default();
        let excerpt: String = body.chars().take(200).collect();
        if status == 404 {
            // The member never saved the card: Google holds no object to update.
            PushAnswer::Gone(status, excerpt)
        } else {
            if status == 401 {
                *self.token.lock().await = None;
            }
            PushAnswer::Failed(Some(status), excerpt)
        }
    }
}

/// One pass over the wallet outbox with metrics.
pub async fn send(
    store: &dyn Store,
    clock: &dyn Clock,
    apns: Option<&ApnsTransport>,
    google: Option<&GoogleRest>,
) -> anyhow::Result<service::PushReport> {
    let report = service::send_due(
        store,
        clock,
        apns.map(|t| t as &dyn PushTransport),
        google.map(|t| t as &dyn GoogleTransport),
        BATCH,
    )
    .await?;
    metrics::counter!("loyalty_wallet_pushes_sent_total").increment(report.sent);
    metrics::counter!("loyalty_wallet_pushes_failed_total")
        .increment(report.retrying + report.given_up);
    Ok(report)
}

/// The worker `serve` runs: sends the wallet outbox every `poll_interval_secs`.
pub async fn worker(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    apns: Option<ApnsTransport>,
    google: Option<GoogleRest>,
    poll_interval_secs: u64,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(poll_interval_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = send(
            store.as_ref(),
            clock.as_ref(),
            apns.as_ref(),
            google.as_ref(),
        )
        .await
        {
            tracing::warn!(error = %e, "wallet outbox pass failed");
        }
    }
}
