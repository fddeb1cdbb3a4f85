//! What every page shares: the page chrome (language, who is signed in, navigation),
//! notices, and the page that says what happened and what to do.

use super::i18n::Lang;
use super::{Message, render};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// Navigation of the organization a page belongs to.
#[derive(Debug, Clone)]
pub(crate) struct OrgNav {
    pub slug: String,
    pub name: String,
    pub admin: bool,
    pub till: bool,
    pub me: bool,
}

/// The frame around every page.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chrome {
    pub lang: Lang,
    pub csrf: String,
    pub user: Option<String>,
    pub org: Option<OrgNav>,
    pub operator: bool,
    /// Path of this page, for the language switch to come back to.
    pub here: String,
    /// The active navigation item (`admin`, `till`, `me`, `operator`, `home`).
    pub section: &'static str,
    /// The active admin tab.
    pub tab: &'static str,
    /// An operator's read-only support visit: every form is disabled (and the server
    /// refuses their posts with `operator.read_only`).
    pub read_only: bool,
}

impl Chrome {
    /// A frame for people who are not signed in.
    pub fn anonymous(lang: Lang, here: &str) -> Self {
        Self {
            lang,
            here: here.to_owned(),
            ..Self::default()
        }
    }

    /// Text in the page's language.
    pub fn t(&self, key: &'static str) -> &'static str {
        self.lang.t(key)
    }

    /// The languages offered by the switcher.
    pub fn langs(&self) -> &'static [Lang] {
        &Lang::ALL
    }

    /// Whether `l` is the page's language.
    pub fn is_lang(&self, l: &Lang) -> bool {
        *l == self.lang
    }

    /// This page's path, encoded for a query parameter.
    pub fn here_encoded(&self) -> String {
        encode(&self.here)
    }

    /// A whole number in the page's locale.
    pub fn n(&self, v: &i64) -> String {
        self.lang.int(*v)
    }
}

/// A sentence shown above a form: the result of the last action.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub ok: bool,
    pub text: String,
}

impl Notice {
    /// A success notice.
    pub fn ok(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            ok: true,
            text: text.into(),
        })
    }

    /// An error notice.
    pub fn err(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            ok: false,
            text: text.into(),
        })
    }
}

/// The language of a request outside any organization: the person's cookie, else the
/// best of their browser's languages that we speak, else English.
pub(crate) fn request_lang(headers: &HeaderMap) -> Lang {
    cookie_lang(headers)
        .or_else(|| browser_lang(headers))
        .unwrap_or_default()
}

/// The best of the browser's languages (`Accept-Language`, by q-value) that we speak.
pub(crate) fn browser_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
}

/// The person's own language choice, if they made one.
pub(crate) fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == super::i18n::COOKIE)
        .and_then(|(_, v)| Lang::parse(v))
}

/// A page saying what happened and what to do, with a link onwards.
pub(crate) fn problem(
    c: &Chrome,
    status: StatusCode,
    heading: &'static str,
    message: &str,
    link: &str,
    link_text: &'static str,
) -> Response {
    render(
        status,
        &Message {
            c: c.clone(),
            heading: c.t(heading),
            message,
            link,
            link_text: c.t(link_text),
        },
    )
}

/// Percent-encodes a path for a query parameter.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
