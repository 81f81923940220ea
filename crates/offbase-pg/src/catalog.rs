//! Reading a schema back from the PostgreSQL catalog: tables, columns (as `format_type` prints
//! them), NOT NULLs, defaults, constraints and indexes. Used by round-trip tests and, later, by
//! load and diff to see what is really there.

use crate::{PgError, get, statement_error};
use offbase_sql::quote_identifier;
use serde::Serialize;
use sqlx::postgres::PgConnection;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogColumn {
    pub name: String,
    /// The type as `format_type` prints it with the schema on the search path.
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogConstraint {
    pub name: String,
    /// `p` primary key, `c` check, `f` foreign key, `u` unique.
    pub kind: String,
    pub columns: Vec<String>,
    pub definition: String,
    pub validated: bool,
    /// The referenced table, for foreign keys.
    pub target_table: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogIndex {
    pub name: String,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogTable {
    pub name: String,
    pub columns: Vec<CatalogColumn>,
    pub constraints: Vec<CatalogConstraint>,
    pub indexes: Vec<CatalogIndex>,
}

impl CatalogTable {
    pub fn column(&self, name: &str) -> Option<&CatalogColumn> {
        self.columns.iter().find(|column| column.name == name)
    }

    pub fn constraint(&self, name: &str) -> Option<&CatalogConstraint> {
        self.constraints
            .iter()
            .find(|constraint| constraint.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogSchema {
    pub schema: String,
    /// Tables by name.
    pub tables: BTreeMap<String, CatalogTable>,
    /// Enum types by name, with their labels in order.
    pub enum_types: BTreeMap<String, Vec<String>>,
}

async fn rows(
    connection: &mut PgConnection,
    sql: &str,
    pg_schema: &str,
) -> Result<Vec<sqlx::postgres::PgRow>, PgError> {
    sqlx::query(sql)
        .bind(pg_schema)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))
}

/// Reads every table of `pg_schema`. Sets the session's search_path to that schema so types
/// print unqualified.
pub async fn introspect(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<CatalogSchema, PgError> {
    let set_path = format!("SET search_path TO {}", quote_identifier(pg_schema));
    sqlx::raw_sql(&set_path)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(&set_path, error))?;
    let mut tables: BTreeMap<String, CatalogTable> = BTreeMap::new();

    let sql = "SELECT c.relname::text AS table_name, a.attname::text AS column_name, \
        format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null, \
        pg_get_expr(d.adbin, d.adrelid) AS default_value \
        FROM pg_attribute a \
        JOIN pg_class c ON c.oid = a.attrelid \
        JOIN pg_namespace n ON n.oid = c.relnamespace \
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
        ORDER BY c.relname, a.attnum";
    for row in rows(connection, sql, pg_schema).await? {
        let table: String = get(&row, "table_name", sql)?;
        let entry = tables.entry(table.clone()).or_insert_with(|| CatalogTable {
            name: table,
            columns: Vec::new(),
            constraints: Vec::new(),
            indexes: Vec::new(),
        });
        entry.columns.push(CatalogColumn {
            name: get(&row, "column_name", sql)?,
            data_type: get(&row, "data_type", sql)?,
            not_null: get(&row, "not_null", sql)?,
            default: get(&row, "default_value", sql)?,
        });
    }

    let sql = "SELECT c.relname::text AS table_name, con.conname::text AS name, \
        con.contype::text AS kind, pg_get_constraintdef(con.oid) AS definition, \
        con.convalidated AS validated, \
        (SELECT relname::text FROM pg_class WHERE oid = con.confrelid) AS target_table, \
        ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position) \
              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
              ORDER BY k.position) AS columns \
        FROM pg_constraint con \
        JOIN pg_class c ON c.oid = con.conrelid \
        JOIN pg_namespace n ON n.oid = c.relnamespace \
        WHERE n.nspname = $1 \
        ORDER BY c.relname, con.conname";
    for row in rows(connection, sql, pg_schema).await? {
        let table: String = get(&row, "table_name", sql)?;
        if let Some(entry) = tables.get_mut(&table) {
            entry.constraints.push(CatalogConstraint {
                name: get(&row, "name", sql)?,
                kind: get(&row, "kind", sql)?,
                columns: get(&row, "columns", sql)?,
                definition: get(&row, "definition", sql)?,
                validated: get(&row, "validated", sql)?,
                target_table: get(&row, "target_table", sql)?,
            });
        }
    }

    let sql = "SELECT tablename::text AS table_name, indexname::text AS name, indexdef AS definition \
        FROM pg_indexes WHERE schemaname = $1 ORDER BY tablename, indexname";
    for row in rows(connection, sql, pg_schema).await? {
        let table: String = get(&row, "table_name", sql)?;
        if let Some(entry) = tables.get_mut(&table) {
            entry.indexes.push(CatalogIndex {
                name: get(&row, "name", sql)?,
                definition: get(&row, "definition", sql)?,
            });
        }
    }

    let sql = "SELECT t.typname::text AS name, e.enumlabel::text AS label \
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
        JOIN pg_namespace n ON n.oid = t.typnamespace \
        WHERE n.nspname = $1 ORDER BY t.typname, e.enumsortorder";
    let mut enum_types: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows(connection, sql, pg_schema).await? {
        let name: String = get(&row, "name", sql)?;
        enum_types
            .entry(name)
            .or_default()
            .push(get(&row, "label", sql)?);
    }
    Ok(CatalogSchema {
        schema: pg_schema.to_owned(),
        tables,
        enum_types,
    })
}
