//! The SDK's `aggregate(spec)` (`@base44/sdk` 0.8.50: `POST .../entities/{Entity}/aggregate`
//! with the spec as the body): the spec read and checked against the entity's schema
//! ([`AggregateSpec::parse`]), and its evaluation over records held in memory ([`evaluate`],
//! or [`Groups`] fed one record at a time, which keeps only the groups). The answer is
//! [`AggregateResult`]: `{"rows": [...], "truncated": bool}`. Pure: no I/O. The emulator
//! evaluates specs here; `offbase_sql::aggregate` translates the same [`AggregateSpec`] to one
//! PostgreSQL `SELECT ... GROUP BY`, and [`AggregateSpec::finish`] shapes its rows alike.
//!
//! What the SDK documents: `query` (a filter, as `filter()` takes), `groupBy` (a field or up to
//! four), `dateBucket {field, unit}` (`created_date`/`updated_date` by `day`, `week`, `month`
//! or `year`; date fields of the schema by `day`, `month` or `year`), `count` (default `true`),
//! `sum`/`avg`/`min`/`max` (a field or fields, as `sum_<field>` ...), `countDistinct` (as
//! `count_distinct_<field>`), `having` (a filter on the computed fields), `sort` (a computed or
//! group field, `-` for descending), `limit` (up to 1000, default 1000); the server groups the
//! records the caller can read. What it leaves open is decided here, the same for the emulator
//! and `offbase serve`:
//!
//! - **Rows.** One per group: the date bucket first (under the name of `dateBucket.field`),
//!   then the `groupBy` fields in the order given (each under its own name, dotted paths
//!   included), then `count`, the `sum_`, `avg_`, `min_`, `max_` and `count_distinct_` fields,
//!   each kind in the order given. Without `groupBy` and `dateBucket`: exactly one row, the
//!   total, even over no records (`count` 0).
//! - **The bucket** is the first day of the period, as an ISO date text (`2025-09-01` for the
//!   month of September 2025), computed in UTC: a timestamp is taken to UTC first, a date is its
//!   own day. A week starts on Monday (ISO 8601). A value that reads as no date (missing,
//!   null, not a date text) falls in the `null` bucket. `week` on a date field of the schema is
//!   refused, as documented; a field of format `date-time` of the schema counts as a date field.
//! - **Group values.** Null and missing make one group, whose key is `null`. Values group as
//!   the filter's equality sees them (`1` and `1.0` together; two texts of one instant
//!   together, under the first one met in id order). An array groups as the whole array (it is
//!   not unwound).
//! - **Numbers.** `sum` adds the values that are JSON numbers and ignores the others (text,
//!   booleans, null, missing): the field must be declared `number` or `integer`, but stored
//!   records may break their schema, and a sum over such data should not fail. A sum of no
//!   numbers is `0` (MongoDB's `$sum`). `avg` of no numbers is `null`. `min`/`max` ignore
//!   null and missing and order values as the filter does ([`compare_values`]); they take
//!   `number`, `integer` and `string` fields only. `count_distinct_` counts the distinct
//!   non-null values. Every number in a row is written as an integer when it is integral and
//!   within ±2^53 (`6` rather than `6.0`), else as a float ([`normalize_number`]), so both
//!   backends answer the same JSON.
//! - **Order.** Without `sort`: by the group keys ascending, in row order (bucket, then the
//!   `groupBy` fields), nulls first, values ordered as the filter orders them
//!   ([`compare_values`]). With `sort`: by that row field (nulls first ascending, last
//!   descending), ties by the group keys ascending. `sort` and `having` name row fields only.
//! - **Limit.** A whole number from 1; above 1000 it is cut to 1000, as the list cut is silent.
//!   `truncated` is true when more groups (after `having`) exist than `limit` let through.
//! - **Errors** (400, naming what is wrong): a body that is no JSON object; a key the spec does
//!   not have; a value of the wrong type; a field the entity does not have (declared fields,
//!   the built-ins, and for dotted paths a first segment that is an object or free JSON field);
//!   more than four `groupBy` fields; a field listed twice; `sum`/`avg` on a field that is not
//!   `number`/`integer`; `min`/`max` on one that is not `number`/`integer`/`string`;
//!   `dateBucket` on a field that is not a date; a unit that is not `day`, `week`, `month`,
//!   `year`; two row fields of one name (a `groupBy` field called `count`, the bucket field in
//!   `groupBy` too); `having` or `sort` on a name that is not a row field; an invalid filter.
//! - A `null` value of a spec key is the key left out (`JSON.stringify` keeps `null`).

use crate::query::{Filter, QueryError, Sort, compare_values, instant, parse_filter, parse_sort};
use chrono::{Datelike, NaiveDate};
use offbase_model::{BuiltIn, Entity, Field, FieldKind};
use serde_json::{Map, Number, Value};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// The most `groupBy` fields.
pub const MAX_GROUP_FIELDS: usize = 4;
/// The most rows one aggregate answers, and the default `limit`.
pub const MAX_LIMIT: usize = 1000;

/// A record, as held in memory.
type Record = Map<String, Value>;

/// The period of a [`DateBucket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketUnit {
    Day,
    /// ISO weeks, from Monday.
    Week,
    Month,
    Year,
}

