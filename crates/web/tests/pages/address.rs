//! A page address whose query string or path does not parse answers a page in the
//! person's language (400 for the query, 404 for the path), never axum's plain text.

use super::app::TestApp;
use loyalty_testkit::both_backends;

both_backends! {
    async fn a_bad_query_or_path_answers_a_page_not_plain_text(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let portuguese = [("accept-language", "pt-BR"), ("cookie", "loyalty_lang=pt-BR")];
        let cases = [
            ("/o/alpha/till?pts=abc", 400),
            ("/o/alpha/till?q=x&pts=99999999999999999999", 400),
            ("/o/alpha/till/c/not-a-uuid", 404),
            ("/o/alpha/admin/customers/not-a-uuid", 404),
            ("/o/alpha/admin/users/not-a-uuid/deactivate", 404),
        ];
        for (path, status) in cases {
            let r = app.send(&admin, "GET", path, None, &portuguese).await;
            assert_eq!(r.status.as_u16(), status, "{path}: {}", r.body);
            let content_type = r.headers.get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
            assert!(r.body.contains("<html lang=\"pt-BR\""), "{path}: {}", r.body);
        }
    }
}
