//! The ledger export as an XLSX workbook: a title row with the shop and the period, the
//! headers in the organization's language frozen below it, times as real dates in the
//! organization's time zone and points as numbers. Rows are written as they are read,
//! in `rust_xlsxwriter`'s constant-memory mode (each finished row goes to the library's
//! private temporary file), then the workbook is zipped into the file the caller names.

use super::{LEDGER_COLUMNS, LedgerExport};
use crate::Error;
use crate::store::Store;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};
use std::path::Path;
use time::OffsetDateTime;

/// Rows of one sheet: Excel's 1,048,576 less the title and header rows.
const MAX_ENTRIES: u32 = 1_048_574;

fn file_error(e: XlsxError) -> Error {
    Error::File(format!("the workbook could not be written: {e}"))
}

impl LedgerExport {
    fn local_datetime(&self, t: OffsetDateTime) -> Option<ExcelDateTime> {
        let dt = jiff::Timestamp::from_second(t.unix_timestamp())
            .ok()?
            .to_zoned_datetime(self.zone.clone())
            .datetime();
        ExcelDateTime::from_ymd(
            u16::try_from(dt.year()).ok()?,
            u8::try_from(dt.month()).ok()?,
            u8::try_from(dt.day()).ok()?,
        )
        .and_then(|d| {
            d.and_hms(
                u16::try_from(dt.hour()).unwrap_or(0),
                u8::try_from(dt.minute()).unwrap_or(0),
                f64::from(dt.second()),
            )
        })
        .ok()
    }

    /// Writes the whole export as an XLSX workbook at `path` (a file the caller owns and
    /// removes). More entries than one sheet holds are refused (field `format`).
    pub async fn write_xlsx(&mut self, store: &dyn Store, path: &Path) -> Result<(), Error> {
        let pt = self.portuguese;
        let mut book = Workbook::new();
        let title = Format::new().set_bold().set_font_size(14);
        let header = Format::new().set_bold();
        let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let whole = Format::new().set_num_format("#,##0");
        let sheet = book
            .add_worksheet_with_constant_memory()
            .map_err(file_error)?;
        sheet
            .set_name(if pt { "Extrato" } else { "Ledger" })
            .map_err(file_error)?;
        let heading = if pt {
            format!(
                "{}: extrato de {} a {}",
                self.shop, self.range.from, self.range.to
            )
        } else {
            format!(
                "{}: ledger from {} to {}",
                self.shop, self.range.from, self.range.to
            )
        };
        sheet
            .write_string_with_format(0, 0, heading, &title)
            .map_err(file_error)?;
        for (col, (_, en, pt_name)) in (0u16..).zip(LEDGER_COLUMNS.iter()) {
            sheet
                .write_string_with_format(1, col, if pt { *pt_name } else { *en }, &header)
                .map_err(file_error)?;
        }
        for (col, width) in [
            (0u16, 38.0),
            (1, 20.0),
            (2, 38.0),
            (3, 10.0),
            (4, 10.0),
            (5, 12.0),
            (6, 12.0),
            (7, 38.0),
            (8, 40.0),
        ] {
            sheet.set_column_width(col, width).map_err(file_error)?;
        }
        sheet.set_freeze_panes(2, 0).map_err(file_error)?;
        let mut row: u32 = 2;
        loop {
            let page = self.next_page(store).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                if row - 2 >= MAX_ENTRIES {
                    return Err(Error::field(
                        "format",
                        format!(
                            "more than {MAX_ENTRIES} entries do not fit in one sheet; choose csv or a shorter range"
                        ),
                    ));
                }
                sheet
                    .write_string(row, 0, e.id.to_string())
                    .map_err(file_error)?;
                match self.local_datetime(e.created_at) {
                    Some(dt) => sheet
                        .write_datetime_with_format(row, 1, &dt, &when)
                        .map_err(file_error)?,
                    None => sheet
                        .write_string(row, 1, self.time(e.created_at))
                        .map_err(file_error)?,
                };
                sheet
                    .write_string(row, 2, e.customer_id.to_string())
                    .map_err(file_error)?;
                sheet
                    .write_string(row, 3, e.transaction_type.as_str())
                    .map_err(file_error)?;
                // Points stay exact as f64 far beyond any balance (2^53).
                sheet
                    .write_number_with_format(row, 4, e.points as f64, &whole)
                    .map_err(file_error)?;
                sheet
                    .write_number_with_format(row, 5, e.balance_after as f64, &whole)
                    .map_err(file_error)?;
                sheet
                    .write_string(row, 6, e.reference_type.as_deref().unwrap_or(""))
                    .map_err(file_error)?;
                sheet
                    .write_string(
                        row,
                        7,
                        e.reference_id.map(|r| r.to_string()).unwrap_or_default(),
                    )
                    .map_err(file_error)?;
                sheet
                    .write_string(row, 8, e.notes.as_deref().unwrap_or(""))
                    .map_err(file_error)?;
                row += 1;
            }
        }
        book.save(path).map_err(file_error)
    }
}