impl BucketUnit {
    /// The unit as the spec (and PostgreSQL's `date_trunc`) names it.
    pub fn key(self) -> &'static str {
        match self {
            BucketUnit::Day => "day",
            BucketUnit::Week => "week",
            BucketUnit::Month => "month",
            BucketUnit::Year => "year",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => BucketUnit::Day,
            "week" => BucketUnit::Week,
            "month" => BucketUnit::Month,
            "year" => BucketUnit::Year,
            _ => return None,
        })
    }

    /// The first day of the period holding `date`.
    pub fn start(self, date: NaiveDate) -> NaiveDate {
        match self {
            BucketUnit::Day => date,
            BucketUnit::Week => date
                .checked_sub_days(chrono::Days::new(u64::from(
                    date.weekday().num_days_from_monday(),
                )))
                .unwrap_or(date),
            BucketUnit::Month => date.with_day(1).unwrap_or(date),
            BucketUnit::Year => date.with_ordinal(1).unwrap_or(date),
        }
    }
}

/// `dateBucket`: group by the period a date field's value falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateBucket {
    pub field: String,
    pub unit: BucketUnit,
}

impl DateBucket {
    /// The bucket of a field value: the first day of its period, in UTC, as `YYYY-MM-DD`;
    /// `null` for a value that reads as no date or timestamp.
    pub fn key(&self, value: Option<&Value>) -> Value {
        let Some(Value::String(text)) = value else {
            return Value::Null;
        };
        let Some((seconds, nanos)) = instant(text) else {
            return Value::Null;
        };
        match chrono::DateTime::from_timestamp(seconds, nanos) {
            Some(moment) => Value::String(
                self.unit
                    .start(moment.date_naive())
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
            None => Value::Null,
        }
    }
}

/// What a measure computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Function {
    Sum,
    Avg,
    Min,
    Max,
    CountDistinct,
}

impl Function {
    /// In row order.
    pub const ALL: [Function; 5] = [
        Function::Sum,
        Function::Avg,
        Function::Min,
        Function::Max,
        Function::CountDistinct,
    ];

    /// The spec key.
    pub fn key(self) -> &'static str {
        match self {
            Function::Sum => "sum",
            Function::Avg => "avg",
            Function::Min => "min",
            Function::Max => "max",
            Function::CountDistinct => "countDistinct",
        }
    }

    /// The prefix of the row field.
    pub fn prefix(self) -> &'static str {
        match self {
            Function::Sum => "sum_",
            Function::Avg => "avg_",
            Function::Min => "min_",
            Function::Max => "max_",
            Function::CountDistinct => "count_distinct_",
        }
    }
}

/// One computed field: `function` over `field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub function: Function,
    pub field: String,
}

impl Measure {
    /// Its row field: `sum_<field>` ...
    pub fn name(&self) -> String {
        format!("{}{}", self.function.prefix(), self.field)
    }
}

/// An aggregate spec, read and checked against the entity ([`AggregateSpec::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    /// The records taken (`query`); [`Filter::all`] without one.
    pub query: Filter,
    /// `groupBy`, in the order given.
    pub group_by: Vec<String>,
    pub date_bucket: Option<DateBucket>,
    /// Whether rows carry `count`.
    pub count: bool,
    /// The computed fields other than `count`, in row order (sums, averages, minimums,
    /// maximums, distinct counts; each kind in the order given).
    pub measures: Vec<Measure>,
    /// On the rows, after grouping.
    pub having: Option<Filter>,
    /// On a row field.
    pub sort: Option<Sort>,
    /// From 1 to [`MAX_LIMIT`].
    pub limit: usize,
}

/// Why a spec was refused (a 400, naming what is wrong).
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("the aggregate spec must be a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error(
        "unknown key `{key}` in the aggregate spec: the keys are query, groupBy, dateBucket, \
         count, sum, avg, min, max, countDistinct, having, sort and limit"
    )]
    UnknownKey { key: String },
    #[error("`{key}` must be {expected}, found {found}")]
    InvalidValue {
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error("`{key}` names `{field}`, which is no field of {entity}")]
    UnknownField {
        key: String,
        field: String,
        entity: String,
    },
    #[error("`groupBy` takes at most {MAX_GROUP_FIELDS} fields, found {count}")]
    TooManyGroupFields { count: usize },
    #[error("`{key}` lists `{field}` twice")]
    Repeated { key: String, field: String },
    #[error("`{key}` needs a field of type {expected}; `{field}` is {kind}")]
    WrongKind {
        key: String,
        field: String,
        expected: &'static str,
        kind: String,
    },
    #[error(
        "`dateBucket.field` must be a date field (created_date, updated_date, or a field of \
         format date or date-time); `{field}` is not"
    )]
    NotADateField { field: String },
    #[error(
        "`dateBucket.unit` must be day, week, month or year, found {unit}{}",
        if *.date_field { " (a date field of the schema takes day, month or year)" } else { "" }
    )]
    InvalidUnit { unit: String, date_field: bool },
    #[error("two row fields are named `{name}`: rename a group field or leave one out")]
    NameClash { name: String },
    #[error("`{key}` names `{name}`, which is not a field of the rows (they hold {available})")]
    NotARowField {
        key: String,
        name: String,
        available: String,
    },
    #[error("invalid `{key}`: {source}")]
    Filter {
        key: &'static str,
        #[source]
        source: QueryError,
    },
}

