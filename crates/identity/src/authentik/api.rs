//! The HTTP side of the Authentik client: one call with the bearer token and a timeout,
//! repeated with exponential backoff after a 5xx or a transport failure (never after a
//! 4xx, which a repeat cannot fix), and Authentik's error bodies turned into one line.

use loyalty_core::directory::DirectoryError;
use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// The provider name in every error.
pub(super) const PROVIDER: &str = "authentik";

/// Longest pause between two attempts, however many retries are configured.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A `Failed` error of this provider.
pub(super) fn failed(action: &str, detail: impl Into<String>) -> DirectoryError {
    DirectoryError::Failed {
        provider: PROVIDER,
        action: action.to_owned(),
        detail: detail.into(),
    }
}

/// A `NotFound` error of this provider.
pub(super) fn not_found(action: &str) -> DirectoryError {
    DirectoryError::NotFound {
        provider: PROVIDER,
        action: action.to_owned(),
    }
}

/// An `AlreadyExists` error of this provider.
pub(super) fn already_exists(action: &str) -> DirectoryError {
    DirectoryError::AlreadyExists {
        provider: PROVIDER,
        action: action.to_owned(),
    }
}

/// Authentik's answer to one call (after any retries).
#[derive(Debug)]
pub(super) struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Body as text (empty for 204).
    pub body: String,
    /// `Location` of a redirect.
    location: Option<String>,
    /// How many attempts it took.
    attempts: u32,
}

impl Reply {
    /// The body parsed as `T`; a body of another shape means the URL is not Authentik's
    /// API (or a version too different to talk to).
    pub fn json<T: DeserializeOwned>(&self, action: &str) -> Result<T, DirectoryError> {
        serde_json::from_str(&self.body).map_err(|e| {
            failed(
                action,
                format!(
                    "{} with an answer this client does not understand ({e}): {}",
                    self.status.as_u16(),
                    excerpt(&self.body)
                ),
            )
        })
    }

