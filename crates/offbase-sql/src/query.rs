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

use offbase_base44::query::{Condition, Filter, Operator, Sort, instant};
use offbase_model::{ColumnSource, PgType, Table};
use sea_query::{
    Alias, Expr, ExprTrait, NullOrdering, Order, PostgresQueryBuilder, Query, SelectStatement,
};
use serde_json::Value;

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

pub(crate) fn condition(table: &Table, filter: &Filter) -> Result<Expr, TranslateError> {
    Ok(match filter {
        Filter::And(filters) => all_of(conditions(table, filters)?),
        Filter::Or(filters) => any_of(conditions(table, filters)?),
        Filter::Nor(filters) => negate(any_of(conditions(table, filters)?)),
        Filter::Field { path, condition } => field_condition(table, path, condition)?,
    })
}

fn conditions(table: &Table, filters: &[Filter]) -> Result<Vec<Expr>, TranslateError> {
    filters
        .iter()
        .map(|filter| condition(table, filter))
        .collect()
}

/// `NOT COALESCE(condition, FALSE)`: a negation that holds where the value is null.
pub(crate) fn negate(expression: Expr) -> Expr {
    Expr::cust_with_exprs("NOT COALESCE($1, FALSE)", [expression])
}

pub(crate) fn constant(value: bool) -> Expr {
    Expr::cust(if value { "TRUE" } else { "FALSE" })
}

fn field_condition(
    table: &Table,
    path: &str,
    condition: &Condition,
) -> Result<Expr, TranslateError> {
    target_condition(&resolve(table, path), path, condition)
}

/// A condition on a value already located (`path` names it in errors).
pub(crate) fn target_condition(
    target: &Target<'_>,
    path: &str,
    condition: &Condition,
) -> Result<Expr, TranslateError> {
    match condition {
        Condition::Eq(value) => equal(target, path, value),
        Condition::Ops(operators) => {
            let mut parts = Vec::new();
            for operator in operators {
                parts.push(operator_condition(target, path, operator)?);
            }
            Ok(all_of(parts))
        }
    }
}

pub(crate) fn all_of(parts: Vec<Expr>) -> Expr {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return constant(true);
    };
    parts.fold(first, |all, part| all.and(part))
}

pub(crate) fn any_of(parts: Vec<Expr>) -> Expr {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return constant(false);
    };
    parts.fold(first, |any, part| any.or(part))
}

fn operator_condition(
    target: &Target<'_>,
    path: &str,
    operator: &Operator,
) -> Result<Expr, TranslateError> {
    Ok(match operator {
        Operator::Eq(value) => equal(target, path, value)?,
        Operator::Ne(value) => negate(equal(target, path, value)?),
        Operator::In(values) => {
            let mut parts = Vec::new();
            for value in values {
                parts.push(equal(target, path, value)?);
            }
            any_of(parts)
        }
        Operator::Nin(values) => {
            let mut parts = Vec::new();
            for value in values {
                parts.push(equal(target, path, value)?);
            }
            negate(any_of(parts))
        }
        Operator::All(values) => {
            if values.is_empty() {
                constant(false)
            } else {
                let mut parts = Vec::new();
                for value in values {
                    parts.push(equal(target, path, value)?);
                }
                all_of(parts)
            }
        }
        Operator::Gt(value) => range(target, path, Range::Greater, value)?,
        Operator::Gte(value) => range(target, path, Range::GreaterOrEqual, value)?,
        Operator::Lt(value) => range(target, path, Range::Less, value)?,
        Operator::Lte(value) => range(target, path, Range::LessOrEqual, value)?,
        Operator::Exists(present) => {
            let value = match target {
                Target::Column { column, .. } => column.clone(),
                Target::Json(document) => document.clone(),
                Target::Nothing => return Ok(constant(!present)),
            };
            if *present {
                value.is_not_null()
            } else {
                value.is_null()
            }
        }
        Operator::Regex { pattern, options } => regex(target, path, pattern, options)?,
        Operator::Not(condition) => negate(target_condition(target, path, condition)?),
        Operator::Size(size) => {
            let size = i64::try_from(*size).unwrap_or(i64::MAX);
            match target {
                Target::Column { column, pg_type } if pg_type.element().is_some() => {
                    Expr::cust_with_exprs("cardinality($1) = $2", [column.clone(), Expr::val(size)])
                }
                Target::Json(document) => Expr::cust_with_exprs(
                    "(jsonb_typeof($1) = 'array' AND jsonb_array_length($1) = $2)",
                    [document.clone(), Expr::val(size)],
                ),
                _ => constant(false),
            }
        }
    })
}

/// How a typed column reads an operand.
enum Operand {
    /// A literal of the column's kind.
    Literal(Expr),
    /// Another kind: never equal, never in range.
    OtherKind,
    /// A string that is not an instant, against a timestamp column: as a string it sorts
    /// after every instant the column holds.
    AfterEveryInstant,
}

