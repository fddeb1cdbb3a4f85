//! Exports over the API: the ledger for a date range as a CSV file streamed as it is
//! read from the store, or as an XLSX workbook built in a private temporary file and
//! then streamed (`docs/exports.md`).

use super::auth::OrgMember;
use super::error_docs::api_errors;
use super::extract::ApiQuery;
use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use loyalty_core::service::exports::{ExportFormat, ExportParams, LedgerExport};
use loyalty_core::store::Store;
use serde::Deserialize;
use std::io::Read;
use std::sync::Arc;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{slug}/exports/ledger", get(ledger))
}

/// Which entries and how to write them.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// First day, `YYYY-MM-DD`, in the organization's time zone (with `to`).
    from: Option<String>,
    /// Last day (included), `YYYY-MM-DD`, in the organization's time zone (with `from`).
    to: Option<String>,
    /// `this-month` or `last-month` instead of `from` and `to`; without any of the three,
    /// this month.
    period: Option<String>,
    /// `csv` (the default) or `xlsx`.
    format: Option<String>,
    /// `local` (the default: the organization's separator, language and time zone) or
    /// `machine` (`,`, English headers, UTC RFC 3339 times).
    style: Option<String>,
}

api_errors!(ExportLedgerErrors [SIGNED_IN, QUERY] {
    OrgMismatch,
    AuthForbidden = "only admins of this organization export",
    OrgSuspended,
    OrgNotFound,
    ValidationFailed = "`from`, `to`, `period`, `format` or `style` is not valid, the range is given twice or half, or an XLSX range holds more entries than a sheet; see `fields`",
});

/// Export the ledger
///
/// Every ledger entry of a date range in the organization's time zone, oldest first, as
/// a CSV file with a byte-order mark streamed as it is read, or an XLSX workbook.
/// Admins only.
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
        ExportLedgerErrors,
    ),
    security(("session" = []), ("api_token" = []))
)]
async fn ledger(
    State(state): State<AppState>,
    m: OrgMember,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let ctx = m.ctx(&state)?;
    let export = LedgerExport::begin(
        &ctx,
        &ExportParams {
            from: q.from,
            to: q.to,
            period: q.period,
            format: q.format,
            style: q.style,
        },
    )?;
    match export.format() {
        ExportFormat::Csv => Ok(stream_export(export, state.store.clone())),
        ExportFormat::Xlsx => Ok(send_workbook(export, state.store.as_ref()).await?),
    }
}

/// The workbook, written to a private temporary file (0600) that is unlinked as soon as
/// it is open again for reading, then streamed from that open file: nothing is left on
/// disk on any path, success, failure or a client that goes away.
pub async fn send_workbook(
    mut export: LedgerExport,
    store: &dyn Store,
) -> Result<Response, loyalty_core::Error> {
    let temp = tempfile::NamedTempFile::new()
        .map_err(|e| loyalty_core::Error::File(format!("no temporary file: {e}")))?;
    export.write_xlsx(store, temp.path()).await?;
    let file = std::fs::File::open(temp.path())
        .map_err(|e| loyalty_core::Error::File(format!("the workbook cannot be read: {e}")))?;
    drop(temp);
    let body = futures::stream::try_unfold(file, |mut file| async move {
        let (file, buf) = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(std::io::Error::other)??;
        if buf.is_empty() {
            return Ok::<_, std::io::Error>(None);
        }
        Ok(Some((Bytes::from(buf), file)))
    });
    Ok(attachment(&export, Body::from_stream(body)))
}

fn attachment(export: &LedgerExport, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, export.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", export.file_name()),
            ),
        ],
        body,
    )
        .into_response()
}

/// The export as a streamed attachment: each chunk is sent as soon as it is read. A
/// store failure after the first byte ends the body early (logged here), so the
/// download fails instead of ending short silently.
pub fn stream_export(export: LedgerExport, store: Arc<dyn Store>) -> Response {
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
