//! Sign-in rate limiting: at most [`MAX_PER_ACCOUNT`] failed sign-ins per account and
//! [`MAX_PER_ADDRESS`] per client address in [`WINDOW`]. Counters live in the database
//! (`login_throttle`), so every instance behind a load balancer sees the same numbers.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use loyalty_core::store::{Store, StoreError};
use std::convert::Infallible;
use std::net::SocketAddr;
use time::OffsetDateTime;

/// Length of a counting window.
pub(crate) const WINDOW: time::Duration = time::Duration::minutes(15);
/// Failed sign-ins allowed per account in a window.
pub(crate) const MAX_PER_ACCOUNT: i64 = 5;
/// Failed sign-ins allowed per address in a window.
pub(crate) const MAX_PER_ADDRESS: i64 = 30;

/// The client's address as the connection shows it (`unknown` in tests without one).
/// A proxy's `X-Forwarded-For` is not trusted: any client could forge it.
#[derive(Debug, Clone)]
pub(crate) struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

fn keys(username: &str, addr: &ClientAddr) -> (String, String) {
    (
        format!("user:{}", username.trim().to_lowercase()),
        format!("addr:{}", addr.0),
    )
}

/// Whether sign-in is refused for now for this account or address.
pub(crate) async fn blocked(
    store: &dyn Store,
    now: OffsetDateTime,
    username: &str,
    addr: &ClientAddr,
) -> Result<bool, StoreError> {
    let (user, address) = keys(username, addr);
    let since = now - WINDOW;
    Ok(store.login_failures(&user, since).await? >= MAX_PER_ACCOUNT
        || store.login_failures(&address, since).await? >= MAX_PER_ADDRESS)
}

/// Counts a failed sign-in against the account and the address.
pub(crate) async fn failed(
    store: &dyn Store,
    now: OffsetDateTime,
    username: &str,
    addr: &ClientAddr,
) -> Result<(), StoreError> {
    let (user, address) = keys(username, addr);
    let since = now - WINDOW;
    store.record_login_failure(&user, since, now).await?;
    store.record_login_failure(&address, since, now).await?;
    Ok(())
}

/// Forgets the account's failures after a successful sign-in (the address keeps its
/// count, so one good account does not unlock guessing at others).
pub(crate) async fn succeeded(store: &dyn Store, username: &str) -> Result<(), StoreError> {
    store
        .clear_login_failures(&format!("user:{}", username.trim().to_lowercase()))
        .await
}
