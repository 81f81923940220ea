//! The Base44 entity query language: the MongoDB-like filter `q` and the `sort` parameter of the
//! entity REST API. Owns parsing them ([`parse_filter`], [`parse_filter_str`], [`parse_sort`])
//! into a small public AST ([`Filter`], [`Condition`], [`Operator`], [`Sort`]), evaluating that
//! AST against records held in memory ([`Filter::matches`], [`Sort::compare`]) and the value
//! order both rely on ([`compare_values`]). Pure: no I/O.
//!
//! Semantics, MongoDB-like:
//! - a field path may be dotted (`address.city`): each segment steps into a nested object;
//! - equality (`{"f": v}`, `$eq`, `$in`, `$all`) also matches an array field holding an element
//!   equal to `v`; `null` matches a null or missing field; `$ne` and `$nin` match missing fields;
//! - numbers compare numerically (`1` equals `1.0`); two strings that both read as timestamps
//!   (`YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH:MM]`, UTC when no offset) compare as instants,
//!   so `2026-06-01T09:23:41.481000` equals `2026-06-01T09:23:41.481Z`;
//! - `$gt`, `$gte`, `$lt`, `$lte` only compare values of one kind (numbers, strings or
//!   booleans); on an array field any element may satisfy them;
//! - `$regex` supports a subset of regular expressions (see [`Operator::Regex`]) and rejects
//!   anything beyond it with [`QueryError::UnsupportedRegex`] rather than mis-matching.

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::fmt;

/// A parsed filter `q`: the AST, evaluated by [`Filter::matches`].
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every filter matches (`$and`, or several keys in one object). Empty: matches everything.
    And(Vec<Filter>),
    /// At least one filter matches (`$or`).
    Or(Vec<Filter>),
    /// No filter matches (`$nor`).
    Nor(Vec<Filter>),
    /// A condition on one field.
    Field {
        /// Field name, possibly dotted (`address.city`) to reach into nested objects.
        path: String,
        /// What the field's value must satisfy.
        condition: Condition,
    },
}

/// What a field's value must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Equal to this value (`{"field": value}`); `null` means "null or missing".
    Eq(Value),
    /// Every operator holds (`{"field": {"$gt": 1, "$lt": 5}}`).
    Ops(Vec<Operator>),
}

/// One operator of an operator object, in the order the query wrote them.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `$eq`: same as a plain value.
    Eq(Value),
    /// `$ne`: not equal; matches a missing field.
    Ne(Value),
    /// `$gt`: greater, values of the same kind only.
    Gt(Value),
    /// `$gte`: greater or equal, values of the same kind only (`null`: null or missing).
    Gte(Value),
    /// `$lt`: less, values of the same kind only.
    Lt(Value),
    /// `$lte`: less or equal, values of the same kind only (`null`: null or missing).
    Lte(Value),
    /// `$in`: equal to one of the values.
    In(Vec<Value>),
    /// `$nin`: equal to none of the values; matches a missing field.
    Nin(Vec<Value>),
    /// `$exists`: the field is present (even if null) when `true`, missing when `false`.
    Exists(bool),
    /// `$regex` with its `$options`: the string field (or a string element of an array field)
    /// contains a match. Supported: literal text, `^`, `$`, `.`, `*`, `+`, `?`, `{n}`, `{n,}`,
    /// `{n,m}` (lazy `*?` and the like accepted), `|`, groups `(...)` and `(?:...)`, classes
    /// `[abc]`, `[a-z]`, `[^x]`, escapes `\d \w \s \D \W \S \t \n \r \f \v \xHH \uHHHH` and escaped
    /// punctuation. Options: `i` (case-insensitive), `m` (`^`/`$` at line breaks too), `s` (`.`
    /// matches a line break). `$` matches only at the very end of the text (or of a line with
    /// `m`).
    Regex {
        /// The pattern text.
        pattern: String,
        /// Option letters, possibly empty.
        options: String,
    },
    /// `$not`: the condition does not hold; matches a missing field.
    Not(Box<Condition>),
    /// `$all`: equal to every value (an array field containing all of them). Empty: no match.
    All(Vec<Value>),
    /// `$size`: an array field with exactly this many elements.
    Size(u64),
}

/// A parsed `sort` parameter: one field, ascending or descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// Field name, possibly dotted.
    pub field: String,
    /// `true` for `-field`.
    pub descending: bool,
}

