//! The till (`/o/{slug}/till`, cashiers and admins): find a customer by phone, email or
//! card, or enroll one on the same screen; then record a purchase (points shown before
//! confirming), redeem a reward, or reverse one of today's purchases. Built for the
//! keyboard: the search field has focus, Enter submits, every action is a button.

use super::error::{OrPage, PageError, error_text};
use super::guard::OrgPage;
use super::i18n::Lang;
use super::layout::{Chrome, Notice};
use super::render;
use crate::AppState;
use crate::pages::params::{PagePath, PageQuery};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_core::domain::Organization;
use loyalty_core::domain::ledger::Customer;
use loyalty_core::domain::program::{TierProgress, describe_grants, explains};
use loyalty_core::domain::typed_amount::DecimalMark;
use loyalty_core::domain::{CustomerId, PurchaseId, RewardId, Role};
use loyalty_core::service::points::{self, Ctx};
use loyalty_core::service::{program, rewards, tiers};
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/till", get(search))
        .route("/o/{slug}/till/c/{id}", get(customer))
}

/// The page frame and a context acting as the person's staff role, or a 403 page.
pub(super) fn staff<'a>(
    page: &'a OrgPage,
    state: &'a AppState,
) -> Result<(Chrome, Ctx<'a>), PageError> {
    let c = page.chrome("till", "");
    let role = page.require(&[Role::Admin, Role::Cashier], &c)?;
    let ctx = page.ctx(state, role);
    Ok((c, ctx))
}

pub(super) struct RewardRow {
    pub id: RewardId,
    pub name: String,
    pub cost: i64,
    pub affordable: bool,
    pub idem: String,
}

/// A customer's stamp card at the till: progress, and the reward when it is full.
pub(super) struct CardRow {
    pub id: Uuid,
    pub name: String,
    pub stamps: i64,
    pub required: u32,
    pub reward: String,
    pub full: bool,
    pub idem: String,
}

pub(super) struct PurchaseRow {
    pub id: PurchaseId,
    pub when: String,
    pub amount: String,
    pub points: i64,
    pub reversible: bool,
    /// What each rule gave: `25 base + 25 Tuesday double + 1 stamp Coffee card (7/10)`.
    pub breakdown: String,
}

/// A customer's tier as the till and the portal show it: its name, the progress to the
/// next one (`40 points to Gold`), and the day it ends when they no longer qualify.
pub(super) struct TierView {
    pub name: String,
    pub progress: Option<String>,
    pub ends: Option<String>,
}

impl TierView {
    /// From the progress core computed, in the page's language; `None` when the program
    /// has no running tiers.
    pub(super) fn of(lang: Lang, org: &Organization, p: &TierProgress) -> Option<Self> {
        if org.program.running_tiers().is_empty() {
            return None;
        }
        Some(Self {
            name: p
                .tier
                .clone()
                .unwrap_or_else(|| lang.t("tier_none").to_owned()),
            progress: p.describe(lang.written(), org.currency.as_str()),
            ends: p.ends_at.map(|t| lang.date(t, &org.timezone)),
        })
    }
}

#[derive(Default, Deserialize)]
pub(super) struct TillQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub done: String,
    #[serde(default)]
    pub pts: i64,
    #[serde(default)]
    pub balance: i64,
}

#[derive(Template)]
#[template(path = "till.html")]
pub(super) struct TillPage {
    pub c: Chrome,
    pub base: String,
    pub q: String,
    pub notice: Option<Notice>,
    pub customer: Option<Customer>,
    pub rewards: Vec<RewardRow>,
    pub cards: Vec<CardRow>,
    pub purchases: Vec<PurchaseRow>,
    pub redeem_idem: String,
    pub enroll_phone: String,
    pub enroll_email: String,
    pub enroll_name: String,
    pub enroll_open: bool,
    pub rate: String,
    pub min: String,
    pub decimal: &'static str,
    pub minor: u32,
    pub currency: String,
    /// The program has running stamp cards or promotions: the live preview shows the
    /// base points only, and says the confirmation adds the rest.
    pub program_running: bool,
    /// The customer's tier and progress, when the program has tiers.
    pub tier: Option<TierView>,
    /// The QR code (SVG) of a one-time link that adds the open customer's card to their
    /// phone's wallet, when Apple Wallet or Google Wallet is configured.
    pub wallet_qr: Option<String>,
}

impl TillPage {
    pub(super) fn new(c: Chrome, page: &OrgPage) -> Self {
        let decimal = match DecimalMark::of_language(page.org.language.as_str()) {
            DecimalMark::Comma => ",",
            DecimalMark::Point => ".",
        };
        let minor = page.org.currency.minor_digits();
        TillPage {
            c,
            base: page.base(),
            q: String::new(),
            notice: None,
            customer: None,
            rewards: Vec::new(),
            cards: Vec::new(),
            purchases: Vec::new(),
            redeem_idem: Uuid::new_v4().to_string(),
            enroll_phone: String::new(),
            enroll_email: String::new(),
            enroll_name: String::new(),
            enroll_open: false,
            rate: page.org.earning.points_per_unit.normalize().to_string(),
            min: page.org.earning.min_purchase.normalize().to_string(),
            decimal,
            minor,
            currency: page.org.currency.to_string(),
            program_running: !page.org.program.is_plain(),
            tier: None,
            wallet_qr: None,
        }
    }
}

