//! Staff pages (runbook step 6.2, "Users -> Create Cashier"): list the organization's
//! cashiers and admins, create one (the one-time link is shown once), deactivate one,
//! mail one a password-reset link; the tills and what they sent of what they recorded
//! offline, with the points a customer may redeem offline per day.

use super::{admin, done_notice};
use crate::AppState;
use crate::pages::common::{confirm_page, credential_page};
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
use loyalty_core::domain::Role;
use loyalty_core::service::staff::{self, StaffInput};
use loyalty_core::service::till;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/users", get(list).post(create))
        .route(
            "/o/{slug}/admin/users/{id}/deactivate",
            get(confirm_deactivate).post(deactivate),
        )
        .route("/o/{slug}/admin/users/{id}/reset", post(reset))
        .route("/o/{slug}/admin/tills/offline-redeem", post(offline_redeem))
}

struct StaffRow {
    id: Uuid,
    name: String,
    email: String,
    role: &'static str,
    active: bool,
    me: bool,
    since: String,
}

/// A till (device and person signed in on it) and what it sent of the purchases it
/// recorded offline.
struct TillRow {
    device: String,
    cashier: String,
    last_sync: String,
    offline: i64,
    redeemed: i64,
    refusals: i64,
    last_refusal: Option<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
struct CreateForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    c: Chrome,
    base: String,
    notice: Option<Notice>,
    rows: Vec<StaffRow>,
    tills: Vec<TillRow>,
    offline_redeem_limit: i64,
    form: CreateForm,
}

#[derive(Deserialize)]
struct LimitForm {
    #[serde(default)]
    offline_redeem_limit: String,
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn list(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<Done>,
) -> Result<Response, PageError> {
    let notice = {
        let c = page.chrome("admin", "users");
        done_notice(&c, &q.done)
    };
    render_list(&state, &page, notice, CreateForm::default(), StatusCode::OK).await
}

async fn render_list(
    state: &AppState,
    page: &OrgPage,
    notice: Option<Notice>,
    form: CreateForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(page, state, "users")?;
    let members = staff::list_staff(&ctx).await.or_page(&c, "/")?;
    let tz = &page.org.timezone;
    let tills = till::devices(&ctx)
        .await
        .or_page(&c, "/")?
        .into_iter()
        .map(|t| TillRow {
            device: t.device.simple().to_string()[..8].to_owned(),
            cashier: t.cashier,
            last_sync: c.lang.datetime(t.last_sync_at, tz),
            offline: t.offline_purchases,
            redeemed: t.offline_redemptions,
            refusals: t.refusals,
            last_refusal: t
                .last_refusal
                .map(|(code, at)| (code, c.lang.datetime(at, tz))),
        })
        .collect();
    let rows = members
        .into_iter()
        .map(|m| StaffRow {
            id: m.id,
            name: m.name.unwrap_or_default(),
            email: m.email.unwrap_or_default(),
            role: if m.role == Role::Admin {
                "role_admin"
            } else {
                "role_cashier"
            },
            active: m.status == "active",
            me: Some(m.id) == page.member_id,
            since: c.lang.date(m.created_at, &page.org.timezone),
        })
        .collect();
    Ok(render(
        status,
        &UsersPage {
            base: page.base(),
            c,
            notice,
            rows,
            tills,
            offline_redeem_limit: page.org.offline_redeem_limit,
            form,
        },
    ))
}

async fn create(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "users")?;
    let role = if form.role == "admin" {
        Role::Admin
    } else {
        Role::Cashier
    };
    let input = StaffInput {
        username: form.username.clone(),
        name: form.name.clone(),
        email: form.email.clone(),
    };
    match staff::create_staff(&ctx, state.directory.as_ref(), role, &input).await {
        Ok(created) => {
            let heading = format!(
                "{} {}",
                c.t(if role == Role::Admin {
                    "admin_created"
                } else {
                    "cashier_created"
                }),
                created.user.name
            );
            Ok(credential_page(
                &c,
                &heading,
                c.t("staff_created_intro"),
                &created.user.username,
                &created.credential,
                &page.org.timezone,
                &format!("{}/admin/users", page.base()),
            ))
        }
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            render_list(
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

async fn confirm_deactivate(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "users")?;
    let name = staff::list_staff(&ctx)
        .await
        .or_page(&c, "/")?
        .into_iter()
        .find(|m| m.id == id)
        .and_then(|m| m.name.or(m.email));
    let Some(name) = name else {
        return Err(PageError::not_found(c.lang));
    };
    Ok(confirm_page(
        &c,
        &format!("{} {name}?", c.t("deactivate")),
        c.t("deactivate_text"),
        &format!("{}/admin/users/{id}/deactivate", page.base()),
        Vec::new(),
        c.t("deactivate"),
        true,
        &format!("{}/admin/users", page.base()),
    ))
}

async fn deactivate(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "users")?;
    let back = format!("{}/admin/users", page.base());
    staff::deactivate_staff(&ctx, state.directory.as_ref(), id)
        .await
        .or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=deactivated")).into_response())
}

async fn reset(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "users")?;
    let back = format!("{}/admin/users", page.base());
    staff::send_password_reset(&ctx, state.directory.as_ref(), id)
        .await
        .or_page(&c, &back)?;
    let done = if state.config.mail_enabled {
        "reset_mailed"
    } else {
        "reset_queued"
    };
    Ok(Redirect::to(&format!("{back}?done={done}")).into_response())
}

/// Sets the points a customer may redeem offline per day (0 refuses).
async fn offline_redeem(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<LimitForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "users")?;
    match till::set_offline_redeem_limit(&ctx, &form.offline_redeem_limit).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/admin/users?done=settings_saved#tills",
            page.base()
        ))
        .into_response()),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            render_list(
                &state,
                &page,
                notice,
                CreateForm::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
