//! The rewards catalog and the settings: earning rule, minimum purchase, expiry policy,
//! whether the public join page is open, and the mail settings (the wallet card's look,
//! on the same page, is `super::wallet`'s).

use super::wallet::{WalletForm, current_wallet};
use super::{admin, done_notice};
use crate::AppState;
use crate::pages::error::{OrPage, PageError, error_text};
use crate::pages::form::{CsrfForm, Empty};
use crate::pages::guard::OrgPage;
use crate::pages::layout::{Chrome, Notice};
use crate::pages::params::{PagePath, PageQuery};
use crate::pages::render;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_core::domain::RewardId;
use loyalty_core::domain::ledger::Reward;
use loyalty_core::domain::typed_amount::{DecimalMark, parse_typed_decimal};
use loyalty_core::service::points::Ctx;
use loyalty_core::service::{mail, points, rewards as catalog};
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/rewards", get(rewards).post(create_reward))
        .route("/o/{slug}/admin/rewards/{id}/toggle", post(toggle_reward))
        .route(
            "/o/{slug}/admin/settings",
            get(settings).post(save_settings),
        )
        .route("/o/{slug}/admin/settings/mail", post(save_mail_settings))
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

#[derive(Debug, Default, Deserialize)]
struct RewardForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    cost_points: String,
    #[serde(default)]
    stock: String,
}

#[derive(Template)]
#[template(path = "admin_rewards.html")]
struct RewardsPage {
    c: Chrome,
    base: String,
    notice: Option<Notice>,
    rewards: Vec<Reward>,
    form: RewardForm,
}

async fn rewards(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<Done>,
) -> Result<Response, PageError> {
    let notice = done_notice(&page.chrome("admin", "rewards"), &q.done);
    render_rewards(&state, &page, notice, RewardForm::default(), StatusCode::OK).await
}

async fn render_rewards(
    state: &AppState,
    page: &OrgPage,
    notice: Option<Notice>,
    form: RewardForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(page, state, "rewards")?;
    let rewards = catalog::list(&ctx).await.or_page(&c, "/")?;
    Ok(render(
        status,
        &RewardsPage {
            base: page.base(),
            c,
            notice,
            rewards,
            form,
        },
    ))
}

async fn create_reward(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<RewardForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "rewards")?;
    let cost = form.cost_points.trim().parse::<i64>().unwrap_or(0);
    let stock = form.stock.trim().parse::<i64>().ok();
    let result = match points::reward_input(&form.name, cost, true, stock) {
        Ok(input) => points::create_reward(&ctx, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/admin/rewards?done=reward_created",
            page.base()
        ))
        .into_response()),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            render_rewards(
                &state,
                &page,
                notice,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn toggle_reward(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, RewardId)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "rewards")?;
    let back = format!("{}/admin/rewards", page.base());
    let reward = match catalog::get(&ctx, id).await {
        Err(loyalty_core::Error::Points(
            loyalty_core::domain::ledger::PointsError::RewardNotFound,
        )) => return Err(PageError::not_found(c.lang)),
        other => other.or_page(&c, &back)?,
    };
    let input = points::reward_input(
        &reward.name,
        reward.cost_points,
        !reward.active,
        reward.stock.map(i64::from),
    )
    .or_page(&c, &back)?;
    points::update_reward(&ctx, id, &input)
        .await
        .or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=reward_saved")).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    points_per_unit: String,
    #[serde(default)]
    min_purchase: String,
    #[serde(default)]
    expiry_days: String,
    #[serde(default)]
    join_enabled: Option<String>,
    #[serde(default)]
    purchase_bound: String,
    #[serde(default)]
    daily_points_flag: String,
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage {
    c: Chrome,
    base: String,
    notice: Option<Notice>,
    form: SettingsForm,
    mail: MailForm,
    wallet: WalletForm,
    join: bool,
    currency: String,
    example: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct MailForm {
    #[serde(default)]
    sender_name: String,
    #[serde(default)]
    sender_address: String,
    #[serde(default)]
    points_receipt: Option<String>,
    #[serde(default)]
    expiry_warning_days: String,
}

pub(super) async fn current_mail(ctx: &Ctx<'_>) -> MailForm {
    let s = mail::settings(ctx).await.unwrap_or_default();
    MailForm {
        sender_name: s.sender_name.unwrap_or_default(),
        sender_address: s.sender_address.unwrap_or_default(),
        points_receipt: s.points_receipt.then(|| "on".into()),
        expiry_warning_days: s
            .expiry_warning_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
    }
}

pub(super) fn current(page: &OrgPage) -> SettingsForm {
    SettingsForm {
        points_per_unit: page.org.earning.points_per_unit.normalize().to_string(),
        min_purchase: page.org.earning.min_purchase.normalize().to_string(),
        expiry_days: page
            .org
            .expiry_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        join_enabled: page.org.join_enabled.then(|| "on".into()),
        purchase_bound: page
            .org
            .purchase_bound
            .map(|d| d.normalize().to_string())
            .unwrap_or_default(),
        daily_points_flag: page
            .org
            .daily_points_flag
            .map(|d| d.to_string())
            .unwrap_or_default(),
    }
}

async fn settings(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<Done>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "settings")?;
    let notice = done_notice(&c, &q.done);
    let form = current(&page);
    let mail = current_mail(&ctx).await;
    let wallet = current_wallet(&ctx).await;
    render_settings(&state, &page, notice, form, mail, wallet, StatusCode::OK)
}

