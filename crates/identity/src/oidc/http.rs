//! The relying party's calls to the provider: no redirects followed (a redirect is
//! reported with where it points), a timeout, and answers of bounded size.

use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{RequestBuilder, StatusCode};
use std::time::Duration;
use url::Url;

/// Largest answer read from the provider (discovery, JWKS, token, userinfo).
const MAX_BODY: usize = 1024 * 1024;

/// An answer: status, `Location` of a redirect, and the body.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// One line saying what came back instead of what was wanted.
    pub fn describe(&self) -> String {
        let code = self.status.as_u16();
        if self.status.is_redirection() {
            return match &self.location {
                Some(to) => format!("{code} redirect to {to} (redirects are not followed)"),
                None => format!("{code} redirect (redirects are not followed)"),
            };
        }
        let text = String::from_utf8_lossy(&self.body);
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.is_empty() || flat.starts_with('<') {
            format!("{code} {}", self.status.canonical_reason().unwrap_or(""))
                .trim_end()
                .to_owned()
        } else {
            let short: String = flat.chars().take(200).collect();
            format!("{code} {short}")
        }
    }

    /// The body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("not the expected JSON: {e}"))
    }
}

/// The HTTP client of the relying party.
pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::authentik::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // A redirect could carry a code or a client secret elsewhere: report it instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("loyalty/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// A reqwest error with its causes, which say what actually went wrong.
pub(super) fn describe_error(e: &reqwest::Error) -> String {
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

/// Sends `request` (asking for JSON) and reads the answer, whatever its status. `Err`
/// only when no answer came, or it was too large.
pub(super) async fn send(request: RequestBuilder) -> Result<Answer, String> {
    let mut response = request
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| describe_error(&e))?;
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header(LOCATION);
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe_error(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        location,
        content_type,
        body,
    })
}

/// Checks that `url` can be called: http or https (https only with the `tls` feature),
/// with a host.
pub(super) fn check_url(what: &str, url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(format!(
                "{what} {url} is https, which needs loyalty-identity's `tls` feature (this build lacks it)"
            ));
        }
        other => {
            return Err(format!(
                "{what} {url}: scheme {other:?} is not http or https"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{what} {url} has no host"));
    }
    Ok(())
}
