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

/// The guide as one self-contained, printable HTML page.
pub fn html(guide: &Guide) -> Result<String, askama::Error> {
    GuideHtml { guide }.render()
}
