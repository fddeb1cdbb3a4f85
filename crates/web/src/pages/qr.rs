//! QR codes as inline SVG (for member cards and one-time links), drawn by the pure-Rust
//! `qrcode` crate.

use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG drawing of `data` as a QR code, or `None` when it does not fit in one.
pub(crate) fn svg(data: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(160, 160)
            .quiet_zone(true)
            .dark_color(svg::Color("#1c2530"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_card_number_draws_as_svg() {
        let s = super::svg("400000000006").unwrap_or_default();
        assert!(s.starts_with("<?xml") || s.contains("<svg"));
    }
}
