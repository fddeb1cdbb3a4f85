//! The shop's look on its members' wallet cards, as the admin sets it on the settings
//! page: three colours (`#rrggbb`) and a logo (a PNG, checked by its signature and its
//! header, at most [`LOGO_MAX_BYTES`] and [`LOGO_MAX_SIDE`] pixels a side). A change moves
//! every pass of the shop forward and tells the registered phones through the wallet
//! outbox, so they fetch the new look.

use super::apple::ShopLook;
use crate::Error;
use crate::domain::Organization;
use crate::error::{ErrorCode, FieldError};
use crate::service::context::{Ctx, require_admin};
use crate::store::{Store, WalletColours, WalletLogo, WalletLook, wallet_look_audit};

/// The largest logo file accepted, in bytes (256 KiB).
pub const LOGO_MAX_BYTES: usize = 256 * 1024;
/// The largest logo side accepted, in pixels (Google Wallet's logo is 660 x 660).
pub const LOGO_MAX_SIDE: u32 = 660;
/// Below this contrast between the text and the background (WCAG's ratio, 1 to 21) the
/// settings page warns that the card may be hard to read.
pub const LOW_CONTRAST: f64 = 3.0;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// What to do with the logo on a change of look.
#[derive(Debug, Clone)]
pub enum LogoChange {
    /// Keep the logo the shop has (or none).
    Keep,
    /// Use this file (to be checked by [`parse_logo`]).
    Upload(Vec<u8>),
    /// Go back to no logo (the shop's name on the card).
    Remove,
}

/// Reads a `#rrggbb` colour (case-insensitive, surrounding spaces ignored) into lower
/// case; the error names `field`.
pub fn parse_colour(field: &str, typed: &str) -> Result<String, FieldError> {
    let t = typed.trim();
    let ok = t.len() == 7 && t.starts_with('#') && t.chars().skip(1).all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(FieldError::new(
            field,
            "must be a colour as #rrggbb, such as #1c2530",
        ))
    }
}

/// Reads the three colours: all three empty is "the built-in colours", otherwise each
/// must be `#rrggbb`.
pub fn parse_colours(
    background: &str,
    foreground: &str,
    label: &str,
) -> Result<Option<WalletColours>, Error> {
    if [background, foreground, label]
        .iter()
        .all(|s| s.trim().is_empty())
    {
        return Ok(None);
    }
    let b = parse_colour("background", background);
    let f = parse_colour("foreground", foreground);
    let l = parse_colour("label", label);
    match (b, f, l) {
        (Ok(background), Ok(foreground), Ok(label)) => Ok(Some(WalletColours {
            background,
            foreground,
            label,
        })),
        (b, f, l) => Err(Error::Validation(
            [b.err(), f.err(), l.err()].into_iter().flatten().collect(),
        )),
    }
}

/// Checks an uploaded logo: a PNG (its eight-byte signature, an `IHDR` header whose
/// checksum matches, an `IEND` at the end) of at most [`LOGO_MAX_BYTES`] and
/// [`LOGO_MAX_SIDE`] pixels a side. `wallet.logo_not_png` or `wallet.logo_too_large`
/// otherwise, with a message that says what to send instead.
pub fn parse_logo(bytes: &[u8]) -> Result<WalletLogo, Error> {
    if bytes.len() > LOGO_MAX_BYTES {
        return Err(Error::Conflict(
            ErrorCode::WalletLogoTooLarge,
            format!(
                "the logo is {} KiB; send a PNG of at most {} KiB",
                bytes.len().div_ceil(1024),
                LOGO_MAX_BYTES / 1024
            ),
        ));
    }
    let not_png = || {
        Error::Conflict(
            ErrorCode::WalletLogoNotPng,
            "the logo is not a PNG image; export it as PNG (a JPEG, GIF or SVG renamed .png is refused)"
                .to_owned(),
        )
    };
    let Some(rest) = bytes.strip_prefix(PNG_SIGNATURE.as_slice()) else {
        return Err(not_png());
    };
    // The first chunk is IHDR: length 13, type, width, height, 5 more bytes, CRC.
    let Some(ihdr) = rest.get(..25) else {
        return Err(not_png());
    };
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if be(&ihdr[0..4]) != 13 || &ihdr[4..8] != b"IHDR" || crc32(&ihdr[4..21]) != be(&ihdr[21..25]) {
        return Err(not_png());
    }
    if !bytes.ends_with(b"IEND\xae\x42\x60\x82") {
        return Err(not_png());
    }
    let (width, height) = (be(&ihdr[8..12]), be(&ihdr[12..16]));
    if width == 0 || height == 0 {
        return Err(not_png());
    }
    if width > LOGO_MAX_SIDE || height > LOGO_MAX_SIDE {
        return Err(Error::Conflict(
            ErrorCode::WalletLogoTooLarge,
            format!(
                "the logo is {width} x {height} pixels; send one of at most {LOGO_MAX_SIDE} x {LOGO_MAX_SIDE} (about 480 x 150 suits the card)"
            ),
        ));
    }
    Ok(WalletLogo {
        png: bytes.to_vec(),
        width,
        height,
    })
}

