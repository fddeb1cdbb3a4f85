//! The operator console (`/operator`, members of the operators group): every
//! organization with its status, plan, member counts and onboarding date; onboarding a
//! client with the same service as `loyalty onboard`; suspending and reactivating; one
//! organization's audit log, with the installation's own records (restores).

use super::common::{confirm_page, credential_page};
use super::error::{OrPage, PageError, error_text};
use super::form::{CsrfForm, Empty};
use super::guard::Person;
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
use loyalty_core::domain::TimeZoneName;
use loyalty_core::domain::ledger::Actor;
use loyalty_core::service::audit::{self, Before, Reader};
use loyalty_core::service::onboard::{self, CredentialMode, NoHooks, OnboardInput};
use loyalty_core::service::orgs;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/operator", get(console))
        .route("/operator/onboard", axum::routing::post(onboard_post))
        .route("/operator/orgs/{slug}", get(org_view))
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
    admins: i64,
    cashiers: i64,
    customers: i64,
    onboarded: String,
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
    form: OnboardForm,
}

fn operator_only(person: &Person) -> Result<Chrome, PageError> {
    let c = person.chrome("operator");
    if person.operator {
        Ok(c)
    } else {
        Err(PageError::forbidden(&c))
    }
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    org: String,
}

async fn console(
    State(state): State<AppState>,
    person: Person,
    PageQuery(q): PageQuery<Done>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let notice = match q.done.as_str() {
        "suspended" => Notice::ok(format!("{} {}", q.org, c.t("now_suspended"))),
        "activated" => Notice::ok(format!("{} {}", q.org, c.t("now_active"))),
        _ => None,
    };
    page(&state, c, notice, OnboardForm::default(), StatusCode::OK).await
}

async fn page(
    state: &AppState,
    c: Chrome,
    notice: Option<Notice>,
    form: OnboardForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let list = orgs::list(state.store.as_ref())
        .await
        .or_page(&c, "/operator")?;
    let orgs = list
        .into_iter()
        .map(|s| OrgRow {
            status: s.org.status.as_str(),
            status_key: status_key(s.org.status.as_str()),
            name: s.org.name,
            slug: s.org.slug.to_string(),
            plan: s.org.plan,
            admins: s.admins,
            cashiers: s.cashiers,
            customers: s.customers,
            onboarded: c.lang.date(s.org.created_at, &TimeZoneName::utc()),
        })
        .collect();
    Ok(render(
        status,
        &Console {
            c,
            notice,
            orgs,
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
            page(&state, c, notice, form, StatusCode::UNPROCESSABLE_ENTITY).await
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

#[derive(Template)]
#[template(path = "operator_org.html")]
struct OrgView {
    c: Chrome,
    name: String,
    slug: String,
    status: &'static str,
    status_key: &'static str,
    rows: Vec<AuditRow>,
}

/// One organization for the operator: its status and its audit log, with the records of
/// the whole installation (a restore rolls every organization back).
async fn org_view(
    State(state): State<AppState>,
    person: Person,
    PagePath(slug): PagePath<String>,
) -> Result<Response, PageError> {
    let c = operator_only(&person)?;
    let org = orgs::get(state.store.as_ref(), &slug)
        .await
        .or_page(&c, "/operator")?;
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
            rows,
        },
    ))
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