/// What a field is, as far as the spec checks go.
enum Kind {
    /// `created_date`, `updated_date`: a bucket of every unit.
    Stamp,
    /// Declared: its kind and format.
    Declared(FieldKind, Option<String>),
    /// Inside a free JSON field: unknown.
    Free,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Stamp => "a date-time".to_owned(),
            Kind::Declared(kind, _) => format!("of type {}", kind.key()),
            Kind::Free => "inside a free JSON field".to_owned(),
        }
    }
}

/// The field at `path` of `entity`: its kind, `None` when the entity has none there.
fn field_kind(entity: &Entity, path: &str) -> Option<Kind> {
    let mut segments = path.split('.');
    let first = segments.next()?;
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty()
        && (first == BuiltIn::CreatedDate.field_name()
            || first == BuiltIn::UpdatedDate.field_name())
    {
        return Some(Kind::Stamp);
    }
    let built_in = entity
        .built_ins()
        .into_iter()
        .find(|built_in| built_in.field_name() == first)
        .map(BuiltIn::field);
    let mut field: Field = entity.field(first).cloned().or(built_in)?;
    for segment in rest {
        match field.kind {
            FieldKind::Object => match &field.properties {
                Some(properties) => {
                    field = properties
                        .iter()
                        .find(|property| property.name == segment)?
                        .clone();
                }
                None => return Some(Kind::Free),
            },
            FieldKind::Any | FieldKind::Union(_) | FieldKind::Unknown(_) => {
                return Some(Kind::Free);
            }
            _ => return None,
        }
    }
    Some(Kind::Declared(field.kind, field.format))
}

/// The keys a spec may have.
const KEYS: [&str; 12] = [
    "query",
    "groupBy",
    "dateBucket",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "countDistinct",
    "having",
    "sort",
    "limit",
];

fn invalid(key: &str, expected: &'static str, value: &Value) -> AggregateError {
    AggregateError::InvalidValue {
        key: key.to_owned(),
        expected,
        found: offbase_model::json_kind(value).to_owned(),
    }
}

/// A field or a list of fields (`"a"` or `["a", "b"]`), none repeated, each known.
fn field_list(
    entity: &Entity,
    key: &str,
    value: Option<&Value>,
) -> Result<Vec<(String, Kind)>, AggregateError> {
    let names: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    };
    let mut fields: Vec<(String, Kind)> = Vec::new();
    for name in names {
        let Value::String(name) = name else {
            return Err(invalid(
                key,
                "a field name or an array of field names",
                name,
            ));
        };
        if name.is_empty() || name.split('.').any(str::is_empty) {
            return Err(AggregateError::InvalidValue {
                key: key.to_owned(),
                expected: "field names",
                found: format!("{name:?}"),
            });
        }
        if fields.iter().any(|(known, _)| known == name) {
            return Err(AggregateError::Repeated {
                key: key.to_owned(),
                field: name.clone(),
            });
        }
        let kind = field_kind(entity, name).ok_or_else(|| AggregateError::UnknownField {
            key: key.to_owned(),
            field: name.clone(),
            entity: entity.name.clone(),
        })?;
        fields.push((name.clone(), kind));
    }
    Ok(fields)
}

fn filter(key: &'static str, value: Option<&Value>) -> Result<Option<Filter>, AggregateError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse_filter(value)
            .map(Some)
            .map_err(|source| AggregateError::Filter { key, source }),
    }
}

/// Every field path a filter names.
fn filter_paths<'f>(filter: &'f Filter, paths: &mut Vec<&'f str>) {
    match filter {
        Filter::And(filters) | Filter::Or(filters) | Filter::Nor(filters) => {
            for filter in filters {
                filter_paths(filter, paths);
            }
        }
        Filter::Field { path, .. } => paths.push(path),
    }
}

impl AggregateSpec {
    /// Reads and checks a spec against `entity` (see the module's doc for every rule).
    pub fn parse(body: &Value, entity: &Entity) -> Result<Self, AggregateError> {
        let Value::Object(spec) = body else {
            return Err(AggregateError::NotAnObject {
                found: offbase_model::json_kind(body),
            });
        };
        if let Some(key) = spec.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(AggregateError::UnknownKey { key: key.clone() });
        }
        let query = filter("query", spec.get("query"))?.unwrap_or_else(Filter::all);

        let group_by: Vec<String> = field_list(entity, "groupBy", spec.get("groupBy"))?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if group_by.len() > MAX_GROUP_FIELDS {
            return Err(AggregateError::TooManyGroupFields {
                count: group_by.len(),
            });
        }

        let date_bucket = match spec.get("dateBucket") {
            None | Some(Value::Null) => None,
            Some(value) => Some(date_bucket(entity, value)?),
        };

