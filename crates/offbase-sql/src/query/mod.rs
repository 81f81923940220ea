//! Base44 reads as PostgreSQL queries: a filter `q`, a `sort`, `limit` and `skip` (the shared
//! AST of `offbase_base44::query`) translated with sea-query into a `SELECT` over a table of
//! the target model, so `diff behaviour` can ask PostgreSQL what the platform was asked. Pure:
//! no I/O.
//!
//! The translation follows the platform's semantics, not SQL's defaults:
//! - a field is its column (an enum type compared as text), a field without a column is read
//!   from `_extra`, a dotted path steps into a `jsonb` column;
//! - equality on an array column means "holds an element equal to"; `$ne`, `$nin` and `$not`
//!   match a null (missing) value, so every negation is `NOT COALESCE(..., FALSE)`;
//! - an operand of another kind than the column never matches (`"5"` is not `5`); a string that
//!   reads as an instant compares with timestamp columns as an instant;
//! - sorting puts nulls first ascending and last descending, ties broken by `id` ascending in
//!   byte order (as the platform does); text sorts and compares in the column's collation,
//!   which is exactly what `diff behaviour` is there to check;
//! - `$regex` options become embedded options of a PostgreSQL regular expression (`i` case
//!   insensitive; without `s` a `.` does not match a line break; `m` lets `^`/`$` match at
//!   line breaks).
//!
//! Anything the translation cannot express faithfully is an [`TranslateError::Unsupported`]
//! error, never a silently different query.
//!
//! The cursor list's keyset pages ([`page_sql`]) follow the same rules, ties broken by `id` in
//! the sort's direction, and start after a [`PagePosition`] (a sort value and an id) rather
//! than at an offset.
//!
//! Modules: this one holds the reads (`list_sql`, `count_sql`, `get_sql`, `matching_sql`) and
//! where a field path lives in a table (`Target`); `filter` translates a filter into a
//! condition; `page` the cursor list's keyset pages.

mod filter;
mod page;
#[cfg(test)]
mod page_tests;

pub(crate) use filter::{all_of, any_of, condition, constant, equal, negate, target_condition};
pub use page::{PAGE_POSITION_KEY, PageError, PagePosition, page_sql, take_page_position};

use offbase_base44::query::{Filter, Sort};
use offbase_model::{ColumnSource, PgType, Table};
use sea_query::{
    Alias, Expr, ExprTrait, NullOrdering, Order, PostgresQueryBuilder, Query, SelectStatement,
};

/// Records a list returns when no `limit` is given (the platform's, as a count).
pub const DEFAULT_LIMIT: u64 = offbase_base44::api::DEFAULT_LIST_LIMIT as u64;
/// The most records one list returns (the platform's, as a count).
pub const LIST_CAP: u64 = offbase_base44::api::LIST_CAP as u64;

/// The alias of the table in every query; rows come back as `to_jsonb("t")`.
const ROW_ALIAS: &str = "t";

/// Why a read cannot be asked of PostgreSQL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranslateError {
    #[error("cannot translate {what} on field `{field}` faithfully: {reason}")]
    Unsupported {
        field: String,
        what: String,
        reason: String,
    },
}

/// A list read: `SELECT to_jsonb("t") AS "row" FROM ... WHERE ... ORDER BY ... LIMIT ... OFFSET ...`.
/// `limit` as the platform reads it (none: [`DEFAULT_LIMIT`]; 0: the cap; capped at
/// [`LIST_CAP`]).
pub fn list_sql(
    pg_schema: &str,
    table: &Table,
    filter: &Filter,
    sort: Option<&Sort>,
    limit: Option<u64>,
    skip: Option<u64>,
) -> Result<String, TranslateError> {
    let mut select = base_select(pg_schema, table);
    select.expr_as(
        Expr::cust(format!("to_jsonb(\"{ROW_ALIAS}\")")),
        Alias::new("row"),
    );
    where_filter(&mut select, table, filter)?;
    if let Some(sort) = sort {
        let order = if sort.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let nulls = if sort.descending {
            NullOrdering::Last
        } else {
            NullOrdering::First
        };
        match resolve(table, &sort.field) {
            Target::Column { column, pg_type } => {
                select.order_by_expr_with_nulls(column_value(column, pg_type), order, nulls);
            }
            Target::Json(document) => {
                for key in json_sort_keys(document) {
                    select.order_by_expr(key, order.clone());
                }
            }
            Target::Nothing => {}
        }
    }
    select.order_by_expr(
        Expr::cust_with_exprs("$1 COLLATE \"C\"", [id_column(table)]),
        Order::Asc,
    );
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(0) => LIST_CAP,
        Some(limit) => Ord::min(limit, LIST_CAP),
    };
    select.limit(limit);
    if let Some(skip) = skip.filter(|skip| *skip > 0) {
        select.offset(skip);
    }
    Ok(select.to_string(PostgresQueryBuilder))
}

