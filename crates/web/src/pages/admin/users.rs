//! Staff pages (runbook step 6.2, "Users -> Create Cashier"): list the organization's
//! cashiers and admins, create one (the one-time link is shown once), deactivate one,
//! mail one a password-reset link.

use super::{admin, done_notice};
use crate::AppState;
use crate::pages::common::{confirm_page, credential_page};
use crate::pages::guard::OrgPage;
use crate::pages::layout::{Chrome, Notice, error_page, error_text, form_ok};
use crate::pages::{forged_in, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use loyalty_core::domain::Role;
use loyalty_core::service::staff::{self, StaffInput};
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

#[derive(Debug, Default, Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
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
    form: CreateForm,
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn list(State(state): State<AppState>, page: OrgPage, Query(q): Query<Done>) -> Response {
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
) -> Response {
    let (c, ctx) = match admin(page, state, "users") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let members = match staff::list_staff(&ctx).await {
        Ok(m) => m,
        Err(e) => return error_page(&c, &e, "/"),
    };
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
    render(
        status,
        &UsersPage {
            base: page.base(),
            c,
            notice,
            rows,
            form,
        },
    )
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    page: OrgPage,
    Form(form): Form<CreateForm>,
) -> Response {
    let (c, ctx) = match admin(&page, &state, "users") {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !form_ok(&state, &headers, Some((page.person.csrf(), &form.csrf))) {
        return forged_in(&c);
    }
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
            credential_page(
                &c,
                &heading,
                c.t("staff_created_intro"),
                &created.user.username,
                &created.credential,
                &page.org.timezone,
                &format!("{}/admin/users", page.base()),
            )
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
    Path((_, id)): Path<(String, Uuid)>,
) -> Response {
    let (c, ctx) = match admin(&page, &state, "users") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = match staff::list_staff(&ctx).await {
        Ok(list) => list
            .into_iter()
            .find(|m| m.id == id)
            .and_then(|m| m.name.or(m.email)),
        Err(e) => return error_page(&c, &e, "/"),
    };
    let Some(name) = name else {
        return crate::pages::not_found_page(c.lang);
    };
    confirm_page(
        &c,
        &format!("{} {name}?", c.t("deactivate")),
        c.t("deactivate_text"),
        &format!("{}/admin/users/{id}/deactivate", page.base()),
        Vec::new(),
        c.t("deactivate"),
        true,
        &format!("{}/admin/users", page.base()),
    )
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn deactivate(
    State(state): State<AppState>,
    headers: HeaderMap,
    page: OrgPage,
    Path((_, id)): Path<(String, Uuid)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (c, ctx) = match admin(&page, &state, "users") {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !form_ok(&state, &headers, Some((page.person.csrf(), &form.csrf))) {
        return forged_in(&c);
    }
    match staff::deactivate_staff(&ctx, state.directory.as_ref(), id).await {
        Ok(_) => {
            Redirect::to(&format!("{}/admin/users?done=deactivated", page.base())).into_response()
        }
        Err(e) => error_page(&c, &e, &format!("{}/admin/users", page.base())),
    }
}

async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    page: OrgPage,
    Path((_, id)): Path<(String, Uuid)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (c, ctx) = match admin(&page, &state, "users") {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !form_ok(&state, &headers, Some((page.person.csrf(), &form.csrf))) {
        return forged_in(&c);
    }
    match staff::send_password_reset(&ctx, state.directory.as_ref(), id).await {
        Ok(_) => {
            let done = if state.config.mail_enabled {
                "reset_mailed"
            } else {
                "reset_queued"
            };
            Redirect::to(&format!("{}/admin/users?done={done}", page.base())).into_response()
        }
        Err(e) => error_page(&c, &e, &format!("{}/admin/users", page.base())),
    }
}
