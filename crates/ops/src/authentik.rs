//! Reaching the Authentik of the configuration: its API client, its errors in plain
//! words, and how far its clock is from ours (shared by `loyalty authentik check` and
//! the doctor).

use crate::UserError;
use crate::config::Config;
use loyalty_core::directory::DirectoryError;
use loyalty_identity::authentik::{AuthentikDirectory, AuthentikOptions};
use std::time::{Duration, Instant};

/// The Authentik client of the configuration.
pub fn directory(config: &Config) -> anyhow::Result<AuthentikDirectory> {
    let url = config.identity.authentik_url.as_deref().ok_or_else(|| {
        UserError(
            "AUTHENTIK_URL is not set; set it to Authentik's base URL, such as https://auth.example.com".into(),
        )
    })?;
    let token = config.identity.authentik_api_token.clone().ok_or_else(|| {
        UserError(
            "AUTHENTIK_API_TOKEN (or AUTHENTIK_API_TOKEN_FILE) is not set; create an API token in Authentik (Directory > Tokens and App passwords, intent API)".into(),
        )
    })?;
    AuthentikDirectory::new(url, token, AuthentikOptions::default())
        .map_err(|e| UserError(e.to_string()).into())
}

/// An Authentik error in plain words: unreachable, token invalid, token lacks
/// permissions, or Authentik's own message.
pub fn diagnose(e: &DirectoryError) -> String {
    let text = e.to_string();
    if text.contains("cannot reach Authentik") || text.contains("no answer in time") {
        format!("unreachable: {text}")
    } else if text.contains("403 Token invalid") || text.contains("credentials were not provided") {
        format!("token invalid: {text}")
    } else if text.contains(": 403 ") {
        format!("token lacks permissions: {text}")
    } else {
        text
    }
}

/// Seconds the local clock is ahead of (positive) or behind Authentik's, from the `Date`
/// header of an answer (one-second resolution), or why it cannot be told.
pub async fn clock_skew(base: &str) -> Result<i64, String> {
    let url = format!("{}/-/health/live/", base.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let sent = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
    let midpoint = sent + started.elapsed() / 2;
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .ok_or("Authentik's answer has no Date header")?;
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let theirs = time::PrimitiveDateTime::parse(date, &format)
        .map_err(|e| format!("Date header {date:?}: {e}"))?
        .assume_utc();
    Ok((midpoint - theirs).whole_seconds())
}