fn operand(pg_type: &PgType, value: &Value, path: &str) -> Result<Operand, TranslateError> {
    Ok(match (pg_type, value) {
        (
            PgType::Text | PgType::Varchar(_) | PgType::Uuid | PgType::Enum(_),
            Value::String(text),
        ) => {
            if matches!(pg_type, PgType::Uuid) {
                return Err(unsupported(
                    path,
                    "a comparison",
                    "uuid columns are compared as text by the platform; map the field to text",
                ));
            }
            Operand::Literal(Expr::val(text.clone()))
        }
        (
            PgType::Smallint
            | PgType::Integer
            | PgType::Bigint
            | PgType::Real
            | PgType::DoublePrecision
            | PgType::Numeric(_),
            Value::Number(number),
        ) => Operand::Literal(number_literal(number)),
        (PgType::Boolean, Value::Bool(flag)) => Operand::Literal(Expr::val(*flag)),
        (PgType::Timestamptz | PgType::Timestamp | PgType::Date, Value::String(text)) => {
            // Read with the filter's `instant`, not `offbase_model::time::parse_timestamp`, on
            // purpose: the SQL must find the rows the platform's filter finds, and the filter
            // also takes a date alone as its midnight UTC. `instant` is that grammar plus that
            // one addition, so there is still one timestamp grammar.
            match instant(text) {
                Some((seconds, nanos)) => {
                    let Some(moment) = chrono::DateTime::from_timestamp(seconds, nanos) else {
                        return Ok(Operand::OtherKind);
                    };
                    let utc = moment.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
                    let literal = match pg_type {
                        PgType::Timestamp => Expr::val(utc).cast_as(Alias::new("timestamp")),
                        _ => Expr::val(format!("{utc}Z")).cast_as(Alias::new("timestamptz")),
                    };
                    Operand::Literal(literal)
                }
                None => Operand::AfterEveryInstant,
            }
        }
        (PgType::Time, Value::String(text)) => match offbase_model::time::parse_time(text) {
            Some(time) => Operand::Literal(
                Expr::val(time.format("%H:%M:%S%.f").to_string()).cast_as(Alias::new("time")),
            ),
            None => {
                return Err(unsupported(
                    path,
                    "a comparison",
                    "the operand is not a time of day",
                ));
            }
        },
        _ => Operand::OtherKind,
    })
}

fn number_literal(number: &serde_json::Number) -> Expr {
    if let Some(integer) = number.as_i64() {
        return Expr::val(integer);
    }
    if let Some(integer) = number.as_u64() {
        // Beyond i64: digits only, so safe to write as they are.
        return Expr::cust(integer.to_string());
    }
    match number.as_f64() {
        Some(float) if float.is_finite() => Expr::val(float),
        _ => Expr::cust("NULL"),
    }
}

