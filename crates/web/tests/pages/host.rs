//! Single-tenant routing: a custom domain pinned to one organization serves only it.

use super::app::{TestApp, Who};
use loyalty_testkit::both_backends;
use loyalty_web::WebConfig;

both_backends! {
    async fn a_custom_domain_serves_only_its_organization_and_its_start_page_leads_there(db) {
        let config = WebConfig {
            host_orgs: [("rewards.alpha.example".to_owned(), "alpha".to_owned())].into(),
            ..WebConfig::default()
        };
        let app = TestApp::with_config(db, config).await;
        let cashier = app.person("alpha_cashier", &["alpha-cashiers", "beta-cashiers"]).await;
        let stranger = app.person("stranger", &[]).await;
        let on = |host: &'static str| [("host", host)];
        let pinned = on("Rewards.Alpha.Example:443");
        let other = on("loyalty.example.com");

        // Pages of the pinned organization work; another organization's do not exist there.
        assert_eq!(app.send(&cashier, "GET", "/o/alpha/till", None, &pinned).await.status, 200);
        let r = app.send(&cashier, "GET", "/o/beta/till", None, &pinned).await;
        assert_eq!(r.status, 404, "{}", r.body);
        let m = crate::metrics::scrape(&app).await;
        assert!(m.contains_key("loyalty_http_requests_total{route=\"/o/{slug}/till\",method=\"GET\",status=\"404\"}"), "counted by route: {m:?}");
        assert_eq!(app.send(&cashier, "GET", "/o/beta/till", None, &other).await.status, 200, "other hosts serve every organization");

        // The API likewise: by path and by the X-Organization header.
        let r = app.send(&Who::anonymous(), "GET", "/api/v1/orgs/beta", None, &pinned).await;
        assert_eq!(r.status, 404);
        assert!(r.body.contains("org.not_found"), "{}", r.body);
        assert_eq!(app.send(&Who::anonymous(), "GET", "/api/v1/orgs/alpha", None, &pinned).await.status, 200);
        let r = app.send(&Who::anonymous(), "GET", "/api/v1/orgs/alpha", None, &[("host", "rewards.alpha.example"), ("x-organization", "beta")]).await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(app.send(&Who::anonymous(), "GET", "/api/v1/orgs/beta", None, &other).await.status, 200);

        // The installation's metrics name every organization: not on a client's domain.
        let auth = format!("Bearer {}", crate::app::METRICS_TOKEN);
        assert_eq!(app.send(&Who::anonymous(), "GET", "/metrics", None, &[pinned[0], ("authorization", &auth)]).await.status, 404);
        assert_eq!(app.send(&Who::anonymous(), "GET", "/metrics", None, &[other[0], ("authorization", &auth)]).await.status, 200);

        // The start page leads to the organization's page for the person's role there.
        let r = app.send(&cashier, "GET", "/", None, &pinned).await;
        assert_eq!((r.status.as_u16(), r.location()), (303, "/o/alpha/till"));
        let r = app.send(&stranger, "GET", "/", None, &pinned).await;
        assert_eq!((r.status.as_u16(), r.location()), (303, "/o/alpha/join"));
        let r = app.send(&Who::anonymous(), "GET", "/", None, &pinned).await;
        assert_eq!(r.status, 303);
        assert!(r.location().starts_with("/login"), "{}", r.location());
        let r = app.send(&cashier, "GET", "/", None, &other).await;
        assert_eq!(r.status, 200, "elsewhere the start page lists every organization");
        assert!(r.body.contains("/o/beta/till"), "{}", r.body);
    }
}