/// Why a query or sort could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The filter text is not JSON.
    #[error("the query is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// Where a filter object was expected, something else was found.
    #[error("{context} must be a JSON object, found {found}")]
    NotAnObject {
        /// What should have been an object.
        context: String,
        /// The kind of value found.
        found: &'static str,
    },
    /// A `$` key that is not a known operator, or not allowed where it is.
    #[error("unknown operator `{operator}` {}", location(.field.as_deref()))]
    UnknownOperator {
        /// The key, `$` included.
        operator: String,
        /// The field it applies to; `None` at the top level of a filter object.
        field: Option<String>,
    },
    /// An operator with an operand of the wrong type.
    #[error("operator `{operator}` {} needs {expected}, found {found}", location(.field.as_deref()))]
    InvalidOperand {
        /// The operator, `$` included.
        operator: String,
        /// The field it applies to; `None` for `$and`, `$or`, `$nor`.
        field: Option<String>,
        /// What the operand must be.
        expected: &'static str,
        /// What it was.
        found: String,
    },
    /// An object value mixing `$` keys and plain keys.
    #[error("the value of field `{field}` mixes operators (keys starting with `$`) and plain keys")]
    MixedOperators {
        /// The field.
        field: String,
    },
    /// `$options` without `$regex` next to it.
    #[error("`$options` on field `{field}` needs a `$regex` next to it")]
    OptionsWithoutRegex {
        /// The field.
        field: String,
    },
    /// A field path that is empty or has an empty segment (`a..b`).
    #[error("invalid field path `{path}`")]
    InvalidPath {
        /// The path as written.
        path: String,
    },
    /// A malformed regular expression (unbalanced parenthesis, nothing to repeat...).
    #[error("invalid regular expression `{pattern}`: {reason}")]
    InvalidRegex {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A regular expression or option beyond the supported subset (see [`Operator::Regex`]).
    #[error("unsupported regular expression `{pattern}`: {reason}")]
    UnsupportedRegex {
        /// The pattern.
        pattern: String,
        /// The construct or option not supported.
        reason: String,
    },
    /// A `sort` that is not `field`, `+field` or `-field`.
    #[error("invalid sort `{text}`: {reason}")]
    InvalidSort {
        /// The sort parameter as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn location(field: Option<&str>) -> String {
    match field {
        Some(field) => format!("on field `{field}`"),
        None => "at the top level".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing filters
// ---------------------------------------------------------------------------------------------

/// Parses a filter given as JSON text (the `q` parameter).
pub fn parse_filter_str(q: &str) -> Result<Filter, QueryError> {
    let value: Value = serde_json::from_str(q).map_err(QueryError::InvalidJson)?;
    parse_filter(&value)
}

/// Parses a filter given as a JSON value, which must be an object. `{}` matches everything.
pub fn parse_filter(q: &Value) -> Result<Filter, QueryError> {
    match q {
        Value::Object(map) => parse_document(map),
        other => Err(QueryError::NotAnObject {
            context: "the query".to_owned(),
            found: offbase_model::json_kind(other),
        }),
    }
}

impl Filter {
    /// The filter matching every record (an empty [`Filter::And`]).
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Whether `record` satisfies the filter.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        match self {
            Filter::And(filters) => filters.iter().all(|filter| filter.matches(record)),
            Filter::Or(filters) => filters.iter().any(|filter| filter.matches(record)),
            Filter::Nor(filters) => !filters.iter().any(|filter| filter.matches(record)),
            Filter::Field { path, condition } => condition.matches(resolve(record, path)),
        }
    }
}

fn parse_document(map: &Map<String, Value>) -> Result<Filter, QueryError> {
    let mut clauses = Vec::with_capacity(map.len());
    for (key, value) in map {
        let clause = match key.as_str() {
            "$and" => Filter::And(parse_list(key, value)?),
            "$or" => Filter::Or(parse_list(key, value)?),
            "$nor" => Filter::Nor(parse_list(key, value)?),
            operator if operator.starts_with('$') => {
                return Err(QueryError::UnknownOperator {
                    operator: operator.to_owned(),
                    field: None,
                });
            }
            field => {
                check_path(field)?;
                Filter::Field {
                    path: field.to_owned(),
                    condition: parse_condition(field, value)?,
                }
            }
        };
        clauses.push(clause);
    }
    Ok(match <[Filter; 1]>::try_from(clauses) {
        Ok([only]) => only,
        Err(clauses) => Filter::And(clauses),
    })
}

fn parse_list(operator: &str, value: &Value) -> Result<Vec<Filter>, QueryError> {
    let invalid = |found: String| QueryError::InvalidOperand {
        operator: operator.to_owned(),
        field: None,
        expected: "a non-empty array of objects",
        found,
    };
    let Value::Array(items) = value else {
        return Err(invalid(offbase_model::json_kind(value).to_owned()));
    };
    if items.is_empty() {
        return Err(invalid("an empty array".to_owned()));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => parse_document(map),
            other => Err(invalid(format!(
                "an array holding {}",
                offbase_model::json_kind(other)
            ))),
        })
        .collect()
}

fn check_path(path: &str) -> Result<(), QueryError> {
    if path.split('.').any(str::is_empty) {
        return Err(QueryError::InvalidPath {
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn parse_condition(field: &str, value: &Value) -> Result<Condition, QueryError> {
    match value {
        Value::Object(map) if map.keys().any(|key| key.starts_with('$')) => {
            if !map.keys().all(|key| key.starts_with('$')) {
                return Err(QueryError::MixedOperators {
                    field: field.to_owned(),
                });
            }
            Ok(Condition::Ops(parse_operators(field, map)?))
        }
        other => Ok(Condition::Eq(other.clone())),
    }
}

fn parse_operators(field: &str, map: &Map<String, Value>) -> Result<Vec<Operator>, QueryError> {
    let invalid =
        |operator: &str, expected: &'static str, value: &Value| QueryError::InvalidOperand {
            operator: operator.to_owned(),
            field: Some(field.to_owned()),
            expected,
            found: offbase_model::json_kind(value).to_owned(),
        };
    let array = |operator: &str, value: &Value| match value {
        Value::Array(items) => Ok(items.clone()),
        other => Err(invalid(operator, "an array", other)),
    };
    let options = match map.get("$options") {
        None if map.contains_key("$regex") => Some(String::new()),
        None => None,
        Some(_) if !map.contains_key("$regex") => {
            return Err(QueryError::OptionsWithoutRegex {
                field: field.to_owned(),
            });
        }
        Some(Value::String(options)) => Some(options.clone()),
        Some(other) => return Err(invalid("$options", "a string", other)),
    };

    let mut operators = Vec::with_capacity(map.len());
    for (key, value) in map {
        let operator = match key.as_str() {
            "$eq" => Operator::Eq(value.clone()),
            "$ne" => Operator::Ne(value.clone()),
            "$gt" => Operator::Gt(value.clone()),
            "$gte" => Operator::Gte(value.clone()),
            "$lt" => Operator::Lt(value.clone()),
            "$lte" => Operator::Lte(value.clone()),
            "$in" => Operator::In(array(key, value)?),
            "$nin" => Operator::Nin(array(key, value)?),
            "$all" => Operator::All(array(key, value)?),
            "$exists" => match value {
                Value::Bool(exists) => Operator::Exists(*exists),
                other => return Err(invalid(key, "a boolean", other)),
            },
            "$size" => match size(value) {
                Some(size) => Operator::Size(size),
                None => return Err(invalid(key, "a non-negative integer", value)),
            },
            "$regex" => match value {
                Value::String(pattern) => {
                    let options = options.clone().unwrap_or_default();
                    Regex::new(pattern, &options)?;
                    Operator::Regex {
                        pattern: pattern.clone(),
                        options,
                    }
                }
                other => return Err(invalid(key, "a string", other)),
            },
            "$options" => continue,
            "$not" => match value {
                Value::String(pattern) => {
                    Regex::new(pattern, "")?;
                    Operator::Not(Box::new(Condition::Ops(vec![Operator::Regex {
                        pattern: pattern.clone(),
                        options: String::new(),
                    }])))
                }
                Value::Object(inner)
                    if !inner.is_empty() && inner.keys().all(|key| key.starts_with('$')) =>
                {
                    Operator::Not(Box::new(Condition::Ops(parse_operators(field, inner)?)))
                }
                other => {
                    return Err(invalid(
                        key,
                        "an operator object or a regular expression string",
                        other,
                    ));
                }
            },
            unknown => {
                return Err(QueryError::UnknownOperator {
                    operator: unknown.to_owned(),
                    field: Some(field.to_owned()),
                });
            }
        };
        operators.push(operator);
    }
    Ok(operators)
}

fn size(value: &Value) -> Option<u64> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(size) = number.as_u64() {
        return Some(size);
    }
    let float = number.as_f64()?;
    // Exactly integral and in range, so the cast is lossless.
    (float >= 0.0 && float.fract() == 0.0 && float < 1e15).then_some(float as u64)
}

// ---------------------------------------------------------------------------------------------
// Evaluating filters
// ---------------------------------------------------------------------------------------------

/// The value at a dotted path, `None` when missing (or when a step is not an object).
fn resolve<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = record.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

impl Condition {
    fn matches(&self, field: Option<&Value>) -> bool {
        match self {
            Condition::Eq(target) => equals(field, target),
            Condition::Ops(operators) => operators.iter().all(|operator| operator.matches(field)),
        }
    }
}

impl Operator {
    fn matches(&self, field: Option<&Value>) -> bool {
        match self {
            Operator::Eq(target) => equals(field, target),
            Operator::Ne(target) => !equals(field, target),
            Operator::Gt(target) => compares(field, target, Ordering::is_gt),
            Operator::Gte(Value::Null) | Operator::Lte(Value::Null) => equals(field, &Value::Null),
            Operator::Gte(target) => compares(field, target, Ordering::is_ge),
            Operator::Lt(target) => compares(field, target, Ordering::is_lt),
            Operator::Lte(target) => compares(field, target, Ordering::is_le),
            Operator::In(targets) => targets.iter().any(|target| equals(field, target)),
            Operator::Nin(targets) => !targets.iter().any(|target| equals(field, target)),
            Operator::Exists(exists) => field.is_some() == *exists,
            Operator::Regex { pattern, options } => match Regex::new(pattern, options) {
                Ok(regex) => any_element(field, |value| {
                    value.as_str().is_some_and(|text| regex.is_match(text))
                }),
                Err(_) => false,
            },
            Operator::Not(condition) => !condition.matches(field),
            Operator::All(targets) => {
                !targets.is_empty() && targets.iter().all(|target| equals(field, target))
            }
            Operator::Size(size) => {
                matches!(field, Some(Value::Array(items)) if items.len() as u64 == *size)
            }
        }
    }
}

/// Whether the field's value, or for an array field one of its elements, satisfies `test`.
fn any_element(field: Option<&Value>, test: impl Fn(&Value) -> bool) -> bool {
    match field {
        None => false,
        Some(value) => {
            test(value) || matches!(value, Value::Array(items) if items.iter().any(&test))
        }
    }
}

fn equals(field: Option<&Value>, target: &Value) -> bool {
    match field {
        None => target.is_null(),
        Some(_) => any_element(field, |value| values_equal(value, target)),
    }
}

fn compares(field: Option<&Value>, target: &Value, accept: fn(Ordering) -> bool) -> bool {
    any_element(field, |value| {
        compare_same_kind(value, target).is_some_and(accept)
    })
}

/// Equality consistent with [`compare_values`]: numbers numerically, timestamps by instant,
/// arrays element by element, objects by key regardless of key order.
fn values_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(left), Value::Bool(right)) => left == right,
        (Value::Number(left), Value::Number(right)) => compare_numbers(left, right).is_eq(),
        (Value::String(left), Value::String(right)) => compare_strings(left, right).is_eq(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| values_equal(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, left)| {
                    right
                        .get(key)
                        .is_some_and(|right| values_equal(left, right))
                })
        }
        _ => false,
    }
}

