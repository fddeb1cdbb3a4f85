//! Where `/login?next=` and `/lang/{tag}?back=` may send people: only paths on this site;
//! anything else (another site, a tab or CR/LF, their encoded forms) goes to the start
//! page, and never answers 500.

use super::app::{ORIGIN, TestApp, Who, form};
use loyalty_testkit::both_backends;

/// Targets a browser would follow to another site, or that cannot go into a header.
const ATTACKS: &[&str] = &[
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "/%0a/evil.example",
    "//evil.example/",
    "/%5Cevil.example",
    "/%255C/evil.example",
    "/%2F%2Fevil.example",
    "https://evil.example/",
    "javascript:alert(1)",
];

both_backends! {
    async fn the_language_switch_goes_back_only_to_a_page_of_this_site(db) {
        let app = TestApp::new(db).await;
        let r = app.get(&Who::anonymous(), "/lang/pt-BR?back=/o/alpha/till%3Fq%3Dana").await;
        assert_eq!((r.status.as_u16(), r.location()), (303, "/o/alpha/till?q=ana"));
        for attack in ATTACKS {
            let r = app.get(&Who::anonymous(), &format!("/lang/pt-BR?back={attack}")).await;
            assert_eq!((r.status.as_u16(), r.location()), (303, "/"), "back={attack}");
            assert!(r.headers.get("set-cookie").is_some(), "the language is still set");
        }
    }

    async fn signing_in_goes_on_only_to_a_page_of_this_site(db) {
        let app = TestApp::new(db).await;
        let admin = app.person("alpha_admin", &["alpha-admins"]).await;
        let sign_in = |next: String| {
            let body = form(&[("username", "alpha_admin"), ("password", "password-1234"), ("next", next.as_str())]);
            let app = &app;
            async move { app.send(&Who::anonymous(), "POST", "/login", Some(body), &[("origin", ORIGIN)]).await }
        };
        let r = sign_in("/o/alpha/admin".into()).await;
        assert_eq!((r.status.as_u16(), r.location()), (303, "/o/alpha/admin"));
        for attack in ATTACKS {
            // The form sends what the page's hidden field held: the decoded query value.
            let decoded = String::from_utf8(
                url::form_urlencoded::parse(format!("n={attack}").as_bytes()).next().unwrap().1.as_bytes().to_vec(),
            ).unwrap();
            for next in [decoded, (*attack).to_owned()] {
                let r = sign_in(next.clone()).await;
                assert_eq!((r.status.as_u16(), r.location()), (303, "/"), "next={next:?}: {}", r.body);
            }
            // Signed in already, the sign-in page sends people on at once.
            let r = app.get(&admin, &format!("/login?next={attack}")).await;
            assert_eq!((r.status.as_u16(), r.location()), (303, "/"), "GET /login?next={attack}");
            // Signed out, the page keeps only a safe target in its form.
            let r = app.get(&Who::anonymous(), &format!("/login?next={attack}")).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(r.body.contains("name=\"next\" value=\"/\""), "{attack}: {}", r.body);
        }
    }
}
