//! Importing customers in the admin panel (`/o/{slug}/admin/import`): the same engine
//! as `loyalty import customers`, a template to download, and the report of every bad
//! row by line and column. The file is read in the browser into the form (pages post
//! plain forms), so the upload is bounded by the server's request body limit; larger
//! files go through the command line.

use super::admin;
use crate::AppState;
use crate::pages::error::{OrPage, PageError};
use crate::pages::form::CsrfForm;
use crate::pages::guard::OrgPage;
use crate::pages::i18n::Lang;
use crate::pages::layout::Chrome;
use crate::pages::render;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use loyalty_core::service::import::{self, ImportOptions, ImportReport};
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/o/{slug}/admin/import", get(form).post(run))
        .route("/o/{slug}/admin/import/template.csv", get(template))
}

#[derive(Template)]
#[template(path = "admin_import.html")]
struct ImportPage {
    c: Chrome,
    base: String,
    max_bytes: usize,
    report: Option<ImportReport>,
}

async fn form(State(state): State<AppState>, page: OrgPage) -> Result<Response, PageError> {
    let (c, _ctx) = admin(&page, &state, "customers")?;
    Ok(render(
        StatusCode::OK,
        &ImportPage {
            c,
            base: page.base(),
            max_bytes: state.config.max_body_bytes,
            report: None,
        },
    ))
}

async fn template(State(state): State<AppState>, page: OrgPage) -> Result<Response, PageError> {
    let (c, _ctx) = admin(&page, &state, "customers")?;
    let pt_br = c.lang == Lang::PtBr;
    let name = if pt_br {
        "modelo-clientes.csv"
    } else {
        "customers-template.csv"
    };
    Ok(crate::download::attachment(
        "text/csv; charset=utf-8",
        name,
        format!("\u{feff}{}", import::template(pt_br)),
    ))
}

#[derive(Debug, Deserialize)]
struct ImportForm {
    #[serde(default)]
    file_name: String,
    #[serde(default)]
    csv: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    skip_invalid: Option<String>,
}

async fn run(
    State(state): State<AppState>,
    page: OrgPage,
    CsrfForm(form): CsrfForm<ImportForm>,
) -> Result<Response, PageError> {
    let (c, ctx) = admin(&page, &state, "customers")?;
    let back = format!("{}/admin/import", page.base());
    let name: String = form
        .file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|ch| !ch.is_control())
        .take(120)
        .collect();
    let name = if name.trim().is_empty() {
        "upload.csv".to_owned()
    } else {
        name
    };
    let dry_run = form.mode == "check";
    let report = import::import_customers(
        &ctx,
        &name,
        form.csv.as_bytes(),
        ImportOptions {
            dry_run,
            skip_invalid: form.skip_invalid.is_some(),
        },
        &mut |_| {},
    )
    .await
    .or_page(&c, &back)?;
    let status = if report.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(
        status,
        &ImportPage {
            c,
            base: page.base(),
            max_bytes: state.config.max_body_bytes,
            report: Some(report),
        },
    ))
}
