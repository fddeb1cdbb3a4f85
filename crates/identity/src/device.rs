//! Device cookies (OWASP's defence against account lockout): after a successful sign-in
//! with a password, the browser gets a cookie that names the account and is signed with
//! HMAC-SHA-256. A browser that presents a valid one for the account it signs in to has
//! an allowance of its own, so wrong passwords sent from elsewhere cannot lock the owner
//! out. The key is derived from the account's password hash: nobody without the
//! database can forge a cookie, one account's cookie is worth nothing for another, and
//! changing the password retires every cookie issued before.

use hmac::{Hmac, Mac};
use loyalty_core::secret;
use loyalty_core::store::Account;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// The cookie of the account with primary key `pk` is named `loyalty_device_{pk}`, so
/// several people who sign in on one shared till each keep theirs.
pub const COOKIE_PREFIX: &str = "loyalty_device_";
/// How long a device stays recognized after its last successful sign-in.
pub const LIFETIME: Duration = Duration::days(180);

/// A cookie to set after a successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCookie {
    /// Cookie name (`loyalty_device_{pk}`).
    pub name: String,
    /// Cookie value: `{pk}.{expires}.{nonce}.{mac}`.
    pub value: String,
}

/// A browser recognized for an account: `id` keys its own failure counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The cookie's random part (not secret on its own; unforgeable with its MAC).
    pub id: String,
}

fn key(account: &Account) -> Option<[u8; 32]> {
    let hash = account.password_hash.as_deref()?;
    let mut h = Sha256::new();
    h.update(b"loyalty device cookie v1\0");
    h.update(hash.as_bytes());
    Some(h.finalize().into())
}

fn mac(key: &[u8; 32], message: &str) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    m.update(message.as_bytes());
    Some(m)
}

/// A new device cookie for `account`, or `None` when it has no password.
pub fn issue(account: &Account, now: OffsetDateTime) -> Option<DeviceCookie> {
    let key = key(account)?;
    let nonce = &secret::random_token()[..32];
    let expires = (now + LIFETIME).unix_timestamp();
    let message = format!("{}.{expires}.{nonce}", account.pk);
    let tag = hex::encode(mac(&key, &message)?.finalize().into_bytes());
    Some(DeviceCookie {
        name: format!("{COOKIE_PREFIX}{}", account.pk),
        value: format!("{message}.{tag}"),
    })
}

/// The device among `cookies` (name, value) that is valid for `account` now.
pub fn recognize(
    account: &Account,
    cookies: &[(String, String)],
    now: OffsetDateTime,
) -> Option<Device> {
    let key = key(account)?;
    let name = format!("{COOKIE_PREFIX}{}", account.pk);
    cookies
        .iter()
        .filter(|(n, _)| *n == name)
        .find_map(|(_, value)| check(&key, account.pk, value, now))
}

fn check(key: &[u8; 32], pk: i64, value: &str, now: OffsetDateTime) -> Option<Device> {
    let (message, tag) = value.rsplit_once('.')?;
    let mut parts = message.split('.');
    let (owner, expires, nonce) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || owner.parse::<i64>().ok()? != pk {
        return None;
    }
    if expires.parse::<i64>().ok()? <= now.unix_timestamp() {
        return None;
    }
    mac(key, message)?
        .verify_slice(&hex::decode(tag).ok()?)
        .ok()?;
    Some(Device {
        id: nonce.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(pk: i64, hash: &str) -> Account {
        Account {
            pk,
            uid: format!("uid{pk}"),
            username: format!("user{pk}"),
            name: "Someone".into(),
            email: None,
            is_active: true,
            password_hash: Some(hash.into()),
            must_change_password: false,
            attributes: serde_json::json!({}),
        }
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2025-01-23 14:05:30 UTC)
    }

    #[test]
    fn a_cookie_is_valid_only_for_its_account_password_and_lifetime() {
        let alice = account(1, "$argon2id$alice");
        let c = issue(&alice, now()).unwrap();
        assert_eq!(c.name, "loyalty_device_1");
        let jar = vec![(c.name.clone(), c.value.clone())];
        let device = recognize(&alice, &jar, now()).unwrap();
        assert_eq!(device.id.len(), 32);
        assert!(
            recognize(&alice, &jar, now() + LIFETIME).is_none(),
            "expired"
        );
        // Another account, even with the same cookie renamed, or a changed password.
        let bob = account(2, "$argon2id$bob");
        assert!(recognize(&bob, &[("loyalty_device_2".into(), c.value.clone())], now()).is_none());
        assert!(recognize(&account(1, "$argon2id$new"), &jar, now()).is_none());
        // Tampering with any part.
        let parts: Vec<&str> = c.value.split('.').collect();
        for forged in [
            format!("2.{}.{}.{}", parts[1], parts[2], parts[3]),
            format!(
                "1.{}.{}.{}",
                parts[1].parse::<i64>().unwrap() + 1,
                parts[2],
                parts[3]
            ),
            format!("1.{}.{}.{}", parts[1], "0".repeat(32), parts[3]),
            format!("1.{}.{}.{}", parts[1], parts[2], "0".repeat(64)),
            format!("1.{}.{}", parts[1], parts[2]),
            "garbage".into(),
            String::new(),
        ] {
            assert!(
                recognize(&alice, &[(c.name.clone(), forged.clone())], now()).is_none(),
                "{forged}"
            );
        }
        let mut no_password = alice.clone();
        no_password.password_hash = None;
        assert!(issue(&no_password, now()).is_none());
        assert!(recognize(&no_password, &jar, now()).is_none());
    }
}
