//! Decoding SQLite's portable column types (UUIDs, timestamps, decimals and JSON kept
//! as text) into Rust values: one set of helpers for every resource's row mapping.

use crate::parse_ts;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// A column's text that does not parse as its type, as a decode error naming `what`.
pub(crate) fn decode<T>(
    what: &str,
    r: Result<T, impl std::fmt::Display>,
) -> Result<T, sqlx::Error> {
    r.map_err(|e| sqlx::Error::Decode(format!("{what}: {e}").into()))
}

/// A text column parsed into a domain type once, when the row is read: text that does
/// not parse (a row written by hand with SQL) is a decode error naming the column.
pub(crate) fn parsed<T>(
    row: &SqliteRow,
    col: &str,
    parse: impl FnOnce(&str) -> Result<T, loyalty_core::FieldError>,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(col)?;
    decode_field(col, parse(&text))
}

/// A parse result of column `col`, its error as a decode error naming the column.
pub(crate) fn decode_field<T>(
    col: &str,
    r: Result<T, loyalty_core::FieldError>,
) -> Result<T, sqlx::Error> {
    r.map_err(|e| sqlx::Error::Decode(format!("column {col}: {}", e.message).into()))
}

/// An error decoding a column whose text is not one this program knows.
pub(crate) fn decode_err(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what}").into())
}

/// A UUID column, as a bare `Uuid` or straight into the domain's id type the row
/// mapping wants (`CustomerId`, `PurchaseId`, ...): the one place this store turns its
/// UUID text into ids.
pub(crate) fn uuid_col<T: From<Uuid>>(row: &SqliteRow, col: &str) -> Result<T, sqlx::Error> {
    let s: String = row.try_get(col)?;
    decode(col, Uuid::parse_str(&s)).map(T::from)
}

/// A nullable UUID column, as [`uuid_col`].
pub(crate) fn uuid_opt<T: From<Uuid>>(r: &SqliteRow, col: &str) -> Result<Option<T>, sqlx::Error> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| decode(col, Uuid::parse_str(&s)).map(T::from))
        .transpose()
}

/// A decimal column (kept as text so no digit is lost).
pub(crate) fn decimal_col(
    row: &SqliteRow,
    col: &str,
) -> Result<rust_decimal::Decimal, sqlx::Error> {
    let s: String = row.try_get(col)?;
    decode(col, s.parse::<rust_decimal::Decimal>())
}

/// A timestamp column.
pub(crate) fn time_col(r: &SqliteRow, col: &str) -> Result<OffsetDateTime, sqlx::Error> {
    parse_ts(&r.try_get::<String, _>(col)?)
}

/// A nullable timestamp column.
pub(crate) fn time_opt(r: &SqliteRow, col: &str) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| parse_ts(&s))
        .transpose()
}

/// A nullable JSON column.
pub(crate) fn json_opt(r: &SqliteRow, col: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| decode(col, serde_json::from_str(&s)))
        .transpose()
}
