//! Customers in the admin panel: find by phone, email or card (or browse), a customer's
//! ledger, and adjusting a balance with a reason.

use super::{admin, done_notice};
use crate::AppState;
use crate::pages::error::{OrPage, PageError, error_text};
use crate::pages::form::CsrfForm;
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
use loyalty_core::domain::CustomerId;
use loyalty_core::domain::ledger::{Customer, LedgerEntry};
use loyalty_core::service::customers::{self, LedgerRange};
use loyalty_core::service::erasure;
use loyalty_core::service::points::{self, AdjustRequest};
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/customers", get(list))
        .route("/o/{slug}/admin/customers/{id}", get(detail).post(adjust))
        .route("/o/{slug}/admin/customers/{id}/erase", post(erase))
        .route("/o/{slug}/admin/customers/{id}/consent", post(consent))
}

#[derive(Deserialize)]
struct ConsentForm {
    /// The box: sent only when ticked.
    #[serde(default)]
    marketing: Option<String>,
}

/// Records the customer's answer about news and offers, as they gave it to the shop.
async fn consent(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "customers")?;
    match customers::set_marketing_consent(&ctx, id, form.marketing.is_some()).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/admin/customers/{id}?done=consent_recorded",
            page.base()
        ))
        .into_response()),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            render_detail(&state, &page, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Deserialize)]
struct EraseForm {
    #[serde(default)]
    confirm: String,
}

/// Erases a customer after the admin typed the confirmation word.
async fn erase(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    CsrfForm(form): CsrfForm<EraseForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "customers")?;
    let journal = state.config.erasure_journal.as_deref();
    match erasure::erase_customer(&ctx, state.directory.as_ref(), journal, id, &form.confirm).await
    {
        Ok(_) => Ok(
            Redirect::to(&format!("{}/admin/customers/{id}?done=erased", page.base()))
                .into_response(),
        ),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            render_detail(&state, &page, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

#[derive(Template)]
#[template(path = "admin_customers.html")]
struct ListPage {
    c: Chrome,
    base: String,
    q: String,
    notice: Option<Notice>,
    customers: Vec<Customer>,
}

async fn list(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(s): PageQuery<Search>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "customers")?;
    let q = s.q.trim().to_owned();
    let (customers, notice) = if q.is_empty() {
        (
            customers::list(&ctx, None, 100).await.or_page(&c, "/")?,
            None,
        )
    } else {
        match points::lookup(&ctx, &q).await {
            Ok(found) => (vec![found], None),
            Err(e) => (Vec::new(), Notice::err(error_text(c.lang, &e))),
        }
    };
    Ok(render(
        StatusCode::OK,
        &ListPage {
            base: page.base(),
            c,
            q,
            notice,
            customers,
        },
    ))
}

struct EntryRow {
    when: String,
    kind: &'static str,
    points: i64,
    balance_after: i64,
    notes: String,
}

/// A ledger entry as a table row, newest first lists included.
pub(crate) fn entry_kind(e: &LedgerEntry) -> &'static str {
    match e.transaction_type.as_str() {
        "earned" => "tx_earned",
        "redeemed" => "tx_redeemed",
        "expired" => "tx_expired",
        "adjusted" => "tx_adjusted",
        "opening" => "tx_opening",
        _ => "tx_reversed",
    }
}

#[derive(Template)]
#[template(path = "admin_customer.html")]
struct DetailPage {
    c: Chrome,
    base: String,
    customer: Customer,
    entries: Vec<EntryRow>,
    notice: Option<Notice>,
    idem: String,
    enrolled: String,
    slug: String,
}

async fn detail(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    PageQuery(s): PageQuery<Search>,
) -> Result<Response, PageError> {
    let c = page.chrome("admin", "customers");
    let notice = done_notice(&c, &s.done);
    render_detail(&state, &page, id, notice, StatusCode::OK).await
}

async fn render_detail(
    state: &AppState,
    page: &OrgPage,
    id: CustomerId,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(page, state, "customers")?;
    let back = format!("{}/admin/customers", page.base());
    let customer = points::customer(&ctx, id).await.or_page(&c, &back)?;
    let mut ledger = customers::ledger(&ctx, Some(id), LedgerRange::first(200))
        .await
        .or_page(&c, &back)?;
    ledger.reverse();
    let tz = &page.org.timezone;
    let entries = ledger
        .iter()
        .map(|e| EntryRow {
            when: c.lang.datetime(e.created_at, tz),
            kind: entry_kind(e),
            points: e.points,
            balance_after: e.balance_after,
            notes: e.notes.clone().unwrap_or_default(),
        })
        .collect();
    Ok(render(
        status,
        &DetailPage {
            enrolled: c.lang.date(customer.created_at, tz),
            base: page.base(),
            slug: page.org.slug.to_string(),
            c,
            customer,
            entries,
            notice,
            idem: Uuid::new_v4().to_string(),
        },
    ))
}

#[derive(Deserialize)]
struct AdjustForm {
    #[serde(default)]
    points: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    idem: String,
}

async fn adjust(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, CustomerId)>,
    CsrfForm(form): CsrfForm<AdjustForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "customers")?;
    let Ok(pts) = form.points.trim().trim_start_matches('+').parse::<i64>() else {
        let notice = Notice::err(c.t("err_points_number"));
        return render_detail(&state, &page, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let req = AdjustRequest {
        customer: id,
        points: pts,
        reason: form.reason,
    };
    match points::adjust(&ctx, req, &form.idem).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}/admin/customers/{id}?done=adjusted",
            page.base()
        ))
        .into_response()),
        Err(e) => {
            let notice = Notice::err(error_text(c.lang, &e));
            render_detail(&state, &page, id, notice, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
