//! The OpenID Connect relying party (`loyalty_identity::oidc`) against a REAL OpenID
//! provider: the npm package `oidc-provider` run by node (see provider/server.js), with a
//! confidential client, PKCE required and a `groups` claim. A sign-in goes through its
//! login and consent pages over HTTP; bad tokens are made with the provider's own key
//! (so that exactly one check fails) or by editing its real tokens.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod bearer;
mod browser;
mod discovery;
mod provider;
mod signin;
mod tokens;
