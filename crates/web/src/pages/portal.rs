//! The customer portal (`/o/{slug}/me`): balance, member card with its number and a QR
//! code, the rewards they can afford, and their history.

use super::admin::entry_kind as admin_entry_kind;
use super::error::{OrPage, PageError};
use super::form::CsrfForm;
use super::guard::OrgPage;
use super::layout::{Chrome, problem};
use super::params::PageQuery;
use super::qr;
use super::render;
use super::till::TierView;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_core::domain::Role;
use loyalty_core::domain::ledger::{Customer, PointsError};
use loyalty_core::domain::program::{describe_grants, explains};
use loyalty_core::service::customers::{self, LedgerRange};
use loyalty_core::service::erasure;
use loyalty_core::service::wallet::look::shop_look;
use loyalty_core::service::{program, rewards, tiers};
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/me", get(me))
        .route("/o/{slug}/me/erase", post(erase))
        .route("/o/{slug}/me/consent", post(consent))
        .route("/o/{slug}/me/wallet.pkpass", get(apple_pass))
        .route("/o/{slug}/wallet/logo.png", get(wallet_logo))
        .route("/o/{slug}/wallet/link/{token}", get(till_link))
}

#[derive(Deserialize)]
struct EraseForm {
    #[serde(default)]
    confirm: String,
}

/// "Erase my account": the customer erases themselves (typing the confirmation word);
/// their session ends with it, so the answer is a page that needs no sign-in.
async fn erase(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<EraseForm>,
) -> Result<Response, PageError> {
    let c = page.chrome("me", "");
    let role = page.require(&[Role::Customer], &c)?;
    let ctx = page.ctx(&state, role);
    let subject = page.person.signed_in.session.principal.subject();
    let back = format!("{}/me", page.base());
    let journal = state.config.erasure_journal.as_deref();
    erasure::erase_own(
        &ctx,
        state.directory.as_ref(),
        journal,
        Some(subject),
        &form.confirm,
    )
    .await
    .or_page(&c, &back)?;
    Ok(problem(
        &c,
        StatusCode::OK,
        "erased_heading",
        c.t("erased_text"),
        "/",
        "home",
    ))
}

struct Row {
    when: String,
    kind: &'static str,
    points: i64,
    /// What each rule gave, for an award under a program: `25 base + 25 Tuesday double`.
    breakdown: String,
}