/// The rows a write to many records works through (`updateMany`, `deleteMany`): those
/// `filter` matches, oldest first (`created_date`, then `id`), at most `limit`, locked
/// `FOR UPDATE` when `lock` (which, under row level security, also holds them to the update
/// policy: the rows are those the caller may read and update).
pub fn matching_sql(
    pg_schema: &str,
    table: &Table,
    filter: &Filter,
    limit: Option<u64>,
    lock: bool,
) -> Result<String, TranslateError> {
    let mut select = base_select(pg_schema, table);
    select.expr_as(
        Expr::cust(format!("to_jsonb(\"{ROW_ALIAS}\")")),
        Alias::new("row"),
    );
    where_filter(&mut select, table, filter)?;
    if let Target::Column { column, pg_type } = resolve(table, "created_date") {
        select.order_by_expr_with_nulls(
            column_value(column, pg_type),
            Order::Asc,
            NullOrdering::First,
        );
    }
    select.order_by_expr(
        Expr::cust_with_exprs("$1 COLLATE \"C\"", [id_column(table)]),
        Order::Asc,
    );
    if let Some(limit) = limit {
        select.limit(limit);
    }
    if lock {
        select.lock(sea_query::LockType::Update);
    }
    Ok(select.to_string(PostgresQueryBuilder))
}

/// A count: `SELECT count(*) AS "count" FROM ... WHERE ...`.
pub fn count_sql(
    pg_schema: &str,
    table: &Table,
    filter: &Filter,
) -> Result<String, TranslateError> {
    let mut select = base_select(pg_schema, table);
    select.expr_as(Expr::cust("count(*)"), Alias::new("count"));
    where_filter(&mut select, table, filter)?;
    Ok(select.to_string(PostgresQueryBuilder))
}

/// A get by id: the list read of one record.
pub fn get_sql(pg_schema: &str, table: &Table, id: &str) -> String {
    let mut select = base_select(pg_schema, table);
    select.expr_as(
        Expr::cust(format!("to_jsonb(\"{ROW_ALIAS}\")")),
        Alias::new("row"),
    );
    select.and_where(id_column(table).eq(id));
    select.to_string(PostgresQueryBuilder)
}

/// A get by id with the id as the statement's parameter `$1`: one text for every id, so a
/// server prepares it once per connection.
pub fn get_by_parameter_sql(pg_schema: &str, table: &Table) -> String {
    let mut select = base_select(pg_schema, table);
    select.expr_as(
        Expr::cust(format!("to_jsonb(\"{ROW_ALIAS}\")")),
        Alias::new("row"),
    );
    select.and_where(id_column(table).eq(Expr::cust("$1")));
    select.to_string(PostgresQueryBuilder)
}

/// Adds the filter as the `WHERE` clause (none for the filter that matches everything).
fn where_filter(
    select: &mut SelectStatement,
    table: &Table,
    filter: &Filter,
) -> Result<(), TranslateError> {
    if !matches!(filter, Filter::And(filters) if filters.is_empty()) {
        select.and_where(condition(table, filter)?);
    }
    Ok(())
}

fn base_select(pg_schema: &str, table: &Table) -> SelectStatement {
    let mut select = Query::select();
    select.from_as(
        (Alias::new(pg_schema), Alias::new(&table.name)),
        Alias::new(ROW_ALIAS),
    );
    select
}

