//! Importing a shop's existing customers from a spreadsheet (CSV): the command line
//! (`loyalty import customers`) and the admin panel's upload run this one engine.
//!
//! Every row is validated first (its fields, duplicates inside the file, and the
//! customers already stored); the report names each bad row's line and column. Nothing
//! is written on a dry run, nor when any row is bad unless `skip_invalid` is set. Rows
//! are then written in batches, each in one transaction; an opening balance becomes an
//! `opening` ledger entry whose note is the file name. Each row has a key (from its card
//! number, else email, else phone): a row whose key was imported before is skipped, so
//! importing the same file again changes nothing.

mod columns;
pub mod csv;

pub use columns::{COLUMNS, Column};

use super::context::{ADMIN, Ctx};
use crate::Error;
use crate::domain::ledger::NewCustomer;
use crate::domain::points::{new_card_number, normalize_phone};
use crate::domain::{
    BirthDate, CardNumber, ConsentSource, CountryCode, Email, MarketingConsent, OrgId, PersonName,
    parse_yes_no,
};
use crate::error::FieldError;
use crate::store::{Conflict, CustomerKeys, ImportedCustomer, StoreError};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

/// Rows written per transaction.
pub const BATCH: usize = 2000;
/// The largest opening balance a row may carry.
pub const MAX_OPENING_BALANCE: i64 = 1_000_000_000;
/// The most rows one file may have.
pub const MAX_ROWS: usize = 1_000_000;

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Validate and report only; write nothing.
    pub dry_run: bool,
    /// Write the valid rows even when some are bad (the bad ones are reported).
    pub skip_invalid: bool,
}

/// One problem of the file: where, and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Line of the file (1 is the header).
    pub line: usize,
    /// The column (its field name), or `row` for the whole row.
    pub column: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.column, self.message)
    }
}

/// What an import found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// The file name (the opening entries' note).
    pub file: String,
    /// Data rows read (the header not counted).
    pub rows: usize,
    /// Rows that passed every check.
    pub valid: usize,
    /// The problems found, by line.
    pub errors: Vec<RowError>,
    /// Whether anything was written (false on a dry run or when refused for errors).
    pub written: bool,
    /// Customers created.
    pub created: u64,
    /// Rows imported before (skipped).
    pub already_imported: u64,
    /// Points of opening balances written.
    pub opening_points: i64,
}

/// The template file: the header in the language asked (`pt-BR` gets `;` as Excel
/// saves there) and one example row.
pub fn template(pt_br: bool) -> String {
    let sep = if pt_br { ";" } else { "," };
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.header(pt_br)).collect();
    let example = if pt_br {
        [
            "Ana Souza",
            "ana.souza@example.com",
            "+55 11 91234-5678",
            "",
            "31/12/1990",
            "150",
            "sim",
        ]
    } else {
        [
            "Jane Smith",
            "jane.smith@example.com",
            "+1 202 555 0100",
            "",
            "1990-12-31",
            "150",
            "yes",
        ]
    };
    format!("{}\r\n{}\r\n", header.join(sep), example.join(sep))
}

/// A row that passed its own checks, before the file-wide ones.
struct Row {
    line: usize,
    end: usize,
    /// Whether the card number came from the file (else it was drawn for the row).
    card_given: bool,
    customer: ImportedCustomer,
}

