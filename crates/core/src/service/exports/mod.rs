//! The ledger export for a date range in the organization's time zone, as CSV that a
//! spreadsheet opens right or as an XLSX workbook: read from the store page by page and
//! handed out in chunks (CSV) or written to a file row by row (XLSX, `xlsx.rs`), so the
//! API can stream it and the command line can write it, with the same rows. Columns and
//! styles are described in `docs/exports.md`. One person's data package (`person.rs`)
//! is described in `docs/privacy.md`.

mod person;
mod xlsx;

pub use person::{DataPackage, customer_package, own_package};

use crate::Error;
use crate::domain::ledger::LedgerEntry;
use crate::domain::{LedgerEntryId, OrgId, Organization};
use crate::service::context::require_admin;
use crate::service::points::{Ctx, day_start};
use crate::service::reports::{local_date, row_with};
use crate::store::Store;
use time::{Date, OffsetDateTime};

/// Entries read from the store per page.
const PAGE: u32 = 1000;

/// How the CSV is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvStyle {
    /// For the organization's spreadsheet: separator and decimal mark of its locale,
    /// local times, headers in its language, a byte-order mark.
    Local,
    /// For programs: `,` and `.`, UTC RFC 3339 times, English headers, a byte-order mark.
    Machine,
}

impl CsvStyle {
    /// Parses `local` or `machine`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "local" => Ok(Self::Local),
            "machine" => Ok(Self::Machine),
            _ => Err(Error::field(
                "style",
                format!("{s:?} is not a style; write local or machine"),
            )),
        }
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Comma- (or semicolon-) separated values.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

impl ExportFormat {
    /// Parses `csv` or `xlsx`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            _ => Err(Error::field(
                "format",
                format!("{s:?} is not an export format; write csv or xlsx"),
            )),
        }
    }
}

/// What an export was asked for, as the caller wrote it (query string or flags).
#[derive(Debug, Clone, Default)]
pub struct ExportParams {
    /// First day, `YYYY-MM-DD`, in the organization's time zone.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    /// `this-month` or `last-month`, instead of `from` and `to`.
    pub period: Option<String>,
    /// `csv` (the default) or `xlsx`.
    pub format: Option<String>,
    /// `local` (the default) or `machine`.
    pub style: Option<String>,
}

/// Local days, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First day.
    pub from: Date,
    /// Last day (included).
    pub to: Date,
}

fn parse_date(field: &str, s: &str) -> Result<Date, Error> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::field(field, format!("{s:?} is not a date; write YYYY-MM-DD")))
}

fn month_of(day: Date) -> DateRange {
    let from = day.replace_day(1).unwrap_or(day);
    let to = Date::from_calendar_date(day.year(), day.month(), day.month().length(day.year()))
        .unwrap_or(day);
    DateRange { from, to }
}

impl DateRange {
    /// The range the parameters name; `today` is the organization's local date. With
    /// neither a period nor dates it is this month.
    pub fn parse(p: &ExportParams, today: Date) -> Result<Self, Error> {
        match (p.period.as_deref(), p.from.as_deref(), p.to.as_deref()) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(Error::field(
                "period",
                "give either period or from and to, not both",
            )),
            (Some("this-month") | None, None, None) => Ok(month_of(today)),
            (Some("last-month"), None, None) => Ok(month_of(
                today
                    .replace_day(1)
                    .unwrap_or(today)
                    .previous_day()
                    .unwrap_or(today),
            )),
            (Some(other), None, None) => Err(Error::field(
                "period",
                format!("{other:?} is not a period; write this-month or last-month"),
            )),
            (None, Some(from), Some(to)) => {
                let range = Self {
                    from: parse_date("from", from)?,
                    to: parse_date("to", to)?,
                };
                if range.to < range.from {
                    return Err(Error::field("to", "the last day is before the first day"));
                }
                Ok(range)
            }
            (None, Some(_), None) => Err(Error::field("to", "give the last day too (YYYY-MM-DD)")),
            (None, None, Some(_)) => {
                Err(Error::field("from", "give the first day too (YYYY-MM-DD)"))
            }
        }
    }
}

