//! What the stand-in serves outside the admin API: the health endpoint, each
//! application's OpenID discovery document and key set (Authentik's recorded answers in
//! shared/authentik/examples, re-addressed), the authorization endpoint, and the
//! provider's end-session endpoint, which runs the provider's invalidation flow as
//! Authentik does: the Authentik session ends only when that flow holds a User Logout
//! stage.

use super::Inner;
use super::flows::USER_LOGOUT;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;

/// The cookie of an Authentik session.
pub const SESSION_COOKIE: &str = "authentik_session";

fn example(name: &str) -> Value {
    let path = crate::schema::shared_file(&format!("examples/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    serde_json::from_str::<Value>(&text).unwrap_or_default()["body"].clone()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The answer to a request outside `/api/v3`, when the stand-in serves its path.
pub(super) fn serve(
    st: &mut Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    if method != Method::GET {
        return None;
    }
    let path = uri.path();
    if path == "/-/health/live/" {
        return Some(StatusCode::OK.into_response());
    }
    let rest = path.strip_prefix("/application/o/")?;
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let base = st.base_url.clone();
    match segments.as_slice() {
        ["authorize"] => {
            let client_id = param("client_id");
            let redirect_uri = param("redirect_uri");
            let Some(p) = st
                .providers
                .iter()
                .find(|p| p["client_id"] == client_id.as_str())
            else {
                return Some(
                    (StatusCode::BAD_REQUEST, "Invalid client identifier").into_response(),
                );
            };
            let registered = p["redirect_uris"].as_array().is_some_and(|uris| {
                uris.iter()
                    .any(|r| r["matching_mode"] == "strict" && r["url"] == redirect_uri.as_str())
            });
            if !registered {
                return Some((StatusCode::BAD_REQUEST, "Redirect URI Error").into_response());
            }
            // An Authentik session answers at once; without one the authentication
            // flow asks for the password first.
            let signed_in = session_cookie(headers).is_some_and(|c| st.sessions.contains_key(&c));
            Some(if signed_in {
                let mut to = url::Url::parse(&redirect_uri).ok()?;
                to.query_pairs_mut()
                    .append_pair("code", &Uuid::new_v4().simple().to_string())
                    .append_pair("state", &param("state"));
                redirect(to.as_str())
            } else {
                let next = url::form_urlencoded::byte_serialize(
                    uri.path_and_query().map_or("", |p| p.as_str()).as_bytes(),
                )
                .collect::<String>();
                redirect(&format!(
                    "{base}/if/flow/default-authentication-flow/?next={next}"
                ))
            })
        }
        [slug, ".well-known", "openid-configuration"] => {
            st.applications.iter().find(|a| a["slug"] == *slug)?;
            let body = example("10_discovery.json")
                .to_string()
                .replace("http://127.0.0.1:9000", &base)
                .replace(
                    "/application/o/nextdoor-loyalty/",
                    &format!("/application/o/{slug}/"),
                );
            Some(json(body))
        }
        [slug, "jwks"] => {
            st.applications.iter().find(|a| a["slug"] == *slug)?;
            Some(json(example("11_jwks.json").to_string()))
        }
        [slug, "end-session"] => {
            let app = st.applications.iter().find(|a| a["slug"] == *slug)?;
            let provider = st.providers.iter().find(|p| p["pk"] == app["provider"])?;
            let app_name = app["name"].as_str().unwrap_or_default().to_owned();
            let flow = provider["invalidation_flow"].clone();
            let logs_out = st.flow_stage_models(&flow).iter().any(|m| m == USER_LOGOUT);
            if logs_out {
                if let Some(cookie) = session_cookie(headers) {
                    st.sessions.remove(&cookie);
                }
                Some(
                    (
                        [(
                            header::SET_COOKIE,
                            format!("{SESSION_COOKIE}=; Max-Age=0; Path=/"),
                        )],
                        "You are signed out.",
                    )
                        .into_response(),
                )
            } else {
                Some(format!("You've logged out of {app_name}.").into_response())
            }
        }
        _ => None,
    }
}
