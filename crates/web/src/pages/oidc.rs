//! Sign-in through the OpenID Connect provider (authentik mode): `/auth/login` starts
//! the authorization code flow (PKCE S256, state, nonce), keeping its secrets in the
//! database under the hash of a random key in a short-lived HttpOnly cookie, so any
//! instance can finish it; `/auth/callback` finishes it once and opens a session holding
//! the person's name, email and groups as the provider gave them.

use super::layout::{Chrome, request_lang};
use super::{Message, render};
use crate::AppState;
use crate::session;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_core::secret;
use loyalty_core::service::signin;
use loyalty_core::store::{ExternalSubject, LoginFlow};
use loyalty_identity::oidc::OidcClient;
use serde::Deserialize;

/// Name of the cookie keying a starting sign-in.
pub const FLOW_COOKIE: &str = "loyalty_oidc";
/// How long a started sign-in may take.
pub const FLOW_LIFETIME: time::Duration = time::Duration::minutes(10);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(begin))
        .route("/auth/callback", get(callback))
}

fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

fn flow_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let v = format!(
        "{FLOW_COOKIE}={value}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v)
        .unwrap_or_else(|_| HeaderValue::from_static("loyalty_oidc=; Max-Age=0"))
}

fn flow_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FLOW_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Where the provider's logout sends people, when discovery announced an
/// `end_session_endpoint`.
pub(crate) fn end_session_url(oidc: &OidcClient, public_url: &str) -> Option<String> {
    let mut url = oidc.end_session_url()?.clone();
    url.query_pairs_mut()
        .append_pair("client_id", oidc.client_id())
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/login", public_url.trim_end_matches('/')),
        );
    Some(url.to_string())
}

fn failed(headers: &HeaderMap, status: StatusCode) -> Response {
    let c = Chrome::anonymous(request_lang(headers), "/login");
    render(
        status,
        &Message {
            heading: c.t("sign_in"),
            message: c.t("login_oidc_failed"),
            link: "/login",
            link_text: c.t("sign_in"),
            c,
        },
    )
}

async fn begin(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(oidc) = state.identity.oidc() else {
        return crate::pages::not_found_page(request_lang(&headers));
    };
    let start = oidc.begin_login();
    let key = secret::random_token();
    let now = state.clock.now();
    let flow = LoginFlow {
        state: start.state.clone(),
        nonce: start.nonce.clone(),
        pkce_verifier: start.pkce_verifier.clone(),
    };
    if let Err(e) = state
        .store
        .insert_login_flow(&secret::hash_token(&key), &flow, now, now + FLOW_LIFETIME)
        .await
    {
        tracing::error!(error = %e, "storing a sign-in flow");
        return failed(&headers, StatusCode::SERVICE_UNAVAILABLE);
    }
    (
        [(
            header::SET_COOKIE,
            flow_cookie(&key, FLOW_LIFETIME.whole_seconds(), secure(&state)),
        )],
        Redirect::to(start.authorize_url.as_str()),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = state.identity.oidc() else {
        return crate::pages::not_found_page(request_lang(&headers));
    };
    let clear = [(header::SET_COOKIE, flow_cookie("", 0, secure(&state)))];
    let now = state.clock.now();
    // The flow is consumed whatever happens next: a callback works once.
    let flow = match flow_key(&headers) {
        Some(key) => match state
            .store
            .take_login_flow(&secret::hash_token(&key), now)
            .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "reading a sign-in flow");
                return (clear, failed(&headers, StatusCode::SERVICE_UNAVAILABLE)).into_response();
            }
        },
        None => None,
    };
    if let Some(error) = &q.error {
        tracing::info!(error = %error, "the provider refused the sign-in");
        return (clear, failed(&headers, StatusCode::UNAUTHORIZED)).into_response();
    }
    let Some(flow) = flow else {
        tracing::info!("sign-in callback without a live flow");
        return (clear, failed(&headers, StatusCode::BAD_REQUEST)).into_response();
    };
    let identity = match oidc
        .finish_login(
            &q.code,
            &flow.state,
            &q.state,
            &flow.nonce,
            &flow.pkce_verifier,
        )
        .await
    {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "OpenID Connect sign-in failed");
            return (clear, failed(&headers, StatusCode::UNAUTHORIZED)).into_response();
        }
    };
    let subject = ExternalSubject {
        username: identity
            .preferred_username
            .clone()
            .or_else(|| identity.email.clone())
            .unwrap_or_else(|| identity.subject.clone()),
        name: identity
            .name
            .clone()
            .or_else(|| identity.preferred_username.clone())
            .unwrap_or_else(|| identity.subject.clone()),
        email: identity.email.clone(),
        groups: identity.groups.clone(),
        subject: identity.subject.clone(),
    };
    // The member rows the groups call for, then the session (see the sign-in service).
    let (token, csrf) = session::new_tokens();
    match signin::sign_in_subject(
        state.store.as_ref(),
        &subject,
        &secret::hash_token(&token),
        &csrf,
        now,
        now + session::LIFETIME,
    )
    .await
    {
        Ok(report) => {
            if let Some(e) = report.failed_lookup {
                tracing::error!(error = %e, "reading organizations");
            }
            for (org, e) in report.failed_memberships {
                tracing::error!(error = %e, org = %org, "creating a member row");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "storing session");
            return (clear, failed(&headers, StatusCode::SERVICE_UNAVAILABLE)).into_response();
        }
    }
    tracing::info!(subject = %subject.subject, "signed in through OpenID Connect");
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    h.append(header::SET_COOKIE, flow_cookie("", 0, secure(&state)));
    h.append(
        header::SET_COOKIE,
        session::set_cookie(&token, secure(&state)),
    );
    response
}
