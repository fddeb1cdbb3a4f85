//! The loyalty program's admin page (`/o/{slug}/admin/program`): the stamp cards,
//! promotions and tiers with a button to end each, forms to add them, the tier rules,
//! the bonuses, and a calculator that previews what a purchase at a given day and time
//! by a member of a given tier earns.

use super::{admin, done_notice};
use crate::AppState;
use crate::pages::error::{OrPage, PageError, error_text};
use crate::pages::form::{CsrfForm, Empty};
use crate::pages::guard::OrgPage;
use crate::pages::i18n::Lang;
use crate::pages::layout::{Chrome, Notice};
use crate::pages::params::{PagePath, PageQuery};
use crate::pages::render;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_core::domain::program::{
    BonusInput, CardInput, ProgramInput, PromotionEffect, PromotionInput, TierBasis, TierInput,
    TierRulesInput, describe_grants, instant_of,
};
use loyalty_core::domain::typed_amount::{DecimalMark, parse_typed_amount, parse_typed_decimal};
use loyalty_core::service::program;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/program", get(show))
        .route("/o/{slug}/admin/program/cards", post(add_card))
        .route("/o/{slug}/admin/program/promotions", post(add_promotion))
        .route("/o/{slug}/admin/program/bonuses", post(set_bonuses))
        .route("/o/{slug}/admin/program/tiers", post(add_tier))
        .route("/o/{slug}/admin/program/tier-rules", post(set_tier_rules))
        .route("/o/{slug}/admin/program/rules/{id}/end", post(end))
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

struct CardRow {
    id: Uuid,
    name: String,
    rule: String,
    ended: bool,
}

struct TierRow {
    id: Uuid,
    name: String,
    rule: String,
    ended: bool,
}

struct PromotionRow {
    id: Uuid,
    name: String,
    effect: String,
    when: String,
    ended: bool,
}

#[derive(Debug, Default, Deserialize)]
struct CalcQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    tier: String,
}

#[derive(Debug, Default, Deserialize)]
struct CardForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    stamps_required: String,
    #[serde(default)]
    min_amount: String,
    #[serde(default)]
    daily_limit: String,
    #[serde(default)]
    reward: String,
    #[serde(default)]
    reward_points: String,
}

#[derive(Debug, Default, Deserialize)]
struct PromotionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    multiplier: String,
    #[serde(default)]
    bonus_points: String,
    #[serde(default)]
    monday: Option<String>,
    #[serde(default)]
    tuesday: Option<String>,
    #[serde(default)]
    wednesday: Option<String>,
    #[serde(default)]
    thursday: Option<String>,
    #[serde(default)]
    friday: Option<String>,
    #[serde(default)]
    saturday: Option<String>,
    #[serde(default)]
    sunday: Option<String>,
    #[serde(default)]
    from_time: String,
    #[serde(default)]
    to_time: String,
    #[serde(default)]
    from_date: String,
    #[serde(default)]
    to_date: String,
    #[serde(default)]
    min_amount: String,
    #[serde(default)]
    per_customer_limit: String,
}

impl PromotionForm {
    fn days(&self) -> Vec<String> {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
        .iter()
        .zip(DAYS)
        .filter(|(on, _)| on.is_some())
        .map(|(_, d)| d.to_owned())
        .collect()
    }
}

#[derive(Template)]
#[template(path = "admin_program.html")]
struct ProgramPage {
    c: Chrome,
    base: String,
    notice: Option<Notice>,
    version: i64,
    cards: Vec<CardRow>,
    promotions: Vec<PromotionRow>,
    days: Vec<(&'static str, &'static str)>,
    calc: CalcQuery,
    result: Option<String>,
    signup_points: i64,
    contact_points: i64,
    birthday_points: i64,
    tiers: Vec<TierRow>,
    running_tiers: Vec<(Uuid, String)>,
    basis_spend: bool,
    window_months: u32,
    grace_months: u32,
}

async fn show(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<CalcQuery>,
) -> Result<Response, PageError> {
    let notice = done_notice(&page.chrome("admin", "program"), &q.done);
    render_page(&state, &page, notice, q, StatusCode::OK).await
}

fn money_text(lang: Lang, typed: &str, page: &OrgPage) -> String {
    let mark = DecimalMark::of_language(page.org.language.as_str());
    let _ = lang;
    parse_typed_decimal(typed, mark, page.org.currency.minor_digits())
        .map_or_else(|_| typed.trim().to_owned(), |(d, _)| d.to_string())
}

