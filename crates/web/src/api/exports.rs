//! Exports over the API: the ledger, balances, purchases and the period's summary as a
//! CSV file streamed as it is read from the store, or as an XLSX workbook whose rows go
//! to private temporary files and whose zip is streamed as it is written
//! (`docs/exports.md`). The dashboard's export page sends its files through
//! [`download`] too.

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::ApiQuery;
use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use loyalty_core::service::exports::{Export, ExportFormat, ExportKind, ExportParams};
use loyalty_core::store::Store;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/exports/ledger", get(ledger))
        .route("/orgs/{slug}/exports/balances", get(balances))
        .route("/orgs/{slug}/exports/purchases", get(purchases))
        .route("/orgs/{slug}/exports/summary", get(summary))
}

/// Which entries and how to write them.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// First day, `YYYY-MM-DD`, in the organization's time zone (with `to`).
    pub(crate) from: Option<String>,
    /// Last day (included), `YYYY-MM-DD`, in the organization's time zone (with `from`).
    pub(crate) to: Option<String>,
    /// `this-month` or `last-month` instead of `from` and `to`; without any of the three,
    /// this month.
    pub(crate) period: Option<String>,
    /// `csv` (the default) or `xlsx`.
    pub(crate) format: Option<String>,
    /// `local` (the default: the organization's separator, language and time zone) or
    /// `machine` (`,`, English headers, UTC RFC 3339 times).
    pub(crate) style: Option<String>,
}

impl From<ExportQuery> for ExportParams {
    fn from(q: ExportQuery) -> Self {
        Self {
            from: q.from,
            to: q.to,
            period: q.period,
            format: q.format,
            style: q.style,
        }
    }
}

api_errors!(ExportErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    AuthForbidden = "only admins of this organization export",
    OrgSuspended,
    OrgNotFound,
    ValidationFailed = "`from`, `to`, `period`, `format` or `style` is not valid, the range is given twice or half, or an XLSX range holds more rows than a sheet; see `fields`",
});

/// Export the ledger
///
/// Every ledger entry of a date range in the organization's time zone, oldest first, as
/// a CSV file with a byte-order mark streamed as it is read, or an XLSX workbook (with
/// the period's summary as a second sheet). Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/exports/ledger",
    operation_id = "export_ledger",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader, ExportQuery),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        ExportErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn ledger(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    export(&state, &m, ExportKind::Ledger, q).await
}

/// Export the balances
///
/// Every customer with their balance now (the range is checked but does not apply), as
/// a CSV file streamed as it is read, or an XLSX workbook. Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/exports/balances",
    operation_id = "export_balances",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader, ExportQuery),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        ExportErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn balances(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    export(&state, &m, ExportKind::Balances, q).await
}

/// Export the purchases
///
/// Every purchase of a date range in the organization's time zone, newest first, as a
/// CSV file streamed as it is read, or an XLSX workbook (with the period's summary as a
/// second sheet). Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/exports/purchases",
    operation_id = "export_purchases",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader, ExportQuery),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        ExportErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn purchases(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    export(&state, &m, ExportKind::Purchases, q).await
}

/// Export the period's summary
///
/// The figures of a date range in the organization's time zone: points issued,
/// redeemed, expired and adjusted, points outstanding at its end, purchases and their
/// total, new and active customers, and the most redeemed rewards; as a CSV file or an
/// XLSX workbook. Admins only.
#[utoipa::path(
    get,
    path = "/orgs/{slug}/exports/summary",
    operation_id = "export_summary",
    tag = "admin",
    params(super::params::OrgPath, super::params::OrgHeader, ExportQuery),
    responses(
        (status = 200, description = "The file, as an attachment", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        ExportErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn summary(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    export(&state, &m, ExportKind::Summary, q).await
}

async fn export(
    state: &AppState,
    m: &OrgMember,
    kind: ExportKind,
    q: ExportQuery,
) -> Result<Response, ApiError> {
    let ctx = m.ctx(state)?;
    let export = Export::begin(&ctx, kind, &q.into())?;
    Ok(download(export, state).await?)
}

/// The export as an attachment: a CSV streamed as it is read, or an XLSX workbook whose
/// rows are written first (so a range too long for a sheet is still refused before the
/// first byte) and whose zip is then streamed as it is written.
pub(crate) async fn download(
    export: Export,
    state: &AppState,
) -> Result<Response, loyalty_core::Error> {
    match export.format() {
        ExportFormat::Csv => Ok(stream_csv(export, state.store.clone())),
        ExportFormat::Xlsx => send_workbook(export, state).await,
    }
}

/// Bytes handed to the response body in chunks of this size.
const CHUNK: usize = 64 * 1024;

/// A `Write` that sends what it is given to the response body, a chunk at a time,
/// waiting while the client is slow; it fails once the client has gone.
struct BodyWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl BodyWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

async fn send_workbook(
    mut export: Export,
    state: &AppState,
) -> Result<Response, loyalty_core::Error> {
    let book = export
        .build_xlsx(state.store.as_ref(), &state.config.scratch_dir)
        .await?;
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = BodyWriter {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
        };
        let saved = book.save_to_writer(&mut out).and_then(|()| {
            std::io::Write::flush(&mut out).map_err(|e| loyalty_core::Error::File(e.to_string()))
        });
        if let Err(e) = saved {
            tracing::error!(error = %e, "workbook export stopped");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(attachment(&export, Body::from_stream(body)))
}

fn attachment(export: &Export, body: Body) -> Response {
    crate::download::attachment(export.content_type(), &export.file_name(), body)
}

/// The CSV as a streamed attachment: each chunk is sent as soon as it is read. A store
/// failure after the first byte ends the body early (logged here), so the download
/// fails instead of ending short silently.
fn stream_csv(export: Export, store: Arc<dyn Store>) -> Response {
    let head = attachment(&export, Body::empty());
    let body = futures::stream::try_unfold((export, store), |(mut export, store)| async move {
        match export.next_chunk(store.as_ref()).await {
            Ok(Some(chunk)) => Ok(Some((Bytes::from(chunk), (export, store)))),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::error!(error = %e, "export stopped");
                Err(std::io::Error::other(e.to_string()))
            }
        }
    });
    let (parts, _) = head.into_parts();
    Response::from_parts(parts, Body::from_stream(body))
}