        let count = match spec.get("count") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(count)) => *count,
            Some(other) => return Err(invalid("count", "a boolean", other)),
        };

        let mut measures = Vec::new();
        for function in Function::ALL {
            for (field, kind) in field_list(entity, function.key(), spec.get(function.key()))? {
                check_measure(function, &field, &kind)?;
                measures.push(Measure { function, field });
            }
        }

        let limit = match spec.get("limit") {
            None | Some(Value::Null) => MAX_LIMIT,
            Some(value) => read_limit(value)?,
        };

        let mut parsed = AggregateSpec {
            query,
            group_by,
            date_bucket,
            count,
            measures,
            having: None,
            sort: None,
            limit,
        };
        let names = parsed.output_names();
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                return Err(AggregateError::NameClash { name: name.clone() });
            }
        }
        let row_field = |key: &str, name: &str| {
            if names.iter().any(|known| known == name) {
                Ok(())
            } else {
                Err(AggregateError::NotARowField {
                    key: key.to_owned(),
                    name: name.to_owned(),
                    available: names.join(", "),
                })
            }
        };
        parsed.having = filter("having", spec.get("having"))?;
        if let Some(having) = &parsed.having {
            let mut paths = Vec::new();
            filter_paths(having, &mut paths);
            for path in paths {
                row_field("having", path)?;
            }
        }
        parsed.sort = match spec.get("sort") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                parse_sort(text).map_err(|source| AggregateError::Filter {
                    key: "sort",
                    source,
                })?
            }
            Some(other) => {
                return Err(invalid(
                    "sort",
                    "a row field name, `-` for descending",
                    other,
                ));
            }
        };
        if let Some(sort) = &parsed.sort {
            row_field("sort", &sort.field)?;
        }
        Ok(parsed)
    }

    /// The group keys' row fields, in row order: the bucket's, then the `groupBy` fields.
    pub fn keys(&self) -> Vec<&str> {
        self.date_bucket
            .iter()
            .map(|bucket| bucket.field.as_str())
            .chain(self.group_by.iter().map(String::as_str))
            .collect()
    }

    /// Every row field, in row order.
    pub fn output_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.keys().into_iter().map(str::to_owned).collect();
        if self.count {
            names.push("count".to_owned());
        }
        names.extend(self.measures.iter().map(Measure::name));
        names
    }

    /// Rows computed elsewhere (by PostgreSQL: ordered, filtered by `having`, at most
    /// `limit + 1` of them) as the answer: each row's fields in row order (missing ones null),
    /// numbers as [`normalize_number`] writes them, at most `limit` rows, `truncated` when
    /// there were more.
    pub fn finish(&self, rows: Vec<Map<String, Value>>) -> AggregateResult {
        let names = self.output_names();
        let truncated = rows.len() > self.limit;
        let rows = rows
            .into_iter()
            .take(self.limit)
            .map(|mut row| {
                names
                    .iter()
                    .map(|name| {
                        let value = row.remove(name).unwrap_or(Value::Null);
                        (name.clone(), normalize_number(value))
                    })
                    .collect()
            })
            .collect();
        AggregateResult { rows, truncated }
    }
}

fn date_bucket(entity: &Entity, value: &Value) -> Result<DateBucket, AggregateError> {
    let Value::Object(bucket) = value else {
        return Err(invalid(
            "dateBucket",
            "an object {\"field\": ..., \"unit\": ...}",
            value,
        ));
    };
    if let Some(key) = bucket
        .keys()
        .find(|key| !["field", "unit"].contains(&key.as_str()))
    {
        return Err(AggregateError::UnknownKey {
            key: format!("dateBucket.{key}"),
        });
    }
    let field = match bucket.get("field") {
        Some(Value::String(field)) => field.clone(),
        other => {
            return Err(invalid(
                "dateBucket.field",
                "a field name",
                other.unwrap_or(&Value::Null),
            ));
        }
    };
    let kind = field_kind(entity, &field).ok_or_else(|| AggregateError::UnknownField {
        key: "dateBucket.field".to_owned(),
        field: field.clone(),
        entity: entity.name.clone(),
    })?;
    let date_field = match &kind {
        Kind::Stamp => false,
        Kind::Declared(FieldKind::String, Some(format))
            if format == "date" || format == "date-time" =>
        {
            true
        }
        _ => return Err(AggregateError::NotADateField { field }),
    };
    let unit = match bucket.get("unit") {
        Some(Value::String(unit)) => unit,
        other => {
            return Err(invalid(
                "dateBucket.unit",
                "day, week, month or year",
                other.unwrap_or(&Value::Null),
            ));
        }
    };
    match BucketUnit::parse(unit) {
        Some(BucketUnit::Week) if date_field => Err(AggregateError::InvalidUnit {
            unit: format!("{unit:?} on `{field}`"),
            date_field,
        }),
        Some(unit) => Ok(DateBucket { field, unit }),
        None => Err(AggregateError::InvalidUnit {
            unit: format!("{unit:?}"),
            date_field,
        }),
    }
}

fn check_measure(function: Function, field: &str, kind: &Kind) -> Result<(), AggregateError> {
    let expected = match function {
        Function::CountDistinct => return Ok(()),
        Function::Sum | Function::Avg => "number or integer",
        Function::Min | Function::Max => "number, integer or string",
    };
    let fits = match kind {
        Kind::Stamp => matches!(function, Function::Min | Function::Max),
        Kind::Declared(FieldKind::Number | FieldKind::Integer, _) => true,
        Kind::Declared(FieldKind::String, _) => matches!(function, Function::Min | Function::Max),
        Kind::Declared(..) | Kind::Free => false,
    };
    if fits {
        Ok(())
    } else {
        Err(AggregateError::WrongKind {
            key: function.key().to_owned(),
            field: field.to_owned(),
            expected,
            kind: kind.describe(),
        })
    }
}

