//! People's names, usernames, email addresses and phone numbers.

use crate::error::FieldError;
use std::fmt;

/// An email address: one `@`, a non-empty local part, a domain with a dot, no spaces,
/// at most 254 characters. Stored lower case, so look-ups are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an email address.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim().to_lowercase();
        let err = |why: &str| {
            FieldError::new(
                "email",
                format!(
                    "{:?} {why}; write an address such as jane.smith@example.com",
                    input.trim()
                ),
            )
        };
        if s.is_empty() {
            return Err(err("is empty"));
        }
        if s.len() > 254 {
            return Err(err("is longer than 254 characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(err("has no @"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(err("is not one local part and one domain"));
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<' || c == '>')
        {
            return Err(err(
                "contains spaces or characters not allowed in an address",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err(err("has no valid domain"));
        }
        Ok(Self(s))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: 1-255 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a display name.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() || s.chars().count() > 255 || s.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "must be 1-255 characters without line breaks, such as Jane Smith",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A sign-in name, as Authentik accepts them: 1-150 characters of letters, digits and
/// `@ . + - _`. Compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Parses a username.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "@.+-_".contains(c);
        if s.is_empty() || s.len() > 150 || !s.chars().all(ok_char) {
            return Err(FieldError::new(
                "username",
                format!(
                    "{s:?} is not a valid username; use 1-150 letters, digits and @ . + - _, \
                     such as nextdoor_admin"
                ),
            ));
        }
        Ok(Self(s.to_lowercase()))
    }

    /// The username an organization's first admin gets: `{slug}_admin`, as in the runbook.
    pub fn org_admin(slug: &super::OrgSlug) -> Self {
        Self(format!("{}_admin", slug.as_str()))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number as written by a person: digits with optional `+`, spaces, dots,
/// hyphens and parentheses, 6-15 digits. Stored as `+` and digits when it starts with `+`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let allowed = s
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || " .-()".contains(c) || (c == '+' && i == 0));
        if !allowed || digits.len() < 6 || digits.len() > 15 {
            return Err(FieldError::new(
                "phone",
                format!(
                    "{s:?} is not a phone number; write it with the country code, such as +1 555-123-4567"
                ),
            ));
        }
        Ok(Self(if s.starts_with('+') {
            format!("+{digits}")
        } else {
            digits
        }))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse(" Jane.Smith@NextDoorMarket.com ").map(|e| e.0),
            Ok("jane.smith@nextdoormarket.com".into())
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@x.com",
            "jane@localhost",
            "a b@x.com",
            "a@b@c.com",
            "a@-x.com",
        ] {
            assert_eq!(Email::parse(bad).expect_err(bad).field, "email");
        }
    }

    #[test]
    fn phones_keep_the_plus_and_digits() {
        assert_eq!(
            Phone::parse("+1 555-123-4567").map(|p| p.0),
            Ok("+15551234567".into())
        );
        assert!(Phone::parse("12").is_err());
        assert!(Phone::parse("555 CALL NOW").is_err());
    }

    #[test]
    fn names_and_usernames_are_bounded() {
        assert!(PersonName::parse("  ").is_err());
        assert!(PersonName::parse(&"x".repeat(256)).is_err());
        assert_eq!(
            PersonName::parse(" Jane Smith ").map(|n| n.0),
            Ok("Jane Smith".into())
        );
        assert_eq!(
            Username::parse("Cashier_Test").map(|u| u.0),
            Ok("cashier_test".into())
        );
        assert!(Username::parse("has space").is_err());
    }
}