async fn render_page(
    state: &AppState,
    page: &OrgPage,
    mut notice: Option<Notice>,
    calc: CalcQuery,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(page, state, "program")?;
    let lang = c.lang;
    let p = program::current(&ctx).or_page(&c, "/")?;
    let currency = page.org.currency.as_str();
    let cards = p
        .stamp_cards
        .iter()
        .map(|card| CardRow {
            id: card.id,
            name: card.name.clone(),
            rule: format!(
                "{} × {} → {}{}",
                card.stamps_required,
                lang.money(card.min_amount, currency),
                card.reward,
                if card.reward_points > 0 {
                    format!(" (+{} {})", lang.int(card.reward_points), lang.t("points"))
                } else {
                    String::new()
                }
            ),
            ended: card.ended,
        })
        .collect();
    let promotions = p
        .promotions
        .iter()
        .map(|promo| PromotionRow {
            id: promo.id,
            name: promo.name.clone(),
            effect: match promo.effect {
                PromotionEffect::Multiplier { factor } => format!("× {}", factor.normalize()),
                PromotionEffect::Bonus { points } => {
                    format!("+{} {}", lang.int(points), lang.t("points"))
                }
            },
            when: schedule_text(lang, promo),
            ended: promo.ended,
        })
        .collect();
    let basis_word = match p.tier_rules.basis {
        TierBasis::Points => lang.t("points").to_owned(),
        TierBasis::Spend => currency.to_owned(),
    };
    let tiers = p
        .tiers
        .iter()
        .map(|t| TierRow {
            id: t.id,
            name: t.name.clone(),
            rule: format!(
                "≥ {} {} · × {}{}",
                t.threshold.normalize(),
                basis_word,
                t.multiplier.normalize(),
                if t.entry_bonus > 0 {
                    format!(
                        " · +{} {} ({})",
                        lang.int(t.entry_bonus),
                        lang.t("points"),
                        lang.t("tier_entry_bonus").to_lowercase()
                    )
                } else {
                    String::new()
                }
            ),
            ended: t.ended,
        })
        .collect();
    let running_tiers = p
        .running_tiers()
        .iter()
        .map(|t| (t.id, t.name.clone()))
        .collect();
    // The calculator: a purchase of `amount` on `date` at `time` (today and now by default).
    let as_tier = calc.tier.trim().parse::<Uuid>().ok();
    let mut result = None;
    if !calc.amount.trim().is_empty() {
        let mark = DecimalMark::of_language(page.org.language.as_str());
        let at = local_instant(&calc.date, &calc.time, page);
        match parse_typed_amount(&calc.amount, mark, page.org.currency.minor_digits()) {
            Ok(read) => match program::preview(&ctx, read.amount, None, at, as_tier).await {
                Ok(pv) => {
                    result = Some(format!(
                        "{} {} {} {}: {}",
                        lang.money(read.amount.value(), currency),
                        lang.t("earns"),
                        lang.int(pv.points),
                        lang.t("points"),
                        describe_grants(&pv.grants, lang.written())
                    ));
                }
                Err(e) => notice = Notice::err(error_text(lang, &e)),
            },
            Err(e) => {
                notice = Notice::err(error_text(lang, &loyalty_core::Error::Validation(vec![e])));
            }
        }
    }
    Ok(render(
        status,
        &ProgramPage {
            base: page.base(),
            notice,
            version: p.version,
            cards,
            promotions,
            days: DAYS.iter().map(|d| (*d, day_label(lang, d))).collect(),
            calc,
            result,
            signup_points: p.bonuses.signup_points,
            contact_points: p.bonuses.contact_points,
            birthday_points: p.bonuses.birthday_points,
            tiers,
            running_tiers,
            basis_spend: p.tier_rules.basis == TierBasis::Spend,
            window_months: p.tier_rules.window_months,
            grace_months: p.tier_rules.grace_months,
            c,
        },
    ))
}

fn day_label(lang: Lang, day: &str) -> &'static str {
    match day {
        "monday" => lang.t("day_monday"),
        "tuesday" => lang.t("day_tuesday"),
        "wednesday" => lang.t("day_wednesday"),
        "thursday" => lang.t("day_thursday"),
        "friday" => lang.t("day_friday"),
        "saturday" => lang.t("day_saturday"),
        _ => lang.t("day_sunday"),
    }
}

