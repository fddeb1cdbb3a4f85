//! Claiming an online account (`/o/{slug}/claim/{token}`): a customer enrolled at the
//! till opens the link they got by mail or scanned at the till, and links a sign-in to
//! their membership with its points and history. The till makes the link
//! (`/o/{slug}/till/c/{id}/claim`), and the join page offers to mail it
//! (`/o/{slug}/join/claim`) instead of refusing an email already enrolled.

use super::error::{OrPage, PageError, error_text};
use super::form::{CsrfForm, OpenForm};
use super::guard::OrgPage;
use super::layout::{Chrome, Notice, cookie_lang, problem, request_lang};
use super::render;
use super::till::staff;
use crate::AppState;
use crate::pages::params::PagePath;
use crate::session::SignedIn;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_core::domain::ledger::Customer;
use loyalty_core::domain::{CustomerId, OrgStatus, Organization, Username};
use loyalty_core::service::claim::{self, Delivery};
use loyalty_core::service::mail::Credential;
use loyalty_core::service::orgs;
use secrecy::ExposeSecret;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/claim/{token}", get(claim_page).post(claim_post))
        .route("/o/{slug}/join/claim", post(join_offer))
        .route("/o/{slug}/till/c/{id}/claim", post(till_link))
}

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage {
    c: Chrome,
    org: Organization,
    token: String,
    card_end: String,
    balance: i64,
    email_on_file: Option<String>,
    notice: Option<Notice>,
    form: ClaimForm,
    signed_in_as: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ClaimForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

/// The active organization and a public page frame (with the session's token when
/// signed in).
async fn public_org(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    here: &str,
    signed_in: Option<&SignedIn>,
) -> Result<(Organization, Chrome), PageError> {
    let anon = Chrome::anonymous(request_lang(headers), here);
    let org = match orgs::get(state.store.as_ref(), slug).await {
        Ok(o) if o.status == OrgStatus::Active => o,
        _ => return Err(PageError::not_found(anon.lang)),
    };
    let mut c = Chrome::anonymous(
        cookie_lang(headers)
            .or_else(|| super::i18n::Lang::parse(org.language.as_str()))
            .unwrap_or_default(),
        here,
    );
    if let Some(s) = signed_in {
        c.user = Some(s.session.principal.name().to_owned());
        c.csrf = s.session.csrf_token.clone();
    }
    Ok((org, c))
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn page(
    c: Chrome,
    org: Organization,
    token: String,
    customer: &Customer,
    notice: Option<Notice>,
    form: ClaimForm,
    signed_in: Option<&SignedIn>,
) -> ClaimPage {
    let digits = &customer.card_number;
    ClaimPage {
        c,
        org,
        token,
        card_end: digits
            .get(digits.len().saturating_sub(4)..)
            .unwrap_or(digits)
            .to_owned(),
        balance: customer.balance,
        email_on_file: customer.email.clone(),
        notice,
        form,
        signed_in_as: signed_in.map(|s| s.session.principal.username().to_owned()),
    }
}

async fn claim_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    PagePath((slug, token)): PagePath<(String, String)>,
) -> Result<Response, PageError> {
    let here = format!("/o/{slug}/claim/{token}");
    let (org, c) = public_org(&state, &headers, &slug, &here, signed_in.as_ref()).await?;
    let customer = claim::customer_of(state.store.as_ref(), state.clock.as_ref(), &org, &token)
        .await
        .or_page(&c, "/")?;
    let form = ClaimForm {
        name: customer.name.clone().unwrap_or_default(),
        email: customer.email.clone().unwrap_or_default(),
    };
    let p = page(c, org, token, &customer, None, form, signed_in.as_ref());
    Ok(no_store(render(StatusCode::OK, &p)))
}

async fn claim_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    PagePath((slug, token)): PagePath<(String, String)>,
    OpenForm(form): OpenForm<ClaimForm>,
) -> Result<Response, PageError> {
    let here = format!("/o/{slug}/claim/{token}");
    let (org, c) = public_org(&state, &headers, &slug, &here, signed_in.as_ref()).await?;
    let (store, dir, clock) = (
        state.store.as_ref(),
        state.directory.as_ref(),
        state.clock.as_ref(),
    );
    let customer = claim::customer_of(store, clock, &org, &token)
        .await
        .or_page(&c, "/")?;
    let result = match &signed_in {
        Some(s) => match Username::parse(s.session.principal.username())
            .map_err(|e| loyalty_core::Error::Validation(vec![e]))
        {
            Err(e) => Err(e),
            Ok(username) => match dir.find_user_by_username(&username).await {
                Ok(Some(user)) => claim::claim_with_account(store, dir, clock, &org, &token, &user)
                    .await
                    .map(|_| None),
                Ok(None) => Err(loyalty_core::Error::not_found("account")),
                Err(e) => Err(e.into()),
            },
        },
        None => claim::claim_new_account(store, dir, clock, &org, &token, &form.name, &form.email)
            .await
            .map(|(_, cred)| Some(cred)),
    };
    Ok(match result {
        Ok(None) => Redirect::to(&format!("/o/{}/me", org.slug)).into_response(),
        Ok(Some(Credential::Link { url, .. })) => {
            no_store(Redirect::to(url.expose_secret()).into_response())
        }
        Ok(Some(cred)) => super::common::credential_page(
            &c,
            c.t("welcome_joined"),
            c.t("customer_link_intro"),
            &form.email,
            &cred,
            &org.timezone,
            "/login",
        ),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            let p = page(c, org, token, &customer, notice, form, signed_in.as_ref());
            no_store(render(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
    })
}

#[derive(Debug, Default, Deserialize)]
struct OfferForm {
    #[serde(default)]
    email: String,
}

/// The join page's offer: mail a claim link to an email enrolled at the till.
async fn join_offer(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<SignedIn>,
    PagePath(slug): PagePath<String>,
    OpenForm(form): OpenForm<OfferForm>,
) -> Result<Response, PageError> {
    let here = format!("/o/{slug}/join");
    let (org, c) = public_org(&state, &headers, &slug, &here, signed_in.as_ref()).await?;
    claim::request_by_email(
        state.store.as_ref(),
        state.clock.as_ref(),
        &org,
        &form.email,
        &state.config.public_url,
    )
    .await
    .or_page(&c, &here)?;
    Ok(problem(
        &c,
        StatusCode::OK,
        "claim_link_heading",
        c.t("claim_offer_sent"),
        "/",
        "back_to_start",
    ))
}

#[derive(Template)]
#[template(path = "claim_link.html")]
struct LinkPage {
    c: Chrome,
    back: String,
    qr: Option<String>,
    url: Option<String>,
    mailed: bool,
}

#[derive(Debug, Deserialize)]
struct LinkForm {
    #[serde(default)]
    send: String,
}

/// The till makes a claim link: shown as a QR code, or mailed to the customer.
async fn till_link(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    CsrfForm(form): CsrfForm<LinkForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let back = format!("{}/till/c/{id}", page.base());
    let delivery = if form.send == "mail" {
        Delivery::Mail
    } else {
        Delivery::Show
    };
    let link = claim::issue(&ctx, id, &state.config.public_url, delivery)
        .await
        .or_page(&c, &back)?;
    let shown = delivery == Delivery::Show;
    Ok(no_store(render(
        StatusCode::OK,
        &LinkPage {
            qr: shown.then(|| super::qr::svg(&link.url)).flatten(),
            url: shown.then_some(link.url),
            mailed: link.mailed,
            c,
            back,
        },
    )))
}
