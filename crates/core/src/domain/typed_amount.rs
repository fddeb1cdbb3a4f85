//! Amounts as people type them at a till or in a form: `25,50`, `25.50`, `R$ 1.234,56`,
//! `$1,234.56`. One reading for every place a person types money (the till, adjustments
//! in currency, imports), so "25.50" is never read as 2,550.00 in a comma-decimal
//! locale. The JSON API does not use this: it keeps its strict decimal string.
//!
//! The rules, in order:
//! - a single separator followed by one or two digits at the end is the decimal mark,
//!   in any locale (`25.50` and `25,50` are both 25.50);
//! - a separator followed by groups of exactly three digits separates thousands
//!   (`1.234.567`, `1,234,567`); with both marks present, the last one is the decimal
//!   mark (`1.234,56`, `1,234.56`);
//! - a single separator followed by exactly three digits (`1.234`) is ambiguous: it
//!   follows the organization's locale, and the reading says so, so the till can show
//!   the amount back before it is confirmed;
//! - a separator with no digit before it (`,50`, `.5`) or after it (`25,`) is refused, as
//!   the API refuses it;
//! - anything else is refused with a message that shows how to write the amount.

use super::points::Amount;
use crate::error::FieldError;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The decimal mark of a locale: `.` (en-US) or `,` (pt-BR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMark {
    /// `1,234.56`
    Point,
    /// `1.234,56`
    Comma,
}

impl DecimalMark {
    /// The decimal mark of a BCP 47 language tag (`pt-BR` -> comma, `en-US` -> point).
    /// Languages that write a decimal comma are listed; every other uses a point.
    pub fn of_language(tag: &str) -> Self {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        const COMMA: &[&str] = &[
            "pt", "es", "fr", "de", "it", "nl", "ru", "pl", "tr", "sv", "da", "nb", "nn", "no",
            "fi", "cs", "sk", "ro", "hu", "el", "uk", "id", "vi", "ca", "hr", "sl", "bg", "lt",
            "lv", "et",
        ];
        if COMMA.contains(&primary.as_str()) {
            Self::Comma
        } else {
            Self::Point
        }
    }

    fn char(self) -> char {
        match self {
            Self::Point => '.',
            Self::Comma => ',',
        }
    }

    /// How to write `1234.56` in this locale, for messages.
    fn example(self) -> &'static str {
        match self {
            Self::Point => "25.50 or 1,234.56",
            Self::Comma => "25,50 or 1.234,56",
        }
    }
}

/// An amount read from what a person typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypedAmount {
    /// The amount, checked like every purchase amount (positive, the currency's minor
    /// digits at most, not above the largest purchase).
    pub amount: Amount,
    /// Whether the text could be read two ways and the locale decided (`1.234`): show
    /// the amount back before confirming.
    pub ambiguous: bool,
}

/// Reads an amount typed by a person in a locale with `mark`, for a currency with
/// `minor_digits` decimal places (2 for BRL and USD, 0 for JPY, 3 for KWD).
pub fn parse_typed_amount(
    typed: &str,
    mark: DecimalMark,
    minor_digits: u32,
) -> Result<TypedAmount, FieldError> {
    let (d, ambiguous) = parse_typed_decimal(typed, mark, minor_digits)?;
    let amount = Amount::from_decimal(d, minor_digits)?;
    Ok(TypedAmount { amount, ambiguous })
}

/// Reads a non-negative money value typed by a person by the same rules as
/// [`parse_typed_amount`], without the purchase checks (so `0` is accepted, for
/// settings such as a minimum purchase). Also says whether the locale decided.
pub fn parse_typed_decimal(
    typed: &str,
    mark: DecimalMark,
    minor_digits: u32,
) -> Result<(Decimal, bool), FieldError> {
    let refuse = |why: &str| {
        FieldError::new(
            "amount",
            format!(
                "{:?} {why}; write the amount like {}",
                typed.trim(),
                if minor_digits == 0 {
                    match mark {
                        DecimalMark::Point => "25 or 1,234",
                        DecimalMark::Comma => "25 or 1.234",
                    }
                } else {
                    mark.example()
                }
            ),
        )
    };
    let cleaned = strip_currency(typed);
    if cleaned.is_empty() {
        return Err(refuse("is not an amount"));
    }
    if cleaned.starts_with('-') {
        return Err(refuse("is negative"));
    }
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(refuse("is not a number"));
    }
    if cleaned.len() > 24 {
        return Err(refuse("is too long"));
    }
    let (plain, ambiguous) = normalise(&cleaned, mark, minor_digits).map_err(&refuse)?;
    let d = Decimal::from_str(&plain).map_err(|_| refuse("is not a number"))?;
    Ok((d, ambiguous))
}

