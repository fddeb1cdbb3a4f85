//! Country, currency, language and time zone codes, each checked against its standard.

use crate::error::FieldError;
use std::fmt;
use std::str::FromStr;

macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// An ISO 3166-1 alpha-2 country code, upper case (`US`, `BR`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct CountryCode(String);
text_newtype!(CountryCode);

impl CountryCode {
    /// Parses a country code; lower case is accepted and normalised.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let code = input.trim().to_ascii_uppercase();
        if code.len() == 2 && iso_currency::Country::from_str(&code).is_ok() {
            Ok(Self(code))
        } else {
            Err(FieldError::new(
                "country",
                format!(
                    "{:?} is not an ISO 3166-1 alpha-2 country code; write two letters such as US, BR or PT",
                    input.trim()
                ),
            ))
        }
    }

    /// The regular currency of this country, if it has one.
    pub fn default_currency(&self) -> Option<CurrencyCode> {
        let country = iso_currency::Country::from_str(&self.0).ok()?;
        let currency = iso_currency::Currency::from_country(country)
            .into_iter()
            .find(|c| !c.is_fund() && !c.is_special() && c.is_superseded().is_none())?;
        Some(CurrencyCode(currency.code().to_owned()))
    }
}

/// An ISO 4217 currency code of a real, current currency (`USD`, `BRL`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct CurrencyCode(String);
text_newtype!(CurrencyCode);

impl CurrencyCode {
    /// Parses a currency code; funds, precious metals and test codes are refused.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let code = input.trim().to_ascii_uppercase();
        match iso_currency::Currency::from_code(&code) {
            Some(c) if !c.is_fund() && !c.is_special() => Ok(Self(code)),
            _ => Err(FieldError::new(
                "currency",
                format!(
                    "{:?} is not an ISO 4217 currency code; write three letters such as USD, EUR or BRL",
                    input.trim()
                ),
            )),
        }
    }

    /// Digits after the decimal point (2 for USD, 0 for JPY).
    pub fn minor_digits(&self) -> u32 {
        iso_currency::Currency::from_code(&self.0)
            .and_then(|c| c.exponent())
            .map_or(2, u32::from)
    }
}

/// A well-formed BCP 47 language tag in canonical case (`en-US`, `pt-BR`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct LanguageTag(String);
text_newtype!(LanguageTag);

impl LanguageTag {
    /// Parses a language tag; `en_us` and `EN-us` become `en-US`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let raw = input.trim().replace('_', "-");
        let err = || {
            FieldError::new(
                "language",
                format!(
                    "{:?} is not a BCP 47 language tag; write one such as en-US or pt-BR",
                    input.trim()
                ),
            )
        };
        let tag = language_tags::LanguageTag::parse(&raw).map_err(|_| err())?;
        tag.validate().map_err(|_| err())?;
        if tag.primary_language().len() < 2 || tag.primary_language().len() > 3 {
            return Err(err());
        }
        // Canonical case: language lower, script title, region upper.
        let mut out = tag.primary_language().to_ascii_lowercase();
        if let Some(script) = tag.script() {
            out.push('-');
            out.push_str(&script[..1].to_ascii_uppercase());
            out.push_str(&script[1..].to_ascii_lowercase());
        }
        if let Some(region) = tag.region() {
            out.push('-');
            out.push_str(&region.to_ascii_uppercase());
        }
        for variant in tag.variant_subtags() {
            out.push('-');
            out.push_str(&variant.to_ascii_lowercase());
        }
        Ok(Self(out))
    }
}

/// An IANA time zone name known to the time zone database (`America/New_York`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct TimeZoneName(String);
text_newtype!(TimeZoneName);

impl TimeZoneName {
    /// Parses a time zone name against the IANA database.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = input.trim();
        match jiff::tz::TimeZone::get(name) {
            Ok(_) if !name.is_empty() => Ok(Self(
                jiff::tz::db()
                    .get(name)
                    .ok()
                    .and_then(|tz| tz.iana_name().map(str::to_owned))
                    .unwrap_or_else(|| name.to_owned()),
            )),
            _ => Err(FieldError::new(
                "timezone",
                format!(
                    "{name:?} is not an IANA time zone; write one such as America/New_York, \
                     America/Sao_Paulo or UTC"
                ),
            )),
        }
    }

    /// UTC.
    pub fn utc() -> Self {
        Self("UTC".to_owned())
    }

    /// The zone's rules, for converting instants to local dates (UTC in the unlikely
    /// case the database on this machine lacks a zone that parsed elsewhere).
    pub fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_checked_and_give_their_currency() {
        let us = CountryCode::parse("us").expect("US");
        assert_eq!(us.as_str(), "US");
        assert_eq!(us.default_currency().map(|c| c.0), Some("USD".into()));
        assert_eq!(
            CountryCode::parse("BR")
                .ok()
                .and_then(|c| c.default_currency())
                .map(|c| c.0),
            Some("BRL".into())
        );
        assert_eq!(
            CountryCode::parse("PT")
                .ok()
                .and_then(|c| c.default_currency())
                .map(|c| c.0),
            Some("EUR".into())
        );
        for bad in ["", "USA", "XX", "1"] {
            assert_eq!(CountryCode::parse(bad).expect_err(bad).field, "country");
        }
    }

    #[test]
    fn currencies_are_checked() {
        assert_eq!(CurrencyCode::parse("brl").map(|c| c.0), Ok("BRL".into()));
        assert_eq!(CurrencyCode::parse("JPY").map(|c| c.minor_digits()), Ok(0));
        for bad in ["", "XXX", "XAU", "DOLLARS", "ZZZ"] {
            assert_eq!(CurrencyCode::parse(bad).expect_err(bad).field, "currency");
        }
    }

    #[test]
    fn language_tags_are_canonicalised() {
        assert_eq!(LanguageTag::parse("en-US").map(|l| l.0), Ok("en-US".into()));
        assert_eq!(LanguageTag::parse("pt_br").map(|l| l.0), Ok("pt-BR".into()));
        assert_eq!(
            LanguageTag::parse("zh-hant-tw").map(|l| l.0),
            Ok("zh-Hant-TW".into())
        );
        for bad in ["", "english", "en-", "12"] {
            assert_eq!(LanguageTag::parse(bad).expect_err(bad).field, "language");
        }
    }

    #[test]
    fn time_zones_must_exist() {
        assert!(TimeZoneName::parse("America/New_York").is_ok());
        assert!(TimeZoneName::parse("America/Sao_Paulo").is_ok());
        assert!(TimeZoneName::parse("UTC").is_ok());
        for bad in ["", "Mars/Olympus", "EST5EDT6", "America/NewYork"] {
            assert_eq!(TimeZoneName::parse(bad).expect_err(bad).field, "timezone");
        }
    }
}
