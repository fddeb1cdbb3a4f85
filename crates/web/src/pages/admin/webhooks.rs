//! The admin's webhooks page (`/o/{slug}/admin/webhooks`): endpoints with their event
//! filter, the secret shown once (on adding and on rotating), "send a test event", and
//! the delivery log with "resend". The rules are `core::service::webhooks`.

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
use loyalty_core::service::webhooks;
use loyalty_core::webhook::EVENT_TYPES;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/webhooks", get(page).post(create))
        .route("/o/{slug}/admin/webhooks/{id}/rotate", post(rotate))
        .route("/o/{slug}/admin/webhooks/{id}/test", post(test))
        .route("/o/{slug}/admin/webhooks/{id}/toggle", post(toggle))
        .route("/o/{slug}/admin/webhooks/{id}/remove", post(remove))
        .route(
            "/o/{slug}/admin/webhooks/deliveries/{id}/resend",
            post(resend),
        )
}

struct EndpointRow {
    id: Uuid,
    url: String,
    events: String,
    active: bool,
    failing_since: String,
}

struct DeliveryRow {
    id: Uuid,
    when: String,
    event_type: String,
    event_id: String,
    status: &'static str,
    attempts: i32,
    http: String,
    latency: String,
    answer: String,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    c: Chrome,
    base: String,
    notice: Option<Notice>,
    /// A secret to show this once, with the sentence that goes with it.
    secret: Option<(String, String)>,
    endpoints: Vec<EndpointRow>,
    deliveries: Vec<DeliveryRow>,
    event_types: Vec<&'static str>,
    url: String,
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
}

async fn page(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(q): PageQuery<Done>,
) -> Result<Response, PageError> {
    let notice = done_notice(
        &page.chrome("admin", "webhooks"),
        &format!("webhook_{}", q.done),
    );
    show(&state, &page, notice, None, String::new(), StatusCode::OK).await
}

async fn show(
    state: &AppState,
    page: &OrgPage,
    notice: Option<Notice>,
    secret: Option<(&'static str, SecretString)>,
    url: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(page, state, "webhooks")?;
    let tz = &page.org.timezone;
    let endpoints = webhooks::endpoints(&ctx)
        .await
        .or_page(&c, "/")?
        .into_iter()
        .map(|e| EndpointRow {
            id: e.id,
            events: if e.events.iter().any(|x| x == "*") {
                c.t("wh_all_events").to_owned()
            } else {
                e.events.join(", ")
            },
            url: e.url,
            active: e.active,
            failing_since: e
                .failing_since
                .map(|t| c.lang.datetime(t, tz))
                .unwrap_or_default(),
        })
        .collect();
    let deliveries = webhooks::deliveries(&ctx, 100)
        .await
        .or_page(&c, "/")?
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            when: c.lang.datetime(d.created_at, tz),
            status: match d.status() {
                "delivered" => "wh_delivered",
                "failed" => "wh_failed",
                _ => "wh_pending",
            },
            event_type: d.event_type,
            event_id: d.event_id,
            attempts: d.attempts,
            http: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            latency: d.latency_ms.map(|s| s.to_string()).unwrap_or_default(),
            answer: d.last_error.unwrap_or_default().chars().take(120).collect(),
        })
        .collect();
    Ok(render(
        status,
        &WebhooksPage {
            base: page.base(),
            secret: secret.map(|(k, s)| (c.t(k).to_owned(), s.expose_secret().to_owned())),
            c,
            notice,
            endpoints,
            deliveries,
            event_types: EVENT_TYPES.to_vec(),
            url,
        },
    ))
}

/// The add form: `url`, and one `event.<type>` box per chosen event.
async fn create(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "webhooks")?;
    let url = form.get("url").cloned().unwrap_or_default();
    let events: Vec<String> = form
        .keys()
        .filter_map(|k| k.strip_prefix("event."))
        .map(str::to_owned)
        .collect();
    let policy = webhooks::TargetPolicy {
        allow_private: state.config.webhooks_allow_private,
    };
    match webhooks::create_endpoint(&ctx, &url, &events, policy).await {
        Ok((_, secret)) => {
            let notice = done_notice(&c, "webhook_saved");
            show(
                &state,
                &page,
                notice,
                Some(("wh_secret_once", secret)),
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            show(
                &state,
                &page,
                notice,
                None,
                url,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn rotate(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "webhooks")?;
    let back = format!("{}/admin/webhooks", page.base());
    let secret = webhooks::rotate_secret(&ctx, id).await.or_page(&c, &back)?;
    show(
        &state,
        &page,
        None,
        Some(("wh_rotated", secret)),
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn test(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "webhooks")?;
    let back = format!("{}/admin/webhooks", page.base());
    webhooks::send_test(&ctx, id).await.or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=test")).into_response())
}

async fn resend(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "webhooks")?;
    let back = format!("{}/admin/webhooks", page.base());
    webhooks::resend(&ctx, id).await.or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=resent")).into_response())
}

async fn toggle(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "webhooks")?;
    let back = format!("{}/admin/webhooks", page.base());
    let endpoints = webhooks::endpoints(&ctx).await.or_page(&c, &back)?;
    let Some(endpoint) = endpoints.iter().find(|e| e.id == id) else {
        return Err(PageError::not_found(c.lang));
    };
    webhooks::set_active(&ctx, id, !endpoint.active)
        .await
        .or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=saved")).into_response())
}

async fn remove(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, Uuid)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "webhooks")?;
    let back = format!("{}/admin/webhooks", page.base());
    webhooks::remove_endpoint(&ctx, id)
        .await
        .or_page(&c, &back)?;
    Ok(Redirect::to(&format!("{back}?done=saved")).into_response())
}