/// The order `$gt` and friends use: numbers, strings and booleans with their own kind only.
fn compare_same_kind(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => Some(compare_numbers(left, right)),
        (Value::String(left), Value::String(right)) => Some(compare_strings(left, right)),
        (Value::Bool(left), Value::Bool(right)) => Some(left.cmp(right)),
        _ => None,
    }
}

/// Strings: as instants when both read as timestamps, else by code point.
fn compare_strings(left: &str, right: &str) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    match (instant(left), instant(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        _ => left.cmp(right),
    }
}

fn compare_numbers(left: &serde_json::Number, right: &serde_json::Number) -> Ordering {
    match (exact_integer(left), exact_integer(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        _ => {
            let left = left.as_f64().unwrap_or(f64::NAN);
            let right = right.as_f64().unwrap_or(f64::NAN);
            left.total_cmp(&right)
        }
    }
}

/// The number as an exact integer: any `i64`/`u64`, or an integral float of moderate size.
fn exact_integer(number: &serde_json::Number) -> Option<i128> {
    if let Some(integer) = number.as_i64() {
        return Some(i128::from(integer));
    }
    if let Some(integer) = number.as_u64() {
        return Some(i128::from(integer));
    }
    let float = number.as_f64()?;
    // Integral and below 2^100 in magnitude, so the cast is exact.
    (float.fract() == 0.0 && float.abs() < 1.267_650_600_228_229_4e30).then_some(float as i128)
}

// ---------------------------------------------------------------------------------------------
// Ordering and sorting
// ---------------------------------------------------------------------------------------------

/// A total order over JSON values, for sorting and keyset paging: null, then numbers
/// (numerically), then strings, then booleans (`false` first), then arrays (element by element,
/// then by length), then objects (entries by key, then by length). Among strings, those that
/// read as timestamps come first, ordered by instant; the others follow by code point.
/// Returns `Equal` exactly when the values are equal as a filter's equality sees them.
pub fn compare_values(left: &Value, right: &Value) -> Ordering {
    let rank = |value: &Value| match value {
        Value::Null => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Bool(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => compare_numbers(left, right),
        (Value::String(left), Value::String(right)) => {
            if left == right {
                return Ordering::Equal;
            }
            match (instant(left), instant(right)) {
                (Some(left), Some(right)) => left.cmp(&right),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => left.cmp(right),
            }
        }
        (Value::Bool(left), Value::Bool(right)) => left.cmp(right),
        (Value::Array(left), Value::Array(right)) => left
            .iter()
            .zip(right)
            .map(|(left, right)| compare_values(left, right))
            .find(|order| order.is_ne())
            .unwrap_or_else(|| left.len().cmp(&right.len())),
        (Value::Object(left), Value::Object(right)) => {
            let (left, right) = (sorted_entries(left), sorted_entries(right));
            left.iter()
                .zip(&right)
                .map(|((left_key, left), (right_key, right))| {
                    left_key
                        .cmp(right_key)
                        .then_with(|| compare_values(left, right))
                })
                .find(|order| order.is_ne())
                .unwrap_or_else(|| left.len().cmp(&right.len()))
        }
        _ => rank(left).cmp(&rank(right)),
    }
}

fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    entries
}

/// Parses a `sort` parameter: `field` or `+field` (ascending), `-field` (descending). Blank
/// gives `None`. Surrounding spaces are ignored (a `+` left unencoded in a URL arrives as one).
pub fn parse_sort(text: &str) -> Result<Option<Sort>, QueryError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let invalid = |reason| QueryError::InvalidSort {
        text: text.to_owned(),
        reason,
    };
    let (descending, field) = if let Some(field) = trimmed.strip_prefix('-') {
        (true, field)
    } else if let Some(field) = trimmed.strip_prefix('+') {
        (false, field)
    } else {
        (false, trimmed)
    };
    if field.is_empty() {
        return Err(invalid("no field name after the sign"));
    }
    if field.starts_with(['+', '-']) {
        return Err(invalid("more than one sign"));
    }
    if field.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(invalid("only one field name is allowed"));
    }
    if field.split('.').any(str::is_empty) {
        return Err(invalid("empty segment in the field path"));
    }
    Ok(Some(Sort {
        field: field.to_owned(),
        descending,
    }))
}

