//! An export as an XLSX workbook: a title row with the shop and the period, the headers
//! in the organization's language frozen below it, times as real dates in the
//! organization's time zone, points as numbers and money in the currency's format. The
//! ledger and purchases workbooks add the period's summary as a second sheet.
//!
//! Rows are written as they are read, in `rust_xlsxwriter`'s constant-memory mode: each
//! finished row goes to a temporary file the library opens already unlinked, inside a
//! private folder (0700) in the folder the caller names (the backup folder), never the
//! system's temporary folder, so a killed process leaves no readable data behind, only
//! an empty folder named after it that `loyalty doctor` reports and the next backup
//! sweeps. The zip is written straight to the caller's writer (no file of its own).

use super::columns::{Column, summary_rows};
use super::{Cell, CsvStyle, Export, ExportKind, TOP_REWARDS};
use crate::Error;
use crate::scratch::Scratch;
use crate::store::Store;
use rust_xlsxwriter::{ExcelDateTime, Format, Worksheet, XlsxError};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// Prefix of an export's private folder: `.export-{n}-{pid}`.
pub const SCRATCH_PREFIX: &str = ".export-";

/// Rows of one sheet: Excel's 1,048,576 less the title and header rows.
const MAX_ROWS: u32 = 1_048_574;

fn file_error(e: XlsxError) -> Error {
    Error::File(format!("the workbook could not be written: {e}"))
}

/// A workbook whose rows are all written; `save_to_writer` zips it.
pub struct Workbook {
    book: rust_xlsxwriter::Workbook,
    // The folder of the rows' temporary files, removed when the workbook is dropped.
    _scratch: Scratch,
}

impl Workbook {
    /// Zips the workbook into `out` (blocking: run it off the async threads).
    pub fn save_to_writer<W: Write + Send>(mut self, out: W) -> Result<(), Error> {
        self.book.save_to_writer(out).map_err(file_error)
    }
}

struct Formats {
    title: Format,
    header: Format,
    when: Format,
    whole: Format,
    money: Format,
}

impl Formats {
    fn new(currency: &str, digits: u32) -> Self {
        let symbol = iso_currency::Currency::from_code(currency)
            .map(|c| c.symbol().symbol)
            .filter(|s| !s.contains('"'))
            .unwrap_or_else(|| currency.to_owned());
        let decimals = if digits == 0 {
            String::new()
        } else {
            format!(".{}", "0".repeat(digits as usize))
        };
        Self {
            title: Format::new().set_bold().set_font_size(14),
            header: Format::new().set_bold(),
            when: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            whole: Format::new().set_num_format("#,##0"),
            money: Format::new().set_num_format(format!("\"{symbol}\" #,##0{decimals}")),
        }
    }
}

impl Export {
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

