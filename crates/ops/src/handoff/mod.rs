//! Handing an organization over to its client (runbook step 7): the system guide as
//! HTML and PDF, and what the post-handoff checklist reads from outside the database.

pub mod guide;
mod metrics;
pub mod pdf;

use askama::Template;
// `Block` is named by the template's match arms.
use guide::{Block, Guide};

#[derive(Template)]
#[template(path = "guide.html")]
struct GuideHtml<'a> {
    guide: &'a Guide,
}

/// How the guide writes numbers, money and dates in its language. The caller supplies
/// the pages' own locale rules, so the guide writes them exactly as the pages do.
pub trait Formats {
    /// A whole number with thousands separators (`1,234` or `1.234`).
    fn int(&self, n: i64) -> String;
    /// An amount with two decimals and the currency (`$1,234.50`, `R$ 1.234,50`).
    fn money(&self, amount: rust_decimal::Decimal, currency: &str) -> String;
    /// A date in the time zone `tz`.
    fn date(&self, t: time::OffsetDateTime, tz: &loyalty_core::domain::TimeZoneName) -> String;
}

/// The guide as one self-contained, printable HTML page.
pub fn html(guide: &Guide) -> Result<String, askama::Error> {
    GuideHtml { guide }.render()
}

/// A language the guide is written in: the pages' languages (the command line checks
/// that the two lists agree), named here so that the guide does not need the web crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (United States).
    #[default]
    En,
    /// Portuguese (Brazil).
    PtBr,
}

impl Lang {
    /// Every language.
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

    /// The BCP 47 tag (`en-US`, `pt-BR`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::PtBr => "pt-BR",
        }
    }

    /// The language's own name.
    pub fn label(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::PtBr => "Português (Brasil)",
        }
    }
}