fn read_limit(value: &Value) -> Result<usize, AggregateError> {
    let wrong = || invalid("limit", "a whole number from 1 (at most 1000 rows)", value);
    let Value::Number(number) = value else {
        return Err(wrong());
    };
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(whole), _) => whole,
        // Integral and in range, so the cast is exact.
        (None, Some(float)) if float.fract() == 0.0 && (1.0..1e15).contains(&float) => float as u64,
        _ => return Err(wrong()),
    };
    if whole == 0 {
        return Err(wrong());
    }
    Ok(usize::try_from(whole).unwrap_or(usize::MAX).min(MAX_LIMIT))
}

/// An aggregate's answer: `{"rows": [...], "truncated": bool}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateResult {
    pub rows: Vec<Map<String, Value>>,
    /// More groups existed than `limit` let through.
    pub truncated: bool,
}

impl AggregateResult {
    /// The answer's JSON.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "rows".to_owned(),
            Value::Array(self.rows.iter().cloned().map(Value::Object).collect()),
        );
        body.insert("truncated".to_owned(), Value::Bool(self.truncated));
        Value::Object(body)
    }
}

/// The largest integer every `f64` integer up to is exact (2^53).
const EXACT: f64 = crate::EXACT_FLOAT_INTEGER;

/// A number as rows write it: integral and within ±2^53, an integer (`6`, not `6.0`);
/// otherwise as it is. Anything else is returned unchanged.
pub fn normalize_number(value: Value) -> Value {
    match &value {
        Value::Number(number) if number.as_i64().is_none() && number.as_u64().is_none() => {
            match number.as_f64() {
                // Integral and within ±2^53, so the cast is exact.
                Some(float) if float.fract() == 0.0 && float.abs() <= EXACT => {
                    Value::from(float as i64)
                }
                _ => value,
            }
        }
        _ => value,
    }
}

fn float_value(float: f64) -> Value {
    Number::from_f64(float).map_or(Value::Null, |number| {
        normalize_number(Value::Number(number))
    })
}

/// A JSON value ordered (and equal) as the filter orders values ([`compare_values`]).
#[derive(Debug, Clone)]
struct Ordered(Value);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_values(&self.0, &other.0)
    }
}

/// The value at a dotted path, `None` when missing.
fn resolve<'a>(record: &'a Record, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = record.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

/// One measure's running state.
#[derive(Debug, Clone)]
enum State {
    Sum {
        /// Exact sum of the integral values (`None` once it overflowed).
        whole: Option<i128>,
        /// Sum of the others, and of the integral ones past an overflow.
        fraction: f64,
        /// Whether any value was not integral.
        float: bool,
    },
    Avg {
        total: f64,
        numbers: u64,
    },
    Min(Option<Value>),
    Max(Option<Value>),
    Distinct(BTreeSet<Ordered>),
}

impl State {
    fn new(function: Function) -> Self {
        match function {
            Function::Sum => State::Sum {
                whole: Some(0),
                fraction: 0.0,
                float: false,
            },
            Function::Avg => State::Avg {
                total: 0.0,
                numbers: 0,
            },
            Function::Min => State::Min(None),
            Function::Max => State::Max(None),
            Function::CountDistinct => State::Distinct(BTreeSet::new()),
        }
    }

    fn add(&mut self, value: Option<&Value>) {
        let Some(value) = value.filter(|value| !value.is_null()) else {
            return;
        };
        match self {
            State::Sum {
                whole,
                fraction,
                float,
            } => {
                let Value::Number(number) = value else {
                    return;
                };
                match exact_integer(number) {
                    Some(integer) => match whole.and_then(|sum| sum.checked_add(integer)) {
                        Some(sum) => *whole = Some(sum),
                        None => {
                            *fraction += integer as f64;
                            *float = true;
                        }
                    },
                    None => {
                        *fraction += number.as_f64().unwrap_or(0.0);
                        *float = true;
                    }
                }
            }
            State::Avg { total, numbers } => {
                if let Some(number) = value.as_f64().filter(|_| value.is_number()) {
                    *total += number;
                    *numbers += 1;
                }
            }
            State::Min(least) => {
                if least
                    .as_ref()
                    .is_none_or(|least| compare_values(value, least).is_lt())
                {
                    *least = Some(value.clone());
                }
            }
            State::Max(most) => {
                if most
                    .as_ref()
                    .is_none_or(|most| compare_values(value, most).is_gt())
                {
                    *most = Some(value.clone());
                }
            }
            State::Distinct(values) => {
                values.insert(Ordered(value.clone()));
            }
        }
    }

    fn value(&self) -> Value {
        match self {
            State::Sum {
                whole,
                fraction,
                float,
            } => match (whole, float) {
                (Some(whole), false) => i64::try_from(*whole)
                    .map(Value::from)
                    .or_else(|_| u64::try_from(*whole).map(Value::from))
                    .unwrap_or_else(|_| float_value(*whole as f64)),
                (whole, _) => float_value(whole.map_or(0.0, |whole| whole as f64) + fraction),
            },
            State::Avg { total, numbers } => {
                if *numbers == 0 {
                    Value::Null
                } else {
                    float_value(total / *numbers as f64)
                }
            }
            State::Min(value) | State::Max(value) => {
                value.clone().map_or(Value::Null, normalize_number)
            }
            State::Distinct(values) => Value::from(values.len()),
        }
    }
}

