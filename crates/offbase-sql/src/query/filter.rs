//! A Base44 filter as a PostgreSQL condition: the operators (`$eq`, `$in`, `$gt`, `$regex`, ...)
//! on a located value ([`Target`]), with the platform's semantics the module doc of `query`
//! lists (null-matching negations, operands of another kind, instants, array elements).

use super::{Target, TranslateError, column_value, resolve};
use offbase_base44::query::{Condition, Filter, Operator, instant};
use offbase_model::{PgType, Table};
use sea_query::{Alias, Expr, ExprTrait};
use serde_json::Value;

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

pub(super) fn number_literal(number: &serde_json::Number) -> Expr {
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
pub(super) fn json_literal(value: &Value) -> Expr {
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
fn json_equal(document: Expr, value: &Value) -> Expr {
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