    /// The body as JSON, when it is JSON.
    fn value(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// Whether the body is a DRF "detail" error (`{"detail": "..."}`), as from a failed
    /// object look-up, rather than some other 404 body.
    pub fn is_detail_error(&self) -> bool {
        self.value()
            .is_some_and(|v| v.get("detail").is_some_and(serde_json::Value::is_string))
    }

    /// The messages Authentik gave for one field of a validation error (`{"name": [..]}`;
    /// a single string is accepted too, as Authentik sometimes answers that way).
    pub fn field_errors(&self, field: &str) -> Vec<String> {
        match self.value().as_ref().and_then(|v| v.get(field)) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a 400 says that `field` is taken ("...already exists", "...must be unique").
    pub fn is_duplicate(&self, field: &str) -> bool {
        self.status == StatusCode::BAD_REQUEST
            && self.field_errors(field).iter().any(|m| {
                let m = m.to_lowercase();
                m.contains("already exists") || m.contains("unique")
            })
    }

    /// The status and Authentik's own words, on one line: `403 Token invalid/expired`.
    pub fn detail(&self) -> String {
        let code = self.status.as_u16();
        let words = self.words();
        let mut out = if words.is_empty() {
            format!("{code} {}", self.status.canonical_reason().unwrap_or(""))
        } else {
            format!("{code} {words}")
        };
        out = out.trim_end().to_owned();
        if let Some(hint) = self.hint(&words) {
            out.push_str(" (");
            out.push_str(&hint);
            out.push(')');
        }
        if self.attempts > 1 {
            out.push_str(&format!(" after {} attempts", self.attempts));
        }
        out
    }

    fn words(&self) -> String {
        match self.value() {
            Some(serde_json::Value::Object(map)) => {
                if let Some(serde_json::Value::String(d)) = map.get("detail") {
                    return d.clone();
                }
                map.iter()
                    .map(|(field, v)| {
                        let msgs = match v {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Array(items) => items
                                .iter()
                                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(" "),
                            other => other.to_string(),
                        };
                        if field == "non_field_errors" {
                            msgs
                        } else {
                            format!("{field}: {msgs}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            Some(other) => excerpt(&other.to_string()),
            // A proxy's HTML error page says less than the status line does.
            None if self.body.trim_start().starts_with('<') => String::new(),
            None => excerpt(&self.body),
        }
    }

    fn hint(&self, words: &str) -> Option<String> {
        match self.status {
            StatusCode::FORBIDDEN if words.contains("Token invalid") => Some(
                "Authentik refused the API token: check that it is set, not expired and of intent API"
                    .into(),
            ),
            StatusCode::FORBIDDEN if words.contains("credentials were not provided") => {
                Some("no API token reached Authentik; a proxy may strip the Authorization header".into())
            }
            StatusCode::FORBIDDEN => {
                Some("the token's user lacks a permission; use a token of an Authentik admin".into())
            }
            s if s.is_redirection() => Some(match &self.location {
                Some(to) => format!("redirected to {to}; configure that address as the Authentik URL"),
                None => "redirected; check the Authentik URL".into(),
            }),
            _ => None,
        }
    }
}

/// One line of at most 200 characters of `text`.
fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 200 {
        format!("{}...", flat.chars().take(200).collect::<String>())
    } else {
        flat
    }
}

/// A reqwest error with its causes, which say what actually went wrong.
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

/// The pause before attempt `attempt + 1` (the first retry waits `base`).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Authentik's API at one address, with one token.
pub(super) struct Api {
    http: reqwest::Client,
    /// `{base}/api/v3/`.
    root: Url,
    token: SecretString,
    retries: u32,
    backoff: Duration,
}

impl Api {
    /// A client; `root` must end with `/api/v3/`.
    pub fn new(
        http: reqwest::Client,
        root: Url,
        token: SecretString,
        retries: u32,
        backoff: Duration,
    ) -> Self {
        Self {
            http,
            root,
            token,
            retries,
            backoff,
        }
    }

    /// The API root (`{base}/api/v3/`).
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of `segments` under the API root, with a trailing slash (Authentik answers
    /// 404 without it) and `query`. Segments are percent-encoded, so a value can never
    /// change which endpoint is called.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments).push("");
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends one call, retrying after a 5xx or a transport failure. Any status comes
    /// back as a [`Reply`]; only a failure to get an answer at all is an error here.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        action: &str,
    ) -> Result<Reply, DirectoryError> {
        let attempts = self.retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(self.token.expose_secret())
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let location = response
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    response.text().await.map(|body| Reply {
                        status,
                        body,
                        location,
                        attempts: attempt,
                    })
                }
                Err(e) => Err(e),
            };
            let transient = match &outcome {
                Ok(reply) => reply.status.is_server_error(),
                // Connection refused or reset, DNS, timeouts, a body cut short: worth
                // another try. A request that could not even be built is not.
                Err(e) => !e.is_builder() && !e.is_redirect(),
            };
            if transient && attempt < attempts {
                let wait = backoff(self.backoff, attempt);
                let why = match &outcome {
                    Ok(reply) => reply.detail(),
                    Err(e) => describe(e),
                };
                tracing::warn!(
                    provider = PROVIDER,
                    action,
                    attempt,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "{why}; retrying"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            return outcome.map_err(|e| {
                let host = url.host_str().unwrap_or("?");
                let after = if attempt > 1 {
                    format!(" (after {attempt} attempts)")
                } else {
                    String::new()
                };
                let what = if e.is_timeout() {
                    "no answer in time from"
                } else {
                    "cannot reach"
                };
                failed(
                    action,
                    format!("{what} Authentik at {host}: {}{after}", describe(&e)),
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: body.into(),
            location: None,
            attempts: 1,
        }
    }

    #[test]
    fn error_bodies_become_one_line_in_authentiks_words() {
        assert!(
            reply(403, r#"{"detail":"Token invalid/expired"}"#)
                .detail()
                .starts_with("403 Token invalid/expired (")
        );
        assert_eq!(
            reply(400, r#"{"name":["Group with this name already exists."]}"#).detail(),
            "400 name: Group with this name already exists."
        );
        assert_eq!(
            reply(400, r#"{"non_field_errors":"No recovery flow set."}"#).detail(),
            "400 No recovery flow set."
        );
        assert_eq!(reply(500, "").detail(), "500 Internal Server Error");
        assert_eq!(
            reply(502, "<html><body>bad gateway</body></html>").detail(),
            "502 Bad Gateway"
        );
    }

    #[test]
    fn duplicates_are_told_from_other_validation_errors() {
        assert!(
            reply(400, r#"{"username":["This field must be unique."]}"#).is_duplicate("username")
        );
        assert!(
            reply(400, r#"{"name":["Group with this name already exists."]}"#).is_duplicate("name")
        );
        assert!(
            !reply(400, r#"{"email":["Enter a valid email address."]}"#).is_duplicate("username")
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_millis(200);
        assert_eq!(backoff(base, 1), Duration::from_millis(200));
        assert_eq!(backoff(base, 2), Duration::from_millis(400));
        assert_eq!(backoff(base, 3), Duration::from_millis(800));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