/// Separator and decimal mark of CSV written for `org`'s spreadsheet.
fn local_marks(org: &Organization) -> (char, char) {
    let tag = org.language.as_str();
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or("en");
    let region = parts
        .find(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_uppercase()))
        .map(str::to_owned)
        .or_else(|| org.country.as_ref().map(|c| c.as_str().to_owned()))
        .unwrap_or_default();
    // Countries that write a decimal point whatever their language.
    const POINT_REGIONS: &[&str] = &[
        "US", "GB", "IE", "AU", "NZ", "CA", "MX", "IN", "JP", "CN", "KR", "CH", "IL", "TH", "MY",
        "SG", "PH", "HK", "TW", "GT", "DO", "PR", "PA", "NI", "HN", "SV", "PE",
    ];
    const POINT_LANGUAGES: &[&str] = &["en", "ja", "zh", "ko", "th", "he"];
    if POINT_REGIONS.contains(&region.as_str())
        || (region.is_empty() && POINT_LANGUAGES.contains(&language))
        || (language == "en" && !matches!(region.as_str(), "ZA" | "DK" | "NL" | "DE"))
    {
        (',', '.')
    } else {
        (';', ',')
    }
}

fn portuguese(org: &Organization) -> bool {
    org.language.as_str().starts_with("pt")
}

/// The ledger's columns: stable English names (machine style) and the Portuguese ones.
pub(crate) const LEDGER_COLUMNS: [(&str, &str, &str); 9] = [
    ("entry_id", "Entry", "Lançamento"),
    ("created_at", "Date and time", "Data e hora"),
    ("customer_id", "Customer", "Cliente"),
    ("type", "Type", "Tipo"),
    ("points", "Points", "Pontos"),
    ("balance_after", "Balance after", "Saldo após"),
    ("reference_type", "Reference", "Referência"),
    ("reference_id", "Reference id", "Id da referência"),
    ("notes", "Notes", "Observações"),
];

/// The ledger export of one organization, read a page at a time.
pub struct LedgerExport {
    org: OrgId,
    slug: String,
    shop: String,
    format: ExportFormat,
    portuguese: bool,
    range: DateRange,
    start: OffsetDateTime,
    end: OffsetDateTime,
    style: CsvStyle,
    sep: char,
    zone: jiff::tz::TimeZone,
    headers: Vec<&'static str>,
    after: Option<(OffsetDateTime, LedgerEntryId)>,
    started: bool,
    done: bool,
}

impl LedgerExport {
    /// Checks that the caller may export and what they asked for; nothing is read yet.
    pub fn begin(ctx: &Ctx<'_>, p: &ExportParams) -> Result<Self, Error> {
        require_admin(ctx, "export data")?;
        let org = ctx.org;
        let today = local_date(ctx.clock.now(), &org.timezone);
        let range = DateRange::parse(p, today)?;
        let format = p
            .format
            .as_deref()
            .map(ExportFormat::parse)
            .transpose()?
            .unwrap_or(ExportFormat::Csv);
        let style = p
            .style
            .as_deref()
            .map(CsvStyle::parse)
            .transpose()?
            .unwrap_or(CsvStyle::Local);
        let (sep, _decimal) = match style {
            CsvStyle::Local => local_marks(org),
            CsvStyle::Machine => (',', '.'),
        };
        let pt = portuguese(org);
        let headers = LEDGER_COLUMNS
            .iter()
            .map(|(machine, en, pt_name)| match style {
                CsvStyle::Machine => *machine,
                CsvStyle::Local if pt => *pt_name,
                CsvStyle::Local => *en,
            })
            .collect();
        Ok(Self {
            org: org.id,
            slug: org.slug.to_string(),
            shop: org.name.clone(),
            format,
            portuguese: pt,
            range,
            start: day_start(range.from, &org.timezone),
            end: day_start(range.to.next_day().unwrap_or(range.to), &org.timezone),
            style,
            sep,
            zone: org.timezone.zone(),
            headers,
            after: None,
            started: false,
            done: false,
        })
    }

    /// The local days exported.
    pub fn range(&self) -> DateRange {
        self.range
    }

