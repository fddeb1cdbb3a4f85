//! Security headers on every response (pages, API, static files, errors, the fallback):
//! a Content-Security-Policy that allows only this site's own scripts, styles, images
//! and connections and no framing, `X-Frame-Options: DENY` for older browsers,
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, and
//! `Strict-Transport-Security` when the public URL is https. A handler that sets one of
//! these itself keeps its own value. docs/security.md explains each.

use axum::Router;
use axum::http::{HeaderValue, Response, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// How long browsers remember to use https only (one year).
pub const HSTS: &str = "max-age=31536000";

/// The one inline style allowed, by its hash: Swagger UI's logo (an SVG that carries
/// `<style>.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}</style>`).
/// A newer Swagger UI with another logo shows up as a failing browser test.
pub const SWAGGER_LOGO_STYLE: &str = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/// The Content-Security-Policy. The pages load `/static/app.js` and `/static/app.css`
/// and hold no inline script, style or event handler; Swagger UI (`/api/docs`) loads
/// its own files from this site, draws its icons from `data:` images and fetches the
/// OpenAPI document. `form_origin` is another origin forms may lead to: the identity
/// provider's logout page, which the sign-out form redirects to in authentik mode.
pub fn content_security_policy(form_origin: Option<&str>) -> String {
    let form_action = match form_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' {SWAGGER_LOGO_STYLE}; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// `router` with the security headers added to every response.
pub fn headers(router: Router, public_url: &str, form_origin: Option<&str>) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(form_origin)).unwrap_or_else(|e| {
        // Only an origin with characters a header cannot hold gets here; leave it out.
        tracing::warn!(error = %e, origin = ?form_origin, "identity provider origin left out of the CSP");
        HeaderValue::from_str(&content_security_policy(None))
            .unwrap_or(HeaderValue::from_static("default-src 'none'"))
    });
    let hsts = public_url
        .starts_with("https://")
        .then(|| HeaderValue::from_static(HSTS));
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &Response<_>| hsts.clone(),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_this_site_and_no_framing() {
        let csp = content_security_policy(None);
        for part in [
            "default-src 'none'",
            "script-src 'self';",
            "frame-ancestors 'none'",
            "form-action 'self';",
        ] {
            assert!(csp.contains(part), "{part} in {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        let csp = content_security_policy(Some("https://id.example.com"));
        assert!(
            csp.contains("form-action 'self' https://id.example.com;"),
            "{csp}"
        );
    }
}