/// The CRC-32 of PNG chunks (ISO 3309, as in the PNG specification).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

/// WCAG's contrast ratio of two `#rrggbb` colours (1 to 21); 21 when one does not parse.
pub fn contrast_ratio(a: &str, b: &str) -> f64 {
    fn luminance(hex: &str) -> Option<f64> {
        let h = hex.strip_prefix('#')?;
        let channel = |i: usize| -> Option<f64> {
            let v = f64::from(u8::from_str_radix(h.get(i..i + 2)?, 16).ok()?) / 255.0;
            Some(if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            })
        };
        Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
    }
    match (luminance(a), luminance(b)) {
        (Some(x), Some(y)) => (x.max(y) + 0.05) / (x.min(y) + 0.05),
        _ => 21.0,
    }
}

/// The look the admin gave the shop's cards, as stored (empty when never set).
pub async fn current(ctx: &Ctx<'_>) -> Result<WalletLook, Error> {
    require_admin(ctx, "see the wallet card's look")?;
    Ok(ctx.store.wallet_look(ctx.org.id).await?.unwrap_or_default())
}

/// Changes the shop's look (admins only): the colours as typed (all three empty: the
/// built-in ones) and the logo. Nothing is written when one is refused. Returns the new
/// look and how many passes were moved forward for the phones to fetch.
pub async fn set_look(
    ctx: &Ctx<'_>,
    background: &str,
    foreground: &str,
    label: &str,
    logo: LogoChange,
) -> Result<(WalletLook, u64), Error> {
    require_admin(ctx, "change the wallet card's look")?;
    let colours = parse_colours(background, foreground, label)?;
    let logo = match logo {
        LogoChange::Upload(bytes) => Some(parse_logo(&bytes)?),
        LogoChange::Remove => None,
        LogoChange::Keep => ctx
            .store
            .wallet_look(ctx.org.id)
            .await?
            .and_then(|l| l.logo),
    };
    let look = WalletLook { colours, logo };
    let now = ctx.clock.now();
    let audit = wallet_look_audit(ctx.org.id, &ctx.actor, &look, now);
    let moved = ctx
        .store
        .set_wallet_look(ctx.org.id, &look, &audit, now)
        .await?;
    Ok((look, moved))
}

/// The look of `org`'s cards, for building a pass or the Google class, and serving the
/// logo: what the admin set, the built-in look otherwise.
pub async fn shop_look(store: &dyn Store, org: &Organization) -> Result<ShopLook, Error> {
    let stored = store.wallet_look(org.id).await?;
    Ok(ShopLook::of(stored.as_ref()))
}

/// The HTTP entity tag of a served logo: a digest of its bytes, quoted.
pub fn logo_etag(png: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(png));
    format!("\"{}\"", digest.get(..32).unwrap_or(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 x 1 PNG of `width` x `height` as its header says (the data is not read).
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut v = PNG_SIGNATURE.to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 6, 0, 0, 0]);
        v.extend(13u32.to_be_bytes());
        v.extend(&ihdr);
        v.extend(crc32(&ihdr).to_be_bytes());
        v.extend(0u32.to_be_bytes());
        v.extend(b"IEND");
        v.extend(crc32(b"IEND").to_be_bytes());
        v
    }

    fn code(e: Error) -> ErrorCode {
        match e {
            Error::Conflict(c, _) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_png_header_gives_the_logo_its_size() {
        let logo = parse_logo(&png(480, 150)).unwrap();
        assert_eq!((logo.width, logo.height), (480, 150));
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
    }

    #[test]
    fn other_files_and_large_logos_are_refused_with_their_codes() {
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
        assert_eq!(
            code(parse_logo(&jpeg).unwrap_err()),
            ErrorCode::WalletLogoNotPng
        );
        let mut bad_crc = png(10, 10);
        bad_crc[30] ^= 1;
        assert_eq!(
            code(parse_logo(&bad_crc).unwrap_err()),
            ErrorCode::WalletLogoNotPng
        );
        let cut = png(10, 10)[..40].to_vec();
        assert_eq!(
            code(parse_logo(&cut).unwrap_err()),
            ErrorCode::WalletLogoNotPng
        );
        assert_eq!(
            code(parse_logo(&png(661, 10)).unwrap_err()),
            ErrorCode::WalletLogoTooLarge
        );
        let mut big = png(10, 10);
        big.resize(LOGO_MAX_BYTES + 1, 0);
        assert_eq!(
            code(parse_logo(&big).unwrap_err()),
            ErrorCode::WalletLogoTooLarge
        );
    }

    #[test]
    fn colours_are_all_three_or_none() {
        assert_eq!(parse_colours(" ", "", "").unwrap(), None);
        let c = parse_colours("#1C2530", "#ffffff", "#bec8d2")
            .unwrap()
            .unwrap();
        assert_eq!(c.background, "#1c2530");
        let Err(Error::Validation(fields)) = parse_colours("#123", "", "#bec8d2") else {
            panic!("a short colour and an empty one are refused");
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["background", "foreground"]);
        assert!(contrast_ratio("#ffffff", "#000000") > 20.9);
        assert!(contrast_ratio("#777777", "#808080") < LOW_CONTRAST);
    }
}
