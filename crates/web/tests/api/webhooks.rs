//! Webhook endpoints through the API: an address in a private network is refused when
//! an endpoint is added or changed (`422 webhook.target_refused`), a public one is
//! taken, changed and removed.

use super::app::TestApp;
use loyalty_testkit::both_backends;
use serde_json::json;

both_backends! {
    async fn private_addresses_are_refused_when_adding_or_changing_an_endpoint(db) {
        let app = TestApp::new(db).await;
        let (admin, _) = app.person("alpha_admin", &["alpha-admins"]).await;
        for url in ["http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8080/h", "http://[::ffff:10.0.0.1]/h", "http://100.64.0.9/h"] {
            let (s, e) = app.call(&admin, "POST", "/api/v1/orgs/alpha/webhooks", Some(json!({"url": url}))).await;
            assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("webhook.target_refused")), "{url}: {e}");
        }
        let (s, created) = app.call(&admin, "POST", "/api/v1/orgs/alpha/webhooks", Some(json!({"url": "https://93.184.216.34/hooks"}))).await;
        assert_eq!(s.as_u16(), 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/orgs/alpha/webhooks/{id}");
        let (s, e) = app.call(&admin, "PUT", &path, Some(json!({"url": "http://192.168.1.20/hooks"}))).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("webhook.target_refused")), "{e}");
        let (s, changed) = app.call(&admin, "PUT", &path, Some(json!({"url": "https://93.184.216.35/hooks", "events": ["points.earned"]}))).await;
        assert_eq!((s.as_u16(), changed["url"].as_str(), changed["events"][0].as_str()), (200, Some("https://93.184.216.35/hooks"), Some("points.earned")), "{changed}");
        let (_, list) = app.call(&admin, "GET", "/api/v1/orgs/alpha/webhooks", None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert!(!list.to_string().contains("whsec_"), "secrets are shown once: {list}");
        let (s, _) = app.call(&admin, "DELETE", &path, None).await;
        assert_eq!(s.as_u16(), 204);
        let (s, e) = app.call(&admin, "DELETE", &path, None).await;
        assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (404, Some("webhook.not_found")), "{e}");
        let (_, list) = app.call(&admin, "GET", "/api/v1/orgs/alpha/webhooks", None).await;
        assert_eq!(list.as_array().unwrap().len(), 0);
    }
}
