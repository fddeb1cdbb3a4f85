//! What a move copies, read from the databases' own catalogs rather than from a list
//! kept by hand (so a table added by a later migration cannot be forgotten): the tables
//! and columns of the source, checked against the target's, with the column types, the
//! primary keys, the identity columns and the foreign keys of the PostgreSQL side (the
//! typed one), tables ordered so that every table comes after the tables it refers to.

use crate::UserError;
use sqlx::{PgPool, SqlitePool};
use std::collections::{BTreeMap, BTreeSet};

/// Tables a move never copies: the migration bookkeeping (each side has its own), the
/// move's own progress, SQLite's counters.
pub const NOT_COPIED: &[&str] = &["_sqlx_migrations", "backend_moves", "sqlite_sequence"];

/// How a column's values travel between the two backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `smallint`, `integer`, `bigint`; SQLite `INTEGER`.
    Int,
    /// `boolean`; SQLite 0 or 1.
    Bool,
    /// `bytea`; SQLite `BLOB`.
    Bytes,
    /// Everything else as text: uuid, timestamps (SQLite's fixed-width UTC text),
    /// dates, numeric, JSON, text.
    Text,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its PostgreSQL type, as `format_type` spells it (`timestamp with time zone`).
    pub pg_type: String,
    /// How its values travel.
    pub kind: Kind,
}

/// One table to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns, in the PostgreSQL table's order.
    pub columns: Vec<Column>,
    /// Positions (in `columns`) of the primary key, in the key's order.
    pub key: Vec<usize>,
    /// An identity column (PostgreSQL), whose sequence is moved past the copied maximum.
    pub identity: Option<String>,
}

impl Table {
    /// The key's column names.
    pub fn key_names(&self) -> Vec<&str> {
        self.key
            .iter()
            .filter_map(|i| self.columns.get(*i))
            .map(|c| c.name.as_str())
            .collect()
    }
}

fn kind(pg_type: &str) -> Kind {
    match pg_type {
        "smallint" | "integer" | "bigint" => Kind::Int,
        "boolean" => Kind::Bool,
        "bytea" => Kind::Bytes,
        _ => Kind::Text,
    }
}

/// Quotes an identifier for either backend.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The tables of a PostgreSQL database (current schema) with their columns, keys and
/// identity columns, and which tables each refers to.
pub async fn postgres(pool: &PgPool) -> anyhow::Result<(Vec<Table>, Vec<(String, String)>)> {
    let cols: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attidentity <> '' \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY c.relname, a.attnum",
    )
    .fetch_all(pool)
    .await?;
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
         WHERE i.indisprimary AND n.nspname = current_schema() \
         ORDER BY c.relname, k.ord",
    )
    .fetch_all(pool)
    .await?;
    let refs: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, r.relname::text FROM pg_constraint k \
         JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for (table, name, pg_type, identity) in cols {
        let t = tables.entry(table.clone()).or_insert_with(|| Table {
            name: table,
            columns: Vec::new(),
            key: Vec::new(),
            identity: None,
        });
        if identity {
            t.identity = Some(name.clone());
        }
        t.columns.push(Column {
            kind: kind(&pg_type),
            name,
            pg_type,
        });
    }
    for (table, column) in keys {
        if let Some(t) = tables.get_mut(&table)
            && let Some(i) = t.columns.iter().position(|c| c.name == column)
        {
            t.key.push(i);
        }
    }
    Ok((tables.into_values().collect(), refs))
}

/// The tables of a SQLite database with their column names.
pub async fn sqlite(pool: &SqlitePool) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(pool)
            .await?;
    let mut out = BTreeMap::new();
    for name in names {
        let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
            .bind(&name)
            .fetch_all(pool)
            .await?;
        out.insert(name, cols.into_iter().collect());
    }
    Ok(out)
}