    fn sheet_name(&self, kind: ExportKind) -> &'static str {
        match (kind, self.portuguese) {
            (ExportKind::Ledger, false) => "Ledger",
            (ExportKind::Ledger, true) => "Extrato",
            (ExportKind::Balances, false) => "Balances",
            (ExportKind::Balances, true) => "Saldos",
            (ExportKind::Purchases, false) => "Purchases",
            (ExportKind::Purchases, true) => "Compras",
            (ExportKind::Summary, false) => "Summary",
            (ExportKind::Summary, true) => "Resumo",
        }
    }

    /// The title row: the shop and the period (the day, for balances).
    pub(super) fn title(&self, kind: ExportKind) -> String {
        let (from, to) = (self.range.from, self.range.to);
        let what = match (kind, self.portuguese) {
            (ExportKind::Balances, false) => {
                return format!("{}: balances on {}", self.shop, self.today);
            }
            (ExportKind::Balances, true) => {
                return format!("{}: saldos em {}", self.shop, self.today);
            }
            (ExportKind::Ledger, false) => "ledger",
            (ExportKind::Ledger, true) => "extrato",
            (ExportKind::Purchases, false) => "purchases",
            (ExportKind::Purchases, true) => "compras",
            (ExportKind::Summary, false) => "summary",
            (ExportKind::Summary, true) => "resumo",
        };
        if self.portuguese {
            format!("{}: {what} de {from} a {to}", self.shop)
        } else {
            format!("{}: {what} from {from} to {to}", self.shop)
        }
    }

    fn start_sheet(
        &self,
        sheet: &mut Worksheet,
        kind: ExportKind,
        columns: &[Column],
        f: &Formats,
    ) -> Result<(), Error> {
        sheet.set_name(self.sheet_name(kind)).map_err(file_error)?;
        sheet
            .write_string_with_format(0, 0, self.title(kind), &f.title)
            .map_err(file_error)?;
        for (i, c) in (0u16..).zip(columns) {
            sheet
                .write_string_with_format(
                    1,
                    i,
                    c.header(CsvStyle::Local, self.portuguese),
                    &f.header,
                )
                .map_err(file_error)?;
            sheet.set_column_width(i, c.width).map_err(file_error)?;
        }
        sheet.set_freeze_panes(2, 0).map_err(file_error)?;
        Ok(())
    }

    fn write_row(
        &self,
        sheet: &mut Worksheet,
        row: u32,
        cells: &[Cell],
        f: &Formats,
    ) -> Result<(), Error> {
        for (col, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Text(s) => sheet.write_string(row, col, s),
                // Points stay exact as f64 far beyond any balance (2^53).
                Cell::Int(n) => sheet.write_number_with_format(row, col, *n as f64, &f.whole),
                Cell::Money(d) => sheet.write_number_with_format(
                    row,
                    col,
                    d.to_string().parse::<f64>().unwrap_or(0.0),
                    &f.money,
                ),
                Cell::Time(t) => match self.local_datetime(*t) {
                    Some(dt) => sheet.write_datetime_with_format(row, col, &dt, &f.when),
                    None => sheet.write_string(row, col, self.time(*t)),
                },
                Cell::Empty => continue,
            }
            .map_err(file_error)?;
        }
        Ok(())
    }

    /// Writes every row of the export into a workbook whose temporary files live in a
    /// private folder inside `scratch_dir` (created when missing). More rows than one
    /// sheet holds are refused (field `format`).
    pub async fn build_xlsx(
        &mut self,
        store: &dyn Store,
        scratch_dir: &Path,
    ) -> Result<Workbook, Error> {
        // Headers and the summary's labels in the organization's language.
        self.style = CsvStyle::Local;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!(
            "{SCRATCH_PREFIX}{}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        // A folder the server cannot write is the installation's fault, not the
        // request's: 503 with the cause in the log, and `loyalty doctor` names the fix.
        let scratch = Scratch::create(scratch_dir, &name).map_err(|e| {
            Error::Unavailable(format!(
                "no private folder for the workbook in {} (backup.dir): {e}",
                scratch_dir.display()
            ))
        })?;
        let mut book = rust_xlsxwriter::Workbook::new();
        book.set_tempdir(scratch.path()).map_err(file_error)?;
        let f = Formats::new(&self.currency, self.digits);
        let with_summary = matches!(self.kind, ExportKind::Ledger | ExportKind::Purchases);
        let mut sheet = book
            .new_worksheet_with_constant_memory()
            .map_err(file_error)?;
        let mut summary_sheet = if with_summary {
            Some(
                book.new_worksheet_with_constant_memory()
                    .map_err(file_error)?,
            )
        } else {
            None
        };
        self.start_sheet(&mut sheet, self.kind, self.columns(), &f)?;
        let mut row: u32 = 2;
        loop {
            let rows = self.next_rows(store).await?;
            if rows.is_empty() {
                break;
            }
            for cells in &rows {
                if row - 2 >= MAX_ROWS {
                    return Err(Error::field(
                        "format",
                        format!(
                            "more than {MAX_ROWS} rows do not fit in one sheet; choose csv or a shorter range"
                        ),
                    ));
                }
                self.write_row(&mut sheet, row, cells, &f)?;
                row += 1;
            }
        }
        book.push_worksheet(sheet);
        if let Some(mut summary) = summary_sheet.take() {
            let figures = store
                .period_summary(self.org, self.start, self.end, TOP_REWARDS)
                .await?;
            self.start_sheet(
                &mut summary,
                ExportKind::Summary,
                super::columns::of(ExportKind::Summary),
                &f,
            )?;
            for (i, cells) in (2u32..).zip(summary_rows(&figures, CsvStyle::Local, self.portuguese))
            {
                self.write_row(&mut summary, i, &cells, &f)?;
            }
            book.push_worksheet(summary);
        }
        Ok(Workbook {
            book,
            _scratch: scratch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While a workbook is written its rows are in files nobody can open by name: the
    /// private folder (0700) lists nothing, so a process killed at this point leaves
    /// only an empty folder behind.
    #[cfg(unix)]
    #[test]
    fn rows_go_to_unnamed_files_in_a_private_folder() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let scratch = Scratch::create(dir.path(), ".export-1-1").expect("scratch");
        let mut book = rust_xlsxwriter::Workbook::new();
        book.set_tempdir(scratch.path()).expect("tempdir");
        let mut sheet = book.new_worksheet_with_constant_memory().expect("sheet");
        for row in 0..5000 {
            sheet
                .write_string(row, 0, "dados pessoais de um cliente")
                .expect("row");
        }
        let mode = std::fs::metadata(scratch.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            std::fs::read_dir(scratch.path()).expect("list").count(),
            0,
            "no file has a name"
        );
        book.push_worksheet(sheet);
        let mut zip = Vec::new();
        Workbook {
            book,
            _scratch: scratch,
        }
        .save_to_writer(&mut zip)
        .expect("saved");
        assert!(zip.starts_with(b"PK"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