/// Reads and validates `bytes` (a CSV file named `file`) for the organization of
/// `ctx`, then, unless it is a dry run or refused for errors, writes it in batches;
/// `progress` is told how many bytes of the file are written so far. Admins only.
pub async fn import_customers(
    ctx: &Ctx<'_>,
    file: &str,
    bytes: &[u8],
    options: ImportOptions,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ImportReport, Error> {
    ctx.require(ADMIN, "import customers")?;
    let now = ctx.clock.now();
    let mut report = ImportReport {
        file: file.to_owned(),
        ..ImportReport::default()
    };
    let (rows, errors) = read_rows(ctx.org.id, bytes, ctx.org.country.as_ref(), now);
    report.errors = errors;
    let existing = ctx.store.customer_keys(ctx.org.id).await?;
    let rows = check_against_stored(rows, &existing, &mut report);
    report.rows = rows.len() + rows_with_errors(&report.errors);
    report.valid = rows.len();
    report.errors.sort_by_key(|e| e.line);
    if options.dry_run || (!report.errors.is_empty() && !options.skip_invalid) {
        return Ok(report);
    }
    let reason = format!("import {file}");
    for batch in rows.chunks(BATCH) {
        let customers: Vec<ImportedCustomer> = batch.iter().map(|r| r.customer.clone()).collect();
        let written = ctx
            .store
            .import_customers(ctx.org.id, &customers, &reason, &ctx.actor, now)
            .await
            .map_err(|e| batch_error(e, batch))?;
        report.written = true;
        report.created += written.created;
        report.already_imported += written.skipped;
        report.opening_points += written.points;
        if let Some(last) = batch.last() {
            progress(last.end as u64);
        }
    }
    progress(bytes.len() as u64);
    Ok(report)
}

/// A batch refused by the store: a phone, email or card taken since the check (another
/// enrolment meanwhile) names the batch's lines.
fn batch_error(e: StoreError, batch: &[Row]) -> Error {
    let lines = match (batch.first(), batch.last()) {
        (Some(a), Some(b)) => format!("lines {}-{}", a.line, b.line),
        _ => "the file".into(),
    };
    match e {
        StoreError::Conflict(c) => {
            let field = match c {
                Conflict::CustomerPhone => "phone",
                Conflict::CustomerCard => "card_number",
                _ => "email",
            };
            Error::Validation(vec![FieldError::new(
                field,
                format!(
                    "a customer with a {field} in {lines} was enrolled while the file was imported; \
                     import the file again (rows already written are skipped)"
                ),
            )])
        }
        other => other.into(),
    }
}

fn rows_with_errors(errors: &[RowError]) -> usize {
    errors
        .iter()
        .filter(|e| e.line > 1)
        .map(|e| e.line)
        .collect::<HashSet<_>>()
        .len()
}

/// Reads the header and every row, each checked on its own and against the rows
/// before it (duplicates inside the file).
fn read_rows(
    org: OrgId,
    bytes: &[u8],
    country: Option<&CountryCode>,
    now: OffsetDateTime,
) -> (Vec<Row>, Vec<RowError>) {
    let mut errors = Vec::new();
    let err = |line: usize, column: &str, message: String| RowError {
        line,
        column: column.to_owned(),
        message,
    };
    let text = match csv::text(bytes) {
        Ok(t) => t,
        Err(line) => {
            errors.push(err(
                line,
                "row",
                "is not UTF-8 text; save the spreadsheet as \"CSV UTF-8\"".into(),
            ));
            return (Vec::new(), errors);
        }
    };
    let sep = csv::separator(text);
    let (records, bad) = csv::records(text, sep);
    if let Some(b) = bad {
        errors.push(err(b.line, "row", b.message));
    }
    let read_errors = errors.len();
    let mut records = records.into_iter();
    let Some(header) = records.next() else {
        errors.push(err(
            1,
            "row",
            "the file is empty; start from the template (a header line, then one customer per line)".into(),
        ));
        return (Vec::new(), errors);
    };
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(header.fields.len());
    for cell in &header.fields {
        let col = Column::from_header(cell);
        match col {
            None if cell.trim().is_empty() => {}
            None => errors.push(err(
                1,
                cell.trim(),
                format!(
                    "is not a column this import knows; use the template's headers ({})",
                    COLUMNS
                        .iter()
                        .map(|c| c.header(false))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(c) if columns.contains(&Some(c)) => errors.push(err(
                1,
                cell.trim(),
                format!("names the column {} a second time; keep one", c.field()),
            )),
            Some(_) => {}
        }
        columns.push(col);
    }
    if !columns.contains(&Some(Column::Email)) && !columns.contains(&Some(Column::Phone)) {
        errors.push(err(
            1,
            "row",
            "has neither an email nor a phone column; every customer needs one of them".into(),
        ));
    }
    if errors.len() > read_errors {
        return (Vec::new(), errors);
    }
    let today = now.date();
    let mut rows = Vec::new();
    let mut seen: [HashMap<String, usize>; 3] = Default::default();
    for rec in records {
        if rows.len() >= MAX_ROWS {
            errors.push(err(
                rec.line,
                "row",
                format!("the file has more than {MAX_ROWS} customers; split it into smaller files"),
            ));
            break;
        }
        if rec.fields.len() > columns.len()
            && rec.fields[columns.len()..]
                .iter()
                .any(|f| !f.trim().is_empty())
        {
            errors.push(err(
                rec.line,
                "row",
                format!(
                    "has {} fields but the header has {}; quote values that contain the separator {sep:?}",
                    rec.fields.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let cell = |c: Column| {
            columns
                .iter()
                .position(|x| *x == Some(c))
                .and_then(|i| rec.fields.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let before = errors.len();
        let mut field_err = |e: FieldError, c: Column| {
            errors.push(err(rec.line, c.field(), e.message));
        };
        let name = cell(Column::Name).and_then(|v| {
            PersonName::parse(v)
                .map_err(|e| field_err(e, Column::Name))
                .ok()
        });
        let email = cell(Column::Email).and_then(|v| {
            Email::parse(v)
                .map_err(|e| field_err(e, Column::Email))
                .ok()
        });
        let phone = cell(Column::Phone).and_then(|v| {
            normalize_phone(v, country.map(CountryCode::as_str))
                .map_err(|e| field_err(e, Column::Phone))
                .ok()
        });
        let card = cell(Column::CardNumber).and_then(|v| {
            CardNumber::parse(v)
                .map_err(|e| field_err(e, Column::CardNumber))
                .ok()
        });
        let birth_date = cell(Column::BirthDate).and_then(|v| {
            BirthDate::parse(v, today)
                .map_err(|e| field_err(e, Column::BirthDate))
                .ok()
        });
        let opening = match cell(Column::OpeningBalance) {
            None => 0,
            Some(v) => parse_points(v)
                .map_err(|e| field_err(e, Column::OpeningBalance))
                .unwrap_or(0),
        };
        let consent = cell(Column::MarketingConsent).map(|v| {
            parse_yes_no(v, Column::MarketingConsent.field())
                .map_err(|e| field_err(e, Column::MarketingConsent))
                .unwrap_or(false)
        });
        let given_email = cell(Column::Email).is_some();
        let given_phone = cell(Column::Phone).is_some();
        if !given_email && !given_phone {
            errors.push(err(
                rec.line,
                "email",
                "the row has neither an email nor a phone; give one of them".into(),
            ));
        }
        // Duplicates inside the file, each against the first line that has it.
        let idents = [
            ("email", email.as_ref().map(|e| e.as_str().to_owned())),
            ("phone", phone.clone()),
            ("card_number", card.as_ref().map(|c| c.as_str().to_owned())),
        ];
        for (i, (col, value)) in idents.iter().enumerate() {
            if let Some(v) = value {
                if let Some(first) = seen[i].get(v) {
                    errors.push(err(
                        rec.line,
                        col,
                        format!("is the same as on line {first}; each customer once"),
                    ));
                } else {
                    seen[i].insert(v.clone(), rec.line);
                }
            }
        }
        if errors.len() > before {
            continue;
        }
        let key_source = match (&card, &email, &phone) {
            (Some(c), _, _) => format!("card:{c}"),
            (None, Some(e), _) => format!("email:{e}"),
            (None, None, Some(p)) => format!("phone:{p}"),
            (None, None, None) => continue,
        };
        rows.push(Row {
            line: rec.line,
            end: rec.end,
            card_given: card.is_some(),
            customer: ImportedCustomer {
                key: row_key(org, &key_source),
                new: NewCustomer {
                    phone,
                    email: email.map(|e| e.as_str().to_owned()),
                    name: name.map(|n| n.as_str().to_owned()),
                    card_number: card.map_or_else(new_card_number, |c| c.as_str().to_owned()),
                    identity_subject: None,
                    created_by: None,
                },
                birth_date,
                consent: consent.map_or_else(MarketingConsent::default, |granted| {
                    MarketingConsent::answered(granted, ConsentSource::Import, now)
                }),
                opening_balance: opening,
            },
        });
    }
    (rows, errors)
}

/// The row key: a hash of the organization and the row's identifying value, so the
/// stored key tells nothing by itself.
fn row_key(org: OrgId, source: &str) -> String {
    let digest = Sha256::digest(format!("{}|{source}", org.0).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Points: a whole number, 0 to [`MAX_OPENING_BALANCE`], with optional thousands
/// separators (`1,500`, `1.500`, `1 500`).
fn parse_points(v: &str) -> Result<i64, FieldError> {
    let field = Column::OpeningBalance.field();
    let groups: Vec<&str> = v.split([',', '.', ' ']).collect();
    let grouped = groups.len() > 1
        && groups[1..].iter().all(|g| g.len() == 3)
        && (1..=3).contains(&groups[0].len());
    if groups.len() > 1 && !grouped {
        return Err(FieldError::new(
            field,
            format!(
                "{v:?} is not a whole number of points; write it without decimals, such as 1500"
            ),
        ));
    }
    let digits: String = groups.concat();
    if digits.starts_with('-') {
        return Err(FieldError::new(
            field,
            format!("{v:?} is negative; an opening balance is 0 or more points"),
        ));
    }
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            format!("{v:?} is not a number of points; write digits only, such as 1500"),
        ));
    }
    match digits.parse::<i64>() {
        Ok(n) if n <= MAX_OPENING_BALANCE => Ok(n),
        _ => Err(FieldError::new(
            field,
            format!("{v:?} is more than {MAX_OPENING_BALANCE} points; check the value"),
        )),
    }
}

/// Checks rows against the stored customers: a row whose key is stored was imported
/// before (it will be skipped); otherwise a taken email, phone or card is an error.
fn check_against_stored(
    rows: Vec<Row>,
    existing: &[CustomerKeys],
    report: &mut ImportReport,
) -> Vec<Row> {
    let keys: HashSet<&str> = existing
        .iter()
        .filter_map(|k| k.import_key.as_deref())
        .collect();
    let emails: HashSet<&str> = existing.iter().filter_map(|k| k.email.as_deref()).collect();
    let phones: HashSet<&str> = existing.iter().filter_map(|k| k.phone.as_deref()).collect();
    let cards: HashSet<&str> = existing
        .iter()
        .filter_map(|k| k.card_number.as_deref())
        .collect();
    // Drawn card numbers are random: one may equal a stored card, a card given in the
    // file or another drawn one (about one import of 100,000 rows in twenty). Such a
    // row gets another draw here, so the batch write never meets it as a conflict.
    let mut used: HashSet<String> = cards.iter().map(|c| (*c).to_owned()).collect();
    used.extend(
        rows.iter()
            .filter(|r| r.card_given)
            .map(|r| r.customer.new.card_number.clone()),
    );
    let mut rows = rows;
    for row in rows.iter_mut().filter(|r| !r.card_given) {
        while !used.insert(row.customer.new.card_number.clone()) {
            row.customer.new.card_number = new_card_number();
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if keys.contains(row.customer.key.as_str()) {
            out.push(row);
            continue;
        }
        let c = &row.customer.new;
        let taken = [
            ("email", c.email.as_deref().filter(|e| emails.contains(e))),
            ("phone", c.phone.as_deref().filter(|p| phones.contains(p))),
            (
                "card_number",
                Some(c.card_number.as_str()).filter(|n| cards.contains(n)),
            ),
        ];
        let mut bad = false;
        for (col, hit) in taken {
            if hit.is_some() {
                bad = true;
                report.errors.push(RowError {
                    line: row.line,
                    column: col.into(),
                    message: format!(
                        "belongs to a customer already enrolled; remove the row or change the {col}"
                    ),
                });
            }
        }
        if !bad {
            out.push(row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::points::is_card_number;

    fn row(line: usize, email: &str, card: &str, card_given: bool) -> Row {
        Row {
            line,
            end: 0,
            card_given,
            customer: ImportedCustomer {
                key: format!("key-{line}"),
                new: NewCustomer {
                    phone: None,
                    email: Some(email.into()),
                    name: None,
                    card_number: card.into(),
                    identity_subject: None,
                    created_by: None,
                },
                birth_date: None,
                consent: MarketingConsent::default(),
                opening_balance: 0,
            },
        }
    }

    #[test]
    fn a_drawn_card_that_is_taken_is_drawn_again_and_a_given_one_is_refused() {
        let stored = new_card_number();
        let given = new_card_number();
        let existing = vec![CustomerKeys {
            email: Some("old@example.com".into()),
            phone: None,
            card_number: Some(stored.clone()),
            import_key: None,
        }];
        let rows = vec![
            row(2, "a@example.com", &stored, false),
            row(3, "b@example.com", &given, false),
            row(4, "c@example.com", &given, true),
            row(5, "d@example.com", &stored, true),
        ];
        let mut report = ImportReport::default();
        let out = check_against_stored(rows, &existing, &mut report);
        let lines: Vec<usize> = out.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4], "{:?}", report.errors);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(
            (report.errors[0].line, report.errors[0].column.as_str()),
            (5, "card_number")
        );
        let cards: HashSet<&str> = out
            .iter()
            .map(|r| r.customer.new.card_number.as_str())
            .collect();
        assert_eq!(cards.len(), 3, "every card differs");
        assert!(!cards.contains(stored.as_str()));
        assert_eq!(
            out[2].customer.new.card_number, given,
            "a given card is kept"
        );
        assert!(
            out.iter()
                .all(|r| is_card_number(&r.customer.new.card_number))
        );
    }

    #[test]
    fn points_take_thousands_separators_only() {
        assert_eq!(parse_points("1500"), Ok(1500));
        assert_eq!(parse_points("1.500"), Ok(1500));
        assert_eq!(parse_points("1,500,000"), Ok(1_500_000));
        assert!(parse_points("12.5").is_err());
        assert!(parse_points("-5").is_err());
        assert!(parse_points("ten").is_err());
        assert!(parse_points("99999999999").is_err());
    }

    #[test]
    fn the_template_reads_back_in_both_languages() {
        for pt in [false, true] {
            let t = template(pt);
            let (rows, errors) = read_rows(
                OrgId(uuid::Uuid::nil()),
                t.as_bytes(),
                None,
                time::macros::datetime!(2026-12-05 12:00 UTC),
            );
            assert_eq!(errors, vec![], "{t}");
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].customer.opening_balance, 150);
            assert!(rows[0].customer.consent.granted);
        }
    }
}