/// The settings page: the points settings, the mail settings and the wallet card's look.
pub(super) fn render_settings(
    state: &AppState,
    page: &OrgPage,
    notice: Option<Notice>,
    form: SettingsForm,
    mail: MailForm,
    wallet: WalletForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, _ctx) = admin(page, state, "settings")?;
    let hundred = rust_decimal::Decimal::from(100);
    let example = format!(
        "{} → {} {}",
        c.lang.money(hundred, page.org.currency.as_str()),
        c.lang.int(
            (hundred * page.org.earning.points_per_unit)
                .floor()
                .try_into()
                .unwrap_or(0)
        ),
        c.t("points")
    );
    Ok(render(
        status,
        &SettingsPage {
            base: page.base(),
            join: form.join_enabled.is_some(),
            currency: page.org.currency.to_string(),
            c,
            notice,
            form,
            mail,
            wallet,
            example,
        },
    ))
}

async fn save_settings(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "settings")?;
    let expiry = form.expiry_days.trim();
    let expiry_days = if expiry.is_empty() {
        Ok(None)
    } else {
        expiry.parse::<i64>().map(Some)
    };
    let minor = page.org.currency.minor_digits();
    let mark = DecimalMark::of_language(page.org.language.as_str());
    let min_purchase = parse_typed_decimal(&form.min_purchase, mark, minor).map_or_else(
        |_| form.min_purchase.trim().to_owned(),
        |(d, _)| d.to_string(),
    );
    let typed = form.purchase_bound.trim();
    let purchase_bound = (!typed.is_empty()).then(|| {
        parse_typed_decimal(typed, mark, minor)
            .map_or_else(|_| typed.to_owned(), |(d, _)| d.to_string())
    });
    let daily = form.daily_points_flag.trim().replace(['.', ','], "");
    let daily_points_flag = if daily.is_empty() {
        Ok(None)
    } else {
        daily.parse::<i64>().map(Some)
    };
    let result = match (expiry_days, daily_points_flag) {
        (Ok(days), Ok(daily_points_flag)) => {
            let limits = points::Limits {
                purchase_bound,
                daily_points_flag,
            };
            points::update_settings_with_limits(
                &ctx,
                &typed_rate(&form.points_per_unit),
                &min_purchase,
                days,
                form.join_enabled.is_some(),
                &limits,
            )
            .await
        }
        (Err(_), _) => Err(loyalty_core::Error::field(
            "expiry_days",
            c.t("err_expiry_number"),
        )),
        (_, Err(_)) => Err(loyalty_core::Error::field(
            "daily_points_flag",
            c.t("err_daily_points_number"),
        )),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/admin/settings?done=settings_saved",
            page.base()
        ))
        .into_response()),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            let mail = current_mail(&ctx).await;
            let wallet = current_wallet(&ctx).await;
            render_settings(
                &state,
                &page,
                notice,
                form,
                mail,
                wallet,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn save_mail_settings(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<MailForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "settings")?;
    let days = form.expiry_warning_days.trim();
    let days = if days.is_empty() {
        Ok(None)
    } else {
        days.parse::<i64>().map(Some)
    };
    let result = match days {
        Ok(days) => {
            loyalty_core::service::mail::update_settings(
                &ctx,
                Some(form.sender_name.as_str()),
                Some(form.sender_address.as_str()),
                form.points_receipt.is_some(),
                days,
            )
            .await
        }
        Err(_) => Err(loyalty_core::Error::field(
            "expiry_warning_days",
            c.t("mail_warning_hint"),
        )),
    };
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("{}/admin/settings?done=mail_saved", page.base()))
                .into_response(),
        ),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            let wallet = current_wallet(&ctx).await;
            render_settings(
                &state,
                &page,
                notice,
                current(&page),
                form,
                wallet,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// A points rate as typed (`1,5` or `1.5`): a rate has no thousands, so either mark is
/// the decimal mark; the service checks the number.
fn typed_rate(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == ',' { '.' } else { c })
        .collect()
}
