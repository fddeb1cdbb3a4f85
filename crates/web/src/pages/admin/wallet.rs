//! The wallet card's look on the settings page (`/o/{slug}/admin/settings/wallet`): the
//! three colours and the logo of the shop's cards in Apple Wallet and Google Wallet. The
//! logo file is read in the browser into the form as base64 (pages post plain forms), so
//! this one route takes a body larger than the server's usual limit; the rules are
//! `loyalty_core::service::wallet::look`'s.

use super::admin;
use super::catalog::render_settings;
use crate::AppState;
use crate::pages::error::{PageError, describe};
use crate::pages::form::CsrfForm;
use crate::pages::guard::OrgPage;
use crate::pages::layout::{Chrome, Notice};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use base64::Engine as _;
use loyalty_core::ErrorCode;
use loyalty_core::service::points::Ctx;
use loyalty_core::service::wallet::look::{self, LOGO_MAX_BYTES, LOW_CONTRAST, LogoChange};
use loyalty_core::store::WalletLook;
use serde::Deserialize;

/// The logo as base64 in a URL-encoded form: four characters for three bytes, and up to
/// three for each of `+`, `/` and `=` once encoded, with room for the other fields.
const BODY_LIMIT: usize = LOGO_MAX_BYTES * 4 + 64 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/o/{slug}/admin/settings/wallet",
        post(save).layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

/// The wallet card's form as typed, and what the page shows beside it.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WalletForm {
    #[serde(default)]
    pub(super) background: String,
    #[serde(default)]
    pub(super) foreground: String,
    #[serde(default)]
    pub(super) label: String,
    /// The chosen file, base64 (the page's script fills it); empty: keep the logo.
    #[serde(default)]
    logo: String,
    /// "Remove the logo".
    #[serde(default)]
    remove_logo: Option<String>,
    /// The stored logo's size, `480 x 150`, when there is one.
    #[serde(skip)]
    pub(super) logo_size: Option<String>,
    /// The text and the background are hard to tell apart.
    #[serde(skip)]
    pub(super) low_contrast: bool,
}

impl WalletForm {
    fn of(look: &WalletLook) -> Self {
        let colours = look.colours.as_ref();
        let text = |f: fn(&loyalty_core::store::WalletColours) -> &String| {
            colours.map(|c| f(c).clone()).unwrap_or_default()
        };
        Self {
            background: text(|c| &c.background),
            foreground: text(|c| &c.foreground),
            label: text(|c| &c.label),
            logo: String::new(),
            remove_logo: None,
            logo_size: look
                .logo
                .as_ref()
                .map(|l| format!("{} x {}", l.width, l.height)),
            low_contrast: colours
                .is_some_and(|c| look::contrast_ratio(&c.foreground, &c.background) < LOW_CONTRAST),
        }
    }
}

/// The form with the shop's current look (empty when it cannot be read: the page still
/// shows the other settings).
pub(super) async fn current_wallet(ctx: &Ctx<'_>) -> WalletForm {
    match look::current(ctx).await {
        Ok(l) => WalletForm::of(&l),
        Err(e) => {
            tracing::warn!(error = %e, "reading the wallet card's look");
            WalletForm::default()
        }
    }
}

async fn save(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(mut form): CsrfForm<WalletForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "settings")?;
    let logo = if form.remove_logo.is_some() {
        LogoChange::Remove
    } else if form.logo.trim().is_empty() {
        LogoChange::Keep
    } else {
        let b64 = form.logo.trim();
        // A data URL's prefix, when the browser gave one.
        let b64 = b64.split_once(',').map_or(b64, |(_, data)| data);
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => LogoChange::Upload(bytes),
            Err(_) => {
                let e = loyalty_core::Error::Conflict(
                    ErrorCode::WalletLogoNotPng,
                    "the logo field is not base64".to_owned(),
                );
                return refused(&state, &page, &c, &ctx, form, &e).await;
            }
        }
    };
    match look::set_look(&ctx, &form.background, &form.foreground, &form.label, logo).await {
        Ok(_) => Ok(
            Redirect::to(&format!("{}/admin/settings?done=wallet_saved", page.base()))
                .into_response(),
        ),
        Err(e) => {
            form.logo.clear();
            refused(&state, &page, &c, &ctx, form, &e).await
        }
    }
}

/// The settings page again with the refusal and the colours as typed.
async fn refused(
    state: &AppState,
    page: &OrgPage,
    c: &Chrome,
    ctx: &Ctx<'_>,
    mut form: WalletForm,
    e: &loyalty_core::Error,
) -> Result<Response, PageError> {
    let (status, text) = describe(c.lang, e);
    let stored = current_wallet(ctx).await;
    form.logo.clear();
    form.logo_size = stored.logo_size;
    let mail = super::catalog::current_mail(ctx).await;
    render_settings(
        state,
        page,
        Notice::err(text),
        super::catalog::current(page),
        mail,
        form,
        status,
    )
}