fn unsupported(field: &str, what: &str, reason: &str) -> TranslateError {
    TranslateError::Unsupported {
        field: field.to_owned(),
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The operand as a `jsonb` literal.
pub(crate) fn json_literal(value: &Value) -> Expr {
    Expr::val(value.to_string()).cast_as(Alias::new("jsonb"))
}

pub(crate) fn equal(
    target: &Target<'_>,
    path: &str,
    value: &Value,
) -> Result<Expr, TranslateError> {
    Ok(match target {
        Target::Nothing => constant(value.is_null()),
        Target::Column { column, pg_type } => {
            if value.is_null() {
                return Ok(column.clone().is_null());
            }
            let column = column_value(column.clone(), pg_type);
            if pg_type.is_json() {
                return Ok(json_equal(column, value));
            }
            match (pg_type.element(), value) {
                (Some(element), Value::Array(_)) => {
                    if !matches!(
                        element,
                        PgType::Text
                            | PgType::Varchar(_)
                            | PgType::Boolean
                            | PgType::Smallint
                            | PgType::Integer
                            | PgType::Bigint
                            | PgType::Numeric(_)
                            | PgType::DoublePrecision
                            | PgType::Real
                    ) {
                        return Err(unsupported(
                            path,
                            "an array equality",
                            "only arrays of text, numbers and booleans",
                        ));
                    }
                    Expr::cust_with_exprs("to_jsonb($1) = $2", [column, json_literal(value)])
                }
                (Some(element), value) => match operand(element, value, path)? {
                    Operand::Literal(literal) => {
                        Expr::cust_with_exprs("$1 = ANY($2)", [literal, column])
                    }
                    Operand::OtherKind | Operand::AfterEveryInstant => constant(false),
                },
                (None, Value::Array(_) | Value::Object(_)) => constant(false),
                (None, value) => match operand(pg_type, value, path)? {
                    Operand::Literal(literal) => column.eq(literal),
                    Operand::OtherKind | Operand::AfterEveryInstant => constant(false),
                },
            }
        }
        Target::Json(document) => {
            if value.is_null() {
                Expr::cust_with_exprs("($1 IS NULL OR $1 = 'null'::jsonb)", [document.clone()])
            } else {
                json_equal(document.clone(), value)
            }
        }
    })
}

/// Equal, or an array holding an equal element.
pub(crate) fn json_equal(document: Expr, value: &Value) -> Expr {
    let element = Value::Array(vec![value.clone()]);
    Expr::cust_with_exprs(
        "($1 = $2 OR (jsonb_typeof($1) = 'array' AND $1 @> $3))",
        [document, json_literal(value), json_literal(&element)],
    )
}

#[derive(Debug, Clone, Copy)]
enum Range {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Range {
    fn sql(self) -> &'static str {
        match self {
            Range::Greater => ">",
            Range::GreaterOrEqual => ">=",
            Range::Less => "<",
            Range::LessOrEqual => "<=",
        }
    }

    /// Whether a value below the operand satisfies it.
    fn below(self) -> bool {
        matches!(self, Range::Less | Range::LessOrEqual)
    }
}

fn range(
    target: &Target<'_>,
    path: &str,
    range: Range,
    value: &Value,
) -> Result<Expr, TranslateError> {
    if value.is_null() {
        // `$gte: null` and `$lte: null` match null or missing; `$gt`/`$lt` nothing.
        return Ok(match range {
            Range::GreaterOrEqual | Range::LessOrEqual => equal(target, path, value)?,
            Range::Greater | Range::Less => constant(false),
        });
    }
    if !matches!(value, Value::Number(_) | Value::String(_) | Value::Bool(_)) {
        return Ok(constant(false));
    }
    Ok(match target {
        Target::Nothing => constant(false),
        Target::Column { column, pg_type } => {
            let column = column_value(column.clone(), pg_type);
            if pg_type.is_json() {
                return json_range(column, path, range, value);
            }
            match pg_type.element() {
                Some(element) => match operand(element, value, path)? {
                    Operand::Literal(literal) => Expr::cust_with_exprs(
                        format!(
                            "EXISTS (SELECT 1 FROM unnest($1) AS \"element\"(\"value\") WHERE \"element\".\"value\" {} $2)",
                            range.sql()
                        ),
                        [column, literal],
                    ),
                    Operand::OtherKind => constant(false),
                    Operand::AfterEveryInstant => {
                        if range.below() {
                            Expr::cust_with_exprs("cardinality($1) > 0", [column])
                        } else {
                            constant(false)
                        }
                    }
                },
                None => match operand(pg_type, value, path)? {
                    Operand::Literal(literal) => {
                        Expr::cust_with_exprs(format!("$1 {} $2", range.sql()), [column, literal])
                    }
                    Operand::OtherKind => constant(false),
                    Operand::AfterEveryInstant => {
                        if range.below() {
                            column.is_not_null()
                        } else {
                            constant(false)
                        }
                    }
                },
            }
        }
        Target::Json(document) => json_range(document.clone(), path, range, value)?,
    })
}

fn json_range(
    document: Expr,
    path: &str,
    range: Range,
    value: &Value,
) -> Result<Expr, TranslateError> {
    let scalar = |element: &str| -> Result<String, TranslateError> {
        Ok(match value {
            Value::Number(_) => format!(
                "(jsonb_typeof({element}) = 'number' AND {element} {} $2)",
                range.sql()
            ),
            Value::Bool(_) => format!(
                "(jsonb_typeof({element}) = 'boolean' AND {element} {} $2)",
                range.sql()
            ),
            Value::String(text) => {
                if instant(text).is_some() {
                    return Err(unsupported(
                        path,
                        "a range on a date-time kept as JSON",
                        "map the field to a timestamp column",
                    ));
                }
                format!(
                    "(jsonb_typeof({element}) = 'string' AND ({element} #>> '{{}}') COLLATE \"C\" {} ($2 #>> '{{}}'))",
                    range.sql()
                )
            }
            _ => "FALSE".to_owned(),
        })
    };
    let direct = scalar("$1")?;
    let inside = scalar("\"element\"")?;
    Ok(Expr::cust_with_exprs(
        format!(
            "({direct} OR (jsonb_typeof($1) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements($1) AS \"element\" WHERE {inside})))"
        ),
        [document, json_literal(value)],
    ))
}

/// PostgreSQL embedded options for the platform's `$options`.
fn regex_pattern(pattern: &str, options: &str) -> String {
    let insensitive = options.contains('i');
    let multiline = options.contains('m');
    let dot_all = options.contains('s');
    let mut flags = String::new();
    if insensitive {
        flags.push('i');
    }
    flags.push(match (multiline, dot_all) {
        // `.` and `[^x]` stop at line breaks, `^`/`$` only at the ends.
        (false, false) => 'p',
        // `^`/`$` at line breaks too, `.` stops at them.
        (true, false) => 'n',
        // `.` matches anything, `^`/`$` only at the ends: the default.
        (false, true) => 'c',
        (true, true) => 'w',
    });
    format!("(?{flags}){pattern}")
}

fn regex(
    target: &Target<'_>,
    path: &str,
    pattern: &str,
    options: &str,
) -> Result<Expr, TranslateError> {
    if pattern.contains("\\x") {
        return Err(unsupported(
            path,
            "a $regex",
            "`\\xHH` reads differently in PostgreSQL regular expressions",
        ));
    }
    let pattern = Expr::val(regex_pattern(pattern, options));
    Ok(match target {
        Target::Nothing => constant(false),
        Target::Column { column, pg_type } => {
            match (pg_type.element(), pg_type) {
                (Some(element), _) if element.is_textual() => Expr::cust_with_exprs(
                    "EXISTS (SELECT 1 FROM unnest($1) AS \"element\"(\"value\") WHERE \"element\".\"value\" ~ $2)",
                    [column.clone(), pattern],
                ),
                (None, pg_type) if pg_type.is_textual() => Expr::cust_with_exprs(
                    "$1 ~ $2",
                    [column_value(column.clone(), pg_type), pattern],
                ),
                (None, pg_type) if pg_type.is_json() => {
                    json_regex(column_value(column.clone(), pg_type), pattern)
                }
                // The platform matches strings only.
                (None, pg_type) if pg_type.is_numeric() || matches!(pg_type, PgType::Boolean) => {
                    constant(false)
                }
                _ => {
                    return Err(unsupported(
                        path,
                        "a $regex",
                        "the platform matches it against the stored text of a date or time; the column holds a typed value",
                    ));
                }
            }
        }
        Target::Json(document) => json_regex(document.clone(), pattern),
    })
}

fn json_regex(document: Expr, pattern: Expr) -> Expr {
    Expr::cust_with_exprs(
        "((jsonb_typeof($1) = 'string' AND ($1 #>> '{}') ~ $2) OR (jsonb_typeof($1) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements_text($1) AS \"element\"(\"value\") WHERE \"element\".\"value\" ~ $2)))",
        [document, pattern],
    )
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

// ---------------------------------------------------------------------------------------------
// Keyset pages (`v2/list`)
// ---------------------------------------------------------------------------------------------

/// The key [`page_sql`] adds to every row object it selects: `[sort value, id]`, the row's place
/// in the page order, which [`take_page_position`] takes back out (so the row is then the
/// `to_jsonb` object the other reads select).
pub const PAGE_POSITION_KEY: &str = "$page";

/// Where a keyset page starts: right after the record with this sort value and id in the page
/// order. The value is the one PostgreSQL ordered by, as [`page_sql`] returned it with the row
/// ([`take_page_position`]): an enum as its text, a timestamp as `to_jsonb` writes it, `null`
/// for a missing value. It may come back from a client (in a cursor): [`page_sql`] refuses a
/// value the sort field's column cannot hold rather than let PostgreSQL fail on it, and it
/// reaches the SQL only as a typed literal, never as SQL text.
#[derive(Debug, Clone, PartialEq)]
pub struct PagePosition {
    value: Value,
    id: String,
}

impl PagePosition {
    pub fn new(value: Value, id: impl Into<String>) -> Self {
        PagePosition {
            value,
            id: id.into(),
        }
    }

    /// The sort value of the record the page starts after (`null`: it had none).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The id of the record the page starts after.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Takes the position [`page_sql`] put in a row (under [`PAGE_POSITION_KEY`]) out of it;
/// `None` when the row has none.
pub fn take_page_position(row: &mut Value) -> Option<PagePosition> {
    let Value::Object(object) = row else {
        return None;
    };
    let Value::Array(mut pair) = object.remove(PAGE_POSITION_KEY)? else {
        return None;
    };
    if pair.len() != 2 {
        return None;
    }
    let id = pair.pop()?;
    let value = pair.pop()?;
    Some(PagePosition::new(value, id.as_str()?))
}

/// Why a page cannot be asked of PostgreSQL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    /// The filter or sort cannot be translated faithfully.
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// The position's sort value is no value of the sort field: the position did not come from
    /// [`page_sql`] for this sort.
    #[error(
        "the page position's sort value {value} cannot be a value of `{field}` ({pg_type} column)"
    )]
    Position {
        field: String,
        value: String,
        pg_type: String,
    },
}

/// A keyset page: `SELECT to_jsonb("t") || jsonb_build_object('$page', jsonb_build_array(<sort
/// value>, "id")) AS "row" FROM ... WHERE <filter> AND <after the position> ORDER BY <sort
/// value>, "id" COLLATE "C" LIMIT <limit>`. Ask for one row more than the page holds to learn
/// whether more remain.
///
/// The order is `list_sql`'s (nulls first ascending and last descending, an enum as its text, a
/// field kept in JSON by kind then value) with one difference: ties go by `id` in the sort's
/// direction (byte order), as the platform's (and the emulator's) cursor list orders them, so a
/// descending order is exactly the ascending one reversed. `after` keeps the rows strictly
/// after the position in exactly that order, NULL sort values included; a record deleted
/// between pages shifts nothing, the position being a value and not an offset.
pub fn page_sql(
    pg_schema: &str,
    table: &Table,
    filter: &Filter,
    sort: &Sort,
    after: Option<&PagePosition>,
    limit: u64,
) -> Result<String, PageError> {
    let target = resolve(table, &sort.field);
    let mut select = base_select(pg_schema, table);
    let sort_value = match &target {
        Target::Column { column, pg_type } => column_value(column.clone(), pg_type),
        Target::Json(document) => document.clone(),
        Target::Nothing => Expr::cust("NULL"),
    };
    select.expr_as(
        Expr::cust_with_exprs(
            format!(
                "to_jsonb(\"{ROW_ALIAS}\") || jsonb_build_object($1, jsonb_build_array($2, $3))"
            ),
            [Expr::val(PAGE_POSITION_KEY), sort_value, id_column(table)],
        ),
        Alias::new("row"),
    );
    where_filter(&mut select, table, filter)?;
    if let Some(position) = after {
        select.and_where(after_position(pg_schema, table, &target, sort, position)?);
    }
    let order = if sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    match &target {
        Target::Column { column, pg_type } => {
            let nulls = if sort.descending {
                NullOrdering::Last
            } else {
                NullOrdering::First
            };
            select.order_by_expr_with_nulls(
                column_value(column.clone(), pg_type),
                order.clone(),
                nulls,
            );
        }
        Target::Json(document) => {
            for key in json_sort_keys(document.clone()) {
                select.order_by_expr(key, order.clone());
            }
        }
        Target::Nothing => {}
    }
    select.order_by_expr(id_in_byte_order(table), order);
    select.limit(limit);
    Ok(select.to_string(PostgresQueryBuilder))
}

fn id_in_byte_order(table: &Table) -> Expr {
    Expr::cust_with_exprs("$1 COLLATE \"C\"", [id_column(table)])
}

/// The rows after `position` in the page order of `sort` on `target`.
fn after_position(
    pg_schema: &str,
    table: &Table,
    target: &Target<'_>,
    sort: &Sort,
    position: &PagePosition,
) -> Result<Expr, PageError> {
    let descending = sort.descending;
    // Past `anchor` in the sort's direction.
    let beyond = |value: Expr, anchor: Expr| {
        if descending {
            value.lt(anchor)
        } else {
            value.gt(anchor)
        }
    };
    let id_after = beyond(id_in_byte_order(table), Expr::val(position.id.clone()));
    let misfit = |pg_type: &str| PageError::Position {
        field: sort.field.clone(),
        value: position.value.to_string(),
        pg_type: pg_type.to_owned(),
    };
    Ok(match target {
        // Every row's value is missing: the order is the ids'.
        Target::Nothing => {
            if !position.value.is_null() {
                return Err(misfit("no"));
            }
            id_after
        }
        Target::Column { column, pg_type } => {
            let value = column_value(column.clone(), pg_type);
            match (&position.value, descending) {
                // Nulls come first ascending: after a null, the other nulls by id, then every
                // value.
                (Value::Null, false) => value.is_not_null().or(id_after),
                // And last descending: after a null, only nulls, by id.
                (Value::Null, true) => value.is_null().and(id_after),
                (anchor, _) => {
                    let anchor = anchor_literal(pg_schema, table, &sort.field, pg_type, anchor)
                        .ok_or_else(|| misfit(&pg_type.to_string()))?;
                    let after = beyond(value.clone(), anchor.clone())
                        .or(value.clone().eq(anchor).and(id_after));
                    if descending {
                        after.or(value.is_null())
                    } else {
                        after
                    }
                }
            }
        }
        // The JSON order: by kind (`json_sort_keys`' first key), then within the kind by its
        // one key that is not null, then by id. The position's keys are computed by the same
        // expressions, over the value as a `jsonb` literal.
        Target::Json(document) => {
            let (rank, key) = match &position.value {
                Value::Null => (0, None),
                Value::Number(_) => (1, Some(1)),
                Value::String(_) => (2, Some(2)),
                Value::Bool(_) => (3, Some(3)),
                Value::Array(_) => (4, Some(4)),
                Value::Object(_) => (5, Some(4)),
            };
            let keys = json_sort_keys(document.clone());
            let anchors = json_sort_keys(json_literal(&position.value));
            let rank_of = keys[0].clone();
            let within = match key {
                None => id_after,
                Some(index) => beyond(keys[index].clone(), anchors[index].clone())
                    .or(keys[index].clone().eq(anchors[index].clone()).and(id_after)),
            };
            beyond(rank_of.clone(), Expr::val(rank)).or(rank_of.eq(Expr::val(rank)).and(within))
        }
    })
}

/// The position's value as a literal of the sort column's type (compared as the order compares
/// the column: an enum as text); `None` when the column cannot hold it.
fn anchor_literal(
    pg_schema: &str,
    table: &Table,
    field: &str,
    pg_type: &PgType,
    value: &Value,
) -> Option<Expr> {
    if let (PgType::Array(element), Value::Array(elements)) = (pg_type, value) {
        // Each element must fit; the array is then read by PostgreSQL's own conversion from
        // JSON to the column's type, the inverse of the `to_jsonb` it came from.
        if !elements.iter().all(|element_value| {
            element_value.is_null() || scalar_literal(element, element_value).is_some()
        }) {
            return None;
        }
        let column = table.column_for_field(field)?;
        let mut record = serde_json::Map::new();
        record.insert(column.name.clone(), value.clone());
        return Some(Expr::cust_with_exprs(
            format!(
                "(jsonb_populate_record(CAST(NULL AS {}.{}), $1)).{}",
                crate::quote_identifier(pg_schema),
                crate::quote_identifier(&table.name),
                crate::quote_identifier(&column.name)
            ),
            [json_literal(&Value::Object(record))],
        ));
    }
    scalar_literal(pg_type, value)
}

/// A scalar of a column of `pg_type`, as `to_jsonb` writes it, as a typed literal.
fn scalar_literal(pg_type: &PgType, value: &Value) -> Option<Expr> {
    let special = |text: &str, specials: &[&str], type_name: &str| {
        specials
            .contains(&text)
            .then(|| Expr::val(text.to_owned()).cast_as(Alias::new(type_name)))
    };
    const INFINITIES: &[&str] = &["infinity", "-infinity"];
    const NOT_NUMBERS: &[&str] = &["NaN", "Infinity", "-Infinity"];
    match (pg_type, value) {
        (PgType::Text | PgType::Varchar(_) | PgType::Enum(_), Value::String(text)) => {
            Some(Expr::val(text.clone()))
        }
        (PgType::Uuid, Value::String(text)) if is_uuid(text) => {
            Some(Expr::val(text.clone()).cast_as(Alias::new("uuid")))
        }
        (PgType::Smallint | PgType::Integer | PgType::Bigint, Value::Number(number)) => {
            number.as_i64().map(Expr::val)
        }
        (PgType::Real | PgType::DoublePrecision | PgType::Numeric(_), Value::Number(number)) => {
            number
                .as_f64()
                .filter(|float| float.is_finite())
                .map(|_| number_literal(number))
        }
        (PgType::Real, Value::String(text)) => special(text, NOT_NUMBERS, "real"),
        (PgType::DoublePrecision, Value::String(text)) => special(text, NOT_NUMBERS, "float8"),
        (PgType::Numeric(_), Value::String(text)) => special(text, NOT_NUMBERS, "numeric"),
        (PgType::Boolean, Value::Bool(flag)) => Some(Expr::val(*flag)),
        (PgType::Timestamptz, Value::String(text)) => special(text, INFINITIES, "timestamptz")
            .or_else(|| {
                let moment = offbase_model::time::parse_timestamp(text)?;
                let utc = moment.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                Some(Expr::val(utc).cast_as(Alias::new("timestamptz")))
            }),
        (PgType::Timestamp, Value::String(text)) => {
            special(text, INFINITIES, "timestamp").or_else(|| {
                let moment = offbase_model::time::parse_timestamp(text)?;
                let utc = moment.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
                Some(Expr::val(utc).cast_as(Alias::new("timestamp")))
            })
        }
        (PgType::Date, Value::String(text)) => special(text, INFINITIES, "date").or_else(|| {
            let date = offbase_model::time::parse_date(text)?;
            Some(Expr::val(date.format("%Y-%m-%d").to_string()).cast_as(Alias::new("date")))
        }),
        (PgType::Time, Value::String(text)) => {
            let time = offbase_model::time::parse_time(text)?;
            Some(Expr::val(time.format("%H:%M:%S%.6f").to_string()).cast_as(Alias::new("time")))
        }
        (PgType::Jsonb | PgType::Json, value) => Some(json_literal(value)),
        _ => None,
    }
}

/// A UUID in the form PostgreSQL writes one (`8-4-4-4-12` hexadecimal digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.bytes().all(|byte| byte.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod page_tests {
    //! The generated SQL of keyset pages, written out in full (inline snapshots). The serve
    //! tests (`crates/offbase-serve/tests/pages.rs`) run them against PostgreSQL and the
    //! emulator.

    use super::*;
    use offbase_base44::query::{parse_filter, parse_sort};
    use offbase_model::{BuiltIn, Column};
    use serde_json::json;

    fn column(name: &str, source: ColumnSource, pg_type: PgType) -> Column {
        Column {
            name: name.to_owned(),
            field: (source != ColumnSource::Extra).then(|| name.to_owned()),
            source,
            pg_type,
            not_null: false,
            default: None,
            check: None,
        }
    }

    /// A task table: built-ins, typed fields, an enum, an array and `_extra`.
    fn table() -> Table {
        Table {
            entity: "Task".to_owned(),
            name: "task".to_owned(),
            columns: vec![
                column("id", ColumnSource::BuiltIn(BuiltIn::Id), PgType::Text),
                column(
                    "created_date",
                    ColumnSource::BuiltIn(BuiltIn::CreatedDate),
                    PgType::Timestamptz,
                ),
                column("title", ColumnSource::Field, PgType::Text),
                column(
                    "status",
                    ColumnSource::Field,
                    PgType::Enum("task_status".to_owned()),
                ),
                column("priority", ColumnSource::Field, PgType::Integer),
                column("due_date", ColumnSource::Field, PgType::Date),
                column(
                    "tags",
                    ColumnSource::Field,
                    PgType::Array(Box::new(PgType::Text)),
                ),
                column("_extra", ColumnSource::Extra, PgType::Jsonb),
            ],
            primary_key: vec!["id".to_owned()],
            primary_key_name: "task_pkey".to_owned(),
            junction: None,
        }
    }

    fn sort(text: &str) -> Sort {
        match parse_sort(text) {
            Ok(Some(sort)) => sort,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn page(sort_text: &str, after: Option<(Value, &str)>) -> Result<String, PageError> {
        let after = after.map(|(value, id)| PagePosition::new(value, id));
        page_sql(
            "app",
            &table(),
            &Filter::all(),
            &sort(sort_text),
            after.as_ref(),
            8,
        )
    }

    const FROM: &str = r#"AS "row" FROM "app"."task" AS "t""#;

    fn select(sort_value: &str) -> String {
        format!(
            r#"SELECT to_jsonb("t") || jsonb_build_object('$page', jsonb_build_array({sort_value}, "id")) {FROM}"#
        )
    }

    #[test]
    fn a_first_page_orders_by_the_sort_then_the_id_the_same_way() -> Result<(), PageError> {
        assert_eq!(
            page("-created_date", None)?,
            format!(
                r#"{} ORDER BY "created_date" DESC NULLS LAST, "id" COLLATE "C" DESC LIMIT 8"#,
                select(r#""created_date""#)
            )
        );
        let filter =
            parse_filter(&json!({"status": "done"})).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            page_sql("app", &table(), &filter, &sort("status"), None, 3)?,
            format!(
                r#"{} WHERE (CAST("status" AS text)) = 'done' ORDER BY CAST("status" AS text) ASC NULLS FIRST, "id" COLLATE "C" ASC LIMIT 3"#,
                select(r#"CAST("status" AS text)"#)
            )
        );
        Ok(())
    }

    #[test]
    fn a_later_page_starts_after_the_position_nulls_included() -> Result<(), PageError> {
        let expected = [
            // Ascending, after a value: greater, or equal with a greater id (nulls came first).
            (
                "priority",
                json!(2),
                r#""priority" > 2 OR ("priority" = 2 AND ("id" COLLATE "C") > 'b') ORDER BY "priority" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
            ),
            // Ascending, after a null: the other nulls by id, then every value.
            (
                "priority",
                Value::Null,
                r#""priority" IS NOT NULL OR ("id" COLLATE "C") > 'b' ORDER BY "priority" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
            ),
            // Descending, after a value: smaller, or equal with a smaller id, or null (last).
            (
                "-due_date",
                json!("2025-10-01"),
                r#""due_date" < CAST('2025-10-01' AS date) OR ("due_date" = CAST('2025-10-01' AS date) AND ("id" COLLATE "C") < 'b') OR "due_date" IS NULL ORDER BY "due_date" DESC NULLS LAST, "id" COLLATE "C" DESC"#,
            ),
            // Descending, after a null: only the nulls with a smaller id.
            (
                "-due_date",
                Value::Null,
                r#""due_date" IS NULL AND ("id" COLLATE "C") < 'b' ORDER BY "due_date" DESC NULLS LAST, "id" COLLATE "C" DESC"#,
            ),
            // A timestamp as `to_jsonb` writes it, to the microsecond.
            (
                "created_date",
                json!("2025-09-23T07:40:56.525+00:00"),
                r#""created_date" > CAST('2025-09-23T07:40:56.525000Z' AS timestamptz) OR ("created_date" = CAST('2025-09-23T07:40:56.525000Z' AS timestamptz) AND ("id" COLLATE "C") > 'b') ORDER BY "created_date" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
            ),
            // An enum compares as its text.
            (
                "-status",
                json!("done"),
                r#"(CAST("status" AS text)) < 'done' OR ((CAST("status" AS text)) = 'done' AND ("id" COLLATE "C") < 'b') OR (CAST("status" AS text)) IS NULL ORDER BY CAST("status" AS text) DESC NULLS LAST, "id" COLLATE "C" DESC"#,
            ),
            // An array is read back by PostgreSQL's conversion from JSON to the column's type.
            (
                "tags",
                json!(["a", "it's"]),
                r#""tags" > ((jsonb_populate_record(CAST(NULL AS "app"."task"), CAST(E'{"tags":["a","it\'s"]}' AS jsonb)))."tags") OR ("tags" = ((jsonb_populate_record(CAST(NULL AS "app"."task"), CAST(E'{"tags":["a","it\'s"]}' AS jsonb)))."tags") AND ("id" COLLATE "C") > 'b') ORDER BY "tags" ASC NULLS FIRST, "id" COLLATE "C" ASC"#,
            ),
        ];
        for (sort_text, value, clauses) in expected {
            let sql = page(sort_text, Some((value, "b")))?;
            let column = sort(sort_text).field;
            let sort_value = if column == "status" {
                r#"CAST("status" AS text)"#.to_owned()
            } else {
                format!("\"{column}\"")
            };
            assert_eq!(
                sql,
                format!("{} WHERE {clauses} LIMIT 8", select(&sort_value)),
                "{sort_text}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_filter_and_the_position_both_hold() -> Result<(), PageError> {
        let filter = parse_filter(&json!({"$or": [{"status": "done"}, {"priority": 1}]}))
            .unwrap_or_else(|error| panic!("{error}"));
        let after = PagePosition::new(json!(2), "b");
        assert_eq!(
            page_sql("app", &table(), &filter, &sort("priority"), Some(&after), 8)?,
            format!(
                r#"{} WHERE ((CAST("status" AS text)) = 'done' OR "priority" = 1) AND ("priority" > 2 OR ("priority" = 2 AND ("id" COLLATE "C") > 'b')) ORDER BY "priority" ASC NULLS FIRST, "id" COLLATE "C" ASC LIMIT 8"#,
                select(r#""priority""#)
            )
        );
        Ok(())
    }

    #[test]
    fn a_field_kept_in_json_pages_by_kind_then_value() -> Result<(), PageError> {
        let document = r#"("_extra" #> CAST('{"sprint"}' AS text[]))"#;
        let rank = |of: &str| {
            format!(
                "CASE jsonb_typeof({of}) WHEN 'number' THEN 1 WHEN 'string' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END"
            )
        };
        let text = |of: &str| {
            format!(
                r#"CASE WHEN jsonb_typeof({of}) = 'string' THEN ({of} #>> '{{}}') COLLATE "C" END"#
            )
        };
        let order = |direction: &str| {
            format!(
                r#"ORDER BY {rank} {direction}, CASE WHEN jsonb_typeof({document}) = 'number' THEN CAST({document} AS numeric) END {direction}, {text} {direction}, CASE WHEN jsonb_typeof({document}) = 'boolean' THEN CAST({document} AS boolean) END {direction}, CASE WHEN jsonb_typeof({document}) IN ('array', 'object') THEN {document} END {direction}, "id" COLLATE "C" {direction}"#,
                rank = rank(document),
                text = text(document),
            )
        };
        // After a string: a later kind, or a string after it, or the same string and a later id.
        let anchor = r#"CAST('"2025-S4"' AS jsonb)"#;
        assert_eq!(
            page("sprint", Some((json!("2025-S4"), "b")))?,
            format!(
                r#"{select} WHERE ({rank}) > 2 OR (({rank}) = 2 AND (({text}) > ({anchor_text}) OR (({text}) = ({anchor_text}) AND ("id" COLLATE "C") > 'b'))) {order} LIMIT 8"#,
                select = select(document),
                rank = rank(document),
                text = text(document),
                anchor_text = text(anchor),
                order = order("ASC"),
            )
        );
        // Descending after a missing value (null, kind 0, last): the other missing by id.
        assert_eq!(
            page("-sprint", Some((Value::Null, "b")))?,
            format!(
                r#"{select} WHERE ({rank}) < 0 OR (({rank}) = 0 AND ("id" COLLATE "C") < 'b') {order} LIMIT 8"#,
                select = select(document),
                rank = rank(document),
                order = order("DESC"),
            )
        );
        Ok(())
    }

    #[test]
    fn a_field_nowhere_pages_by_id() -> Result<(), PageError> {
        let mut table = table();
        table.columns.retain(|column| column.name != "_extra");
        let after = PagePosition::new(Value::Null, "b");
        assert_eq!(
            page_sql(
                "app",
                &table,
                &Filter::all(),
                &sort("-nowhere"),
                Some(&after),
                2
            )?,
            format!(
                r#"{} WHERE ("id" COLLATE "C") < 'b' ORDER BY "id" COLLATE "C" DESC LIMIT 2"#,
                select("NULL")
            )
        );
        let after = PagePosition::new(json!(1), "b");
        assert!(matches!(
            page_sql(
                "app",
                &table,
                &Filter::all(),
                &sort("nowhere"),
                Some(&after),
                2
            ),
            Err(PageError::Position { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_position_the_column_cannot_hold_is_refused() {
        let refused = [
            ("priority", json!("2; DROP TABLE task")),
            ("priority", json!(2.5)),
            ("created_date", json!("yesterday")),
            ("due_date", json!(20_251_001)),
            ("title", json!(["a"])),
            ("tags", json!([1])),
            ("tags", json!("a")),
        ];
        for (sort_text, value) in refused {
            let result = page(sort_text, Some((value.clone(), "b")));
            assert!(
                matches!(result, Err(PageError::Position { .. })),
                "{sort_text} after {value}: {result:?}"
            );
        }
    }

    #[test]
    fn a_row_gives_its_position_back() {
        let mut row = json!({"id": "b", "title": "x", PAGE_POSITION_KEY: ["x", "b"]});
        assert_eq!(
            take_page_position(&mut row),
            Some(PagePosition::new(json!("x"), "b"))
        );
        assert_eq!(row, json!({"id": "b", "title": "x"}));
        assert_eq!(take_page_position(&mut row), None);
        let mut odd = json!({PAGE_POSITION_KEY: [1]});
        assert_eq!(take_page_position(&mut odd), None);
    }
}
