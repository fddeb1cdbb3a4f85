//! The org admin panel (`/o/{slug}/admin`): dashboard, staff, customers, rewards,
//! settings, exports and the audit log. Admins of the organization only.

pub(super) use customers::entry_kind;

mod catalog;
mod customers;
mod exports;
mod import;
mod program;
mod users;
mod wallet;
mod webhooks;

use super::error::{OrPage, PageError};
use super::guard::OrgPage;
use super::layout::{Chrome, Notice};
use super::params::PageQuery;
use super::render;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use loyalty_core::domain::Role;
use loyalty_core::service::audit::{self, Before, Reader};
use loyalty_core::service::points::Ctx;
use loyalty_core::service::reports::{self, Dashboard};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin", get(dashboard))
        .route("/o/{slug}/admin/audit", get(audit))
        .merge(users::routes())
        .merge(customers::routes())
        .merge(import::routes())
        .merge(catalog::routes())
        .merge(exports::routes())
        .merge(program::routes())
        .merge(webhooks::routes())
        .merge(wallet::routes())
}

/// The page frame and a context acting as admin, or the page to answer instead. An
/// operator without a role here reads the panel in a read-only support visit (see
/// `guard::support_visit`: their posts never reach a handler).
pub(super) fn admin<'a>(
    page: &'a OrgPage,
    state: &'a AppState,
    tab: &'static str,
) -> Result<(Chrome, Ctx<'a>), PageError> {
    let c = page.chrome("admin", tab);
    if page.is_support() {
        let ctx = page.support_ctx(state.access()).or_page(&c, "/operator")?;
        return Ok((c, ctx));
    }
    page.require(&[Role::Admin], &c)?;
    let ctx = page.ctx(state, Role::Admin);
    Ok((c, ctx))
}

/// A notice for `?done=...` after a redirect, from a fixed list of keys.
pub(super) fn done_notice(c: &Chrome, done: &str) -> Option<Notice> {
    const KEYS: [&str; 19] = [
        "done_wallet_saved",
        "done_consent_recorded",
        "done_program_saved",
        "done_card_redeemed",
        "done_webhook_test",
        "done_webhook_resent",
        "done_webhook_saved",
        "done_deactivated",
        "done_erased",
        "done_mail_saved",
        "done_reset_mailed",
        "done_reset_queued",
        "done_adjusted",
        "done_reward_saved",
        "done_settings_saved",
        "done_reward_created",
        "done_enrolled",
        "done_awarded",
        "done_redeemed",
    ];
    KEYS.iter()
        .find(|k| k.strip_prefix("done_") == Some(done))
        .and_then(|k| Notice::ok(c.t(k)))
}

/// One row of the charts' table of numbers.
pub(crate) struct TrendRow {
    pub(crate) day: String,
    pub(crate) issued: i64,
    pub(crate) redeemed: i64,
    pub(crate) new_customers: i64,
    pub(crate) active_customers: i64,
}

/// The trend charts (SVG) with their numbers, for the dashboard.
pub(crate) struct TrendView {
    pub(crate) days: u16,
    pub(crate) points_svg: String,
    pub(crate) customers_svg: String,
    pub(crate) rewards_svg: String,
    pub(crate) rows: Vec<TrendRow>,
    pub(crate) rewards: Vec<(String, i64)>,
}

/// Draws the trends in the page's language.
pub(crate) fn trend_view(c: &Chrome, t: &reports::Trends, days: u16) -> TrendView {
    use super::charts::{Series, bars, day_label, hbars};
    let labels: Vec<String> = t.days.iter().map(|d| day_label(c.lang, d.date)).collect();
    let points_svg = bars(
        c.lang,
        "chart-points",
        c.t("trend_points"),
        &labels,
        &[
            Series {
                name: c.t("points_issued"),
                colour: "#2a6f97",
                values: t.days.iter().map(|d| d.issued).collect(),
            },
            Series {
                name: c.t("points_redeemed"),
                colour: "#e07a1f",
                values: t.days.iter().map(|d| d.redeemed).collect(),
            },
        ],
    );
    let customers_svg = bars(
        c.lang,
        "chart-customers",
        c.t("trend_customers"),
        &labels,
        &[
            Series {
                name: c.t("new_customers"),
                colour: "#4c956c",
                values: t.days.iter().map(|d| d.new_customers).collect(),
            },
            Series {
                name: c.t("active_customers"),
                colour: "#6c5b7b",
                values: t.days.iter().map(|d| d.active_customers).collect(),
            },
        ],
    );
    let rewards: Vec<(String, i64)> = t
        .rewards
        .iter()
        .map(|r| (r.name.clone(), r.redemptions))
        .collect();
    let rewards_svg = hbars(
        c.lang,
        "chart-rewards",
        c.t("trend_rewards"),
        &rewards,
        "#e07a1f",
    );
    TrendView {
        days,
        points_svg,
        customers_svg,
        rewards_svg,
        rows: t
            .days
            .iter()
            .zip(labels)
            .map(|(d, day)| TrendRow {
                day,
                issued: d.issued,
                redeemed: d.redeemed,
                new_customers: d.new_customers,
                active_customers: d.active_customers,
            })
            .collect(),
        rewards,
    }
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct DashboardPage {
    c: Chrome,
    slug: String,
    d: Dashboard,
    today: String,
    trend: TrendView,
    tiers_svg: String,
    tier_rows: Vec<(String, i64)>,
}

#[derive(serde::Deserialize)]
struct DashboardQuery {
    #[serde(default)]
    days: Option<u16>,
}

async fn dashboard(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<DashboardQuery>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "dashboard")?;
    let d = reports::dashboard(&ctx).await.or_page(&c, "/")?;
    let days = q
        .days
        .filter(|d| reports::TREND_PERIODS.contains(d))
        .unwrap_or(30);
    let t = reports::trends(&ctx, days).await.or_page(&c, "/")?;
    let tier_rows: Vec<(String, i64)> = d
        .tiers
        .iter()
        .map(|(name, n)| {
            let label = if name.is_empty() {
                c.t("tier_none").to_owned()
            } else {
                name.clone()
            };
            (label, *n)
        })
        .collect();
    let tiers_svg = if tier_rows.is_empty() {
        String::new()
    } else {
        super::charts::hbars(
            c.lang,
            "chart-tiers",
            c.t("dash_tiers"),
            &tier_rows,
            "#2a6f97",
        )
    };
    Ok(render(
        StatusCode::OK,
        &DashboardPage {
            tiers_svg,
            tier_rows,
            today: c.lang.date(state.clock.now(), &page.org.timezone),
            slug: page.org.slug.to_string(),
            trend: trend_view(&c, &t, days),
            c,
            d,
        },
    ))
}

struct AuditRow {
    when: String,
    actor: String,
    role: String,
    action: String,
    target: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    c: Chrome,
    rows: Vec<AuditRow>,
}

async fn audit(State(state): State<AppState>, page: OrgPage) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "audit")?;
    let page_of = Before {
        cursor: None,
        limit: 100,
    };
    let records = audit::org_log(&Reader::member(&ctx), page_of)
        .await
        .or_page(&c, &format!("{}/admin", page.base()))?;
    let rows = records
        .into_iter()
        .map(|r| AuditRow {
            when: c.lang.datetime(r.created_at, &page.org.timezone),
            actor: r.actor,
            role: r.actor_role,
            action: r.action,
            target: r.target_type.unwrap_or_default(),
            reason: r.reason.unwrap_or_default(),
        })
        .collect();
    Ok(render(StatusCode::OK, &AuditPage { c, rows }))
}
