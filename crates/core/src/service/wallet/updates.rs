//! Apple's PassKit web service, the rules: which pass a request names (the serial
//! number `{organization}.{customer}` of a pass of this organization and of the operator's
//! Pass Type ID), who may ask for it (the `Authorization: ApplePass <token>` of one of its
//! downloads, compared by hash), and what "passes updated since" answers. The HTTP side
//! is `loyalty_web::wallet`; the pass's content is [`super::apple`].

use crate::Error;
use crate::domain::ledger::{Customer, CustomerKey};
use crate::domain::{CustomerId, Organization};
use crate::error::ErrorCode;
use crate::secret::{hash_token, random_token};
use crate::store::{Store, WalletPass};
use time::OffsetDateTime;

/// A pass a request named: the member, their pass as stored, and the authentication
/// token the device presented (the next version of the pass carries it again).
#[derive(Debug, Clone)]
pub struct AuthorizedPass {
    /// The member as they are now.
    pub customer: Customer,
    /// The stored pass.
    pub pass: WalletPass,
    /// The token the device sent.
    pub token: String,
}

/// The answer to "which passes changed": serial numbers and the tag to send next time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatedSerials {
    /// Serial numbers of the passes that changed.
    pub serial_numbers: Vec<String>,
    /// `lastUpdated`: the tag the device sends back as `passesUpdatedSince`.
    pub last_updated: String,
}

/// Records a download of `customer`'s pass and returns the fresh authentication token it
/// carries (32 random bytes, hex; only its hash is kept).
pub async fn issue(
    store: &dyn Store,
    org: &Organization,
    customer: CustomerId,
    now: OffsetDateTime,
) -> Result<(String, WalletPass), Error> {
    let token = random_token();
    let pass = store
        .issue_wallet_pass(org.id, customer, &hash_token(&token), now)
        .await?;
    Ok((token, pass))
}

/// The member a serial number names, when it is one of `org`'s.
pub fn parse_serial(org: &Organization, serial: &str) -> Option<CustomerId> {
    let (o, c) = serial.split_once('.')?;
    if o != org.id.to_string() {
        return None;
    }
    c.parse::<uuid::Uuid>().ok().map(CustomerId)
}

fn not_found(serial: &str) -> Error {
    Error::NotFound(ErrorCode::NotFound, format!("pass {serial}"))
}

/// Checks the pass type and serial number of a request and its `Authorization` header
/// (`ApplePass <token>`): 401 `auth.required` without one, 401 `auth.invalid_token` when
/// the token is not one of this pass's, 404 when the pass is not the operator's type or
/// not of this organization.
pub async fn authorize(
    store: &dyn Store,
    org: &Organization,
    pass_type_id: &str,
    issuer_pass_type_id: &str,
    serial: &str,
    authorization: Option<&str>,
) -> Result<AuthorizedPass, Error> {
    if pass_type_id != issuer_pass_type_id {
        return Err(not_found(serial));
    }
    let customer = parse_serial(org, serial).ok_or_else(|| not_found(serial))?;
    let token = authorization
        .and_then(|h| h.strip_prefix("ApplePass "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::Unauthenticated(
                ErrorCode::AuthRequired,
                "send the pass's authentication token as `Authorization: ApplePass <token>`".into(),
            )
        })?;
    let pass = store
        .wallet_pass_by_token(org.id, customer, &hash_token(token))
        .await?
        .ok_or_else(|| {
            Error::Unauthenticated(
                ErrorCode::AuthInvalidToken,
                "this is not an authentication token of this pass".into(),
            )
        })?;
    let customer = store
        .find_customer(org.id, &CustomerKey::Id(customer))
        .await?
        .ok_or_else(|| not_found(serial))?;
    Ok(AuthorizedPass {
        customer,
        pass,
        token: token.to_owned(),
    })
}

/// A device library identifier or push token: 1 to 200 letters, digits, `-` or `_`
/// (Apple sends hex).
fn device_text(field: &str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            "must be 1 to 200 letters, digits, '-' or '_'",
        ))
    }
}

/// Registers `device` for updates of an authorized pass; `true` when new (201), `false`
/// when it was registered already (200).
pub async fn register(
    store: &dyn Store,
    org: &Organization,
    pass: &AuthorizedPass,
    device: &str,
    push_token: &str,
    now: OffsetDateTime,
) -> Result<bool, Error> {
    device_text("deviceLibraryIdentifier", device)?;
    device_text("pushToken", push_token)?;
    Ok(store
        .register_wallet_device(org.id, pass.customer.id, device, push_token, now)
        .await?)
}

/// Ends `device`'s registration for an authorized pass (200 whether or not it was
/// registered).
pub async fn unregister(
    store: &dyn Store,
    org: &Organization,
    pass: &AuthorizedPass,
    device: &str,
) -> Result<(), Error> {
    device_text("deviceLibraryIdentifier", device)?;
    store
        .unregister_wallet_device(org.id, pass.customer.id, device)
        .await?;
    Ok(())
}

/// The serial numbers of `device`'s passes in `org` changed after the tag
/// `passes_updated_since` (all with `None`); `None` when there are none (204). A tag that
/// is not one of ours is refused (400).
pub async fn updated_serials(
    store: &dyn Store,
    org: &Organization,
    pass_type_id: &str,
    issuer_pass_type_id: &str,
    device: &str,
    passes_updated_since: Option<&str>,
) -> Result<Option<UpdatedSerials>, Error> {
    device_text("deviceLibraryIdentifier", device)?;
    if pass_type_id != issuer_pass_type_id {
        return Ok(None);
    }
    let since = match passes_updated_since.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            Error::field(
                "passesUpdatedSince",
                "must be a tag this service gave as lastUpdated",
            )
        })?),
    };
    let passes = store
        .wallet_passes_for_device(org.id, device, since)
        .await?;
    let Some(last) = passes.iter().map(|p| p.updated_us).max() else {
        return Ok(None);
    };
    Ok(Some(UpdatedSerials {
        serial_numbers: passes
            .iter()
            .map(|p| format!("{}.{}", org.id, p.customer))
            .collect(),
        last_updated: last.to_string(),
    }))
}

/// When the pass last changed, to the second (its `Last-Modified`).
pub fn last_modified(pass: &WalletPass) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(pass.updated_us.div_euclid(1_000_000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Whether a device holding the version of `if_modified_since` (an HTTP date) already has
/// the latest pass (304).
pub fn unchanged_since(pass: &WalletPass, if_modified_since: Option<OffsetDateTime>) -> bool {
    if_modified_since.is_some_and(|since| last_modified(pass) <= since)
}
