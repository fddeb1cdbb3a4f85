//! The exports of an organization (ledger, balances, purchases, the period's summary)
//! for a date range in its time zone, as CSV that a spreadsheet opens right or as an
//! XLSX workbook: read from the store page by page and handed out in chunks (CSV) or
//! written row by row (XLSX, `xlsx.rs`), so the API and the dashboard can stream it and
//! the command line can write it, with the same rows. Columns (`columns.rs`) and styles
//! are described in `docs/exports.md`. One person's data package (`person.rs`) is
//! described in `docs/privacy.md`.

mod columns;
mod person;
mod xlsx;

pub use person::{DataPackage, customer_package, own_package};
pub use xlsx::{SCRATCH_PREFIX, Workbook};

use crate::Error;
use crate::domain::{CustomerId, Language, LedgerEntryId, OrgId, Organization, PurchaseId};
use crate::service::context::require_admin;
use crate::service::points::{Ctx, day_start};
use crate::service::program::award_grants;
use crate::service::reports::local_date;
use crate::store::Store;
use columns::{Column, summary_rows};
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

/// Rows read from the store per page.
const PAGE: u32 = 1000;

/// Rewards listed in the summary.
const TOP_REWARDS: u32 = 5;

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Every ledger entry of the range, oldest first.
    Ledger,
    /// Every customer with their balance now (the range does not apply).
    Balances,
    /// Every purchase of the range, newest first.
    Purchases,
    /// The range's figures: points, purchases, customers, top rewards.
    Summary,
}

impl ExportKind {
    /// Every kind, in the order the dashboard lists them.
    pub const ALL: [Self; 4] = [Self::Ledger, Self::Balances, Self::Purchases, Self::Summary];

    /// Parses `ledger`, `balances`, `purchases` or `summary`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::field(
                    "kind",
                    format!("{s:?} is not an export; write ledger, balances, purchases or summary"),
                )
            })
    }

    /// The name in URLs, flags and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ledger => "ledger",
            Self::Balances => "balances",
            Self::Purchases => "purchases",
            Self::Summary => "summary",
        }
    }
}

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

/// One value of a row, written by each format its own way: text as it is, whole
/// numbers plainly, money with the currency's digits (and the locale's decimal mark in
/// the local CSV, as a number in the currency's format in XLSX), times in the
/// organization's time zone (UTC RFC 3339 in the machine CSV, real dates in XLSX).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Int(i64),
    Money(Decimal),
    Time(OffsetDateTime),
    Empty,
}

impl Cell {
    fn text(s: Option<&str>) -> Self {
        s.map_or(Self::Empty, |s| Self::Text(s.to_owned()))
    }
}

/// Where the next page starts.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    Ledger(Option<(OffsetDateTime, LedgerEntryId)>),
    Balances(Option<CustomerId>),
    Purchases((OffsetDateTime, PurchaseId)),
    Summary,
}

/// One export of one organization, read a page at a time.
pub struct Export {
    kind: ExportKind,
    org: OrgId,
    slug: String,
    shop: String,
    currency: String,
    digits: u32,
    format: ExportFormat,
    portuguese: bool,
    range: DateRange,
    today: Date,
    start: OffsetDateTime,
    end: OffsetDateTime,
    style: CsvStyle,
    sep: char,
    decimal: char,
    zone: jiff::tz::TimeZone,
    cursor: Cursor,
    started: bool,
    done: bool,
}

impl Export {
    /// Checks that the caller may export and what they asked for; nothing is read yet.
    pub fn begin(ctx: &Ctx<'_>, kind: ExportKind, p: &ExportParams) -> Result<Self, Error> {
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
        let (sep, decimal) = match style {
            CsvStyle::Local => local_marks(org),
            CsvStyle::Machine => (',', '.'),
        };
        let start = day_start(range.from, &org.timezone);
        let end = day_start(range.to.next_day().unwrap_or(range.to), &org.timezone);
        let cursor = match kind {
            ExportKind::Ledger => Cursor::Ledger(None),
            ExportKind::Balances => Cursor::Balances(None),
            // Newest first: everything before the end of the last day.
            ExportKind::Purchases => Cursor::Purchases((end, PurchaseId::from(uuid::Uuid::nil()))),
            ExportKind::Summary => Cursor::Summary,
        };
        Ok(Self {
            kind,
            org: org.id,
            slug: org.slug.to_string(),
            shop: org.name.clone(),
            currency: org.currency.as_str().to_owned(),
            digits: org.currency.minor_digits(),
            format,
            portuguese: portuguese(org),
            range,
            today,
            start,
            end,
            style,
            sep,
            decimal,
            zone: org.timezone.zone(),
            cursor,
            started: false,
            done: false,
        })
    }

    /// What is exported.
    pub fn kind(&self) -> ExportKind {
        self.kind
    }

    /// The local days exported.
    pub fn range(&self) -> DateRange {
        self.range
    }

    /// The file format asked for.
    pub fn format(&self) -> ExportFormat {
        self.format
    }

