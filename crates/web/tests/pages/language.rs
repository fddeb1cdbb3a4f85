//! The language of the pages: a person's choice (the language cookie) wins; without
//! one, pages outside an organization follow the best of the browser's
//! `Accept-Language` that we speak, by q-value; an organization's pages keep the
//! organization's language.

use super::app::{TestApp, Who};
use loyalty_testkit::both_backends;

/// The `lang` of the page's `<html>`.
fn html_lang(body: &str) -> &str {
    body.split("<html lang=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
}

const FRENCH_THEN_PORTUGUESE: &str = "fr-CH, fr;q=0.9, pt;q=0.8, en;q=0.5";

both_backends! {
    async fn the_browser_s_language_is_used_on_first_visit_and_the_cookie_still_wins(db) {
        let app = TestApp::new(db).await;
        let browser = [("accept-language", FRENCH_THEN_PORTUGUESE)];

        // Signed out: the sign-in page.
        let r = app.send(&Who::anonymous(), "GET", "/login", None, &browser).await;
        assert_eq!((r.status.as_u16(), html_lang(&r.body)), (200, "pt-BR"));
        let r = app.send(&Who::anonymous(), "GET", "/login", None, &[("accept-language", "de, en-GB;q=0.7, pt;q=0.3")]).await;
        assert_eq!(html_lang(&r.body), "en-US", "the better of ours by q-value");
        let r = app.send(&Who::anonymous(), "GET", "/login", None, &[browser[0], ("cookie", "loyalty_lang=en-US")]).await;
        assert_eq!(html_lang(&r.body), "en-US", "the cookie wins");
        let r = app.send(&Who::anonymous(), "GET", "/login", None, &[]).await;
        assert_eq!(html_lang(&r.body), "en-US", "no header, no cookie: English");

        // Signed in, outside an organization: the start page.
        let stranger = app.person("stranger", &[]).await;
        let r = app.send(&stranger, "GET", "/", None, &browser).await;
        assert_eq!((r.status.as_u16(), html_lang(&r.body)), (200, "pt-BR"), "{}", r.body);
        let r = app.send(&stranger, "GET", "/", None, &[browser[0], ("cookie", "loyalty_lang=en-US")]).await;
        assert_eq!(html_lang(&r.body), "en-US", "the cookie wins");

        // An organization's pages speak its language unless the person chose another.
        let cashier = app.person("alpha_cashier", &["alpha-cashiers"]).await;
        let r = app.send(&cashier, "GET", "/o/alpha/till", None, &browser).await;
        assert_eq!((r.status.as_u16(), html_lang(&r.body)), (200, "en-US"));
        let r = app.send(&cashier, "GET", "/o/alpha/till", None, &[browser[0], ("cookie", "loyalty_lang=pt-BR")]).await;
        assert_eq!(html_lang(&r.body), "pt-BR");
    }
}
