//! The content of a member's card in Google Wallet: a loyalty class per shop and a
//! loyalty object per member (Google Wallet API, `walletobjects/v1`), and the claims of
//! the "Save to Google Wallet" JWT that carries both. Signing and the REST calls are
//! `loyalty_identity::wallet::google`'s.

use super::apple::ShopLook;
use crate::domain::ledger::Customer;
use crate::domain::{OrgStatus, Organization};
use serde_json::{Value, json};

/// The operator's Google Wallet issuer and service account.
#[derive(Debug, Clone)]
pub struct GoogleIssuer {
    /// The issuer id (digits) from the Google Pay & Wallet Console.
    pub issuer_id: String,
    /// The service account's email (`client_email` of its key file).
    pub service_account: String,
    /// This service's public address, the JWT's `origins`.
    pub origin: String,
}

/// The loyalty class id of a shop: `{issuer}.{organization id}`.
pub fn class_id(issuer: &GoogleIssuer, org: &Organization) -> String {
    format!("{}.{}", issuer.issuer_id, org.id)
}

/// The loyalty object id of a member: `{issuer}.{customer id}` (customer ids are unique
/// across shops).
pub fn object_id(issuer: &GoogleIssuer, customer: &Customer) -> String {
    format!("{}.{}", issuer.issuer_id, customer.id)
}

/// The shop's loyalty class: its name, colour and logo (served by this service at
/// `/o/{slug}/wallet/logo.png`).
pub fn class_json(issuer: &GoogleIssuer, org: &Organization, look: &ShopLook) -> Value {
    json!({
        "id": class_id(issuer, org),
        "issuerName": org.name,
        "programName": org.name,
        "programLogo": {
            "sourceUri": {"uri": format!("{}/o/{}/wallet/logo.png", issuer.origin.trim_end_matches('/'), org.slug)},
        },
        "hexBackgroundColor": look.background_hex,
        "reviewStatus": "UNDER_REVIEW",
    })
}

/// The object's state: `ACTIVE` while the member is not erased and the shop is active.
fn state(active: bool) -> &'static str {
    if active { "ACTIVE" } else { "INACTIVE" }
}

/// The member's loyalty object: card number (as a QR code the till's search accepts),
/// name, balance.
pub fn object_json(
    issuer: &GoogleIssuer,
    org: &Organization,
    customer: &Customer,
    voided: bool,
) -> Value {
    let mut object = json!({
        "id": object_id(issuer, customer),
        "classId": class_id(issuer, org),
        "state": state(!voided && org.status == OrgStatus::Active),
        "accountId": customer.card_number,
        "loyaltyPoints": {"label": "Points", "balance": {"int": customer.balance}},
        "barcode": {"type": "QR_CODE", "value": customer.card_number, "alternateText": customer.card_number},
    });
    if let Some(name) = &customer.name {
        object["accountName"] = json!(name);
    }
    object
}

/// The fields of an object that change with the balance (or an erasure, or the shop's
/// suspension: `active` false), for a PATCH.
pub fn object_update(customer: &Customer, active: bool) -> Value {
    json!({
        "state": state(active),
        "loyaltyPoints": {"label": "Points", "balance": {"int": customer.balance}},
    })
}

/// The claims of the "Save to Google Wallet" JWT (`typ` `savetowallet`) carrying the
/// shop's class and the member's object.
pub fn save_claims(
    issuer: &GoogleIssuer,
    org: &Organization,
    look: &ShopLook,
    customer: &Customer,
    iat: i64,
) -> Value {
    json!({
        "iss": issuer.service_account,
        "aud": "google",
        "typ": "savetowallet",
        "iat": iat,
        "origins": [issuer.origin],
        "payload": {
            "loyaltyClasses": [class_json(issuer, org, look)],
            "loyaltyObjects": [object_json(issuer, org, customer, false)],
        },
    })
}
