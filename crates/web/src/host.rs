//! Single-tenant routing: a custom domain named in `[server] host_orgs` is pinned to one
//! organization. On that `Host`, pages and API calls of any other organization answer
//! 404 (as if it did not exist), and the start page `/` sends people to the pinned
//! organization's pages. Other hosts serve every organization as before.

use crate::api::org_context::{X_ORGANIZATION, org_not_found};
use crate::{AppState, PinnedOrg};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Lower-cases a host and drops a default or explicit port, so `Rewards.Nextdoor.com:443`
/// and `rewards.nextdoor.com` name the same site.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    match host.rsplit_once(':') {
        // Keep IPv6 literals (`[::1]`) whole; strip `:port` only.
        Some((name, port)) if !name.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
            name.to_owned()
        }
        _ => host,
    }
}

/// The organization the request's `Host` is pinned to, if any.
pub fn pinned_slug<'a>(
    host_orgs: &'a std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    uri_host: Option<&str>,
) -> Option<&'a str> {
    if host_orgs.is_empty() {
        return None;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(uri_host)?;
    host_orgs.get(&normalize_host(host)).map(String::as_str)
}

/// The organization a path names: `/o/{slug}/...` or `/api/v1/orgs/{slug}/...`.
fn path_slug(path: &str) -> Option<(&str, bool)> {
    if let Some(rest) = path.strip_prefix("/o/") {
        return Some((rest.split('/').next().unwrap_or_default(), false));
    }
    path.strip_prefix("/api/v1/orgs/")
        .map(|rest| (rest.split('/').next().unwrap_or_default(), true))
}

/// Middleware: pins requests on a configured host to its organization.
pub async fn pin(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(slug) =
        pinned_slug(&state.config.host_orgs, req.headers(), req.uri().host()).map(str::to_owned)
    else {
        return next.run(req).await;
    };
    // Nested routers see a shortened URI; decide on the one the client sent.
    let uri = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().clone(), |o| o.0.clone());
    let path = uri.path();
    // The whole installation's metrics (every organization's slug and volumes) are for the
    // operator's Prometheus, not for a client's domain.
    if path == "/metrics" {
        return crate::pages::not_found_page(crate::pages::layout_lang(req.headers()));
    }
    let api = path.starts_with("/api/");
    let by_path = path_slug(path).map(|(s, api)| (s.to_owned(), api));
    let by_header = req
        .headers()
        .get(X_ORGANIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| api && !h.is_empty())
        .map(|h| (h.to_owned(), true));
    let foreign = by_path
        .into_iter()
        .chain(by_header)
        .find(|(s, _)| *s != slug);
    if let Some((other, api)) = foreign {
        tracing::debug!(pinned = %slug, requested = %other, "another organization on a pinned host");
        return if api {
            org_not_found(&other).into_response()
        } else {
            crate::pages::not_found_page(crate::pages::layout_lang(req.headers()))
        };
    }
    req.extensions_mut().insert(PinnedOrg(slug));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_whatever_their_case_port_or_trailing_dot() {
        assert_eq!(
            normalize_host("Rewards.Nextdoor.com:443"),
            "rewards.nextdoor.com"
        );
        assert_eq!(
            normalize_host("rewards.nextdoor.com."),
            "rewards.nextdoor.com"
        );
        assert_eq!(normalize_host("[::1]:8080"), "[::1]");
        assert_eq!(normalize_host("[::1]"), "[::1]");
        assert_eq!(path_slug("/o/nextdoor/till"), Some(("nextdoor", false)));
        assert_eq!(path_slug("/api/v1/orgs/nextdoor"), Some(("nextdoor", true)));
        assert_eq!(path_slug("/api/v1/orgs"), None);
        assert_eq!(path_slug("/login"), None);
    }
}
