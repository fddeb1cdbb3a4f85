//! The admin's export page (`/o/{slug}/admin/exports`): what (ledger, balances,
//! purchases, summary), which days (this month, last month, or from and to in the
//! organization's time zone) and which file (XLSX, CSV for the spreadsheet, CSV for
//! programs). The file is the API's export (`core::service::exports`), sent by
//! `api::exports::download`; a bad choice is a page that says what to fix. Below the
//! form, the ledger's signed checkpoints, each a link to its file (the API's, sent by
//! `api::checkpoints::file_response`).

use super::admin;
use crate::AppState;
use crate::api::checkpoints::file_response;
use crate::api::exports::download;
use crate::pages::error::{OrPage, PageError};
use crate::pages::guard::OrgPage;
use crate::pages::layout::Chrome;
use crate::pages::params::{PagePath, PageQuery};
use crate::pages::render;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use loyalty_core::service::exports::{Export, ExportKind, ExportParams};
use loyalty_core::service::integrity;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/exports", get(page))
        .route("/o/{slug}/admin/exports/download", get(file))
        .route("/o/{slug}/admin/exports/checkpoints/{id}", get(checkpoint))
}

#[derive(Template)]
#[template(path = "admin_exports.html")]
struct ExportsPage {
    c: Chrome,
    base: String,
    timezone: String,
    today: String,
    checkpoints: Vec<CheckpointRow>,
    /// The public keys that signed them (one, unless the installation's key changed).
    keys: Vec<String>,
}

/// One signed checkpoint in the page's list.
struct CheckpointRow {
    id: String,
    when: String,
    customers: i64,
    entries: i64,
}

async fn page(State(state): State<AppState>, page: OrgPage) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "exports")?;
    let taken = integrity::list_checkpoints(&ctx).await.or_page(&c, "/")?;
    let mut keys: Vec<String> = Vec::new();
    for cp in &taken {
        if !keys.contains(&cp.public_key) {
            keys.push(cp.public_key.clone());
        }
    }
    let checkpoints = taken
        .into_iter()
        .map(|cp| CheckpointRow {
            id: cp.id.to_string(),
            when: c.lang.datetime(cp.created_at, &page.org.timezone),
            customers: cp.customers,
            entries: cp.entries,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ExportsPage {
            checkpoints,
            keys,
            base: page.base(),
            timezone: page.org.timezone.to_string(),
            today: loyalty_core::service::reports::local_date(
                state.clock.now(),
                &page.org.timezone,
            )
            .to_string(),
            c,
        },
    ))
}

/// The form's choices as the browser sends them.
#[derive(Deserialize)]
struct Choice {
    kind: String,
    /// `this-month`, `last-month` or `custom` (then `from` and `to`).
    period: String,
    from: Option<String>,
    to: Option<String>,
    /// `xlsx`, `csv-local` or `csv-machine`.
    format: String,
}

impl Choice {
    fn params(self) -> ExportParams {
        let given = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let (period, from, to) = if self.period == "custom" {
            (None, given(self.from), given(self.to))
        } else {
            (Some(self.period), None, None)
        };
        let (format, style) = match self.format.split_once('-') {
            Some((format, style)) => (format.to_owned(), Some(style.to_owned())),
            None => (self.format, None),
        };
        ExportParams {
            from,
            to,
            period,
            format: Some(format),
            style,
        }
    }
}

async fn file(
    State(state): State<AppState>,
    page: OrgPage,
    PageQuery(choice): PageQuery<Choice>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "exports")?;
    let back = format!("{}/admin/exports", page.base());
    let kind = ExportKind::parse(&choice.kind).or_page(&c, &back)?;
    let export = Export::begin(&ctx, kind, &choice.params()).or_page(&c, &back)?;
    download(export, &state).await.or_page(&c, &back)
}

/// One signed checkpoint's file.
async fn checkpoint(
    State(state): State<AppState>,
    page: OrgPage,
    PagePath((_, id)): PagePath<(String, uuid::Uuid)>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "exports")?;
    let back = format!("{}/admin/exports", page.base());
    let cp = integrity::checkpoint_file(&ctx, id)
        .await
        .or_page(&c, &back)?;
    Ok(file_response(page.org.slug.as_str(), &cp))
}
