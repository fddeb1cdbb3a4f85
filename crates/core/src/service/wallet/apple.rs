//! The content of a member's Apple Wallet pass (`pass.json`, style `storeCard`): the shop's
//! name and colours, the card number as a QR code and a Code 128 barcode (the text the
//! till's search accepts), the balance as the primary field, and the issuer's contact on
//! the back as Apple's terms ask.
//!
//! Fields follow Apple's "Pass" reference (`formatVersion` 1, `passTypeIdentifier`,
//! `teamIdentifier`, `serialNumber`, `organizationName`, `description`, `barcodes`,
//! `storeCard`, `webServiceURL`, `authenticationToken`).

use crate::domain::Organization;
use crate::domain::ledger::Customer;
use crate::store::WalletLook;
use serde_json::{Value, json};

/// What the operator's Apple developer account gives every pass.
#[derive(Debug, Clone)]
pub struct AppleIssuer {
    /// The Pass Type ID (`pass.com.example.loyalty`).
    pub pass_type_id: String,
    /// The Apple team identifier (10 characters).
    pub team_id: String,
    /// The web service devices call for updates (`https://host/wallet/apple`; a shop's
    /// passes name `https://host/wallet/apple/{slug}`), when updates are served.
    pub web_service_url: Option<String>,
}

/// The shop's look on the pass: colours as `rgb(r, g, b)`, as Apple wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassColours {
    /// The card's background.
    pub background: String,
    /// Field values.
    pub foreground: String,
    /// Field labels.
    pub label: String,
}

impl Default for PassColours {
    fn default() -> Self {
        Self {
            background: "rgb(28, 37, 48)".to_owned(),
            foreground: "rgb(255, 255, 255)".to_owned(),
            label: "rgb(190, 200, 210)".to_owned(),
        }
    }
}

impl PassColours {
    /// Reads `#rrggbb` colours into Apple's `rgb(r, g, b)`; `None` when one is not of
    /// that form.
    pub fn from_hex(background: &str, foreground: &str, label: &str) -> Option<Self> {
        Some(Self {
            background: hex_to_rgb(background)?,
            foreground: hex_to_rgb(foreground)?,
            label: hex_to_rgb(label)?,
        })
    }
}

fn hex_to_rgb(s: &str) -> Option<String> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let n = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).ok();
    Some(format!("rgb({}, {}, {})", n(0)?, n(2)?, n(4)?))
}

/// The shop's look on its cards, from what its admin set (`super::look`): colours all
/// three or none, the built-in ones otherwise.
#[derive(Debug, Clone)]
pub struct ShopLook {
    /// Colours, as Apple wants them.
    pub colours: PassColours,
    /// The background as `#rrggbb`, as Google wants it.
    pub background_hex: String,
    /// `logo.png`, when the admin uploaded one.
    pub logo_png: Option<Vec<u8>>,
}

impl Default for ShopLook {
    fn default() -> Self {
        Self::of(None)
    }
}

impl ShopLook {
    /// The look of a stored [`WalletLook`] (the built-in one for `None` or its unset parts).
    pub fn of(stored: Option<&WalletLook>) -> Self {
        let set = stored.and_then(|l| l.colours.as_ref());
        let colours = set
            .and_then(|c| PassColours::from_hex(&c.background, &c.foreground, &c.label))
            .unwrap_or_default();
        let background_hex = set.map_or_else(|| "#1c2530".to_owned(), |c| c.background.clone());
        Self {
            colours,
            background_hex,
            logo_png: stored.and_then(|l| l.logo.as_ref()).map(|l| l.png.clone()),
        }
    }
}

/// The serial number of a member's pass: the organization and the customer's ids, so a
/// serial never names a card in another shop.
pub fn serial_number(customer: &Customer) -> String {
    format!("{}.{}", customer.organization_id, customer.id)
}

/// `pass.json` of `customer`'s card at `org`. `auth_token` is the pass's authentication
/// token (at least 16 characters, Apple's rule) that devices send back to the web service,
/// whose address for this shop is the issuer's `web_service_url` followed by the shop's
/// slug. `voided`: the pass was revoked (the member erased); a pass of a shop that is not
/// active is void too.
pub fn pass_json(
    issuer: &AppleIssuer,
    org: &Organization,
    customer: &Customer,
    colours: &PassColours,
    auth_token: &str,
    voided: bool,
) -> Value {
    let card = &customer.card_number;
    let barcode = |format: &str| {
        json!({
            "format": format,
            "message": card,
            "messageEncoding": "iso-8859-1",
            "altText": card,
        })
    };
    let mut contact = Vec::new();
    if let Some(n) = &org.contact_name {
        contact.push(n.clone());
    }
    if let Some(e) = &org.contact_email {
        contact.push(e.clone());
    }
    if let Some(p) = &org.contact_phone {
        contact.push(p.clone());
    }
    let mut back = vec![json!({
        "key": "issuer",
        "label": "Issuer",
        "value": if contact.is_empty() { org.name.clone() } else { format!("{}\n{}", org.name, contact.join("\n")) },
    })];
    back.push(json!({"key": "card", "label": "Card number", "value": card}));
    let mut pass = json!({
        "formatVersion": 1,
        "passTypeIdentifier": issuer.pass_type_id,
        "teamIdentifier": issuer.team_id,
        "serialNumber": serial_number(customer),
        "organizationName": org.name,
        "description": format!("{} member card", org.name),
        "logoText": org.name,
        "backgroundColor": colours.background,
        "foregroundColor": colours.foreground,
        "labelColor": colours.label,
        "sharingProhibited": true,
        "barcodes": [barcode("PKBarcodeFormatQR"), barcode("PKBarcodeFormatCode128")],
        "barcode": barcode("PKBarcodeFormatQR"),
        "storeCard": {
            "primaryFields": [{
                "key": "balance",
                "label": "Points",
                "value": customer.balance,
                "changeMessage": "Your balance is now %@ points",
            }],
            "secondaryFields": customer.name.as_ref().map(|n| vec![json!({"key": "member", "label": "Member", "value": n})]).unwrap_or_default(),
            "auxiliaryFields": [{"key": "card", "label": "Card", "value": card}],
            "backFields": back,
        },
    });
    if voided || org.status != crate::domain::OrgStatus::Active {
        pass["voided"] = json!(true);
    }
    if let (Some(url), Some(obj)) = (&issuer.web_service_url, pass.as_object_mut())
        && !auth_token.is_empty()
    {
        obj.insert(
            "webServiceURL".to_owned(),
            json!(format!("{}/{}", url.trim_end_matches('/'), org.slug)),
        );
        obj.insert("authenticationToken".to_owned(), json!(auth_token));
    }
    pass
}
