//! Organization slugs: the short name used in URLs and group names.

use crate::error::FieldError;
use std::fmt;

/// Words a slug may not be, because they name parts of the product's own URL space or
/// would confuse people reading group names.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "admins",
    "api",
    "app",
    "auth",
    "static",
    "assets",
    "loyalty",
    "operator",
    "operators",
    "health",
    "ready",
    "metrics",
    "login",
    "logout",
    "www",
    "root",
    "system",
    "public",
    "join",
    "me",
    "till",
    "o",
    "org",
    "orgs",
    "new",
    "authentik",
    "pending",
    "users",
    "support",
    "help",
    "docs",
];

/// A valid organization slug: 2-50 characters of lowercase ASCII letters, digits and
/// single hyphens, not starting or ending with a hyphen, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct OrgSlug(String);

impl OrgSlug {
    /// Parses a slug, saying exactly what is wrong and what would be accepted.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let err = |why: String| {
            FieldError::new(
                "slug",
                format!(
                    "{why}; write 2-50 lowercase letters, digits and single hyphens, \
                     such as nextdoor or fresh-mart"
                ),
            )
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("is empty".into()));
        }
        if s.len() < 2 || s.len() > 50 {
            return Err(err(format!("{s:?} has {} characters", s.chars().count())));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(err(format!("{s:?} contains {c:?}")));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(err(format!("{s:?} starts or ends with a hyphen")));
        }
        if s.contains("--") {
            return Err(err(format!("{s:?} contains a double hyphen")));
        }
        if RESERVED_SLUGS.contains(&s) {
            return Err(FieldError::new(
                "slug",
                format!("{s:?} is reserved by the system; choose another, such as {s}-shop"),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_hyphenated_slugs() {
        for ok in ["nextdoor", "fresh-mart", "a1", "shop-24-7", &"x".repeat(50)] {
            assert_eq!(OrgSlug::parse(ok).map(|s| s.0), Ok(ok.to_string()), "{ok}");
        }
    }

    #[test]
    fn refuses_bad_slugs_naming_the_field() {
        for bad in [
            "",
            "a",
            "Next",
            "next door",
            "-next",
            "next-",
            "next--door",
            "admin",
            "api",
            "auth",
            "static",
            "loyalty",
            "née",
            &"x".repeat(51),
        ] {
            let e = OrgSlug::parse(bad).expect_err(bad);
            assert_eq!(e.field, "slug");
        }
    }
}
