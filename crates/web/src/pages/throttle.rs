//! Sign-in rate limiting that an attacker cannot turn into a lockout of the owner.
//!
//! - A browser with a valid device cookie for the account (see
//!   [`loyalty_identity::device`], issued at each successful sign-in) has its own
//!   allowance: [`MAX_PER_DEVICE`] failures in [`WINDOW`], counted for that cookie only.
//! - Every other client shares the account's allowance, [`MAX_PER_ACCOUNT`] failures in
//!   [`WINDOW`], and its address's, [`MAX_PER_ADDRESS`].
//!
//! The address is the client's real one ([`ClientAddr`]: `X-Forwarded-For` only through
//! `[server] trusted_proxies`). Counters live in the database (`login_throttle`), so
//! every instance behind a load balancer sees the same numbers.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use loyalty_core::store::{Store, StoreError};
use loyalty_identity::device::{COOKIE_PREFIX, Device, DeviceCookie, LIFETIME};
use std::convert::Infallible;
use std::net::SocketAddr;
use time::OffsetDateTime;

/// Length of a counting window.
pub(crate) const WINDOW: time::Duration = time::Duration::minutes(15);
/// Failed sign-ins allowed per account in a window, for clients without its device cookie.
pub(crate) const MAX_PER_ACCOUNT: i64 = 5;
/// Failed sign-ins allowed per client address in a window, for clients without a device
/// cookie of the account.
pub(crate) const MAX_PER_ADDRESS: i64 = 30;
/// Failed sign-ins allowed per recognized device in a window.
pub(crate) const MAX_PER_DEVICE: i64 = 5;

/// The client's address: the TCP peer, or what a trusted proxy says in
/// `X-Forwarded-For` (see [`crate::client`]); `unknown` in tests without a connection.
#[derive(Debug, Clone)]
pub(crate) struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(
                    || "unknown".to_owned(),
                    |c| {
                        state
                            .config
                            .trusted_proxies
                            .client(c.0.ip(), &parts.headers)
                            .to_string()
                    },
                ),
        ))
    }
}

/// Whose allowance a sign-in attempt uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Allowance {
    /// A browser with a valid device cookie for the account: its own counter.
    Device(Device),
    /// Anyone else: the account's and the address's shared counters.
    Shared,
}

impl Allowance {
    fn keys(&self, username: &str, addr: &ClientAddr) -> Vec<(String, i64)> {
        match self {
            Allowance::Device(d) => vec![(format!("device:{}", d.id), MAX_PER_DEVICE)],
            Allowance::Shared => vec![
                (account_key(username), MAX_PER_ACCOUNT),
                (format!("addr:{}", addr.0), MAX_PER_ADDRESS),
            ],
        }
    }
}

fn account_key(username: &str) -> String {
    format!("user:{}", username.trim().to_lowercase())
}

/// The device cookies a request carries (name, value).
pub(crate) fn device_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| name.starts_with(COOKIE_PREFIX))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// The `Set-Cookie` value of a device cookie: sent back only to `/login`, never to
/// scripts or other sites.
pub(crate) fn set_device_cookie(cookie: &DeviceCookie, secure: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={}; Path=/login; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cookie.name,
        cookie.value,
        LIFETIME.whole_seconds(),
        if secure { "; Secure" } else { "" }
    ))
    .ok()
}

/// Whether sign-in is refused for now for this allowance.
pub(crate) async fn blocked(
    store: &dyn Store,
    now: OffsetDateTime,
    username: &str,
    addr: &ClientAddr,
    allowance: &Allowance,
) -> Result<bool, StoreError> {
    let since = now - WINDOW;
    for (key, max) in allowance.keys(username, addr) {
        if store.login_failures(&key, since).await? >= max {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Counts a failed sign-in against the allowance's counters.
pub(crate) async fn failed(
    store: &dyn Store,
    now: OffsetDateTime,
    username: &str,
    addr: &ClientAddr,
    allowance: &Allowance,
) -> Result<(), StoreError> {
    let since = now - WINDOW;
    for (key, _) in allowance.keys(username, addr) {
        store.record_login_failure(&key, since, now).await?;
    }
    Ok(())
}

/// Forgets the failures counted for this allowance's account or device after a
/// successful sign-in (the address keeps its count, so one good account does not
/// unlock guessing at others).
pub(crate) async fn succeeded(
    store: &dyn Store,
    username: &str,
    allowance: &Allowance,
) -> Result<(), StoreError> {
    let key = match allowance {
        Allowance::Device(d) => format!("device:{}", d.id),
        Allowance::Shared => account_key(username),
    };
    store.clear_login_failures(&key).await
}