fn id_column(table: &Table) -> Expr {
    let name = table
        .column_for_field(offbase_model::BuiltIn::Id.field_name())
        .map_or("id", |column| column.name.as_str());
    Expr::col(Alias::new(name))
}

/// Where a field path's value lives in the table.
pub(crate) enum Target<'t> {
    /// A typed value: a column of the table (or, for access rules, a session value such as
    /// the request's user role, typed like a column).
    Column { column: Expr, pg_type: &'t PgType },
    /// A `jsonb` expression (SQL NULL when the key is missing).
    Json(Expr),
    /// Nowhere: the value is missing in every row.
    Nothing,
}

pub(crate) fn resolve<'t>(table: &'t Table, path: &str) -> Target<'t> {
    let mut segments = path.split('.');
    let first = segments.next().unwrap_or_default();
    let rest: Vec<&str> = segments.collect();
    let column = table.columns.iter().find(|column| {
        column.field.as_deref() == Some(first) && column.source != ColumnSource::Extra
    });
    if let Some(column) = column {
        let value = Expr::col(Alias::new(&column.name));
        if rest.is_empty() {
            return Target::Column {
                column: value,
                pg_type: &column.pg_type,
            };
        }
        if column.pg_type.is_json() {
            return Target::Json(json_path(column_value(value, &column.pg_type), &rest));
        }
        // A scalar has no sub-fields.
        return Target::Nothing;
    }
    match table
        .columns
        .iter()
        .find(|column| column.source == ColumnSource::Extra)
    {
        Some(extra) => {
            let mut all = vec![first];
            all.extend(rest);
            Target::Json(json_path(
                column_value(Expr::col(Alias::new(&extra.name)), &extra.pg_type),
                &all,
            ))
        }
        None => Target::Nothing,
    }
}

/// `document #> '{a,b}'` (`document` is jsonb), each segment quoted as an element of a text
/// array literal.
pub(crate) fn json_path(document: Expr, segments: &[&str]) -> Expr {
    let elements: Vec<String> = segments
        .iter()
        .map(|segment| format!("\"{}\"", segment.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    let path = format!("{{{}}}", elements.join(","));
    Expr::cust_with_exprs("($1 #> CAST($2 AS text[]))", [document, Expr::val(path)])
}

/// The value of a typed column as compared and sorted: an enum type as its text (the
/// platform compares enum values as strings, not in declaration order).
pub(crate) fn column_value(column: Expr, pg_type: &PgType) -> Expr {
    match pg_type {
        PgType::Enum(_) => Expr::cust_with_exprs("CAST($1 AS text)", [column]),
        PgType::Json => Expr::cust_with_exprs("CAST($1 AS jsonb)", [column]),
        _ => column,
    }
}

/// The keys that sort a JSON value as the platform does: null, numbers, strings, booleans,
/// arrays, objects; within a kind by value (strings in byte order).
pub(crate) fn json_sort_keys(document: Expr) -> Vec<Expr> {
    vec![
        Expr::cust_with_exprs(
            "CASE jsonb_typeof($1) WHEN 'number' THEN 1 WHEN 'string' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END",
            [document.clone()],
        ),
        Expr::cust_with_exprs(
            "CASE WHEN jsonb_typeof($1) = 'number' THEN CAST($1 AS numeric) END",
            [document.clone()],
        ),
        Expr::cust_with_exprs(
            "CASE WHEN jsonb_typeof($1) = 'string' THEN ($1 #>> '{}') COLLATE \"C\" END",
            [document.clone()],
        ),
        Expr::cust_with_exprs(
            "CASE WHEN jsonb_typeof($1) = 'boolean' THEN CAST($1 AS boolean) END",
            [document.clone()],
        ),
        // Only arrays and objects get here (a missing key is SQL NULL, which would sort
        // after a JSON null of the same rank).
        Expr::cust_with_exprs(
            "CASE WHEN jsonb_typeof($1) IN ('array', 'object') THEN $1 END",
            [document],
        ),
    ]
}
