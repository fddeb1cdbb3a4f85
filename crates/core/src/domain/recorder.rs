//! The recorder token of a purchase the till records offline: who recorded it, in which
//! organization, on which till, until when. The server gives it to the till page of a
//! signed-in staff member; the device stores it with each purchase it queues, and the
//! server checks it when the purchase is sent, so the purchase is recorded as the
//! person who made it, whoever is signed in when the connection returns.
//!
//! The token is `{payload}.{mac}`: the payload is the claims as JSON in unpadded
//! base64url, the MAC is HMAC-SHA-256 of the payload with the installation's secret for
//! recorder tokens, in hex. Nothing in it is secret (it names a member id and a
//! device id), but nobody without the secret can make or change one.

use crate::domain::OrgId;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a recorder token is accepted after it was issued: a purchase recorded
/// offline must be sent within this time.
pub const LIFETIME: Duration = Duration::days(7);

/// What a recorder token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorder {
    /// The organization.
    #[serde(rename = "o")]
    pub org: Uuid,
    /// The member row of the person who recorded.
    #[serde(rename = "m")]
    pub member: Uuid,
    /// The person's name as the ledger and the audit log show it.
    #[serde(rename = "l")]
    pub label: String,
    /// The till: the random id the device made once and keeps.
    #[serde(rename = "d")]
    pub device: Uuid,
    /// When the token stops being accepted (Unix seconds).
    #[serde(rename = "e")]
    pub expires: i64,
}

/// Why a recorder token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token, or its MAC does not match (made or changed without the secret).
    Forged,
    /// Past its expiry.
    Expired,
    /// Issued for another organization.
    OtherOrg,
    /// Issued for another till.
    OtherDevice,
}

impl Refusal {
    /// What the refusal means, for the message.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Forged => "it was not issued by this server",
            Refusal::Expired => "it is older than 7 days",
            Refusal::OtherOrg => "it was issued for another organization",
            Refusal::OtherDevice => "it was issued for another till",
        }
    }
}

fn mac(secret: &[u8], payload: &str) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    m.update(b"loyalty till recorder v1\0");
    m.update(payload.as_bytes());
    Some(m)
}

/// A token for `member` (named `label`) of `org` on `device`, valid for [`LIFETIME`]
/// from `now`; `None` only for an empty secret.
pub fn issue(
    secret: &[u8],
    org: OrgId,
    member: Uuid,
    label: &str,
    device: Uuid,
    now: OffsetDateTime,
) -> Option<String> {
    if secret.is_empty() {
        return None;
    }
    let claims = Recorder {
        org: org.0,
        member,
        label: label.to_owned(),
        device,
        expires: (now + LIFETIME).unix_timestamp(),
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).ok()?);
    let tag = hex::encode(mac(secret, &payload)?.finalize().into_bytes());
    Some(format!("{payload}.{tag}"))
}

/// The claims of `token` when it was issued with `secret`, for `org` and `device`, and
/// has not expired at `now`.
pub fn verify(
    secret: &[u8],
    token: &str,
    org: OrgId,
    device: Uuid,
    now: OffsetDateTime,
) -> Result<Recorder, Refusal> {
    let (payload, tag) = token.trim().split_once('.').ok_or(Refusal::Forged)?;
    let tag = hex::decode(tag).map_err(|_| Refusal::Forged)?;
    mac(secret, payload)
        .ok_or(Refusal::Forged)?
        .verify_slice(&tag)
        .map_err(|_| Refusal::Forged)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Refusal::Forged)?;
    let claims: Recorder = serde_json::from_slice(&bytes).map_err(|_| Refusal::Forged)?;
    if claims.org != org.0 {
        return Err(Refusal::OtherOrg);
    }
    if claims.device != device {
        return Err(Refusal::OtherDevice);
    }
    if claims.expires <= now.unix_timestamp() {
        return Err(Refusal::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-05 14:30:00 UTC)
    }

    #[test]
    fn a_token_is_accepted_only_for_its_org_device_secret_and_week() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let (org, member, device) = (OrgId(Uuid::new_v4()), Uuid::new_v4(), Uuid::new_v4());
        let token = issue(secret, org, member, "carl", device, now()).unwrap();
        let ok = verify(secret, &token, org, device, now() + Duration::days(6)).unwrap();
        assert_eq!((ok.member, ok.label.as_str()), (member, "carl"));
        assert_eq!(
            verify(secret, &token, org, device, now() + LIFETIME),
            Err(Refusal::Expired)
        );
        assert_eq!(
            verify(secret, &token, OrgId(Uuid::new_v4()), device, now()),
            Err(Refusal::OtherOrg)
        );
        assert_eq!(
            verify(secret, &token, org, Uuid::new_v4(), now()),
            Err(Refusal::OtherDevice)
        );
        assert_eq!(
            verify(
                b"another secret of the same size.",
                &token,
                org,
                device,
                now()
            ),
            Err(Refusal::Forged)
        );
        // Another member, label or expiry written into the payload: the MAC no longer fits.
        let (_, tag) = token.split_once('.').unwrap();
        let mut claims = ok.clone();
        claims.member = Uuid::new_v4();
        let changed = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        for forged in [
            format!("{changed}.{tag}"),
            changed.clone(),
            "garbage".into(),
            String::new(),
            format!("{}.{}", token.split_once('.').unwrap().0, "0".repeat(64)),
        ] {
            assert_eq!(
                verify(secret, &forged, org, device, now()),
                Err(Refusal::Forged),
                "{forged}"
            );
        }
        assert!(issue(b"", org, member, "carl", device, now()).is_none());
    }
}
