//! Signing in (rate limited per device, account and address: see [`super::throttle`])
//! and out, setting a password from a one-time link, changing one's password.

use super::form::{CsrfForm, Empty, SignInForm};
use super::layout::{Chrome, request_lang};
use super::redirect::safe_back;
use super::throttle::{self, Allowance, ClientAddr};
use super::{Message, render};
use crate::AppState;
use crate::session::{self, SignedIn};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_core::secret;
use loyalty_core::service::signin;
use loyalty_identity::builtin::CredentialError;
use secrecy::SecretString;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route(
            "/auth/set-password",
            get(set_password_page).post(set_password),
        )
        .route(
            "/account/password",
            get(change_password_page).post(change_password),
        )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    c: Chrome,
    error: Option<&'a str>,
    username: &'a str,
    next: &'a str,
    oidc: Option<String>,
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct PasswordPage<'a> {
    c: Chrome,
    heading: &'a str,
    action: &'a str,
    error: Option<String>,
    token: Option<&'a str>,
    csrf: Option<&'a str>,
    ask_current: bool,
}

fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

fn unavailable() -> Response {
    let c = Chrome::default();
    render(
        StatusCode::NOT_FOUND,
        &Message {
            heading: c.t("idp_heading"),
            message: c.t("idp_text"),
            link: "/",
            link_text: c.t("back_to_start"),
            c,
        },
    )
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    user: String,
}