/// `typed` without spaces and without a currency symbol or code around it.
fn strip_currency(typed: &str) -> String {
    let mut s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    for prefix in ["R$", "US$", "$", "€", "£", "¥"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
            break;
        }
    }
    for suffix in ["€", "$"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest.to_owned();
            break;
        }
    }
    // A three-letter code before or after the number (`BRL 25,50`, `25.50 USD`).
    let letters = |p: &str| p.len() == 3 && p.chars().all(|c| c.is_ascii_alphabetic());
    if s.len() > 3 && s.is_char_boundary(3) && letters(&s[..3]) {
        s = s[3..].to_owned();
    } else if s.len() > 3 && s.is_char_boundary(s.len() - 3) && letters(&s[s.len() - 3..]) {
        s.truncate(s.len() - 3);
    }
    s
}

/// The amount as a plain decimal string (`1234.56`) and whether the locale decided.
fn normalise(
    s: &str,
    mark: DecimalMark,
    minor_digits: u32,
) -> Result<(String, bool), &'static str> {
    let points = s.matches('.').count();
    let commas = s.matches(',').count();
    match (points, commas) {
        (0, 0) => Ok((s.to_owned(), false)),
        (p, c) if p > 0 && c > 0 => {
            // Both marks: the last one is the decimal mark, the other groups thousands.
            let last = s.rfind(['.', ',']).ok_or("is not a number")?;
            let decimal = s[last..].chars().next().ok_or("is not a number")?;
            let group = if decimal == '.' { ',' } else { '.' };
            if s.matches(decimal).count() != 1 {
                return Err("mixes the decimal and thousands marks");
            }
            let (int, frac) = s.split_at(last);
            let frac = &frac[1..];
            check_fraction(frac, minor_digits)?;
            let int = ungroup(int, group)?;
            Ok((format!("{int}.{frac}"), false))
        }
        (p, c) => {
            let sep = if p > 0 { '.' } else { ',' };
            let count = p + c;
            if count > 1 {
                // Only thousands separators (`1.234.567`).
                return Ok((ungroup(s, sep)?, false));
            }
            let (int, frac) = s.split_once(sep).ok_or("is not a number")?;
            if int.is_empty() {
                // `,50` / `.5`: refused like the API refuses it; `0,50` is meant.
                return Err("starts with a separator");
            }
            match frac.len() {
                0 => Err("ends with a separator"),
                1 | 2 => {
                    check_fraction(frac, minor_digits)?;
                    Ok((format!("{int}.{frac}"), false))
                }
                3 => {
                    // `1.234`: thousands, or three decimals; the locale decides.
                    if sep == mark.char() {
                        check_fraction(frac, minor_digits)?;
                        Ok((format!("{int}.{frac}"), true))
                    } else {
                        Ok((ungroup(s, sep)?, true))
                    }
                }
                _ => Err("has too many digits after the separator"),
            }
        }
    }
}

/// Checks the digits after a decimal mark against the currency.
fn check_fraction(frac: &str, minor_digits: u32) -> Result<(), &'static str> {
    if minor_digits == 0 {
        return Err("has decimals, and this currency has none");
    }
    if frac.is_empty() {
        return Err("ends with a separator");
    }
    if frac.len() > minor_digits as usize {
        return Err("has more decimals than the currency has");
    }
    Ok(())
}

