//! The operator console (`/operator`, members of the operators group): every
//! organization with its status, plan, member counts and onboarding date; onboarding a
//! client with the same service as `loyalty onboard`; suspending and reactivating; one
//! organization's audit log, with the installation's own records (restores).

use super::common::{confirm_page, credential_page};
use super::error::{OrPage, PageError, error_text};
use super::form::{CsrfForm, Empty};
use super::guard::Person;
use super::layout::encode;
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
use loyalty_core::domain::ledger::Actor;
use loyalty_core::domain::{OrgStatus, Plan, TimeZoneName};
use loyalty_core::service::audit::{self, Before, Reader};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::org_checks;
use loyalty_core::service::orgs;
use loyalty_core::store::{ConsoleFilter, ConsoleSort};
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/operator", get(console))
        .route("/operator/onboard", axum::routing::post(onboard_post))
        .route("/operator/orgs/{slug}", get(org_view))
        .route(
            "/operator/orgs/{slug}/checks",
            axum::routing::post(run_checks),
        )
        .route(
            "/operator/orgs/{slug}/{action}",
            get(confirm_status).post(change_status),
        )
}

struct OrgRow {
    name: String,
    slug: String,
    status: &'static str,
    status_key: &'static str,
    plan: String,
    customers: i64,
    onboarded: String,
    awards_today: i64,
    awards_30d: i64,
    last_activity: String,
    checklist: String,
    checklist_complete: bool,
    /// `ok`, `warn`, `fail`, or empty when never run.
    checks: String,
    checks_when: String,
}

/// The console's address: search, filters, order and page, read by `PageQuery` (a
/// value that does not parse is a 400 page). Empty values (a select's "all") are none.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    q: String,
    #[serde(deserialize_with = "empty_none")]
    status: Option<OrgStatus>,
    #[serde(deserialize_with = "empty_none")]
    plan: Option<Plan>,
    #[serde(deserialize_with = "empty_none")]
    sort: Option<ConsoleSort>,
    #[serde(deserialize_with = "empty_none")]
    dir: Option<Direction>,
    #[serde(deserialize_with = "empty_none")]
    page: Option<u32>,
    done: String,
    org: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Direction {
    Asc,
    Desc,
}

/// An empty query value as `None`, any other parsed as `T`.
fn empty_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = String::deserialize(d)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    T::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(raw))
        .or_else(|_: D::Error| {
            raw.parse::<u64>()
                .map_err(serde::de::Error::custom)
                .and_then(|n| T::deserialize(serde::de::value::U64Deserializer::<D::Error>::new(n)))
        })
        .map(Some)
}

/// Shops per page of the console.
const PER_PAGE: u32 = 50;

/// The console's list as the form shows it, and the links to the other pages.
struct Listing {
    q: String,
    status: String,
    plan: String,
    sort: &'static str,
    desc: bool,
    total: i64,
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> ConsoleFilter {
        let page = self.page.unwrap_or(1).max(1);
        let search = self.q.trim().to_lowercase();
        ConsoleFilter {
            search: (!search.is_empty()).then(|| search.chars().take(100).collect()),
            status: self.status,
            plan: self.plan.map(|p| p.as_str().to_owned()),
            sort: self.sort.unwrap_or_default(),
            descending: self.dir == Some(Direction::Desc),
            offset: (page - 1).saturating_mul(PER_PAGE),
            limit: Some(PER_PAGE),
        }
    }

    /// This listing's address on page `page`.
    fn href(&self, page: u32) -> String {
        let mut parts = Vec::new();
        if !self.q.trim().is_empty() {
            parts.push(format!("q={}", encode(self.q.trim())));
        }
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.as_str()));
        }
        if let Some(p) = self.plan {
            parts.push(format!("plan={}", p.as_str()));
        }
        if let Some(s) = self.sort {
            parts.push(format!("sort={}", s.as_str()));
        }
        if self.dir == Some(Direction::Desc) {
            parts.push("dir=desc".into());
        }
        parts.push(format!("page={page}"));
        format!("/operator?{}", parts.join("&"))
    }
}

#[derive(Debug, Default, Deserialize)]
struct OnboardForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    admin_name: String,
    #[serde(default)]
    admin_email: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    language: String,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct Console {
    c: Chrome,
    notice: Option<Notice>,
    orgs: Vec<OrgRow>,
    list: Listing,
    sorts: &'static [ConsoleSort],
    form: OnboardForm,
}

impl Console {
    fn sort_key(&self, sort: &ConsoleSort) -> &'static str {
        sort_key(sort)
    }
}

fn operator_only(person: &Person) -> Result<Chrome, PageError> {
    let c = person.chrome("operator");
    if person.operator {
        Ok(c)
    } else {
        Err(PageError::forbidden(&c))
    }
}

async fn console(
    State(state): State<AppState>,
    person: Person,
    PageQuery(q): PageQuery<ListQuery>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let notice = match q.done.as_str() {
        "suspended" => Notice::ok(format!("{} {}", q.org, c.t("now_suspended"))),
        "activated" => Notice::ok(format!("{} {}", q.org, c.t("now_active"))),
        _ => None,
    };
    page(
        &state,
        c,
        notice,
        &q,
        OnboardForm::default(),
        StatusCode::OK,
    )
    .await
}