/// The number as an exact integer: any `i64`/`u64`, or an integral float within ±2^53.
fn exact_integer(number: &Number) -> Option<i128> {
    if let Some(integer) = number.as_i64() {
        return Some(i128::from(integer));
    }
    if let Some(integer) = number.as_u64() {
        return Some(i128::from(integer));
    }
    let float = number.as_f64()?;
    // Integral and within ±2^53, so the cast is exact.
    (float.fract() == 0.0 && float.abs() <= EXACT).then_some(float as i128)
}

/// One group's running state.
#[derive(Debug, Clone)]
struct Group {
    count: u64,
    states: Vec<State>,
}

fn empty_group(spec: &AggregateSpec) -> Group {
    Group {
        count: 0,
        states: spec
            .measures
            .iter()
            .map(|measure| State::new(measure.function))
            .collect(),
    }
}

/// The groups of an aggregate, fed one record at a time ([`Groups::add`]): only the groups
/// (and for `countDistinct` their distinct values) are kept, never the records.
#[derive(Debug)]
pub struct Groups<'s> {
    spec: &'s AggregateSpec,
    groups: BTreeMap<Vec<Ordered>, Group>,
}

impl<'s> Groups<'s> {
    pub fn new(spec: &'s AggregateSpec) -> Self {
        Groups {
            spec,
            groups: BTreeMap::new(),
        }
    }

    /// Counts `record` in its group. `query` is not checked here: [`evaluate`] checks it,
    /// a caller feeding records itself selects them.
    pub fn add(&mut self, record: &Record) {
        let mut key = Vec::with_capacity(self.spec.group_by.len() + 1);
        if let Some(bucket) = &self.spec.date_bucket {
            key.push(Ordered(bucket.key(resolve(record, &bucket.field))));
        }
        for field in &self.spec.group_by {
            let value = resolve(record, field).cloned().unwrap_or(Value::Null);
            key.push(Ordered(normalize_number(value)));
        }
        let spec = self.spec;
        let group = self.groups.entry(key).or_insert_with(|| empty_group(spec));
        group.count += 1;
        for (state, measure) in group.states.iter_mut().zip(&spec.measures) {
            state.add(resolve(record, &measure.field));
        }
    }

    /// The answer: the rows in order, `having` applied, at most `limit` of them.
    pub fn finish(mut self) -> AggregateResult {
        let spec = self.spec;
        if spec.keys().is_empty() && self.groups.is_empty() {
            self.groups.insert(Vec::new(), empty_group(spec));
        }
        let keys = spec.keys();
        let mut rows: Vec<Record> = self
            .groups
            .into_iter()
            .map(|(key, group)| {
                let mut row = Map::new();
                for (name, Ordered(value)) in keys.iter().zip(key) {
                    row.insert((*name).to_owned(), value);
                }
                if spec.count {
                    row.insert("count".to_owned(), Value::from(group.count));
                }
                for (measure, state) in spec.measures.iter().zip(&group.states) {
                    row.insert(measure.name(), state.value());
                }
                row
            })
            .filter(|row| {
                spec.having
                    .as_ref()
                    .is_none_or(|having| having.matches(row))
            })
            .collect();
        if let Some(sort) = &spec.sort {
            // Stable: ties keep the group keys' order.
            rows.sort_by(|left, right| sort.compare(left, right));
        }
        let truncated = rows.len() > spec.limit;
        rows.truncate(spec.limit);
        AggregateResult { rows, truncated }
    }
}

