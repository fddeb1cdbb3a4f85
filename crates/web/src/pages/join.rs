//! The public join page (`/o/{slug}/join`, runbook step 6.3): a person registers as a
//! customer (an account with their email as username, the customers group, enrolment)
//! and goes straight on to choose a password. Someone already signed in joins with one
//! click. Refused when the organization switched the page off.

use super::error::{PageError, error_text};
use super::form::OpenForm;
use super::layout::{Chrome, Notice, problem, request_lang};
use super::render;
use crate::AppState;
use crate::pages::params::PagePath;
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_core::domain::{OrgStatus, Organization};
use loyalty_core::service::join::{self, JoinInput};
use loyalty_core::service::onboard::Credential;
use loyalty_core::service::orgs;
use secrecy::ExposeSecret;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/o/{slug}/join", get(join_page).post(join_post))
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    c: Chrome,
    org: Organization,
    notice: Option<Notice>,
    form: JoinForm,
    signed_in_as: Option<String>,
    /// An email enrolled at the till: the page offers to mail a claim link instead.
    claim_offer: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct JoinForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    /// The "news and offers" box: sent only when ticked.
    #[serde(default)]
    marketing: Option<String>,
}

/// The organization and the page frame, or the page that says the join page is not open.
async fn open_org(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    signed_in: Option<&SignedIn>,
) -> Result<(Organization, Chrome), PageError> {
    let here = format!("/o/{slug}/join");
    let anon = Chrome::anonymous(request_lang(headers), &here);
    let org = match orgs::get(state.store.as_ref(), slug).await {
        Ok(o) if o.status == OrgStatus::Active => o,
        _ => return Err(PageError::not_found(anon.lang)),
    };
    let mut c = Chrome::anonymous(
        super::layout::cookie_lang(headers)
            .or_else(|| super::i18n::Lang::parse(org.language.as_str()))
            .unwrap_or_default(),
        &here,
    );
    if let Some(s) = signed_in {
        c.user = Some(s.session.principal.name().to_owned());
        c.csrf = s.session.csrf_token.clone();
    }
    if !org.join_enabled {
        return Err(PageError::from(problem(
            &c,
            StatusCode::FORBIDDEN,
            "join_closed_heading",
            c.t("join_closed_text"),
            "/",
            "back_to_start",
        )));
    }
    Ok((org, c))
}

async fn join_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    PagePath(slug): PagePath<String>,
) -> Result<Response, PageError> {
    let (org, c) = open_org(&state, &headers, &slug, signed_in.as_ref()).await?;
    Ok(render(
        StatusCode::OK,
        &JoinPage {
            c,
            org,
            notice: None,
            form: JoinForm::default(),
            signed_in_as: signed_in.map(|s| s.session.principal.username().to_owned()),
            claim_offer: None,
        },
    ))
}

async fn join_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    PagePath(slug): PagePath<String>,
    OpenForm(form): OpenForm<JoinForm>,
) -> Result<Response, PageError> {
    let (org, c) = open_org(&state, &headers, &slug, signed_in.as_ref()).await?;
    let (store, dir, clock) = (
        state.store.as_ref(),
        state.directory.as_ref(),
        state.clock.as_ref(),
    );
    let result = match &signed_in {
        // By username: it identifies built-in accounts and people signed in through the
        // identity provider alike (the latter have no built-in account key).
        Some(s) => match loyalty_core::domain::Username::parse(s.session.principal.username())
            .map_err(|e| loyalty_core::Error::Validation(vec![e]))
        {
            Err(e) => Err(e),
            Ok(username) => match dir.find_user_by_username(&username).await {
                Ok(Some(user)) => join::join_signed_in(store, dir, clock, &org, &user).await,
                Ok(None) => Err(loyalty_core::Error::not_found("account")),
                Err(e) => Err(e.into()),
            },
        },
        None => {
            let input = JoinInput {
                name: form.name.clone(),
                email: form.email.clone(),
                phone: form.phone.clone(),
                marketing: form.marketing.is_some(),
            };
            join::join(store, dir, clock, &org, &input).await
        }
    };
    Ok(match result {
        Ok(joined) => match joined.credential {
            Some(Credential::Link { url, .. }) => {
                let mut r = Redirect::to(url.expose_secret()).into_response();
                r.headers_mut().insert(
                    axum::http::header::CACHE_CONTROL,
                    axum::http::HeaderValue::from_static("no-store"),
                );
                r
            }
            Some(cred) => super::common::credential_page(
                &c,
                c.t("welcome_joined"),
                c.t("customer_link_intro"),
                joined.customer.email.as_deref().unwrap_or_default(),
                &cred,
                &org.timezone,
                "/login",
            ),
            None => Redirect::to(&format!("/o/{}/me", org.slug)).into_response(),
        },
        Err(e) => {
            let claim_offer = claim_offer(&e, &form);
            let notice = if claim_offer.is_some() {
                None
            } else {
                Notice::err(error_text(c.lang, &e))
            };
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &JoinPage {
                    c,
                    org,
                    notice,
                    claim_offer,
                    form,
                    signed_in_as: signed_in.map(|s| s.session.principal.username().to_owned()),
                },
            )
        }
    })
}

/// The email to offer a claim link for, when joining failed because it is enrolled
/// already (at the till): the page offers the link instead of only refusing.
fn claim_offer(e: &loyalty_core::Error, form: &JoinForm) -> Option<String> {
    (e.code() == loyalty_core::error::ErrorCode::CustomerExists && !form.email.trim().is_empty())
        .then(|| form.email.trim().to_owned())
}
