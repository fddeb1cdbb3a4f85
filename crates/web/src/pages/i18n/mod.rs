//! Languages of the pages: English (en-US) and Brazilian Portuguese (pt-BR). The
//! organization's language is the default; a person may override it (a cookie). Numbers,
//! money and dates are written the way each locale writes them, dates in the
//! organization's time zone.

mod text;

use loyalty_core::domain::{Language, TimeZoneName};
use rust_decimal::Decimal;
use time::OffsetDateTime;

/// Name of the cookie holding a person's language choice.
pub const COOKIE: &str = "loyalty_lang";

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (United States).
    #[default]
    En,
    /// Portuguese (Brazil).
    PtBr,
}

impl Lang {
    /// Every language, for the switcher.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::PtBr];

    /// From a language tag (`pt-BR`, `pt`, `en-US` ...); `None` when not one of ours.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "pt" => Some(Lang::PtBr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best of our languages for an `Accept-Language` header
    /// (`fr-CH, fr;q=0.9, pt;q=0.8, en;q=0.5` -> pt-BR): the highest q-value among the
    /// ranges we speak, the earlier range on a tie; `*` and `q=0` name none. `None` when
    /// the browser names none of ours.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for range in header.split(',') {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let mut q = 1000u16;
            for param in parts {
                if let Some(v) = param.trim().strip_prefix("q=") {
                    q = parse_q(v.trim()).unwrap_or(0);
                }
            }
            let Some(lang) = Lang::parse(tag) else {
                continue;
            };
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    /// The BCP 47 tag (`en-US`, `pt-BR`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::PtBr => "pt-BR",
        }
    }

    /// The language's own name, for the switcher.
    pub fn label(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::PtBr => "Português (Brasil)",
        }
    }

    /// The text for `key` in this language (the key itself when it has none).
    pub fn t(self, key: &'static str) -> &'static str {
        text::text(self, key)
    }

    /// The same language for figures written in core (receipts, breakdowns, progress).
    pub fn written(self) -> Language {
        match self {
            Lang::En => Language::En,
            Lang::PtBr => Language::PtBr,
        }
    }

    /// A whole number with thousands separators (`1,234` or `1.234`).
    pub fn int(self, n: i64) -> String {
        self.written().int(n)
    }

    /// An amount with two decimals and the currency (`$1,234.50`, `R$ 1.234,50`).
    pub fn money(self, amount: Decimal, currency: &str) -> String {
        self.written().money(amount, currency)
    }

    /// An amount as typed in a form field (`12.50` or `12,50`).
    pub fn amount_input(self, amount: Decimal) -> String {
        let s = format!("{:.2}", amount.round_dp(2));
        match self {
            Lang::En => s,
            Lang::PtBr => s.replace('.', ","),
        }
    }

    /// A date in the organization's time zone (`Jan 23, 2025` or `23/01/2025`).
    pub fn date(self, t: OffsetDateTime, tz: &TimeZoneName) -> String {
        let (y, m, d, _, _) = local(t, tz);
        match self {
            Lang::En => format!(
                "{} {d}, {y}",
                MONTHS.get(usize::from(m) - 1).copied().unwrap_or("")
            ),
            Lang::PtBr => format!("{d:02}/{m:02}/{y}"),
        }
    }

    /// A date and time in the organization's time zone.
    pub fn datetime(self, t: OffsetDateTime, tz: &TimeZoneName) -> String {
        let (_, _, _, h, min) = local(t, tz);
        match self {
            Lang::En => {
                let (h12, ampm) = match h {
                    0 => (12, "AM"),
                    1..=11 => (h, "AM"),
                    12 => (12, "PM"),
                    _ => (h - 12, "PM"),
                };
                format!("{}, {h12}:{min:02} {ampm}", self.date(t, tz))
            }
            Lang::PtBr => format!("{} {h:02}:{min:02}", self.date(t, tz)),
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Year, month, day, hour, minute of `t` in the time zone `tz`.
/// A q-value (`0`, `0.8`, `1.000`) in thousandths; `None` when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let (whole, fraction) = v.split_once('.').unwrap_or((v, ""));
    if whole.len() != 1 || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = whole.parse().ok()?;
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    let q = whole * 1000 + fraction;
    (q <= 1000).then_some(q)
}

fn local(t: OffsetDateTime, tz: &TimeZoneName) -> (i16, u8, u8, u8, u8) {
    let zone = tz.zone();
    match jiff::Timestamp::from_second(t.unix_timestamp()) {
        Ok(ts) => {
            let z = ts.to_zoned_datetime(zone);
            (
                z.year(),
                u8::try_from(z.month()).unwrap_or(1),
                u8::try_from(z.day()).unwrap_or(1),
                u8::try_from(z.hour()).unwrap_or(0),
                u8::try_from(z.minute()).unwrap_or(0),
            )
        }
        Err(_) => (1970, 1, 1, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn zone(name: &str) -> TimeZoneName {
        TimeZoneName::parse(name).expect("zone")
    }

    #[test]
    fn numbers_money_and_dates_follow_the_locale() {
        assert_eq!(Lang::En.int(1_234_567), "1,234,567");
        assert_eq!(Lang::PtBr.int(1_234_567), "1.234.567");
        assert_eq!(Lang::En.int(-12), "-12");
        let d = Decimal::from_str("1234.5").unwrap_or_default();
        assert_eq!(Lang::En.money(d, "USD"), "$1,234.50");
        assert_eq!(Lang::PtBr.money(d, "BRL"), "R$ 1.234,50");
        assert_eq!(Lang::En.money(d, "CHF"), "1,234.50 CHF");
        let t = time::macros::datetime!(2025-01-23 14:05:30 UTC);
        assert_eq!(Lang::En.date(t, &zone("America/New_York")), "Jan 23, 2025");
        assert_eq!(
            Lang::PtBr.datetime(t, &zone("America/Sao_Paulo")),
            "23/01/2025 11:05"
        );
        assert_eq!(
            Lang::En.datetime(t, &zone("America/New_York")),
            "Jan 23, 2025, 9:05 AM"
        );
    }

    #[test]
    fn languages_are_read_from_their_tags() {
        assert_eq!(Lang::parse("pt-BR"), Some(Lang::PtBr));
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("fr-FR"), None);
    }

    #[test]
    fn the_browser_s_best_language_of_ours_is_chosen_by_q_value() {
        let best = Lang::from_accept_language;
        assert_eq!(best("pt-BR,pt;q=0.9,en-US;q=0.8"), Some(Lang::PtBr));
        assert_eq!(
            best("fr-CH, fr;q=0.9, pt;q=0.8, en;q=0.5"),
            Some(Lang::PtBr)
        );
        assert_eq!(best("en;q=0.4, pt-BR;q=0.6"), Some(Lang::PtBr));
        assert_eq!(
            best("pt;q=0.5, en;q=0.5"),
            Some(Lang::PtBr),
            "the earlier range on a tie"
        );
        assert_eq!(best("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            best("pt;q=0, en;q=0.1"),
            Some(Lang::En),
            "q=0 refuses a language"
        );
        assert_eq!(best("fr-FR, de;q=0.9, *;q=0.1"), None);
        assert_eq!(best("pt;q=abc"), None, "a malformed q-value counts as 0");
        assert_eq!(best(""), None);
    }

    #[test]
    fn every_error_code_has_both_languages() {
        for code in loyalty_core::ErrorCode::ALL {
            let key = code.i18n_key();
            assert!(text::KEYS.contains(&key), "{code}: {key} is not in KEYS");
            assert_ne!(Lang::En.t(key), key, "no en-US text for {code}");
            assert_ne!(Lang::PtBr.t(key), key, "no pt-BR text for {code}");
        }
    }

    #[test]
    fn every_text_has_both_languages() {
        for key in text::KEYS {
            assert_ne!(Lang::PtBr.t(key), *key, "no pt-BR text for {key}");
            assert!(!Lang::En.t(key).is_empty(), "no en-US text for {key}");
        }
    }
}
