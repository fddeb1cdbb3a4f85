//! Signing in and out, setting a password from a one-time link, changing one's password.

use super::{Message, forged, render};
use crate::AppState;
use crate::session::{self, SignedIn};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use loyalty_core::secret;
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
    error: Option<&'a str>,
    username: &'a str,
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct PasswordPage<'a> {
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
    render(
        StatusCode::NOT_FOUND,
        &Message {
            heading: "Sign-in happens at your identity provider",
            message: "This installation does not keep its own passwords.",
            link: "/",
            link_text: "Back to the start",
        },
    )
}

async fn login_page(signed_in: Option<SignedIn>) -> Response {
    if signed_in.is_some() {
        return Redirect::to("/").into_response();
    }
    render(
        StatusCode::OK,
        &LoginPage {
            error: None,
            username: "",
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !session::same_origin(&headers, &state.config.public_url) {
        return forged();
    }
    let Some(builtin) = &state.builtin else {
        return unavailable();
    };
    let account = match builtin
        .authenticate(&form.username, &SecretString::from(form.password))
        .await
    {
        Ok(a) => a,
        Err(CredentialError::Internal(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            return render(
                StatusCode::SERVICE_UNAVAILABLE,
                &LoginPage {
                    error: Some(
                        "Signing in is not possible right now. Please try again in a minute.",
                    ),
                    username: &form.username,
                },
            );
        }
        Err(_) => {
            return render(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    error: Some("Wrong username or password."),
                    username: &form.username,
                },
            );
        }
    };
    let (token, csrf) = session::new_tokens();
    let now = state.clock.now();
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
        return render(
            StatusCode::SERVICE_UNAVAILABLE,
            &LoginPage {
                error: Some("Signing in is not possible right now. Please try again in a minute."),
                username: &form.username,
            },
        );
    }
    tracing::info!(account = account.pk, "signed in");
    let to = if account.must_change_password {
        "/account/password"
    } else {
        "/"
    };
    (
        [(
            header::SET_COOKIE,
            session::set_cookie(&token, secure(&state)),
        )],
        Redirect::to(to),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session::same_origin(&headers, &state.config.public_url)
        || !session::csrf_ok(&signed_in.session.csrf_token, &form.csrf)
    {
        return forged();
    }
    if let Err(e) = state.store.delete_session(&signed_in.token_hash).await {
        tracing::error!(error = %e, "ending session");
    }
    (
        [(header::SET_COOKIE, session::clear_cookie(secure(&state)))],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn set_password_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    if state.builtin.is_none() {
        return unavailable();
    }
    render(
        StatusCode::OK,
        &PasswordPage {
            heading: "Choose your password",
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
    csrf: String,
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
    Form(form): Form<NewPasswordForm>,
) -> Response {
    if !session::same_origin(&headers, &state.config.public_url) {
        return forged();
    }
    let Some(builtin) = &state.builtin else {
        return unavailable();
    };
    let again = |error: String, status| {
        render(
            status,
            &PasswordPage {
                heading: "Choose your password",
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
            "The two passwords differ. Type the same password twice.".into(),
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
                heading: "Your password is set",
                message: &format!("Sign in as {} with your new password.", account.username),
                link: "/login",
                link_text: "Sign in",
            },
        ),
        Err(CredentialError::Policy(p)) => again(
            format!("Choose another password: {p}."),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(CredentialError::LinkInvalid) => render(
            StatusCode::GONE,
            &Message {
                heading: "This link no longer works",
                message: "It was already used, has expired, or a newer link replaced it. Ask your administrator for a new one.",
                link: "/login",
                link_text: "Go to sign in",
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "setting password from link");
            again(
                "Saving the password failed. Please try again in a minute.".into(),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

async fn change_password_page(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    if state.builtin.is_none() {
        return unavailable();
    }
    let heading = if signed_in.session.account.must_change_password {
        "Choose your own password to continue"
    } else {
        "Change your password"
    };
    render(
        StatusCode::OK,
        &PasswordPage {
            heading,
            action: "/account/password",
            error: None,
            token: None,
            csrf: Some(&signed_in.session.csrf_token),
            ask_current: true,
        },
    )
}

async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: SignedIn,
    Form(form): Form<NewPasswordForm>,
) -> Response {
    if !session::same_origin(&headers, &state.config.public_url)
        || !session::csrf_ok(&signed_in.session.csrf_token, &form.csrf)
    {
        return forged();
    }
    let Some(builtin) = &state.builtin else {
        return unavailable();
    };
    let account = &signed_in.session.account;
    let again = |error: &str, status| {
        render(
            status,
            &PasswordPage {
                heading: "Change your password",
                action: "/account/password",
                error: Some(error.to_owned()),
                token: None,
                csrf: Some(&signed_in.session.csrf_token),
                ask_current: true,
            },
        )
    };
    if form.password != form.confirm {
        return again(
            "The two new passwords differ. Type the same password twice.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if form.password == form.current {
        return again(
            "The new password must differ from the current one.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if builtin
        .authenticate(&account.username, &SecretString::from(form.current.clone()))
        .await
        .is_err()
    {
        return again(
            "The current password is wrong.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if let Err(p) = loyalty_identity::password::check_policy(&form.password) {
        return again(
            &format!("Choose another password: {p}."),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    use loyalty_core::directory::Directory;
    match builtin
        .set_password(
            account.pk,
            &SecretString::from(form.password.clone()),
            false,
        )
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "changing password");
            again(
                "Saving the password failed. Please try again in a minute.",
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}