/// Digits grouped by `group` in threes (`1.234.567`), without the separators.
fn ungroup(s: &str, group: char) -> Result<String, &'static str> {
    let mut parts = s.split(group);
    let first = parts.next().unwrap_or("");
    if first.is_empty() || first.len() > 3 || (first.starts_with('0') && s.contains(group)) {
        return Err("has a misplaced thousands separator");
    }
    let mut out = first.to_owned();
    for part in parts {
        if part.len() != 3 {
            return Err("has a misplaced thousands separator");
        }
        out.push_str(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: DecimalMark = DecimalMark::Point;
    const PT: DecimalMark = DecimalMark::Comma;

    /// (typed, locale, minor digits, expected amount or None for a refusal, ambiguous)
    const CASES: &[(&str, DecimalMark, u32, Option<&str>, bool)] = &[
        // pt-BR, BRL
        ("25,50", PT, 2, Some("25.50"), false),
        ("25.50", PT, 2, Some("25.50"), false),
        ("25", PT, 2, Some("25.00"), false),
        ("1.234,56", PT, 2, Some("1234.56"), false),
        ("1.234", PT, 2, Some("1234.00"), true),
        ("1,234", PT, 2, None, true),
        ("R$ 25,50", PT, 2, Some("25.50"), false),
        ("R$25,5", PT, 2, Some("25.50"), false),
        ("999.999,99", PT, 2, Some("999999.99"), false),
        ("1.234.567", PT, 2, None, false),
        (",50", PT, 2, None, false),
        ("0,50", PT, 2, Some("0.50"), false),
        ("25,", PT, 2, None, false),
        ("25,505", PT, 2, None, true),
        ("12.34.56", PT, 2, None, false),
        ("1.23,45", PT, 2, None, false),
        ("-25,50", PT, 2, None, false),
        ("abc", PT, 2, None, false),
        ("", PT, 2, None, false),
        ("0,00", PT, 2, None, false),
        ("25,50 BRL", PT, 2, Some("25.50"), false),
        ("1 234,56", PT, 2, Some("1234.56"), false),
        ("1\u{a0}234,56", PT, 2, Some("1234.56"), false),
        ("2.550,00", PT, 2, Some("2550.00"), false),
        ("1.000.000", PT, 2, Some("1000000.00"), false),
        ("1.000.000,01", PT, 2, None, false),
        ("R$ 0,5", PT, 2, Some("0.50"), false),
        // en-US, USD
        ("25.50", EN, 2, Some("25.50"), false),
        ("25,50", EN, 2, Some("25.50"), false),
        ("1,234.56", EN, 2, Some("1234.56"), false),
        ("1,234", EN, 2, Some("1234.00"), true),
        ("1.234", EN, 2, None, true),
        ("$1,234.56", EN, 2, Some("1234.56"), false),
        ("USD 12.5", EN, 2, Some("12.50"), false),
        ("12.345.67", EN, 2, None, false),
        ("1,000,000", EN, 2, Some("1000000.00"), false),
        ("123,456", EN, 2, Some("123456.00"), true),
        ("0.5", EN, 2, Some("0.50"), false),
        (".5", EN, 2, None, false),
        (".500", EN, 2, None, false),
        ("10.", EN, 2, None, false),
        ("1e3", EN, 2, None, false),
        ("2,000,000", EN, 2, None, false),
        ("1,0000", EN, 2, None, false),
        ("01,234", EN, 2, None, true),
        ("+5.00", EN, 2, None, false),
        // zero-decimal currency (JPY)
        ("1500", EN, 0, Some("1500"), false),
        ("1,500", EN, 0, Some("1500"), true),
        ("1.500", PT, 0, Some("1500"), true),
        ("15.5", EN, 0, None, false),
        ("¥1,500", EN, 0, Some("1500"), true),
        // three-decimal currency (KWD)
        ("1.234", EN, 3, Some("1.234"), true),
        ("1,234", EN, 3, Some("1234.000"), true),
        ("1.234", PT, 3, Some("1234.000"), true),
        ("1,234", PT, 3, Some("1.234"), true),
        ("1.5", EN, 3, Some("1.500"), false),
        ("1,234.567", EN, 3, Some("1234.567"), false),
        ("1.2345", EN, 3, None, false),
    ];

    #[test]
    fn typed_amounts_are_read_by_the_rules_or_refused_with_a_way_to_write_them() {
        assert!(CASES.len() >= 40);
        for (typed, mark, digits, expected, ambiguous) in CASES {
            let got = parse_typed_amount(typed, *mark, *digits);
            match (expected, got) {
                (Some(want), Ok(t)) => {
                    assert_eq!(t.amount.value().to_string(), *want, "{typed:?} {mark:?}");
                    assert_eq!(t.ambiguous, *ambiguous, "{typed:?} {mark:?} ambiguity");
                }
                (None, Err(e)) => assert_eq!(e.field, "amount"),
                (want, got) => panic!("{typed:?} {mark:?} {digits}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn a_refusal_shows_how_to_write_the_amount_in_the_locale() {
        let e = parse_typed_amount("25,", PT, 2).unwrap_err();
        assert!(e.message.contains("25,50 or 1.234,56"), "{e}");
        let e = parse_typed_amount("12.34.56", EN, 2).unwrap_err();
        assert!(e.message.contains("25.50 or 1,234.56"), "{e}");
        let e = parse_typed_amount("15.5", EN, 0).unwrap_err();
        assert!(e.message.contains("has none"), "{e}");
    }

    #[test]
    fn the_decimal_mark_follows_the_language() {
        assert_eq!(DecimalMark::of_language("pt-BR"), DecimalMark::Comma);
        assert_eq!(DecimalMark::of_language("en-US"), DecimalMark::Point);
        assert_eq!(DecimalMark::of_language("de"), DecimalMark::Comma);
        assert_eq!(DecimalMark::of_language("ja-JP"), DecimalMark::Point);
    }
}