impl Sort {
    /// Compares two records by the sort field with [`compare_values`] (a missing field counts
    /// as null, so it comes first ascending and last descending). Ties are `Equal`: callers add
    /// their own tiebreak (usually `id`).
    pub fn compare(&self, left: &Map<String, Value>, right: &Map<String, Value>) -> Ordering {
        let left = resolve(left, &self.field).unwrap_or(&Value::Null);
        let right = resolve(right, &self.field).unwrap_or(&Value::Null);
        let order = compare_values(left, right);
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

impl fmt::Display for Sort {
    /// The `sort` parameter text: `field` or `-field`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.descending {
            formatter.write_str("-")?;
        }
        formatter.write_str(&self.field)
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

/// Reads `YYYY-MM-DD[(T|t| )HH:MM[:SS[.fraction]]][Z|z|±HH:MM|±HHMM]` (UTC unless an offset is
/// given) as (seconds since 1970-01-01T00:00:00Z, nanoseconds). `None` for anything else,
/// impossible dates and times included. This is what makes a string an instant to the filter
/// and the sort; a translation of them to SQL must read operands the same way.
pub fn instant(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    let mut cursor = Cursor { bytes, at: 0 };
    let year = cursor.digits(4)?;
    cursor.literal(b'-')?;
    let month = cursor.digits(2)?;
    cursor.literal(b'-')?;
    let day = cursor.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if cursor.done() {
        return Some((days * 86_400, 0));
    }
    match cursor.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = cursor.digits(2)?;
    cursor.literal(b':')?;
    let minute = cursor.digits(2)?;
    let mut second = 0;
    let mut nanos = 0;
    if cursor.peek() == Some(b':') {
        cursor.at += 1;
        second = cursor.digits(2)?;
        if cursor.peek() == Some(b'.') {
            cursor.at += 1;
            let mut count = 0;
            while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
                if count < 9 {
                    nanos = nanos * 10 + u32::from(digit - b'0');
                }
                count += 1;
                cursor.at += 1;
            }
            if count == 0 {
                return None;
            }
            for _ in count..9 {
                nanos *= 10;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset = match cursor.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cursor.digits(2)?;
            if cursor.peek() == Some(b':') {
                cursor.at += 1;
            }
            let minutes = cursor.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3_600 + minutes * 60;
            if sign == b'-' { -offset } else { offset }
        }
        Some(_) => return None,
    };
    if !cursor.done() {
        return None;
    }
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some((seconds, nanos))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn literal(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let mut value = 0;
        for _ in 0..count {
            let byte = self.next().filter(u8::is_ascii_digit)?;
            value = value * 10 + i64::from(byte - b'0');
        }
        Some(value)
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

// ---------------------------------------------------------------------------------------------
// Regular expressions
// ---------------------------------------------------------------------------------------------

/// Largest `{n,m}` bound and program size accepted, to keep matching cheap.
const MAX_REPEAT: u32 = 1_000;
const MAX_PROGRAM: usize = 20_000;

/// A compiled regular expression: a Thompson NFA run by a Pike VM (linear time, no
/// backtracking blow-up). Unanchored: matches when any substring matches.
#[derive(Debug)]
struct Regex {
    program: Vec<Instruction>,
    case_insensitive: bool,
    multiline: bool,
    dot_all: bool,
}

#[derive(Debug, Clone)]
enum Instruction {
    Char(char),
    Any,
    Class(Class),
    Split(usize, usize),
    Jump(usize),
    Start,
    End,
    Match,
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<ClassItem>,
}

#[derive(Debug, Clone, Copy)]
enum ClassItem {
    Range(char, char),
    /// `\d`, or `\D` when `true`.
    Digit(bool),
    /// `\w`, or `\W` when `true`.
    Word(bool),
    /// `\s`, or `\S` when `true`.
    Space(bool),
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Start,
    End,
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

impl Regex {
    fn new(pattern: &str, options: &str) -> Result<Regex, QueryError> {
        let mut regex = Regex {
            program: Vec::new(),
            case_insensitive: false,
            multiline: false,
            dot_all: false,
        };
        for option in options.chars() {
            match option {
                'i' => regex.case_insensitive = true,
                'm' => regex.multiline = true,
                's' => regex.dot_all = true,
                other => {
                    return Err(QueryError::UnsupportedRegex {
                        pattern: pattern.to_owned(),
                        reason: format!("option `{other}` is not supported (only i, m, s)"),
                    });
                }
            }
        }
        let mut parser = RegexParser {
            pattern,
            chars: pattern.chars().collect(),
            at: 0,
        };
        let node = parser.alternation()?;
        if parser.at < parser.chars.len() {
            // Only an unmatched `)` stops the top-level alternation early.
            return Err(parser.invalid("unmatched `)`"));
        }
        parser.emit(&node, &mut regex.program)?;
        regex.program.push(Instruction::Match);
        Ok(regex)
    }

    fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut seen = vec![usize::MAX; self.program.len()];
        let mut current = Vec::new();
        let mut next = Vec::new();
        for at in 0..=chars.len() {
            // A new attempt starts at every position: the search is unanchored.
            if self.add(&mut current, &mut seen, 0, at, &chars) {
                return true;
            }
            let Some(&character) = chars.get(at) else {
                break;
            };
            for &pc in &current {
                let consumes = match &self.program[pc] {
                    Instruction::Char(expected) => self.same_char(*expected, character),
                    Instruction::Any => self.dot_all || character != '\n',
                    Instruction::Class(class) => self.in_class(class, character),
                    _ => false,
                };
                if consumes && self.add(&mut next, &mut seen, pc + 1, at + 1, &chars) {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
        false
    }

    /// Adds `pc` and every state reachable from it without consuming input to `list`; `true`
    /// when that reaches the final state.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        pc: usize,
        at: usize,
        chars: &[char],
    ) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if seen[pc] == at {
                continue;
            }
            seen[pc] = at;
            match &self.program[pc] {
                Instruction::Jump(target) => stack.push(*target),
                Instruction::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Instruction::Start => {
                    if at == 0 || (self.multiline && chars.get(at - 1) == Some(&'\n')) {
                        stack.push(pc + 1);
                    }
                }
                Instruction::End => {
                    if at == chars.len() || (self.multiline && chars.get(at) == Some(&'\n')) {
                        stack.push(pc + 1);
                    }
                }
                Instruction::Match => return true,
                Instruction::Char(_) | Instruction::Any | Instruction::Class(_) => list.push(pc),
            }
        }
        false
    }

    fn same_char(&self, expected: char, actual: char) -> bool {
        expected == actual || (self.case_insensitive && fold_case(expected) == fold_case(actual))
    }

    fn in_class(&self, class: &Class, character: char) -> bool {
        let candidates = if self.case_insensitive {
            [character, fold_case(character), upper_case(character)]
        } else {
            [character; 3]
        };
        let found = class.items.iter().any(|item| match *item {
            ClassItem::Range(low, high) => candidates
                .iter()
                .any(|candidate| (low..=high).contains(candidate)),
            ClassItem::Digit(negated) => character.is_ascii_digit() != negated,
            ClassItem::Word(negated) => {
                (character.is_ascii_alphanumeric() || character == '_') != negated
            }
            ClassItem::Space(negated) => is_space(character) != negated,
        });
        found != class.negated
    }
}

fn fold_case(character: char) -> char {
    let mut lower = character.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn upper_case(character: char) -> char {
    let mut upper = character.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn is_space(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

struct RegexParser<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    at: usize,
}

impl RegexParser<'_> {
    fn invalid(&self, reason: impl Into<String>) -> QueryError {
        QueryError::InvalidRegex {
            pattern: self.pattern.to_owned(),
            reason: reason.into(),
        }
    }

    fn unsupported(&self, reason: impl Into<String>) -> QueryError {
        QueryError::UnsupportedRegex {
            pattern: self.pattern.to_owned(),
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let character = self.peek()?;
        self.at += 1;
        Some(character)
    }

    fn alternation(&mut self) -> Result<Node, QueryError> {
        let mut branches = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.at += 1;
            branches.push(self.sequence()?);
        }
        Ok(match <[Node; 1]>::try_from(branches) {
            Ok([only]) => only,
            Err(branches) => Node::Alternation(branches),
        })
    }

    fn sequence(&mut self) -> Result<Node, QueryError> {
        let mut nodes = Vec::new();
        while let Some(character) = self.peek() {
            if character == '|' || character == ')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.quantified(atom)?);
        }
        Ok(match nodes.len() {
            0 => Node::Empty,
            _ => Node::Concat(nodes),
        })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, QueryError> {
        let Some((min, max)) = self.quantifier()? else {
            return Ok(atom);
        };
        if matches!(atom, Node::Start | Node::End) {
            return Err(self.invalid("nothing to repeat before a quantifier"));
        }
        match self.peek() {
            // Lazy: changes which match is found, never whether one is.
            Some('?') => self.at += 1,
            Some('+') => return Err(self.unsupported("possessive quantifiers")),
            _ => {}
        }
        if self.quantifier_ahead() {
            return Err(self.invalid("a quantifier cannot follow another one"));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }

    fn quantifier_ahead(&self) -> bool {
        matches!(self.peek(), Some('*' | '+' | '?')) || self.counted_at(self.at).is_some()
    }

    /// Reads `*`, `+`, `?` or `{n}`, `{n,}`, `{n,m}` as (min, max).
    fn quantifier(&mut self) -> Result<Option<Bounds>, QueryError> {
        let bounds = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.counted_at(self.at) {
                Some((bounds, end)) => {
                    self.at = end;
                    let (min, max) = bounds;
                    if max.is_some_and(|max| max < min) {
                        return Err(self.invalid("`{n,m}` with m smaller than n"));
                    }
                    if min > MAX_REPEAT || max.is_some_and(|max| max > MAX_REPEAT) {
                        return Err(
                            self.unsupported(format!("repetition counts above {MAX_REPEAT}"))
                        );
                    }
                    return Ok(Some(bounds));
                }
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.at += 1;
        Ok(Some(bounds))
    }

    /// A counted quantifier starting at `start` (on a `{`): its bounds and the index after it.
    fn counted_at(&self, start: usize) -> Option<(Bounds, usize)> {
        if self.chars.get(start) != Some(&'{') {
            return None;
        }
        let mut at = start + 1;
        let number = |at: &mut usize| -> Option<u32> {
            let begin = *at;
            let mut value: u32 = 0;
            while let Some(digit) = self.chars.get(*at).and_then(|c| c.to_digit(10)) {
                value = value.saturating_mul(10).saturating_add(digit);
                *at += 1;
            }
            (*at > begin).then_some(value)
        };
        let min = number(&mut at)?;
        let max = match self.chars.get(at) {
            Some('}') => Some(min),
            Some(',') => {
                at += 1;
                let max = number(&mut at);
                if self.chars.get(at) != Some(&'}') {
                    return None;
                }
                max
            }
            _ => return None,
        };
        Some(((min, max), at + 1))
    }

    fn atom(&mut self) -> Result<Node, QueryError> {
        let Some(character) = self.next() else {
            return Err(self.invalid("unexpected end"));
        };
        match character {
            '.' => Ok(Node::Any),
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '[' => self.class(),
            '\\' => self.escape(),
            '(' => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.at + 1) == Some(&':') {
                        self.at += 2;
                    } else {
                        return Err(self.unsupported(
                            "group modifiers, lookaround and named groups (`(?...)`)",
                        ));
                    }
                }
                let inner = self.alternation()?;
                if self.next() != Some(')') {
                    return Err(self.invalid("unclosed `(`"));
                }
                Ok(inner)
            }
            '*' | '+' | '?' => Err(self.invalid(format!("nothing to repeat before `{character}`"))),
            '{' => {
                if self.counted_at(self.at - 1).is_some() {
                    Err(self.invalid("nothing to repeat before `{`"))
                } else {
                    Err(self.unsupported("a literal `{` must be escaped as `\\{`"))
                }
            }
            other => Ok(Node::Char(other)),
        }
    }

    fn escape(&mut self) -> Result<Node, QueryError> {
        match self.escaped()? {
            Escaped::Char(character) => Ok(Node::Char(character)),
            Escaped::Class(item) => Ok(Node::Class(Class {
                negated: false,
                items: vec![item],
            })),
        }
    }

    /// Reads what follows a `\` (already consumed).
    fn escaped(&mut self) -> Result<Escaped, QueryError> {
        let Some(character) = self.next() else {
            return Err(self.invalid("trailing `\\`"));
        };
        Ok(match character {
            'd' => Escaped::Class(ClassItem::Digit(false)),
            'D' => Escaped::Class(ClassItem::Digit(true)),
            'w' => Escaped::Class(ClassItem::Word(false)),
            'W' => Escaped::Class(ClassItem::Word(true)),
            's' => Escaped::Class(ClassItem::Space(false)),
            'S' => Escaped::Class(ClassItem::Space(true)),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\u{c}'),
            'v' => Escaped::Char('\u{b}'),
            '0' if !self.peek().is_some_and(|next| next.is_ascii_digit()) => Escaped::Char('\0'),
            'x' => Escaped::Char(self.hex_escape('x')?),
            'u' => Escaped::Char(self.hex_escape('u')?),
            other if other.is_ascii_digit() => {
                return Err(
                    self.unsupported(format!("back-references and octal escapes (`\\{other}`)"))
                );
            }
            other if other.is_ascii_alphanumeric() => {
                return Err(self.unsupported(format!("the escape `\\{other}`")));
            }
            other => Escaped::Char(other),
        })
    }

    /// `\xHH`, `\x{H...}` or `\uHHHH`, after the letter.
    fn hex_escape(&mut self, letter: char) -> Result<char, QueryError> {
        let braced = letter == 'x' && self.peek() == Some('{');
        let digits: String = if braced {
            self.at += 1;
            let begin = self.at;
            while self.peek().is_some_and(|c| c != '}') {
                self.at += 1;
            }
            if self.next() != Some('}') {
                return Err(self.invalid("unclosed `\\x{`"));
            }
            self.chars[begin..self.at - 1].iter().collect()
        } else {
            let count = if letter == 'x' { 2 } else { 4 };
            let end = (self.at + count).min(self.chars.len());
            let digits: String = self.chars[self.at..end].iter().collect();
            self.at = end;
            if digits.chars().count() != count {
                return Err(self.invalid(format!("`\\{letter}` needs {count} hex digits")));
            }
            digits
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| !digits.is_empty() && digits.len() <= 6)
            .and_then(char::from_u32)
            .ok_or_else(|| self.invalid(format!("bad hex escape `\\{letter}{digits}`")))
    }

    /// A character class, after its `[`.
    fn class(&mut self) -> Result<Node, QueryError> {
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let Some(character) = self.next() else {
                return Err(self.invalid("unclosed `[`"));
            };
            let item = match character {
                ']' if !first => break,
                '[' if matches!(self.peek(), Some(':' | '.' | '=')) => {
                    return Err(self.unsupported("POSIX classes like `[:alpha:]`"));
                }
                '\\' => match self.escaped()? {
                    Escaped::Char(character) => ClassItem::Range(character, character),
                    Escaped::Class(item) => item,
                },
                other => ClassItem::Range(other, other),
            };
            first = false;
            let ranged = self.peek() == Some('-')
                && self.chars.get(self.at + 1).is_some_and(|&next| next != ']');
            match item {
                ClassItem::Range(low, _) if ranged => {
                    self.at += 1;
                    let high = match self.next() {
                        Some('\\') => match self.escaped()? {
                            Escaped::Char(character) => character,
                            Escaped::Class(_) => {
                                return Err(self.invalid("a range cannot end in a class escape"));
                            }
                        },
                        Some(character) => character,
                        None => return Err(self.invalid("unclosed `[`")),
                    };
                    if high < low {
                        return Err(self.invalid(format!("range `{low}-{high}` out of order")));
                    }
                    items.push(ClassItem::Range(low, high));
                }
                _ if ranged => {
                    return Err(self.invalid("a range cannot start with a class escape"));
                }
                item => items.push(item),
            }
        }
        Ok(Node::Class(Class { negated, items }))
    }

    fn emit(&self, node: &Node, program: &mut Vec<Instruction>) -> Result<(), QueryError> {
        if program.len() > MAX_PROGRAM {
            return Err(self.unsupported("the pattern is too large"));
        }
        match node {
            Node::Empty => {}
            Node::Char(character) => program.push(Instruction::Char(*character)),
            Node::Any => program.push(Instruction::Any),
            Node::Class(class) => program.push(Instruction::Class(class.clone())),
            Node::Start => program.push(Instruction::Start),
            Node::End => program.push(Instruction::End),
            Node::Concat(nodes) => {
                for node in nodes {
                    self.emit(node, program)?;
                }
            }
            Node::Alternation(branches) => {
                let mut jumps = Vec::new();
                let last = branches.len().saturating_sub(1);
                for (index, branch) in branches.iter().enumerate() {
                    if index == last {
                        self.emit(branch, program)?;
                    } else {
                        let split = program.len();
                        program.push(Instruction::Split(split + 1, 0));
                        self.emit(branch, program)?;
                        jumps.push(program.len());
                        program.push(Instruction::Jump(0));
                        program[split] = Instruction::Split(split + 1, program.len());
                    }
                }
                let end = program.len();
                for jump in jumps {
                    program[jump] = Instruction::Jump(end);
                }
            }
            Node::Repeat { node, min, max } => {
                for _ in 0..*min {
                    self.emit(node, program)?;
                }
                match max {
                    None => {
                        let split = program.len();
                        program.push(Instruction::Split(split + 1, 0));
                        self.emit(node, program)?;
                        program.push(Instruction::Jump(split));
                        program[split] = Instruction::Split(split + 1, program.len());
                    }
                    Some(max) => {
                        for _ in *min..*max {
                            let split = program.len();
                            program.push(Instruction::Split(split + 1, 0));
                            self.emit(node, program)?;
                            program[split] = Instruction::Split(split + 1, program.len());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Repetition bounds: (min, max), `None` for no maximum.
type Bounds = (u32, Option<u32>);

enum Escaped {
    Char(char),
    Class(ClassItem),
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn regex(pattern: &str, options: &str, text: &str) -> Result<bool, QueryError> {
        Ok(Regex::new(pattern, options)?.is_match(text))
    }

    #[test]
    fn instants_of_every_form() {
        assert_eq!(instant("1970-01-01"), Some((0, 0)));
        assert_eq!(instant("1970-01-02T00:00:01Z"), Some((86_401, 0)));
        assert_eq!(instant("1969-12-31T23:59:59"), Some((-1, 0)));
        assert_eq!(instant("2000-03-01"), Some((951_868_800, 0)));
        assert_eq!(
            instant("2026-06-01T09:23:41.481000"),
            instant("2026-06-01T09:23:41.481Z")
        );
        assert_eq!(
            instant("2026-06-01T09:23:41.5"),
            Some((1_780_305_821, 500_000_000))
        );
        assert_eq!(
            instant("2026-06-01T11:23:41+02:00"),
            instant("2026-06-01T09:23:41Z")
        );
        assert_eq!(
            instant("2026-06-01T07:23-0200"),
            instant("2026-06-01T09:23:00")
        );
        assert_eq!(
            instant("2026-06-01 09:23:41"),
            instant("2026-06-01T09:23:41")
        );
        assert_eq!(
            instant("2026-06-01T09:23:41.123456789123"),
            instant("2026-06-01T09:23:41.123456789")
        );
        assert_eq!(instant("2024-02-29"), Some((1_709_164_800, 0)));
    }

    #[test]
    fn not_instants() {
        for text in [
            "",
            "2026",
            "2026-06",
            "2026-6-01",
            "2026-13-01",
            "2025-02-29",
            "2026-04-31",
            "2026-06-01T",
            "2026-06-01T9:23",
            "2026-06-01T24:00",
            "2026-06-01T09:60",
            "2026-06-01T09:23:61",
            "2026-06-01T09:23:41.",
            "2026-06-01T09:23:41Zx",
            "2026-06-01T09:23:41+2",
            "2026-06-01Z",
            "hello",
            "２０２６-06-01",
        ] {
            assert_eq!(instant(text), None, "{text}");
        }
    }

    #[test]
    fn regex_basics() -> TestResult {
        assert!(regex("abc", "", "xxabcxx")?);
        assert!(!regex("abd", "", "xxabcxx")?);
        assert!(regex("^ab", "", "abc")?);
        assert!(!regex("^bc", "", "abc")?);
        assert!(regex("bc$", "", "abc")?);
        assert!(!regex("ab$", "", "abc")?);
        assert!(regex("^$", "", "")?);
        assert!(regex("a.c", "", "abc")?);
        assert!(!regex("a.c", "", "a\nc")?);
        assert!(regex("a.c", "s", "a\nc")?);
        assert!(regex("^ab*c$", "", "ac")?);
        assert!(regex("^ab+c$", "", "abbbc")?);
        assert!(!regex("^ab+c$", "", "ac")?);
        assert!(regex("^ab?c$", "", "abc")?);
        assert!(!regex("^ab?c$", "", "abbc")?);
        assert!(regex("^a{2,3}$", "", "aaa")?);
        assert!(!regex("^a{2,3}$", "", "aaaa")?);
        assert!(regex("^a{2}$", "", "aa")?);
        assert!(regex("^a{2,}$", "", "aaaaa")?);
        assert!(regex("^(ab|cd)+$", "", "abcdab")?);
        assert!(!regex("^(ab|cd)+$", "", "abce")?);
        assert!(regex("^(?:x|)y$", "", "y")?);
        assert!(regex("^a*?b$", "", "aab")?);
        assert!(regex("^(a*)*$", "", &"a".repeat(200))?);
        assert!(!regex("^(a*)*b$", "", &"a".repeat(2_000))?);
        Ok(())
    }

    #[test]
    fn regex_classes_and_escapes() -> TestResult {
        assert!(regex("^[abc]+$", "", "cab")?);
        assert!(!regex("^[abc]+$", "", "cad")?);
        assert!(regex("^[a-z0-9_]+$", "", "user_42")?);
        assert!(regex("^[^x]+$", "", "abc")?);
        assert!(!regex("^[^x]+$", "", "axc")?);
        assert!(regex("^[]a]+$", "", "]a")?);
        assert!(regex("^[a-]+$", "", "a-")?);
        assert!(regex("^[\\d.]+$", "", "1.5")?);
        assert!(regex("^\\d+\\.\\d+$", "", "1.25")?);
        assert!(!regex("^\\d+\\.\\d+$", "", "1x25")?);
        assert!(regex("^\\w+\\s\\w+$", "", "hello world")?);
        assert!(regex("^\\D\\W\\S$", "", "a-b")?);
        assert!(regex("^\\x41\\u00e9\\x{1F600}$", "", "Aé😀")?);
        assert!(regex(
            "\\(\\)\\[\\]\\{\\}\\*\\+\\?\\|\\^\\$\\\\",
            "",
            "()[]{}*+?|^$\\"
        )?);
        assert!(regex("^é+$", "", "ééé")?);
        Ok(())
    }

    #[test]
    fn regex_options() -> TestResult {
        assert!(regex("^hello$", "i", "HeLLo")?);
        assert!(!regex("^hello$", "", "HeLLo")?);
        assert!(regex("^[a-c]+$", "i", "ABC")?);
        assert!(!regex("^[^a]$", "i", "A")?);
        assert!(regex("^ÉTÉ$", "i", "été")?);
        assert!(regex("^two$", "m", "one\ntwo\nthree")?);
        assert!(!regex("^two$", "", "one\ntwo\nthree")?);
        Ok(())
    }

    #[test]
    fn regex_rejections() {
        for (pattern, options) in [
            ("(?=a)", ""),
            ("(?i)a", ""),
            ("(a)\\1", ""),
            ("\\bword", ""),
            ("\\p{L}", ""),
            ("a*+", ""),
            ("[[:alpha:]]", ""),
            ("a{", ""),
            ("a{1001}", ""),
            ("a", "x"),
            ("a", "u"),
        ] {
            assert!(
                matches!(
                    Regex::new(pattern, options),
                    Err(QueryError::UnsupportedRegex { .. })
                ),
                "{pattern} /{options}"
            );
        }
        for pattern in [
            "(a", "a)", "*a", "a**", "a|*", "[abc", "[z-a]", "\\", "^*", "a{3,2}", "\\x4", "\\xZZ",
            "[\\d-z]",
        ] {
            assert!(
                matches!(
                    Regex::new(pattern, ""),
                    Err(QueryError::InvalidRegex { .. })
                ),
                "{pattern}"
            );
        }
    }

    #[test]
    fn numbers_compare_exactly() {
        let number = |value: Value| match value {
            Value::Number(number) => number,
            _ => serde_json::Number::from(0),
        };
        let cases = [
            (
                serde_json::json!(1),
                serde_json::json!(1.0),
                Ordering::Equal,
            ),
            (
                serde_json::json!(-1),
                serde_json::json!(-0.5),
                Ordering::Less,
            ),
            (
                serde_json::json!(u64::MAX),
                serde_json::json!(i64::MAX),
                Ordering::Greater,
            ),
            (
                serde_json::json!(9_007_199_254_740_993_i64),
                serde_json::json!(9_007_199_254_740_992.0),
                Ordering::Greater,
            ),
            (
                serde_json::json!(2.5),
                serde_json::json!(2),
                Ordering::Greater,
            ),
            (
                serde_json::json!(1e300),
                serde_json::json!(u64::MAX),
                Ordering::Greater,
            ),
        ];
        for (left, right, expected) in cases {
            assert_eq!(
                compare_numbers(&number(left.clone()), &number(right.clone())),
                expected,
                "{left} vs {right}"
            );
        }
    }
}