    /// The file format asked for.
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// A file name such as `ledger-nextdoor-2025-01-01-2025-01-31.csv`.
    pub fn file_name(&self) -> String {
        let ext = match self.format {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        };
        format!(
            "ledger-{}-{}-{}.{ext}",
            self.slug, self.range.from, self.range.to
        )
    }

    /// The media type of the file.
    pub fn content_type(&self) -> &'static str {
        match self.format {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }

    /// The next page of entries from the store; empty after the last.
    async fn next_page(&mut self, store: &dyn Store) -> Result<Vec<LedgerEntry>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let page = store
            .ledger(
                self.org,
                None,
                Some(self.start),
                Some(self.end),
                self.after,
                PAGE,
            )
            .await?;
        match page.last() {
            Some(last) if page.len() == PAGE as usize => {
                self.after = Some((last.created_at, last.id));
            }
            _ => self.done = true,
        }
        Ok(page)
    }

    fn time(&self, t: OffsetDateTime) -> String {
        match self.style {
            CsvStyle::Machine => t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            CsvStyle::Local => jiff::Timestamp::from_second(t.unix_timestamp())
                .map(|ts| {
                    ts.to_zoned_datetime(self.zone.clone())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
        }
    }

    /// The next part of the file: the byte-order mark and header row first, then one
    /// page of entries at a time; `None` after the last.
    pub async fn next_chunk(&mut self, store: &dyn Store) -> Result<Option<Vec<u8>>, Error> {
        if !self.started {
            self.started = true;
            let mut out = String::from('\u{feff}');
            row_with(&mut out, &self.headers, self.sep);
            return Ok(Some(out.into_bytes()));
        }
        let page = self.next_page(store).await?;
        if page.is_empty() {
            return Ok(None);
        }
        let mut out = String::with_capacity(page.len() * 160);
        for e in &page {
            row_with(
                &mut out,
                &[
                    &e.id.to_string(),
                    &self.time(e.created_at),
                    &e.customer_id.to_string(),
                    e.transaction_type.as_str(),
                    &e.points.to_string(),
                    &e.balance_after.to_string(),
                    e.reference_type.as_deref().unwrap_or(""),
                    &e.reference_id.map(|r| r.to_string()).unwrap_or_default(),
                    e.notes.as_deref().unwrap_or(""),
                ],
                self.sep,
            );
        }
        Ok(Some(out.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn params(period: Option<&str>, from: Option<&str>, to: Option<&str>) -> ExportParams {
        ExportParams {
            period: period.map(str::to_owned),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            ..ExportParams::default()
        }
    }

    #[test]
    fn periods_are_whole_local_months() {
        let today = date!(2025 - 03 - 15);
        let this = DateRange::parse(&params(None, None, None), today).expect("range");
        assert_eq!(
            (this.from, this.to),
            (date!(2025 - 03 - 01), date!(2025 - 03 - 31))
        );
        let last = DateRange::parse(&params(Some("last-month"), None, None), today).expect("range");
        assert_eq!(
            (last.from, last.to),
            (date!(2025 - 02 - 01), date!(2025 - 02 - 28))
        );
        let jan = DateRange::parse(
            &params(Some("last-month"), None, None),
            date!(2025 - 01 - 01),
        )
        .expect("range");
        assert_eq!(
            (jan.from, jan.to),
            (date!(2024 - 12 - 01), date!(2024 - 12 - 31))
        );
    }

    #[test]
    fn bad_ranges_name_their_field() {
        let today = date!(2025 - 03 - 15);
        let field = |p: ExportParams| match DateRange::parse(&p, today) {
            Err(Error::Validation(f)) => f[0].field.clone(),
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(field(params(Some("next-year"), None, None)), "period");
        assert_eq!(
            field(params(Some("this-month"), Some("2025-01-01"), None)),
            "period"
        );
        assert_eq!(
            field(params(None, Some("2025-13-01"), Some("2025-01-02"))),
            "from"
        );
        assert_eq!(
            field(params(None, Some("2025-01-02"), Some("2025-01-01"))),
            "to"
        );
        assert_eq!(field(params(None, Some("2025-01-02"), None)), "to");
    }
}