/// The console: one page of shops with their figures (one store query), the search
/// and filter form, and the onboarding form.
async fn page(
    state: &AppState,
    c: Chrome,
    notice: Option<Notice>,
    q: &ListQuery,
    form: OnboardForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let filter = q.filter();
    let found = orgs::console(state.store.as_ref(), state.clock.now(), &filter)
        .await
        .or_page(&c, "/operator")?;
    let utc = TimeZoneName::utc();
    let checklist_total = orgs::checklist_items();
    let orgs = found
        .shops
        .into_iter()
        .map(|f| {
            let s = f.summary;
            let done = f.checklist_done.min(checklist_total);
            OrgRow {
                status: s.org.status.as_str(),
                status_key: status_key(s.org.status.as_str()),
                name: s.org.name,
                slug: s.org.slug.to_string(),
                plan: s.org.plan,
                customers: s.customers,
                onboarded: c.lang.date(s.org.created_at, &utc),
                awards_today: f.awards_today,
                awards_30d: f.awards_30d,
                last_activity: f
                    .last_activity
                    .map(|t| c.lang.datetime(t, &utc))
                    .unwrap_or_default(),
                checklist: format!("{done}/{checklist_total}"),
                checklist_complete: done == checklist_total,
                checks: f
                    .checks
                    .as_ref()
                    .map(|k| k.worst.clone())
                    .unwrap_or_default(),
                checks_when: f
                    .checks
                    .map(|k| c.lang.datetime(k.ran_at, &utc))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let page = filter.offset / PER_PAGE + 1;
    let pages = u32::try_from(found.total.max(0))
        .unwrap_or(u32::MAX)
        .div_ceil(PER_PAGE)
        .max(1);
    let list = Listing {
        q: q.q.trim().to_owned(),
        status: q.status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        plan: q.plan.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        sort: filter.sort.as_str(),
        desc: filter.descending,
        total: found.total,
        page,
        pages,
        prev: (page > 1).then(|| q.href(page - 1)),
        next: (page < pages).then(|| q.href(page + 1)),
    };
    Ok(render(
        status,
        &Console {
            c,
            notice,
            orgs,
            list,
            sorts: &ConsoleSort::ALL,
            form,
        },
    ))
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn onboard_post(
    State(state): State<AppState>,
    person: Person,
    CsrfForm(form): CsrfForm<OnboardForm>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let input = OnboardInput {
        name: opt(&form.name),
        slug: opt(&form.slug),
        admin_email: opt(&form.admin_email),
        admin_name: opt(&form.admin_name),
        plan: opt(&form.plan),
        country: opt(&form.country),
        timezone: opt(&form.timezone),
        language: opt(&form.language),
        ..OnboardInput::default()
    };
    let result = match input.validate() {
        Ok(mut plan) => {
            plan.operator = person.signed_in.session.principal.username().to_owned();
            onboard::onboard(
                state.store.as_ref(),
                state.directory.as_ref(),
                state.clock.as_ref(),
                &plan,
                CredentialMode::Link,
                &NoHooks,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => {
            let intro = if report.already_onboarded {
                c.t("already_onboarded")
            } else {
                c.t("onboarded_ok")
            };
            Ok(match &report.credential {
                Some(cred) => credential_page(
                    &c,
                    &report.org.name,
                    intro,
                    &report.admin_username,
                    cred,
                    &report.org.timezone,
                    "/operator",
                ),
                None => Redirect::to("/operator").into_response(),
            })
        }
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            let q = ListQuery::default();
            page(
                &state,
                c,
                notice,
                &q,
                form,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

struct AuditRow {
    when: String,
    actor: String,
    role: String,
    action: String,
    target: String,
    reason: String,
}

/// One check of the latest run, as the page shows it.
#[derive(Debug, Deserialize)]
struct CheckRow {
    #[serde(default)]
    status: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    fix: Option<String>,
}

/// The latest run of the organization checks.
struct ChecksView {
    when: String,
    by: String,
    worst: String,
    rows: Vec<CheckRow>,
}

#[derive(Template)]
#[template(path = "operator_org.html")]
struct OrgView {
    c: Chrome,
    name: String,
    slug: String,
    status: &'static str,
    status_key: &'static str,
    notice: Option<Notice>,
    checks: Option<ChecksView>,
    rows: Vec<AuditRow>,
    trend: super::admin::TrendView,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrgViewQuery {
    done: String,
    days: Option<u16>,
}

/// One organization for the operator: its status and its audit log, with the records of
/// the whole installation (a restore rolls every organization back).
async fn org_view(
    State(state): State<AppState>,
    person: Person,
    PagePath(slug): PagePath<String>,
    PageQuery(q): PageQuery<OrgViewQuery>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let org = orgs::get(state.store.as_ref(), &slug)
        .await
        .or_page(&c, "/operator")?;
    let checks = org_checks::latest(state.store.as_ref(), &org)
        .await
        .or_page(&c, "/operator")?
        .map(|run| ChecksView {
            when: c.lang.datetime(run.ran_at, &org.timezone),
            by: run.ran_by,
            worst: run.worst,
            rows: serde_json::from_value(run.results).unwrap_or_default(),
        });
    let days = q
        .days
        .filter(|d| loyalty_core::service::reports::TREND_PERIODS.contains(d))
        .unwrap_or(30);
    let trends = loyalty_core::service::reports::org_trends(
        state.store.as_ref(),
        state.clock.as_ref(),
        &org,
        days,
    )
    .await
    .or_page(&c, "/operator")?;
    let trend = super::admin::trend_view(&c, &trends, days);
    let notice = match q.done.as_str() {
        "checked" => Notice::ok(c.t("checks_done")),
        _ => None,
    };
    let reader = Reader {
        store: state.store.as_ref(),
        org: &org,
        role: None,
        operator: person.operator,
    };
    let page_of = Before {
        cursor: None,
        limit: 200,
    };
    let records = audit::installation_log(&reader, page_of)
        .await
        .or_page(&c, "/operator")?;
    let rows = records
        .into_iter()
        .map(|r| AuditRow {
            when: c.lang.datetime(r.created_at, &org.timezone),
            actor: r.actor,
            role: r.actor_role,
            action: r.action,
            target: match (r.organization_id, r.target_type) {
                (None, Some(t)) => format!("{t} ({})", c.t("installation")),
                (None, None) => c.t("installation").to_owned(),
                (Some(_), t) => t.unwrap_or_default(),
            },
            reason: r.reason.unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &OrgView {
            status: org.status.as_str(),
            status_key: status_key(org.status.as_str()),
            c,
            name: org.name,
            slug: org.slug.to_string(),
            notice,
            checks,
            rows,
            trend,
        },
    ))
}

/// Runs the organization checks of `loyalty doctor --org` for one shop and keeps the
/// result with its time; the shop's page shows it.
async fn run_checks(
    State(state): State<AppState>,
    person: Person,
    PagePath(slug): PagePath<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let org = orgs::get(state.store.as_ref(), &slug)
        .await
        .or_page(&c, "/operator")?;
    let mut actor = Actor::operator(person.signed_in.session.principal.username());
    actor.request_id = person.request_id.clone();
    org_checks::run_and_keep(
        state.store.as_ref(),
        state.directory.as_ref(),
        &org,
        &actor,
        state.clock.now(),
    )
    .await
    .or_page(&c, &format!("/operator/orgs/{}", org.slug))?;
    Ok(Redirect::to(&format!("/operator/orgs/{}?done=checked", org.slug)).into_response())
}

/// The text key of an order of the console's list.
fn sort_key(sort: &ConsoleSort) -> &'static str {
    match sort {
        ConsoleSort::Name => "sort_name",
        ConsoleSort::Slug => "slug",
        ConsoleSort::Onboarded => "onboarded",
        ConsoleSort::AwardsToday => "awards_today",
        ConsoleSort::Awards30d => "awards_30d",
        ConsoleSort::LastActivity => "last_activity",
    }
}

fn status_key(status: &str) -> &'static str {
    match status {
        "active" => "status_active",
        "suspended" => "status_suspended",
        _ => "status_onboarding",
    }
}

async fn confirm_status(
    State(state): State<AppState>,
    person: Person,
    PagePath((slug, action)): PagePath<(String, String)>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let org = orgs::get(state.store.as_ref(), &slug)
        .await
        .or_page(&c, "/operator")?;
    let (heading, text, button, danger) = match action.as_str() {
        "suspend" => ("confirm_suspend", "confirm_suspend_text", "suspend", true),
        "activate" => (
            "confirm_activate",
            "confirm_activate_text",
            "reactivate",
            false,
        ),
        _ => return Err(PageError::not_found(c.lang)),
    };
    Ok(confirm_page(
        &c,
        &format!("{} {}?", c.t(heading), org.name),
        c.t(text),
        &format!("/operator/orgs/{}/{action}", org.slug),
        Vec::new(),
        c.t(button),
        danger,
        "/operator",
    ))
}

async fn change_status(
    State(state): State<AppState>,
    person: Person,
    PagePath((slug, action)): PagePath<(String, String)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let now = state.clock.now();
    let actor = Actor::operator(person.signed_in.session.principal.username());
    let (result, done) = match action.as_str() {
        "suspend" => (
            orgs::suspend(state.store.as_ref(), &slug, &actor, now).await,
            "suspended",
        ),
        "activate" => (
            orgs::activate(state.store.as_ref(), &slug, &actor, now).await,
            "activated",
        ),
        _ => return Err(PageError::not_found(c.lang)),
    };
    let change = result.or_page(&c, "/operator")?;
    tracing::info!(org = %change.org.slug, action = %action, by = %person.signed_in.session.principal.username(), "organization status changed");
    Ok(Redirect::to(&format!("/operator?done={done}&org={}", change.org.slug)).into_response())
}
