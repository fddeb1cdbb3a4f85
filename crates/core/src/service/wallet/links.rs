//! The till's QR code for a member's card: a link of ours, made by a cashier or admin for
//! the member in front of them, that the member's phone opens once, within
//! [`TILL_LINK_MINUTES`], without signing in (it serves the `.pkpass` or sends the phone
//! to Google's save link). The token is 32 random bytes; only its hash is kept.

use crate::Error;
use crate::domain::ledger::{Customer, CustomerKey, PointsError};
use crate::domain::{CustomerId, Organization};
use crate::error::ErrorCode;
use crate::secret::{hash_token, random_token};
use crate::service::context::{Ctx, STAFF};
use crate::store::Store;
use time::OffsetDateTime;

/// How long a till link opens the card.
pub const TILL_LINK_MINUTES: i64 = 10;

/// A fresh link token for `customer`'s card (staff only; a customer of this organization).
pub async fn till_link(ctx: &Ctx<'_>, customer: CustomerId) -> Result<String, Error> {
    ctx.require(STAFF, "show a member's wallet card code")?;
    ctx.store
        .find_customer(ctx.org.id, &CustomerKey::Id(customer))
        .await?
        .ok_or(Error::Points(PointsError::CustomerNotFound))?;
    let token = random_token();
    let now = ctx.clock.now();
    ctx.store
        .insert_wallet_link(
            ctx.org.id,
            customer,
            &hash_token(&token),
            now,
            now + time::Duration::minutes(TILL_LINK_MINUTES),
        )
        .await?;
    Ok(token)
}

/// Opens a till link of `org` once: the member it was made for. `wallet.link_invalid`
/// when the token is not one of `org`'s links, was used, or expired.
pub async fn open_till_link(
    store: &dyn Store,
    org: &Organization,
    token: &str,
    now: OffsetDateTime,
) -> Result<Customer, Error> {
    let invalid = || {
        Error::NotFound(
            ErrorCode::WalletLinkInvalid,
            "wallet card link (used, expired or unknown)".into(),
        )
    };
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let Some(id) = store
        .use_wallet_link(org.id, &hash_token(token), now)
        .await?
    else {
        return Err(invalid());
    };
    store
        .find_customer(org.id, &CustomerKey::Id(id))
        .await?
        .ok_or_else(invalid)
}