/// Evaluates `spec` over `records`: those `spec.query` matches are grouped; the caller passes
/// only the records its caller may read.
pub fn evaluate<R: Borrow<Record>>(
    spec: &AggregateSpec,
    records: impl IntoIterator<Item = R>,
) -> AggregateResult {
    let mut groups = Groups::new(spec);
    for record in records {
        let record = record.borrow();
        if spec.query.matches(record) {
            groups.add(record);
        }
    }
    groups.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use offbase_model::{SchemaSource, SourceLayout};
    use serde_json::json;

    fn entity() -> Entity {
        let mut due = Field::new("due_date", FieldKind::String);
        due.format = Some("date".to_owned());
        let mut seen = Field::new("seen_at", FieldKind::String);
        seen.format = Some("date-time".to_owned());
        let mut address = Field::new("address", FieldKind::Object);
        address.properties = Some(vec![Field::new("city", FieldKind::String)]);
        Entity {
            name: "Task".to_owned(),
            source: SchemaSource {
                path: "base44/entities/task.jsonc".to_owned(),
                layout: SourceLayout::Base44Entities,
            },
            title: None,
            description: None,
            fields: vec![
                Field::new("status", FieldKind::String),
                Field::new("hours", FieldKind::Number),
                Field::new("priority", FieldKind::Integer),
                Field::new("done", FieldKind::Boolean),
                Field::new("tags", FieldKind::Array),
                Field::new("count", FieldKind::Integer),
                Field::new("meta", FieldKind::Any),
                due,
                seen,
                address,
            ],
            rls: None,
            extra: Default::default(),
        }
    }

    fn spec(body: Value) -> AggregateSpec {
        AggregateSpec::parse(&body, &entity()).unwrap_or_else(|error| panic!("{body}: {error}"))
    }

    fn refused(body: Value) -> String {
        match AggregateSpec::parse(&body, &entity()) {
            Ok(spec) => panic!("{body} was accepted: {spec:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn records() -> Vec<Record> {
        [
            json!({"id": "1", "status": "done", "hours": 2, "priority": 1, "created_date": "2025-09-01T23:30:00.000000", "due_date": "2025-10-01", "tags": ["a"]}),
            json!({"id": "2", "status": "done", "hours": 4.5, "priority": 2, "created_date": "2025-09-02T00:30:00Z", "due_date": "2025-10-31", "tags": ["a"]}),
            json!({"id": "3", "status": "todo", "hours": null, "priority": 1.0, "created_date": "2025-09-08T10:00:00.000000", "due_date": "2025-11-02"}),
            json!({"id": "4", "status": "todo", "hours": "3", "created_date": "2025-09-07T10:00:00.000000", "tags": []}),
            json!({"id": "5", "hours": 1, "priority": 3, "created_date": "not a date", "due_date": null}),
        ]
        .into_iter()
        .map(|record| match record {
            Value::Object(record) => record,
            _ => Map::new(),
        })
        .collect()
    }

    fn rows(body: Value) -> Value {
        evaluate(&spec(body), records().iter()).to_json()
    }

    #[test]
    fn groups_count_and_compute_per_group() {
        assert_eq!(
            rows(
                json!({"groupBy": "status", "sum": "hours", "avg": "hours", "min": "hours", "max": "hours"})
            ),
            json!({"rows": [
                {"status": null, "count": 1, "sum_hours": 1, "avg_hours": 1, "min_hours": 1, "max_hours": 1},
                {"status": "done", "count": 2, "sum_hours": 6.5, "avg_hours": 3.25, "min_hours": 2, "max_hours": 4.5},
                // Text is no number: ignored by sum and avg; min and max order every value.
                {"status": "todo", "count": 2, "sum_hours": 0, "avg_hours": null, "min_hours": "3", "max_hours": "3"},
            ], "truncated": false})
        );
    }

    #[test]
    fn without_groups_one_total_row_even_over_nothing() {
        assert_eq!(
            rows(json!({"sum": "priority", "countDistinct": "status"})),
            json!({"rows": [{"count": 5, "sum_priority": 7, "count_distinct_status": 2}], "truncated": false})
        );
        let spec = spec(json!({"avg": "hours", "count": true}));
        assert_eq!(
            evaluate(&spec, Vec::<Record>::new()).to_json(),
            json!({"rows": [{"count": 0, "avg_hours": null}], "truncated": false})
        );
    }

    #[test]
    fn numbers_group_by_value_and_integral_floats_are_integers() {
        assert_eq!(
            rows(json!({"groupBy": ["priority"], "count": true})),
            json!({"rows": [
                {"priority": null, "count": 1},
                {"priority": 1, "count": 2},
                {"priority": 2, "count": 1},
                {"priority": 3, "count": 1},
            ], "truncated": false})
        );
        assert_eq!(normalize_number(json!(6.0)), json!(6));
        assert_eq!(normalize_number(json!(6.5)), json!(6.5));
        assert_eq!(normalize_number(json!(1e300)), json!(1e300));
        assert_eq!(normalize_number(json!("6.0")), json!("6.0"));
    }

    #[test]
    fn date_buckets_start_their_period_in_utc() {
        assert_eq!(
            rows(json!({"dateBucket": {"field": "created_date", "unit": "day"}})),
            json!({"rows": [
                {"created_date": null, "count": 1},
                {"created_date": "2025-09-01", "count": 1},
                {"created_date": "2025-09-02", "count": 1},
                {"created_date": "2025-09-07", "count": 1},
                {"created_date": "2025-09-08", "count": 1},
            ], "truncated": false})
        );
        // 2025-09-01 is a Monday; the 7th a Sunday, in the week of the 1st.
        assert_eq!(
            rows(json!({"dateBucket": {"field": "created_date", "unit": "week"}}))["rows"],
            json!([
                {"created_date": null, "count": 1},
                {"created_date": "2025-09-01", "count": 3},
                {"created_date": "2025-09-08", "count": 1},
            ])
        );
        assert_eq!(
            rows(
                json!({"dateBucket": {"field": "due_date", "unit": "month"}, "groupBy": "status", "count": false, "sort": "-due_date"})
            )["rows"],
            json!([
                {"due_date": "2025-11-01", "status": "todo"},
                {"due_date": "2025-10-01", "status": "done"},
                {"due_date": null, "status": null},
                {"due_date": null, "status": "todo"},
            ])
        );
        let year = DateBucket {
            field: "x".to_owned(),
            unit: BucketUnit::Year,
        };
        assert_eq!(
            year.key(Some(&json!("2024-12-31T23:00:00-02:00"))),
            json!("2025-01-01")
        );
        assert_eq!(year.key(Some(&json!(20250101))), Value::Null);
    }

    #[test]
    fn having_sort_and_limit_apply_after_grouping() {
        let answer = rows(
            json!({"groupBy": "priority", "having": {"count": {"$lt": 2}}, "sort": "-priority", "limit": 2}),
        );
        assert_eq!(
            answer,
            json!({"rows": [{"priority": 3, "count": 1}, {"priority": 2, "count": 1}], "truncated": true})
        );
        // Ties by the group keys ascending.
        let answer = rows(
            json!({"groupBy": "status", "sort": "-count", "query": {"priority": {"$exists": true}}}),
        );
        assert_eq!(
            answer["rows"],
            json!([{"status": "done", "count": 2}, {"status": null, "count": 1}, {"status": "todo", "count": 1}])
        );
        assert_eq!(spec(json!({"limit": 5000})).limit, MAX_LIMIT);
        assert_eq!(spec(json!({"limit": 3.0})).limit, 3);
    }

    #[test]
    fn arrays_group_whole_and_distinct_values_skip_nulls() {
        assert_eq!(
            rows(json!({"groupBy": "tags", "countDistinct": ["status", "due_date"]}))["rows"],
            json!([
                {"tags": null, "count": 2, "count_distinct_status": 1, "count_distinct_due_date": 1},
                {"tags": [], "count": 1, "count_distinct_status": 1, "count_distinct_due_date": 0},
                {"tags": ["a"], "count": 2, "count_distinct_status": 1, "count_distinct_due_date": 2},
            ])
        );
        assert_eq!(
            rows(json!({"groupBy": ["address.city"], "count": false}))["rows"],
            json!([{"address.city": null}])
        );
    }

    #[test]
    fn rows_from_elsewhere_are_shaped_alike() {
        let spec = spec(json!({"groupBy": "status", "sum": "hours", "limit": 1}));
        let row = |value: Value| match value {
            Value::Object(row) => row,
            _ => Map::new(),
        };
        let result = spec.finish(vec![
            row(json!({"sum_hours": 6.0, "count": 2, "status": "done"})),
            row(json!({"count": 1, "status": "todo", "sum_hours": 0})),
        ]);
        assert!(result.truncated);
        assert_eq!(
            Value::Array(result.rows.into_iter().map(Value::Object).collect()).to_string(),
            r#"[{"status":"done","count":2,"sum_hours":6}]"#
        );
    }

    #[test]
    fn bad_specs_are_refused_naming_what_is_wrong() {
        let cases = [
            (json!([]), "must be a JSON object"),
            (json!({"groupby": "status"}), "unknown key `groupby`"),
            (
                json!({"groupBy": "nope"}),
                "`groupBy` names `nope`, which is no field of Task",
            ),
            (
                json!({"groupBy": ["status", "hours", "priority", "done", "tags"]}),
                "at most 4 fields",
            ),
            (
                json!({"groupBy": ["status", "status"]}),
                "lists `status` twice",
            ),
            (json!({"groupBy": 3}), "`groupBy` must be a field name"),
            (
                json!({"sum": "status"}),
                "`sum` needs a field of type number or integer; `status` is of type string",
            ),
            (
                json!({"max": "done"}),
                "`max` needs a field of type number, integer or string",
            ),
            (
                json!({"avg": "address.city"}),
                "`avg` needs a field of type number",
            ),
            (json!({"sum": "meta.x"}), "inside a free JSON field"),
            (json!({"min": "nope"}), "`min` names `nope`"),
            (
                json!({"dateBucket": {"field": "status", "unit": "day"}}),
                "`status` is not",
            ),
            (
                json!({"dateBucket": {"field": "due_date", "unit": "week"}}),
                "takes day, month or year",
            ),
            (
                json!({"dateBucket": {"field": "created_date", "unit": "hour"}}),
                "found \"hour\"",
            ),
            (
                json!({"dateBucket": {"field": "created_date"}}),
                "`dateBucket.unit` must be",
            ),
            (
                json!({"dateBucket": {"field": "nope", "unit": "day"}}),
                "`dateBucket.field` names `nope`",
            ),
            (
                json!({"dateBucket": "created_date"}),
                "`dateBucket` must be an object",
            ),
            (
                json!({"groupBy": "count"}),
                "two row fields are named `count`",
            ),
            (
                json!({"groupBy": "created_date", "dateBucket": {"field": "created_date", "unit": "day"}}),
                "named `created_date`",
            ),
            (
                json!({"having": {"sum_hours": {"$gt": 1}}}),
                "`having` names `sum_hours`, which is not a field of the rows (they hold count)",
            ),
            (
                json!({"having": {"count": {"$bogus": 1}}}),
                "invalid `having`: unknown operator",
            ),
            (
                json!({"query": {"status": {"$bogus": 1}}}),
                "invalid `query`",
            ),
            (json!({"query": "status"}), "invalid `query`"),
            (json!({"sort": "-status"}), "`sort` names `status`"),
            (
                json!({"count": false, "sort": "count"}),
                "`sort` names `count`",
            ),
            (json!({"sort": 1}), "`sort` must be"),
            (json!({"limit": 0}), "`limit` must be a whole number from 1"),
            (json!({"limit": 2.5}), "`limit` must be"),
            (json!({"limit": "10"}), "`limit` must be"),
            (json!({"count": "yes"}), "`count` must be a boolean"),
        ];
        for (body, expected) in cases {
            let message = refused(body.clone());
            assert!(message.contains(expected), "{body}: {message}");
        }
    }

    #[test]
    fn nulls_are_keys_left_out_and_built_ins_are_fields() {
        let parsed = spec(
            json!({"query": null, "count": null, "groupBy": ["created_by", "id"], "min": "created_date", "having": null}),
        );
        assert_eq!(parsed.query, Filter::all());
        assert!(parsed.count);
        assert_eq!(
            parsed.output_names(),
            ["created_by", "id", "count", "min_created_date"]
        );
        let parsed = spec(json!({"dateBucket": {"field": "seen_at", "unit": "year"}}));
        assert_eq!(parsed.keys(), ["seen_at"]);
    }
}
