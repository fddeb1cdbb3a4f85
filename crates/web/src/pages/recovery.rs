//! "Forgot your password?" (`/forgot-password`): a person with a built-in account asks
//! for a one-time link by username or email. The answer is the same page whether or not
//! an account matches; requests are limited per account and per address (see
//! [`loyalty_core::service::recovery`]). The form carries an anti-forgery token that
//! must match a cookie set with the form (nobody is signed in to hold a session token).
//! With Authentik, the page points to the provider's own recovery and queues nothing.

use super::form::{CookieForm, FORGOT_COOKIE, form_cookie_token};
use super::layout::{Chrome, cookie_lang, request_lang};
use super::throttle::ClientAddr;
use super::{Message, render};
use crate::AppState;
use crate::PinnedOrg;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use loyalty_core::secret;
use loyalty_core::service::recovery::{self, ResetDecision, ResetOutcome, ResetRequest};
use serde::Deserialize;

const PATH: &str = "/forgot-password";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(page).post(submit))
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    c: Chrome,
    csrf: &'a str,
    login: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    login: String,
}

/// The form with a token (the cookie's, or a new one set with the page).
fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    c: Chrome,
    login: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (token, fresh) = match form_cookie_token(headers) {
        Some(t) => (t, false),
        None => (secret::random_token(), true),
    };
    let mut r = render(
        status,
        &ForgotPage {
            c,
            csrf: &token,
            login,
            error,
        },
    );
    if fresh {
        let cookie = format!(
            "{FORGOT_COOKIE}={token}; Path={PATH}; HttpOnly; SameSite=Strict; Max-Age=3600{}",
            if state.config.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// With Authentik: use the provider's own recovery.
fn use_provider(state: &AppState, c: &Chrome) -> Response {
    let (link, link_text) = match &state.config.recovery_url {
        Some(url) => (url.as_str(), c.t("go_to_idp")),
        None => ("/login", c.t("go_to_sign_in")),
    };
    render(
        StatusCode::OK,
        &Message {
            c: c.clone(),
            heading: c.t("forgot_heading"),
            message: c.t("forgot_idp_text"),
            link,
            link_text,
        },
    )
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let c = Chrome::anonymous(request_lang(&headers), PATH);
    if state.identity.builtin().is_none() {
        return use_provider(&state, &c);
    }
    form_page(&state, &headers, c, "", None, StatusCode::OK)
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    addr: ClientAddr,
    pinned: Option<Extension<PinnedOrg>>,
    CookieForm(form): CookieForm<ForgotForm>,
) -> Response {
    let lang = request_lang(&headers);
    let c = Chrome::anonymous(lang, PATH);
    let Some(builtin) = state.identity.builtin() else {
        return use_provider(&state, &c);
    };
    let login = form.login.trim();
    if login.is_empty() {
        return form_page(
            &state,
            &headers,
            c.clone(),
            "",
            Some(c.t("login_required")),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let chosen = cookie_lang(&headers).map(|l| l.tag());
    let pinned = pinned.map(|Extension(PinnedOrg(slug))| slug);
    let req = ResetRequest {
        login,
        client: &addr.0,
        chosen_language: chosen,
        browser_language: lang.tag(),
        pinned_org: pinned.as_deref(),
    };
    let decision = recovery::check_reset(
        state.store.as_ref(),
        state.clock.as_ref(),
        state.directory.as_ref(),
        &req,
    )
    .await;
    // Logged for the operator, never shown: the page must not tell who has an account.
    // Issuing the link and queuing the mail run after the answer, so a real account
    // does not answer measurably later than an unknown one.
    match decision {
        Ok(ResetDecision::Send(user)) => {
            let (store, clock, dir) = (
                state.store.clone(),
                state.clock.clone(),
                state.directory.clone(),
            );
            tokio::spawn(async move {
                let req = ResetRequest {
                    login: "",
                    client: "",
                    chosen_language: chosen,
                    browser_language: lang.tag(),
                    pinned_org: pinned.as_deref(),
                };
                match recovery::send_reset(
                    store.as_ref(),
                    clock.as_ref(),
                    dir.as_ref(),
                    &user,
                    &req,
                )
                .await
                {
                    Ok(_) => {
                        tracing::info!(account = user.pk, "password reset requested: mail queued")
                    }
                    Err(e) => {
                        tracing::error!(account = user.pk, error = %e, "password reset request failed")
                    }
                }
            });
        }
        Ok(ResetDecision::Skip(ResetOutcome::Throttled)) => {
            tracing::warn!(address = %addr.0, "password reset requested: over the limit, nothing queued");
        }
        Ok(ResetDecision::Skip(other)) => {
            tracing::info!(outcome = ?other, "password reset requested: nothing queued");
        }
        Err(e) => tracing::error!(error = %e, "password reset request failed"),
    }
    let hours = builtin.link_ttl().whole_hours().max(1).to_string();
    let message = format!(
        "{} {}",
        c.t("forgot_sent_text").replace("{hours}", &hours),
        c.t("forgot_several_text")
    );
    render(
        StatusCode::OK,
        &Message {
            c: c.clone(),
            heading: c.t("forgot_sent_heading"),
            message: &message,
            link: "/login",
            link_text: c.t("go_to_sign_in"),
        },
    )
}
