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
/// OpenAPI document. `form_origins` are the other origins a form may lead to: the public
/// URL's (a form sent on a pinned custom domain can continue to a one-time link under
/// the public URL) and the identity provider's (the sign-out form continues to its
/// logout page in authentik mode).
pub fn content_security_policy(form_origins: &[String]) -> String {
    let mut form_action = "'self'".to_owned();
    for origin in form_origins {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' {SWAGGER_LOGO_STYLE}; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The origin (`scheme://host[:port]`) of a URL, when it has one that a header can hold.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]+".contains(c))
    };
    (ok(scheme) && ok(authority)).then(|| format!("{scheme}://{authority}"))
}

/// `router` with the security headers added to every response. `provider_logout` is the
/// identity provider's logout URL, when sign-out continues there.
pub fn headers(router: Router, public_url: &str, provider_logout: Option<&str>) -> Router {
    let form_origins: Vec<String> = [Some(public_url), provider_logout]
        .into_iter()
        .flatten()
        .filter_map(origin)
        .collect();
    let csp = HeaderValue::from_str(&content_security_policy(&form_origins)).unwrap_or(
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
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
        let csp = content_security_policy(&[]);
        for part in [
            "default-src 'none'",
            "script-src 'self';",
            "frame-ancestors 'none'",
            "form-action 'self';",
        ] {
            assert!(csp.contains(part), "{part} in {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        let csp = content_security_policy(&["https://id.example.com".into()]);
        assert!(
            csp.contains("form-action 'self' https://id.example.com;"),
            "{csp}"
        );
    }

    #[test]
    fn origins_are_scheme_and_authority_only() {
        assert_eq!(
            origin("https://id.example.com/application/o/end-session/?x=1").as_deref(),
            Some("https://id.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin("http://[::1]:8080/").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(origin("not a url"), None);
        assert_eq!(origin("https://evil.example; script-src *"), None);
    }
}
