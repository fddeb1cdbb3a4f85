//! A customer's own data beyond name and contact: birth date, printed card number and
//! marketing consent (with when and where it was given or withdrawn).

use crate::error::FieldError;
use std::fmt;
use time::{Date, Month, OffsetDateTime};

/// A birth date: a real calendar day, not in the future, not before 1900. Read as
/// `YYYY-MM-DD` or, as Brazilian spreadsheets write it, `DD/MM/YYYY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(Date);

impl BirthDate {
    /// Parses a birth date, given today's date for the "not in the future" rule.
    pub fn parse(input: &str, today: Date) -> Result<Self, FieldError> {
        let s = input.trim();
        let err = |why: &str| {
            FieldError::new(
                "birth_date",
                format!("{s:?} {why}; write it as 1990-12-31 or 31/12/1990"),
            )
        };
        let parts: Vec<&str> = if s.contains('-') {
            s.split('-').collect()
        } else {
            let mut p: Vec<&str> = s.split('/').collect();
            p.reverse();
            p
        };
        let [y, m, d] = parts.as_slice() else {
            return Err(err("is not a date"));
        };
        let num = |t: &str, len: std::ops::RangeInclusive<usize>| {
            (len.contains(&t.len()) && t.chars().all(|c| c.is_ascii_digit()))
                .then(|| t.parse::<i32>().ok())
                .flatten()
        };
        let (Some(y), Some(m), Some(d)) = (num(y, 4..=4), num(m, 1..=2), num(d, 1..=2)) else {
            return Err(err("is not a date"));
        };
        let month = u8::try_from(m)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(|| err("has no such month"))?;
        let day = u8::try_from(d).map_err(|_| err("has no such day"))?;
        let date = Date::from_calendar_date(y, month, day).map_err(|_| err("has no such day"))?;
        if date > today {
            return Err(err("is in the future"));
        }
        if y < 1900 {
            return Err(err("is before 1900"));
        }
        Ok(Self(date))
    }

    /// Reads a stored `YYYY-MM-DD` date (no "future" check: it was checked when written).
    pub fn from_stored(s: &str) -> Result<Self, FieldError> {
        Self::parse(s, Date::MAX)
    }

    /// The date.
    pub fn date(self) -> Date {
        self.0
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

impl serde::Serialize for BirthDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BirthDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_stored(&s).map_err(serde::de::Error::custom)
    }
}

/// A printed loyalty card number: 12 digits whose last is the Luhn check digit, as the
/// product prints them (spaces and hyphens between digits are dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(String);

impl CardNumber {
    /// Parses a card number.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let allowed = s
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
        if !allowed || digits.len() != 12 {
            return Err(FieldError::new(
                "card_number",
                format!("{s:?} is not a card number; write the 12 digits printed on the card"),
            ));
        }
        if !super::points::is_card_number(&digits) {
            return Err(FieldError::new(
                "card_number",
                format!("{s:?} has a wrong check digit; copy the 12 digits again from the card"),
            ));
        }
        Ok(Self(digits))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a marketing consent was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConsentSource {
    /// A customer file imported by the shop.
    Import,
    /// The customer, in the portal.
    Portal,
    /// The customer, on the join page.
    Join,
    /// A member of staff, in the admin panel or the API.
    Staff,
}

impl ConsentSource {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Import => "import",
            ConsentSource::Portal => "portal",
            ConsentSource::Join => "join",
            ConsentSource::Staff => "staff",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Import, Self::Portal, Self::Join, Self::Staff]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A customer's answer about marketing mail: given or not, and when and where it was
/// last given or withdrawn (`None` for a customer never asked, who gets none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketingConsent {
    /// Whether marketing mail may be sent.
    pub granted: bool,
    /// When it was last given or withdrawn.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub at: Option<OffsetDateTime>,
    /// Where it was last given or withdrawn.
    pub source: Option<ConsentSource>,
}

impl MarketingConsent {
    /// A consent given or withdrawn now.
    pub fn answered(granted: bool, source: ConsentSource, now: OffsetDateTime) -> Self {
        Self {
            granted,
            at: Some(now),
            source: Some(source),
        }
    }
}

/// Reads a yes/no cell of a customer file: en-US and pt-BR words, `1`/`0`, `x`, empty
/// for no.
pub fn parse_yes_no(input: &str, field: &str) -> Result<bool, FieldError> {
    match input.trim().to_lowercase().as_str() {
        "" | "no" | "n" | "false" | "0" | "não" | "nao" | "f" => Ok(false),
        "yes" | "y" | "true" | "1" | "x" | "sim" | "s" | "v" | "verdadeiro" => Ok(true),
        other => Err(FieldError::new(
            field,
            format!("{other:?} is not yes or no; write yes or no (sim or não)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn birth_dates_read_both_ways_and_refuse_impossible_days() {
        let today = date!(2026 - 12 - 05);
        assert_eq!(
            BirthDate::parse("1990-12-31", today).map(|d| d.to_string()),
            Ok("1990-12-31".into())
        );
        assert_eq!(
            BirthDate::parse("31/12/1990", today).map(|d| d.to_string()),
            Ok("1990-12-31".into())
        );
        for bad in [
            "1990-02-30",
            "2030-01-01",
            "1800-01-01",
            "31.12.1990",
            "x",
            "1990-13-01",
        ] {
            assert_eq!(
                BirthDate::parse(bad, today).expect_err(bad).field,
                "birth_date"
            );
        }
    }

    #[test]
    fn card_numbers_keep_digits() {
        let card = super::super::points::new_card_number();
        let spaced = format!("{} {}-{}", &card[..4], &card[4..8], &card[8..]);
        assert_eq!(CardNumber::parse(&spaced).map(|c| c.0), Ok(card.clone()));
        let wrong = format!("{}{}", &card[..11], (card.as_bytes()[11] - b'0' + 1) % 10);
        assert!(CardNumber::parse(&wrong).is_err());
        assert!(CardNumber::parse("12").is_err());
        assert!(CardNumber::parse("ABC123456").is_err());
    }

    #[test]
    fn yes_no_in_both_languages() {
        assert_eq!(parse_yes_no("Sim", "c"), Ok(true));
        assert_eq!(parse_yes_no("não", "c"), Ok(false));
        assert!(parse_yes_no("maybe", "c").is_err());
    }
}