fn schedule_text(lang: Lang, p: &loyalty_core::domain::program::Promotion) -> String {
    let s = &p.schedule;
    let mut parts = Vec::new();
    if !s.days.is_empty() {
        parts.push(
            s.days
                .iter()
                .map(|d| day_label(lang, &d.to_string().to_ascii_lowercase()))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    if s.from_minute.is_some() || s.to_minute.is_some() {
        parts.push(format!(
            "{}–{}",
            hm(s.from_minute.unwrap_or(0)),
            hm(s.to_minute.unwrap_or(1440))
        ));
    }
    if s.from_date.is_some() || s.to_date.is_some() {
        parts.push(format!(
            "{} – {}",
            s.from_date.map(|d| d.to_string()).unwrap_or_default(),
            s.to_date.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    if p.min_amount > rust_decimal::Decimal::ZERO {
        parts.push(format!("≥ {}", p.min_amount));
    }
    if let Some(l) = p.per_customer_limit {
        parts.push(format!(
            "{l}× / {}",
            lang.t("per_customer_limit").to_lowercase()
        ));
    }
    parts.join(" · ")
}

/// The instant of a local `date` (`YYYY-MM-DD`) and `time` (`HH:MM`) in the org's time
/// zone; `None` (now) when either is empty or unreadable.
fn local_instant(date: &str, time_of_day: &str, page: &OrgPage) -> Option<time::OffsetDateTime> {
    let d = time::Date::parse(
        date.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    let t = time::Time::parse(
        time_of_day.trim(),
        time::macros::format_description!("[hour]:[minute]"),
    )
    .ok()?;
    Some(instant_of(
        time::PrimitiveDateTime::new(d, t),
        &page.org.timezone,
    ))
}

fn opt_number<T: std::str::FromStr + Default>(text: &str) -> Option<T> {
    let t = text.trim();
    if t.is_empty() {
        None
    } else {
        // Unreadable numbers become a value the core refuses with the field's words.
        Some(t.replace(['.', ','], "").parse().unwrap_or_default())
    }
}

async fn add_card(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<CardForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "program")?;
    let input = CardInput {
        name: form.name.clone(),
        stamps_required: opt_number(&form.stamps_required).unwrap_or(0),
        min_amount: Some(money_text(c.lang, &form.min_amount, &page)),
        daily_limit: opt_number(&form.daily_limit),
        reward: form.reward.clone(),
        reward_points: opt_number(&form.reward_points).unwrap_or(0),
    };
    saved(
        &state,
        &page,
        program::change(&ctx, ProgramInput::AddCard(input)).await,
    )
    .await
}

async fn add_promotion(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<PromotionForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "program")?;
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = PromotionInput {
        name: form.name.clone(),
        multiplier: some(&form.multiplier).map(|m| m.replace(',', ".")),
        bonus_points: opt_number(&form.bonus_points),
        days: form.days(),
        from_time: some(&form.from_time),
        to_time: some(&form.to_time),
        from_date: some(&form.from_date),
        to_date: some(&form.to_date),
        min_amount: some(&form.min_amount).map(|m| money_text(c.lang, &m, &page)),
        per_customer_limit: opt_number(&form.per_customer_limit),
    };
    saved(
        &state,
        &page,
        program::change(&ctx, ProgramInput::AddPromotion(input)).await,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct BonusForm {
    #[serde(default)]
    signup_points: String,
    #[serde(default)]
    contact_points: String,
    #[serde(default)]
    birthday_points: String,
}

async fn set_bonuses(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<BonusForm>,
) -> Result<Response, PageError> {
    let (_, ctx) = admin(&page, &state, "program")?;
    // Unreadable numbers become -1, which the core refuses naming the field.
    let n = |t: &str| {
        opt_number::<i64>(t).map_or(0, |v| {
            if t.trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
            {
                v
            } else {
                -1
            }
        })
    };
    let input = BonusInput {
        signup_points: n(&form.signup_points),
        contact_points: n(&form.contact_points),
        birthday_points: n(&form.birthday_points),
    };
    saved(
        &state,
        &page,
        program::change(&ctx, ProgramInput::SetBonuses(input)).await,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct TierForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    multiplier: String,
    #[serde(default)]
    entry_bonus: String,
}

async fn add_tier(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<TierForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "program")?;
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let threshold = match ctx.org.program.tier_rules.basis {
        TierBasis::Spend => money_text(c.lang, &form.threshold, &page),
        TierBasis::Points => form.threshold.trim().replace(['.', ','], ""),
    };
    let input = TierInput {
        name: form.name.clone(),
        threshold,
        multiplier: some(&form.multiplier).map(|m| m.replace(',', ".")),
        entry_bonus: opt_number(&form.entry_bonus).unwrap_or(0),
    };
    saved(
        &state,
        &page,
        program::change(&ctx, ProgramInput::AddTier(input)).await,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct TierRulesForm {
    #[serde(default)]
    basis: String,
    #[serde(default)]
    window_months: String,
    #[serde(default)]
    grace_months: String,
}

async fn set_tier_rules(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<TierRulesForm>,
) -> Result<Response, PageError> {
    let (_, ctx) = admin(&page, &state, "program")?;
    let input = TierRulesInput {
        basis: form.basis.clone(),
        window_months: opt_number(&form.window_months).unwrap_or(0),
        grace_months: opt_number(&form.grace_months).unwrap_or(0),
    };
    saved(
        &state,
        &page,
        program::change(&ctx, ProgramInput::SetTierRules(input)).await,
    )
    .await
}

async fn end(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (_, ctx) = admin(&page, &state, "program")?;
    saved(
        &state,
        &page,
        program::change(&ctx, ProgramInput::End(id)).await,
    )
    .await
}

async fn saved(
    state: &AppState,
    page: &OrgPage,
    result: Result<loyalty_core::domain::program::Program, loyalty_core::Error>,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("{}/admin/program?done=program_saved", page.base()))
                .into_response(),
        ),
        Err(e) => {
            let notice = Notice::err(error_text(page.lang, &e));
            render_page(
                state,
                page,
                notice,
                CalcQuery::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
