//! Reading a keyed batch of rows from one backend and writing it into the other, with
//! the move's progress row, in one transaction of the target. Values are converted by
//! the column's [`Kind`]: SQLite keeps uuids, dates, numbers and JSON as text,
//! timestamps as fixed-width UTC text (`2025-01-23T14:05:30.000000Z`, so text order is
//! time order), booleans as 0 or 1 and hashes as blobs; PostgreSQL has a type for each,
//! which the text is cast to on the way in and formatted from on the way out.

use super::catalog::{Kind, Table, quote};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// One value in transit.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

impl Val {
    /// The value as an element of a progress key.
    fn to_key(&self) -> anyhow::Result<serde_json::Value> {
        match self {
            Val::Int(i) => Ok(serde_json::Value::from(*i)),
            Val::Text(s) => Ok(serde_json::Value::from(s.as_str())),
            Val::Bool(b) => Ok(serde_json::Value::from(*b)),
            Val::Null | Val::Bytes(_) => Err(anyhow::anyhow!(
                "a primary key holds NULL or bytes, which a move cannot resume from"
            )),
        }
    }
}

/// The key of the last row of `rows`, as stored in `backend_moves.last_key`.
pub fn last_key(table: &Table, rows: &[Vec<Val>]) -> anyhow::Result<Option<String>> {
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let key: Vec<serde_json::Value> = table
        .key
        .iter()
        .map(|i| last.get(*i).unwrap_or(&Val::Null).to_key())
        .collect::<anyhow::Result<_>>()?;
    Ok(Some(serde_json::Value::Array(key).to_string()))
}

fn key_values(last_key: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
    match last_key {
        None => Ok(Vec::new()),
        Some(k) => Ok(serde_json::from_str(k)?),
    }
}

/// The `WHERE (k1, k2) > (p1, p2)` of a keyed batch, with the placeholders `param`
/// makes for position `i` of the key (empty before the first batch).
fn after_clause(table: &Table, resume: bool, param: impl Fn(usize) -> String) -> String {
    if !resume {
        return String::new();
    }
    let names: Vec<String> = table.key_names().iter().map(|n| quote(n)).collect();
    let params: Vec<String> = (0..table.key.len()).map(param).collect();
    format!("WHERE ({}) > ({})", names.join(", "), params.join(", "))
}

fn order_by(table: &Table) -> String {
    let names: Vec<String> = table.key_names().iter().map(|n| quote(n)).collect();
    names.join(", ")
}

/// Up to `limit` rows of `table` after `last_key`, in key order, from SQLite.
pub async fn read_sqlite(
    pool: &SqlitePool,
    table: &Table,
    last_key: Option<&str>,
    limit: u32,
) -> anyhow::Result<Vec<Vec<Val>>> {
    let key = key_values(last_key)?;
    let select: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.kind {
            Kind::Text => format!("CAST({0} AS TEXT)", quote(&c.name)),
            _ => quote(&c.name),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {} {} ORDER BY {} LIMIT {limit}",
        select.join(", "),
        quote(&table.name),
        after_clause(table, !key.is_empty(), |i| format!("?{}", i + 1)),
        order_by(table)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for v in &key {
        q = match v {
            serde_json::Value::Number(n) => q.bind(n.as_i64()),
            serde_json::Value::Bool(b) => q.bind(i64::from(*b)),
            other => q.bind(other.as_str().map(str::to_owned)),
        };
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            use sqlx::Row;
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Ok(match c.kind {
                        Kind::Int => row
                            .try_get::<Option<i64>, _>(i)?
                            .map_or(Val::Null, Val::Int),
                        Kind::Bool => row
                            .try_get::<Option<i64>, _>(i)?
                            .map_or(Val::Null, |v| Val::Bool(v != 0)),
                        Kind::Bytes => row
                            .try_get::<Option<Vec<u8>>, _>(i)?
                            .map_or(Val::Null, Val::Bytes),
                        Kind::Text => row
                            .try_get::<Option<String>, _>(i)?
                            .map_or(Val::Null, Val::Text),
                    })
                })
                .collect::<anyhow::Result<Vec<Val>>>()
        })
        .collect()
}