async fn search(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<TillQuery>,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(&page, &state)?;
    let query = q.q.trim().to_owned();
    if query.is_empty() {
        return Ok(render(StatusCode::OK, &TillPage::new(c, &page)));
    }
    Ok(match points::lookup(&ctx, &query).await {
        Ok(found) => Redirect::to(&format!("{}/till/c/{}", page.base(), found.id)).into_response(),
        Err(e) => {
            let lang = c.lang;
            let mut t = TillPage::new(c, &page);
            let not_found = matches!(
                e,
                loyalty_core::Error::NotFound(..)
                    | loyalty_core::Error::Points(
                        loyalty_core::domain::ledger::PointsError::CustomerNotFound
                    )
            );
            t.notice = Notice::err(if not_found {
                lang.t("till_not_found").to_owned()
            } else {
                error_text(lang, &e)
            });
            if query.contains('@') {
                t.enroll_email = query.clone();
            } else if !points_like_card(&query) {
                t.enroll_phone = query.clone();
            }
            t.enroll_open = not_found;
            t.q = query;
            render(StatusCode::OK, &t)
        }
    })
}

fn points_like_card(q: &str) -> bool {
    loyalty_core::domain::points::is_card_number(q)
}

/// Message of a finished till action, from the redirect's query.
fn done_text(lang: Lang, q: &TillQuery) -> Option<Notice> {
    let n = |v: i64| lang.int(v);
    let text = match q.done.as_str() {
        "awarded" => format!(
            "{} {} {}. {} {}.",
            lang.t("awarded"),
            n(q.pts),
            lang.t("points"),
            lang.t("new_balance"),
            n(q.balance)
        ),
        "redeemed" => format!(
            "{} {} {}. {} {}.",
            lang.t("redeemed"),
            n(q.pts),
            lang.t("points"),
            lang.t("new_balance"),
            n(q.balance)
        ),
        "reversed" => format!(
            "{} {} {}. {} {}.",
            lang.t("reversed"),
            n(q.pts),
            lang.t("points"),
            lang.t("new_balance"),
            n(q.balance)
        ),
        "card_redeemed" => lang.t("done_card_redeemed").to_owned(),
        "replayed" => lang.t("already_recorded").to_owned(),
        "enrolled" => lang.t("done_enrolled").to_owned(),
        _ => return None,
    };
    Notice::ok(text)
}

async fn customer(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    PageQuery(q): PageQuery<TillQuery>,
) -> Result<Response, PageError> {
    let notice = done_text(page.lang, &q);
    customer_page(&state, &page, id, notice, StatusCode::OK).await
}

/// The till with one customer open.
pub(super) async fn customer_page(
    state: &AppState,
    page: &OrgPage,
    id: CustomerId,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, ctx) = staff(page, state)?;
    let back = format!("{}/till", page.base());
    let found = points::customer(&ctx, id).await.or_page(&c, &back)?;
    let rewards = rewards::list(&ctx).await.or_page(&c, &back)?;
    let purchases = points::todays_purchases(&ctx, id, 20)
        .await
        .or_page(&c, &back)?;
    let cards = program::cards(&ctx, id).await.or_page(&c, &back)?;
    let lang = c.lang;
    let tier = if page.org.program.running_tiers().is_empty() {
        None
    } else {
        let progress = tiers::progress(&ctx, id).await.or_page(&c, &back)?;
        TierView::of(lang, &page.org, &progress)
    };
    let tz = page.org.timezone.clone();
    let mut t = TillPage::new(c, page);
    t.rewards = rewards
        .into_iter()
        .filter(|r| r.active && r.stock != Some(0))
        .map(|r| RewardRow {
            affordable: r.cost_points <= found.balance,
            id: r.id,
            name: r.name,
            cost: r.cost_points,
            idem: Uuid::new_v4().to_string(),
        })
        .collect();
    t.cards = cards
        .into_iter()
        .map(|k| CardRow {
            id: k.card_id,
            name: k.name,
            stamps: k.stamps,
            required: k.stamps_required,
            reward: k.reward,
            full: k.full,
            idem: Uuid::new_v4().to_string(),
        })
        .collect();
    t.purchases = purchases
        .into_iter()
        .map(|p| PurchaseRow {
            id: p.id,
            when: lang.datetime(p.created_at, &tz),
            amount: lang.money(p.amount, &p.currency),
            points: p.points_awarded - p.points_reversed,
            reversible: p.reversed_amount < p.amount,
            breakdown: if explains(&p.grants) {
                describe_grants(&p.grants, lang.written())
            } else {
                String::new()
            },
        })
        .collect();
    t.tier = tier;
    if state.config.apple_wallet.is_some() || state.config.google_wallet.is_some() {
        let token = loyalty_core::service::wallet::links::till_link(&ctx, id)
            .await
            .or_page(&t.c, &back)?;
        let url = format!(
            "{}/o/{}/wallet/link/{token}",
            state.config.public_url.trim_end_matches('/'),
            page.org.slug
        );
        t.wallet_qr = super::qr::svg(&url);
    }
    t.notice = notice;
    t.customer = Some(found);
    Ok(render(status, &t))
}