async fn login_page(
    State(state): State<AppState>,
    signed_in: Option<SignedIn>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if signed_in.is_some() {
        return Redirect::to(safe_back(&q.next)).into_response();
    }
    render(
        StatusCode::OK,
        &LoginPage {
            c: Chrome::anonymous(request_lang(&headers), "/login"),
            error: None,
            username: &q.user,
            next: safe_back(&q.next),
            oidc: state.identity.oidc().map(|_| "/auth/login".to_owned()),
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    addr: ClientAddr,
    SignInForm(form): SignInForm<LoginForm>,
) -> Response {
    let Some(builtin) = state.identity.builtin() else {
        return unavailable();
    };
    let c = Chrome::anonymous(request_lang(&headers), "/login");
    let next = safe_back(&form.next);
    let page = |status, error: &'static str| {
        render(
            status,
            &LoginPage {
                c: c.clone(),
                error: Some(c.t(error)),
                username: &form.username,
                next,
                oidc: None,
            },
        )
    };
    let store = state.store.as_ref();
    let now = state.clock.now();
    let allowance = match builtin
        .recognized_device(&form.username, &throttle::device_cookies(&headers))
        .await
    {
        Ok(Some(device)) => Allowance::Device(device),
        Ok(None) => Allowance::Shared,
        Err(e) => {
            tracing::error!(error = %e, "reading the device cookie's account");
            return page(StatusCode::SERVICE_UNAVAILABLE, "signin_unavailable");
        }
    };
    match throttle::blocked(store, now, &form.username, &addr, &allowance).await {
        Ok(false) => {}
        Ok(true) => {
            tracing::warn!(address = %addr.0, device = matches!(allowance, Allowance::Device(_)), "sign-in refused: too many failed attempts");
            return page(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        }
        Err(e) => {
            tracing::error!(error = %e, "reading sign-in counters");
            return page(StatusCode::SERVICE_UNAVAILABLE, "signin_unavailable");
        }
    }
    let account = match builtin
        .authenticate(&form.username, &SecretString::from(form.password))
        .await
    {
        Ok(a) => a,
        Err(CredentialError::Internal(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            return page(StatusCode::SERVICE_UNAVAILABLE, "signin_unavailable");
        }
        Err(_) => {
            crate::metrics::login_failed();
            if let Err(e) = throttle::failed(store, now, &form.username, &addr, &allowance).await {
                tracing::error!(error = %e, "counting a failed sign-in");
            }
            return page(StatusCode::UNAUTHORIZED, "wrong_credentials");
        }
    };
    if let Err(e) = throttle::succeeded(store, &form.username, &allowance).await {
        tracing::error!(error = %e, "clearing sign-in counters");
    }
    let (token, csrf) = session::new_tokens();
    if let Err(e) = state
        .store
        .insert_session(
            &secret::hash_token(&token),
            account.pk,
            &csrf,
            now,
            now + session::LIFETIME,
        )
        .await
    {
        tracing::error!(error = %e, "storing session");
        return page(StatusCode::SERVICE_UNAVAILABLE, "signin_unavailable");
    }
    tracing::info!(account = account.pk, "signed in");
    let to = if account.must_change_password {
        "/account/password"
    } else {
        next
    };
    let mut response = (
        [(
            header::SET_COOKIE,
            session::set_cookie(&token, secure(&state)),
        )],
        Redirect::to(to),
    )
        .into_response();
    // This browser has signed in to the account: from now on it has its own allowance.
    if let Some(device) = builtin
        .issue_device(&account)
        .and_then(|d| throttle::set_device_cookie(&d, secure(&state)))
    {
        response.headers_mut().append(header::SET_COOKIE, device);
    }
    response
}

async fn logout(
    State(state): State<AppState>,
    signed_in: SignedIn,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Response {
    if let Err(e) = signin::sign_out(state.store.as_ref(), &signed_in.token_hash).await {
        tracing::error!(error = %e, "ending session");
    }
    // In authentik mode, also end the session at the provider when it tells how.
    let target = state
        .identity
        .oidc()
        .and_then(|o| super::oidc::end_session_url(o, &state.config.public_url))
        .unwrap_or_else(|| "/login".to_owned());
    (
        [(header::SET_COOKIE, session::clear_cookie(secure(&state)))],
        Redirect::to(&target),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn set_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if state.identity.builtin().is_none() {
        return unavailable();
    }
    let c = Chrome::anonymous(request_lang(&headers), "/auth/set-password");
    render(
        StatusCode::OK,
        &PasswordPage {
            heading: c.t("choose_password"),
            c,
            action: "/auth/set-password",
            error: None,
            token: Some(&q.token),
            csrf: None,
            ask_current: false,
        },
    )
}

#[derive(Deserialize)]
struct NewPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignInForm(form): SignInForm<NewPasswordForm>,
) -> Response {
    let Some(builtin) = state.identity.builtin() else {
        return unavailable();
    };
    let c = Chrome::anonymous(request_lang(&headers), "/auth/set-password");
    let again = |error: String, status| {
        render(
            status,
            &PasswordPage {
                c: c.clone(),
                heading: c.t("choose_password"),
                action: "/auth/set-password",
                error: Some(error),
                token: Some(&form.token),
                csrf: None,
                ask_current: false,
            },
        )
    };
    if form.password != form.confirm {
        return again(
            c.t("passwords_differ").into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match builtin
        .redeem_link(&form.token, &SecretString::from(form.password.clone()))
        .await
    {
        Ok(account) => render(
            StatusCode::OK,
            &Message {
                heading: c.t("password_set"),
                message: &format!("{} {}", c.t("sign_in_as"), account.username),
                link: &format!("/login?user={}", account.username),
                link_text: c.t("sign_in"),
                c: c.clone(),
            },
        ),
        Err(CredentialError::Policy(p)) => again(
            format!("{} {p}.", c.t("choose_another_password")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(CredentialError::LinkInvalid) => render(
            StatusCode::GONE,
            &Message {
                heading: c.t("link_dead_heading"),
                message: c.t("link_dead_text"),
                link: "/login",
                link_text: c.t("go_to_sign_in"),
                c: c.clone(),
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "setting password from link");
            again(c.t("save_failed").into(), StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

async fn change_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
) -> Response {
    if state.identity.builtin().is_none() {
        return unavailable();
    }
    let c = signed_chrome(&headers, &signed_in);
    let heading = if signed_in.session.principal.must_change_password() {
        c.t("choose_own_password")
    } else {
        c.t("change_password")
    };
    render(
        StatusCode::OK,
        &PasswordPage {
            c: c.clone(),
            heading,
            action: "/account/password",
            error: None,
            token: None,
            csrf: Some(&signed_in.session.csrf_token),
            ask_current: true,
        },
    )
}

fn signed_chrome(headers: &HeaderMap, signed_in: &SignedIn) -> Chrome {
    let mut c = Chrome::anonymous(request_lang(headers), "/account/password");
    c.user = Some(signed_in.session.principal.name().to_owned());
    c.csrf = signed_in.session.csrf_token.clone();
    c
}

async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    CsrfForm(form): CsrfForm<NewPasswordForm>,
) -> Response {
    let Some(builtin) = state.identity.builtin() else {
        return unavailable();
    };
    let c = signed_chrome(&headers, &signed_in);
    let loyalty_core::store::SessionPrincipal::Account(account) = &signed_in.session.principal
    else {
        return unavailable();
    };
    let again = |error: &str, status| {
        render(
            status,
            &PasswordPage {
                c: c.clone(),
                heading: c.t("change_password"),
                action: "/account/password",
                error: Some(error.to_owned()),
                token: None,
                csrf: Some(&signed_in.session.csrf_token),
                ask_current: true,
            },
        )
    };
    if form.password != form.confirm {
        return again(c.t("passwords_differ"), StatusCode::UNPROCESSABLE_ENTITY);
    }
    if form.password == form.current {
        return again(c.t("password_same"), StatusCode::UNPROCESSABLE_ENTITY);
    }
    if builtin
        .authenticate(&account.username, &SecretString::from(form.current.clone()))
        .await
        .is_err()
    {
        return again(c.t("current_wrong"), StatusCode::UNPROCESSABLE_ENTITY);
    }
    if let Err(p) = loyalty_identity::password::check_policy(&form.password) {
        return again(
            &format!("{} {p}.", c.t("choose_another_password")),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    // Every other session of the account ends; this one stays signed in.
    match builtin
        .change_password(
            account.pk,
            &SecretString::from(form.password.clone()),
            &signed_in.token_hash,
        )
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "changing password");
            again(c.t("save_failed"), StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}