/// The tables to copy, in an order where each comes after the tables it refers to:
/// the PostgreSQL side's tables checked against the SQLite side's (same tables, same
/// columns), without [`NOT_COPIED`]. Refuses a table without a primary key (it could
/// not be copied in keyed batches) and a cycle of foreign keys.
pub fn plan(
    pg: Vec<Table>,
    refs: &[(String, String)],
    sqlite: &BTreeMap<String, BTreeSet<String>>,
) -> anyhow::Result<Vec<Table>> {
    let pg: Vec<Table> = pg
        .into_iter()
        .filter(|t| !NOT_COPIED.contains(&t.name.as_str()))
        .collect();
    let lite: BTreeMap<&str, &BTreeSet<String>> = sqlite
        .iter()
        .filter(|(n, _)| !NOT_COPIED.contains(&n.as_str()))
        .map(|(n, c)| (n.as_str(), c))
        .collect();
    let pg_names: BTreeSet<&str> = pg.iter().map(|t| t.name.as_str()).collect();
    let lite_names: BTreeSet<&str> = lite.keys().copied().collect();
    if pg_names != lite_names {
        let only_pg: Vec<&str> = pg_names.difference(&lite_names).copied().collect();
        let only_lite: Vec<&str> = lite_names.difference(&pg_names).copied().collect();
        return Err(UserError(format!(
            "the two databases do not have the same tables (only in PostgreSQL: {only_pg:?}; only in SQLite: {only_lite:?}); run `loyalty migrate` on both with this version of loyalty first"
        ))
        .into());
    }
    for t in &pg {
        let cols: BTreeSet<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        if lite.get(t.name.as_str()).is_some_and(|c| **c != cols) {
            return Err(UserError(format!(
                "table {} has different columns in the two databases; run `loyalty migrate` on both with this version of loyalty first",
                t.name
            ))
            .into());
        }
        if t.key.is_empty() {
            return Err(anyhow::anyhow!(
                "table {} has no primary key, so it cannot be copied in keyed batches",
                t.name
            ));
        }
    }
    order(pg, refs)
}

/// Orders tables so that each comes after every table it refers to (self-references
/// aside); ties by name, so the order is the same on every run.
fn order(tables: Vec<Table>, refs: &[(String, String)]) -> anyhow::Result<Vec<Table>> {
    let mut left: BTreeMap<String, Table> =
        tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready: Vec<String> = left
            .keys()
            .filter(|name| {
                !refs
                    .iter()
                    .any(|(from, to)| from == *name && to != *name && left.contains_key(to))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            let names: Vec<&String> = left.keys().collect();
            return Err(anyhow::anyhow!(
                "the foreign keys of tables {names:?} form a cycle; they cannot be copied in order"
            ));
        }
        for name in ready {
            if let Some(t) = left.remove(&name) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Table {
        Table {
            name: name.into(),
            columns: vec![Column {
                name: "id".into(),
                pg_type: "uuid".into(),
                kind: Kind::Text,
            }],
            key: vec![0],
            identity: None,
        }
    }

    #[test]
    fn tables_come_after_the_tables_they_refer_to() {
        let refs = vec![
            ("users".to_owned(), "organizations".to_owned()),
            ("points".to_owned(), "users".to_owned()),
            ("users".to_owned(), "users".to_owned()),
        ];
        let ordered = order(
            vec![table("points"), table("users"), table("organizations")],
            &refs,
        )
        .map(|ts| ts.into_iter().map(|t| t.name).collect::<Vec<_>>());
        assert_eq!(
            ordered.ok(),
            Some(vec![
                "organizations".to_owned(),
                "users".to_owned(),
                "points".to_owned()
            ])
        );
    }

    #[test]
    fn a_cycle_is_refused() {
        let refs = vec![
            ("a".to_owned(), "b".to_owned()),
            ("b".to_owned(), "a".to_owned()),
        ];
        assert!(order(vec![table("a"), table("b")], &refs).is_err());
    }

    #[test]
    fn types_travel_as_their_kind() {
        assert_eq!(kind("bigint"), Kind::Int);
        assert_eq!(kind("boolean"), Kind::Bool);
        assert_eq!(kind("bytea"), Kind::Bytes);
        assert_eq!(kind("timestamp with time zone"), Kind::Text);
        assert_eq!(kind("numeric"), Kind::Text);
    }
}