    /// A file name such as `ledger-nextdoor-2025-01-01-2025-01-31.csv`
    /// (`balances-nextdoor-2025-02-03.csv`: balances are as of today).
    pub fn file_name(&self) -> String {
        let ext = match self.format {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        };
        match self.kind {
            ExportKind::Balances => format!("balances-{}-{}.{ext}", self.slug, self.today),
            kind => format!(
                "{}-{}-{}-{}.{ext}",
                kind.as_str(),
                self.slug,
                self.range.from,
                self.range.to
            ),
        }
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

    fn columns(&self) -> &'static [Column] {
        columns::of(self.kind)
    }

    /// The next page of rows from the store; empty after the last.
    async fn next_rows(&mut self, store: &dyn Store) -> Result<Vec<Vec<Cell>>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let (rows, full) = match &mut self.cursor {
            Cursor::Ledger(after) => {
                let page = store
                    .ledger(
                        self.org,
                        None,
                        Some(self.start),
                        Some(self.end),
                        *after,
                        PAGE,
                    )
                    .await?;
                if let Some(last) = page.last() {
                    *after = Some((last.created_at, last.id));
                }
                let full = page.len() == PAGE as usize;
                let mut grants = award_grants(store, self.org, &page).await?;
                let lang = self.language();
                let rows = page
                    .into_iter()
                    .map(|e| {
                        let g = grants.remove(&e.id).unwrap_or_default();
                        columns::ledger_row(e, &g, lang)
                    })
                    .collect();
                (rows, full)
            }
            Cursor::Balances(after) => {
                let page = store.list_customers(self.org, *after, PAGE).await?;
                if let Some(last) = page.last() {
                    *after = Some(last.id);
                }
                let full = page.len() == PAGE as usize;
                (page.into_iter().map(columns::balance_row).collect(), full)
            }
            Cursor::Purchases(before) => {
                let page = store
                    .list_purchases(self.org, None, Some(self.start), Some(*before), PAGE)
                    .await?;
                if let Some(last) = page.last() {
                    *before = (last.created_at, last.id);
                }
                let full = page.len() == PAGE as usize;
                let lang = self.language();
                let rows = page
                    .into_iter()
                    .map(|p| columns::purchase_row(p, lang))
                    .collect();
                (rows, full)
            }
            Cursor::Summary => {
                let summary = store
                    .period_summary(self.org, self.start, self.end, TOP_REWARDS)
                    .await?;
                (summary_rows(&summary, self.style, self.portuguese), false)
            }
        };
        self.done = !full;
        Ok(rows)
    }

    /// The language of the breakdowns: the shop's in a local CSV or an XLSX sheet (as
    /// their headers), English in the machine CSV.
    fn language(&self) -> Language {
        match (self.style, self.format) {
            (CsvStyle::Machine, ExportFormat::Csv) => Language::En,
            _ if self.portuguese => Language::PtBr,
            _ => Language::En,
        }
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

    /// An amount with the currency's digits and the style's decimal mark.
    fn money(&self, d: Decimal) -> String {
        let mut d = d;
        d.rescale(self.digits);
        let s = d.to_string();
        if self.decimal == '.' {
            s
        } else {
            s.replace('.', &self.decimal.to_string())
        }
    }

    fn csv_row(&self, out: &mut String, row: &[Cell]) {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.sep);
            }
            match cell {
                Cell::Text(s) => field(out, s, self.sep),
                Cell::Int(n) => out.push_str(&n.to_string()),
                Cell::Money(d) => field(out, &self.money(*d), self.sep),
                Cell::Time(t) => out.push_str(&self.time(*t)),
                Cell::Empty => {}
            }
        }
        out.push_str("\r\n");
    }

    /// The next part of the CSV file: the byte-order mark and header row first, then
    /// one page of rows at a time; `None` after the last.
    pub async fn next_chunk(&mut self, store: &dyn Store) -> Result<Option<Vec<u8>>, Error> {
        if !self.started {
            self.started = true;
            let mut out = String::from('\u{feff}');
            let headers: Vec<Cell> = self
                .columns()
                .iter()
                .map(|c| Cell::Text(c.header(self.style, self.portuguese).to_owned()))
                .collect();
            self.csv_row(&mut out, &headers);
            return Ok(Some(out.into_bytes()));
        }
        let rows = self.next_rows(store).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = String::with_capacity(rows.len() * 160);
        for row in &rows {
            self.csv_row(&mut out, row);
        }
        Ok(Some(out.into_bytes()))
    }
}

/// One CSV row of `fields` separated by `sep`, with a CRLF line end.
fn row_with(out: &mut String, fields: &[&str], sep: char) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        field(out, f, sep);
    }
    out.push_str("\r\n");
}

/// One CSV field, quoted when it holds the separator, a quote or a line end; a leading
/// `= + - @` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn field(out: &mut String, v: &str, sep: char) {
    let v = if v.starts_with(['=', '+', '-', '@']) && v.replace(',', ".").parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([sep, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
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
    fn csv_fields_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        for (i, v) in ["a,b", "say \"hi\"", "=SUM(A1)", "-5", "plain"]
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, v, ',');
        }
        assert_eq!(out, "\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),-5,plain");
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