struct Affordable {
    name: String,
    cost: i64,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    c: Chrome,
    org_name: String,
    customer: Customer,
    qr: Option<String>,
    rows: Vec<Row>,
    affordable: Vec<Affordable>,
    next_reward: Option<(String, i64)>,
    cards: Vec<MyCard>,
    /// Their tier and progress, when the program has tiers.
    tier: Option<TierView>,
    since: String,
    slug: String,
    saved: bool,
    base: String,
    /// The "Add to Apple Wallet" link, when the operator configured Apple Wallet.
    apple_wallet: Option<String>,
    /// The "Save to Google Wallet" link, when the operator configured Google Wallet.
    google_wallet: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct MeQuery {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    #[serde(default)]
    marketing: String,
}

/// The customer gives or withdraws marketing consent.
async fn consent(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Result<Response, PageError> {
    let c = page.chrome("me", "");
    let role = page.require(&[Role::Customer], &c)?;
    let ctx = page.ctx(&state, role);
    let subject = page.person.signed_in.session.principal.subject();
    let back = format!("{}/me", page.base());
    customers::set_own_marketing_consent(&ctx, Some(subject), form.marketing == "yes")
        .await
        .or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=consent")).into_response())
}

/// One of the customer's stamp cards.
struct MyCard {
    name: String,
    stamps: i64,
    required: u32,
    reward: String,
    full: bool,
}

async fn me(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<MeQuery>,
) -> Result<Response, PageError> {
    let c = page.chrome("me", "");
    let role = page.require(&[Role::Customer], &c)?;
    let ctx = page.ctx(&state, role);
    let subject = page.person.signed_in.session.principal.subject();
    let (customer, mut ledger) =
        match customers::own_history(&ctx, Some(subject), LedgerRange::first(200)).await {
            Err(loyalty_core::Error::Points(PointsError::CustomerNotFound)) => {
                return Err(PageError::from(problem(
                    &c,
                    StatusCode::NOT_FOUND,
                    "not_enrolled_heading",
                    c.t("not_enrolled_text"),
                    &format!("{}/join", page.base()),
                    "join_now",
                )));
            }
            other => other.or_page(&c, "/")?,
        };
    let tz = &page.org.timezone;
    ledger.reverse();
    let rows = ledger
        .iter()
        .take(50)
        .map(|line| Row {
            when: c.lang.date(line.entry.created_at, tz),
            kind: admin_entry_kind(&line.entry),
            points: line.entry.points,
            breakdown: if explains(&line.grants) {
                describe_grants(&line.grants, c.lang.written())
            } else {
                String::new()
            },
        })
        .collect();
    let tier = if page.org.program.running_tiers().is_empty() {
        None
    } else {
        let progress = tiers::own_progress(&ctx, Some(subject))
            .await
            .or_page(&c, "/")?;
        TierView::of(c.lang, &page.org, &progress)
    };
    let cards = program::own_cards(&ctx, Some(subject))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|k| MyCard {
            name: k.name,
            stamps: k.stamps,
            required: k.stamps_required,
            reward: k.reward,
            full: k.full,
        })
        .collect();
    let mut rewards = rewards::list(&ctx).await.unwrap_or_default();
    rewards.retain(|r| r.active && r.stock != Some(0));
    rewards.sort_by_key(|r| r.cost_points);
    let next_reward = rewards
        .iter()
        .find(|r| r.cost_points > customer.balance)
        .map(|r| (r.name.clone(), r.cost_points - customer.balance));
    let affordable = rewards
        .into_iter()
        .filter(|r| r.cost_points <= customer.balance)
        .map(|r| Affordable {
            name: r.name,
            cost: r.cost_points,
        })
        .collect();
    // The link carries the member's object; from now on their points changes update it.
    let google_wallet = match state.config.google_wallet.as_ref() {
        Some(w) => {
            let now = state.clock.now();
            let look = shop_look(state.store.as_ref(), &page.org)
                .await
                .or_page(&c, "/")?;
            match w.save_link(&page.org, &look, &customer, now.unix_timestamp()) {
                Ok(link) => {
                    state
                        .store
                        .record_google_object(page.org.id, customer.id, now)
                        .await
                        .map_err(loyalty_core::Error::from)
                        .or_page(&c, "/")?;
                    Some(link)
                }
                Err(e) => {
                    tracing::error!(error = %e, "signing a Google Wallet link");
                    None
                }
            }
        }
        None => None,
    };
    Ok(render(
        StatusCode::OK,
        &MePage {
            google_wallet,
            qr: qr::svg(&customer.card_number),
            since: c.lang.date(customer.created_at, tz),
            org_name: page.org.name.clone(),
            slug: page.org.slug.to_string(),
            base: page.base(),
            apple_wallet: state
                .config
                .apple_wallet
                .as_ref()
                .map(|_| format!("{}/me/wallet.pkpass", page.base())),
            c,
            customer,
            rows,
            affordable,
            next_reward,
            saved: q.done.as_deref() == Some("consent"),
            cards,
            tier,
        },
    ))
}

/// The signed-in member's card as an Apple Wallet pass (`application/vnd.apple.pkpass`);
/// 404 while the operator has not configured Apple Wallet.
async fn apple_pass(State(state): State<AppState>, page: OrgPage) -> Result<Response, PageError> {
    let c = page.chrome("me", "");
    let role = page.require(&[Role::Customer], &c)?;
    let back = format!("{}/me", page.base());
    let Some(wallet) = state.config.apple_wallet.as_ref() else {
        return Err(PageError::from(problem(
            &c,
            StatusCode::NOT_FOUND,
            "page_not_found_heading",
            c.t("wallet_not_configured"),
            &back,
            "go_back",
        )));
    };
    let ctx = page.ctx(&state, role);
    let subject = page.person.signed_in.session.principal.subject();
    let customer = customers::own(&ctx, Some(subject))
        .await
        .or_page(&c, &back)?;
    pkpass(&state, &c, &back, wallet, &page.org, &customer).await
}

/// The signed `.pkpass` of `customer`'s card at `org` as a download; with the web service
/// on, it carries a fresh authentication token for the pass's updates.
async fn pkpass(
    state: &AppState,
    c: &Chrome,
    back: &str,
    wallet: &loyalty_identity::wallet::apple::AppleWallet,
    org: &loyalty_core::domain::Organization,
    customer: &Customer,
) -> Result<Response, PageError> {
    let (token, voided) = if wallet.issuer.web_service_url.is_some() {
        let (token, pass) = loyalty_core::service::wallet::updates::issue(
            state.store.as_ref(),
            org,
            customer.id,
            state.clock.now(),
        )
        .await
        .or_page(c, back)?;
        (token, pass.voided)
    } else {
        (String::new(), false)
    };
    let look = shop_look(state.store.as_ref(), org)
        .await
        .or_page(c, back)?;
    match wallet.pass(org, &look, customer, &token, voided) {
        Ok(bytes) => Ok(crate::download::attachment(
            "application/vnd.apple.pkpass",
            "card.pkpass",
            bytes,
        )),
        Err(e) => {
            tracing::error!(error = %e, "signing an Apple Wallet pass");
            Err(PageError::from(problem(
                c,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable_heading",
                c.t("wallet_unavailable"),
                back,
                "try_again",
            )))
        }
    }
}

/// The till's QR code, opened on the member's phone without signing in: once, within
/// its minutes, the member's `.pkpass` (Apple Wallet configured, and the phone not an
/// Android one while Google Wallet is configured too), else a redirect to their "Save to
/// Google Wallet" link. A used, expired or unknown link, or another shop's, is 404.
async fn till_link(
    State(state): State<AppState>,
    axum::extract::Path((slug, token)): axum::extract::Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    let lang = super::layout::cookie_lang(&headers)
        .unwrap_or_else(|| super::layout::request_lang(&headers));
    let c = Chrome::anonymous(lang, "/");
    let not_found = |text: &str| {
        PageError::from(problem(
            &c,
            StatusCode::NOT_FOUND,
            "page_not_found_heading",
            text,
            "/",
            "go_back",
        ))
    };
    let org = match loyalty_core::domain::OrgSlug::parse(&slug) {
        Ok(s) => state
            .store
            .organization_by_slug(&s)
            .await
            .map_err(loyalty_core::Error::from)
            .or_page(&c, "/")?,
        Err(_) => None,
    };
    let Some(org) = org else {
        return Err(not_found(c.t("page_not_found_text")));
    };
    let apple = state.config.apple_wallet.as_ref();
    let google = state.config.google_wallet.as_ref();
    if apple.is_none() && google.is_none() {
        return Err(not_found(c.t("wallet_not_configured")));
    }
    let now = state.clock.now();
    let customer = loyalty_core::service::wallet::links::open_till_link(
        state.store.as_ref(),
        &org,
        &token,
        now,
    )
    .await
    .or_page(&c, "/")?;
    let android = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("Android"));
    if let Some(wallet) = apple.filter(|_| google.is_none() || !android) {
        return pkpass(&state, &c, "/", wallet, &org, &customer).await;
    }
    let Some(w) = google else {
        return Err(not_found(c.t("wallet_not_configured")));
    };
    let look = shop_look(state.store.as_ref(), &org)
        .await
        .or_page(&c, "/")?;
    let link = match w.save_link(&org, &look, &customer, now.unix_timestamp()) {
        Ok(link) => link,
        Err(e) => {
            tracing::error!(error = %e, "signing a Google Wallet link");
            return Err(PageError::from(problem(
                &c,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable_heading",
                c.t("wallet_unavailable"),
                "/",
                "try_again",
            )));
        }
    };
    state
        .store
        .record_google_object(org.id, customer.id, now)
        .await
        .map_err(loyalty_core::Error::from)
        .or_page(&c, "/")?;
    Ok(Redirect::to(&link).into_response())
}

/// The shop's logo for its Google Wallet class (`programLogo`): the logo the admin gave
/// for passes, else the passes' built-in icon. Public: Google fetches it.
async fn wallet_logo(
    State(state): State<AppState>,
    axum::extract::Path(slug): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let org = match loyalty_core::domain::OrgSlug::parse(&slug) {
        Ok(s) => state.store.organization_by_slug(&s).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(org) = org else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let look = match shop_look(state.store.as_ref(), &org).await {
        Ok(look) => look,
        Err(e) => {
            tracing::error!(error = %e, "reading a shop's wallet logo");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let logo = look
        .logo_png
        .unwrap_or_else(|| loyalty_identity::wallet::apple::DEFAULT_ICON_2X.to_vec());
    // The tag changes with the file, so a fetch after the admin's change sees the new logo
    // once the hour of caching has passed, and a revalidation costs no body.
    let etag = loyalty_core::service::wallet::look::logo_etag(&logo);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "image/png".to_owned()),
            (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
            (header::ETAG, etag),
        ],
        logo,
    )
        .into_response()
}