/// Up to `limit` rows of `table` after `last_key`, in key order, from PostgreSQL, each
/// value in the form SQLite keeps.
pub async fn read_postgres(
    pool: &PgPool,
    table: &Table,
    last_key: Option<&str>,
    limit: u32,
) -> anyhow::Result<Vec<Vec<Val>>> {
    let key = key_values(last_key)?;
    let select: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let q = quote(&c.name);
            match (c.kind, c.pg_type.as_str()) {
                (Kind::Int, _) => format!("{q}::int8"),
                (Kind::Text, "timestamp with time zone") => {
                    format!("to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
                }
                (Kind::Text, "date") => format!("to_char({q}, 'YYYY-MM-DD')"),
                (Kind::Text, _) => format!("{q}::text"),
                _ => q,
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {} {} ORDER BY {} LIMIT {limit}",
        select.join(", "),
        quote(&table.name),
        after_clause(table, !key.is_empty(), |i| {
            let ty = table
                .key
                .get(i)
                .and_then(|c| table.columns.get(*c))
                .map_or("text", |c| c.pg_type.as_str());
            format!("CAST(${} AS {ty})", i + 1)
        }),
        order_by(table)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for v in &key {
        q = match v {
            serde_json::Value::Number(n) => q.bind(n.as_i64()),
            serde_json::Value::Bool(b) => q.bind(*b),
            other => q.bind(other.as_str().map(str::to_owned)),
        };
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            use sqlx::Row;
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Ok(match c.kind {
                        Kind::Int => row
                            .try_get::<Option<i64>, _>(i)?
                            .map_or(Val::Null, Val::Int),
                        Kind::Bool => row
                            .try_get::<Option<bool>, _>(i)?
                            .map_or(Val::Null, Val::Bool),
                        Kind::Bytes => row
                            .try_get::<Option<Vec<u8>>, _>(i)?
                            .map_or(Val::Null, Val::Bytes),
                        Kind::Text => row
                            .try_get::<Option<String>, _>(i)?
                            .map_or(Val::Null, Val::Text),
                    })
                })
                .collect::<anyhow::Result<Vec<Val>>>()
        })
        .collect()
}

/// Inserts `rows` into `table` on PostgreSQL in one statement: one array per column,
/// unnested and cast to the column's type. Identity columns keep their copied values.
pub async fn write_postgres(
    tx: &mut Transaction<'_, Postgres>,
    table: &Table,
    rows: &[Vec<Val>],
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let arrays: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = match c.kind {
                Kind::Int => "int8",
                Kind::Bool => "bool",
                Kind::Bytes => "bytea",
                Kind::Text => "text",
            };
            format!("${}::{ty}[]", i + 1)
        })
        .collect();
    let casts: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST(u.c{i} AS {})", c.pg_type))
        .collect();
    let aliases: Vec<String> = (0..table.columns.len()).map(|i| format!("c{i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) {} SELECT {} FROM unnest({}) AS u({})",
        quote(&table.name),
        names.join(", "),
        if table.identity.is_some() {
            "OVERRIDING SYSTEM VALUE"
        } else {
            ""
        },
        casts.join(", "),
        arrays.join(", "),
        aliases.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (i, c) in table.columns.iter().enumerate() {
        let column = rows.iter().map(|r| r.get(i).unwrap_or(&Val::Null));
        q = match c.kind {
            Kind::Int => q.bind(
                column
                    .map(|v| match v {
                        Val::Int(n) => Some(*n),
                        _ => None,
                    })
                    .collect::<Vec<Option<i64>>>(),
            ),
            Kind::Bool => q.bind(
                column
                    .map(|v| match v {
                        Val::Bool(b) => Some(*b),
                        Val::Int(n) => Some(*n != 0),
                        _ => None,
                    })
                    .collect::<Vec<Option<bool>>>(),
            ),
            Kind::Bytes => q.bind(
                column
                    .map(|v| match v {
                        Val::Bytes(b) => Some(b.clone()),
                        _ => None,
                    })
                    .collect::<Vec<Option<Vec<u8>>>>(),
            ),
            Kind::Text => q.bind(
                column
                    .map(|v| match v {
                        Val::Text(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Vec<Option<String>>>(),
            ),
        };
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// SQLite's limit on the parameters of one statement, with room to spare.
const SQLITE_PARAMS: usize = 30_000;

/// Inserts `rows` into `table` on SQLite, as many rows per statement as its parameter
/// limit allows.
pub async fn write_sqlite(
    tx: &mut Transaction<'_, Sqlite>,
    table: &Table,
    rows: &[Vec<Val>],
) -> anyhow::Result<()> {
    let width = table.columns.len().max(1);
    let per_statement = (SQLITE_PARAMS / width).max(1);
    let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let one = format!("({})", vec!["?"; width].join(", "));
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            quote(&table.name),
            names.join(", "),
            vec![one.as_str(); chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    Val::Null => q.bind(None::<i64>),
                    Val::Int(n) => q.bind(*n),
                    Val::Bool(b) => q.bind(i64::from(*b)),
                    Val::Text(s) => q.bind(s.clone()),
                    Val::Bytes(b) => q.bind(b.clone()),
                };
            }
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
